"""A JSON scenario's measured workloads validated in bulk, straight into columns.

A scenario of 100,000 `custom` workloads with measured throughput holds millions of cells; one
pydantic object and one catalog lookup per cell took most of a minute. When every workload is a
plain measured one (`name`, `kind: custom`, `tier`, `demand`, `max_accelerators`, `throughput`, and
nothing else), the rows are checked column by column: the shape of each row in one pass, every
number at once against the same ranges (`inputs.base.RANGES`), each distinct accelerator name
resolved once. The first row that fails is validated alone by the `Workload` model, so its error
is the one the object path gives (file, field path, line, value); a row that model accepts but the
bulk checks do not (a number written as text) sends the whole document to the object path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ValidationError

from polyfleet.errors import InputError
from polyfleet.inputs.base import RANGES, Range
from polyfleet.inputs.columns import WorkloadColumns
from polyfleet.inputs.convert import Names, input_error, resolve_name
from polyfleet.inputs.reader import line_of

__all__ = ["PLAIN_KEYS", "bulk_columns", "outside"]

#: The keys of a workload the bulk path reads; a workload with any other is read as an object.
PLAIN_KEYS = frozenset({"name", "kind", "tier", "demand", "max_accelerators", "throughput"})
_DEMAND_KEYS = frozenset({"value", "unit"})
_NUMBER = (int, float)
Namer = Callable[[Sequence[str | int]], str]


class _ObjectPathError(Exception):
    """A row the bulk checks do not take but the Workload model may: read the objects."""


def outside(r: Range, x: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Where `x` is not a value of range `r` (NaN and infinities included)."""
    above = x > r.low if r.low_open else x >= r.low
    return ~(above & (x <= r.high))


def bulk_columns(
    rows: Any,
    catalog: Names,
    model: type[BaseModel],
    *,
    file: str,
    text: str | None,
    name: Namer,
) -> WorkloadColumns | None:
    """The columns of a scenario's `workloads` list when every row is a plain measured workload;
    None when they must be read as objects. An invalid row is an InputError, as validating it
    with `model` (the scenario's Workload) says."""
    if rows.__class__ is not list or not rows:
        return None
    if not all(
        r.__class__ is dict and r.keys() <= PLAIN_KEYS and r.get("kind") == "custom" for r in rows
    ):
        return None
    try:
        return _columns(rows, catalog, model, file=file, text=text, name=name)
    except _ObjectPathError:
        return None


def _columns(
    rows: list[dict[str, Any]],
    catalog: Names,
    model: type[BaseModel],
    *,
    file: str,
    text: str | None,
    name: Namer,
) -> WorkloadColumns:
    n = len(rows)
    names = [r.get("name") for r in rows]
    demands = [r.get("demand") for r in rows]
    tiers = [r.get("tier") for r in rows]
    caps = [r.get("max_accelerators") for r in rows]
    tps = [r.get("throughput") for r in rows]

    def row_error(bad: NDArray[np.bool_] | list[bool]) -> None:
        """Validate the first bad row alone: its error, or the object path if it is valid."""
        i = int(np.argmax(bad))
        if not bad[i]:
            return
        try:
            model.model_validate(rows[i])
        except ValidationError as exc:
            raise input_error(
                exc, file=file, text=text, name=name, model=model, prefix=["workloads", i]
            ) from None
        raise _ObjectPathError

    # each row's shape: a name, a demand mapping with a number, a tier, a cap, a throughput
    shape_ok = [
        nm.__class__ is str
        and nm != ""
        and d.__class__ is dict
        and d.keys() <= _DEMAND_KEYS
        and d.get("value").__class__ in _NUMBER
        and d.get("unit", "").__class__ is str
        and (t is None or (t.__class__ is int and t in (1, 2)))
        and (c is None or c.__class__ in _NUMBER)
        and tp.__class__ is dict
        and len(tp) > 0
        for nm, d, t, c, tp in zip(names, demands, tiers, caps, tps, strict=True)
    ]
    row_error([not ok for ok in shape_ok])
    demand = np.array([d["value"] for d in demands], dtype=float)
    cap = np.array([np.inf if c is None else c for c in caps], dtype=float)
    given = np.array([c is not None for c in caps])
    row_error(outside(RANGES["demand"], demand) | (given & outside(RANGES["accelerator_cap"], cap)))

    # the cells: numbers (not booleans, not text) within the throughput range
    sizes = np.fromiter(map(len, tps), np.intp, n)
    total = int(sizes.sum())
    if not set(map(type, chain.from_iterable(t.values() for t in tps))) <= set(_NUMBER):
        row_error([any(v.__class__ not in _NUMBER for v in t.values()) for t in tps])
    value = np.fromiter(chain.from_iterable(t.values() for t in tps), float, total)
    row_of_cell = np.repeat(np.arange(n, dtype=np.intp), sizes)
    bad_cell = outside(RANGES["throughput"], value)
    if bad_cell.any():
        row_error(np.bincount(row_of_cell[bad_cell], minlength=n) > 0)

    _unique(names, file=file, text=text, name=name)
    accelerators, code = _resolve(tps, catalog, file=file, text=text, name=name)
    return WorkloadColumns(
        names=names,
        kind=np.full(n, "custom", dtype="<U8"),
        demand=demand,
        unit=[d.get("unit", "tokens/s") for d in demands],
        cap=cap,
        tier=np.array([2 if t is None else t for t in tiers], dtype=np.int8),
        cell_row=row_of_cell,
        cell_acc=np.fromiter(map(code.__getitem__, chain.from_iterable(tps)), np.intp, total),
        cell_value=value,
        accelerators=accelerators,
        objects=False,
    )


