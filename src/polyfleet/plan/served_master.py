"""The restricted master LP of the served decomposition (`polyfleet.plan.served`).

Rows: the coupling rows G·usage ≤ b (scaled by their size, each given 1e-9 of it for
round-off), the convexity row Σ λ = 1 over plans (rays stay out of it) and, in the cost
stage, the held measure Σ λ·m ≥ m₁. Columns: idle accelerators per pool, then one per
proposal. Objective: −measure (serve stage) or cost (cost stage), in the master's units.

HiGHS solves it at tight tolerances (the gaps it proves are below 1e-6, and water-filling
reads levels to 1e-6), and each solution is checked against the columns as they were added:
a warm-started run can report an optimum whose column values are off. Such a run is repeated
from scratch, then in a fresh instance, then at HiGHS's default tolerances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray

from polyfleet.errors import SolverError
from polyfleet.plan.lp import INF, checked, new_highs

__all__ = ["Column", "Master"]

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
    mix: Any = None  # a priced column's capped rows, kept (`curves.Mix`) while it is recent
    size: float = 1.0  # a ray enters the master as this many units of its direction


class Master:
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
        self.prices = np.zeros(self.n_k)  # of the last solve
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
        self.prices = pi
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


def _highs(tol: tuple[float, float]) -> highspy.Highs:
    """A HiGHS instance for a master: dual simplex at the given (primal, dual) tolerances, and
    no presolve, which judges a start plan's fixed column more strictly than the tolerance."""
    h = new_highs()
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("presolve", "off")
    h.setOptionValue("primal_feasibility_tolerance", tol[0])
    h.setOptionValue("dual_feasibility_tolerance", tol[1])
    return h
