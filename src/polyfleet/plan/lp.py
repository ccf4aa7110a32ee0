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
"""

from __future__ import annotations

import os
import sys
import time

import highspy
import numpy as np
import scipy.sparse as sp

from polyfleet.errors import SolverError
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.solution import Solution

INF = highspy.kHighsInf
LEX_TOL = 1e-9


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
    """Hand HiGHS the model in one call; `integer` (bool per column) makes it a MIP."""
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
    h.passModel(lp)


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


def solve_lp(problem: PlacementProblem, objective: str = "min_cost") -> Solution:
    """Solve the whole placement LP at once (see the module docstring for the formulation)."""
    started = time.perf_counter()
    n_w, n_p = problem.shape
    a = problem.a
    rows_w, cols_p = np.nonzero(a > 0)
    n_x = len(rows_w)
    coupling = problem.coupling()
    G, b = coupling.G, coupling.b
    n_k = len(b)
    capped = np.flatnonzero(np.isfinite(problem.cap))
    cap_row = np.full(n_w, -1)
    cap_row[capped] = np.arange(len(capped))

    extra = {"min_cost": 0, "max_served": n_w, "max_min_served": 1}[objective]
    n_idle = n_p  # idle[p]: accelerators held but unassigned (only ever worth it for share floors)
    n_col = n_x + n_idle + extra
    r_dem, r_cap, r_cpl = 0, n_w, n_w + len(capped)
    n_row = r_cpl + n_k

    x_idx = np.arange(n_x)
    Gx = G[:, cols_p]  # (K, n_x), dense but K is small
    k_idx, xk = np.nonzero(Gx)
    in_cap = cap_row[rows_w] >= 0
    ki, pi_ = np.nonzero(G)
    parts_r = [r_dem + rows_w, r_cap + cap_row[rows_w[in_cap]], r_cpl + k_idx, r_cpl + ki]
    parts_c = [x_idx, x_idx[in_cap], xk, n_x + pi_]
    parts_v = [a[rows_w, cols_p], np.ones(int(in_cap.sum())), Gx[k_idx, xk], G[ki, pi_]]
    s0 = n_x + n_idle
    if objective == "max_served":
        parts_r.append(np.arange(n_w))
        parts_c.append(s0 + np.arange(n_w))
        parts_v.append(-np.ones(n_w))
    elif objective == "max_min_served":
        parts_r.append(np.arange(n_w))
        parts_c.append(np.full(n_w, s0))
        parts_v.append(-np.ones(n_w))
    A = sp.csc_matrix(
        (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
        shape=(n_row, n_col),
    )
    row_lo = np.concatenate(
        [
            np.full(n_w, 1.0 if objective == "min_cost" else 0.0),
            np.full(len(capped), -INF),
            np.full(n_k, -INF),
        ]
    )
    row_hi = np.concatenate([np.full(n_w, INF), problem.cap[capped], b])
    cost_x = np.concatenate([problem.cost[cols_p], problem.cost])
    lo = np.zeros(n_col)
    hi = np.full(n_col, INF)
    if objective == "max_served":
        hi[s0:] = 1.0
    first = np.zeros(n_col)
    if objective == "min_cost":
        first[:s0] = cost_x
    elif objective == "max_served":
        first[s0:] = -problem.weight
    else:
        first[s0] = -1.0

    h = new_highs()
    pass_lp(h, first, lo, hi, A, row_lo, row_hi)
    status = run_optimal(h, started, "placement LP")
    if status == "infeasible":
        return Solution(
            x=sp.csr_matrix((n_w, n_p)),
            status="infeasible",
            idle=np.zeros(n_p),
            objective=float("nan"),
            cost_per_hour=float("nan"),
            served=np.zeros(n_w),
            duals=np.zeros(n_k),
            usage=np.zeros(n_p),
            method="lp",
            seconds=time.perf_counter() - started,
        )
    if objective != "min_cost":
        # hold what was served, then minimise cost over the plans that serve it
        best = h.getInfo().objective_function_value
        served_cols = np.arange(s0, n_col)
        h.addRow(
            -INF,
            best + LEX_TOL * max(1.0, abs(best)),
            len(served_cols),
            served_cols.astype(np.int32),
            first[s0:],
        )
        h.changeColsCost(
            n_col, np.arange(n_col, dtype=np.int32), np.concatenate([cost_x, np.zeros(extra)])
        )
        run_optimal(h, started, "placement LP (cost phase)")
    sol = h.getSolution()
    col = np.asarray(sol.col_value)
    xv, idle = col[:n_x], col[n_x:s0]
    duals = -np.asarray(sol.row_dual)[r_cpl:n_row]
    x = sp.csr_matrix((xv, (rows_w, cols_p)), shape=(n_w, n_p))
    served = np.asarray(x.multiply(a).sum(axis=1)).ravel()
    cost = float(cost_x @ col[:s0])
    obj = {
        "min_cost": cost,
        "max_served": float(problem.weight @ np.minimum(served, 1.0)),
        "max_min_served": float(served.min()) if n_w else 0.0,
    }[objective]
    return Solution(
        x=x,
        status="optimal",
        objective=obj,
        cost_per_hour=cost,
        served=served,
        duals=np.maximum(duals, 0.0),
        usage=np.asarray(x.sum(axis=0)).ravel() + idle,
        idle=idle,
        method="lp",
        seconds=time.perf_counter() - started,
        lower_bound=obj,
    )
