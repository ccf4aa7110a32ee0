"""The one reader of every input document (a file, or the bytes of one), JSON or YAML, with the
defences every file kind shares.

A hostile or careless file must give one clear InputError (file, line, field path, value) in
bounded time and memory, never a traceback, a hang or a silently altered value. So before or
while a document is built:

- its size is bounded: JSON up to `MAX_JSON_BYTES` (large planning inputs are JSON), YAML up to
  `MAX_YAML_BYTES` (YAML is read about 50 times slower);
- its nesting is bounded to `MAX_DEPTH` levels (deeper JSON used to raise RecursionError);
- a YAML document is first read as an event stream that counts its values with every alias
  expanded (each anchor's size memoised), so a "billion laughs" of a few hundred bytes is
  refused after a few hundred events, before anything is built (`MAX_YAML_VALUES`);
- a key given twice in one mapping is refused, naming both lines (last-one-wins lost data);
- a value YAML cannot build (`2026-13-45`, an unknown tag) is an InputError with its line;
- where a file kind hands data on as JSON (job arguments), `json_data=True` also refuses what
  JSON cannot hold: dates, `!!binary`, `!!set`, `!!omap`, `!!pairs`, `.nan`/`.inf`, non-text
  mapping keys.

Positions are turned into field paths only on the error path, so valid files pay for the
duplicate-key hook and one walk over the parsed data's containers, nothing more.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from polyfleet.errors import InputError, preview
from polyfleet.inputs.fast_json import deeper_than, loads_checked

__all__ = [
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_YAML_BYTES",
    "MAX_YAML_VALUES",
    "dotted",
    "line_of",
    "read_document",
]

#: Largest JSON file read: room for scenarios of ~100k workloads (~100-200 MB).
MAX_JSON_BYTES = 256 * 2**20
#: Largest YAML file read (~15 s and ~600 MB to build at this size).
MAX_YAML_BYTES = 8 * 2**20
#: Most values (scalars, lists and mappings) a YAML document may hold once aliases are expanded.
MAX_YAML_VALUES = 1_000_000
#: Deepest nesting of lists and mappings, in either syntax.
MAX_DEPTH = 100
#: Python refuses to convert longer digit strings to int (sys.get_int_max_str_digits()).
MAX_DIGITS = 4300

Syntax = Literal["json", "yaml"]
_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_document(
    source: str | Path | bytes,
    *,
    file: str | None = None,
    syntax: Syntax | None = None,
    json_data: bool = False,
    fast: bool = False,
) -> tuple[Any, str]:
    """The parsed document and its text (for `line_of`), from a file or from the bytes of one
    (`file` names it in errors; default: the path). `syntax` defaults to JSON for a `.json` name
    and YAML otherwise; `json_data` refuses values JSON cannot hold (see the module). `fast`:
    JSON is parsed by orjson where `inputs.fast_json` finds it gives the same document."""
    if file is None:
        file = "<input>" if isinstance(source, bytes) else str(source)
    syntax = syntax or ("json" if file.lower().endswith(".json") else "yaml")
    limit = MAX_JSON_BYTES if syntax == "json" else MAX_YAML_BYTES
    raw = (
        source[: limit + 1] if isinstance(source, bytes) else _read_bytes(Path(source), file, limit)
    )
    text = _decode(raw, file, limit, syntax)
    if not text or text.isspace():  # not strip(): that copies a 200 MB text
        raise InputError("the file is empty", file=file)
    data = None
    if fast and syntax == "json" and not json_data:
        data = loads_checked(raw.removeprefix(b"\xef\xbb\xbf"), MAX_DEPTH)
    if data is None:
        parse = _parse_json if syntax == "json" else _parse_yaml
        data = parse(text, file, json_data)
    if data is None:
        raise InputError("the file is empty: its document holds no data (null)", file=file)
    return data, text


def _read_bytes(path: Path, file: str, limit: int) -> bytes:
    """The file's first `limit` + 1 bytes: one more than any document may hold."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError("file not found", file=file) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=file) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", file=file) from None


