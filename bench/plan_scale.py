"""Placement at scale, as a user runs it: `polyfleet plan FILE --json > out`, the whole process
(Python start-up, imports, reading and checking the file, the matrix, the solve, the record and
writing it), from a scenario file on disk in both input forms:

- JSON: every workload written out, `throughput: {accelerator: value}` on each;
- Parquet: a small JSON scenario naming `workloads: {table: workloads.parquet}` and
  `throughput: {table: throughput.parquet}` (long form: workload, accelerator, value).

The fleets are random (measured throughput on custom accelerators, about 70 % of cells eligible)
with the fleet's power cap and an NVIDIA power-share cap both binding; the script checks that
both are binding and that the two forms give the same cost. Wall time and peak memory (max RSS,
from `os.wait4` on that process alone) of each run; the median of `--repeat` runs is reported.

Beside it, in the same run:
- the in-process split of one run (load, matrix, build, solve, the record, the JSON written),
  from the plan's own timings and a timer around the dump;
- the baseline: the same command at `--baseline-commit` (before issue 12: object-per-cell input,
  every matrix cell in the JSON), run from that commit's sources with the same Python, on the
  JSON form at 10k x 10 (at 100k x 50 it needs about 11 GiB; `--baseline-large` runs it there).

    python bench/plan_scale.py               # 10k x 10 and 100k x 50; appends to BENCHMARKS.md
    python bench/plan_scale.py --quick       # 10k x 10 only

The in-process core against linprog (issue 2) is `bench/plan_core.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_core import random_problem  # noqa: F401  (leverage_scale, record_scale use it)

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "c811810"  # main before issue 12
GIB = 1024**3
POWER_CUT = 0.97  # the power cap: this times the power the cheapest plan without it draws


def fleet(n_w: int, n_p: int, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scenario's head (catalog, pools, limits) and its workloads as columns: measured
    throughput (rounded as written), demand. NVIDIA pools are the cheaper, so the share cap
    binds; the cheaper parts draw more power, so a power cap (`with_power_cap`) costs money."""
    rng = np.random.default_rng(seed)
    vendor = np.where(np.arange(n_p) % 2 == 1, "nvidia", "amd")
    speed = rng.uniform(0.5, 3.0, n_p)
    T = speed[None, :] * rng.uniform(0.7, 1.3, (n_w, n_p))
    T *= rng.random((n_w, n_p)) < 0.7
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = rng.uniform(0.5, 3.0, n_w)
    T = np.round(T, 4)
    demand = np.round(rng.uniform(1.0, 100.0, n_w), 3)
    need = float((demand / T.max(axis=1)).sum())  # accelerators, each on its fastest
    price = np.where(vendor == "nvidia", rng.uniform(1.0, 3.0, n_p), rng.uniform(2.0, 5.0, n_p))
    tdp = np.round(1800 - 250 * price + rng.uniform(-50, 50, n_p))  # the cheap parts draw more
    catalog = [
        {"id": f"acc-{j}", "vendor": str(vendor[j]), "memory_gb": 141, "tdp_w": float(tdp[j])}
        for j in range(n_p)
    ]
    counts = (rng.uniform(0.8, 1.2, n_p) * need * 1.6 / n_p).astype(int) + 1
    head = {
        "name": f"scale-{n_w}x{n_p}",
        "catalog": catalog,
        "pools": [
            {
                "name": f"p{j}",
                "accelerator": f"acc-{j}",
                "count": int(counts[j]),
                "pue": 1.3,
                "cost": {"per_gpu_hour": round(float(price[j]), 3)},
            }
            for j in range(n_p)
        ],
        "limits": {
            "vendor_share": {"measure": "power", "max": {"nvidia": 0.55}},
        },
    }
    return head, {"T": T, "demand": demand}


