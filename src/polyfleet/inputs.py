"""Reading input files (scenarios, deals, procurement and job files, profiles) so that errors can
name the file, line and field.

Every file kind reads its document with `read_document` (polyfleet/documents.py: size, depth,
alias and duplicate-key defences, line numbers) and turns pydantic's errors into one InputError
with `input_error`, so a new file kind gets both for free. The converter reports:

- the field path and its line, and the offending value as a bounded preview;
- a misspelt key as "unknown field 'acelerator' — did you mean 'accelerator'?" rather than the
  required field it leaves missing;
- a cross-field check at the field it names: a model validator raises `FieldError(message,
  "deployment", 2, "date")` (a path relative to its model) instead of a bare ValueError.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from polyfleet.documents import dotted, line_of, read_document
from polyfleet.errors import InputError

__all__ = [
    "FieldError",
    "clean_loc",
    "dotted",
    "field_path",
    "input_error",
    "line_of",
    "read_document",
    "relative_file",
]

_UNSET: Any = object()


class FieldError(ValueError):
    """Raised by a model validator to name the field at fault, by its path relative to the
    model, and optionally the value to show (default: the value found at that path)."""

    def __init__(self, message: str, *loc: str | int, value: Any = _UNSET) -> None:
        super().__init__(message)
        self.loc = loc
        self.value = value


def clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """A pydantic error location without the union/function tags pydantic inserts."""
    return [p for p in loc if isinstance(p, int) or not str(p).startswith("function-")]


def field_path(path: str) -> list[str | int]:
    """`pools[2].cost` -> ["pools", 2, "cost"]: the inverse of `dotted`."""
    out: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return out


def input_error(
    exc: ValidationError,
    *,
    file: str,
    text: str | None,
    name: Callable[[Sequence[str | int]], str] = dotted,
    model: type[BaseModel] | None = None,
) -> InputError:
    """The most useful of pydantic's errors as an InputError naming file, line, field and value.
    `model` (the model validated) lets a misspelt key get a suggestion."""
    err = _pick(exc.errors(include_url=False))
    loc = clean_loc(err["loc"])
    value = err.get("input")
    message = err["msg"].removeprefix("Value error, ")
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc += list(cause.loc)
        value = _lookup(value, cause.loc) if cause.value is _UNSET else cause.value
        message = str(cause)
    elif err["type"] == "extra_forbidden":
        message, value = _unknown_field(str(loc[-1]), _fields_at(model, loc[:-1])), None
    elif err["type"] == "missing":
        value = None
    return InputError(
        message, file=file, field=name(loc) or None, value=value, line=line_of(text, loc)
    )


def _pick(errors: list[Any]) -> Any:
    """The first error, unless it is a missing field next to an unknown one: then the unknown
    one, most like the missing name (`acelerator` explains a missing `accelerator`)."""
    first = errors[0]
    if first["type"] != "missing":
        return first
    parent, missing = first["loc"][:-1], str(first["loc"][-1])
    extras = [e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] == parent]
    if not extras:
        return first
    return max(  # keys clipped: a hostile key may be megabytes long
        extras,
        key=lambda e: difflib.SequenceMatcher(None, str(e["loc"][-1])[:100], missing).ratio(),
    )


def _unknown_field(key: str, fields: list[str]) -> str:
    close = difflib.get_close_matches(key[:100], fields, n=1, cutoff=0.6)
    if close:
        return f"unknown field '{key}' — did you mean '{close[0]}'?"
    if fields:
        return f"unknown field '{key}'; the fields here are {', '.join(fields)}"
    return f"unknown field '{key}'"


def _fields_at(model: type[BaseModel] | None, loc: Sequence[str | int]) -> list[str]:
    """The field names (aliases where set) of the model found at `loc` under `model`."""
    types_here: list[Any] = [model] if model is not None else []
    for part in loc:
        nxt: list[Any] = []
        for tp in types_here:
            nxt += _step(tp, part)
        types_here = nxt
    names: list[str] = []
    for tp in types_here:
        for cls in _models(tp):
            names += [f.alias or n for n, f in cls.model_fields.items()]
    return list(dict.fromkeys(names))


def _models(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if typing.get_origin(tp) in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(tp) for m in _models(arg)]
    return []


def _step(tp: Any, part: str | int) -> list[Any]:
    """The types one step below `tp` along `part` (a field, a list index or a mapping key)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [t for arg in args for t in _step(arg, part)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for field_name, info in tp.model_fields.items():
            if part in (field_name, info.alias):
                return [info.annotation]
        return []
    if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return [args[1]]
    if isinstance(origin, type) and issubclass(origin, Sequence) and args:
        return [args[0]] if isinstance(part, int) else []
    return []


def _lookup(data: Any, loc: Sequence[str | int]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def relative_file(
    file: str, entry: str, loc: Sequence[str | int], text: str | None, what: str
) -> Path:
    """A path named in an input file, relative to that file; an InputError if it is missing."""
    base = Path(file).parent if file and not file.startswith("<") else Path()
    path = base / entry
    if not path.exists():
        raise InputError(
            f"{what} not found",
            file=file,
            field=dotted(loc),
            value=entry,
            line=line_of(text, loc),
            hint=f"Looked for {path}",
        )
    return path
