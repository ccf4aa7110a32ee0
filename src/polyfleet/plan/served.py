"""max_served and max_min_served by price-directed decomposition, each with a proved gap.

Both keep min_cost's structure: rows per workload (what it is served, its cap) and a few rows that
couple workloads, G·usage ≤ b. With prices π ≥ 0 on the coupling rows the rest splits by workload
into a curve (`polyfleet.plan.curves`): c_w(s), the least priced cost of serving fraction s of w.

    max_served      max Σ_w weight[w]·s_w,   0 ≤ s_w ≤ 1      block: each s_w on its own
    max_min_served  max t,   s_w = t for every w               block: one t shared by all

A block is the set of plans its own rows allow, with a measure m (the objective) per plan. Pricing
finds the block's plan that maximises θ·m − r·usage: per workload the best point of its curve
(`Curves.best_each`), or the t where Σ_w c_w'(t) first reaches θ (`Curves.best_common`, one sort
of the curves' breakpoints). The master LP mixes the proposals:

    stage 1 (serve)  max Σ_j λ_j·m_j   s.t.  Σ_j λ_j·G·u_j + G·idle ≤ b,  Σ_{points} λ_j = 1
    stage 2 (cost)   min Σ_j λ_j·C_j + c·idle,  the same rows and Σ_j λ_j·m_j ≥ m₁

(rays — t growing without bound — enter without the convexity row). Both stages are one HiGHS
model: stage 2 adds the held row and changes the costs, and every stage-1 column stays valid. The
plan that serves nothing is a column, so the master is feasible from the start: no phases. With
r = (c in stage 2) + πᵀG ≥ 0 — what the idle columns make the master's prices — and η ≥ 0 the held
row's price, weak duality gives, for P(r, θ) = max_block θ·m − r·usage:

    stage 1  m* ≤ UB(π)    = πᵀb + P(πᵀG, 1)
    stage 2  C* ≥ LB(π, η) = η·m₁ − πᵀb − P(c + πᵀG, η)

A stage ends when (bound − primal)/primal ≤ gap (1e-6), or when no column prices in (then the
master's plan is optimal for the whole LP). Prices are smoothed towards the best bound's
(Wentges), as in `polyfleet.plan.decompose`; rows are measured relative to their size as there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from polyfleet.errors import SolverError
from polyfleet.plan.curves import Curves, Group, ServiceCurves, mix_assignment, mix_usage
from polyfleet.plan.lp import LEX_TOL, check_problem, violation_scale
from polyfleet.plan.problem import CouplingRows, PlacementProblem
from polyfleet.plan.served_master import Column, Master
from polyfleet.plan.solution import Solution

__all__ = ["Engine", "Outcome", "solve_max_min", "solve_max_served"]

F = NDArray[np.float64]
Ix = NDArray[np.intp]
#: Room each coupling row gets for round-off, relative to its size (rows are scaled to ~1): a
#: plan one master returned, within HiGHS's tolerance, stays feasible in the next. Bounds of
#: this relaxation bound the exact LP as well.
ROUND_OFF = 1e-9
#: A carried plan may overrun a row by at most this (relative), else it is no plan of the LP.
CARRY_TOL = 1e-5
#: A column improves the master when its reduced cost is below −IMPROVES (relative): ten times
#: the master's dual tolerance, below which HiGHS would not move and pricing would repeat.
IMPROVES = 1e-9
#: A plan's weight in the master below this is round-off: it adds nothing to the plan.
LAMBDA_TOL = 1e-13
#: Priced columns that keep their assignment (the latest; the plan is most often made of them).
KEEP_PLANS = 8
#: From SAMPLE_FROM workload classes up, stage 1 starts at prices found on SAMPLE of them,
#: solved to SAMPLE_GAP (`_sampled`).
SAMPLE, SAMPLE_FROM, SAMPLE_GAP = 2048, 16384, 1e-4


class Block(Protocol):
    """The plans a stage chooses among, by their service level per workload."""

    def best(self, cv: Curves, theta: float) -> tuple[F, float, bool]:
        """Service per workload, measure, and whether it is a ray, maximising θ·m − r·usage."""
        ...

    def measure_of(self, served: F) -> float:
        """The measure of a plan that serves `served` (fractions per workload)."""
        ...


class Each:
    """Each workload's service s_w in [lo_w, hi_w]; measure Σ_w weight_w·(s_w − lo_w)."""

    def __init__(self, curves: ServiceCurves, weight: F, lo: F, hi: F) -> None:
        self.weight = weight
        self.lo = np.minimum(lo, curves.s_end)
        self.hi = np.maximum(np.minimum(hi, curves.s_end), self.lo)

    def best(self, cv: Curves, theta: float) -> tuple[F, float, bool]:
        s = cv.best_each(theta * self.weight, self.lo, self.hi)
        return s, _dot(self.weight, s - self.lo), False

    def measure_of(self, served: F) -> float:
        return _dot(self.weight, np.clip(served, self.lo, self.hi) - self.lo)


