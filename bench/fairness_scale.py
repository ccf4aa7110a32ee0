"""The served objectives at scale.

1. Cluster fairness (max_min_served): n jobs, 3 accelerator kinds, each job at most one
   accelerator (max_accelerators 1), each job's demand its throughput under an equal split of
   the cluster (a quarter of an accelerator of each kind), pools of n/4 accelerators each. Every
   job's throughputs are drawn apart, so no two jobs merge. polyfleet's decomposition (both
   stages: the max-min level, then the least cost holding it) against cvxpy + CLARABEL solving
   the same max-min LP in the same run; the optima must agree to 1e-6.
2. max_served and max_min_served on bench/plan_scale.py's fleet (100k workloads x 50 pools),
   its power cap lowered to 0.9 of its own and NVIDIA's power share capped at 40 %, so that
   both bind for both objectives (with plan_scale's own limits neither binds once demand can
   all be served); in process.

    python bench/fairness_scale.py            # full run, appends to BENCHMARKS.md
    python bench/fairness_scale.py --quick    # 4,096 jobs and 10k x 50 only

Needs the `bench` extra (cvxpy, clarabel). Each case runs in a fresh subprocess; wall and CPU
seconds are the solve alone (the problem is built before the clock starts).
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("v100", "p100", "k80")
#: Runs of each cluster case (alternating polyfleet and the baseline); medians are reported.
REPEAT = 3
#: Relative speed of the kinds and a price per accelerator-hour (the cost stage needs one).
SPEED = np.array([1.0, 0.55, 0.3])
PRICE = np.array([2.48, 1.46, 0.70])


def cluster(n: int, seed: int = 0):
    """The cluster-fairness problem: n jobs x 3 kinds, as PlacementProblem arrays."""
    from polyfleet.plan.problem import PlacementProblem

    rng = np.random.default_rng(seed)
    T = SPEED[None, :] * rng.lognormal(0.0, 0.4, (n, 3))  # each job's own affinity per kind
    return PlacementProblem(
        workloads=[f"job{i}" for i in range(n)],
        pools=list(KINDS),
        T=T,
        demand=0.25 * T.sum(axis=1),  # an equal split: n jobs over 3n/4 accelerators
        cap=np.ones(n),
        cost=PRICE.copy(),
        mw=np.array([0.30, 0.25, 0.30]) / 1000.0,
        capacity=np.full(3, n / 4.0),
        pool_vendor=np.zeros(3, dtype=np.intp),
        vendors=["nvidia"],
    )


def served_fleet(n_w: int, n_p: int):
    """bench/plan_scale.py's fleet with its power cap at 0.9 of its own and NVIDIA's power share
    at most 40 %: both limits bind for max_served and max_min_served."""
    from dataclasses import replace

    from polyfleet.plan.problem import ShareBound

    sys.path.insert(0, str(ROOT / "bench"))
    from plan_scale import random_problem

    fleet = random_problem(n_w, n_p)
    return replace(
        fleet,
        power_cap_mw=fleet.power_cap_mw * 0.9,
        shares=(ShareBound("nvidia", "max", 0.40),),
    )


def cvxpy_max_min(problem) -> tuple[float, float, float, float]:
    """The same max-min LP in cvxpy, solved by CLARABEL: t, and the wall and CPU seconds of
    `Problem.solve` (canonicalisation and CLARABEL) and CLARABEL's own."""
    import cvxpy as cp

    a = problem.a
    n, k = a.shape
    x = cp.Variable((n, k), nonneg=True)
    t = cp.Variable()
    constraints = [
        cp.sum(cp.multiply(a, x), axis=1) >= t,
        cp.sum(x, axis=1) <= problem.cap,
        cp.sum(x, axis=0) <= problem.capacity,
    ]
    prob = cp.Problem(cp.Maximize(t), constraints)
    start, cpu = time.perf_counter(), time.process_time()
    prob.solve(solver=cp.CLARABEL)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert prob.status == "optimal", prob.status
    return float(t.value), wall, cpu, float(prob.solver_stats.solve_time or 0.0)


def run_case(kind: str, n_w: int, n_p: int) -> dict:
    problem = cluster(n_w) if kind.startswith("cluster") else served_fleet(n_w, n_p)
    out: dict = {"kind": kind, "workloads": n_w, "pools": n_p}
    if kind == "cluster-cvxpy":
        import cvxpy  # noqa: F401  (imported before the clock starts, as polyfleet is)
    else:
        from polyfleet.plan.placement import solve_problem
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if kind == "cluster-cvxpy":
        t, wall, cpu, own = cvxpy_max_min(problem)
        out.update(objective=t, clarabel_s=own, solve_s=wall, solve_cpu_s=cpu)
    else:
        objective = "max_served" if kind == "max_served" else "max_min_served"
        merged, _ = problem.collapse()
        sol = solve_problem(merged, objective)
        assert sol.status == "optimal", sol.status
        rows = merged.coupling()
        lhs = rows.G @ sol.usage
        at_limit = np.abs(lhs - rows.b) <= 1e-6 * np.maximum(np.abs(rows.b), 1.0)
        binding = [
            str(k) for k, d, at in zip(rows.keys, sol.duals, at_limit, strict=True) if at and d > 0
        ]
        out.update(
            objective=sol.objective,
            bound=sol.objective_bound,
            gap=sol.gap,
            rounds=sol.iterations,
            cost=sol.cost_per_hour,
            binding=[b for b in binding if not b.startswith("capacity")],
            capacity_binding=sum(b.startswith("capacity") for b in binding),
        )
    out["seconds"] = time.perf_counter() - wall0
    out["cpu_s"] = time.process_time() - cpu0
    out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def _median(runs: list[dict], keys: tuple[str, ...]) -> dict:
    """The first run, with the median of each timing over all of them."""
    return {**runs[0], **{k: float(np.median([r[k] for r in runs])) for k in keys}}


