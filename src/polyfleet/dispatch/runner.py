"""Run jobs on the connected Ray cluster: validate, record, route, submit, watch, re-route.

Everything that can be checked is checked before the first submission (workloads the plan
knows, pools the cluster has). Every job is in the ledger before it is submitted, and a run
submits only its own job file's jobs: the unfinished jobs other files left in the ledger are
reported, not run. A pool the plan names that has no live node is reported and its share goes to
the workload's other pools; the jobs of a workload with no live pool fail alone, saying so (and
the run is refused when no job could run at all). A task pinned to `pool:<name>` that fails for a
node reason (worker or node died, the pool vanished while it waited) is re-routed to the next
pool the plan gives its workload, up to `retries` times; one that raises in its own code is
failed with that error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyfleet.dispatch.cluster import cluster_pools
from polyfleet.dispatch.jobs import execute
from polyfleet.dispatch.ledger import Ledger, unknown_states
from polyfleet.dispatch.router import Router
from polyfleet.errors import InputError, PolyfleetError
from polyfleet.inputs.jobs import Job, safe_name
from polyfleet.results.plan import PlanRecord
from polyfleet.results.run import RunRecord, run_notes

__all__ = [
    "Placement",
    "RunReport",
    "match_plan",
    "run_jobs",
    "validate",
]

LIVENESS_EVERY_S = 0.5


@dataclass
class RunReport:
    """What a run did to its own job file's jobs (counts are of those jobs only)."""

    counts: dict[str, int]
    seconds: float
    submitted: int
    rerouted: int
    profiles: list[str] = field(default_factory=list)
    missing_pools: dict[str, str] = field(default_factory=dict)  # pool -> why it took no job
    leftovers: dict[str, int] = field(default_factory=dict)  # other job file -> unfinished jobs
    unknown: dict[str, int] = field(default_factory=dict)  # state no polyfleet writes -> jobs

    def record(self, ledger: str | Path) -> RunRecord:
        """The run record of this report on the ledger at `ledger`."""
        return RunRecord.build({"ledger": str(ledger), **self.to_dict()})

    def notes(self, ledger: str | Path) -> list[str]:
        """What the user must know beyond the counts: pools that took no job, jobs not run."""
        return run_notes(self.record(ledger))

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "seconds": self.seconds,
            "submitted": self.submitted,
            "rerouted": self.rerouted,
            "profiles": self.profiles,
            "missing_pools": self.missing_pools,
            "leftovers": self.leftovers,
            "unknown_states": self.unknown,
        }


@dataclass
class Placement:
    """Where the jobs can go: the plan's split, the pools it names that cannot take jobs, and the
    workloads none of whose pools can."""

    split: dict[str, dict[str, float]]
    live: list[str]
    missing: dict[str, str]
    stranded: dict[str, str]


def _error(message: str, file: str | Path | None, **kw: Any) -> PolyfleetError:
    return (
        InputError(message, file=str(file), **kw) if file is not None else PolyfleetError(message)
    )


def match_plan(
    jobs: Sequence[Job],
    plan: PlanRecord | dict[str, Any],
    *,
    jobs_file: str | Path | None = None,
    plan_file: str | Path | None = None,
) -> PlanRecord:
    """The plan, once it is optimal and gives every job's workload a pool (no cluster needed);
    errors name the job file or the plan they come from."""
    plan = PlanRecord.coerce(plan, file=None if plan_file is None else str(plan_file))
    if plan.status != "optimal":
        raise _error(
            f"the plan's status is {plan.status!r}: run jobs on an optimal plan",
            plan_file,
            field="status",
        )
    split = plan.split()
    known = sorted(plan.workload_names())
    in_plan = f"the plan {plan_file}" if plan_file is not None else "the plan"
    for job in jobs:
        if job.workload not in known:
            raise _error(
                f"job {job.id}: unknown workload {job.workload!r}; {in_plan} has "
                f"{', '.join(known) or 'none'}",
                jobs_file,
            )
        if job.workload not in split:
            raise _error(
                f"job {job.id}: {in_plan} assigns workload {job.workload!r} no pool", jobs_file
            )
    return plan


