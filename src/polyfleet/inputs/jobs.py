"""The job file: what `polyfleet run` dispatches, each job given a stable id.

    jobs:
      - {workload: small-model-inference, run: {probe: small-infer, preset: tiny}, count: 20}
      - {id: etl-7, workload: feed-ranking, run: {entry: "mypkg.etl:main", args: {day: 7}}}

A job runs either one of the probe's workloads or a user's `module:function` called with `args`
(`polyfleet.dispatch.jobs.execute` runs it on a node).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from polyfleet.errors import InputError
from polyfleet.inputs.base import InputModel, JobCount
from polyfleet.inputs.convert import validate
from polyfleet.inputs.profile import PRESET_NAMES, WORKLOAD_NAMES
from polyfleet.inputs.reader import line_of, read_document

__all__ = ["SAFE_ID", "Job", "JobFile", "RunSpec", "load_jobs", "safe_name"]

# job ids name files (a probe job's profile) and Ray tasks: letters, digits, '.', '_', '-' only
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class RunSpec(InputModel):
    """What to run: a probe workload (`probe`, `preset`, `as`) or an entry point with args."""

    probe: str | None = None
    preset: str = "tiny"
    as_: str | None = Field(default=None, alias="as")
    entry: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one(self) -> RunSpec:
        if (self.probe is None) == (self.entry is None):
            raise ValueError(
                "give exactly one of `probe` (a probe workload) or `entry` (module:function)"
            )
        if self.entry is not None and (":" not in self.entry or self.entry.startswith(":")):
            raise ValueError(f"entry must be 'module:function' (got {self.entry!r})")
        return self


class JobSpec(InputModel):
    id: str | None = None

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        if value is not None and not SAFE_ID.fullmatch(value):
            raise ValueError(
                "a job id is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit"
            )
        return value

    workload: str
    run: RunSpec
    count: JobCount = 1


class JobFile(InputModel):
    jobs: list[JobSpec] = Field(min_length=1)


class Job(BaseModel):
    """One job to dispatch: a stable id (so a restarted run finds it in the ledger)."""

    model_config = ConfigDict(frozen=True)

    id: str
    workload: str
    run: dict[str, Any]


def _stable_id(index: int, spec: JobSpec, copy: int) -> str:
    if spec.id is not None:
        return spec.id if spec.count == 1 else f"{spec.id}-{copy}"
    digest = hashlib.sha1(
        json.dumps([index, spec.model_dump(by_alias=True)], sort_keys=True).encode()
    ).hexdigest()[:10]
    return f"{safe_name(spec.workload)[:60]}-{digest}-{copy}"


def safe_name(name: str) -> str:
    """`name` with every character a file name or job id should not hold replaced by '_'."""
    out = _UNSAFE.sub("_", name)
    return out if SAFE_ID.match(out) else f"w{out}"


def load_jobs(path: str | Path) -> list[Job]:
    """Read and validate a job file; every job expanded (`count`) and given a stable id."""
    path = Path(path)
    data, text = read_document(path, json_data=True)  # a job's args are stored as JSON
    parsed = validate(
        JobFile, data, file=str(path), text=text, what="a job file", hint="It holds a `jobs` list"
    )
    jobs: list[Job] = []
    seen: set[str] = set()
    for i, spec in enumerate(parsed.jobs):
        if spec.run.probe is not None:
            for field, what, value, allowed in (
                ("probe", "probe workload", spec.run.probe, WORKLOAD_NAMES),
                ("preset", "preset", spec.run.preset, PRESET_NAMES),
            ):
                if value not in allowed:
                    raise InputError(
                        f"unknown {what}; choose from {', '.join(allowed)}",
                        file=str(path),
                        field=f"jobs[{i}].run.{field}",
                        value=value,
                        line=line_of(text, ["jobs", i, "run", field]),
                    )
        for copy in range(spec.count):
            job_id = _stable_id(i, spec, copy)
            if job_id in seen:
                raise InputError(
                    "duplicate job id",
                    file=str(path),
                    field=f"jobs[{i}].id",
                    value=job_id,
                    line=line_of(text, ["jobs", i, "id"]),
                )
            seen.add(job_id)
            jobs.append(
                Job(id=job_id, workload=spec.workload, run=spec.run.model_dump(by_alias=True))
            )
    return jobs
