"""Large JSON inputs parsed at C speed (orjson), with the exact reader's defences kept.

The exact reader (`inputs.reader`) parses JSON with the standard library and a Python hook on
every object, to refuse a key given twice; on a 100 MB scenario that hook alone costs seconds.
`loads_checked` parses with orjson instead, then makes the reader's checks in bulk:

- nesting deeper than `MAX_DEPTH`: one walk over the parsed containers (no recursion);
- a key given twice in one mapping (orjson keeps the last one silently): every key of the text
  has exactly one `:` after it outside strings, and a `:` inside a string is written as itself
  (`\\u003a` escapes excepted, and a text that holds one is left to the exact reader), so the text
  holds as many `:` as the document re-encoded by orjson unless some key's entry was dropped;
- what orjson refuses and the standard parser takes (`NaN`, numbers that overflow a double, lone
  surrogates) or refuses with its own message: left to the exact reader.

It answers None whenever the exact reader must decide, which then accepts the document or gives
its usual error: every refusal keeps its message, file, field path and line. The one difference
on success: an integer beyond 64 bits is read as a float, outside the range of every field.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["deeper_than", "loads_checked"]


def loads_checked(raw: bytes, max_depth: int) -> Any | None:
    """The document in `raw` (UTF-8 JSON, no byte-order mark), or None if the exact reader must
    read it: a syntax orjson refuses, nesting deeper than `max_depth`, a key given twice."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if b"\\u003" in raw:  # a `:` that may be written `\\u003a`: left to the exact count
        return None
    if deeper_than(data, max_depth):
        return None
    if raw.count(b":") != orjson.dumps(data).count(b":"):
        return None  # some key's entry was dropped: a key given twice
    return data


def deeper_than(data: Any, max_depth: int) -> bool:
    """Whether lists and mappings nest deeper than `max_depth`: one pass over the containers,
    level by level."""
    level = [data] if data.__class__ is dict or data.__class__ is list else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        nxt: list[Any] = []
        for item in level:
            values = item.values() if item.__class__ is dict else item
            nxt += [v for v in values if v.__class__ is dict or v.__class__ is list]
        level = nxt
    return False
