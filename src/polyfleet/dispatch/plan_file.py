"""The plan JSON `polyfleet run` reads (`polyfleet plan --out`): only what dispatch needs.

Read through a validated model, before the cluster or the ledger is touched, so a damaged or
hand-edited plan is one error naming the file, field path and value. Kept small and in one place:
a versioned plan record will replace it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polyfleet.errors import InputError
from polyfleet.inputs.convert import input_error
from polyfleet.inputs.reader import line_of, read_document

__all__ = ["PlanFile", "load_plan", "parse_plan"]

MAX_ACCELERATORS = 1e9  # per assignment: far above any fleet, far below float overflow


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PlanAssignment(_Model):
    workload: str = Field(min_length=1)
    pool: str = Field(min_length=1)
    accelerators: float = Field(gt=0, le=MAX_ACCELERATORS, allow_inf_nan=False, strict=True)


class PlanWorkload(_Model):
    name: str = Field(min_length=1)


class PlanFile(_Model):
    """A plan's status, its workloads and the accelerators it gives each (workload, pool)."""

    status: str
    workloads: list[PlanWorkload]
    assignments: list[PlanAssignment]

    def workload_names(self) -> set[str]:
        return {w.name for w in self.workloads}

    def split(self) -> dict[str, dict[str, float]]:
        """workload -> pool -> accelerators."""
        out: dict[str, dict[str, float]] = {}
        for a in self.assignments:
            by_pool = out.setdefault(a.workload, {})
            by_pool[a.pool] = by_pool.get(a.pool, 0.0) + a.accelerators
        return out

    @classmethod
    def coerce(cls, plan: PlanFile | Mapping[str, Any], file: str | None = None) -> PlanFile:
        """A plan given as the model or as its JSON data (validated)."""
        return plan if isinstance(plan, PlanFile) else parse_plan(plan, file=file or "<plan>")


def parse_plan(data: Any, *, file: str, text: str | None = None) -> PlanFile:
    if not isinstance(data, dict):
        raise InputError(
            "a plan must be a JSON object, as `polyfleet plan --out` writes",
            file=file,
            value=data if isinstance(data, str | int | float | bool) else type(data).__name__,
        )
    try:
        plan = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=file, text=text, model=PlanFile) from None
    names = plan.workload_names()
    for i, a in enumerate(plan.assignments):
        if a.workload not in names:
            raise InputError(
                "the plan assigns a workload it does not list under `workloads`",
                file=file,
                field=f"assignments[{i}].workload",
                value=a.workload,
                line=line_of(text, ["assignments", i, "workload"]),
            )
    return plan


def load_plan(path: str | Path) -> PlanFile:
    """Read and validate a plan JSON."""
    data, text = read_document(Path(path))
    return parse_plan(data, file=str(path), text=text)