def _case(kind: str, n_w: int, n_p: int) -> dict:
    res = subprocess.run(
        [sys.executable, __file__, "--case", kind, str(n_w), str(n_p)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], int(args.case[1]), int(args.case[2]))))
        return
    jobs = [4_096] if args.quick else [4_096, 16_384, 65_536]
    fleet = [(10_000, 50)] if args.quick else [(10_000, 50), (100_000, 50)]
    load = os.getloadavg()
    rows = []
    for n in jobs:
        # alternate the two, REPEAT runs each, and compare medians (the machine is shared)
        runs = [(_case("cluster", n, 3), _case("cluster-cvxpy", n, 3)) for _ in range(REPEAT)]
        ours = _median([o for o, _ in runs], ("seconds", "cpu_s"))
        base = _median([b for _, b in runs], ("solve_s", "solve_cpu_s", "clarabel_s"))
        agree = abs(ours["objective"] - base["objective"]) / abs(base["objective"])
        rows.append((n, ours, base, agree))
        print(
            f"cluster {n:>6} x 3: polyfleet {ours['seconds']:.3f} s ({ours['cpu_s']:.3f} CPU), "
            f"cvxpy+CLARABEL {base['solve_s']:.3f} s ({base['solve_cpu_s']:.3f} CPU), "
            f"t {ours['objective']:.9f} vs {base['objective']:.9f} ({agree:.1e})",
            flush=True,
        )
    served = []
    for n_w, n_p in fleet:
        for kind in ("max_served", "max_min_served"):
            res = _case(kind, n_w, n_p)
            served.append(res)
            print(
                f"{kind:>14} {n_w:>7} x {n_p}: {res['seconds']:.2f} s ({res['cpu_s']:.2f} CPU), "
                f"{res['rounds']} rounds, gap {res['gap']:.1e}, binding {res['binding']}",
                flush=True,
            )
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    lines = [
        f"\n## fairness_scale — {date.today()} — {machine}, Python {platform.python_version()}\n",
        "Reproduce: `pip install -e '.[bench]' && python bench/fairness_scale.py`. Load average "
        f"at the start {load[0]:.1f} on {os.cpu_count()} cores (the machine is shared): CPU "
        "seconds are given beside wall seconds, medians of "
        f"{REPEAT} alternated runs. polyfleet's time is its whole solve (merging identical "
        "jobs — none merge here —, the max-min level, then the least cost holding it); the "
        "baseline's is `Problem.solve` (canonicalisation and CLARABEL) of the max-min LP alone, "
        "CLARABEL's own share in its column.\n",
        "| jobs x kinds | polyfleet s (CPU s) | rounds | gap | cvxpy + CLARABEL s (CPU s) "
        "| of which CLARABEL s | speed-up wall (CPU) | max-min level: polyfleet, its proved "
        "bound, CLARABEL | agrees |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, ours, base, agree in rows:
        lines.append(
            f"| {n:,} x 3 | {ours['seconds']:.3f} ({ours['cpu_s']:.3f}) | {ours['rounds']} | "
            f"{ours['gap']:.1e} | {base['solve_s']:.2f} ({base['solve_cpu_s']:.2f}) | "
            f"{base['clarabel_s']:.2f} | {base['solve_s'] / ours['seconds']:.1f}x "
            f"({base['solve_cpu_s'] / ours['cpu_s']:.1f}x) | {ours['objective']:.8f}, "
            f"{ours['bound']:.8f}, {base['objective']:.8f} | {agree:.1e} rel |"
        )
    lines += [
        "",
        "Served objectives on bench/plan_scale.py's fleet, its power cap at 0.9 of its own and "
        "NVIDIA's power share at most 40 % (both bind), the solve in process (merging, both "
        "stages); binding: the limits at their bound with a positive price:",
        "",
        "| objective | workloads x pools | s (CPU s) | rounds | gap | objective | binding | "
        "peak GiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in served:
        lines.append(
            f"| {r['kind']} | {r['workloads']:,} x {r['pools']} | {r['seconds']:.2f} "
            f"({r['cpu_s']:.2f}) | {r['rounds']} | {r['gap']:.1e} | {r['objective']:.6g} | "
            f"{', '.join(r['binding'])} + {r['capacity_binding']} pools | {r['peak_gib']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_record:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