def with_power_cap(head: dict[str, Any], cols: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`head` with a power cap `POWER_CUT` times what the cheapest plan without one draws: a
    binding cap that a plan can still meet (a fixed figure is infeasible at some sizes)."""
    import orjson

    path = write_json(folder, head, cols)
    whole_process(path, folder / "free.json")
    free = orjson.loads((folder / "free.json").read_bytes())
    (folder / "free.json").unlink()
    limits = {**head["limits"], "power_cap_mw": round(free["power"]["mw"] * POWER_CUT, 3)}
    return {**head, "limits": limits}


def write_json(folder: Path, head: dict[str, Any], cols: dict[str, Any]) -> Path:
    """The scenario with every workload written out."""
    import orjson

    T, demand = cols["T"], cols["demand"]
    accs = [f"acc-{j}" for j in range(T.shape[1])]
    workloads = [
        {
            "name": f"w{i}",
            "kind": "custom",
            "demand": {"value": float(demand[i]), "unit": "req/s"},
            "throughput": {accs[j]: float(T[i, j]) for j in np.flatnonzero(T[i])},
        }
        for i in range(T.shape[0])
    ]
    path = folder / "scenario.json"
    path.write_bytes(orjson.dumps({**head, "workloads": workloads}))
    return path


def write_parquet(folder: Path, head: dict[str, Any], cols: dict[str, Any]) -> Path:
    """The scenario naming its workloads and throughput tables (long form)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    T, demand = cols["T"], cols["demand"]
    names = np.array([f"w{i}" for i in range(T.shape[0])], dtype=object)
    w, a = np.nonzero(T)
    pq.write_table(
        pa.table({"name": names, "demand": demand, "unit": ["req/s"] * len(names)}),
        folder / "workloads.parquet",
    )
    accs = np.array([f"acc-{j}" for j in range(T.shape[1])], dtype=object)
    pq.write_table(
        pa.table({"workload": names[w], "accelerator": accs[a], "value": T[w, a]}),
        folder / "throughput.parquet",
    )
    path = folder / "tables.json"
    scenario = {
        **head,
        "workloads": {"table": "workloads.parquet"},
        "throughput": {"table": "throughput.parquet"},
    }
    path.write_text(json.dumps(scenario))
    return path


def whole_process(scenario: Path, out: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`polyfleet plan SCENARIO --json > OUT` in a fresh process: wall and CPU seconds (user +
    system: what the process itself used, whatever else the machine runs), peak GiB."""
    exe = shutil.which("polyfleet", path=str(Path(sys.executable).parent))
    cmd = [exe or "polyfleet", "plan", str(scenario), "--json"]
    with open(out, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}: {err[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_gib": usage.ru_maxrss * 1024 / GIB,
        "bytes": out.stat().st_size,
    }


def split(scenario: Path, out: Path) -> dict[str, float]:
    """One plan in this process: the imports the plan needs (loaded lazily by the command), the
    plan's own timings, the record, and the JSON written."""
    t0 = time.perf_counter()
    import polyfleet.cli  # what the command imports before it reads the file
    import polyfleet.inputs.scenario
    import polyfleet.plan.placement
    import polyfleet.results.plan  # noqa: F401
    from polyfleet import app as api
    from polyfleet.report.files import write_atomic
    from polyfleet.results.base import dump_record

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    record = api.plan(scenario)
    t_plan = time.perf_counter() - t1
    t2 = time.perf_counter()
    write_atomic(out, dump_record(record))
    t_write = time.perf_counter() - t2
    steps = record.timings.model_dump(exclude_none=True)
    return {
        "imports": t_import,
        **steps,
        "record": t_plan - sum(steps.values()),
        "write": t_write,
    }


def check_plan(out: Path) -> dict[str, Any]:
    """The plan's cost, and that it is optimal with both caps binding."""
    import orjson

    plan = orjson.loads(out.read_bytes())
    assert plan["status"] == "optimal", plan["status"]
    kinds = {b["key"]["kind"] for b in plan["binding"]}
    assert {"power", "share_max"} <= kinds, f"binding: {kinds}"
    return {
        "cost": plan["cost_per_hour"],
        "gap": plan["optimality_gap"],
        "assignments": len(plan["assignments"]),
        "rounds": plan["solver"]["iterations"],
    }


def baseline_env(commit: str, into: Path) -> dict[str, str]:
    """The environment that runs `polyfleet` from `commit`'s sources (same Python, same
    packages)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "archive", commit, "src"], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return {**os.environ, "PYTHONPATH": str(into / "src")}


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = [(10_000, 10)] + ([] if args.quick else [(100_000, 50)])
    rows = []
    with tempfile.TemporaryDirectory(prefix="plan_scale") as tmp_s:
        tmp = Path(tmp_s)
        env = None
        if args.baseline_commit:
            env = baseline_env(args.baseline_commit, tmp / "baseline")
        for n_w, n_p in sizes:
            folder = tmp / f"{n_w}x{n_p}"
            folder.mkdir()
            head, cols = fleet(n_w, n_p)
            head = with_power_cap(head, cols, folder)
            files = {
                "JSON": write_json(folder, head, cols),
                "Parquet": write_parquet(folder, head, cols),
            }
            repeat = args.repeat if n_w <= 10_000 else args.repeat_large
            costs = {}
            for form, path in files.items():
                load = os.getloadavg()[0]
                runs = [whole_process(path, folder / "plan.json") for _ in range(repeat)]
                got = check_plan(folder / "plan.json")
                costs[form] = got["cost"]
                in_proc = json.loads(
                    subprocess.run(
                        [sys.executable, __file__, "--split", str(path), str(folder / "s.json")],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout.splitlines()[-1]
                )
                inputs = [path] + (
                    [folder / "workloads.parquet", folder / "throughput.parquet"]
                    if form == "Parquet"
                    else []
                )
                row = {
                    "workloads": n_w,
                    "pools": n_p,
                    "form": form,
                    "load": load,
                    "input_mb": sum(p.stat().st_size for p in inputs) / 1e6,
                    "wall_s": statistics.median(r["wall_s"] for r in runs),
                    "wall_all": [round(r["wall_s"], 2) for r in runs],
                    "cpu_s": statistics.median(r["cpu_s"] for r in runs),
                    "peak_gib": max(r["peak_gib"] for r in runs),
                    "plan_mb": runs[-1]["bytes"] / 1e6,
                    "split": in_proc,
                    **got,
                }
                if form == "JSON" and env is not None and (n_w <= 10_000 or args.baseline_large):
                    row["baseline"] = whole_process(path, folder / "base.json", env)
                rows.append(row)
                print(json.dumps(row), flush=True)
            rel = abs(costs["JSON"] - costs["Parquet"]) / costs["JSON"]
            assert rel < 1e-6, f"JSON and Parquet plans differ in cost: {rel:.1e}"
    return rows


def table(rows: list[dict[str, Any]], commit: str | None) -> str:
    """The BENCHMARKS.md section of one run."""
    out = [
        f"\n## plan_scale — {date.today()} — {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n",
        "`polyfleet plan FILE --json > out`, the whole process from a file on disk (median wall of "
        "the runs listed; CPU = user + system seconds of the process; peak = its max RSS; load = "
        "the machine's 1-minute load average as the row started: the machine is shared, and wall "
        "time includes waiting for a core where CPU time does not). Power cap and NVIDIA "
        "power-share cap binding; the JSON and Parquet forms give the same cost (checked). Reproduce: "
        "`python bench/plan_scale.py`.\n",
        "| workloads x pools | input | input MB | wall s (runs) | CPU s | peak GiB | plan JSON MB "
        "| assignments | rounds | load | baseline wall s | baseline CPU s | baseline peak GiB "
        "| speed-up (wall) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = r.get("baseline")
        base = (
            f"{b['wall_s']:.2f} | {b['cpu_s']:.2f} | {b['peak_gib']:.2f} | "
            f"{b['wall_s'] / r['wall_s']:.1f}x"
            if b
            else "- | - | - | -"
        )
        out.append(
            f"| {r['workloads']:,} x {r['pools']} | {r['form']} | {r['input_mb']:.1f} | "
            f"{r['wall_s']:.2f} ({', '.join(f'{w:.2f}' for w in r['wall_all'])}) | "
            f"{r['cpu_s']:.2f} | {r['peak_gib']:.2f} | {r['plan_mb']:.1f} | {r['assignments']:,} | "
            f"{r['rounds']} | {r['load']:.1f} | {base} |"
        )
    steps = list(rows[0]["split"])
    out += [
        "",
        "In-process split of one run (seconds; `record`: the plan's figures and the validated "
        "record; `write`: the JSON dumped, checked finite and written):",
        "",
        "| workloads x pools | input | " + " | ".join(steps) + " | sum |",
        "|---|---|" + "---|" * (len(steps) + 1),
    ]
    for r in rows:
        s = r["split"]
        out.append(
            f"| {r['workloads']:,} x {r['pools']} | {r['form']} | "
            + " | ".join(f"{s.get(k, 0.0):.2f}" for k in steps)
            + f" | {sum(s.values()):.2f} |"
        )
    if commit:
        out += [
            "",
            f"Baseline: the same command run from commit {commit}'s sources (before issue 12: "
            "every workload validated as objects, every matrix cell in the JSON), same Python, "
            "same file, in the same run.",
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10k x 10 only")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each 10k case")
    ap.add_argument("--repeat-large", type=int, default=1, help="runs of each 100k case")
    ap.add_argument("--baseline-commit", default=BASELINE_COMMIT, help="'' for none")
    ap.add_argument("--baseline-large", action="store_true", help="the baseline at 100k too")
    ap.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    ap.add_argument("--split", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.split:
        print(json.dumps(split(*args.split)))
        return
    rows = measure(args)
    text = table(rows, args.baseline_commit)
    print(text)
    if not args.no_record:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
