"""The procurement MILP, built one constraint family at a time on named blocks.

    indices   t year, j accelerator kind, w workload, d deal, i tranche of d
    variables n[j,t] ∈ Z≥0   nodes of kind j bought in year t (0 before it is offered)
              x[w,j,t] ≥ 0   accelerators of j serving w in year t (eligible cells only)
              z[d,i] ∈ {0,1} tranche i of deal d vests
              slacks ≥ 0     unmet demand, power, share and commitment (penalised: an answer
                             exists even when the limits cannot all hold, and says by how much)
    installed I[j,t] = E[j,t] + g_j · Σ_{τ ≤ t < τ + life_j} n[j,τ]     (E: installed base)
    demand    Σ_j (T[w,j] / D[w,t]) · x[w,j,t] + short[w,t] ≥ 1
    capacity  Σ_w x[w,j,t] ≤ I[j,t]
    budget    Σ_j capital_j · g_j · n[j,t] ≤ B[t]                       (capex, USD)
    power     Σ_j MW_j · I[j,t] ≤ P[t]                                   (facility MW)
    shares    Σ_j (1[vendor j = v] − s) · m_j · I[j,t] ≤ 0  (max; min reversed), m = 1 or MW
    deals     Σ_{j of d} Σ_{τ ≤ t} GW_j · n[j,τ] + E_d ≥ committed_d(t)   (binding periods)
              milestone_i · z[d,i] ≤ Σ_{j of d} Σ_{year τ ≤ expiry} GW_j · n[j,τ] + E_d
    objective Σ_t δ^t (capital bought − salvage of life left at the horizon + opex of I)
              + penalties − Σ value[d,i] · z[d,i],   δ = 1 / (1 + discount rate)

`build_model` is the list of the families: each `add_<family>` function registers its row
block (keys such as ("demand", workload, year), ("power", year), ("share_max", vendor, year),
("commitment", deal, year), ("tranche", deal, number)) and its slack columns, keyed like its rows.
A tranche's value is its Monte Carlo value with the milestone met (economics.warrant), so the
solver weighs buying more of a deal's parts against what reaching the milestone is worth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from polyfleet.economics.cost import HOURS_PER_YEAR, facility_kw, owned_cost
from polyfleet.economics.deal import price_per_gpu, simulate_deal
from polyfleet.inputs.deal import Deal
from polyfleet.inputs.procurement import LoadedProcurement
from polyfleet.perfmodel.fit import factors_from
from polyfleet.perfmodel.matrix import matrix_for
from polyfleet.plan.blocks import LinearModel, ModelBuilder, Slack
from polyfleet.plan.lp import INF
from polyfleet.plan.shares import share_coefficients

__all__ = ["PENALTY", "Kind", "Model", "ProcurementArrays", "build_model", "procurement_arrays"]

PENALTY = 100.0  # slack price, as a multiple of the dearest way to do without it


@dataclass
class Kind:
    accelerator: str
    vendor: str
    gpus_per_node: int
    mw_per_gpu: float
    capital_per_gpu: float  # GPU + node + network + facility share
    opex_per_gpu_year: float  # power + maintenance
    life: int
    first_year: int  # index of the first year it can be bought; len(years) if never
    max_nodes: float
    deal: str | None


@dataclass(frozen=True)
class Tranche:
    deal: str
    index: int  # 0-based within the deal's warrant; its row key carries index + 1
    milestone_gw: float
    value: float
    expiry_year: int


@dataclass
class ProcurementArrays:
    """The module docstring's notation as arrays: what every constraint family reads."""

    years: list[int]
    delta: np.ndarray  # δ^t
    discount_rate: float
    kinds: list[Kind]
    g: np.ndarray  # GPUs per node, per kind
    mw: np.ndarray  # facility MW per GPU
    capital: np.ndarray  # USD per GPU
    opex: np.ndarray  # USD per GPU-year
    life: np.ndarray  # years
    existing: np.ndarray  # E[j, t], GPUs
    alive: np.ndarray  # alive[j, τ, t]: a node of j bought in year τ serves in year t
    workloads: list[str]
    T: np.ndarray  # (W, J) units/s per GPU
    D: np.ndarray  # (W, Y) demand, units/s
    cells: np.ndarray  # (n_cells, 2): w, j of the eligible cells
    budget: np.ndarray  # B[t], USD
    power_cap_mw: np.ndarray  # P[t]
    share_bounds: list[tuple[str, str, float]]  # (max | min, vendor, s)
    share_measure: str  # count | power
    deal_base: dict[str, float]  # E_d, GW installed toward each deal
    committed: dict[str, np.ndarray]  # deal -> cumulative binding GW by year (deals with any)
    tranches: list[Tranche]
    unservable: dict[str, str] = field(default_factory=dict)

    @property
    def J(self) -> int:  # noqa: N802 (the notation's name)
        return len(self.kinds)

    @property
    def Y(self) -> int:  # noqa: N802
        return len(self.years)

    @property
    def W(self) -> int:  # noqa: N802
        return len(self.workloads)

    @property
    def gw_per_node(self) -> np.ndarray:
        return self.g * self.mw / 1000.0

    def gw_per_node_in(self, deals: list[str]) -> np.ndarray:
        """(len(deals), J): GW per node of each kind bought under each deal, else 0."""
        kind_deal = np.array([k.deal or "" for k in self.kinds])
        return (kind_deal[None, :] == np.array(deals)[:, None]) * self.gw_per_node

    @property
    def unit_cost(self) -> np.ndarray:
        """USD per GPU over its life: what a penalty is measured against."""
        return self.capital + self.opex * self.life

    @property
    def penalty_per_mw(self) -> float:
        """Slack price per MW: PENALTY times the dearest MW of new capacity."""
        return PENALTY * float((self.unit_cost / np.maximum(self.mw, 1e-12)).max(initial=1.0))

    @cached_property
    def installs(self) -> sp.csr_matrix:
        """GPUs in service per node bought: rows (j, t), columns n (j, τ), g_j where alive."""
        jj, aa, tt = np.nonzero(self.alive)
        Y = self.Y
        shape = (self.J * Y, self.J * Y)
        return sp.coo_matrix((self.g[jj], (jj * Y + tt, jj * Y + aa)), shape=shape).tocsr()

    def installed_by_year(self, per_gpu: np.ndarray) -> sp.csr_matrix:
        """Rows (k, t) of Σ_j per_gpu[k, j] · (I[j,t] − E[j,t]) on the n columns; per_gpu (K, J)."""
        per_gpu = np.atleast_2d(per_gpu)
        return (sp.kron(sp.csr_matrix(per_gpu), sp.eye(self.Y)) @ self.installs).tocsr()


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
        [("capacity", k.accelerator, y) for k in a.kinds for y in a.years],
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
        hi=a.power_cap_mw - a.mw @ a.existing,
        terms={"n": a.installed_by_year(a.mw)},
        slack=Slack("power_slack", cost=a.penalty_per_mw),
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
    add_vendor_share(b, a)
    add_deal_commitments(b, a)
    add_warrant_tranches(b, a)
    return Model(
        lp=b.build(),
        kinds=a.kinds,
        years=a.years,
        workloads=a.workloads,
        tranches=[(tr.deal, tr.index, tr.milestone_gw, tr.value) for tr in a.tranches],
        existing=a.existing,
        discount=a.delta,
        demand=a.D,
        unservable=a.unservable,
    )


