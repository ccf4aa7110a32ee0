"""The served objectives as a user runs them: `polyfleet plan FILE --json > out` on a JSON
scenario on disk, timed as a whole process (wall clock and peak RSS from /usr/bin/time -v),
beside the plan's own in-process split (load, matrix, build, solve) read from its output.

The scenario: n custom workloads with measured throughputs on the 13 NVIDIA and AMD
accelerators of the catalog that publish a power figure (each workload on ~70 % of them), 50
pools of those kinds, a power cap at 0.7 of what serving every workload on its least-power
pools would draw and NVIDIA's power share at most 40 %: both bind under max_served and
max_min_served (the pools hold 1.6 times what the demand needs).

    python bench/served_process.py               # 100k x 50, appends to BENCHMARKS.md
    python bench/served_process.py --workloads 10000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KINDS = [
    *("a100-80gb", "h100-sxm", "h200-sxm", "b200", "b300", "gb200", "gb300", "vr200"),
    *("mi250x", "mi300x", "mi325x", "mi355x", "mi455x"),
]
OBJECTIVES = ("max_served", "max_min_served")


def pools(n_p: int, rng: np.random.Generator) -> list[dict]:
    """n_p pools spread over KINDS, each with its own size (filled in later), PUE and price."""
    return [
        {
            "name": f"pool{j}",
            "accelerator": KINDS[j % len(KINDS)],
            "count": 1,
            "pue": round(float(rng.uniform(1.1, 1.4)), 3),
            "cost": {"per_gpu_hour": round(float(rng.uniform(1.0, 5.0)), 3)},
        }
        for j in range(n_p)
    ]


def pool_mw(fleet: list[dict]) -> np.ndarray:
    """Each pool's MW per accelerator as the planner computes it (one tiny scenario)."""
    from polyfleet.inputs.scenario import parse_scenario
    from polyfleet.plan.placement import prepare

    tiny = {
        "name": "mw",
        "objective": "min_cost",
        "pools": fleet,
        "workloads": [
            {
                "name": "w",
                "kind": "custom",
                "demand": {"value": 1.0, "unit": "jobs/s"},
                "throughput": dict.fromkeys(KINDS, 1.0),
            }
        ],
    }
    return np.asarray(prepare(parse_scenario(tiny)).problem.mw, dtype=float)


