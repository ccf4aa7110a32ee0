"""Vendor leverage and the share frontier: what keeping a second vendor is worth, in dollars.

All of it is parametric re-solving of the min-cost placement (decomposition, each solve warm-
started from the nearest one already done):

switching price   the multiplier m on one vendor's prices at which the least-cost plan first moves
                  work away from it (its share of the work served falls by more than `MOVE_TOL`),
                  and the one at which it drops the vendor entirely (its accelerators in use fall
                  to `DROP_TOL` of the base plan's). Bracketed by doubling steps above 1, then
                  bisected to `precision` (relative). Share floors, workloads only that vendor can
                  serve, or capacity elsewhere can make either "never" (reported with the reason).
lock-in premium   least cost using only that vendor's pools minus least cost with all pools, both
                  without vendor-share limits (a single-vendor fleet cannot meet them); ≥ 0 since
                  removing pools never lowers the optimum. Infeasible is an answer, with why.
share-cap cost    least cost with the scenario's vendor-share limits minus least cost without.
frontier          least cost as the largest vendor's maximum share sweeps from 1 down to the
                  lowest feasible share; the knee is the point farthest from the chord between
                  the ends (both axes scaled to [0, 1]).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from polyfleet.errors import InfeasibleError
from polyfleet.plan import diagnose
from polyfleet.plan.decompose import solve_decomposed
from polyfleet.plan.keys import CouplingKey
from polyfleet.plan.problem import PlacementProblem, ShareBound
from polyfleet.plan.shares import share_point, vendor_shares
from polyfleet.plan.solution import Solution

__all__ = ["Frontier", "VendorLeverage", "leverage", "share_frontier"]

MOVE_TOL = 1e-3  # relative fall in the vendor's share of work that counts as moving work away
DROP_TOL = 1e-4  # accelerators in use, relative to the base plan, below which it is dropped
MAX_MULTIPLIER = 1000.0
FIRST_STEP = 0.01  # the bracket grows 1.01, 1.02, 1.04, 1.08, ...
SEARCH_GAP = 1e-5  # optimality gap of the re-solves (the searches need the plan, not the cents)


class Solver:
    """Re-solves variants of one problem, each warm-started from the closest previous solve."""

    def __init__(self, *, warm: bool = True, gap: float = SEARCH_GAP):
        self.warm = warm
        self.gap = gap
        self.solves = 0
        self.seconds = 0.0
        self._last: dict[str, Solution] = {}

    def solve(self, variant: PlacementProblem, chain: str = "") -> Solution:
        t0 = time.perf_counter()
        start = self._last.get(chain) if self.warm else None
        sol = solve_decomposed(
            variant, gap=self.gap, warm=start.warm_start if start is not None else None
        )
        self._last[chain] = sol
        self.solves += 1
        self.seconds += time.perf_counter() - t0
        return sol


def _vendor_mask(problem: PlacementProblem, vendor: str) -> np.ndarray:
    return problem.pool_vendor == problem.vendors.index(vendor)


def _priced(problem: PlacementProblem, mask: np.ndarray, m: float) -> PlacementProblem:
    return replace(problem, cost=problem.cost * np.where(mask, m, 1.0))


def work_share(problem: PlacementProblem, sol: Solution, mask: np.ndarray) -> float:
    """The vendor's share of the work served: Σ_w weight·(fraction of w on its pools) / Σ weight."""
    on_v = np.asarray(sol.x[:, np.flatnonzero(mask)].multiply(problem.a[:, mask]).sum(axis=1))
    return float(problem.weight @ on_v.ravel() / problem.weight.sum())


@dataclass(frozen=True)
class Search:
    """The smallest multiplier found to meet a condition, to the search's precision."""

    multiplier: float | None  # None: not met up to MAX_MULTIPLIER
    below: float  # the largest multiplier known not to meet it
    evaluations: int


def _search(
    met: Callable[[float], bool], start: float, precision: float, first_step: float = FIRST_STEP
) -> Search:
    lo, step, evals = start, first_step, 0
    hi = lo * (1 + step)
    while True:
        evals += 1
        if met(hi):
            break
        lo = hi
        if hi >= MAX_MULTIPLIER:
            return Search(None, lo, evals)
        step *= 2
        hi = min(lo * (1 + step), MAX_MULTIPLIER)
    # to `precision`, or until no float lies between lo and hi, whatever precision is given
    while (hi - lo) / lo > precision:
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        evals += 1
        if met(mid):
            hi = mid
        else:
            lo = mid
    return Search(hi, lo, evals)


