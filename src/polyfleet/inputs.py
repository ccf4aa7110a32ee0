"""Reading input files (scenarios, deals, procurement and job files, profiles) so that errors can
name the file, line and field.

JSON is read with the json module and YAML with the C loader when present; `line_of` walks the YAML
node tree (JSON is YAML too) to find the line of a field path for error messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from polyfleet.errors import InputError

__all__ = [
    "clean_loc",
    "dotted",
    "field_path",
    "input_error",
    "line_of",
    "read_document",
    "relative_file",
]


def read_document(path: Path) -> tuple[Any, str]:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text), text
        except json.JSONDecodeError as exc:
            raise InputError(
                f"JSON syntax error: {exc.msg}", file=str(path), line=exc.lineno
            ) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            f"YAML syntax error: {problem}",
            file=str(path),
            line=mark.line + 1 if mark is not None else None,
        ) from None


def line_of(text: str | None, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the node at `loc`, walking the YAML node tree (JSON is YAML too);
    None without the source text."""
    if text is None:
        return None
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    line = node.start_mark.line if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if str(k.value) == str(key):
                    nxt = v
                    line = k.start_mark.line
                    break
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return None if line is None else line + 1


def dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """A pydantic error location without the union/function tags pydantic inserts."""
    # pydantic inserts union/function tags into the path; drop what is not a key of the data
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
) -> InputError:
    """The first pydantic error as an InputError naming file, line, field and (short) value."""
    err = exc.errors()[0]
    loc = clean_loc(err["loc"])
    value = err.get("input")
    if isinstance(value, dict | list) and len(repr(value)) > 80:
        value = None
    return InputError(
        err["msg"].removeprefix("Value error, "),
        file=file,
        field=name(loc) or None,
        value=value,
        line=line_of(text, loc),
    )


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
