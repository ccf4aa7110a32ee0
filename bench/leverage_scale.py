"""Leverage at scale: both vendors' switching and drop multipliers, lock-in premiums and the
share-cap cost on the 100k-workload x 50-pool fleet of bench/plan_scale.py, with every re-solve
warm-started from the nearest previous one, against the same searches with cold re-solves, in
the same run. Each variant runs in its own process (peak memory is its own).

    python bench/leverage_scale.py              # appends a section to BENCHMARKS.md
    python bench/leverage_scale.py --workloads 10000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def run_case(warm: bool, n_w: int, n_p: int) -> dict:
    from plan_scale import random_problem
    from polyfleet.plan.leverage import leverage

    problem, _ = random_problem(n_w, n_p).collapse()
    t0 = time.perf_counter()
    report = leverage(problem, warm=warm)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "solves": report.solves,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "vendors": {
            v.vendor: [v.switch.multiplier, v.drop.multiplier, v.lock_in_premium]
            for v in report.vendors
        },
        "share_cap_cost": report.share_cap_cost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--case", choices=["warm", "cold"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case == "warm", args.workloads, args.pools)))
        return
    res = {}
    for case in ("warm", "cold"):
        cmd = [sys.executable, __file__, "--case", case, "--workloads", str(args.workloads)]
        cmd += ["--pools", str(args.pools)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
        res[case] = json.loads(out.stdout)
    w, c = res["warm"], res["cold"]
    agree = all(
        (a is None and b is None) or (a is not None and b is not None and abs(a / b - 1) <= 0.011)
        for v in w["vendors"]
        for a, b in zip(w["vendors"][v][:2], c["vendors"][v][:2], strict=True)
    )
    lines = [
        f"\n## leverage_scale — {date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n",
        f"`polyfleet.plan.leverage.leverage` on the plan_scale fleet, {args.workloads:,} workloads x "
        f"{args.pools} pools, 2 vendors (power cap and NVIDIA power-share cap binding); multipliers "
        "to 0.5 %. Target (issue 5): <= 60 s with warm starts. Reproduce: "
        "`python bench/leverage_scale.py`.\n",
        "| re-solves | seconds | solves | peak GiB |",
        "|---|---|---|---|",
        f"| warm-started | {w['seconds']:.1f} | {w['solves']} | {w['peak_gib']:.2f} |",
        f"| cold | {c['seconds']:.1f} | {c['solves']} | {c['peak_gib']:.2f} |",
        f"\nWarm starts are {c['seconds'] / w['seconds']:.1f}x faster in the same run; the "
        f"multipliers {'agree' if agree else 'DIFFER'} (switch, drop per vendor, warm vs cold): "
        + "; ".join(f"{v}: {w['vendors'][v][:2]} vs {c['vendors'][v][:2]}" for v in w["vendors"])
        + ". Dropping a vendor is settled by one solve without its pools (no plan without it: "
        "no price drops it) instead of a search up to x1000.",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(section + "\n")


if __name__ == "__main__":
    main()
