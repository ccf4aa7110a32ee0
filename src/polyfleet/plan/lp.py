"""The placement LP in one piece, built with scipy.sparse in one pass and solved by HiGHS.

    variables  x[w,p] ≥ 0 for eligible cells; idle[p] ≥ 0 (held, unassigned: costs, draws power
               and counts toward shares — the LP's way to meet a share floor);
               f[w] ∈ [0,1] (max_served);  t ≥ 0 (max_min_served)
    demand     Σ_p a[w,p]·x[w,p] ≥ 1              (min_cost)
               Σ_p a[w,p]·x[w,p] − f[w] ≥ 0       (max_served)
               Σ_p a[w,p]·x[w,p] − t ≥ 0          (max_min_served)
    cap        Σ_p x[w,p] ≤ M[w]                  (workloads with max_accelerators)
    coupling   Σ_p G[k,p]·(Σ_w x[w,p] + idle[p]) ≤ b[k]   (capacity, power, vendor share)
    objective  min Σ c[p]·(x + idle);  max Σ weight[w]·f[w];  max t — the latter two then
               minimise cost with the served amount held (lexicographic).

Used for the max_served and max_min_served objectives, and as an independent check of the
decomposition that solves min_cost (`polyfleet.plan.decompose`).

Scaling: each demand row is divided by its largest coefficient (so a row reads "accelerators of the
best pool's worth ≥ the fewest needed") and each coupling row by its largest |coefficient|, so that
HiGHS sees entries of at most 1 and drops none of a row's meaningful entries as "tiny"; duals are
scaled back. When min_cost is infeasible, the same LP with one slack per coupling row, freed and
alone costed, gives the least violation: min Σ_k slack[k], each slack measured relative to its
row's size (`violation_scale`), as the decomposition measures it.
"""

from __future__ import annotations

import os
import sys
import time

import highspy
import numpy as np
import scipy.sparse as sp

from polyfleet.errors import SolverError
from polyfleet.plan.keys import CouplingKey
from polyfleet.plan.problem import CouplingRows, PlacementProblem
from polyfleet.plan.solution import Solution

INF = highspy.kHighsInf
LEX_TOL = 1e-9
#: Most accelerators one workload may need of one pool (demand / throughput) for the solvers to
#: represent it: ~1e7 times the largest fleets, and far inside HiGHS's 1e15 coefficient range.
MAX_NEED = 1e15


_BANNER_SHOWN = False


def new_highs(threads: int | None = None) -> highspy.Highs:
    """A silent HiGHS instance. The first one in a process prints a banner to the C-level stdout
    before any option can be set, which would corrupt `--json` output: it goes to /dev/null."""
    global _BANNER_SHOWN
    if not _BANNER_SHOWN:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    else:
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if threads:
        h.setOptionValue("threads", threads)
    return h


