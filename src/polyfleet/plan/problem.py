"""The placement problem as arrays: what the solvers see, built from a scenario in one pass.

Notation (w: workload class, p: pool, k: coupling row)
    T[w,p]   units/s one accelerator of pool p delivers on w (0: ineligible)
    D[w]     demand in units/s;  a[w,p] = T[w,p] / D[w]  (fraction of w served per accelerator)
    c[p]     USD per accelerator-hour;  mw[p] facility MW per accelerator (PUE included)
    N[p]     accelerators available;  M[w] cap on accelerators for w (inf: none)
    G[k,p]   coupling coefficient of one accelerator of p in row k;  b[k] its right-hand side:
             capacity rows (G = e_p, b = N[p]), power (G = mw, b = cap), a site's power
             (G = mw · 1[p at the site], b = the site's cap), vendor share rows
             (max: G = (1[v(p)=v] − s)·m[p], min: G = (s − 1[v(p)=v])·m[p], b = 0), where m is
             1, mw or c by the scenario's share measure.
Each coupling row carries a key (`polyfleet.plan.keys.CouplingKey`): ("capacity", pool),
("power", None) for the fleet's cap, ("power", site) for a site's, ("share_max" | "share_min",
vendor). Solutions, diagnosis,
leverage and reports find rows by these keys; their display names are rendered from them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from polyfleet.economics import CostBreakdown, facility_kw
from polyfleet.inputs.scenario import LoadedScenario
from polyfleet.perfmodel import ThroughputMatrix
from polyfleet.plan.keys import CouplingKey, RowKey
from polyfleet.plan.pricing import pool_cost_per_hour
from polyfleet.plan.shares import share_coefficients

__all__ = [
    "CouplingKey",
    "CouplingRows",
    "Groups",
    "PlacementProblem",
    "ShareBound",
    "problem_from_scenario",
]

F = NDArray[np.float64]


@dataclass(frozen=True)
class ShareBound:
    vendor: str
    bound: str  # "max" | "min"
    value: float


@dataclass(frozen=True)
class CouplingRows:
    """Rows that tie workloads together: G @ usage ≤ b, usage[p] = accelerators used in pool p;
    row k is the limit `keys[k]`. Positions are this object's own: a row is found by its key."""

    G: F
    b: F
    keys: tuple[CouplingKey, ...]
    _index: dict[RowKey, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[RowKey, int] = {}
        for k, key in enumerate(self.keys):
            if index.setdefault(key, k) != k:
                raise ValueError(f"coupling row {key!r} appears twice")
        if self.G.shape[0] != len(self.keys) or self.b.shape != (len(self.keys),):
            raise ValueError(f"{len(self.keys)} keys for {self.G.shape[0]} coupling rows")
        object.__setattr__(self, "_index", index)

    @property
    def names(self) -> list[str]:
        """Display names, rendered from the keys (for people, never parsed back)."""
        return [str(key) for key in self.keys]

    def row(self, key: RowKey) -> int:
        """The position of the row with this key."""
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no coupling row {key!r}") from None

    def of_kind(self, kind: str) -> Iterator[CouplingKey]:
        """The keys of every row of one kind ("power": the fleet's cap and any site's), in order."""
        return (key for key in self.keys if key.kind == kind)


@dataclass(frozen=True, eq=False)
class Groups:
    """The workloads each class stands for: one index array, class by class, and where each
    class starts in it (class c: `index[start[c]:start[c + 1]]`). Built, sliced and expanded
    with numpy, so 100,000 classes cost no Python loop."""

    index: NDArray[np.intp]
    start: NDArray[np.intp]  # one more than there are classes

    @classmethod
    def singletons(cls, n: int) -> Groups:
        return cls(np.arange(n, dtype=np.intp), np.arange(n + 1, dtype=np.intp))

    @classmethod
    def of_classes(cls, classes: NDArray[np.intp], n_classes: int) -> Groups:
        """The members of each class, from the class of each workload (in workload order)."""
        order = np.argsort(classes, kind="stable").astype(np.intp)
        counts = np.bincount(classes, minlength=n_classes)
        return cls(order, np.concatenate([[0], np.cumsum(counts)]).astype(np.intp))

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]]) -> Groups:
        sizes = np.array([len(m) for m in lists], dtype=np.intp)
        flat = np.fromiter((i for m in lists for i in m), np.intp, int(sizes.sum()))
        return cls(flat, np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp))

    @property
    def sizes(self) -> NDArray[np.intp]:
        return np.diff(self.start)

    def __len__(self) -> int:
        return len(self.start) - 1

    def __getitem__(self, c: int) -> NDArray[np.intp]:
        return self.index[self.start[c] : self.start[c + 1]]

    def __iter__(self) -> Iterator[NDArray[np.intp]]:
        return (self[c] for c in range(len(self)))

    def take(self, classes: NDArray[np.intp]) -> Groups:
        """The groups of `classes` (an index array; repeats allowed), in that order."""
        sizes = self.sizes[classes]
        ends = np.cumsum(sizes)
        flat = np.repeat(self.start[classes] - (ends - sizes), sizes) + np.arange(
            int(ends[-1]) if ends.size else 0
        )
        return Groups(self.index[flat], np.concatenate([[0], ends]).astype(np.intp))