def scenario(n_w: int, n_p: int, objective: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    fleet = pools(n_p, rng)
    speed = rng.uniform(0.5, 3.0, len(KINDS))
    T = speed[None, :] * rng.uniform(0.7, 1.3, (n_w, len(KINDS)))
    T *= rng.random((n_w, len(KINDS))) < 0.7
    T[np.arange(n_w), rng.integers(0, len(KINDS), n_w)] = rng.uniform(0.5, 3.0, n_w)
    T = np.round(T, 4)
    D = np.round(rng.uniform(1.0, 100.0, n_w), 3)
    kind_of = np.array([KINDS.index(p["accelerator"]) for p in fleet])
    Tp = T[:, kind_of]  # per pool
    with np.errstate(divide="ignore"):
        per = np.where(Tp > 0, D[:, None] / np.where(Tp > 0, Tp, 1.0), np.inf)
    need = per.min(axis=1).sum()
    mw = pool_mw(fleet)
    need_mw = (per * mw[None, :]).min(axis=1).sum()
    for p, n in zip(fleet, rng.uniform(0.8, 1.2, n_p) * need * 1.6 / n_p, strict=True):
        p["count"] = int(np.ceil(n))
    workloads = [
        {
            "name": f"w{i}",
            "kind": "custom",
            "demand": {"value": float(D[i]), "unit": "jobs/s"},
            "throughput": {KINDS[k]: float(T[i, k]) for k in np.flatnonzero(T[i])},
        }
        for i in range(n_w)
    ]
    return {
        "name": f"served-{n_w}x{n_p}",
        "objective": objective,
        "limits": {
            "power_cap_mw": round(float(0.7 * need_mw), 3),
            "vendor_share": {"measure": "power", "max": {"nvidia": 0.4}},
        },
        "pools": fleet,
        "workloads": workloads,
    }


def whole_process(path: Path, out: Path, matrix: bool) -> dict:
    """`polyfleet plan PATH --json [--matrix] > OUT` under /usr/bin/time -v."""
    exe = Path(sys.executable).parent / "polyfleet"
    flags = ["--matrix"] if matrix else []
    with out.open("wb") as sink:
        run = subprocess.run(
            ["/usr/bin/time", "-v", str(exe), "plan", str(path), "--json", *flags],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    err = run.stderr
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    cpu = sum(float(v) for v in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err))
    if wall is None or rss is None:
        raise SystemExit(f"no timing from /usr/bin/time: {err[-2000:]}")
    h, m, s = (float(g) if g else 0.0 for g in wall.groups())
    if run.returncode != 0:
        raise SystemExit(f"polyfleet plan exited {run.returncode}: {err[-2000:]}")
    record = json.loads(out.read_bytes())
    return {
        "wall": h * 3600 + m * 60 + s,
        "cpu": cpu,
        "rss_gib": int(rss[1]) / 2**20,
        "out_mb": out.stat().st_size / 1e6,
        "status": record["status"],
        "objective_value": record["objective_value"],
        "gap": record["optimality_gap"],
        "timings": record["timings"],
        "rounds": record["solver"].get("iterations"),
        "binding": [b["constraint"] for b in record.get("binding") or []],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workloads", type=int, default=100_000)
    ap.add_argument("--pools", type=int, default=50)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    n_w, n_p = args.workloads, args.pools
    rows = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for objective in OBJECTIVES:
            path = Path(tmp) / f"served-{objective}.json"
            t0 = time.perf_counter()
            path.write_text(json.dumps(scenario(n_w, n_p, objective)))
            made = time.perf_counter() - t0
            for matrix in (False, True):
                res = whole_process(path, Path(tmp) / "out.json", matrix)
                res.update(
                    objective=objective,
                    matrix=matrix,
                    in_mb=path.stat().st_size / 1e6,
                    made=made,
                )
                print(json.dumps(res), flush=True)
                rows.append(res)
    if args.no_write:
        return
    lines = [
        f"\n## served_process — {date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n",
        "Reproduce: `python bench/served_process.py`. The served objectives as a user runs them: "
        f"`polyfleet plan FILE --json > out` on a {n_w:,} x {n_p} JSON scenario on disk (custom "
        "workloads with measured throughputs, the power cap and NVIDIA's power share both "
        "binding), wall clock and peak RSS of the whole process by /usr/bin/time -v; beside it "
        "the plan's own in-process split, from its `timings` (rest: the process less that "
        "split: start-up, imports, the record and writing it). `--json` prints the compact "
        "record (non-zero assignments; the default); `--matrix` adds every matrix cell. Load "
        f"average at the start {load:.1f} on 2 cores (the machine is shared: CPU seconds, user "
        "and system, beside the wall clock).\n",
        "| objective | output | input MB | whole process s (CPU s) | peak GiB | output MB "
        "| load s | matrix s | build s | solve s | rest s (output) | gap | binding |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["timings"]
        inside = sum(t.get(k) or 0.0 for k in ("load", "matrix", "deals", "build", "solve"))
        limits = [b for b in r["binding"] if not b.startswith("capacity")]
        lines.append(
            f"| {r['objective']} | {'--json --matrix' if r['matrix'] else '--json'} "
            f"| {r['in_mb']:.0f} | {r['wall']:.1f} ({r['cpu']:.1f}) | {r['rss_gib']:.2f} "
            f"| {r['out_mb']:.0f} | {t['load']:.1f} | {t['matrix']:.1f} | {t['build']:.1f} "
            f"| {t['solve']:.1f} | {r['wall'] - inside:.1f} | {r['gap']:.1e} "
            f"| {', '.join(limits)} |"
        )
    with (ROOT / "BENCHMARKS.md").open("a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
