"""The procurement model's notation as arrays, read from a procurement file, its catalog and deals:
the kinds (an accelerator, at a site when the file has sites) with their cost, power and life,
the installed base, demand per year, limits, deal commitments and warrant tranches. The
constraint families of `polyfleet.plan.procure_model` read these, and only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from polyfleet.economics.cost import HOURS_PER_YEAR, facility_kw, owned_cost
from polyfleet.economics.deal import price_per_gpu, simulate_deal
from polyfleet.inputs.deal import Deal
from polyfleet.inputs.procurement import LoadedProcurement, Offer
from polyfleet.inputs.site import rack_refusal
from polyfleet.perfmodel.fit import factors_from
from polyfleet.perfmodel.matrix import matrix_for
from polyfleet.plan.lp import INF

__all__ = ["PENALTY", "Kind", "ProcurementArrays", "Tranche", "procurement_arrays"]

PENALTY = 100.0  # slack price, as a multiple of the dearest way to do without it


@dataclass
class Kind:
    accelerator: str
    vendor: str
    gpus_per_node: int  # GPUs per unit bought: a node's, or a rack's for a rack-scale part
    mw_per_gpu: float
    capital_per_gpu: float  # GPU + node + network + facility share
    opex_per_gpu_year: float  # power + maintenance
    life: int
    first_year: int  # index of the first year it can be bought; len(years) if never
    max_nodes: float
    deal: str | None
    site: str | None = None
    unit: str = "node"  # what one purchase is: "node", "rack", or "gpu" (a GPU rented a year)
    rented: bool = False  # rented from its maker: no capex, outside the fleet's power caps
    build: str | None = None  # an in-house build: bought only if its NRE is paid

    @property
    def name(self) -> str:
        """How reports name it: the accelerator, at its site when it has one (gb300@texas)."""
        return self.accelerator if self.site is None else f"{self.accelerator}@{self.site}"

    def key(self, *rest: object) -> tuple[object, ...]:
        """The kind's part of a row key: (accelerator, ...) or (accelerator, site, ...)."""
        where = (self.accelerator,) if self.site is None else (self.accelerator, self.site)
        return (*where, *rest)


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
    owned_mw: np.ndarray  # facility MW per GPU in the fleet's own sites (0 for a rented kind)
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
    sites: list[str]  # the sites with a cap of their own
    site_cap_mw: np.ndarray  # P_s[t], (S, Y)
    site_of: np.ndarray  # index into `sites` of each kind's site, -1: none (or one without a cap)
    share_bounds: list[tuple[str, str, float]]  # (max | min, vendor, s)
    share_measure: str  # count | power
    deal_base: dict[str, float]  # E_d, GW installed toward each deal
    committed: dict[str, np.ndarray]  # deal -> cumulative binding GW by year (deals with any)
    tranches: list[Tranche]
    builds: list[tuple[str, float]] = field(default_factory=list)  # (build, NRE USD)
    unservable: dict[str, str] = field(default_factory=dict)
    not_offered: list[dict[str, str]] = field(default_factory=list)  # offer, site, reason

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


def _placements(loaded: LoadedProcurement) -> tuple[list[tuple[str, str | None]], set, list]:
    """(accelerator, site) of every kind, offered ones first; which of them can be bought; and
    the sites an offer is not offered at, with the reason (a rack too hot for the site)."""
    proc, catalog = loaded.procurement, loaded.catalog
    pairs: list[tuple[str, str | None]] = []
    not_offered: list[dict[str, str]] = []
    bought = [o.accelerator for o in proc.offers if not proc.rented(o, catalog)]
    pairs += [(o.accelerator, None) for o in proc.offers if proc.rented(o, catalog)]
    for acc_id in [*bought, *(b.name for b in proc.builds)]:
        if not proc.sites:
            pairs.append((acc_id, None))
        for site in proc.sites:
            why = rack_refusal(catalog[acc_id], site)
            if why:
                not_offered.append({"accelerator": acc_id, "site": site.name, "reason": why})
            else:
                pairs.append((acc_id, site.name))
    buyable = set(pairs)
    pairs += [(i.accelerator, i.site) for i in proc.installed]
    return list(dict.fromkeys(pairs)), buyable, not_offered


