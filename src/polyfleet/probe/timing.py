"""Timing and counting: warm-up, synchronised repeats, medians and percentiles, FLOPs per call.

Device work is asynchronous, so every timed region ends with a synchronisation; a repeat runs
`inner` calls so that one region is long enough for the wall clock to resolve it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["Timed", "count_flops", "time_calls"]


@dataclass(frozen=True)
class Timed:
    """Seconds per call of each repeat (a repeat's wall time over its `inner` calls)."""

    per_call: np.ndarray
    energy_j: float | None = None  # joules over all repeats, when a counter exists
    calls: int = 0

    @property
    def median(self) -> float:
        return float(np.median(self.per_call))

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.per_call, q)) * 1e3


def time_calls(
    step: Callable[[], object],
    sync: Callable[[], None],
    *,
    warmup: int,
    repeats: int,
    inner: int = 1,
    energy: Callable[[], float | None] | None = None,
    tick: Callable[[], None] | None = None,
) -> Timed:
    """Run `step` `warmup` times untimed, then `repeats` × `inner` times timed."""
    for _ in range(warmup):
        step()
        if tick:
            tick()
    sync()
    e0 = energy() if energy else None
    out = np.empty(repeats)
    for r in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        sync()
        out[r] = (time.perf_counter() - t0) / inner
        if tick:
            tick()
    e1 = energy() if energy else None
    joules = e1 - e0 if (e0 is not None and e1 is not None and e1 > e0) else None
    return Timed(per_call=out, energy_j=joules, calls=repeats * inner)


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations one call of `fn` performs, as PyTorch's FLOP counter sees them
    (matrix products and attention, 2 per multiply-add; element-wise work is not counted)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())
