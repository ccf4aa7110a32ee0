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
from dataclasses import dataclass
from typing import Protocol

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from polyfleet.errors import SolverError
from polyfleet.plan.curves import Curves, ServiceCurves
from polyfleet.plan.lp import INF, LEX_TOL, check_problem, checked, new_highs, violation_scale
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.solution import Solution

__all__ = ["Engine", "Outcome", "solve_max_min", "solve_max_served"]

F = NDArray[np.float64]
Ix = NDArray[np.intp]
#: Coefficients and costs beyond these are numbers HiGHS cannot take (as in decompose).
MAX_COEF = 1e13
#: Primal and dual feasibility tolerances of the master LP. HiGHS's defaults (1e-7) would stall
#: the gap there, and let a plan overrun a row by enough for a bottleneck to rise into it.
MASTER_TOL = (1e-9, 1e-10)
#: A master solution HiGHS calls optimal is taken when its residual infeasibilities are within
#: these (a warm-started run now and then reports an optimum that is not one).
PRIMAL_OK, DUAL_OK = 1e-9, 1e-9
#: Room each coupling row gets for round-off, relative to its size (rows are scaled to ~1): a
#: plan one master returned, within HiGHS's tolerance, stays feasible in the next. Bounds of
#: this relaxation bound the exact LP as well.
ROUND_OFF = 1e-9
#: A carried plan may overrun a row by at most this (relative), else it is no plan of the LP.
CARRY_TOL = 1e-5
#: A plan's weight in the master below this is round-off: it adds nothing to the plan.
LAMBDA_TOL = 1e-13


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
        self.floor = np.minimum(floor, curves.s_end)
        self.floor[among] = 0.0
        self.t_max = t_max

    def best(self, cv: Curves, theta: float) -> tuple[F, float, bool]:
        t, ray = cv.best_common(theta, self.among, self.t_max)
        s = np.zeros_like(self.floor) if ray else self.floor.copy()
        s[self.among] = t
        return s, t, ray

    def measure_of(self, served: F) -> float:
        return float(served[self.among].min(initial=np.inf))


@dataclass
class Column:
    """One proposal of a block: a plan (or a ray's direction) by its measure, usage and cost, and
    how to rebuild its assignment — the prices it was priced at, or the assignment itself."""

    measure: float
    usage: F
    cost: float
    ray: bool = False
    prices: tuple[F, float] | None = None  # (r, θ)
    plan: tuple[Ix, Ix, F] | None = None  # (rows, pools, accelerators)
    idle: F | None = None  # a known plan's idle accelerators per pool (in `usage` too)
    size: float = 1.0  # a ray enters the master as this many units of its direction


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