def pass_lp(
    h: highspy.Highs,
    cost: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    A: sp.csc_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    integer: np.ndarray | None = None,
) -> None:
    """Hand HiGHS the model in one call; `integer` (bool per column) makes it a MIP. A model HiGHS
    refuses (a coefficient beyond its range, a NaN) is a SolverError, never a silent empty model."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = lo, hi
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    if integer is not None:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
            for b in integer
        ]
    checked(h.passModel(lp), "the model")


def checked(status: highspy.HighsStatus, what: str) -> None:
    """Raise a SolverError when HiGHS refused a model change (it then leaves the model as it was,
    and row or column counts would no longer match what the caller added)."""
    if status == highspy.HighsStatus.kError:
        raise SolverError(
            f"HiGHS refused {what}: a coefficient or bound is beyond what it can represent",
            status="model rejected",
            seconds=0.0,
        )


def check_problem(problem: PlacementProblem) -> None:
    """Refuse figures no solver can work with — NaN, negative, or infinite where a finite number is
    needed — with a SolverError naming the figure, instead of a crash or a wrong answer inside.
    Infinite capacity, max_accelerators and power cap are allowed: they mean "no limit"."""
    figures: list[tuple[str, np.ndarray, list[str], bool]] = [
        ("demand", problem.demand, problem.workloads, False),
        ("max_accelerators", problem.cap, problem.workloads, True),
        ("cost per accelerator-hour", problem.cost, problem.pools, False),
        ("MW per accelerator", problem.mw, problem.pools, False),
        ("capacity", problem.capacity, problem.pools, True),
    ]
    for what, values, names, inf_ok in figures:
        v = np.asarray(values, dtype=float)
        bad = np.isnan(v) | (v < 0) | (np.isinf(v) & (not inf_ok))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            _refuse(f"{what} of {names[i]} is {float(v[i])!r}")
    T, demand = problem.T, problem.demand
    row_max = T.max(axis=1, initial=0.0)  # NaN propagates: one pass finds any
    if not (T.min(initial=0.0) >= 0 and np.isfinite(row_max).all()):
        w, p = (int(i[0]) for i in np.nonzero(~np.isfinite(T) | (T < 0)))
        _refuse(f"throughput of {problem.workloads[w]} on {problem.pools[p]} is {float(T[w, p])!r}")
    # per workload: the most accelerators one eligible pool would need (the least throughput),
    # and the largest fraction of demand one accelerator serves (must not overflow)
    least = np.where(T > 0, T, np.inf).min(axis=1, initial=np.inf)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        need = np.where(np.isfinite(least), demand / least, 0.0)
        share = row_max / demand
    huge = (demand > 0) & ((need > MAX_NEED) | ~np.isfinite(share))
    if huge.any():
        w = int(np.flatnonzero(huge)[0])
        if not np.isfinite(share[w]):
            p = int(np.argmax(T[w]))
            _refuse(
                f"one accelerator of {problem.pools[p]} would serve over 1e+308 times the "
                f"demand of {problem.workloads[w]} (throughput {T[w, p]:.3g} / demand "
                f"{demand[w]:.3g})"
            )
        p = int(np.argmin(np.where(T[w] > 0, T[w], np.inf)))
        many = f"{need[w]:.3g}" if np.isfinite(need[w]) else "over 1e+308"
        _refuse(
            f"{problem.workloads[w]} would need {many} accelerators of {problem.pools[p]} "
            f"(demand {demand[w]:.3g} / throughput {T[w, p]:.3g})"
        )
    cap_mw = problem.power_cap_mw
    if cap_mw is not None and (np.isnan(cap_mw) or cap_mw < 0):
        _refuse(f"power cap is {float(cap_mw)!r} MW")
    for site, site_mw in zip(problem.sites, problem.site_cap_mw, strict=True):
        if np.isnan(site_mw) or site_mw < 0:
            _refuse(f"power cap of site {site} is {float(site_mw)!r} MW")
    for sb in problem.shares:
        if not 0.0 <= sb.value <= 1.0:
            _refuse(f"{sb.vendor} share {sb.bound} is {float(sb.value)!r}")


def _refuse(what: str) -> None:
    raise SolverError(
        f"cannot solve: {what}, beyond what the solver can represent",
        status="not solved",
        seconds=0.0,
    )


def violation_scale(problem: PlacementProblem, rows: CouplingRows) -> np.ndarray:
    """The size of each coupling row, the unit its violation is measured in: its limit, or, for a
    limit of 0 (share rows), what the row's |coefficients| come to over a typical pool's capacity.
    The least violation is the least Σ_k violation[k] / scale[k]."""
    n_p = len(problem.pools)
    held = np.where(np.isfinite(problem.capacity), np.maximum(problem.capacity, 1.0), 1.0)
    typical = np.abs(rows.G) @ held / max(n_p, 1)
    limit = np.where(np.isfinite(rows.b), np.abs(rows.b), 0.0)
    return np.maximum(limit, np.maximum(typical, 1e-9))


#: A least violation (in the rows' own scale) at or below this does not prove infeasibility.
UNDECIDED_TOL = 1e-7


def run_optimal(h: highspy.Highs, started: float, what: str) -> str:
    """Run HiGHS; return 'optimal' or 'infeasible', raise SolverError on anything else."""
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible"
    raise SolverError(
        f"{what} did not solve",
        status=h.modelStatusToString(status),
        seconds=time.perf_counter() - started,
    )


def solve_lp(
    problem: PlacementProblem,
    objective: str = "min_cost",
    *,
    floor: np.ndarray | None = None,
    among: np.ndarray | None = None,
) -> Solution:
    """Solve the whole placement LP at once (see the module docstring for the formulation).

    `floor` (a fraction per class) replaces each class's demand row for min_cost (Σ a·x ≥ floor
    instead of ≥ 1) and, for max_min_served, for the classes outside `among` (a mask: the classes
    whose smallest fraction is raised; default all): what water-filling holds between levels.
    An infeasible min_cost problem comes back with the least violation of its coupling rows and
    the plan that attains it (status "infeasible")."""
    started = time.perf_counter()
    check_problem(problem)
    n_w, n_p = problem.shape
    if floor is not None and objective == "max_served":
        raise ValueError("floor applies to min_cost and max_min_served")
    raised = np.ones(n_w, dtype=bool) if among is None else np.asarray(among, dtype=bool)
    held = np.ones(n_w) if objective == "min_cost" else np.zeros(n_w)
    if floor is not None:
        held = np.asarray(floor, dtype=float)
    a = problem.a
    rows_w, cols_p = np.nonzero(a > 0)
    n_x = len(rows_w)
    coupling = problem.coupling()
    G, b = coupling.G, coupling.b
    n_k = len(b)
    capped = np.flatnonzero(np.isfinite(problem.cap))
    cap_row = np.full(n_w, -1)
    cap_row[capped] = np.arange(len(capped))
    # row scales: demand rows by their largest coefficient, coupling rows by their largest |G|
    a_max = a.max(axis=1, initial=0.0)
    a_max = np.where(a_max > 0, a_max, 1.0)
    g_max = np.abs(G).max(axis=1, initial=0.0)
    g_max = np.where(g_max > 0, g_max, 1.0)
    Gr = G / g_max[:, None]

    extra = {"min_cost": 0, "max_served": n_w, "max_min_served": 1}[objective]
    n_idle = n_p  # idle[p]: accelerators held but unassigned (only ever worth it for share floors)
    n_slack = n_k if objective == "min_cost" else 0  # violation slack, held at 0 unless infeasible
    s0 = n_x + n_idle
    n_col = s0 + extra + n_slack
    r_dem, r_cap, r_cpl = 0, n_w, n_w + len(capped)
    n_row = r_cpl + n_k

    x_idx = np.arange(n_x)
    Gx = Gr[:, cols_p]  # (K, n_x), dense but K is small
    k_idx, xk = np.nonzero(Gx)
    in_cap = cap_row[rows_w] >= 0
    ki, pi_ = np.nonzero(Gr)
    parts_r = [r_dem + rows_w, r_cap + cap_row[rows_w[in_cap]], r_cpl + k_idx, r_cpl + ki]
    parts_c = [x_idx, x_idx[in_cap], xk, n_x + pi_]
    parts_v = [
        a[rows_w, cols_p] / a_max[rows_w],
        np.ones(int(in_cap.sum())),
        Gx[k_idx, xk],
        Gr[ki, pi_],
    ]
    if objective == "max_served":
        parts_r.append(np.arange(n_w))
        parts_c.append(s0 + np.arange(n_w))
        parts_v.append(-1.0 / a_max)
    elif objective == "max_min_served":
        parts_r.append(np.flatnonzero(raised))
        parts_c.append(np.full(int(raised.sum()), s0))
        parts_v.append(-1.0 / a_max[raised])
    scale = violation_scale(problem, coupling)
    if n_slack:
        parts_r.append(r_cpl + np.arange(n_k))
        parts_c.append(s0 + extra + np.arange(n_k))
        parts_v.append(-scale / g_max)
    A = sp.csc_matrix(
        (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
        shape=(n_row, n_col),
    )
    row_lo = np.concatenate(
        [
            np.where(raised, 0.0, held) / a_max if objective == "max_min_served" else held / a_max,
            np.full(len(capped), -INF),
            np.full(n_k, -INF),
        ]
    )
    row_hi = np.concatenate([np.full(n_w, INF), problem.cap[capped], b / g_max])
    row_hi[~np.isfinite(row_hi)] = INF
    cost_x = np.concatenate([problem.cost[cols_p], problem.cost])
    lo = np.zeros(n_col)
    hi = np.full(n_col, INF)
    if objective == "max_served":
        hi[s0 : s0 + extra] = 1.0
    hi[s0 + extra :] = 0.0  # no violation unless the limits cannot all hold
    first = np.zeros(n_col)
    if objective == "min_cost":
        first[:s0] = cost_x
    elif objective == "max_served":
        first[s0:] = -problem.weight
    else:
        first[s0] = -1.0

    h = new_highs()
    pass_lp(h, first, lo, hi, A, row_lo, row_hi)
    try:
        status = run_optimal(h, started, "placement LP")
        undecided: SolverError | None = None
    except SolverError as e:
        # HiGHS may end 'Unknown' on a fleet a hair from feasible; the least-violation LP
        # below is always feasible and settles it (min_cost only: the others have no slack)
        if not n_slack:
            raise
        status, undecided = "infeasible", e
    violation = np.zeros(n_k)
    served_best = float("nan")
    if status == "infeasible":
        if not n_slack:
            return _nothing(problem, coupling.keys, started)
        # least violation: the same LP with the slack free and only the slack costed
        slack = np.arange(s0, n_col, dtype=np.int32)
        checked(h.changeColsBounds(n_k, slack, np.zeros(n_k), np.full(n_k, INF)), "the slack")
        cost1 = np.zeros(n_col)
        cost1[s0:] = 1.0
        checked(h.changeColsCost(n_col, np.arange(n_col, dtype=np.int32), cost1), "the costs")
        run_optimal(h, started, "placement LP (least violation)")
        least = np.asarray(h.getSolution().col_value)[s0:]
        if undecided is not None and least.sum() <= UNDECIDED_TOL:
            raise undecided  # the limits hold (to round-off) yet the cost LP did not solve
        violation = least * scale
    elif objective != "min_cost":
        # hold what was served, then minimise cost over the plans that serve it
        best = h.getInfo().objective_function_value
        served_best = -best
        served_cols = np.arange(s0, n_col)
        checked(
            h.addRow(
                -INF,
                best + LEX_TOL * max(1.0, abs(best)),
                len(served_cols),
                served_cols.astype(np.int32),
                first[s0:],
            ),
            "the served-amount row",
        )
        checked(
            h.changeColsCost(
                n_col, np.arange(n_col, dtype=np.int32), np.concatenate([cost_x, np.zeros(extra)])
            ),
            "the costs",
        )
        run_optimal(h, started, "placement LP (cost phase)")
    sol = h.getSolution()
    col = np.asarray(sol.col_value)
    xv, idle = col[:n_x], col[n_x:s0]
    duals = -np.asarray(sol.row_dual)[r_cpl:n_row] / g_max
    x = sp.csr_matrix((xv, (rows_w, cols_p)), shape=(n_w, n_p))
    served = np.asarray(x.multiply(a).sum(axis=1)).ravel()
    cost = float(cost_x @ col[:s0])
    obj = {
        "min_cost": cost,
        "max_served": float(problem.weight @ np.minimum(served, 1.0)),
        "max_min_served": float(served[raised].min(initial=np.inf)) if raised.any() else 0.0,
    }[objective]
    feasible = status == "optimal"
    return Solution(
        x=x,
        status=status,
        objective=obj if feasible else float("nan"),
        cost_per_hour=cost if feasible else float("nan"),
        served=served,
        duals=np.maximum(duals, 0.0) if feasible else np.zeros(n_k),
        usage=np.asarray(x.sum(axis=0)).ravel() + idle,
        idle=idle,
        method="lp",
        keys=coupling.keys,
        seconds=time.perf_counter() - started,
        lower_bound=cost if feasible else float("nan"),
        objective_bound=served_best if objective != "min_cost" else float("nan"),
        violations=violation,
        # HiGHS solves each stage to optimality: no gap beyond its tolerances
        serve_gap=0.0 if feasible and objective != "min_cost" else float("nan"),
        cost_gap=0.0 if feasible else float("nan"),
    )


def _nothing(problem: PlacementProblem, keys: tuple[CouplingKey, ...], started: float) -> Solution:
    """An infeasible answer with no plan (the objectives that serve what they can never are)."""
    n_w, n_p = problem.shape
    return Solution(
        x=sp.csr_matrix((n_w, n_p)),
        status="infeasible",
        idle=np.zeros(n_p),
        objective=float("nan"),
        cost_per_hour=float("nan"),
        served=np.zeros(n_w),
        duals=np.zeros(len(keys)),
        usage=np.zeros(n_p),
        method="lp",
        keys=keys,
        seconds=time.perf_counter() - started,
    )


def least_violation_total(problem: PlacementProblem, violation: np.ndarray) -> float:
    """Σ_k violation[k] / scale[k]: the measure both solvers minimise when the limits cannot all
    hold."""
    return float((violation / violation_scale(problem, problem.coupling())).sum())
