"""How much of the roofline each software stack reaches, per workload kind: the factors the
throughput matrix applies, where they came from, and how uncertain they are.

A factor is `own` when enough published results on that stack back it, `pooled` when the stack has
too few and the factor of all the kind's results stands in, and `assumed` (1.0) when the kind has
no results at all. Each carries the ids of the results behind it and a spread: the half-width, on a
log scale, of the interval its cells get (value · exp(±spread)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["KindFit", "StackFactor", "StackFactors"]

Basis = str  # "own" | "pooled" | "assumed"


@dataclass(frozen=True)
class StackFactor:
    """The factor for workloads of `kind` on accelerators of `stack` (None: a stack not known)."""

    stack: str | None
    kind: str
    factor: float
    basis: Basis
    results: tuple[str, ...] = ()  # ids of the published results that set it
    spread: float = 0.0  # log half-width of the interval (about 90 %)
    note: str = ""

    @property
    def low(self) -> float:
        """Multiplier of the interval's low end (≤ 1)."""
        return math.exp(-self.spread)

    @property
    def high(self) -> float:
        return math.exp(self.spread)

    @property
    def calibrated(self) -> bool:
        return self.basis != "assumed"

    def label(self) -> str:
        """`rocm serve x0.83 (own, 4 results)` for tables."""
        where = f"{self.stack or 'unknown stack'} {self.kind}"
        if not self.calibrated:
            return f"{where} x1 (assumed: no published results of this kind)"
        return f"{where} x{self.factor:.3g} ({self.basis}, {len(self.results)} results)"

    def to_dict(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "kind": self.kind,
            "factor": self.factor,
            "basis": self.basis,
            "results": list(self.results),
            "interval": [self.low, self.high],
            "note": self.note,
        }


@dataclass(frozen=True)
class KindFit:
    """How many parameters a kind's fit spent on how many results: its degrees of freedom and
    the residual spread they leave (log scale; nan where no degree of freedom is left)."""

    kind: str
    results: int
    factors: int  # own factors, plus one pooled factor where any result's stack has none
    residual_sd: float

    @property
    def dof(self) -> int:
        return self.results - self.factors

    def to_dict(self) -> dict[str, object]:
        sd = self.residual_sd
        return {
            "kind": self.kind,
            "results": self.results,
            "factors": self.factors,
            "dof": self.dof,
            "residual_sd": sd if math.isfinite(sd) else None,
        }


@dataclass(frozen=True)
class StackFactors:
    """Every (stack, kind) factor a matrix may need, from the tables in `files`."""

    entries: tuple[StackFactor, ...]
    files: tuple[str, ...] = ()
    #: the spread of cells with no factor of their own (measured cells excepted): the roofline's
    #: own error against the published results, before any calibration
    uncalibrated_spread: float = 0.0
    fits: tuple[KindFit, ...] = ()
    _index: dict[tuple[str | None, str], int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self._index.update({(e.stack, e.kind): i for i, e in enumerate(self.entries)})

    def index(self, stack: str | None, kind: str) -> int:
        """Position in `entries` of the factor for (stack, kind); -1 where there is none."""
        return self._index.get((stack, kind), -1)

    def get(self, stack: str | None, kind: str) -> StackFactor:
        i = self.index(stack, kind)
        if i >= 0:
            return self.entries[i]
        return StackFactor(
            stack, kind, 1.0, "assumed", spread=self.uncalibrated_spread, note="no results"
        )

    def used(self, pairs: Iterable[tuple[str | None, str]]) -> list[StackFactor]:
        """The entries for `pairs`, once each, in table order."""
        wanted = {self.index(s, k) for s, k in pairs} - {-1}
        return [self.entries[i] for i in sorted(wanted)]

    def to_dict(self) -> dict[str, object]:
        return {
            "files": list(self.files),
            "factors": [e.to_dict() for e in self.entries],
            "uncalibrated_interval": [
                math.exp(-self.uncalibrated_spread),
                math.exp(self.uncalibrated_spread),
            ],
            "fits": [f.to_dict() for f in self.fits],
        }