class Common:
    """One service level t ≤ t_max for the workloads `among`; the others held at `floor`;
    measure t. A t_max the coupling rows imply leaves the LP as it is and keeps every proposal
    finite (a ray only where nothing bounds t)."""

    def __init__(self, curves: ServiceCurves, among: Ix, floor: F, t_max: float) -> None:
        self.among = np.sort(among)
        self.group = Group(curves, self.among)
        self.floor = np.minimum(floor, curves.s_end)
        self.floor[among] = 0.0
        self.t_max = t_max

    def best(self, cv: Curves, theta: float) -> tuple[F, float, bool]:
        t, ray = cv.best_common(theta, self.group, self.t_max)
        s = np.zeros_like(self.floor) if ray else self.floor.copy()
        s[self.among] = t
        return s, t, ray

    def measure_of(self, served: F) -> float:
        return float(served[self.among].min(initial=np.inf))


@dataclass
class Outcome:
    """What one decomposition run leaves: the plan, the stage values and their bounds."""

    x: sp.csr_matrix
    idle: F
    measure: float  # stage 1's served measure (the master's)
    measure_bound: float  # its upper bound (nan without stage 1)
    serve_gap: float
    cost_bound: float  # lower bound on the cost, USD per hour (nan without stage 2)
    cost_gap: float
    duals: F  # USD per hour per unit of each coupling row (stage 2), else zeros
    rounds: int
    prices: F  # stage 1's final prices: measure per unit of each coupling row
    bound_prices: F  # the prices of stage 1's best bound, in the same units
    rows: F  # the coupling rows' limits as the master held them (with room for round-off)


@dataclass
class _Bound:
    """The best Lagrangian bound of the stage (in master units, on the minimised objective) and
    the prices (π, η) that gave it; `value` is −∞ until some prices give a finite one."""

    value: float
    pi: F | None = None
    eta: float = 0.0