def _kinds(loaded: LoadedProcurement) -> tuple[list[Kind], list[dict[str, str]]]:
    """Offered kinds first (one per site that can take the offer; a rented one at none), then
    builds, then installed-only ones, each with its cost per GPU at its site's PUE; and the
    offers a site cannot take."""
    proc, catalog = loaded.procurement, loaded.catalog
    offered = {o.accelerator: o for o in proc.offers}
    builds = {b.name: b for b in proc.builds}
    pue_at = {s.name: s.pue for s in proc.sites if s.pue is not None}
    pairs, buyable, not_offered = _placements(loaded)
    kinds: list[Kind] = []
    for acc_id, site in pairs:
        acc = catalog[acc_id]
        offer = offered.get(acc_id) if (acc_id, site) in buyable else None
        build = builds.get(acc_id) if (acc_id, site) in buyable else None
        pue = pue_at.get(site, proc.pue) if site is not None else proc.pue
        if offer is not None and proc.rented(offer, catalog):
            kinds.append(_rented_kind(loaded, offer, pue))
            continue
        price = None
        if build is not None:
            price = build.unit_cost
        if offer is not None:
            price = offer.price_per_gpu
            if price is None and offer.deal is not None:
                price = price_per_gpu(loaded.deals[offer.deal], acc)
            if price is None:
                price = acc.price.purchase
        breakdown = owned_cost(acc, price or 1.0, proc.costing, pue)
        first = len(proc.years)
        if offer is not None:
            first = _first_year(proc.years, offer.available_from)
        if build is not None:
            first = _first_year(proc.years, build.first_ship_year)
        unit, per_unit = acc.purchase_unit
        max_nodes = INF
        if offer and offer.max_nodes_per_year is not None:
            max_nodes = float(offer.max_nodes_per_year)
        if build and build.max_units_per_year is not None:
            max_nodes = float(build.max_units_per_year // per_unit)
        life = offer.life_years if offer else build.life_years if build else 1
        kinds.append(
            Kind(
                accelerator=acc_id,
                vendor=acc.vendor,
                gpus_per_node=per_unit,
                mw_per_gpu=facility_kw(acc, pue) / 1000.0,
                capital_per_gpu=sum(breakdown.capital.values()) if price else 0.0,
                opex_per_gpu_year=(breakdown.per_hour["power"] + breakdown.per_hour["maintenance"])
                * HOURS_PER_YEAR,
                life=life,
                first_year=first,
                max_nodes=max_nodes,
                deal=offer.deal if offer else None,
                site=site,
                unit=unit,
                build=build.name if build else None,
            )
        )
    return kinds, not_offered


def _first_year(years: list[int], year: int | None) -> int:
    """The index of the first horizon year at or after `year` (0: none given)."""
    return 0 if year is None else int(np.searchsorted(years, year))


def _rented_kind(loaded: LoadedProcurement, offer: Offer, pue: float) -> Kind:
    """A rented offer: GPUs a year at the rental price, no capital, life one year."""
    acc = loaded.catalog[offer.accelerator]
    rent = offer.per_gpu_hour if offer.per_gpu_hour is not None else acc.price.per_gpu_hour
    assert rent is not None  # the input check gives every rented offer a price
    return Kind(
        accelerator=acc.id,
        vendor=acc.vendor,
        gpus_per_node=1,
        mw_per_gpu=facility_kw(acc, pue) / 1000.0,
        capital_per_gpu=0.0,
        opex_per_gpu_year=rent * HOURS_PER_YEAR,
        life=1,
        first_year=_first_year(loaded.procurement.years, offer.available_from),
        max_nodes=INF if offer.max_nodes_per_year is None else float(offer.max_nodes_per_year),
        deal=None,
        unit="gpu",
        rented=True,
    )


def procurement_arrays(loaded: LoadedProcurement) -> ProcurementArrays:
    """Read the file, catalog and deals into the notation's arrays (runs the warrant Monte Carlo)."""
    proc, catalog = loaded.procurement, loaded.catalog
    years = proc.years
    Y = len(years)
    tau = np.arange(Y)
    kinds, not_offered = _kinds(loaded)
    index = {(k.accelerator, k.site): j for j, k in enumerate(kinds)}
    J = len(kinds)
    mw = np.array([k.mw_per_gpu for k in kinds])
    life = np.array([k.life for k in kinds])
    existing = np.zeros((J, Y))
    deal_base: dict[str, float] = {}
    for inst in proc.installed:
        j = index[inst.accelerator, inst.site]
        existing[j] += inst.count * (np.array(years) < inst.retire_year)
        if inst.deal is not None:
            deal_base[inst.deal] = deal_base.get(inst.deal, 0.0) + inst.count * mw[j] / 1000.0
    alive = (tau[None, :, None] <= tau[None, None, :]) & (
        tau[None, None, :] < tau[None, :, None] + life[:, None, None]
    )
    accs = list(dict.fromkeys(k.accelerator for k in kinds))  # a column per accelerator
    matrix = matrix_for(
        proc.workloads, proc.tiers, catalog, accs, stacks=factors_from(catalog=catalog)
    )
    T = matrix.value[:, [accs.index(k.accelerator) for k in kinds]]  # (W, J)
    growth = np.array([proc.growth.get(w.name, 1.0) for w in proc.workloads])
    D = (
        np.array([w.demand.value for w in proc.workloads])[:, None]
        * growth[:, None] ** tau[None, :]
    )
    capped = [s for s in proc.sites if s.power_cap_gw is not None]
    site_index = {s.name: i for i, s in enumerate(capped)}
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
        owned_mw=mw * np.array([not k.rented for k in kinds]),
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
        sites=[s.name for s in capped],
        site_cap_mw=np.array([proc.per_year(s.power_cap_gw) for s in capped]).reshape(-1, Y)
        * 1000.0,
        site_of=np.array([site_index.get(k.site, -1) for k in kinds], dtype=np.intp),
        share_bounds=bounds,
        share_measure=share.measure if share is not None else "count",
        deal_base=deal_base,
        committed=committed,
        tranches=tranches,
        builds=[(b.name, b.nre) for b in proc.builds],
        unservable={
            w.name: "; ".join(
                f"{matrix.accelerators[a]}: {matrix.reason_text(i, a)}" for a in range(len(accs))
            )
            for i, w in enumerate(proc.workloads)
            if not (T[i] > 0).any()
        },
        not_offered=not_offered,
    )