# ---- from the file to the notation --------------------------------------------------------


def _tranche_values(deal: Deal) -> list[float]:
    """Each tranche's value with its milestone met (hurdle and price risk still priced)."""
    if deal.warrant is None or deal.stock is None:
        return []
    result = simulate_deal(deal, [True] * len(deal.warrant.tranches))
    return [float(v) for v in result.tranche_values]


def _period_year(period: str) -> int:
    digits = "".join(ch for ch in period[:4] if ch.isdigit())
    return int(digits) if len(digits) == 4 else 0


def _kinds(loaded: LoadedProcurement) -> list[Kind]:
    """Offered kinds first, then installed-only ones, each with its cost per GPU."""
    proc, catalog = loaded.procurement, loaded.catalog
    kinds: list[Kind] = []
    seen: set[str] = set()
    offered = {o.accelerator: o for o in proc.offers}
    for acc_id in [*offered, *(i.accelerator for i in proc.installed)]:
        if acc_id in seen:
            continue
        seen.add(acc_id)
        acc = catalog[acc_id]
        offer = offered.get(acc_id)
        price = None
        if offer is not None:
            price = offer.price_per_gpu
            if price is None and offer.deal is not None:
                price = price_per_gpu(loaded.deals[offer.deal], acc)
            if price is None:
                price = acc.price.purchase
        breakdown = owned_cost(acc, price or 1.0, proc.costing, proc.pue)
        first = 0
        if offer is not None and offer.available_from is not None:
            first = int(np.searchsorted(proc.years, offer.available_from))
        kinds.append(
            Kind(
                accelerator=acc_id,
                vendor=acc.vendor,
                gpus_per_node=acc.gpus_per_node,
                mw_per_gpu=facility_kw(acc, proc.pue) / 1000.0,
                capital_per_gpu=sum(breakdown.capital.values()) if price else 0.0,
                opex_per_gpu_year=(breakdown.per_hour["power"] + breakdown.per_hour["maintenance"])
                * HOURS_PER_YEAR,
                life=offer.life_years if offer else 1,
                first_year=first if offer is not None else len(proc.years),
                max_nodes=float(offer.max_nodes_per_year)
                if offer and offer.max_nodes_per_year is not None
                else INF,
                deal=offer.deal if offer else None,
            )
        )
    return kinds


