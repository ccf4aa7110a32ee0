"""The procurement MILP, built one constraint family at a time on named blocks.

    indices   t year, j kind (an accelerator at a site), w workload, d deal, i tranche of d,
              s site
    variables n[j,t] ∈ Z≥0   units of kind j bought in year t (0 before it is offered): whole
                             nodes, or whole racks of a rack-scale part (g_j GPUs a unit)
              x[w,j,t] ≥ 0   accelerators of j serving w in year t (eligible cells only)
              z[d,i] ∈ {0,1} tranche i of deal d vests
              paid[b] ∈ {0,1} the NRE of in-house build b is paid (its units can be bought)
              slacks ≥ 0     unmet demand, power, share and commitment (penalised: an answer
                             exists even when the limits cannot all hold, and says by how much)
    installed I[j,t] = E[j,t] + g_j · Σ_{τ ≤ t < τ + life_j} n[j,τ]     (E: installed base)
    demand    Σ_j (T[w,j] / D[w,t]) · x[w,j,t] + short[w,t] ≥ 1
    capacity  Σ_w x[w,j,t] ≤ I[j,t]
    budget    Σ_j capital_j · g_j · n[j,t] ≤ B[t]                       (capex, USD)
    power     Σ_j MW_j · I[j,t] ≤ P[t]                                   (facility MW)
    sites     Σ_{j at s} MW_j · I[j,t] ≤ P_s[t]                          (each site's cap)
    supply    Σ_{j of one offer} n[j,t] ≤ max_nodes_per_year     (an offer split over sites)
    shares    Σ_j (1[vendor j = v] − s) · m_j · I[j,t] ≤ 0  (max; min reversed), m = 1 or MW
    deals     Σ_{j of d} Σ_{τ ≤ t} GW_j · n[j,τ] + E_d ≥ committed_d(t)   (binding periods)
              milestone_i · z[d,i] ≤ Σ_{j of d} Σ_{year τ ≤ expiry} GW_j · n[j,τ] + E_d
    builds    n[j,t] ≤ M_j · paid[b]   for every kind j of build b   (no NRE, no units)
    objective Σ_t δ^t (capital bought − salvage of life left at the horizon + opex of I)
              + penalties − Σ value[d,i] · z[d,i] + Σ NRE_b · paid[b],   δ = 1 / (1 + rate)

A rented kind (a rent-only part, or an offer with a rental price) is GPUs rented a year: life
one year, no capital (outside the budget), its rent as opex, outside the power caps (they are
the provider's data centres); it counts in vendor shares like any other. An in-house build is a
kind from its first ship year (its slip risk is weighed by `polyfleet build-vs-buy`).

`build_model` is the list of the families: each `add_<family>` function registers its row
block (keys such as ("demand", workload, year), ("power", year), ("power", site, year),
("share_max", vendor, year), ("commitment", deal, year), ("tranche", deal, number)) and its slack
columns, keyed like its rows; the arrays they read come from `polyfleet.plan.procure_arrays`.
A tranche's value is its Monte Carlo value with the milestone met (economics.warrant), so the
solver weighs buying more of a deal's parts against what reaching the milestone is worth.

With sites, each offer is a kind at every site that can cool it (its rack's kW within the site's
limit, liquid where the rack needs it); the others are listed, with the reason, as not offered.
A kind at a site draws that site's PUE. Without sites, a kind is an accelerator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from polyfleet.inputs.procurement import LoadedProcurement
from polyfleet.plan.blocks import LinearModel, ModelBuilder, Slack
from polyfleet.plan.procure_arrays import (
    PENALTY,
    Kind,
    ProcurementArrays,
    procurement_arrays,
)
from polyfleet.plan.shares import share_coefficients

__all__ = ["PENALTY", "Kind", "Model", "ProcurementArrays", "build_model", "procurement_arrays"]


# ---- the constraint families --------------------------------------------------------------


def add_purchases(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Columns n[j,t] ∈ Z≥0, nodes bought; 0 before the kind is offered, ≤ max_nodes_per_year.

    cost[j,t] = g_j·capital_j·(δ^t − δ^Y·salvage[j,t]) + g_j·opex_j·Σ_{t' served} δ^{t'}  (USD),
    salvage = the share of life left at the horizon."""
    Y, tau = a.Y, np.arange(a.Y)
    served_years = np.minimum(a.life[:, None], Y - tau[None, :])  # years of the horizon served
    salvage = np.clip((a.life[:, None] - served_years) / a.life[:, None], 0, 1)
    capital = (a.capital * a.g)[:, None] * (
        a.delta[None, :] - a.delta[-1] / (1 + a.discount_rate) * salvage
    )
    opex_bought = np.einsum("jat,t->ja", a.alive, a.delta) * (a.opex * a.g)[:, None]
    first = np.array([k.first_year for k in a.kinds])
    max_nodes = np.array([k.max_nodes for k in a.kinds])
    hi = np.where(tau[None, :] >= first[:, None], max_nodes[:, None], 0.0)
    b.add_columns("n", (a.J, Y), cost=capital + opex_bought, hi=hi, integer=True)