def _unique(names: list[str], *, file: str, text: str | None, name: Namer) -> None:
    """Workload names are unique (as the Scenario model checks them)."""
    if len(set(names)) == len(names):
        return
    seen: set[str] = set()
    for i, nm in enumerate(names):
        if nm in seen:
            loc: list[str | int] = ["workloads", i, "name"]
            raise InputError(
                f"duplicate workload name '{nm}'",
                file=file,
                field=name(loc),
                value=nm,
                line=line_of(text, loc),
            )
        seen.add(nm)


def _resolve(
    tps: list[dict[str, Any]], catalog: Names, *, file: str, text: str | None, name: Namer
) -> tuple[tuple[str, ...], dict[str, int]]:
    """Each distinct accelerator name resolved once: the ids, and each name's index into them.
    An unknown name is the CatalogError of its first use; two names of one accelerator in one
    workload are refused."""
    keys = dict.fromkeys(chain.from_iterable(tps))
    found = {k: catalog.find(k) for k in keys}  # type: ignore[attr-defined]
    unknown = {k for k, v in found.items() if v is None}
    if unknown:
        i = next(i for i, t in enumerate(tps) if not unknown.isdisjoint(t))
        key = next(k for k in tps[i] if k in unknown)
        resolve_name(
            catalog, key, ["workloads", i, "throughput", key], file=file, text=text, name=name
        )
    ids = tuple(dict.fromkeys(v for v in found.values() if v is not None))
    index = {a: j for j, a in enumerate(ids)}
    code = {k: index[v] for k, v in found.items() if v is not None}
    if len(ids) < len(keys):  # some accelerator is named two ways: each workload uses one
        aliased = {k for k in keys if k != found[k]}
        for i, t in enumerate(tps):
            if not aliased.isdisjoint(t):
                check_distinct(
                    t, found, ["workloads", i, "throughput"], file=file, text=text, name=name
                )
    return ids, code


def check_distinct(
    cells: dict[str, Any],
    resolved: dict[str, str | None],
    loc: list[str | int],
    *,
    file: str,
    text: str | None,
    name: Namer,
) -> None:
    """One workload's throughput names each accelerator once, whatever name it uses."""
    first: dict[str | None, str] = {}
    for key in cells:
        acc = resolved[key]
        other = first.setdefault(acc, key)
        if other != key:
            at = [*loc, key]
            raise InputError(
                f"throughput for {acc} is given twice (as '{other}' and '{key}'); the second "
                "would silently replace the first",
                file=file,
                field=name(at),
                value=cells[key],
                line=line_of(text, at),
            )
