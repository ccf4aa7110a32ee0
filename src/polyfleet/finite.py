"""Every number in a result record is finite, or nothing is printed or written.

A result record is the dict a command prints with `--json` and writes with `--out`: nested dicts
and lists of numbers, strings, booleans and None (numpy scalars and arrays allowed). A NaN or an
infinity in it is a wrong answer that would otherwise be shown with a straight face (or, in
JSON, refused half-way through writing), so it is an error that names where it is.
"""

from __future__ import annotations

import math
from typing import Any

from polyfleet.errors import SolverError

__all__ = ["check_finite", "first_non_finite"]


def first_non_finite(record: Any) -> tuple[str, float] | None:
    """The JSON path (`$.pools[1].cost_per_hour`) and value of the first NaN or infinity in
    `record`, depth first in key order; None when every number is finite."""
    stack: list[tuple[str, Any]] = [("$", record)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            items = [(f"{path}.{key}", v) for key, v in value.items()]
            stack.extend(reversed(items))
        elif isinstance(value, (list, tuple)):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(value)]))
        elif hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy array or scalar
            stack.append((path, value.tolist()))
        elif isinstance(value, float) and not math.isfinite(value):
            return path, value
    return None


def check_finite(record: Any, what: str) -> None:
    """Raise a SolverError naming the JSON path of the first non-finite number in `record`."""
    found = first_non_finite(record)
    if found is not None:
        path, value = found
        raise SolverError(
            f"the {what} result has a non-finite number at {path} ({value}); "
            "nothing was printed or written",
            status="non-finite result",
            seconds=0.0,
        )
