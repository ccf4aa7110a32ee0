"""From a read document to a validated input, with errors that name the file, line and field.

Every file kind validates its document (read by `inputs.reader`) with `validate`, which turns
pydantic's errors into one InputError (`input_error`), and resolves the accelerator names it holds
with `resolve_name`, which turns an unknown one into a CatalogError at its line: so a new file kind
gets both for free. The converter reports:

- the field path and its line, and the offending value as a bounded preview;
- a misspelt key as "unknown field 'acelerator' — did you mean 'accelerator'?" rather than the
  required field it leaves missing;
- a cross-field check at the field it names: a model validator raises `FieldError(message,
  "deployment", 2, "date")` (a path relative to its model) instead of a bare ValueError.

The catalog is passed in, never imported: the catalog's own overrides are validated here too.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from polyfleet.errors import NULL, CatalogError, InputError
from polyfleet.inputs.reader import dotted, line_of

__all__ = [
    "FieldError",
    "Names",
    "clean_loc",
    "field_path",
    "input_error",
    "relative_file",
    "resolve_name",
    "validate",
    "with_line",
]

_UNSET: Any = object()
M = TypeVar("M", bound=BaseModel)
#: How a file kind shows a field path in its messages (`pools[2].cost`, `pools[2] (h200)...`).
Namer = Callable[[Sequence[str | int]], str]


class Names(Protocol):
    """What resolving needs of a catalog: its `resolve` (an id, or a CatalogError)."""

    def resolve(self, name: str, *, file: str | None = None, field: str | None = None) -> str: ...


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


def validate(
    model: type[M],
    data: Any,
    *,
    file: str,
    text: str | None,
    what: str,
    name: Namer = dotted,
    hint: str | None = None,
) -> M:
    """`data` as `model`, or one InputError: "`what` must be a mapping ..." (and `hint`) when it
    is not a mapping, else pydantic's most useful error, at its field and line."""
    if not isinstance(data, dict):
        raise InputError(
            f"{what} must be a mapping at the top level", file=file, value=data, hint=hint
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=file, text=text, name=name, model=model) from None


def resolve_name(
    catalog: Names,
    value: str,
    loc: Sequence[str | int],
    *,
    file: str,
    text: str | None,
    name: Namer = dotted,
) -> str:
    """The catalog id `value` (an id, alias or marketing name at `loc`) denotes; an unknown name
    is a CatalogError naming the file, field, line and the nearest ids."""
    try:
        return catalog.resolve(value, file=file, field=name(loc))
    except CatalogError as exc:
        raise with_line(exc, text, loc) from None


def with_line(exc: InputError, text: str | None, loc: Sequence[str | int]) -> InputError:
    """`exc` with the line of `loc` in `text`, where it has none yet."""
    if exc.line is None:
        exc.line = line_of(text, loc)
        exc.args = (str(exc),)
    return exc


def input_error(
    exc: ValidationError,
    *,
    file: str,
    text: str | None,
    name: Namer = dotted,
    model: type[BaseModel] | None = None,
    prefix: Sequence[str | int] = (),
    error: type[InputError] = InputError,
) -> InputError:
    """The most useful of pydantic's errors as an InputError naming file, line, field and value.
    `model` (the model validated) lets a misspelt key get a suggestion; `prefix` is where in the
    file the validated data sits (a catalog entry under `catalog[2]`)."""
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
    elif value is None:
        value = NULL  # given as null: say so, where None would show nothing
    loc = [*prefix, *loc]
    return error(message, file=file, field=name(loc) or None, value=value, line=line_of(text, loc))


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
    file: str,
    entry: str,
    loc: Sequence[str | int],
    text: str | None,
    what: str,
    *,
    confined: bool = False,
) -> Path:
    """A path named in an input file, relative to that file; an InputError if it is missing.
    `confined`: it must also lie in that file's folder or below (no absolute path, no `..` or
    link leading out), so a file from elsewhere cannot make polyfleet read any file it names."""
    base = Path(file).parent if file and not file.startswith("<") else Path()
    path = base / entry
    if confined and (
        "\x00" in entry
        or Path(entry).is_absolute()
        or not path.resolve().is_relative_to(base.resolve())
    ):
        raise InputError(
            f"a {what} must lie in the scenario's folder or below it",
            file=file,
            field=dotted(loc),
            value=entry,
            line=line_of(text, loc),
            hint="Name it relative to the scenario file, without '..'",
        )
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