@dataclass(frozen=True)
class PlacementProblem:
    """Arrays of one placement problem; `members` maps each class to the workloads it stands for."""

    workloads: list[str]
    pools: list[str]
    T: F
    demand: F
    cap: F
    cost: F
    mw: F
    capacity: F
    pool_vendor: NDArray[np.intp]
    vendors: list[str]
    power_cap_mw: float | None = None
    share_measure: str = "count"
    shares: tuple[ShareBound, ...] = ()
    weight: F = field(default_factory=lambda: np.ones(0))
    #: the workloads each class stands for (lists of indices are taken too)
    members: Groups = field(default_factory=lambda: Groups.singletons(0))
    sites: tuple[str, ...] = ()  # the sites with a power cap of their own
    site_cap_mw: F = field(default_factory=lambda: np.zeros(0))  # per site
    pool_site: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))  # -1: none

    def __post_init__(self) -> None:
        if self.weight.size == 0:
            object.__setattr__(self, "weight", np.ones(len(self.workloads)))
        if not isinstance(self.members, Groups):
            object.__setattr__(self, "members", Groups.from_lists(self.members))
        if len(self.members) == 0 and len(self.workloads):
            object.__setattr__(self, "members", Groups.singletons(len(self.workloads)))
        if self.pool_site.size == 0 and self.pools:
            object.__setattr__(self, "pool_site", np.full(len(self.pools), -1, dtype=np.intp))
        if len(self.site_cap_mw) != len(self.sites):
            raise ValueError(f"{len(self.site_cap_mw)} site caps for {len(self.sites)} sites")

    @property
    def shape(self) -> tuple[int, int]:
        return self.T.shape  # type: ignore[return-value]

    @property
    def a(self) -> F:
        """Fraction of each workload's demand one accelerator of each pool serves."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.demand[:, None] > 0, self.T / self.demand[:, None], 0.0)

    @property
    def share_weight(self) -> F:
        """m per pool for the scenario's own share measure (what its share rows weigh)."""
        return self.measure_weight(self.share_measure)

    def measure_weight(self, measure: str) -> F:
        """m per pool for a share measure: 1 (count), MW (power) or USD per hour (spend)."""
        return {"count": np.ones_like(self.cost), "power": self.mw, "spend": self.cost}[measure]

    def coupling(self) -> CouplingRows:
        """Capacity per pool, the fleet's power cap, each site's, the vendor-share bounds: one
        keyed row each."""
        rows = [np.eye(len(self.pools))]
        b = [self.capacity]
        keys = [CouplingKey("capacity", p) for p in self.pools]
        if self.power_cap_mw is not None:
            rows.append(self.mw[None, :])
            b.append(np.array([self.power_cap_mw]))
            keys.append(CouplingKey("power", None))
        if self.sites:
            at = self.pool_site[None, :] == np.arange(len(self.sites))[:, None]
            rows.append(self.mw[None, :] * at)
            b.append(np.asarray(self.site_cap_mw, dtype=float))
            keys += [CouplingKey("power", s) for s in self.sites]
        m = self.share_weight
        for sb in self.shares:
            if sb.vendor not in self.vendors:
                continue
            in_v = self.pool_vendor == self.vendors.index(sb.vendor)
            rows.append(share_coefficients(in_v, sb.bound, sb.value, m)[None, :])
            b.append(np.zeros(1))
            keys.append(CouplingKey(f"share_{sb.bound}", sb.vendor))
        return CouplingRows(np.vstack(rows), np.concatenate(b), tuple(keys))

    def subset(self, keep: NDArray[np.bool_]) -> PlacementProblem:
        """The same fleet and limits with only the workload classes where `keep` is true."""
        idx = np.flatnonzero(keep)
        return replace(
            self,
            workloads=[self.workloads[i] for i in idx],
            T=self.T[idx],
            demand=self.demand[idx],
            cap=self.cap[idx],
            weight=self.weight[idx],
            members=self.members.take(idx),
        )

    def pool_subset(self, keep: NDArray[np.bool_]) -> PlacementProblem:
        """The same workloads and limits with only the pools where `keep` is true."""
        idx = np.flatnonzero(keep)
        return replace(
            self,
            pools=[self.pools[i] for i in idx],
            T=self.T[:, idx],
            cost=self.cost[idx],
            mw=self.mw[idx],
            capacity=self.capacity[idx],
            pool_vendor=self.pool_vendor[idx],
            pool_site=self.pool_site[idx],
        )

    def collapse(self) -> tuple[PlacementProblem, NDArray[np.intp]]:
        """Merge workloads identical in every coefficient into one class of summed demand.

        Exact for every objective: a class's solution splits evenly over its members. Returns the
        collapsed problem and, for each original workload, the index of its class.
        """
        key = np.ascontiguousarray(np.column_stack([self.T, self.demand, self.cap]))
        view = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel()
        _, first, inverse, counts = np.unique(
            view, return_index=True, return_inverse=True, return_counts=True
        )
        if len(first) == len(self.workloads):
            return self, np.arange(len(self.workloads))
        order = np.argsort(first)  # keep classes in order of first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        cls = rank[inverse.ravel()]
        first = first[order]
        counts = counts[order].astype(float)
        collapsed = replace(
            self,
            workloads=[self.workloads[i] for i in first],
            T=self.T[first],
            demand=self.demand[first] * counts,
            cap=self.cap[first] * counts,
            weight=self.weight[first] * counts,
            members=Groups.of_classes(cls, len(first)),
        )
        return collapsed, cls


