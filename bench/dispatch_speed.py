"""Dispatch speed: the router's decisions in-process, and 2,000 trivial jobs end to end on a local
Ray cluster (ledger, routing, pinning, watching) against the same tasks submitted straight to Ray
with the same resources, measured in the same run. Targets (issue 6): >= 50,000 router decisions/s;
end to end <= 1.3x Ray's own time.

    python bench/dispatch_speed.py            # appends a section to BENCHMARKS.md
    python bench/dispatch_speed.py --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def router_rate(n_jobs: int = 1_000_000) -> tuple[float, float]:
    """(batch decisions/s, re-route decisions/s) for 10 workloads over 8 pools."""
    from polyfleet.dispatch.router import Router

    rng = np.random.default_rng(0)
    pools = [f"p{i}" for i in range(8)]
    split = {f"w{k}": {p: float(rng.uniform(0, 100)) for p in pools} for k in range(10)}
    router = Router(split, pools)
    router.set_free({p: float(rng.uniform(0.2, 1.0)) for p in pools})
    t0 = time.perf_counter()
    per = n_jobs // 10
    for k in range(10):
        router.route(f"w{k}", per)
    batch = n_jobs / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(20_000):
        router.next_pool(f"w{i % 10}", tried=[pools[i % 8]], alive=pools)
    reroute = 20_000 / (time.perf_counter() - t0)
    return batch, reroute


def end_to_end(n_jobs: int, repeats: int) -> tuple[list[float], list[float]]:
    import ray
    from ray.cluster_utils import Cluster

    from polyfleet.dispatch.cluster import node_labels, node_resources
    from polyfleet.dispatch.jobs import execute
    from polyfleet.dispatch.ledger import Ledger
    from polyfleet.dispatch.runner import run_jobs
    from polyfleet.inputs.jobs import Job

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    for name, acc, vendor in (("nv", "h100-sxm", "nvidia"), ("amd", "mi300x", "amd")):
        node = {"pool": name, "accelerator": acc, "vendor": vendor, "slots": 8}
        cluster.add_node(num_cpus=1, resources=node_resources(node), labels=node_labels(node))
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    plan = {
        "status": "optimal",
        "workloads": [{"name": "noop"}],
        "assignments": [
            {"workload": "noop", "pool": "nv", "accelerators": 2.0},
            {"workload": "noop", "pool": "amd", "accelerators": 1.0},
        ],
    }
    run = {"entry": "polyfleet.dispatch.demo:noop", "args": {}}
    remote = ray.remote(execute)
    # warm up: start the workers of both pools before anything is timed
    ray.get(
        [
            remote.options(resources={f"pool:{'nv' if i % 3 else 'amd'}": 1.0}, num_cpus=0).remote(
                run
            )
            for i in range(n_jobs)
        ]
    )
    ours, direct = [], []
    try:
        for r in range(repeats):
            t0 = time.perf_counter()
            refs = [
                remote.options(
                    resources={f"pool:{'nv' if i % 3 else 'amd'}": 1.0}, num_cpus=0, max_retries=0
                ).remote(run)
                for i in range(n_jobs)
            ]
            ray.get(refs)
            direct.append(time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as tmp:
                ledger = Ledger(Path(tmp) / "ledger.sqlite")
                jobs = [Job(id=f"r{r}-{i}", workload="noop", run=run) for i in range(n_jobs)]
                t0 = time.perf_counter()
                report = run_jobs(jobs, plan, ledger)
                ours.append(time.perf_counter() - t0)
                assert report.counts["succeeded"] == n_jobs, report.counts
                ledger.close()
    finally:
        ray.shutdown()
        cluster.shutdown()
    return ours, direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    batch, reroute = router_rate()
    ours, direct = end_to_end(args.jobs, args.repeats)
    mo, md = statistics.median(ours), statistics.median(direct)
    section = "\n".join(
        [
            f"\n## dispatch_speed — {date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, Ray 2.60.0\n",
            "Reproduce: `python bench/dispatch_speed.py`. Targets (issue 6): >= 50,000 router "
            "decisions/s; end to end <= 1.3x Ray's own time for the same tasks.\n",
            "| measure | result |",
            "|---|---|",
            f"| router, batch decisions (10 workloads x 8 pools, 1M jobs) | {batch:,.0f} jobs/s |",
            f"| router, re-route decisions (one job at a time) | {reroute:,.0f} jobs/s |",
            f"| {args.jobs:,} no-op jobs, polyfleet run_jobs (ledger, routing, pinning, watching), "
            f"median of {args.repeats} | {mo:.2f} s |",
            f"| the same tasks submitted straight to Ray with the same resources, median | "
            f"{md:.2f} s |",
            f"| ratio | {mo / md:.2f}x |",
            "\nLocal cluster: a head with no CPUs and two pool nodes of 8 slots each, all on this "
            f"machine, warmed up with {args.jobs:,} tasks first; runs alternate (direct, then "
            "polyfleet). All runs, s: polyfleet "
            + ", ".join(f"{x:.2f}" for x in ours)
            + "; direct "
            + ", ".join(f"{x:.2f}" for x in direct)
            + ".",
        ]
    )
    print(section)
    if not args.no_write:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(section + "\n")


if __name__ == "__main__":
    main()