#: The bracket-and-bisect search, for the in-house switching price (plan/greenfield.py).
search_multiplier = _search


@dataclass
class VendorLeverage:
    vendor: str
    base_share: float  # of the work served, in the least-cost plan
    switch: Search
    drop: Search
    switch_reason: str | None
    drop_reason: str | None
    single_vendor_cost: float | None  # $/h, None when infeasible
    single_vendor_status: str
    single_vendor_why: list[str] = field(default_factory=list)
    lock_in_premium: float | None = None  # $/h
    share_duals: dict[str, float] = field(default_factory=dict)  # $/h per share point

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "base_work_share": self.base_share,
            "switch_multiplier": self.switch.multiplier,
            "switch_multiplier_below": self.switch.below,
            "switch_reason": self.switch_reason,
            "drop_multiplier": self.drop.multiplier,
            "drop_multiplier_below": self.drop.below,
            "drop_reason": self.drop_reason,
            "single_vendor_cost_per_hour": self.single_vendor_cost,
            "single_vendor_status": self.single_vendor_status,
            "single_vendor_why": self.single_vendor_why,
            "lock_in_premium_per_hour": self.lock_in_premium,
            "share_duals_per_point": self.share_duals,
            "evaluations": self.switch.evaluations + self.drop.evaluations,
        }


@dataclass
class LeverageReport:
    vendors: list[VendorLeverage]
    cost: float  # $/h, least-cost plan with every limit
    cost_without_shares: float | None
    share_cap_cost: float | None
    precision: float
    solves: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_per_hour": self.cost,
            "cost_without_share_limits": self.cost_without_shares,
            "share_limits_cost_per_hour": self.share_cap_cost,
            "precision": self.precision,
            "solves": self.solves,
            "seconds": self.seconds,
            "vendors": [v.to_dict() for v in self.vendors],
        }


def _never_reason(problem: PlacementProblem, mask: np.ndarray, vendor: str, what: str) -> str:
    """Why a vendor keeps work (or stays in the fleet) at any price: the workloads only it
    serves, and the limits, read from the coupling rows' keys, that hold work on it."""
    reasons = []
    eligible_elsewhere = ((problem.a > 0) & ~mask[None, :]).any(axis=1)
    only_v = np.flatnonzero(~eligible_elsewhere & (problem.demand > 0))
    if only_v.size:
        names = ", ".join(problem.workloads[i] for i in only_v[:3])
        more = f" and {only_v.size - 3} more" if only_v.size > 3 else ""
        reasons.append(f"only {vendor} can serve {names}{more}")
    rows = problem.coupling()
    if CouplingKey("share_min", vendor) in rows.keys:
        reasons.append(f"the minimum share of {vendor}")
    capped = sorted(str(k.subject) for k in rows.of_kind("share_max") if k.subject != vendor)
    if capped:
        reasons.append("the maximum share of " + ", ".join(capped))
    if not reasons:
        limits = ["the other vendors' capacity", *(k.describe() for k in rows.of_kind("power"))]
        held = ", ".join(limits[:-1]) + " or " + limits[-1] if len(limits) > 1 else limits[0]
        reasons.append(f"{held} cannot take all its work")
    return f"{what} at no price up to x{MAX_MULTIPLIER:g}: " + "; ".join(reasons)


def _without(
    solver: Solver, problem: PlacementProblem, mask: np.ndarray, vendor: str
) -> str | None:
    """Why the fleet has no plan without the vendor's pools (None: it has one). Dropping the vendor
    at some price is possible exactly when such a plan exists, so this settles "never" in one
    solve instead of a search up to MAX_MULTIPLIER."""
    rest = problem.pool_subset(~mask)
    bad, _ = diagnose.unservable(rest)
    if bad.any():
        names = ", ".join(rest.workloads[i] for i in np.flatnonzero(bad)[:3])
        more = f" and {int(bad.sum()) - 3} more" if bad.sum() > 3 else ""
        return f"never dropped: only {vendor} can serve {names}{more}"
    sol = solver.solve(rest, chain=f"without:{vendor}")
    if sol.status == "optimal":
        return None
    limits = "; ".join(v["message"] for v in diagnose.violated_limits(rest, sol))
    return f"never dropped: without {vendor}, {limits}"