def problem_from_scenario(
    loaded: LoadedScenario, matrix: ThroughputMatrix, costs: Sequence[CostBreakdown] | None = None
) -> PlacementProblem:
    """Arrays for the plan: pool columns of the throughput matrix, costs, power and limits.
    `costs` (one breakdown per pool, deal credits netted) default to each pool's own terms."""
    scn, catalog = loaded.scenario, loaded.catalog
    acc_col = {a: i for i, a in enumerate(matrix.accelerators)}
    pool_cols = np.array([acc_col[p.accelerator] for p in scn.pools], dtype=np.intp)
    accs = [catalog[p.accelerator] for p in scn.pools]
    vendors = sorted({a.vendor for a in accs})
    limits = scn.limits
    capped = [s for s in scn.sites if s.power_cap_mw is not None]
    site_index = {s.name: k for k, s in enumerate(capped)}
    shares: list[ShareBound] = []
    measure = "count"
    if limits.vendor_share is not None:
        measure = limits.vendor_share.measure
        shares += [ShareBound(v, "max", s) for v, s in limits.vendor_share.max.items() if s < 1]
        shares += [ShareBound(v, "min", s) for v, s in limits.vendor_share.min.items() if s > 0]
    columns = loaded.columns
    return PlacementProblem(
        workloads=list(columns.names),
        pools=[p.name for p in scn.pools],
        T=matrix.value[:, pool_cols],
        demand=columns.demand.copy(),
        cap=columns.cap.copy(),
        cost=np.array(
            [c.total for c in costs]
            if costs is not None
            else [pool_cost_per_hour(p, a) for p, a in zip(scn.pools, accs, strict=True)]
        ),
        mw=np.array([facility_kw(a, p.pue) / 1000.0 for p, a in zip(scn.pools, accs, strict=True)]),
        capacity=np.array([p.count * p.availability for p in scn.pools], dtype=float),
        pool_vendor=np.array([vendors.index(a.vendor) for a in accs], dtype=np.intp),
        vendors=vendors,
        power_cap_mw=limits.power_cap_mw,
        share_measure=measure,
        shares=tuple(shares),
        sites=tuple(s.name for s in capped),
        site_cap_mw=np.array([s.power_cap_mw for s in capped], dtype=float),
        pool_site=np.array(
            [site_index.get(p.site, -1) if p.site is not None else -1 for p in scn.pools],
            dtype=np.intp,
        ),
    )
