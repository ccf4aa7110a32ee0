"""What a job does when it runs on a node: the entry point Ray workers call.

A job runs either one of the probe's workloads (through the device layer, so the same code uses
CUDA, ROCm or the CPU, whatever the node has) or a user's `module:function` called with `args`.
The job file itself is read by `polyfleet.inputs.jobs`. Importing this module loads nothing of
the planner (a worker pays only for the job it runs): the probe is imported by a probe job.
"""

from __future__ import annotations

import importlib
import math
import reprlib
import time
from typing import Any

__all__ = ["execute", "json_safe"]

_REPR = reprlib.Repr()  # a bounded repr, long enough for a UUID, a date or a short object
_REPR.maxother = _REPR.maxstring = 500


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
