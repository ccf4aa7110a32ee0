"""Price-directed decomposition of the min-cost placement LP (Dantzig–Wolfe over coupling rows).

The LP has one demand row per workload but only a few rows that couple workloads (one per pool,
the power cap, the vendor shares). With prices π ≥ 0 on the coupling rows G·usage ≤ b, the rest
splits into one tiny problem per workload, solved for all workloads at once with numpy:

    pricing(π):  for each w, min_x Σ_p r[p]·x[p]  s.t.  Σ_p a[w,p]·x[p] ≥ 1,  Σ_p x[p] ≤ M[w]
                 with r = c + πᵀG  — the cheapest pool by r[p]/a[w,p], or the best mix of two
                 pools when that pool alone would need more than M[w] accelerators.

Each pricing gives a whole-fleet proposal (cost C_j, coupling use R_j = G·usage_j). The master LP
chooses a convex combination of proposals, min Σ λ_j C_j s.t. Σ λ_j R_j − s ≤ b, Σ λ_j = 1, with
one slack s_k ≥ 0 per coupling row (measured relative to the row's size, `lp.violation_scale`),
and its row duals are the next prices. Bounds:

    upper  UB = master objective (a feasible plan once the slack is zero)
    lower  LB(π) = Σ_w pricing_w(π) − πᵀb   (Lagrangian dual; valid for every π ≥ 0)

Feasibility is settled exactly, in phases over the same master:
    0  cost + BIG·Σs. The usual case ends here with s = 0: then UB is the cost of a plan that
       meets every row, and LB proves it optimal. But the penalty caps every price at BIG, and
       with badly scaled prices (a $0.01 pool beside a $1.80 one) a share cap's true price can
       exceed it: s > 0 at the optimum of this phase says nothing about feasibility.
    1  Σs alone (least violation), priced by r = πᵀG with π ≤ 1. Its optimum, proved by its own
       Lagrangian bound, is the least violation: above FEAS_TOL the limits cannot all hold
       (status "infeasible", `violation` = that least violation); otherwise the master now
       holds a plan that meets them, and
    2  cost again with s held at what phase 1 left (zero to round-off), so no price is capped.

Accelerators held idle (a column per pool in the master) let a vendor-share floor be met when no
workload wants more of that vendor; at optimal prices no pool's price c + πᵀG is negative. A
phase stops when (UB − LB) / UB ≤ gap: optimal to that gap, proved by the primal–dual pair.
Prices are smoothed towards the best lower bound's (Wentges), which cuts the number of rounds
several-fold on large instances. Master costs are kept near 1 (re-scaled when a feasible plan
costs far from 1 unit), since HiGHS's tolerances are absolute; numbers that would still fall
outside what HiGHS takes are a SolverError, never a silently refused column.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from polyfleet.errors import SolverError
from polyfleet.plan.keys import CouplingKey
from polyfleet.plan.lp import INF, check_problem, checked, new_highs, violation_scale
from polyfleet.plan.pricer import F, Pricer, Proposal
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.solution import Solution


@dataclass
class WarmStart:
    """What a solve leaves for the next one on a similar problem (same workloads and pools, other
    costs or limits): its proposals, still valid columns whatever the costs, and its prices."""

    proposals: list[Proposal]
    duals: F  # per coupling row, USD per unit (as Solution.duals)
    keys: tuple[CouplingKey, ...]  # the coupling rows the duals belong to
    in_use: int = 0  # the first `in_use` proposals make up the solve's plan (weight > 0)

    def basis(self) -> WarmStart:
        """Only the proposals the plan is made of: a start a fraction of the size (each proposal
        holds a pool per workload), for keeping many or sending them to other processes."""
        return WarmStart(self.proposals[: max(self.in_use, 1)], self.duals, self.keys, self.in_use)

    def prices_for(self, keys: tuple[CouplingKey, ...]) -> F:
        """The duals on another problem's rows, matched by key; 0 on a row this solve lacked."""
        prev = dict(zip(self.keys, self.duals, strict=True))
        return np.array([prev.get(key, 0.0) for key in keys], dtype=float)