def add_allocation(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Columns x[t, c] ≥ 0: GPUs of cell c = (w, j) serving w in year t (eligible cells only)."""
    b.add_columns("x", (a.Y, len(a.cells)))


def add_demand(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("demand", w, year): Σ_j (T[w,j] / D[w,t])·x[w,j,t] + short[w,t] ≥ 1  (fractions).

    short[w,t] ∈ [0, 1] costs PENALTY · D[w,t] · the dearest USD per unit/s that could have
    served w (a workload no kind serves is priced at the dearest of all)."""
    Y, W, C = a.Y, a.W, len(a.cells)
    tau = np.arange(Y)
    w_idx, j_idx = a.cells[:, 0], a.cells[:, 1]
    rows = (tau[:, None] * W + w_idx[None, :]).ravel()
    cols = (tau[:, None] * C + np.arange(C)[None, :]).ravel()
    vals = (a.T[w_idx, j_idx][None, :] / a.D[w_idx].T).ravel() if C else np.zeros(0)
    x = sp.coo_matrix((vals, (rows, cols)), shape=(W * Y, C * Y))
    per_w = np.where(a.T > 0, a.unit_cost[None, :] / np.where(a.T > 0, a.T, 1.0), -np.inf)
    dearest = per_w.max(axis=1, initial=-np.inf)
    fallback = float(np.max(per_w, initial=float(a.unit_cost.max(initial=1.0))))
    dearest = np.where(np.isfinite(dearest), dearest, max(fallback, 1.0))
    b.add_rows(
        "demand",
        [("demand", w, y) for y in a.years for w in a.workloads],
        lo=1.0,
        terms={"x": x},
        slack=Slack("short", cost=PENALTY * (a.D * dearest[:, None]).T, hi=1.0),
    )


def add_capacity(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("capacity", kind, year): Σ_w x[w,j,t] − g_j·Σ_{τ ≤ t < τ + life_j} n[j,τ] ≤ E[j,t].

    Installed capacity and retirement (GPUs): a node serves `life` years from the year it is
    bought; the installed base E serves until its retire year."""
    Y, C = a.Y, len(a.cells)
    tau = np.arange(Y)
    rows = (a.cells[:, 1][None, :] * Y + tau[:, None]).ravel()
    cols = (tau[:, None] * C + np.arange(C)[None, :]).ravel()
    x = sp.coo_matrix((np.ones(C * Y), (rows, cols)), shape=(a.J * Y, C * Y))
    b.add_rows(
        "capacity",
        [("capacity", *k.key(y)) for k in a.kinds for y in a.years],
        hi=a.existing.ravel(),
        terms={"x": x, "n": -a.installs},
    )


def add_budget(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("budget", year): Σ_j capital_j · g_j · n[j,t] ≤ B[t]  (capex, USD)."""
    per_node = sp.csr_matrix((a.capital * a.g)[None, :])
    b.add_rows(
        "budget",
        [("budget", y) for y in a.years],
        hi=a.budget,
        terms={"n": sp.kron(per_node, sp.eye(a.Y))},
    )


def add_power(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("power", year): Σ_j MW_j · (I[j,t] − E[j,t]) − over[t] ≤ P[t] − Σ_j MW_j · E[j,t].

    Facility MW of the installed fleet; over[t] ≥ 0 (MW over the cap) costs `penalty_per_mw`."""
    b.add_rows(
        "power",
        [("power", y) for y in a.years],
        hi=a.power_cap_mw - a.owned_mw @ a.existing,
        terms={"n": a.installed_by_year(a.owned_mw)},
        slack=Slack("power_slack", cost=a.penalty_per_mw),
    )


def add_site_power(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("power", site, year): Σ_{j at s} MW_j · (I[j,t] − E[j,t]) − over[s,t] ≤
    P_s[t] − Σ_{j at s} MW_j · E[j,t]: each site's cap beside the fleet's; over costs
    `penalty_per_mw`."""
    if not a.sites:
        return
    at = (a.site_of[None, :] == np.arange(len(a.sites))[:, None]) * a.owned_mw[None, :]  # (S, J)
    b.add_rows(
        "site_power",
        [("power", s, y) for s in a.sites for y in a.years],
        hi=(a.site_cap_mw - at @ a.existing).ravel(),
        terms={"n": a.installed_by_year(at)},
        slack=Slack("site_power_slack", cost=a.penalty_per_mw),
    )


def add_supply(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("supply", accelerator, year): Σ_{kinds of one offer} n[j,t] ≤ max_nodes_per_year,
    for an offer with such a limit bought at more than one site (at one, the column bound
    says it)."""
    groups: dict[str, list[int]] = {}
    for j, k in enumerate(a.kinds):
        if np.isfinite(k.max_nodes) and k.first_year < a.Y:
            groups.setdefault(k.accelerator, []).append(j)
    split = {acc: js for acc, js in groups.items() if len(js) > 1}
    if not split:
        return
    pick = np.zeros((len(split), a.J))
    for r, js in enumerate(split.values()):
        pick[r, js] = 1.0
    b.add_rows(
        "supply",
        [("supply", acc, y) for acc in split for y in a.years],
        hi=np.repeat([a.kinds[js[0]].max_nodes for js in split.values()], a.Y),
        terms={"n": sp.kron(sp.csr_matrix(pick), sp.eye(a.Y))},
    )


def add_vendor_share(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("share_max" | "share_min", vendor, year), per bound s on vendor v:
    Σ_j c_j · (I[j,t] − E[j,t]) − over ≤ −Σ_j c_j · E[j,t],  c = (1[vendor j = v] − s)·m_j for a
    max, reversed for a min (`share_coefficients`); m = MW for the power measure, else 1.

    over ≥ 0, in share-weighted units, costs `penalty_per_mw`."""
    if not a.share_bounds:
        return
    vendor_of = np.array([k.vendor for k in a.kinds])
    measure = a.mw if a.share_measure == "power" else np.ones(a.J)
    coef = np.array(
        [share_coefficients(vendor_of == v, bound, s, measure) for bound, v, s in a.share_bounds]
    )  # (K, J)
    b.add_rows(
        "share",
        [(f"share_{bound}", v, y) for bound, v, _ in a.share_bounds for y in a.years],
        hi=np.concatenate([-(c @ a.existing) for c in coef]),
        terms={"n": a.installed_by_year(coef)},
        slack=Slack("share_slack", cost=a.penalty_per_mw),
    )


def add_deal_commitments(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Rows ("commitment", deal, year): Σ_{j of d} GW_j · Σ_{τ ≤ t} n[j,τ] + short ≥
    committed_d(t) − E_d  (GW, cumulative over the deal's binding periods).

    short ≥ 0 (GW not bought on schedule) costs 1000 · `penalty_per_mw`."""
    deals = list(a.committed)
    if not deals:
        return
    per_node = a.gw_per_node_in(deals)  # (d, J)
    cum = (np.arange(a.Y)[:, None] >= np.arange(a.Y)[None, :]).astype(float)  # (t, τ)
    b.add_rows(
        "commitment",
        [("commitment", d, y) for d in deals for y in a.years],
        lo=np.concatenate([a.committed[d] - a.deal_base.get(d, 0.0) for d in deals]),
        terms={"n": sp.kron(sp.csr_matrix(per_node), sp.csr_matrix(cum))},
        slack=Slack("commit_slack", cost=a.penalty_per_mw * 1000.0),
    )


def add_warrant_tranches(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Columns z[d,i] ∈ {0,1} (cost −value[d,i], USD) and rows ("tranche", deal, number):
    milestone_i · z[d,i] − Σ_{j of d} GW_j · Σ_{year τ ≤ expiry} n[j,τ] ≤ E_d  (GW)."""
    if not a.tranches:
        return
    keys = [("tranche", tr.deal, tr.index + 1) for tr in a.tranches]
    z = b.add_columns(
        "z",
        (len(keys),),
        cost=-np.array([tr.value for tr in a.tranches]),
        hi=1.0,
        integer=True,
        keys=keys,
    )
    in_deal = a.gw_per_node_in([tr.deal for tr in a.tranches])  # (K, J)
    by_expiry = (
        np.array(a.years)[None, :] <= np.array([tr.expiry_year for tr in a.tranches])[:, None]
    )  # (K, Y)
    n_term = -(in_deal[:, :, None] * by_expiry[:, None, :]).reshape(len(keys), a.J * a.Y)
    b.add_rows(
        "tranche",
        keys,
        hi=[a.deal_base.get(tr.deal, 0.0) for tr in a.tranches],
        terms={
            "n": sp.csr_matrix(n_term),
            z.name: sp.diags([tr.milestone_gw for tr in a.tranches]),
        },
    )


def add_builds(b: ModelBuilder, a: ProcurementArrays) -> None:
    """Columns paid[b] ∈ {0,1} (cost NRE_b, USD, paid at the start of the horizon) and rows
    ("nre", build, kind, year): n[j,t] − M_j · paid[b] ≤ 0 for every kind j of build b: its
    units can be bought only if its NRE is paid.

    M_j is the column's own bound where it has one, else the most units of j a year could use:
    all the demand j serves, or the fleet's largest power cap, whichever is more."""
    if not a.builds:
        return
    names = [name for name, _ in a.builds]
    paid = b.add_columns(
        "nre_paid",
        (len(names),),
        cost=np.array([nre for _, nre in a.builds]),
        hi=1.0,
        integer=True,
        keys=[("nre", name) for name in names],
    )
    js = [j for j, k in enumerate(a.kinds) if k.build is not None]
    need = np.where(a.T > 0, a.D.max(axis=1)[:, None] / np.where(a.T > 0, a.T, 1.0), 0.0).sum(0)
    by_power = a.power_cap_mw.max() / np.maximum(a.mw * a.g, 1e-12)
    big = np.ceil(np.maximum(need / a.g, by_power)) + 1.0
    big = np.where(np.isfinite([k.max_nodes for k in a.kinds]), [k.max_nodes for k in a.kinds], big)
    rows = np.arange(len(js) * a.Y)
    n_cols = (np.array(js)[:, None] * a.Y + np.arange(a.Y)[None, :]).ravel()
    owner = np.array([names.index(a.kinds[j].build) for j in js])
    b.add_rows(
        "nre",
        [("nre", a.kinds[j].build, a.kinds[j].name, y) for j in js for y in a.years],
        hi=0.0,
        terms={
            "n": sp.coo_matrix((np.ones(len(rows)), (rows, n_cols)), shape=(len(rows), a.J * a.Y)),
            paid.name: sp.coo_matrix(
                (-np.repeat(big[js], a.Y), (rows, np.repeat(owner, a.Y))),
                shape=(len(rows), len(names)),
            ),
        },
    )


@dataclass(frozen=True)
class Model:
    """The procurement MILP on labels (`lp`), with what is needed to read a solution back."""

    lp: LinearModel
    kinds: list[Kind]
    years: list[int]
    workloads: list[str]
    tranches: list[tuple[str, int, float, float]]  # deal, index, milestone GW, value
    existing: np.ndarray  # E[j, t]
    discount: np.ndarray  # δ^t
    demand: np.ndarray  # D[w, t]
    unservable: dict[str, str] = field(default_factory=dict)  # workload -> why no kind serves it
    builds: list[tuple[str, float]] = field(default_factory=list)  # (build, NRE USD)
    not_offered: list[dict[str, str]] = field(default_factory=list)  # offer, site, reason

    # the arrays HiGHS is given, under their usual names
    @property
    def cost(self) -> np.ndarray:
        return self.lp.cost

    @property
    def lo(self) -> np.ndarray:
        return self.lp.lo

    @property
    def hi(self) -> np.ndarray:
        return self.lp.hi

    @property
    def integer(self) -> np.ndarray:
        return self.lp.integer

    @property
    def A(self) -> sp.csr_matrix:  # noqa: N802
        return self.lp.A

    @property
    def row_lo(self) -> np.ndarray:
        return self.lp.row_lo

    @property
    def row_hi(self) -> np.ndarray:
        return self.lp.row_hi

    @property
    def cols(self) -> dict[str, slice]:
        return self.lp.cols


def build_model(loaded: LoadedProcurement) -> Model:
    """The procurement MILP, family by family (see the module docstring)."""
    a = procurement_arrays(loaded)
    b = ModelBuilder()
    add_purchases(b, a)
    add_allocation(b, a)
    add_demand(b, a)
    add_capacity(b, a)
    add_budget(b, a)
    add_power(b, a)
    add_site_power(b, a)
    add_supply(b, a)
    add_vendor_share(b, a)
    add_deal_commitments(b, a)
    add_warrant_tranches(b, a)
    add_builds(b, a)
    return Model(
        lp=b.build(),
        kinds=a.kinds,
        years=a.years,
        workloads=a.workloads,
        tranches=[(tr.deal, tr.index, tr.milestone_gw, tr.value) for tr in a.tranches],
        builds=a.builds,
        existing=a.existing,
        discount=a.delta,
        demand=a.D,
        unservable=a.unservable,
        not_offered=a.not_offered,
    )
