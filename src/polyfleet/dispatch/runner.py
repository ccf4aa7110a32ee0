"""Run jobs on the connected Ray cluster: validate, record, route, submit, watch, re-route.

Everything that can be checked is checked before the first submission (workloads the plan
knows, pools the cluster has). Every job is in the ledger before it is submitted. A task pinned
to `pool:<name>` that fails for a node reason (worker or node died, the pool vanished while it
waited) is re-routed to the next pool the plan gives its workload, up to `retries` times; one that
raises in its own code is failed with that error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyfleet.dispatch.cluster import cluster_pools
from polyfleet.dispatch.jobs import Job, execute
from polyfleet.dispatch.ledger import Ledger
from polyfleet.dispatch.router import Router, plan_split
from polyfleet.errors import PolyfleetError

__all__ = ["RunReport", "run_jobs", "validate"]

LIVENESS_EVERY_S = 0.5


@dataclass
class RunReport:
    counts: dict[str, int]
    seconds: float
    submitted: int
    rerouted: int
    profiles: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "seconds": self.seconds,
            "submitted": self.submitted,
            "rerouted": self.rerouted,
            "profiles": self.profiles,
        }


def validate(
    jobs: Sequence[Job], plan: Mapping[str, Any], pools: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """The plan's split, once every job's workload is in the plan and on live pools."""
    if plan.get("status") != "optimal":
        raise PolyfleetError(
            f"the plan's status is {plan.get('status')!r}: run jobs on an optimal plan"
        )
    split = plan_split(plan)
    known = sorted({w["name"] for w in plan.get("workloads", [])})
    for job in jobs:
        if job.workload not in known:
            raise PolyfleetError(
                f"job {job.id}: unknown workload {job.workload!r}; the plan has {', '.join(known)}"
            )
        if job.workload not in split:
            raise PolyfleetError(
                f"job {job.id}: the plan assigns workload {job.workload!r} no pool"
            )
    for workload in {j.workload for j in jobs}:
        for pool in split[workload]:
            if pool not in pools:
                raise PolyfleetError(
                    f"pool {pool!r} (the plan gives it workload {workload!r}) is not in the "
                    f"cluster; the cluster has {', '.join(sorted(pools)) or 'no pools'}"
                )
        if not any(pools[p]["alive"] for p in split[workload]):
            raise PolyfleetError(f"no live node in any pool the plan gives {workload!r}")
    return split


def _node_failure() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    names = (
        "WorkerCrashedError",
        "NodeDiedError",
        "LocalRayletDiedError",
        "RaySystemError",
        "ObjectLostError",
        "OwnerDiedError",
        "TaskCancelledError",
        "TaskUnschedulableError",
        "ActorDiedError",
    )
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


def run_jobs(
    jobs: Sequence[Job],
    plan: Mapping[str, Any],
    ledger: Ledger,
    *,
    retries: int = 3,
    profiles_dir: str | Path | None = None,
    on_change: Callable[[dict[str, int]], None] | None = None,
    poll_s: float = 0.1,
    timeout_s: float | None = None,
) -> RunReport:
    """Dispatch `jobs` and wait for every one to end (or `timeout_s`: the rest fail, saying so)."""
    import ray
    from ray.exceptions import RayTaskError

    t0 = time.perf_counter()
    pools = cluster_pools()
    split = validate(jobs, plan, pools)
    router = Router(split, sorted(pools))
    ledger.add((j.id, j.workload, j.run) for j in jobs)
    ledger.requeue_orphans()
    node_failure = _node_failure()
    remote = ray.remote(execute)
    inflight: dict[Any, tuple[str, int, str, str]] = {}  # ref -> job, attempt, pool, workload
    stats = {"submitted": 0, "rerouted": 0}
    profiles: list[str] = []

    def submit(batch: list[tuple[str, str, int, str, dict[str, Any]]]) -> None:
        ledger.start([(job, pool, attempt) for job, pool, attempt, _, _ in batch])
        for job, pool, attempt, workload, run in batch:
            ref = remote.options(
                resources={f"pool:{pool}": 1.0}, num_cpus=0, max_retries=0, name=job
            ).remote(run)
            inflight[ref] = (job, attempt, pool, workload)
        stats["submitted"] += len(batch)

    # first submissions: every waiting job, routed by workload in plan proportions
    waiting = ledger.jobs("queued") + ledger.jobs("rerouted")
    router.set_free({p: v["free"] / v["slots"] if v["slots"] else 0.0 for p, v in pools.items()})
    by_workload: dict[str, list[dict[str, Any]]] = {}
    for row in waiting:
        by_workload.setdefault(row["workload"], []).append(row)
    batch = []
    for workload, rows in by_workload.items():
        for row, pool in zip(rows, router.route_names(workload, len(rows)), strict=True):
            batch.append((row["id"], pool, row["attempt"] + 1, workload, row["run"]))
    submit(batch)
    if on_change:
        on_change(ledger.counts())

    alive = {p for p, v in pools.items() if v["alive"]}
    last_check = time.monotonic()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while inflight:
        if deadline is not None and time.monotonic() > deadline:
            late = [
                (job, attempt, "failed", f"timed out after {timeout_s:g} s on {pool}")
                for job, attempt, pool, _ in inflight.values()
            ]
            for ref in inflight:
                ray.cancel(ref, force=True)
            inflight.clear()
            ledger.finish(late)
            break
        ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=poll_s)
        outcomes: list[tuple[str, int, str, Any]] = []
        lost: list[tuple[str, int, str, str, str]] = []
        for ref in ready:
            job, attempt, pool, workload = inflight.pop(ref)
            try:
                value = ray.get(ref)
            except RayTaskError as exc:  # the job's own code raised
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                outcomes.append((job, attempt, "failed", f"{type(cause).__name__}: {cause}"))
                continue
            except node_failure as exc:
                lost.append((job, attempt, pool, workload, f"{type(exc).__name__} on {pool}"))
                continue
            if profiles_dir is not None and "profile" in value:
                profiles.append(_write_profile(Path(profiles_dir), job, pool, value["profile"]))
                value = {**value, "profile": profiles[-1]}
            outcomes.append((job, attempt, "succeeded", {"pool": pool, **value}))
        if time.monotonic() - last_check >= LIVENESS_EVERY_S:
            last_check = time.monotonic()
            now = cluster_pools()
            alive = {p for p, v in now.items() if v["alive"]}
            for ref, (job, attempt, pool, workload) in list(inflight.items()):
                if pool not in alive:  # its pool is gone: the task can never run there
                    inflight.pop(ref)
                    ray.cancel(ref, force=True)
                    lost.append((job, attempt, pool, workload, f"pool {pool} lost its nodes"))
        retry = []
        for job, attempt, _pool, workload, why in lost:
            row = ledger.job(job)
            assert row is not None
            nxt = router.next_pool(workload, row["path"], sorted(alive))
            if attempt > retries or nxt is None:
                reason = "retry limit reached" if attempt > retries else "no other pool in the plan"
                outcomes.append((job, attempt, "failed", f"{why}; {reason}"))
            else:
                outcomes.append((job, attempt, "rerouted", why))
                retry.append((job, nxt, attempt + 1, workload, row["run"]))
        ledger.finish(outcomes)
        if retry:
            stats["rerouted"] += len(retry)
            submit(retry)
        if on_change and (outcomes or retry):
            on_change(ledger.counts())
    return RunReport(
        counts=ledger.counts(),
        seconds=time.perf_counter() - t0,
        submitted=stats["submitted"],
        rerouted=stats["rerouted"],
        profiles=profiles,
    )


def _write_profile(folder: Path, job: str, pool: str, profile: dict[str, Any]) -> str:
    """A probe job's measurement as a profile file, for `polyfleet plan --profiles`."""
    from polyfleet.probe.profile import parse_profile
    from polyfleet.report.files import write_atomic

    checked = parse_profile(profile, file=f"job {job}")
    path = folder / f"{pool}--{job}.json"
    write_atomic(path, checked.to_json())
    return str(path)
