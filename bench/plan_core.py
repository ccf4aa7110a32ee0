"""The placement core at scale, in process: random fleets of 1k-100k distinct workloads x 10-50
pools, with the power cap and a vendor-share cap active, solved by polyfleet against a baseline
of the same LP built cell by cell in Python and solved by scipy.optimize.linprog (HiGHS) in the
same run.

    python bench/plan_core.py            # full run, appends to BENCHMARKS.md
    python bench/plan_core.py --quick    # 1k and 10k only

Each case runs in a fresh subprocess so its peak memory (max RSS) is its own. This times the
solve from the problem arrays only; `bench/plan_scale.py` times the whole command from a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def random_problem(n_w: int, n_p: int, seed: int = 0):
    """A fleet whose capacity, power cap and NVIDIA power-share cap all bind."""
    from polyfleet.plan.problem import PlacementProblem, ShareBound

    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 3.0, n_p)  # per-pool speed
    T = base[None, :] * rng.uniform(0.7, 1.3, (n_w, n_p))  # per-workload affinity
    T *= rng.random((n_w, n_p)) < 0.7
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = rng.uniform(0.5, 3.0, n_w)
    D = rng.uniform(1.0, 100.0, n_w)
    need = np.where(T > 0, D[:, None] / np.where(T > 0, T, 1), np.inf).min(axis=1).sum()
    cost = rng.uniform(1.0, 5.0, n_p)
    mw = rng.uniform(1.0, 2.4, n_p) / 1000.0
    return PlacementProblem(
        workloads=[f"w{i}" for i in range(n_w)],
        pools=[f"p{j}" for j in range(n_p)],
        T=T,
        demand=D,
        cap=np.full(n_w, np.inf),
        cost=cost,
        mw=mw,
        capacity=rng.uniform(0.8, 1.2, n_p) * need * 1.6 / n_p,
        pool_vendor=(np.arange(n_p) % 2).astype(np.intp),
        vendors=["amd", "nvidia"],
        power_cap_mw=float(need * mw.mean() * 1.25),
        share_measure="power",
        shares=(ShareBound("nvidia", "max", 0.55),),
    )


def baseline(problem) -> tuple[float, float]:
    """The same LP assembled cell by cell with Python lists, solved by scipy's linprog."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    n_w, n_p = problem.shape
    rows, cols, vals, cost = [], [], [], []
    col_of = {}
    for w in range(n_w):
        for p in range(n_p):
            if problem.T[w, p] > 0:
                col_of[w, p] = len(cost)
                cost.append(problem.cost[p])
    n_col = len(cost)
    b = []
    r = 0
    for w in range(n_w):  # demand: -sum T x <= -D
        for p in range(n_p):
            if (w, p) in col_of:
                rows.append(r), cols.append(col_of[w, p]), vals.append(-problem.T[w, p])
        b.append(-problem.demand[w])
        r += 1
    for p in range(n_p):  # capacity
        for w in range(n_w):
            if (w, p) in col_of:
                rows.append(r), cols.append(col_of[w, p]), vals.append(1.0)
        b.append(problem.capacity[p])
        r += 1
    for (_w, p), c in col_of.items():  # power
        rows.append(r), cols.append(c), vals.append(problem.mw[p])
    b.append(problem.power_cap_mw)
    r += 1
    coupling = problem.coupling()
    share = coupling.G[coupling.row(("share_max", "nvidia"))]
    for (_w, p), c in col_of.items():  # vendor share
        rows.append(r), cols.append(c), vals.append(share[p])
    b.append(0.0)
    r += 1
    A = sp.csr_matrix((vals, (rows, cols)), shape=(r, n_col))
    t = time.perf_counter()
    res = linprog(cost, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return res.fun, time.perf_counter() - t


def run_case(kind: str, n_w: int, n_p: int) -> dict:
    import resource

    t0 = time.perf_counter()
    problem = random_problem(n_w, n_p)
    t_gen = time.perf_counter() - t0
    t1 = time.perf_counter()
    if kind == "polyfleet":
        from polyfleet.plan.placement import solve_problem

        collapsed, _ = problem.collapse()
        sol = solve_problem(collapsed, "min_cost")
        assert sol.status == "optimal"
        cost, extra = sol.cost_per_hour, {"rounds": sol.iterations, "gap": sol.gap}
    else:
        cost, solve_s = baseline(problem)
        extra = {"linprog_s": solve_s}
    wall = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # GiB (ru_maxrss in KiB)
    return {
        "kind": kind,
        "workloads": n_w,
        "pools": n_p,
        "seconds": wall,
        "peak_gib": rss,
        "cost": cost,
        "generate_s": t_gen,
        **extra,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], int(args.case[1]), int(args.case[2]))))
        return
    sizes = [1_000, 10_000] + ([] if args.quick else [100_000])
    results = []
    for n_w in sizes:
        for n_p in (10, 50):
            kinds = ["polyfleet"] + (["baseline"] if n_w <= 10_000 else [])
            for kind in kinds:
                out = subprocess.run(
                    [sys.executable, __file__, "--case", kind, str(n_w), str(n_p)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                res = json.loads(out.stdout.strip().splitlines()[-1])
                results.append(res)
                print(
                    f"{kind:9} {n_w:>7} x {n_p:>2}: {res['seconds']:8.2f} s  "
                    f"{res['peak_gib']:.2f} GiB  cost {res['cost']:.6g}",
                    flush=True,
                )
    lines = [
        f"\n## plan_core — {date.today()} — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n",
        "| workloads x pools | polyfleet s | peak GiB | rounds | baseline s (cell-by-cell + "
        "linprog) | speed-up | cost agrees |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["kind"] != "polyfleet":
            continue
        base = next(
            (
                b
                for b in results
                if b["kind"] == "baseline"
                and b["workloads"] == r["workloads"]
                and b["pools"] == r["pools"]
            ),
            None,
        )
        speed = f"{base['seconds'] / r['seconds']:.1f}x" if base else "-"
        agree = f"{abs(base['cost'] - r['cost']) / base['cost']:.1e} rel" if base else "-"
        lines.append(
            f"| {r['workloads']:,} x {r['pools']} | {r['seconds']:.2f} | {r['peak_gib']:.2f} | "
            f"{r['rounds']} | {base['seconds']:.2f} |"
            if base
            else f"| {r['workloads']:,} x {r['pools']} | {r['seconds']:.2f} | {r['peak_gib']:.2f} | "
            f"{r['rounds']} | - |"
        )
        lines[-1] += f" {speed} | {agree} |"
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
