"""Leverage and the share frontier at scale, serial and on a local Ray cluster of 2 workers, in
the same run: both vendors' switching and drop multipliers, lock-in premiums and the share-cap
cost, then the frontier (21 points), on the 100k-workload x 50-pool fleet of bench/plan_scale.py
(power cap and NVIDIA power-share cap binding). Each variant runs in its own process (its peak
memory is its own); the Ray variants time the cluster's start apart from the solves. The
records must be identical, timings aside.

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

CASES = ("leverage-serial", "leverage-ray", "frontier-serial", "frontier-ray")
WORKERS = 2


def _timeless(data: object) -> object:
    """The record without its timings (what must not differ between runs)."""
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k != "seconds"}
    if isinstance(data, list):
        return [_timeless(v) for v in data]
    return data


def run_case(case: str, n_w: int, n_p: int) -> dict:
    from plan_scale import random_problem
    from polyfleet.parallel import cluster_map
    from polyfleet.plan.leverage import leverage, share_frontier

    problem, _ = random_problem(n_w, n_p).collapse()
    what, where = case.split("-")
    t0 = time.perf_counter()
    with cluster_map(workers=WORKERS if where == "ray" else None) as mapper:
        started = time.perf_counter() - t0
        t1, c1 = time.perf_counter(), time.process_time()
        if what == "leverage":
            result = leverage(problem, mapper=mapper).to_dict()
        else:
            result = share_frontier(problem, mapper=mapper).to_dict()
        seconds = time.perf_counter() - t1
        cpu = time.process_time() - c1
    return {
        "seconds": seconds,
        "cpu": cpu,
        "start": started,
        "solves": result["solves"],
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "record": _timeless(result),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=50)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.workloads, args.pools)))
        return
    res = {}
    for case in CASES:
        cmd = [sys.executable, __file__, "--case", case, "--workloads", str(args.workloads)]
        cmd += ["--pools", str(args.pools)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
        res[case] = json.loads(out.stdout.strip().splitlines()[-1])
        print(case, f"{res[case]['seconds']:.1f} s", file=sys.stderr)
    lev = res["leverage-serial"]["record"]
    rows = []
    for what in ("leverage", "frontier"):
        s, r = res[f"{what}-serial"], res[f"{what}-ray"]
        same = "yes" if s["record"] == r["record"] else "NO"
        rows.append(
            f"| {what} | {s['seconds']:.1f} | {r['seconds']:.1f} (+{r['start']:.1f} start) | "
            f"{s['seconds'] / r['seconds']:.2f}x | {s['solves']} | "
            f"{s['peak_gib']:.2f} / {r['peak_gib']:.2f} | {same} |"
        )
    vendors = "; ".join(
        f"{v['vendor']}: switch x{v['switch_multiplier']}, drop "
        + (f"x{v['drop_multiplier']}" if v["drop_multiplier"] is not None else "never")
        for v in lev["vendors"]
    )
    lines = [
        f"\n## leverage_scale — {date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n",
        f"`polyfleet.plan.leverage.leverage` and `share_frontier` (21 points) on the plan_scale "
        f"fleet, {args.workloads:,} workloads x {args.pools} pools, 2 vendors (power cap and "
        f"NVIDIA power-share cap binding), serial and as Ray tasks on a local cluster of {WORKERS} "
        "workers (`--workers 2`), in the same run. Target (issue 12): leverage <= 15 s serial. "
        "Reproduce: `python bench/leverage_scale.py`.\n",
        "| command | serial s | 2 Ray workers s | serial / Ray | solves | peak GiB "
        "(serial / Ray driver) | same record |",
        "|---|---|---|---|---|---|---|",
        *rows,
        f"\nLeverage: {vendors}. The machine's 2 cores were shared with other work during the run "
        f"(load average {os.getloadavg()[0]:.1f} at its end); the serial runs' own CPU time: "
        f"leverage {res['leverage-serial']['cpu']:.1f} s, frontier "
        f"{res['frontier-serial']['cpu']:.1f} s.",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(section + "\n")


if __name__ == "__main__":
    main()
