"""The work a Monte Carlo valuation may ask for, checked before anything is simulated: a deal
file (or a `--paths` option) that would run for days or fill memory is refused as bad input.

The bounds are LIMITS rows (inputs/base.py); the layout they bound is the simulation's
(economics/warrant.py): paths are drawn in chunks of two float32 arrays of pairs × steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from polyfleet.inputs.base import LIMITS

__all__ = [
    "BYTES_PER_PAIR_STEP",
    "CHUNK_BYTES",
    "MAX_PATH_STEPS",
    "PATH_STEPS_PER_S",
    "work_problem",
]

#: Most paths x monitoring steps one valuation may simulate (its sensitivity runs included).
MAX_PATH_STEPS = int(LIMITS["monte_carlo_path_steps"].value)
#: Most bytes one chunk's arrays may hold; at most 8 chunks are alive at once.
CHUNK_BYTES = int(LIMITS["monte_carlo_chunk_bytes"].value)
#: Bytes a chunk holds per antithetic pair and step: the float32 cumulative sums and one path.
BYTES_PER_PAIR_STEP = 8
#: Path-steps per second on 2 cores of the reference machine, for the estimates in messages.
PATH_STEPS_PER_S = 7e7


def work_problem(runs: Sequence[tuple[int, int]]) -> str | None:
    """Why simulating `runs` ((paths, steps) each) is refused, with what it would need; None if
    it fits the limits."""
    total = sum(paths * steps for paths, steps in runs)
    longest = max((steps for _, steps in runs), default=0)
    if longest * BYTES_PER_PAIR_STEP > CHUNK_BYTES:
        need = longest * BYTES_PER_PAIR_STEP / 2**20
        return (
            f"{longest:,} monitoring steps need {need:,.0f} MiB per path pair; the limit is "
            f"{CHUNK_BYTES / 2**20:,.0f} MiB ({CHUNK_BYTES // BYTES_PER_PAIR_STEP:,} steps)"
        )
    if total <= MAX_PATH_STEPS:
        return None
    paths, steps = runs[0]
    what = f"{_count(paths)} paths × {steps:,} steps"
    if len(runs) > 1:
        what += f" plus {len(runs) - 1} sensitivity runs of {_count(runs[1][0])} paths"
    return (
        f"{what} is {_sci(total)} path-steps, ~{_duration(total / PATH_STEPS_PER_S)} at "
        f"~{_sci(PATH_STEPS_PER_S)} path-steps/s; the limit is {_sci(MAX_PATH_STEPS)} path-steps"
    )


def _sci(x: float) -> str:
    """2.6e14, not 2.6e+14."""
    if x < 1e6:
        return f"{x:,.0f}"
    mantissa, exp = f"{x:.2g}".split("e")
    return f"{mantissa}e{int(exp)}"


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**7 else _sci(n)


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.0f} s"