MAX_WARM_COLUMNS = 400
#: Penalty per unit of scaled violation in the first (composite) phase, in master cost units.
BIG = 1e3
#: A least violation (Σ over rows of violation / row size) above this means infeasible.
FEAS_TOL = 1e-9
#: HiGHS refuses matrix entries above 1e15 and treats costs above 1e20 as infinite: master
#: coefficients and costs beyond these are numbers the decomposition cannot represent.
MAX_COEF = 1e13
MAX_COST = 1e18
#: A feasible master objective outside this range re-scales the master's costs so that it is 1.
UNIT_RANGE = (1e-2, 1e4)


class _MasterError(SolverError):
    """HiGHS could not solve the master (in the penalty phase: badly scaled costs)."""


class _Master:
    """The restricted master LP over coupling rows (scaled: Gs·usage ≤ bs) and Σλ = 1.

    Columns: one artificial slack per row (cost BIG, or 1 in phase 1), idle accelerators per pool,
    and one per proposal. Costs are in units of `unit` USD per hour (phase 1: none but the
    slack's), re-scaled whenever a feasible objective strays far from 1 (`rescale`)."""

    def __init__(
        self, Gs: F, bs: F, cost: F, unit: float, keys: tuple[CouplingKey, ...], scale: F
    ) -> None:
        self.Gs, self.cost, self.unit, self.keys, self.scale = Gs, cost, unit, keys, scale
        self.n_k, self.n_p = Gs.shape
        self.proposals: list[Proposal] = []
        self.col_cost: list[float] = []  # per proposal, in master units
        self.phase = 0  # 0: costs + BIG·slack; 1: least violation; 2: costs, slack held
        self.prices = np.zeros(self.n_k)
        h = self.h = new_highs()
        h.setOptionValue("solver", "simplex")
        n_k = self.n_k
        empty_i, empty_v = np.array([], dtype=np.int32), np.array([])
        self.open = ~np.isfinite(bs)
        upper = np.where(self.open, INF, bs)
        for k in range(n_k):
            checked(h.addRow(-INF, float(upper[k]), 0, empty_i, empty_v), "a coupling row")
        checked(h.addRow(1.0, 1.0, 0, empty_i, empty_v), "the convexity row")
        for k in range(n_k):
            checked(
                h.addCol(BIG, 0.0, INF, 1, np.array([k], dtype=np.int32), np.array([-1.0])),
                "a slack",
            )
        for p in range(self.n_p):  # idle accelerators: what a share floor may make worth holding
            nz = np.flatnonzero(Gs[:, p])
            self._check(float(cost[p]), Gs[:, p])
            checked(
                h.addCol(float(cost[p]), 0.0, INF, len(nz), nz.astype(np.int32), Gs[nz, p]),
                "an idle column",
            )
        self.n_fixed = n_k + self.n_p
        self.conv_idx = np.arange(n_k + 1, dtype=np.int32)

    def _check(self, cost: float, coef: F) -> None:
        """A SolverError for a column HiGHS would refuse or misread, naming what overflowed."""
        if not np.isfinite(cost) or abs(cost) > MAX_COST:
            raise SolverError(
                f"decomposition: a candidate plan costs {cost * self.unit:.3g} USD/h, "
                "beyond what the solver can represent next to the cheapest plan "
                f"({self.unit:.3g} USD/h): prices or demands span too many orders of magnitude",
                status="not representable",
                seconds=0.0,
            )
        bad = ~np.isfinite(coef) | (np.abs(coef) > MAX_COEF)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise SolverError(
                f"decomposition: a candidate plan uses {coef[k] * self.scale[k]:.3g} of limit "
                f"{self.keys[k]}, beyond what the solver can represent (check the demand, "
                "throughput and capacity figures)",
                status="not representable",
                seconds=0.0,
            )

    def add(self, prop: Proposal) -> None:
        coef = self.Gs @ prop.usage
        self._check(prop.cost, coef)
        cost = 0.0 if self.phase == 1 else prop.cost
        checked(
            self.h.addCol(cost, 0.0, INF, self.n_k + 1, self.conv_idx, np.append(coef, 1.0)),
            "a proposal",
        )
        self.proposals.append(prop)
        self.col_cost.append(prop.cost)

    def _set_costs(self) -> None:
        n_k = self.n_k
        n_col = self.n_fixed + len(self.proposals)
        if self.phase == 1:
            costs = np.zeros(n_col)
            costs[:n_k] = 1.0
        else:
            costs = np.concatenate([np.full(n_k, BIG), self.cost, self.col_cost])
        checked(self.h.changeColsCost(n_col, np.arange(n_col, dtype=np.int32), costs), "the costs")

    def to_phase(self, phase: int) -> None:
        """Phase 1 costs only the slack; phase 2 restores costs and holds the slack at what
        phase 1 left (zero up to round-off), so that no dual is capped by the penalty."""
        if phase == 2:
            slack = np.maximum(self.values()[0], 0.0)
            idx = np.arange(self.n_k, dtype=np.int32)
            checked(self.h.changeColsBounds(self.n_k, idx, np.zeros(self.n_k), slack), "the slack")
        self.phase = phase
        self._set_costs()

    def rescale(self, factor: float) -> None:
        """Measure costs in `factor` times the current unit (BIG stays BIG in the new unit)."""
        self.unit *= factor
        self.cost = self.cost / factor
        self.col_cost = [c / factor for c in self.col_cost]
        self._set_costs()

    def solve(self, started: float) -> tuple[float, F, float]:
        """Objective, prices π ≥ 0 on the coupling rows, and the convexity row's dual."""
        self.h.run()
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            self.h.clearSolver()  # once more from scratch, without the previous basis
            self.h.run()
            status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:  # the slack makes every master feasible
            raise _MasterError(
                "decomposition master did not solve",
                status=self.h.modelStatusToString(status),
                seconds=time.perf_counter() - started,
            )
        y = np.asarray(self.h.getSolution().row_dual)
        ub = self.h.getInfo().objective_function_value
        self.prices = np.maximum(-y[: self.n_k], 0.0)
        self.prices[self.open] = 0.0  # a row with no limit binds nothing: its dual is round-off
        return ub, self.prices, float(y[self.n_k])

    def values(self) -> tuple[F, F, F]:
        """(slack per row, idle per pool, λ per proposal)."""
        col = np.asarray(self.h.getSolution().col_value)
        return col[: self.n_k], col[self.n_k : self.n_fixed], col[self.n_fixed :]

    def feasible_cost(self) -> float | None:
        """The master plan's cost in master units when it meets every row, else None."""
        slack, idle, lam = self.values()
        if slack.sum() > FEAS_TOL:
            return None
        return float(self.cost @ idle + np.dot(self.col_cost, lam))


