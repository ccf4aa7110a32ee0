"""The run and status records (`polyfleet run`, `polyfleet status`): jobs by state and pool, from
the dispatch ledger, and the cluster's pools."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polyfleet.results.base import Part, Record, omitted

__all__ = ["ClusterPool", "ClusterRecord", "RunRecord", "StatusRecord", "run_notes"]


class RunRecord(Record):
    """What one run did to its own job file's jobs (counts are of those jobs only)."""

    NAME = "run"
    format: Literal["polyfleet.run"] = "polyfleet.run"
    schema_version: Literal[1] = 1
    ledger: str
    counts: dict[str, int]
    seconds: float
    submitted: int
    rerouted: int
    profiles: list[str]
    missing_pools: dict[str, str]  # pool -> why it took no job
    leftovers: dict[str, int]  # other job file -> its unfinished jobs
    unknown_states: dict[str, int]  # a state no polyfleet writes -> jobs

    @property
    def ok(self) -> bool:
        """Every job succeeded and none is in a state polyfleet does not know."""
        return not self.counts.get("failed") and not self.unknown_states


def run_notes(record: RunRecord) -> list[str]:
    """What the user must know beyond the counts: pools that took no job, jobs not run."""
    out = [
        f"pool {pool}: {why}; the plan's other pools took its share"
        for pool, why in sorted(record.missing_pools.items())
    ]
    if record.leftovers:
        left = ", ".join(f"{n} from {src}" for src, n in record.leftovers.items())
        out.append(
            f"not run: the ledger holds unfinished jobs of other job files ({left}); run "
            "those files to finish them"
        )
    if record.unknown_states:
        states = ", ".join(f"{n} in state {s!r}" for s, n in record.unknown_states.items())
        out.append(
            f"not run: jobs in states polyfleet does not know ({states}); {record.ledger} was "
            "changed by another program"
        )
    return out


class ClusterPool(Part):
    """One pool of the cluster: its slots, free slots, live and dead nodes."""

    slots: float
    alive_nodes: int
    dead_nodes: int
    accelerator: str | None
    vendor: str | None
    free: float
    alive: bool


class FailedJob(Part):
    id: str
    error: str | None
    path: list[str]  # the pools it ran on, in order


class StatusRecord(Record):
    NAME = "status"
    format: Literal["polyfleet.status"] = "polyfleet.status"
    schema_version: Literal[1] = 1
    ledger: str
    jobs: dict[str, int]  # state -> jobs
    pools: dict[str, ClusterPool]
    failed: list[FailedJob]  # the first 50
    by_pool: dict[str, dict[str, int]] | None = omitted("pool -> state -> jobs; no ledger: none.")
    unknown_states: dict[str, int] | None = omitted()
    cluster_error: str | None = omitted("Why the cluster could not be read.")


class ClusterNode(Part):
    """One node of a local cluster: the pool it holds and its job slots."""

    pool: str
    accelerator: str
    vendor: str
    slots: int
    num_gpus: int


class ClusterRecord(Record):
    """A cluster `polyfleet cluster up` started (its nodes) or joined (its pools)."""

    NAME = "cluster"
    format: Literal["polyfleet.cluster"] = "polyfleet.cluster"
    schema_version: Literal[1] = 1
    address: str
    pid: int | None = omitted("The local cluster's server process.")
    nodes: list[ClusterNode] | None = omitted("The nodes a local cluster started with.")
    pools: dict[str, ClusterPool] | None = omitted("The pools of a cluster joined.")
    missing: list[str] = Field(
        default_factory=list, description="The scenario's pools the cluster has no node for."
    )
