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
import math
import re
import reprlib
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from polyfleet.errors import InputError
from polyfleet.inputs import input_error, line_of, read_document
from polyfleet.probe.profile import PRESET_NAMES, WORKLOAD_NAMES
from polyfleet.ranges import InputModel, JobCount

__all__ = ["SAFE_ID", "Job", "JobFile", "RunSpec", "execute", "json_safe", "load_jobs"]

# job ids name files (a probe job's profile) and Ray tasks: letters, digits, '.', '_', '-' only
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_REPR = reprlib.Repr()  # a bounded repr, long enough for a UUID, a date or a short object
_REPR.maxother = _REPR.maxstring = 500


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
    if not isinstance(data, dict):
        raise InputError(
            "a job file must be a mapping with a `jobs` list", file=str(path), value=data
        )
    try:
        parsed = JobFile.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=str(path), text=text, model=JobFile) from None
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
        out = {"value": json_safe(func(**run.get("args", {})))}
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


def json_safe(value: Any, depth: int = 0) -> Any:
    """`value` as JSON can hold it: what JSON cannot (a UUID, a date, NaN, an object) becomes a
    marked stand-in, `{"not_json": type, "repr": bounded repr}`, so a job's odd result is kept
    and seen rather than crashing the run that records it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if depth < 64:
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {k: json_safe(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [json_safe(v, depth + 1) for v in value]
    kind = type(value)
    return {"not_json": f"{kind.__module__}.{kind.__qualname__}", "repr": _REPR.repr(value)}