class _Master:
    """The restricted master over the (scaled) coupling rows, the convexity row and, in stage 2,
    the held measure. Columns: idle accelerators per pool, then one per proposal."""

    def __init__(self, Gs: F, bs: F, m_unit: float) -> None:
        self.Gs, self.m_unit = Gs, m_unit
        self.b_fin = np.where(np.isfinite(bs), bs, 0.0)  # what the Lagrangian bound charges
        self.n_k, self.n_p = Gs.shape
        self.columns: list[Column] = []
        self.stage = "serve"
        self.c_unit = 1.0
        self.pool_cost = np.zeros(self.n_p)
        self.hold_row: int | None = None
        self.hold = 0.0
        self._values = np.zeros(self.n_p)
        self._coef: list[F] = []  # each proposal's coupling coefficients, to check solutions
        h = self.h = _highs(MASTER_TOL)
        none_i, none_v = np.array([], dtype=np.int32), np.array([])
        self.open = ~np.isfinite(bs)
        self.b_run = np.where(self.open, np.inf, bs)
        for k in range(self.n_k):
            upper = INF if self.open[k] else float(bs[k])
            checked(h.addRow(-INF, upper, 0, none_i, none_v), "a coupling row")
        checked(h.addRow(1.0, 1.0, 0, none_i, none_v), "the convexity row")
        for p in range(self.n_p):
            nz = np.flatnonzero(Gs[:, p])
            checked(h.addCol(0.0, 0.0, INF, len(nz), nz.astype(np.int32), Gs[nz, p]), "idle")

    def _objective(self, col: Column) -> float:
        if self.stage == "serve":
            return -col.measure * col.size / self.m_unit
        return col.cost * col.size / self.c_unit

    def add(self, col: Column) -> None:
        coef = (self.Gs @ col.usage) * col.size
        if not np.isfinite(coef).all() or np.abs(coef).max(initial=0.0) > MAX_COEF:
            raise SolverError(
                "decomposition: a proposal uses more of a limit than the solver can represent "
                "(check the demand, throughput and capacity figures)",
                status="not representable",
                seconds=0.0,
            )
        idx = list(range(self.n_k))
        val = list(coef)
        if not col.ray:
            idx.append(self.n_k)
            val.append(1.0)
        if self.hold_row is not None:
            idx.append(self.hold_row)
            val.append(col.measure * col.size / self.m_unit)
        nz = [(i, v) for i, v in zip(idx, val, strict=True) if v != 0.0]
        self._coef.append(coef)
        checked(
            self.h.addCol(
                self._objective(col),
                0.0,
                INF,
                len(nz),
                np.array([i for i, _ in nz], dtype=np.int32),
                np.array([v for _, v in nz]),
            ),
            "a proposal",
        )
        self.columns.append(col)

    def plan_cost(self, pool_cost: F) -> float:
        """USD per hour of the master's current plan."""
        idle, lam = self.values()
        size = np.array([c.size for c in self.columns])
        return float(pool_cost @ idle + np.dot([c.cost for c in self.columns], lam * size))

    def to_cost(self, pool_cost: F, hold: float | None, unit: float) -> None:
        """Stage 2: costs in units of `unit` USD per hour, the measure held at `hold`."""
        size = np.array([c.size for c in self.columns])
        self.c_unit = unit if unit > 0 else 1.0
        self.pool_cost = pool_cost / self.c_unit
        self.stage = "cost"
        if hold is not None:
            m = np.array([c.measure for c in self.columns]) * size / self.m_unit
            nz = np.flatnonzero(m)
            cols = (self.n_p + nz).astype(np.int32)
            checked(self.h.addRow(hold, INF, len(nz), cols, m[nz]), "the held measure")
            self.hold_row, self.hold = self.n_k + 1, hold
        n_col = self.n_p + len(self.columns)
        costs = np.concatenate([self.pool_cost, [self._objective(c) for c in self.columns]])
        checked(self.h.changeColsCost(n_col, np.arange(n_col, dtype=np.int32), costs), "costs")

    def _run(self) -> bool:
        """Run HiGHS; whether it found an optimum within its tolerances (a warm-started run
        now and then reports one that is not: then the caller starts afresh)."""
        self.h.run()
        info = self.h.getInfo()
        if not (
            self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            and info.max_primal_infeasibility <= PRIMAL_OK
            and info.max_dual_infeasibility <= DUAL_OK
        ):
            return False
        # HiGHS's own residuals, after a warm start, have been seen to miss a column value off
        # by 1e-6: the rows are checked here, from the columns as they were added
        col = np.asarray(self.h.getSolution().col_value)
        idle, lam = col[: self.n_p], col[self.n_p :]
        act = self.Gs @ idle + (np.column_stack(self._coef) @ lam if self._coef else 0.0)
        over = act - self.b_run
        points = np.array([not c.ray for c in self.columns], dtype=bool)
        return bool(
            (over[~self.open] <= PRIMAL_OK * np.maximum(np.abs(self.b_run[~self.open]), 1.0)).all()
            and abs(lam[points].sum() - 1.0) <= PRIMAL_OK
            and col.min(initial=0.0) >= -PRIMAL_OK
        )

    def solve(self, started: float) -> tuple[float, F, float, float]:
        """Objective (master units), prices π ≥ 0, the convexity and the held row's duals."""
        ok = self._run()
        # else once more from scratch, then in a fresh instance of the same model, then in one
        # with HiGHS's default tolerances (the next round goes back to the tight ones)
        if not ok:
            self.h.clearSolver()
            ok = self._run()
        if not ok:
            self.h = self._fresh(MASTER_TOL)
            ok = self._run()
        if not ok:
            tight, self.h = self.h, self._fresh((1e-7, 1e-7))
            self.h.run()
            ok = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            if ok:
                result = self._read()
                self.h = tight
                return result
        if not ok:
            status = self.h.getModelStatus()
            unbounded = status == highspy.HighsModelStatus.kUnbounded
            raise SolverError(
                "the served amount has no bound: no limit holds it back"
                if unbounded
                else "decomposition master did not solve",
                status=self.h.modelStatusToString(status),
                seconds=time.perf_counter() - started,
            )
        return self._read()

    def _read(self) -> tuple[float, F, float, float]:
        """The solution just found: objective, π, σ, η (and the column values, kept)."""
        y = np.asarray(self.h.getSolution().row_dual)
        self._values = np.asarray(self.h.getSolution().col_value)
        pi = np.maximum(-y[: self.n_k], 0.0)
        pi[self.open] = 0.0
        eta = max(float(y[self.hold_row]), 0.0) if self.hold_row is not None else 0.0
        return self.h.getInfo().objective_function_value, pi, float(y[self.n_k]), eta

    def _fresh(self, tol: tuple[float, float]) -> highspy.Highs:
        """A new HiGHS instance holding the master as it stands (no basis, no history)."""
        fresh = _highs(tol)
        checked(fresh.passModel(self.h.getLp()), "the master")
        return fresh

    def values(self) -> tuple[F, F]:
        """(idle per pool, λ per proposal) of the last solve."""
        col = self._values
        return np.maximum(col[: self.n_p], 0.0), np.maximum(col[self.n_p :], 0.0)

    def reduced(self, col: Column, pi: F, sigma: float, eta: float) -> float:
        """The master's reduced cost of a new column at its duals (negative: it improves)."""
        d = self._objective(col) + float(pi @ (self.Gs @ col.usage)) * col.size
        if not col.ray:
            d -= sigma
        if self.hold_row is not None:
            d -= eta * col.measure * col.size / self.m_unit
        return d


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
        smoothing: float = 0.9,
        time_limit: float = 600.0,
    ) -> None:
        check_problem(problem)
        self.started = time.perf_counter()
        self.problem = problem
        self.curves = ServiceCurves(problem)
        coupling = problem.coupling()
        self.keys = coupling.keys
        self.scale = violation_scale(problem, coupling)
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

    # ---- columns ---------------------------------------------------------------------------
    def price(self, block: Block, r: F, theta: float) -> tuple[Column, float]:
        """The block's best proposal at prices r and value θ per unit measured, and P(r, θ)."""
        cv = self.curves.at(r)
        s, measure, ray = block.best(cv, theta)
        usage = cv.usage(s)
        col = Column(measure, usage, float(self.problem.cost @ usage), ray, prices=(r, theta))
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
    ) -> Outcome:
        """Stage 1 (most measured) and/or stage 2 (least cost, stage 1's measure held; without
        stage 1 nothing is held), from the `start` columns (at least one plan in the block);
        `gap` overrides the engine's for this run; stage 1 also ends once its bound proves the
        measure is at most `enough` (all a yes/no question needs)."""
        gap = self.gap if gap is None else gap
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
        master = _Master(self.Gs, np.where(np.isfinite(self.bs), b_run, np.inf), m_unit)
        for col in start:
            if col.ray:
                col.size = m_unit
            master.add(col)
        measure, measure_bound, serve_gap = np.nan, np.nan, 0.0
        cost_bound, cost_gap = np.nan, 0.0
        if serve:
            bound = _Bound(-np.inf)
            floor = None if enough is None else -enough / m_unit
            v = self._generate(master, block, bound, gap, floor)
            measure = -v * m_unit
            measure_bound = -bound.value * m_unit
            serve_gap = max(0.0, (v - bound.value) / max(abs(v), 1e-9))
        duals = np.zeros(len(self.keys))
        if cost:
            hold = -v * (1.0 - LEX_TOL) if serve else None
            unit = master.plan_cost(self.problem.cost) if serve else start[0].cost
            master.to_cost(self.problem.cost, hold, unit)
            bound = _Bound(-np.inf)
            v = self._generate(master, block, bound, gap, None)
            cost_bound = bound.value * master.c_unit
            cost_gap = max(0.0, (v - bound.value) / max(abs(v), 1e-9))
            _, pi, _, _ = master.solve(self.started)
            duals = pi * master.c_unit / self.scale
        idle, lam = master.values()
        x = self._plan(block, master, lam)
        for weight, col in zip(lam, master.columns, strict=True):
            if col.idle is not None:
                idle = idle + weight * col.idle
        return Outcome(
            x, idle, measure, measure_bound, serve_gap, cost_bound, cost_gap, duals, self.rounds
        )

    def _plan(self, block: Block, master: _Master, lam: F) -> sp.csr_matrix:
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
        self, master: _Master, block: Block, bound: _Bound, gap: float, floor: float | None
    ) -> float:
        """Column generation in the master's stage until the bound meets its objective (or, with
        `floor`, until the bound reaches it)."""
        cost_stage = master.stage == "cost"
        base_r = master.pool_cost if cost_stage else np.zeros(master.n_p)
        for _ in range(self.max_rounds):
            v, pi, sigma, eta = master.solve(self.started)
            self.rounds += 1
            if v - bound.value <= gap * max(abs(v), 1e-9):
                return v
            if floor is not None and bound.value >= floor:
                return v
            points = [(pi, eta)]
            if self.smoothing > 0 and bound.pi is not None:
                a = self.smoothing
                centre = (a * bound.pi + (1 - a) * pi, a * bound.eta + (1 - a) * eta)
                points.insert(0, centre)
            added = False
            for p_pi, p_eta in points:
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
                if master.reduced(col, pi, sigma, eta) < -1e-12 * max(abs(v), 1.0):
                    master.add(col)
                    added = True
                    break
            if not added:  # no column improves at the master's prices: it is optimal
                bound.value = max(bound.value, v)
                return v
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
        )


