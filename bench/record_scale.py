"""The plan record at scale: `bench/plan_scale.py`'s fleet (100k distinct workloads x 50 pools,
the power cap and a vendor-share cap binding) solved, then turned into the plan record and its
JSON, step by step: the plan's own figures (`Plan.to_dict`), the record (validated in one call),
the finite check and the dump.

    python bench/record_scale.py            # 100k x 50, appends to BENCHMARKS.md
    python bench/record_scale.py --quick    # 10k x 10, prints only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from plan_scale import random_problem  # noqa: E402


def solved_plan(n_w: int, n_p: int):
    """The placement of plan_scale's fleet as a Plan, with a matrix of measured cells."""
    from polyfleet.perfmodel.matrix import Origin, Reason, ThroughputMatrix
    from polyfleet.plan.placement import Plan, solve_problem

    problem = random_problem(n_w, n_p)
    collapsed, classes = problem.collapse()
    t0 = time.perf_counter()
    solution = solve_problem(collapsed, "min_cost")
    solve_s = time.perf_counter() - t0
    assert solution.status == "optimal"
    T = problem.T
    shape = T.shape
    matrix = ThroughputMatrix(
        workloads=list(problem.workloads),
        accelerators=[f"acc-{j}" for j in range(n_p)],
        value=T,
        origin=np.where(T > 0, Origin.MEASURED, Origin.INELIGIBLE).astype(np.int8),
        reason=np.where(T > 0, Reason.OK, Reason.NOT_MEASURED).astype(np.int8),
        detail=np.zeros(shape),
        gang=np.ones(shape),
        precision=np.full(shape, -1, np.int8),
        source=np.full(shape, -1, np.int16),
    )
    plan = Plan(
        name="plan-scale",
        objective="min_cost",
        status="optimal",
        problem=collapsed,
        classes=classes,
        solution=solution,
        matrix=matrix,
        pool_accelerators=list(matrix.accelerators),
        workload_units=["units/s"] * n_w,
        timings={"load": 0.0, "matrix": 0.0, "deals": 0.0, "build": 0.0, "solve": solve_s},
    )
    return plan, solve_s


def measure(n_w: int, n_p: int) -> dict[str, float]:
    from polyfleet.finite import check_finite
    from polyfleet.results.base import dump_record
    from polyfleet.results.plan import PlanRecord

    plan, solve_s = solved_plan(n_w, n_p)
    t0 = time.perf_counter()
    data = plan.to_dict(matrix_cells=False)
    t1 = time.perf_counter()
    record = PlanRecord.build(data)
    t2 = time.perf_counter()
    check_finite(record.model_dump(mode="json"), "plan")
    t3 = time.perf_counter()
    text = dump_record(record)  # the finite scan included
    t4 = time.perf_counter()
    loaded = PlanRecord.parse(json.loads(text), file="<bench>")
    t5 = time.perf_counter()
    assert loaded == record
    return {
        "workloads": n_w,
        "pools": n_p,
        "assignments": len(record.assignments or ()),
        "solve_s": solve_s,
        "to_dict_s": t1 - t0,
        "build_s": t2 - t1,
        "finite_s": t3 - t2,
        "dump_s": t4 - t3,
        "load_s": t5 - t4,
        "mb": len(text.encode()) / 1e6,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    n_w, n_p = (10_000, 10) if args.quick else (100_000, 50)
    r = measure(n_w, n_p)
    lines = [
        f"\n## record_scale — {date.today()} — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n",
        f"The plan record of `bench/plan_scale.py`'s fleet at {n_w:,} workloads x {n_p} pools "
        f"(power and vendor-share caps binding): {r['assignments']:,} assignments, JSON "
        f"{r['mb']:.1f} MB without the matrix. Reproduce: `python bench/record_scale.py`.\n",
        "| step | seconds |",
        "|---|---|",
        f"| solve (for reference) | {r['solve_s']:.2f} |",
        f"| the plan's figures (`Plan.to_dict`, numpy columns) | {r['to_dict_s']:.2f} |",
        f"| the record, validated in one call (`PlanRecord.build`) | {r['build_s']:.2f} |",
        f"| dump (`dump_record`: pydantic-core JSON, the finite scan of its bytes) | "
        f"{r['dump_s']:.2f} |",
        f"| for comparison: the finite check as a walk over the record's data | "
        f"{r['finite_s']:.2f} |",
        f"| read back and validate (`json.loads` + `PlanRecord.parse`) | {r['load_s']:.2f} |",
        f"\nPeak memory {r['peak_gib']:.2f} GiB.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not (args.quick or args.no_record):
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
