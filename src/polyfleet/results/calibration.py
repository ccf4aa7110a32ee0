"""The calibration record (`polyfleet calibrate`): a factor per software stack and workload kind
fitted to tables of published results, every result against its roofline estimate, and (with
`--holdout`) the cross-stack ratios predicted for results the fit did not see. A plan lists the
stack factors behind its cells with the same `StackFactor` fields."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record, omitted

__all__ = ["CalibrationRecord", "StackFactor", "StackFactorsUsed"]


class StackFactor(Part):
    """Published / roofline throughput for one (stack, kind), and its interval (about 90 %)."""

    stack: str | None  # None: the kind's pooled factor, for any other stack
    kind: str
    factor: float
    basis: str  # own: fitted on the stack's results; pooled: the kind's; none: no results
    results: list[str]
    interval: tuple[float, float]  # multiples of the estimate
    note: str


class StackFactorsUsed(Part):
    """The stack factors behind a plan's cells, and the tables they were fitted to."""

    files: list[str]
    used: list[StackFactor]


class PublishedResult(Part):
    id: str
    round: str
    scenario: str
    accelerator: str
    stack: str | None
    published_per_accelerator: float
    estimated: float
    ratio: float  # published / estimate
    factor: float
    residual: float  # log(ratio / factor)
    source: str


class HoldoutPair(Part):
    kind: str
    scenario: str
    round: str
    pair: str
    numerator: str
    denominator: str
    predicted_ratio: float
    published_ratio: float
    error: float
    fitted_on: str


class Fit(Part):
    """One kind's fit: its results, factors, degrees of freedom and residual spread (log)."""

    fitted_on: str | None = omitted("The round a held-out fit saw.")
    kind: str
    results: int
    factors: int
    dof: int
    residual_sd: float | None


class SplitTest(Part):
    """The F-test of a kind's fit with one more factor for one stack's subset (a diagnostic:
    the fit applies no split)."""

    kind: str
    stack: str | None
    split: str  # attribute=value, e.g. precision=fp4
    results: list[str]
    systems: int
    relative_factor: float
    f: float | None  # None: infinite
    dof: tuple[int, int]
    p: float
    supported: bool
    fitted_on: str


class HoldoutSummary(Part):
    pairs: int
    median: float | None
    worst: float | None


class Holdout(Part):
    pairs: list[HoldoutPair]
    methods: dict[str, str]  # kind -> how it was held out
    summary: dict[str, HoldoutSummary]  # "all" and each kind
    splits: list[SplitTest]
    fits: list[Fit]
    targets: dict[str, float]


class CalibrationRecord(Record):
    NAME = "calibration"
    format: Literal["polyfleet.calibration"] = "polyfleet.calibration"
    schema_version: Literal[1] = 1
    files: list[str]
    factors: list[StackFactor]
    uncalibrated_interval: tuple[float, float]
    fits: list[Fit]
    min_results: int
    splits: list[SplitTest]
    results: list[PublishedResult]
    assumptions: dict[str, list[str]]  # benchmark model -> what its shape assumes
    holdout: Holdout | None = omitted("With --holdout.")