def validate(
    jobs: Sequence[Job],
    plan: PlanRecord | dict[str, Any],
    pools: Mapping[str, Mapping[str, Any]],
    *,
    jobs_file: str | Path | None = None,
    plan_file: str | Path | None = None,
) -> Placement:
    """Where the jobs can run: `match_plan`, then the cluster's pools; refused when no job has a
    live pool."""
    split = match_plan(jobs, plan, jobs_file=jobs_file, plan_file=plan_file).split()
    live = sorted(p for p, v in pools.items() if v.get("alive"))
    missing: dict[str, str] = {}
    stranded: dict[str, str] = {}
    used = sorted({j.workload for j in jobs})
    for workload in used:
        for pool in split[workload]:
            if pool not in pools:
                missing[pool] = "not in the cluster"
            elif pool not in live:
                missing[pool] = "no live node"
        if not any(p in live for p in split[workload]):
            stranded[workload] = (
                f"no live pool for workload {workload!r} ("
                + ", ".join(f"{p}: {missing[p]}" for p in sorted(split[workload]))
                + ")"
            )
    if used and len(stranded) == len(used):
        in_plan = "the plan" if plan_file is None else f"the plan {plan_file}"
        raise PolyfleetError(
            f"no job can run on this cluster with {in_plan}: "
            + "; ".join(stranded.values())
            + f"; the cluster has {', '.join(sorted(pools)) or 'no pools'}"
        )
    return Placement(split=split, live=live, missing=missing, stranded=stranded)


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
    plan: PlanRecord | dict[str, Any],
    ledger: Ledger,
    *,
    source: str | None = None,
    retries: int = 3,
    profiles_dir: str | Path | None = None,
    on_change: Callable[[dict[str, int]], None] | None = None,
    poll_s: float = 0.1,
    timeout_s: float | None = None,
) -> RunReport:
    """Dispatch `jobs` (from the job file `source`) and wait for every one to end (or
    `timeout_s`: the rest fail, saying so). The ledger must be open for writing."""
    import ray
    from ray.exceptions import RayTaskError

    t0 = time.perf_counter()
    pools = cluster_pools()
    placement = validate(jobs, plan, pools, jobs_file=source)
    router = Router(placement.split, placement.live)
    ledger.add(((j.id, j.workload, j.run) for j in jobs), source=source)
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

    # first submissions: this file's waiting jobs, routed by workload in plan proportions; those
    # of a workload with no live pool fail here, saying which pools are missing
    waiting = ledger.jobs("queued", scope=True) + ledger.jobs("rerouted", scope=True)
    ledger.fail_waiting(
        [
            (r["id"], placement.stranded[r["workload"]])
            for r in waiting
            if r["workload"] in placement.stranded
        ]
    )
    router.set_free({p: v["free"] / v["slots"] if v["slots"] else 0.0 for p, v in pools.items()})
    by_workload: dict[str, list[dict[str, Any]]] = {}
    for row in waiting:
        if row["workload"] not in placement.stranded:
            by_workload.setdefault(row["workload"], []).append(row)
    batch = []
    for workload, rows in by_workload.items():
        for row, pool in zip(rows, router.route_names(workload, len(rows)), strict=True):
            batch.append((row["id"], pool, row["attempt"] + 1, workload, row["run"]))
    submit(batch)
    if on_change:
        on_change(ledger.counts(scope=True))

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
                try:
                    written = _write_profile(Path(profiles_dir), job, pool, value["profile"])
                except (PolyfleetError, OSError) as exc:
                    outcomes.append((job, attempt, "failed", f"its profile was not written: {exc}"))
                    continue
                profiles.append(written)
                value = {**value, "profile": written}
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
            on_change(ledger.counts(scope=True))
    counts = ledger.counts(scope=True)
    return RunReport(
        counts=counts,
        seconds=time.perf_counter() - t0,
        submitted=stats["submitted"],
        rerouted=stats["rerouted"],
        profiles=profiles,
        missing_pools=placement.missing,
        leftovers=ledger.leftovers(),
        unknown=unknown_states(counts),
    )


def _write_profile(folder: Path, job: str, pool: str, profile: dict[str, Any]) -> str:
    """A probe job's measurement as a profile file, for `polyfleet plan --profiles`."""
    from polyfleet.inputs.profile import parse_profile
    from polyfleet.report.files import child_path, write_atomic

    checked = parse_profile(profile, file=f"job {job}")
    path = child_path(folder, f"{safe_name(pool)}--{safe_name(job)}.json")
    write_atomic(path, checked.to_json())
    return str(path)
