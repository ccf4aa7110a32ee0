"""polyfleet: vendor-neutral planning and dispatch for multi-vendor AI-accelerator fleets."""

from polyfleet.catalog import Accelerator, Catalog, load_catalog
from polyfleet.errors import (
    CatalogError,
    InfeasibleError,
    InputError,
    PolyfleetError,
    SolverError,
)
from polyfleet.perfmodel import ThroughputMatrix, build_matrix
from polyfleet.scenario import LoadedScenario, Scenario, load_scenario, parse_scenario

__version__ = "0.1.0"

__all__ = [
    "Accelerator",
    "Catalog",
    "CatalogError",
    "InfeasibleError",
    "InputError",
    "LoadedScenario",
    "PolyfleetError",
    "Scenario",
    "SolverError",
    "ThroughputMatrix",
    "__version__",
    "build_matrix",
    "load_catalog",
    "load_scenario",
    "parse_scenario",
]
