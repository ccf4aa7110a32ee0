"""Errors polyfleet raises, each carrying the context a user needs to fix the cause, and the
exit status the command line ends with (`exit_code`).

PolyfleetError                  exit 1
├── InputError                  exit 1: a file, field path and value that are wrong, and the fix
│   ├── CatalogError            an accelerator id or entry the catalog cannot resolve
│   └── MissingExtraError       an optional part is not installed: which extra to install
├── InfeasibleError             exit 2: no plan meets every constraint; carries the diagnosis
└── SolverError                 exit 3: the solver stopped without an answer; what it reported

This module imports nothing of polyfleet, so that anything (a Ray worker, the profile reader)
can raise and catch these errors without loading the planner.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import reprlib
from pathlib import PurePath
from typing import Any, ClassVar

__all__ = [
    "NULL",
    "CatalogError",
    "InfeasibleError",
    "InputError",
    "MissingExtraError",
    "PolyfleetError",
    "SolverError",
    "preview",
]


class _Null:
    """The value null (`null`, `~` or a key given nothing), as an error shows it: an InputError's
    value None means it has no value to show, which is not the same."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "null"

    def __reduce__(self) -> str:
        return "NULL"  # unpickled as the one NULL


#: An InputError's value when the input gave null where something else was required.
NULL = _Null()

#: Longest message and field path an InputError prints: a hostile file can make both huge.
MAX_MESSAGE = 1000
MAX_FIELD = 160
_BOUNDED_REPR = (
    float,
    bool,
    complex,
    type(None),
    dt.date,
    dt.time,
    dt.timedelta,
    decimal.Decimal,
    PurePath,
    _Null,
)


class _Preview(reprlib.Repr):
    """reprlib, made bounded for every value a parsed file can hold: no sorting of whole dicts or
    sets, no decimal conversion of huge integers, no repr of arbitrary objects."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6

    def repr_int(self, x: int, level: int) -> str:
        bits = x.bit_length()
        return repr(x) if bits <= 200 else f"<an integer of {bits} bits>"

    def repr_bytes(self, x: bytes, level: int) -> str:
        shown = repr(x[:8])
        return shown if len(x) <= 8 else shown + f"... ({len(x)} bytes)"

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [
            f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
            for k, v in itertools.islice(x.items(), self.maxdict)
        ]
        more = ", ..." if len(x) > self.maxdict else ""
        return "{" + ", ".join(items) + more + "}"

    def repr_set(self, x: set[Any], level: int) -> str:
        return self._unsorted(x, level, "{", "}", "set()")

    def repr_frozenset(self, x: frozenset[Any], level: int) -> str:
        return self._unsorted(x, level, "frozenset({", "})", "frozenset()")

    def _unsorted(self, x: Any, level: int, left: str, right: str, empty: str) -> str:
        if not x:
            return empty
        if level <= 0:
            return left + "..." + right
        items = [self.repr1(v, level - 1) for v in itertools.islice(x, self.maxset)]
        return left + ", ".join(items) + (", ..." if len(x) > self.maxset else "") + right

    def repr_instance(self, x: Any, level: int) -> str:
        if isinstance(x, _BOUNDED_REPR):
            return _clip(repr(x), self.maxother)
        return f"<{type(x).__name__}>"


_PREVIEW = _Preview()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def preview(value: Any) -> str:
    """A short repr of any value a parsed file can hold, in time and memory bounded by the
    preview's size, not the value's (a YAML alias bomb or a 100 MB string stays cheap)."""
    return _clip(_PREVIEW.repr(value), 80)


class PolyfleetError(Exception):
    """Base of every error polyfleet raises on purpose."""

    #: The exit status of a command that ends with this error.
    exit_code: ClassVar[int] = 1


class InputError(PolyfleetError):
    """Bad input: names the file, the field path (and line when known) and the offending value.

    The value is shown as a bounded preview and the message and field are clipped, so that
    printing the error costs little whatever the input held."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: Any = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.field = field
        self.value = value
        self.line = line
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.file is not None or self.line is not None:
            where = self.file or "<input>"
            parts.append(where if self.line is None else f"{where}:{self.line}")
        if self.field:
            field = _clip(self.field, MAX_FIELD)
            parts.append(f"field '{field}'" if not field.startswith("-") else field)
        text = ": ".join([*parts, _clip(self.message, MAX_MESSAGE)])
        if self.value is not None:
            text += f" (got {preview(self.value)})"
        if self.hint:
            text += f". {_clip(self.hint, MAX_MESSAGE)}"
        return text


class CatalogError(InputError):
    """An accelerator id that the catalog does not know, or a malformed catalog entry."""


class MissingExtraError(InputError):
    """A command needs an optional part of polyfleet that is not installed: names the extra."""

    def __init__(self, what: str, *, extra: str, missing: str | None = None) -> None:
        self.extra = extra
        self.missing = missing
        gone = f" ({missing} is not installed)" if missing else ""
        super().__init__(
            f"{what} needs the `{extra}` extra{gone}",
            hint=f"Install it: pip install 'polyfleet[{extra}]'",
        )


def _rebuilt(cls: type[Exception], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Exception:
    """An error as pickle rebuilds it (one raised in a Ray task reaches the caller as itself)."""
    return cls(*args, **kwargs)


class InfeasibleError(PolyfleetError):
    """No plan meets every constraint. `diagnosis` says which limits fail and by how much;
    `record` is the answer that shows it, when there is one (a plan with status "infeasible")."""

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, diagnosis: dict[str, Any], *, record: Any = None) -> None:
        self.diagnosis = diagnosis
        self.record = record
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), (str(self), self.diagnosis), {"record": self.record})


class SolverError(PolyfleetError):
    """The solver ended without an optimal answer (status and time say why)."""

    exit_code: ClassVar[int] = 3

    def __init__(self, message: str, *, status: str, seconds: float) -> None:
        self.message = message
        self.status = status
        self.seconds = seconds
        super().__init__(f"{message} (solver status: {status}, after {seconds:.2f} s)")

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {"status": self.status, "seconds": self.seconds}
        return _rebuilt, (type(self), (self.message,), kwargs)
