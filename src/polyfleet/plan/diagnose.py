"""Why no plan exists: workloads no pool can serve, limits that must give, and shortfalls."""

from __future__ import annotations

from typing import Any

import numpy as np

from polyfleet.perfmodel import ThroughputMatrix
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.served import solve_max_served
from polyfleet.plan.shares import share_point
from polyfleet.plan.solution import Solution


def unservable(problem: PlacementProblem, *, partial: bool = False) -> tuple[np.ndarray, list[str]]:
    """Classes that no pool can serve at all, or not within their max_accelerators; and why.

    `partial`: the objective serves workloads in part (max_served, max_min_served), so one its
    max_accelerators keeps from full service is served as far as it can be, not unservable."""
    T = problem.T
    usable = (T > 0) & (problem.capacity[None, :] > 0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        per = np.where(usable, problem.demand[:, None] / np.where(usable, T, 1.0), np.inf)
    fewest = per.min(axis=1, initial=np.inf)
    none = ~usable.any(axis=1)
    capped = fewest > problem.cap * (1 + 1e-9)
    bad = (problem.demand > 0) & (none | (capped & (not partial)))
    why = []
    for w in np.flatnonzero(bad):
        if none[w]:
            why.append("no pool is eligible (or every eligible pool is empty)")
        else:
            why.append(
                f"needs at least {fewest[w]:,.0f} accelerators, above max_accelerators "
                f"{problem.cap[w]:,.0f}"
            )
    return bad, why


def pool_reasons(
    matrix: ThroughputMatrix, workload_index: int, pool_accelerators: list[str]
) -> dict[str, str]:
    """For one workload, why each pool's accelerator is ineligible."""
    col = {a: i for i, a in enumerate(matrix.accelerators)}
    out = {}
    for acc in dict.fromkeys(pool_accelerators):
        a = col[acc]
        if matrix.origin[workload_index, a] == 0:
            out[acc] = matrix.reason_text(workload_index, a)
    return out


def violated_limits(problem: PlacementProblem, solution: Solution) -> list[dict[str, Any]]:
    """Coupling rows the least-violation plan exceeds, with the amount in the row's own unit
    (share rows in points of the share measure), read from the solution by each row's key."""
    point = share_point(solution.usage, problem.share_weight)
    out = []
    for key in problem.coupling().keys:
        amount = solution.violation(key)
        if not amount > 0:
            continue
        if key.kind == "capacity":
            text = f"pool {key.subject} short by {amount:,.0f} accelerators"
            unit = "accelerators"
        elif key.kind == "power":
            where = "" if key.subject is None else f" of {key.subject}"
            text = f"power cap{where} short by {amount:,.1f} MW"
            unit = "MW"
        else:
            amount = amount / point if point > 0 else float("nan")
            word = "cap" if key.kind == "share_max" else "floor"
            text = (
                f"{key.subject} share {word} must give by {amount:.2f} points "
                f"({problem.share_measure})"
            )
            unit = "share points"
        out.append(
            {
                "limit": str(key),
                "key": key.to_dict(),
                "kind": key.family,
                "by": amount,
                "unit": unit,
                "message": text,
            }
        )
    return out


def shortfalls(problem: PlacementProblem, servable: np.ndarray) -> list[dict[str, Any]]:
    """Serve as much as every limit allows (max_served, by decomposition: any size); list the
    workloads left short."""
    idx = np.flatnonzero(servable)
    if not idx.size:
        return []
    sol = solve_max_served(problem.subset(servable))
    frac = np.minimum(sol.served, 1.0)
    short = frac < 1.0 - 1e-6
    return [
        {"class": w, "served_fraction": f, "short_by": d}
        for w, f, d in zip(
            idx[short].tolist(),
            frac[short].tolist(),
            ((1.0 - frac[short]) * problem.demand[idx[short]]).tolist(),
            strict=True,
        )
    ]