def _single_vendor(
    solver: Solver, free: PlacementProblem, mask: np.ndarray, vendor: str
) -> tuple[float | None, str, list[str]]:
    only = free.pool_subset(mask)
    bad, why = diagnose.unservable(only)
    if bad.any():
        lines = [f"{only.workloads[i]}: {r}" for i, r in zip(np.flatnonzero(bad), why, strict=True)]
        return None, "infeasible", lines[:10]
    sol = solver.solve(only, chain=f"only:{vendor}")
    if sol.status != "optimal":
        return None, "infeasible", [v["message"] for v in diagnose.violated_limits(only, sol)]
    return sol.cost_per_hour, "optimal", []


def _infeasible(message: str, problem: PlacementProblem, solution: Solution) -> InfeasibleError:
    """No plan exists: the limits that must give, and by how much, in the message and diagnosis."""
    limits = diagnose.violated_limits(problem, solution)
    why = "; ".join(v["message"] for v in limits[:3])
    return InfeasibleError(
        message + (f" ({why})" if why else "") + "; run `plan` for the diagnosis",
        {"limits": limits},
    )


def leverage(
    problem: PlacementProblem, *, precision: float = 0.005, warm: bool = True
) -> LeverageReport:
    """Switching and drop multipliers, lock-in premium and share-duals for every vendor."""
    t0 = time.perf_counter()
    solver = Solver(warm=warm)
    base = solver.solve(problem, chain="base")
    if base.status != "optimal":
        raise _infeasible("leverage needs a feasible plan and the scenario has none", problem, base)
    free = replace(problem, shares=())
    unlimited = solver.solve(free, chain="free") if problem.shares else base
    point = share_point(base.usage, problem.share_weight)
    share_keys = [k for k in problem.coupling().keys if k.family == "share"]
    out = []
    for vendor in problem.vendors:
        mask = _vendor_mask(problem, vendor)
        if not mask.any():
            continue
        share0 = work_share(problem, base, mask)
        used0 = float(base.usage[mask].sum())
        chain = f"vendor:{vendor}"

        def moved(
            m: float, mask: np.ndarray = mask, share0: float = share0, c: str = chain
        ) -> bool:
            sol = solver.solve(_priced(problem, mask, m), chain=c)
            return work_share(problem, sol, mask) < share0 * (1 - MOVE_TOL)

        def dropped(
            m: float, mask: np.ndarray = mask, used0: float = used0, c: str = chain
        ) -> bool:
            sol = solver.solve(_priced(problem, mask, m), chain=c)
            return float(sol.usage[mask].sum()) <= used0 * DROP_TOL

        if share0 <= 0 and used0 <= 0:
            switch = drop = Search(1.0, 1.0, 0)
            switch_reason = drop_reason = f"{vendor} is not used in the least-cost plan"
        elif mask.all():
            switch = drop = Search(None, MAX_MULTIPLIER, 0)
            switch_reason = drop_reason = f"{vendor} is the only vendor with pools"
        else:
            switch = _search(moved, 1.0, precision)
            switch_reason = (
                _never_reason(problem, mask, vendor, "no work moves")
                if switch.multiplier is None
                else None
            )
            lacking = _without(solver, problem, mask, vendor)
            if switch.multiplier is None:
                drop, drop_reason = Search(None, switch.below, 0), switch_reason
            elif lacking is not None:  # no plan without it: no price drops it
                drop, drop_reason = Search(None, MAX_MULTIPLIER, 0), lacking
            else:
                drop = (
                    Search(switch.multiplier, switch.below, 0)
                    if dropped(switch.multiplier)
                    else _search(dropped, switch.multiplier, precision)
                )
                drop_reason = (
                    _never_reason(problem, mask, vendor, "it stays in the fleet")
                    if drop.multiplier is None
                    else None
                )
        single_cost, single_status, single_why = _single_vendor(solver, free, mask, vendor)
        # $/h per share point of each bound on this vendor ("share_max" / "share_min")
        duals = {k.kind: base.dual(k) * point for k in share_keys if k.subject == vendor}
        out.append(
            VendorLeverage(
                vendor=vendor,
                base_share=share0,
                switch=switch,
                drop=drop,
                switch_reason=switch_reason,
                drop_reason=drop_reason,
                single_vendor_cost=single_cost,
                single_vendor_status=single_status,
                single_vendor_why=single_why,
                lock_in_premium=(
                    single_cost - unlimited.cost_per_hour if single_cost is not None else None
                ),
                share_duals=duals,
            )
        )
    return LeverageReport(
        vendors=out,
        cost=base.cost_per_hour,
        cost_without_shares=unlimited.cost_per_hour,
        share_cap_cost=base.cost_per_hour - unlimited.cost_per_hour,
        precision=precision,
        solves=solver.solves,
        seconds=time.perf_counter() - t0,
    )


