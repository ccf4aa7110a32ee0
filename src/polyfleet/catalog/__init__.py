"""The accelerator catalog: packaged public figures with their sources, plus user overrides."""

from polyfleet.catalog._catalog import (
    Accelerator,
    Catalog,
    Price,
    Tflops,
    load_catalog,
)

__all__ = ["Accelerator", "Catalog", "Price", "Tflops", "load_catalog"]