def _decode(raw: bytes, file: str, limit: int, syntax: str) -> str:
    if len(raw) > limit:
        hint = "Write large inputs as JSON" if syntax == "yaml" else None
        raise InputError(
            f"the file is larger than {limit // 2**20} MiB, the most a {syntax.upper()} "
            "input may be",
            file=file,
            hint=hint,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        raise InputError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column "
            f"{exc.start - line_start + 1} cannot be decoded",
            file=file,
            line=raw.count(b"\n", 0, exc.start) + 1,
            hint="Save the file as UTF-8",
        ) from None
    return text.removeprefix("\ufeff")


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def dotted(loc: Sequence[str | int]) -> str:
    """["pools", 2, "cost"] -> `pools[2].cost`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _bounded_path(loc: Sequence[str | int]) -> str | None:
    """A field path for a message: the first levels of a very deep one, and how deep it is."""
    if not loc:
        return None
    if len(loc) <= 8:
        return dotted(loc)
    return f"{dotted(loc[:6])}... ({len(loc)} levels)"


# ---------------------------------------------------------------------------------------------
# JSON


class _DuplicateKeyError(Exception):
    pass


class _NotJsonError(ValueError):
    """A value that JSON cannot hold, in a document whose data must be JSON; `value` is what was
    built (None: show the text as written)."""

    def __init__(self, message: str, value: Any = None) -> None:
        super().__init__(message)
        self.value = value


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _DuplicateKeyError
    return out


def _no_constant(name: str) -> float:
    raise _NotJsonError(name)


def _parse_json(text: str, file: str, json_data: bool) -> Any:
    try:
        data = json.loads(
            text,
            object_pairs_hook=_unique_pairs,
            parse_constant=_no_constant if json_data else None,
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"JSON syntax error: {exc.msg} (column {exc.colno})", file=file, line=exc.lineno
        ) from None
    except (RecursionError, _DuplicateKeyError, ValueError):
        # the rare error path: find where, and which field, with a walk over the tokens
        raise _json_refusal(text, file, json_data) from None
    if deeper_than(data, MAX_DEPTH):
        raise _json_refusal(text, file, json_data)
    return data


_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def _json_tokens(text: str) -> Iterator[tuple[int, str, list[Any], int | None]]:
    """(position, token, path, position of an earlier same key) for every key and value of a
    JSON text, in order; the path is live (a key's path ends with the key)."""
    frames: list[list[Any]] = []  # [is_object, key or index, expecting a key, seen keys]
    path: list[Any] = []
    for match in _TOKEN.finditer(text):
        tok, pos = match.group(), match.start()
        first = tok[0]
        if first in "{[":
            yield pos, tok, path, None
            frames.append([first == "{", None if first == "{" else 0, first == "{", {}])
            path.append(None if first == "{" else 0)
        elif first in "}]":
            if frames:
                frames.pop()
                path.pop()
        elif first == ",":
            if frames:
                frame = frames[-1]
                if frame[0]:
                    frame[2] = True
                else:
                    frame[1] += 1
                    path[-1] = frame[1]
        elif first == ":":
            if frames:
                frames[-1][2] = False
        elif first == '"' and frames and frames[-1][0] and frames[-1][2]:
            key = json.loads(tok)
            frames[-1][1] = key
            path[-1] = key
            yield pos, "key", path, frames[-1][3].setdefault(key, pos)
        else:
            yield pos, tok, path, None


def _json_refusal(text: str, file: str, json_data: bool) -> InputError:
    """Why a JSON text that failed a check was refused, with its field path and line."""
    for pos, tok, path, first in _json_tokens(text):
        if tok in "{[" and len(path) >= MAX_DEPTH:
            return InputError(
                f"lists and mappings nest deeper than {MAX_DEPTH} levels",
                file=file,
                field=_bounded_path(path),
                line=_line_at(text, pos),
            )
        if tok == "key" and first != pos:
            return InputError(
                f"key {preview(path[-1])} is given twice in one mapping (lines "
                f"{_line_at(text, first)} and {_line_at(text, pos)}); the second would "
                "silently replace the first",
                file=file,
                field=_bounded_path(path),
                line=_line_at(text, pos),
            )
        if json_data and tok in ("NaN", "Infinity", "-Infinity"):
            return InputError(
                "not a finite number: this value is handed on as JSON, which cannot hold it",
                file=file,
                field=_bounded_path(path),
                value=float(tok),
                line=_line_at(text, pos),
            )
        if len(tok) > MAX_DIGITS and tok[-1].isdigit():
            return InputError(
                f"a number of {len(tok)} digits; the most a number may have is {MAX_DIGITS}",
                file=file,
                field=_bounded_path(path),
                value=tok,
                line=_line_at(text, pos),
            )
    return InputError("cannot read this JSON document", file=file)


def _json_position(text: str, loc: Sequence[str | int]) -> int:
    """Position of the key (or list item) at `loc` in a JSON text, or of the deepest part of
    `loc` found; siblings are skipped by the C decoder. ValueError if `text` is not JSON."""
    decoder = json.JSONDecoder()
    space = re.compile(r"[ \t\n\r]*")

    def skip(i: int) -> int:
        return space.match(text, i).end()  # type: ignore[union-attr]

    pos = best = skip(0)
    for part in loc:
        if text[pos] == "{" and isinstance(part, str | int):
            pos = skip(pos + 1)
            found = False
            while text[pos] == '"':
                key, end = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                if text[skip(end)] != ":":
                    raise ValueError("not JSON")
                start, pos = pos, skip(skip(end) + 1)
                if key == str(part):
                    best, found = start, True
                    break
                pos = skip(decoder.raw_decode(text, pos)[1])
                if text[pos] != ",":
                    break
                pos = skip(pos + 1)
            if not found:
                if text[pos] not in ",}":
                    raise ValueError("not JSON")  # an unquoted key: YAML in flow style
                break
        elif text[pos] == "[" and isinstance(part, int):
            pos = skip(pos + 1)
            for _ in range(part):
                if text[pos] == "]":
                    break
                pos = skip(decoder.raw_decode(text, pos)[1])
                if text[pos] != ",":
                    break
                pos = skip(pos + 1)
            if text[pos] in ",]":
                break
            best = pos
        else:
            break
    return best


# ---------------------------------------------------------------------------------------------
# YAML


class _RefusedError(Exception):
    """A value the YAML loader refuses, with where it is; turned into an InputError."""

    def __init__(self, message: str, path: list[Any], line: int | None, value: Any = None):
        super().__init__(message)
        self.message, self.path, self.line, self.value = message, path, line, value


def _parse_yaml(text: str, file: str, json_data: bool) -> Any:
    loader = (_JsonDataLoader if json_data else _Loader)(text)
    try:
        _check_events(text)
        return loader.get_single_data()
    except _RefusedError as exc:
        raise InputError(
            exc.message, file=file, field=_bounded_path(exc.path), value=exc.value, line=exc.line
        ) from None
    except RecursionError:  # within MAX_DEPTH, but called from deep in some other stack
        raise InputError("lists and mappings nest too deeply to be read here", file=file) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "nesting depth" in problem:  # libyaml's own limit, met while scanning ahead
            problem = f"lists and mappings nest deeper than {MAX_DEPTH} levels"
        raise InputError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    finally:
        loader.dispose()


def _check_events(text: str) -> None:
    """Depth, alias expansion and alias loops, from the event stream: nothing is built, and an
    alias costs one lookup of its anchor's memoised expanded size."""
    frames: list[list[Any]] = []  # [is_mapping, key or index, expecting a key, size, anchor]
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    open_anchors: set[str] = set()
    total = 0

    def refuse(message: str, event: Any, value: Any = None) -> _RefusedError:
        path = [f[1] for f in frames]
        return _RefusedError(message, path, event.start_mark.line + 1, value)

    def done(size: int, key: Any = None) -> None:
        if not frames:
            return
        frame = frames[-1]
        frame[3] += size
        if frame[0]:
            frame[1] = key if frame[2] else frame[1]
            frame[2] = not frame[2]
        else:
            frame[1] += 1

    for event in yaml.parse(text, Loader=_BaseLoader):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            total += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
            done(1, event.value)
        elif kind is yaml.AliasEvent:
            anchor = event.anchor
            if anchor in open_anchors:
                raise refuse("an alias inside the value it names (a loop)", event, f"*{anchor}")
            if anchor not in sizes:
                raise refuse("an alias to no anchor defined before it", event, f"*{anchor}")
            total += sizes[anchor]
            if total > MAX_YAML_VALUES:
                raise refuse(
                    f"aliases expand the document to more than {MAX_YAML_VALUES:,} values",
                    event,
                    f"*{anchor}",
                )
            done(sizes[anchor], f"*{anchor}")
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if len(frames) >= MAX_DEPTH:
                raise refuse(f"lists and mappings nest deeper than {MAX_DEPTH} levels", event)
            total += 1
            is_map = kind is yaml.MappingStartEvent
            frames.append([is_map, None if is_map else 0, True, 1, event.anchor])
            if event.anchor is not None:
                open_anchors.add(event.anchor)
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = frames.pop()
            if frame[4] is not None:
                sizes[frame[4]] = frame[3]
                open_anchors.discard(frame[4])
            done(frame[3], "?")
        if total > MAX_YAML_VALUES:
            raise refuse(f"the document holds more than {MAX_YAML_VALUES:,} values", event)


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, building depth-first so that a refused value knows its field path, and
    refusing a key given twice in one mapping."""

    json_data = False

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._stack: list[Node] = []
        self._checked: set[Node] = set()

    def construct_document(self, node: Node) -> Any:
        data = self.construct_object(node, deep=True)
        self.constructed_objects = {}
        self.recursive_objects = {}
        self.deep_construct = False
        return data

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        self._stack.append(node)
        try:
            return super().construct_object(node, deep=deep)
        except _RefusedError:
            raise
        except yaml.constructor.ConstructorError as exc:
            raise self._refuse(node, exc.problem or str(exc)) from None
        except _NotJsonError as exc:
            raise self._refuse(node, str(exc), exc.value) from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise self._refuse(node, _why(node, exc)) from None
        finally:
            self._stack.pop()

    def flatten_mapping(self, node: MappingNode) -> None:
        if node not in self._checked:  # before merges add keys: only the keys written here
            self._checked.add(node)
            self._check_keys(node)
        super().flatten_mapping(node)

    def _check_keys(self, node: MappingNode) -> None:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node)
            if self.json_data and not isinstance(key, str):
                self._stack.append(key_node)
                try:
                    raise self._refuse(
                        key_node,
                        "a key that is not text: this value is handed on as JSON, whose keys "
                        "are text (quote the key)",
                    )
                finally:
                    self._stack.pop()
            first = seen.setdefault(key, key_node)
            if first is not key_node:
                lines = (first.start_mark.line + 1, key_node.start_mark.line + 1)
                raise _RefusedError(
                    f"key {preview(key_node.value)} is given twice in one mapping (lines {lines[0]} "
                    f"and {lines[1]}); the second would silently replace the first",
                    [*self._path(), key_node.value],
                    lines[1],
                )

    def _path(self) -> list[Any]:
        path: list[Any] = []
        for parent, child in zip(self._stack, self._stack[1:], strict=False):
            if isinstance(parent, MappingNode):
                for key, value in parent.value:
                    if value is child or key is child:
                        path.append(key.value if isinstance(key, ScalarNode) else "?")
                        break
            elif isinstance(parent, SequenceNode):
                path.append(next((i for i, v in enumerate(parent.value) if v is child), "?"))
        return path

    def _refuse(self, node: Node, message: str, value: Any = None) -> _RefusedError:
        if value is None and isinstance(node, ScalarNode):
            value = node.value
        return _RefusedError(message, self._path(), node.start_mark.line + 1, value)


def _why(node: Node, exc: Exception) -> str:
    if isinstance(node, ScalarNode) and len(node.value) > MAX_DIGITS and "digits" in str(exc):
        return f"a number of {len(node.value)} digits; the most a number may have is {MAX_DIGITS}"
    if node.tag == _TIMESTAMP:
        return f"not a valid date: {exc}"
    return f"cannot read this value: {exc}"


class _JsonDataLoader(_Loader):
    """The loader for documents handed on as JSON: only what JSON holds can be built."""

    json_data = True

    def construct_yaml_float(self, node: ScalarNode) -> float:
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _NotJsonError(
                "not a finite number: this value is handed on as JSON, which cannot hold it", value
            )
        return value


def _not_json(what: str) -> Any:
    def refuse(loader: Any, node: Node) -> Any:
        raise _NotJsonError(f"{what} is not JSON data, and this value is handed on as JSON")

    return refuse


for _tag, _what in (
    (_TIMESTAMP, "a date or time (quote it to pass the text)"),
    ("tag:yaml.org,2002:binary", "binary data (!!binary)"),
    ("tag:yaml.org,2002:set", "a set (!!set; use a list)"),
    ("tag:yaml.org,2002:omap", "an ordered map (!!omap; use a mapping)"),
    ("tag:yaml.org,2002:pairs", "a list of pairs (!!pairs; use a mapping)"),
):
    _JsonDataLoader.add_constructor(_tag, _not_json(_what))
_JsonDataLoader.add_constructor("tag:yaml.org,2002:float", _JsonDataLoader.construct_yaml_float)


# ---------------------------------------------------------------------------------------------
# lines of fields


def line_of(text: str | None, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the field at `loc` (of the deepest part of it that exists), from a
    document's text; None without the text. Only called when reporting an error."""
    if text is None:
        return None
    if re.match(r"\s*[\[{]", text):
        try:
            return _line_at(text, _json_position(text, loc))
        except (ValueError, IndexError):
            pass  # YAML in flow style, not JSON
    return _yaml_line(text, loc)


def _yaml_line(text: str, loc: Sequence[str | int]) -> int | None:
    try:
        node = yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line if node is not None else None
    for key in loc:
        if isinstance(node, MappingNode):
            nxt = None
            for k, v in node.value:
                if str(k.value) == str(key):
                    nxt = v
                    line = k.start_mark.line
                    break
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                break
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return None if line is None else line + 1