@dataclass
class _Bound:
    """The best Lagrangian lower bound of one phase's objective and the prices that gave it."""

    value: float
    pi: F


def _rescaled(master: _Master, pricer: Pricer, bound: _Bound) -> bool:
    """Re-scale the master's costs when its plan meets every row and costs far from 1 unit:
    HiGHS's tolerances are absolute, and costs that matter should be near 1."""
    cost = master.feasible_cost()
    if cost is None or cost <= 0 or UNIT_RANGE[0] <= cost <= UNIT_RANGE[1]:
        return False
    master.rescale(cost)
    pricer.cost = master.cost
    bound.value /= cost
    bound.pi = bound.pi / cost
    return True


def _generate(
    master: _Master,
    pricer: Pricer,
    bs: F,
    bound: _Bound,
    *,
    gap: float,
    max_rounds: int,
    smoothing: float,
    started: float,
    time_limit: float,
    verdict: bool = False,
) -> tuple[float, int, bool]:
    """Column generation in the master's current phase until the bound meets the objective
    (with `verdict`, phase 1 also stops once the bound proves some violation unavoidable).

    Pricing vector r = c + πᵀGs (phase 1: πᵀGs). Lower bound at prices π ≥ 0 with r ≥ 0:
    Σ_w pricing_w(r) − πᵀbs, the Lagrangian dual of the phase's LP (rows with no limit have π = 0).
    Returns (objective, rounds, converged)."""
    b_fin = np.where(np.isfinite(bs), bs, 0.0)
    Gs = master.Gs
    ub = np.inf
    for rounds in range(1, max_rounds + 1):
        ub, pi, sigma = master.solve(started)
        if master.phase != 1 and _rescaled(master, pricer, bound):
            continue
        if (ub - bound.value) <= gap * max(abs(ub), 1e-9) or (master.phase == 1 and ub <= FEAS_TOL):
            return ub, rounds, True
        if verdict and master.phase == 1 and bound.value > FEAS_TOL:
            return ub, rounds, True
        if master.phase == 1:
            cost, floor = np.zeros_like(pricer.cost), 0.0
        else:
            cost, floor = pricer.cost, 1e-12 * pricer.cost.max()
        added = False
        centre = smoothing * bound.pi + (1 - smoothing) * pi
        for point in (centre, pi) if smoothing > 0 else (pi,):
            r = cost + point @ Gs
            # a negative price makes holding idle accelerators pay: the Lagrangian is unbounded
            # there (no bound from this point), and pricing uses the positive part
            bounded = bool(r.min() >= 0)
            prop, val = pricer.price(np.maximum(r, floor))
            lb = val - float(point @ b_fin) if bounded else -np.inf
            if lb > bound.value:
                bound.value, bound.pi = lb, point
            own = prop.cost if master.phase != 1 else 0.0
            reduced = own + float(pi @ (Gs @ prop.usage)) - sigma
            if reduced < -1e-12 * max(abs(ub), 1.0):
                master.add(prop)
                added = True
                break
        if not added:
            bound.value = max(bound.value, ub)  # no improving column at the master's prices
            return ub, rounds, True
        if time.perf_counter() - started > time_limit:
            raise SolverError(
                "decomposition hit its time limit",
                status="time limit",
                seconds=time.perf_counter() - started,
            )
    return ub, max_rounds, False


