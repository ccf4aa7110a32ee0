"""A plan at the low end of the throughput intervals, and what it changes against the point plan.

Estimated and calibrated cells carry an interval from the calibration residuals; measured cells do
not move. Re-solving with every cell at its low end shows which placements depend on the model
being right: the assignments that change are the ones to measure first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from polyfleet.inputs.benchmarks import PACKAGED
from polyfleet.inputs.scenario import LoadedScenario
from polyfleet.plan.placement import Plan, make_plan

__all__ = ["assignment_changes", "pessimistic_plan"]

#: Changes smaller than this (relative to the larger side, at least one accelerator's millionth)
#: are solver round-off, not a different plan.
REL_TOL = 1e-6


def assignment_changes(
    base: Iterable[Mapping[str, Any]], other: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per (workload, pool): accelerators in `base` and in `other` where they differ, largest
    change first. An assignment present in one plan only counts as 0 in the other."""
    before: dict[tuple[str, str], float] = {}
    after: dict[tuple[str, str], float] = {}
    for rows, into in ((base, before), (other, after)):
        for a in rows:
            key = (str(a["workload"]), str(a["pool"]))
            into[key] = into.get(key, 0.0) + float(a["accelerators"])
    out = []
    for key in dict.fromkeys([*before, *after]):
        b, o = before.get(key, 0.0), after.get(key, 0.0)
        if abs(o - b) <= REL_TOL * max(abs(b), abs(o), 1.0):
            continue
        status = "added" if b == 0.0 else "removed" if o == 0.0 else "changed"
        out.append(
            {
                "workload": key[0],
                "pool": key[1],
                "accelerators_point": b,
                "accelerators_low": o,
                "change": o - b,
                "status": status,
            }
        )
    return sorted(out, key=lambda r: -abs(r["change"]))


def pessimistic_plan(
    loaded: LoadedScenario,
    *,
    method: str = "auto",
    load_seconds: float = 0.0,
    benchmarks: Sequence[str | Path] = (PACKAGED,),
) -> tuple[Plan, dict[str, Any]]:
    """The plan at the low end, and a record of how it differs from the point plan."""
    point = make_plan(loaded, method=method, load_seconds=load_seconds, benchmarks=benchmarks)
    low = make_plan(
        loaded, method=method, load_seconds=load_seconds, benchmarks=benchmarks, pessimistic=True
    )
    feasible = point.status == "optimal" and low.status == "optimal"
    changes = assignment_changes(point.assignments(), low.assignments()) if feasible else []
    record = {
        "point_status": point.status,
        "point_cost_per_hour": point.cost_per_hour if point.status == "optimal" else None,
        "low_cost_per_hour": low.cost_per_hour if low.status == "optimal" else None,
        "changed_assignments": changes,
    }
    return low, record