class Engine:
    """Runs the decomposition of one placement problem for any block (the served objectives and
    the water-filling of `polyfleet.plan.fairness` share it); counts its rounds and time."""

    def __init__(
        self,
        problem: PlacementProblem,
        *,
        gap: float = 1e-6,
        max_rounds: int = 2000,
        smoothing: float = 0.5,
        time_limit: float = 600.0,
    ) -> None:
        check_problem(problem)
        self.started = time.perf_counter()
        self.problem = problem
        self.curves = ServiceCurves(problem)
        coupling = problem.coupling()
        self.keys = coupling.keys
        self.scale = _row_scale(problem, coupling)
        self.Gs = coupling.G / self.scale[:, None]
        self.bs = coupling.b / self.scale
        self.Gs[~np.isfinite(self.bs)] = 0.0
        # the rows as the master holds them (with their room for round-off; open rows: 0)
        self.b_fin = np.where(
            np.isfinite(self.bs), self.bs + ROUND_OFF * np.maximum(np.abs(self.bs), 1.0), 0.0
        )
        self.gap, self.max_rounds, self.smoothing = gap, max_rounds, smoothing
        self.time_limit = time_limit
        self.rounds = 0
        self._kept: list[Column] = []  # priced columns that keep their assignment

    # ---- columns ---------------------------------------------------------------------------
    def price(self, block: Block, r: F, theta: float) -> tuple[Column, float]:
        """The block's best proposal at prices r and value θ per unit measured, and P(r, θ)."""
        cv = self.curves.at(r)
        s, measure, ray = block.best(cv, theta)
        mix = None
        if self.curves.free.size:
            usage = cv.usage(s)
        else:  # every row capped: its mix costs what the usage does, and is kept for the plan
            mix = cv.mix(s)  # (the latest few columns: the plan is most often made of them)
            usage = mix_usage(self.curves.n_p, mix)
        col = Column(measure, usage, float(self.problem.cost @ usage), ray, prices=(r, theta))
        if mix is not None:
            col.mix = mix
            self._kept.append(col)
            if len(self._kept) > KEEP_PLANS:
                self._kept.pop(0).mix = None  # rebuilt from its prices if needed
        value = np.inf if ray else theta * measure - float(cv.r @ usage)
        return col, value

    def plan_column(self, block: Block, x: sp.csr_matrix, idle: F | None = None) -> Column:
        """A column for a known plan and the accelerators it holds idle (it must lie in the
        block)."""
        coo = x.tocoo()
        rows, pools, accs = coo.row.astype(np.intp), coo.col.astype(np.intp), coo.data
        idle = np.zeros(self.curves.n_p) if idle is None else idle
        usage = np.bincount(pools, weights=accs, minlength=self.curves.n_p) + idle
        served = np.bincount(
            rows, weights=accs * self.problem.a[rows, pools], minlength=self.curves.n_w
        )
        measure = block.measure_of(served)
        cost = float(self.problem.cost @ usage)
        return Column(measure, usage, cost, plan=(rows, pools, accs), idle=idle)

    def assignment(self, block: Block, col: Column) -> tuple[Ix, Ix, F]:
        if col.plan is not None:
            return col.plan
        if col.mix is not None:
            return mix_assignment(self.curves, col.mix)
        assert col.prices is not None
        r, theta = col.prices
        cv = self.curves.at(r)
        s, _, _ = block.best(cv, theta)
        return cv.assignment(s)

    # ---- stages ----------------------------------------------------------------------------
    def run(
        self,
        block: Block,
        start: list[Column],
        *,
        m_unit: float,
        serve: bool = True,
        cost: bool = True,
        gap: float | None = None,
        enough: float | None = None,
        centre: F | None = None,
        plan: bool = True,
        max_rounds: int | None = None,
    ) -> Outcome:
        """Stage 1 (most measured) and/or stage 2 (least cost, stage 1's measure held; without
        stage 1 nothing is held), from the `start` columns (at least one plan in the block);
        `gap` overrides the engine's for this run; stage 1 also ends once its bound proves the
        measure is at most `enough` (all a yes/no question needs). Stage 1 starts priced at
        `centre` (measure per unit of each coupling row) when given. Without `plan`,
        the outcome has no assignment (prices and bounds only)."""
        gap = self.gap if gap is None else gap
        rounds = self.max_rounds if max_rounds is None else max_rounds
        # a known plan may overrun a row by round-off (within the tolerance of the master that
        # made it): the row gets that much more room here, so the plan stays a feasible start
        b_run = self.b_fin.copy()
        for col in start:
            if col.plan is not None:
                b_run = np.maximum(b_run, self.Gs @ col.usage)
        if (b_run - self.b_fin > CARRY_TOL * np.maximum(np.abs(self.bs), 1.0)).any():
            raise SolverError(
                "decomposition: a carried plan overruns a limit by more than round-off",
                status="start plan infeasible",
                seconds=time.perf_counter() - self.started,
            )
        master = Master(self.Gs, np.where(np.isfinite(self.bs), b_run, np.inf), m_unit)
        for col in start:
            if col.ray:
                col.size = m_unit
            master.add(col)
        measure, measure_bound, serve_gap = np.nan, np.nan, 0.0
        cost_bound, cost_gap = np.nan, 0.0
        prices = np.zeros(len(self.keys))
        bound_prices = prices
        if serve:
            bound = _Bound(-np.inf)
            if centre is not None:
                self._start_at(master, block, bound, centre * self.scale / m_unit)
            floor = None if enough is None else -enough / m_unit
            v = self._generate(master, block, bound, gap, floor, rounds)
            measure = -v * m_unit
            measure_bound = -bound.value * m_unit
            serve_gap = max(0.0, (v - bound.value) / max(abs(v), 1e-9))
            prices = master.prices * m_unit / self.scale
            if bound.pi is not None:
                bound_prices = bound.pi * m_unit / self.scale
        duals = np.zeros(len(self.keys))
        if cost:
            hold = -v * (1.0 - LEX_TOL) if serve else None
            unit = master.plan_cost(self.problem.cost) if serve else start[0].cost
            master.to_cost(self.problem.cost, hold, unit)
            bound = _Bound(-np.inf)
            v = self._generate(master, block, bound, gap, None, rounds)
            cost_bound = bound.value * master.c_unit
            cost_gap = max(0.0, (v - bound.value) / max(abs(v), 1e-9))
            _, pi, _, _ = master.solve(self.started)
            duals = pi * master.c_unit / self.scale
        idle, lam = master.values()
        x = self._plan(block, master, lam) if plan else sp.csr_matrix(self.problem.shape)
        for weight, col in zip(lam, master.columns, strict=True):
            if col.idle is not None:
                idle = idle + weight * col.idle
        return Outcome(
            x,
            idle,
            measure,
            measure_bound,
            serve_gap,
            cost_bound,
            cost_gap,
            duals,
            self.rounds,
            prices,
            bound_prices,
            master.b_fin * self.scale,
        )

    def _start_at(self, master: Master, block: Block, bound: _Bound, pi: F) -> None:
        """Price stage 1 once at π (master units): its column, its bound, the first centre."""
        pi = np.where(master.open, 0.0, np.maximum(pi, 0.0))
        r = pi @ self.Gs
        col, value = self.price(block, r, 1.0 / master.m_unit)
        if col.ray:
            col.size = master.m_unit
        master.add(col)
        if np.isfinite(value) and r.min() >= 0:
            bound.value, bound.pi, bound.eta = -value - float(pi @ master.b_fin), pi, 0.0

    def _plan(self, block: Block, master: Master, lam: F) -> sp.csr_matrix:
        n_w, n_p = self.curves.n_w, self.curves.n_p
        parts_r, parts_c, parts_v = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)], [np.zeros(0)]
        for weight, col in zip(lam, master.columns, strict=True):
            if weight <= LAMBDA_TOL:
                continue
            rows, pools, accs = self.assignment(block, col)
            parts_r.append(rows)
            parts_c.append(pools)
            parts_v.append(accs * weight * col.size)
        x = sp.csr_matrix(
            (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
            shape=(n_w, n_p),
        )
        x.sum_duplicates()
        x.eliminate_zeros()
        return x

    def _generate(
        self,
        master: Master,
        block: Block,
        bound: _Bound,
        gap: float,
        floor: float | None,
        max_rounds: int,
    ) -> float:
        """Column generation in the master's stage until the bound meets its objective (or, with
        `floor`, until the bound reaches it)."""
        cost_stage = master.stage == "cost"
        base_r = master.pool_cost if cost_stage else np.zeros(master.n_p)
        alpha = self.smoothing
        for _ in range(max_rounds):
            v, pi, sigma, eta = master.solve(self.started)
            self.rounds += 1
            if v - bound.value <= gap * max(abs(v), 1e-9):
                return v
            if floor is not None and bound.value >= floor:
                return v
            points = [(pi, eta)]
            if alpha > 0 and bound.pi is not None:
                centre = (
                    alpha * bound.pi + (1 - alpha) * pi,
                    alpha * bound.eta + (1 - alpha) * eta,
                )
                points.insert(0, centre)
            added = False
            for n_point, (p_pi, p_eta) in enumerate(points):
                r = base_r + p_pi @ self.Gs
                theta = (p_eta if cost_stage else 1.0) / master.m_unit
                col, value = self.price(block, r, theta)
                # the bound holds where no pool's price is negative (round-off aside)
                if np.isfinite(value) and r.min() >= -1e-9 * max(np.abs(r).max(), 1e-12):
                    lb = -value - float(p_pi @ master.b_fin)
                    if cost_stage:
                        lb += p_eta * master.hold
                    if lb > bound.value:
                        bound.value, bound.pi, bound.eta = lb, p_pi, p_eta
                if col.ray:
                    col.size = master.m_unit
                elif n_point == 0 and len(points) == 2:
                    # automatic smoothing: where the bound still rises from the centre towards
                    # the master's prices, move the next centre closer to them, else back
                    assert bound.pi is not None
                    rise = float((self.Gs @ col.usage - master.b_fin) @ (pi - bound.pi))
                    if cost_stage:
                        rise += (master.hold - col.measure / master.m_unit) * (eta - bound.eta)
                    alpha = (
                        max(alpha - 0.1, 0.0) if rise > 0 else min(alpha + 0.1 * (1 - alpha), 0.99)
                    )
                if master.reduced(col, pi, sigma, eta) < -IMPROVES * max(abs(v), 1.0):
                    master.add(col)
                    added = True
                    break
            if not added:  # no column improves at the master's prices (their bound is v + the
                return v  # least reduced cost, taken above): optimal to the master's tolerance
            if time.perf_counter() - self.started > self.time_limit:
                raise SolverError(
                    "decomposition hit its time limit",
                    status="time limit",
                    seconds=time.perf_counter() - self.started,
                )
        raise SolverError(
            "decomposition did not converge",
            status="iteration limit",
            seconds=time.perf_counter() - self.started,
        )

    # ---- helpers for the objectives ---------------------------------------------------------
    def zero(self) -> Column:
        """The plan that serves nothing (in every block whose floors are zero)."""
        return Column(0.0, np.zeros(self.curves.n_p), 0.0, plan=_empty())

    def level_bound(self, among: Ix) -> float:
        """An upper bound on any level t that every workload of `among` is served: each needs at
        least t / max_p a[w,p] accelerators of the pools eligible to it, and those pools hold
        their capacity (∞ when one of them has no limit)."""
        a = self.problem.a[among]
        reach = np.flatnonzero((a > 0).any(axis=0))
        have = float(self.problem.capacity[reach].sum())
        need = float((1.0 / np.maximum(a.max(axis=1, initial=0.0), 1e-300)).sum())
        end = float(self.curves.s_end[among].min(initial=np.inf))
        return min(have / need if need > 0 else np.inf, end)

    @staticmethod
    def unit_of(bound: float) -> float:
        """The master's unit of t: the level bound when finite and positive, else 1."""
        return bound if np.isfinite(bound) and bound > 0 else 1.0

    def solution(self, out: Outcome, objective: float, method: str) -> Solution:
        """A Solution of the run: its plan, the objective given, its bounds and gaps."""
        a = self.problem.a
        served = np.asarray(out.x.multiply(a).sum(axis=1)).ravel()
        usage = np.asarray(out.x.sum(axis=0)).ravel() + out.idle
        total = float(self.problem.cost @ usage)
        return Solution(
            x=out.x,
            status="optimal",
            objective=objective,
            cost_per_hour=total,
            served=served,
            duals=np.maximum(out.duals, 0.0),
            usage=usage,
            idle=out.idle,
            method=method,
            keys=self.keys,
            gap=max(out.serve_gap, out.cost_gap),
            lower_bound=out.cost_bound,
            objective_bound=out.measure_bound,
            iterations=out.rounds,
            seconds=time.perf_counter() - self.started,
            serve_gap=out.serve_gap if np.isfinite(out.measure_bound) else np.nan,
            cost_gap=out.cost_gap if np.isfinite(out.cost_bound) else np.nan,
        )


def _dot(a: F, b: F) -> float:
    """Σ a·b over workloads, without BLAS: its threads, woken for long vectors, contend with
    the master's on a busy machine and cost more than the sum."""
    return float(np.multiply(a, b).sum())


def _empty() -> tuple[Ix, Ix, F]:
    return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)