@dataclass
class Frontier:
    vendor: str
    measure: str
    points: list[dict[str, float | str | None]]
    lowest_feasible: float
    knee: int  # index into points
    solves: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "measure": self.measure,
            "lowest_feasible_share": self.lowest_feasible,
            "knee": self.points[self.knee] if self.points else None,
            "points": self.points,
            "solves": self.solves,
            "seconds": self.seconds,
        }


def _capped(problem: PlacementProblem, vendor: str, cap: float) -> PlacementProblem:
    kept = tuple(s for s in problem.shares if not (s.vendor == vendor and s.bound == "max"))
    return replace(problem, shares=(*kept, ShareBound(vendor, "max", cap)))


def _shares(problem: PlacementProblem, sol: Solution) -> dict[str, float]:
    """Each vendor's share of the plan by the scenario's share measure."""
    return vendor_shares(sol.usage, problem.pool_vendor, problem.vendors, problem.share_weight)


def knee_index(shares: np.ndarray, costs: np.ndarray) -> int:
    """The point farthest from the chord between the first and last, both axes scaled to [0, 1]."""
    if len(shares) < 3:
        return 0
    x = (shares - shares.min()) / max(float(np.ptp(shares)), 1e-12)
    y = (costs - costs.min()) / max(float(np.ptp(costs)), 1e-12)
    dx, dy = x[-1] - x[0], y[-1] - y[0]
    dist = np.abs(dy * (x - x[0]) - dx * (y - y[0])) / max(float(np.hypot(dx, dy)), 1e-12)
    return int(np.argmax(dist))


def share_frontier(
    problem: PlacementProblem, *, points: int = 21, precision: float = 1e-3, warm: bool = True
) -> Frontier:
    """Least cost against the largest vendor's maximum share, from 1 down to the lowest feasible."""
    t0 = time.perf_counter()
    solver = Solver(warm=warm)
    uncapped = replace(problem, shares=tuple(s for s in problem.shares if s.bound == "min"))
    start = solver.solve(uncapped, chain="sweep")
    if start.status != "optimal":
        raise _infeasible("no feasible plan even without share caps", uncapped, start)
    shares0 = _shares(problem, start)
    vendor = max(shares0, key=lambda v: shares0[v])
    # the other vendors' caps stay; the largest vendor's cap is what the sweep sets
    free = replace(
        problem, shares=tuple(s for s in problem.shares if (s.vendor, s.bound) != (vendor, "max"))
    )
    widest = _capped(free, vendor, 1.0)
    floor = solver.solve(widest, chain="floor")
    if floor.status != "optimal":
        raise _infeasible("the other limits leave no feasible plan at any share", widest, floor)
    # lowest feasible cap: bisect on feasibility between 0 and 1
    lo, hi = 0.0, 1.0
    while hi - lo > precision:
        mid = 0.5 * (lo + hi)
        if solver.solve(_capped(free, vendor, mid), chain="floor").status == "optimal":
            hi = mid
        else:
            lo = mid
    lowest = hi
    out: list[dict[str, float | str | None]] = []
    caps = np.linspace(1.0, lowest, max(points, 2)) if lowest < 1.0 - precision else [1.0]
    for cap in caps:
        sol = solver.solve(_capped(free, vendor, float(cap)), chain="sweep")
        ok = sol.status == "optimal"
        out.append(
            {
                "max_share": float(cap),
                "share": _shares(problem, sol)[vendor] if ok else None,
                "cost_per_hour": sol.cost_per_hour if ok else None,
                "status": sol.status,
            }
        )
    feasible = [i for i, p in enumerate(out) if p["status"] == "optimal"]
    xs = np.array([out[i]["max_share"] for i in feasible], dtype=float)
    ys = np.array([out[i]["cost_per_hour"] for i in feasible], dtype=float)
    knee = feasible[knee_index(xs, ys)] if feasible else 0
    return Frontier(
        vendor=vendor,
        measure=problem.share_measure,
        points=out,
        lowest_feasible=lowest,
        knee=knee,
        solves=solver.solves,
        seconds=time.perf_counter() - t0,
    )