def solve_decomposed(
    problem: PlacementProblem,
    *,
    gap: float = 1e-6,
    max_rounds: int = 2000,
    smoothing: float = 0.9,
    time_limit: float = 600.0,
    warm: WarmStart | None = None,
    feasibility_first: bool = False,
    least_violation: bool = True,
) -> Solution:
    """Min-cost placement by decomposition; every workload must have an eligible pool within cap
    (`diagnose.unservable` finds those that do not).

    Phases: (0) cost plus a penalty BIG on violation — done in one pass when the penalty
    outweighs every useful price, the usual case. When violation remains (or HiGHS cannot solve
    that master), (1) least violation alone: it either proves that the limits cannot all hold —
    its optimum, matched by the Lagrangian lower bound, is above FEAS_TOL: status "infeasible",
    and `violation` is that least violation — or it reaches a plan that meets them, from which
    (2) minimises cost with the violation held at zero.

    With `warm` (from `Solution.warm_start` of a solve of the same workloads and pools), the
    master starts with that solve's proposals, re-costed, and pricing starts from its prices.

    For the many re-solves of a search: `feasibility_first` starts at phase 1 (no penalty phase
    spent on limits that may not hold: the same answer, sooner when they do not), and
    `least_violation=False` stops phase 1 once the limits are proved unmeetable — the status is
    certain, but `violations` are then one plan's, not the least.
    """
    started = time.perf_counter()
    check_problem(problem)
    n_w, n_p = problem.shape
    pricer = Pricer(problem)
    coupling = problem.coupling()
    G, b = coupling.G, coupling.b
    n_k = len(b)
    scale = violation_scale(problem, coupling)
    Gs, bs = G / scale[:, None], b / scale
    Gs[~np.isfinite(bs)] = 0.0  # a row with no limit (an infinite cap) constrains nothing

    # the master starts in units of the cheapest unconstrained fleet's cost, so its costs are ~1
    first, val0 = pricer.price(problem.cost.copy())
    top = float(problem.cost.max(initial=0.0))
    unit = first.cost if first.cost > 1e-9 * top else (1e-9 * top or 1.0)
    cost = problem.cost / unit
    pricer.cost = cost
    first.cost /= unit
    val0 /= unit

    master = _Master(Gs, bs, cost, unit, coupling.keys, scale)
    master.add(first)
    bound = _Bound(val0, np.zeros(n_k))  # the Lagrangian bound at π = 0
    if warm is not None and warm.proposals and warm.proposals[0].p1.shape[0] == n_w:
        for prop in warm.proposals[-MAX_WARM_COLUMNS:]:
            master.add(Proposal.recosted(prop, float(cost @ prop.usage)))
        # the previous prices, on the rows both problems have, as the first stability centre
        pi0 = warm.prices_for(coupling.keys) * scale / unit
        pi0[~np.isfinite(bs)] = 0.0
        r0 = cost + pi0 @ Gs
        if r0.min() >= 0:
            prop0, val = pricer.price(np.maximum(r0, 1e-12 * cost.max()))
            master.add(prop0)
            lb0 = val - float(pi0 @ np.where(np.isfinite(bs), bs, 0.0))
            if lb0 > bound.value:
                bound.value, bound.pi = lb0, pi0
    args = {
        "gap": gap,
        "max_rounds": max_rounds,
        "smoothing": smoothing,
        "started": started,
        "time_limit": time_limit,
    }
    ub, rounds, settled = np.inf, 0, False
    if not feasibility_first:
        try:
            ub, rounds, _ = _generate(master, pricer, bs, bound, **args)
            settled = master.values()[0].sum() <= FEAS_TOL
        except _MasterError:
            ub, rounds, settled = np.inf, max_rounds, False
    status = "optimal"
    if not settled:
        # the penalty may be too cheap for these prices: settle feasibility exactly
        master.to_phase(1)
        pricer.implied(False)
        least = _Bound(0.0, np.zeros(n_k))  # violation ≥ 0 at π = 0
        v_ub, v_rounds, done = _generate(
            master, pricer, bs, least, **args, verdict=not least_violation
        )
        rounds += v_rounds
        if not done:
            raise SolverError(
                "decomposition could not settle whether the limits can all hold",
                status="iteration limit",
                seconds=time.perf_counter() - started,
            )
        if v_ub > FEAS_TOL:
            status = "infeasible"
            gap_out = max(0.0, (v_ub - least.value) / max(v_ub, 1e-9))
        else:
            master.to_phase(2)
            pricer.implied(True)
            _rescaled(master, pricer, bound)
            ub, more, _ = _generate(master, pricer, bs, bound, **args)
            rounds += more
    feasible = status == "optimal"
    if feasible:
        gap_out = max(0.0, (ub - bound.value) / max(abs(ub), 1e-9))

    slack, idle, lam = master.values()
    proposals = master.proposals
    rows_all, cols_all, vals_all = [], [], []
    for lj, prop in zip(lam, proposals, strict=True):
        if lj <= 1e-13:
            continue
        r_, c_, v_ = pricer.x_of(prop)
        rows_all.append(r_)
        cols_all.append(c_)
        vals_all.append(lj * v_)
    if rows_all:
        x = sp.csr_matrix(
            (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
            shape=(n_w, n_p),
        )
    else:
        x = sp.csr_matrix((n_w, n_p))
    x.sum_duplicates()
    x.eliminate_zeros()
    usage = np.asarray(x.sum(axis=0)).ravel() + idle
    served = np.asarray(x.multiply(problem.a).sum(axis=1)).ravel()
    total = float(problem.cost @ usage)
    unit = master.unit
    duals = master.prices * unit / scale if feasible else np.zeros(n_k)
    keep = [proposals[j] for j in np.argsort(-lam, kind="stable")[:MAX_WARM_COLUMNS]]
    in_use = min(int((lam > 1e-13).sum()), len(keep))
    return Solution(
        warm_start=WarmStart(keep, duals, coupling.keys, in_use),
        x=x,
        status=status,
        objective=total,
        cost_per_hour=total,
        served=served,
        duals=duals,
        usage=usage,
        idle=idle,
        method="decomposition",
        keys=coupling.keys,
        gap=gap_out,
        lower_bound=bound.value * unit if feasible else float("nan"),
        iterations=rounds,
        violations=np.zeros(n_k) if feasible else np.maximum(slack, 0.0) * scale,
        seconds=time.perf_counter() - started,
    )
