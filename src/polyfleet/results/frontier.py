"""The frontier record (`polyfleet frontier`, and `plan --frontier`): least cost as the largest
vendor's maximum share sweeps from 1 down to the lowest feasible share, with the knee."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record

__all__ = ["FrontierPoint", "FrontierRecord"]


class FrontierPoint(Part):
    max_share: float
    share: float | None
    cost_per_hour: float | None
    status: str


class FrontierRecord(Record):
    NAME = "frontier"
    format: Literal["polyfleet.frontier"] = "polyfleet.frontier"
    schema_version: Literal[1] = 1
    vendor: str
    measure: str
    lowest_feasible_share: float
    knee: FrontierPoint | None
    points: list[FrontierPoint]
    solves: int
    seconds: float

    @property
    def knee_index(self) -> int | None:
        """The knee's place in `points`."""
        return None if self.knee is None else self.points.index(self.knee)
