"""Small entry points for trying a cluster: `polyfleet.dispatch.demo:sleep` and friends."""

from __future__ import annotations

import time


def sleep(seconds: float = 0.0) -> float:
    """Wait, then return how long it waited."""
    time.sleep(seconds)
    return seconds


def fail(message: str = "the job failed") -> None:
    """Raise, as a job whose own code is broken would."""
    raise RuntimeError(message)


def noop() -> None:
    """Do nothing (for measuring dispatch overhead)."""