def solve_max_served(problem: PlacementProblem, **options: float) -> Solution:
    """Serve the most weighted demand (Σ weight·min(served, 1)), then the least cost serving it."""
    eng = Engine(problem, **options)  # type: ignore[arg-type]
    block, start, unit = _max_served(eng)
    centre = _sampled(problem, _max_served, options, extensive=True)
    out = eng.run(block, start, m_unit=unit, centre=centre)
    served = np.asarray(out.x.multiply(problem.a).sum(axis=1)).ravel()
    return eng.solution(out, _dot(problem.weight, np.minimum(served, 1.0)), "decomposition")


def solve_max_min(problem: PlacementProblem, **options: float) -> Solution:
    """Raise the smallest served fraction as far as it goes, then the least cost holding it."""
    eng = Engine(problem, **options)  # type: ignore[arg-type]
    block, start, unit = _max_min(eng)
    out = eng.run(
        block, start, m_unit=unit, centre=_sampled(problem, _max_min, options, extensive=False)
    )
    served = np.asarray(out.x.multiply(problem.a).sum(axis=1)).ravel()
    return eng.solution(out, float(served.min()) if len(served) else 0.0, "decomposition")


def _max_served(eng: Engine) -> tuple[Block, list[Column], float]:
    """max_served's block, start (the plan serving nothing) and unit (the weight it can reach)."""
    n_w = eng.curves.n_w
    weight = eng.problem.weight.astype(float)
    reach = float(weight[eng.curves.s_end > 0].sum())
    block = Each(eng.curves, weight, np.zeros(n_w), np.ones(n_w))
    return block, [eng.zero()], reach if reach > 0 else 1.0


