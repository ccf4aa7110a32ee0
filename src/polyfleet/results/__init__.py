"""Versioned result records: what each command answers, as typed pydantic models.

Each record has a `format` ("polyfleet.plan", ...) and a `schema_version`; `--json` and `--out`
print exactly these (`dump_record`), `polyfleet schema NAME` prints their JSON Schema, the team
service stores and returns them, and `Record.load(path)` reads one back, refusing another format
or version. The probe's profile (`polyfleet.inputs.profile.Profile`, format "polyfleet-profile")
was a versioned record before the others and keeps its format name.

The modules load on first use: `RECORDS` names each record's module and class.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RECORDS", "record_class"]

#: Each record by the name `polyfleet schema` knows it by: (module, class).
RECORDS: dict[str, tuple[str, str]] = {
    "catalog": ("polyfleet.results.catalog", "CatalogRecord"),
    "plan": ("polyfleet.results.plan", "PlanRecord"),
    "leverage": ("polyfleet.results.leverage", "LeverageRecord"),
    "frontier": ("polyfleet.results.frontier", "FrontierRecord"),
    "procurement": ("polyfleet.results.procurement", "ProcurementRecord"),
    "deal": ("polyfleet.results.deal", "DealRecord"),
    "tco": ("polyfleet.results.tco", "TcoRecord"),
    "build-vs-buy": ("polyfleet.results.build", "BuildVsBuyRecord"),
    "calibration": ("polyfleet.results.calibration", "CalibrationRecord"),
    "probe": ("polyfleet.inputs.profile", "Profile"),
    "run": ("polyfleet.results.run", "RunRecord"),
    "status": ("polyfleet.results.run", "StatusRecord"),
    "cluster": ("polyfleet.results.run", "ClusterRecord"),
}


def record_class(name: str) -> Any:
    """The record class called `name` (a key of RECORDS)."""
    module, cls = RECORDS[name]
    return getattr(importlib.import_module(module), cls)
