"""What a placement solve returns, on the problem's own labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from polyfleet.plan.keys import CouplingKey, RowKey

F = NDArray[np.float64]


@dataclass
class Solution:
    """x[w, p] accelerators of pool p given to workload class w, with bounds and prices.

    `duals` and `violations` are aligned with `keys`, the keys of the problem's coupling rows,
    and read by key with `dual(key)` / `violation(key)`: arrays, because the solvers and the
    least-violation measure work on them as vectors beside G; keys, so that no reader depends
    on the order the rows were built in. A dual is the saving in USD per hour from relaxing the
    row by one of its units (one accelerator, one MW, one unit of share-weighted measure), zero
    where the row is slack; a violation is by how much the least-violation plan exceeds it.
    """

    x: sp.csr_matrix
    status: str
    objective: float
    cost_per_hour: float
    served: F  # fraction of demand served, per class
    duals: F  # per coupling row, ≥ 0
    usage: F  # per pool, accelerators used (assigned + idle)
    idle: F  # per pool, accelerators held unassigned
    method: str
    keys: tuple[CouplingKey, ...] = ()  # the coupling rows `duals` and `violations` belong to
    gap: float = 0.0  # relative primal–dual gap, the worst of the solve's stages
    lower_bound: float = float("nan")  # proved lower bound on the cost, USD per hour
    objective_bound: float = float("nan")  # proved upper bound on a served objective
    iterations: int = 0
    violations: F = field(default_factory=lambda: np.zeros(0))  # per coupling row, ≥ 0
    seconds: float = 0.0
    warm_start: Any = None  # what the decomposition can restart from (decompose.WarmStart)
    levels: F = field(default_factory=lambda: np.zeros(0))  # lexicographic fractions, per class
    # the served objectives' stages, each with its own proved gap (nan: the solve had no such
    # stage); `gap` is the worse of them
    serve_gap: float = float("nan")  # the served measure's (water-filling: its worst level's)
    cost_gap: float = float("nan")  # the least cost with what was served held
    # water-filling: (level, gap) of each level, in the order they were raised
    level_gaps: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.violations.size == 0:
            self.violations = np.zeros(len(self.keys))
        for what, values in (("duals", self.duals), ("violations", self.violations)):
            if values.shape != (len(self.keys),):
                raise ValueError(f"{values.size} {what} for {len(self.keys)} coupling rows")

    @cached_property
    def _index(self) -> dict[RowKey, int]:
        return {key: k for k, key in enumerate(self.keys)}

    def _at(self, key: RowKey) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no coupling row {key!r} in this solution") from None

    def dual(self, key: RowKey) -> float:
        """USD per hour saved per unit the row `key` is relaxed by (≥ 0)."""
        return float(self.duals[self._at(key)])

    def violation(self, key: RowKey) -> float:
        """By how much the plan exceeds the row `key`, in the row's unit (≥ 0)."""
        return float(self.violations[self._at(key)])

    def by_key(self, values: F) -> dict[CouplingKey, float]:
        """One of the per-row arrays (`duals`, `violations`) as a mapping from key to value."""
        return {key: float(v) for key, v in zip(self.keys, values, strict=True)}