def _max_min(eng: Engine) -> tuple[Block, list[Column], float]:
    """max_min_served's block (t up to the level the capacity allows), start and unit."""
    n_w = eng.curves.n_w
    t_max = eng.level_bound(np.arange(n_w))
    return (
        Common(eng.curves, np.arange(n_w), np.zeros(n_w), t_max),
        [eng.zero()],
        eng.unit_of(t_max),
    )


def _row_scale(problem: PlacementProblem, coupling: CouplingRows) -> F:
    """Each coupling row's unit: `lp.violation_scale`, but a share row (limit 0) in its smallest
    term, one pool's capacity times its coefficient. The served level moves with a share row
    as fast as its cheapest pool's term: measured in a typical pool's term (by spend, prices
    apart by 1e6 make it the dearest pool's), the row's room for round-off would let the
    level pass the exact LP's optimum by more than the gap."""
    scale = violation_scale(problem, coupling)
    held = np.where(np.isfinite(problem.capacity), np.maximum(problem.capacity, 1.0), 1.0)
    terms = np.abs(coupling.G) * held[None, :]
    smallest = np.where(terms > 0, terms, np.inf).min(axis=1, initial=np.inf)
    share = (coupling.b == 0) & np.isfinite(smallest)
    scale[share] = np.minimum(scale[share], np.maximum(smallest[share], 1e-9))
    return scale