def procurement_arrays(loaded: LoadedProcurement) -> ProcurementArrays:
    """Read the file, catalog and deals into the notation's arrays (runs the warrant Monte Carlo)."""
    proc, catalog = loaded.procurement, loaded.catalog
    years = proc.years
    Y = len(years)
    tau = np.arange(Y)
    kinds = _kinds(loaded)
    index = {k.accelerator: j for j, k in enumerate(kinds)}
    J = len(kinds)
    mw = np.array([k.mw_per_gpu for k in kinds])
    life = np.array([k.life for k in kinds])
    existing = np.zeros((J, Y))
    deal_base: dict[str, float] = {}
    for inst in proc.installed:
        j = index[inst.accelerator]
        existing[j] += inst.count * (np.array(years) < inst.retire_year)
        if inst.deal is not None:
            deal_base[inst.deal] = deal_base.get(inst.deal, 0.0) + inst.count * mw[j] / 1000.0
    alive = (tau[None, :, None] <= tau[None, None, :]) & (
        tau[None, None, :] < tau[None, :, None] + life[:, None, None]
    )
    accs = [k.accelerator for k in kinds]
    matrix = matrix_for(
        proc.workloads, proc.tiers, catalog, accs, stacks=factors_from(catalog=catalog)
    )
    T = matrix.value  # (W, J)
    growth = np.array([proc.growth.get(w.name, 1.0) for w in proc.workloads])
    D = (
        np.array([w.demand.value for w in proc.workloads])[:, None]
        * growth[:, None] ** tau[None, :]
    )
    share = proc.limits.vendor_share
    bounds: list[tuple[str, str, float]] = []
    if share is not None:
        bounds += [("max", v, s) for v, s in share.max.items() if s < 1]
        bounds += [("min", v, s) for v, s in share.min.items() if s > 0]
    deal_names = sorted({k.deal for k in kinds if k.deal} | set(deal_base))
    committed: dict[str, np.ndarray] = {}
    tranches: list[Tranche] = []
    for name in deal_names:
        deal = loaded.deals[name]
        c = np.zeros(Y)
        for period in deal.capacity:
            if period.binding:
                c[max(0, int(np.searchsorted(years, _period_year(period.period))))] += period.gw
        if np.cumsum(c)[-1] > 0:
            committed[name] = np.cumsum(c)
        if deal.warrant is None:
            continue
        for i, (tr, value) in enumerate(
            zip(deal.warrant.tranches, _tranche_values(deal), strict=True)
        ):
            tranches.append(Tranche(name, i, tr.vests_at_gw, value, deal.warrant.expiry.year))
    return ProcurementArrays(
        years=years,
        delta=(1.0 / (1.0 + proc.discount_rate)) ** tau,
        discount_rate=proc.discount_rate,
        kinds=kinds,
        g=np.array([k.gpus_per_node for k in kinds], float),
        mw=mw,
        capital=np.array([k.capital_per_gpu for k in kinds]),
        opex=np.array([k.opex_per_gpu_year for k in kinds]),
        life=life,
        existing=existing,
        alive=alive,
        workloads=[w.name for w in proc.workloads],
        T=T,
        D=D,
        cells=np.argwhere(T > 0),
        budget=np.array(proc.per_year(proc.limits.budget_per_year)),
        power_cap_mw=np.array(proc.per_year(proc.limits.power_cap_gw)) * 1000.0,
        share_bounds=bounds,
        share_measure=share.measure if share is not None else "count",
        deal_base=deal_base,
        committed=committed,
        tranches=tranches,
        unservable={
            w.name: "; ".join(
                f"{matrix.accelerators[j]}: {matrix.reason_text(i, j)}" for j in range(J)
            )
            for i, w in enumerate(proc.workloads)
            if not (T[i] > 0).any()
        },
    )
