"""The accelerator catalog: packaged public figures with their sources, plus user overrides."""

from polyfleet.catalog._catalog import (
    Accelerator,
    Catalog,
    Cooling,
    Price,
    Rack,
    RatedKind,
    Relative,
    Tflops,
    load_catalog,
)

__all__ = [
    "Accelerator",
    "Catalog",
    "Cooling",
    "Price",
    "Rack",
    "RatedKind",
    "Relative",
    "Tflops",
    "load_catalog",
]
