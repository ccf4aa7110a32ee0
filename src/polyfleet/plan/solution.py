"""What a placement solve returns, on the problem's own labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

F = NDArray[np.float64]


@dataclass
class Solution:
    """x[w, p] accelerators of pool p given to workload class w, with bounds and prices.

    `duals` are the saving in USD per hour from relaxing each coupling row by one of its units
    (one accelerator, one MW, one unit of share-weighted measure); zero where the row is slack.
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
    gap: float = 0.0
    lower_bound: float = float("nan")
    iterations: int = 0
    violation: F = field(default_factory=lambda: np.zeros(0))  # per coupling row, ≥ 0
    seconds: float = 0.0
    warm_start: Any = None  # what the decomposition can restart from (decompose.WarmStart)