def _highs(tol: tuple[float, float]) -> highspy.Highs:
    """A HiGHS instance for a master: dual simplex at the given (primal, dual) tolerances, and
    no presolve, which judges a start plan's fixed column more strictly than the tolerance."""
    h = new_highs()
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("presolve", "off")
    h.setOptionValue("primal_feasibility_tolerance", tol[0])
    h.setOptionValue("dual_feasibility_tolerance", tol[1])
    return h


def _dot(a: F, b: F) -> float:
    """Σ a·b over workloads, without BLAS: its threads, woken for long vectors, contend with
    the master's on a busy machine and cost more than the sum."""
    return float(np.multiply(a, b).sum())


def _empty() -> tuple[Ix, Ix, F]:
    return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0)


def solve_max_served(problem: PlacementProblem, **options: float) -> Solution:
    """Serve the most weighted demand (Σ weight·min(served, 1)), then the least cost serving it."""
    eng = Engine(problem, **options)  # type: ignore[arg-type]
    n_w = problem.shape[0]
    block = Each(eng.curves, problem.weight.astype(float), np.zeros(n_w), np.ones(n_w))
    reach = problem.weight[eng.curves.s_end > 0].sum()
    out = eng.run(block, [eng.zero()], m_unit=float(reach) if reach > 0 else 1.0)
    served = np.asarray(out.x.multiply(problem.a).sum(axis=1)).ravel()
    return eng.solution(out, _dot(problem.weight, np.minimum(served, 1.0)), "decomposition")


def solve_max_min(problem: PlacementProblem, **options: float) -> Solution:
    """Raise the smallest served fraction as far as it goes, then the least cost holding it."""
    eng = Engine(problem, **options)  # type: ignore[arg-type]
    n_w = problem.shape[0]
    among = np.arange(n_w)
    t_max = eng.level_bound(among)
    block = Common(eng.curves, among, np.zeros(n_w), t_max)
    out = eng.run(block, [eng.zero()], m_unit=eng.unit_of(t_max))
    served = np.asarray(out.x.multiply(problem.a).sum(axis=1)).ravel()
    return eng.solution(out, float(served.min()) if n_w else 0.0, "decomposition")
