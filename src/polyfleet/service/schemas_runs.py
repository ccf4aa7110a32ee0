"""Request and response bodies of runs, jobs and pools (the OpenAPI schema is made from them)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from polyfleet.service.schemas import DocumentOut
from polyfleet.service.store import RunInfo
from polyfleet.service.store.documents import NAME_MAX

__all__ = [
    "JobOut",
    "JobPage",
    "PoolsOut",
    "RunDocument",
    "RunError",
    "RunInput",
    "RunOut",
    "RunPage",
    "RunSubmit",
]

RunKindName = Literal["plan", "leverage", "frontier", "procure", "deal"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "infeasible"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunDocument(BaseModel):
    """The stored document a run reads: a scenario (plan, leverage, frontier), a procurement
    file (procure) or a deal (deal); the newest version unless `version` is given."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["scenario", "procurement", "deal"]
    name: str = Field(min_length=1, max_length=NAME_MAX)
    version: int | None = Field(None, ge=1, le=2**31 - 1)


class RunSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RunKindName
    document: RunDocument
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="The command's options: plan {method, matrix, frontier, pessimistic, "
        "benchmarks: packaged|none, profiles: [stored profile names]}, leverage {precision}, "
        "frontier {points}, procure {limit_costs}, deal {paths, seed, sensitivity}.",
    )


class RunInput(_Out):
    """A stored document version the run read besides its own document."""

    kind: str
    name: str
    version: int
    id: int
    path: str = Field(description="The path the run's document names it by.")
    via: str = Field(description="What named it: deals[0], options.profiles[1], ...")


class RunError(_Out):
    """Why a run failed: the command line's message and exit code, and what the error carries
    (field path and line of bad input, an infeasibility diagnosis, the solver's status)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    code: str = Field(description="invalid_input, infeasible, solver_error, interrupted, ...")
    message: str
    field: str | None = None
    line: int | None = None
    file: str | None = None
    exit_code: int | None = None


class RunOut(_Out):
    id: str
    kind: RunKindName
    status: RunStatus
    progress: float = Field(description="0 to 1.")
    message: str | None = Field(description="What the run is doing.")
    document: DocumentOut
    options: dict[str, Any]
    inputs: list[RunInput]
    error: RunError | None
    result_hash: str | None = Field(description="SHA-256 of the result: its ETag.")
    result_url: str | None = Field(description="Where the result is, once there is one.")
    worker: str | None
    created_at: dt.datetime
    created_by: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cancel_requested_at: dt.datetime | None

    @classmethod
    def of(cls, run: RunInfo) -> RunOut:
        has_result = run.result_hash is not None
        return cls(
            id=run.id,
            kind=run.kind,  # type: ignore[arg-type]
            status=run.status,  # type: ignore[arg-type]
            progress=run.progress,
            message=run.message,
            document=DocumentOut.of(run.document),
            options=run.options,
            inputs=[RunInput(**i) for i in run.inputs],
            error=None if run.error is None else RunError(**run.error),
            result_hash=run.result_hash,
            result_url=f"/api/v1/runs/{run.id}/result" if has_result else None,
            worker=run.worker,
            created_at=run.created_at,
            created_by=run.created_by,
            started_at=run.started_at,
            finished_at=run.finished_at,
            cancel_requested_at=run.cancel_requested_at,
        )


class RunPage(_Out):
    items: list[RunOut]
    total: int
    limit: int
    offset: int


class JobOut(_Out):
    """A job of the dispatch ledger."""

    id: str
    workload: str
    state: str
    pool: str | None
    attempt: int
    path: list[str] = Field(description="The pools it ran on, in order.")
    error: str | None
    run: dict[str, Any] = Field(description="What the job runs, as its job file says.")


class JobPage(_Out):
    ledger: str = Field(description="The ledger file, under the server's state folder.")
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class PoolsOut(_Out):
    ledger: str
    jobs: dict[str, int] = Field(description="Jobs by state.")
    pools: dict[str, dict[str, int]] = Field(description="pool -> state -> jobs.")