def _sampled(
    problem: PlacementProblem,
    setup: Callable[[Engine], tuple[Block, list[Column], float]],
    options: dict[str, float],
    *,
    extensive: bool,
) -> F | None:
    """Stage-1 prices from the same objective on a random sample of the workload classes, their
    limits scaled to the sample's share of the weight: a start near the optimum for a large
    problem, since the sample's prices are the whole's to within the sampling error. A limit's
    price per unit carries over for a summed objective (max_served) and scales with the share
    for a level (max_min_served). None below SAMPLE_FROM classes."""
    n_w = problem.shape[0]
    if n_w < SAMPLE_FROM:
        return None
    keep = np.zeros(n_w, dtype=bool)
    keep[np.random.default_rng(0).choice(n_w, SAMPLE, replace=False)] = True
    share = float(problem.weight[keep].sum() / problem.weight.sum())
    sub = problem.subset(keep)
    sub = replace(
        sub,
        capacity=sub.capacity * share,
        power_cap_mw=None if sub.power_cap_mw is None else sub.power_cap_mw * share,
        site_cap_mw=sub.site_cap_mw * share,
    )
    eng = Engine(sub, **{**options, "gap": SAMPLE_GAP})  # type: ignore[arg-type]
    block, start, unit = setup(eng)
    out = eng.run(block, start, m_unit=unit, cost=False, plan=False)
    return out.prices if extensive else out.prices * share
