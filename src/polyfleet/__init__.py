"""polyfleet: vendor-neutral planning and dispatch for multi-vendor AI-accelerator fleets.

The public names are loaded on first use (module `__getattr__`), so `import polyfleet` (and
`import polyfleet.errors`, which a Ray worker does) loads nothing of the planner.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_PUBLIC = {
    "Accelerator": "polyfleet.catalog",
    "Catalog": "polyfleet.catalog",
    "load_catalog": "polyfleet.catalog",
    "CatalogError": "polyfleet.errors",
    "InfeasibleError": "polyfleet.errors",
    "InputError": "polyfleet.errors",
    "PolyfleetError": "polyfleet.errors",
    "SolverError": "polyfleet.errors",
    "ThroughputMatrix": "polyfleet.perfmodel",
    "build_matrix": "polyfleet.perfmodel",
    "LoadedScenario": "polyfleet.inputs.scenario",
    "Scenario": "polyfleet.inputs.scenario",
    "load_scenario": "polyfleet.inputs.scenario",
    "parse_scenario": "polyfleet.inputs.scenario",
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'polyfleet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
