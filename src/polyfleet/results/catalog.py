"""The catalog record (`polyfleet catalog --json`): accelerators with the source of every
figure, and the long form of the source keys they cite."""

from __future__ import annotations

from typing import Literal

from polyfleet.catalog import Accelerator
from polyfleet.results.base import Record

__all__ = ["CatalogRecord"]


class CatalogRecord(Record):
    NAME = "catalog"
    format: Literal["polyfleet.catalog"] = "polyfleet.catalog"
    schema_version: Literal[1] = 1
    accelerators: list[Accelerator]
    references: dict[str, str]
