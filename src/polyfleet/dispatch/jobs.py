"""The job file, and what a job does when it runs on a node.

    jobs:
      - {workload: small-model-inference, run: {probe: small-infer, preset: tiny}, count: 20}
      - {id: etl-7, workload: feed-ranking, run: {entry: "mypkg.etl:main", args: {day: 7}}}

A job runs either one of the probe's workloads (through the device layer, so the same code uses
CUDA, ROCm or the CPU, whatever the node has) or a user's `module:function` called with `args`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polyfleet.errors import InputError
from polyfleet.inputs import input_error, line_of, read_document
from polyfleet.probe.profile import PRESET_NAMES, WORKLOAD_NAMES
from polyfleet.ranges import InputModel, JobCount

__all__ = ["Job", "JobFile", "RunSpec", "execute", "load_jobs"]


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
    return f"{spec.workload}-{digest}-{copy}"


def load_jobs(path: str | Path) -> list[Job]:
    """Read and validate a job file; every job expanded (`count`) and given a stable id."""
    path = Path(path)
    data, text = read_document(path)
    if not isinstance(data, dict):
        raise InputError(
            "a job file must be a mapping with a `jobs` list", file=str(path), value=data
        )
    try:
        parsed = JobFile.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=str(path), text=text) from None
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


def execute(run: dict[str, Any]) -> dict[str, Any]:
    """Run one job here (on the node the scheduler chose) and return what it produced."""
    started = time.perf_counter()
    if run.get("probe"):
        from polyfleet import __version__
        from polyfleet.catalog import load_catalog
        from polyfleet.probe.device import discover
        from polyfleet.probe.suite import run_suite

        profile = run_suite(
            discover(),
            load_catalog(),
            preset=run.get("preset", "tiny"),
            only=[run["probe"]],
            accelerator=run.get("as"),
            polyfleet_version=__version__,
        )
        out: dict[str, Any] = {"profile": profile.model_dump(mode="json")}
    else:
        module, _, name = run["entry"].partition(":")
        func = getattr(importlib.import_module(module), name)
        out = {"value": func(**run.get("args", {}))}
    out["seconds"] = time.perf_counter() - started
    out["assigned"] = _assigned_resources()
    return out


def _assigned_resources() -> dict[str, float]:
    """The resources the scheduler gave this task (its pool among them), when run by Ray."""
    try:
        import ray
    except ImportError:  # pragma: no cover - run outside Ray
        return {}
    if not ray.is_initialized():
        return {}
    return dict(ray.get_runtime_context().get_assigned_resources())
