"""Workloads and their measured throughput as tables (Parquet or CSV), read with pyarrow straight
into arrays.

A scenario may give its workloads as `workloads: {table: workloads.parquet}` and their throughput
as `throughput: {table: throughput.parquet}` in long form, one measured cell per row:

    workloads:  name (text), demand (units/s), and optionally unit (text, default tokens/s),
                max_accelerators (number; empty: no cap), tier (1 or 2; empty: 2)
    throughput: workload (a name of the workloads table), accelerator (a catalog id or alias),
                value (units/s per accelerator)

Every workload of a table is a measured (`custom`) one. The files are named relative to the
scenario and must lie in its folder or below. A bad table is one InputError naming the table
file, the row (1 = the first row after the header), the column and the value: a missing or unknown
column, a column of the wrong type, an empty table, a missing, non-finite or out-of-range value,
an unknown workload or accelerator, a (workload, accelerator) pair given twice, or a table over the
documented size limits (`inputs.base.LIMITS`: table_rows, table_csv_bytes). Checks run on whole
columns; only the row that fails is looked at alone.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, ValidationError

from polyfleet.errors import InputError
from polyfleet.extras import require
from polyfleet.inputs.base import LIMITS, RANGES, InputModel, Range
from polyfleet.inputs.columns import WorkloadColumns
from polyfleet.inputs.convert import Names, input_error, relative_file
from polyfleet.inputs.reader import line_of

__all__ = ["MAX_CSV_BYTES", "MAX_TABLE_ROWS", "TableRef", "table_columns"]

MAX_TABLE_ROWS = int(LIMITS["table_rows"].value)
MAX_CSV_BYTES = int(LIMITS["table_csv_bytes"].value)
#: each table's columns: what each holds, and whether it must be there
WORKLOAD_COLUMNS = {
    "name": ("text", True),
    "demand": ("number", True),
    "unit": ("text", False),
    "max_accelerators": ("number", False),
    "tier": ("whole number", False),
}
THROUGHPUT_COLUMNS = {
    "workload": ("text", True),
    "accelerator": ("text", True),
    "value": ("number", True),
}


class TableRef(InputModel):
    """`{table: FILE}`: a table file, relative to the scenario."""

    table: str = Field(min_length=1)


class _Table:
    """One table's columns (pyarrow arrays) and how to name a cell of it in an error."""

    def __init__(self, path: Path, columns: dict[str, Any], rows: int) -> None:
        self.path, self.columns, self.rows = path, columns, rows
        self.csv = path.suffix.lower() == ".csv"

    def fail(self, message: str, row: int | None, column: str | None, value: Any = None) -> None:
        """An InputError at 0-based `row` (shown 1-based; a CSV's line is row + 2)."""
        where = None if column is None else f"column {column}"
        if row is not None:
            where = f"row {row + 1}" + (f", {where}" if where else "")
        raise InputError(
            message,
            file=str(self.path),
            field=where,
            value=value,
            line=row + 2 if self.csv and row is not None else None,
        )

    def text(self, name: str) -> list[str] | None:
        """A text column as Python strings (one per row: names, not cells)."""
        col = self.columns.get(name)
        return None if col is None else col.to_pylist()

    def numbers(self, name: str, r: Range) -> NDArray[np.float64] | None:
        """A number column as floats (NaN where empty), every given value finite and in `r`."""
        col = self.columns.get(name)
        if col is None:
            return None
        x = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
        given = ~np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        bad = given & ~(np.isfinite(x) & ~_outside(r, x))
        if bad.any():
            i = int(np.argmax(bad))
            why = "not a finite number" if not np.isfinite(x[i]) else _rule(r)
            self.fail(why, i, name, float(x[i]))
        return np.where(given, x, np.nan)

    def required(self, name: str) -> None:
        """Every row of column `name` has a value."""
        nulls = self.columns[name].is_null().to_numpy(zero_copy_only=False)
        if nulls.any():
            self.fail("missing value", int(np.argmax(nulls)), name)


def _outside(r: Range, x: NDArray[np.float64]) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        above = x > r.low if r.low_open else x >= r.low
        return ~(above & (x <= r.high))


def _rule(r: Range) -> str:
    return f"{r.label} must be {r.rule()}" + (f" {r.unit}" if r.unit else "")


def table_columns(
    data: dict[str, Any], catalog: Names, *, file: str, text: str | None
) -> WorkloadColumns:
    """The workloads and throughput tables a scenario names, as columns (see the module)."""
    if not isinstance(data.get("workloads"), dict):
        raise InputError(
            "a `throughput: {table: FILE}` gives the cells of a workloads table "
            "(`workloads: {table: FILE}`); workloads written out give their throughput inline",
            file=file,
            field="throughput",
            line=line_of(text, ["throughput"]),
        )
    if data.get("throughput") is None:
        raise InputError(
            "a workloads table needs its measured throughput: add `throughput: {table: FILE}` "
            "(long form: workload, accelerator, value)",
            file=file,
            field="workloads",
            line=line_of(text, ["workloads"]),
        )
    pa = require("pyarrow", extra="tables", what="reading workload tables")
    w = _read(pa, _path(data, "workloads", file, text), WORKLOAD_COLUMNS)
    t = _read(pa, _path(data, "throughput", file, text), THROUGHPUT_COLUMNS)
    return _join(pa, w, t, catalog)


def _path(data: dict[str, Any], key: str, file: str, text: str | None) -> Path:
    try:
        ref = TableRef.model_validate(data[key])
    except ValidationError as exc:
        raise input_error(exc, file=file, text=text, model=TableRef, prefix=[key]) from None
    what = f"{key} table"
    return relative_file(file, ref.table, [key, "table"], text, what, confined=True)


def _read(pa: Any, path: Path, spec: dict[str, tuple[str, bool]]) -> _Table:
    """A table file's columns, checked against `spec`: names, types, size, no empty table."""
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise InputError(
            "a table is a Parquet (.parquet) or CSV (.csv) file", file=str(path), value=path.name
        )
    try:
        if suffix == ".csv":
            size = path.stat().st_size
            if size > MAX_CSV_BYTES:
                raise InputError(
                    f"the table is larger than {MAX_CSV_BYTES // 2**20:,} MiB, the most a CSV "
                    "table may be",
                    file=str(path),
                    hint="Write large tables as Parquet",
                )
            from pyarrow import csv

            # only an empty field is missing: `nan` is a value, refused as not finite
            empty = csv.ConvertOptions(null_values=[""], strings_can_be_null=True)
            table = csv.read_csv(path, convert_options=empty)
        else:
            from pyarrow import parquet

            rows = parquet.ParquetFile(path).metadata.num_rows
            _check_rows(rows, path)
            table = parquet.read_table(path)
    except pa.ArrowException as exc:
        raise InputError(f"cannot read this table: {exc}", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read this table: {exc.strerror or exc}", file=str(path)) from None
    _check_rows(table.num_rows, path)
    out = _Table(path, {}, table.num_rows)
    for name in table.column_names:
        if name not in spec:
            close = difflib.get_close_matches(str(name)[:100], list(spec), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"the columns are {', '.join(spec)}"
            out.fail(f"unknown column '{name}' — {hint}", None, None)
    if len(set(table.column_names)) < len(table.column_names):
        out.fail("a column is given twice", None, None, table.column_names)
    for name, (kind, needed) in spec.items():
        if name not in table.column_names:
            if needed:
                out.fail(f"missing column '{name}' ({kind})", None, None)
            continue
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if not _type_ok(pa, col.type, kind):
            out.fail(_type_error(pa, col, kind), _first_bad(pa, col, kind), name)
        out.columns[name] = col
    if table.num_rows == 0:
        out.fail("the table is empty: it has no rows", None, None)
    for name, (_, needed) in spec.items():
        if needed:
            out.required(name)
    return out


def _check_rows(rows: int, path: Path) -> None:
    if rows > MAX_TABLE_ROWS:
        raise InputError(
            f"the table has {rows:,} rows, more than the {MAX_TABLE_ROWS:,} a table may have",
            file=str(path),
        )


def _type_ok(pa: Any, tp: Any, kind: str) -> bool:
    if kind == "text":
        return bool(pa.types.is_string(tp) or pa.types.is_large_string(tp) or pa.types.is_null(tp))
    if kind == "whole number":
        return bool(pa.types.is_integer(tp) or pa.types.is_null(tp))
    return bool(pa.types.is_integer(tp) or pa.types.is_floating(tp) or pa.types.is_null(tp))


def _type_error(pa: Any, col: Any, kind: str) -> str:
    what = "true/false" if pa.types.is_boolean(col.type) else str(col.type)
    return f"this column holds {kind}s, not {what}"


def _first_bad(pa: Any, col: Any, kind: str) -> int | None:
    """The first row whose value is not of `kind` (a CSV column of numbers and text)."""
    if kind == "text":
        return 0
    for i, v in enumerate(col.to_pylist()):  # the error path only
        if v is None:
            continue
        try:
            x = float(v) if not isinstance(v, bool) else None
        except (TypeError, ValueError):
            x = None
        if x is None or (kind == "whole number" and x != int(x)):
            return i
    return None


def _join(pa: Any, w: _Table, t: _Table, catalog: Names) -> WorkloadColumns:
    """Workloads and their cells: names unique, every cell's workload and accelerator known,
    each pair once, every workload measured somewhere."""
    import pyarrow.compute as pc

    names = w.text("name")
    assert names is not None
    n = len(names)
    empty = [i for i, nm in enumerate(names) if not nm]
    if empty:
        w.fail("a workload needs a name", empty[0], "name", "")
    if len(set(names)) < n:
        seen: set[str] = set()
        for i, nm in enumerate(names):
            if nm in seen:
                w.fail(f"duplicate workload name '{nm}'", i, "name", nm)
            seen.add(nm)
    demand = w.numbers("demand", RANGES["demand"])
    assert demand is not None
    cap = w.numbers("max_accelerators", RANGES["accelerator_cap"])
    tier = w.numbers("tier", Range("tier", "a tier", "", 1, 2, "", integer=True))
    if tier is not None and (bad := ~np.isnan(tier) & (tier != 1) & (tier != 2)).any():
        i = int(np.argmax(bad))
        w.fail("a tier is 1 or 2", i, "tier", float(tier[i]))
    units = w.text("unit")

    # cells: the workload and accelerator of each, by index, in C++ (no Python object per cell)
    wl_col = t.columns["workload"]
    row = pc.index_in(wl_col, value_set=pa.array(names, pa.string()))
    missing = row.is_null().to_numpy(zero_copy_only=False)
    if missing.any():
        i = int(np.argmax(missing))
        t.fail("unknown workload: not in the workloads table", i, "workload", wl_col[i].as_py())
    acc_col = t.columns["accelerator"]
    distinct = pc.unique(acc_col).to_pylist()
    ids: list[str] = []
    for name in distinct:
        try:
            ids.append(catalog.resolve(name))
        except InputError as exc:  # again, at the first row that names it
            i = int(np.argmax(pc.equal(acc_col, name).to_numpy(zero_copy_only=False)))
            exc.file, exc.field = str(t.path), f"row {i + 1}, column accelerator"
            exc.line = i + 2 if t.csv else None
            exc.args = (str(exc),)
            raise exc from None
    accelerators = tuple(dict.fromkeys(ids))
    index = {a: j for j, a in enumerate(accelerators)}
    code_of = np.array([index[a] for a in ids], dtype=np.intp)
    acc = code_of[pc.index_in(acc_col, value_set=pa.array(distinct, acc_col.type)).to_numpy()]
    cell_row = row.to_numpy().astype(np.intp)
    value = t.numbers("value", RANGES["throughput"])
    assert value is not None
    key = cell_row * len(accelerators) + acc
    order = np.argsort(key, kind="stable")
    twice = np.flatnonzero(key[order][1:] == key[order][:-1])
    if twice.size:
        i = int(order[1:][twice].min())
        first = int(order[np.searchsorted(key[order], key[i])])
        t.fail(
            f"workload {names[cell_row[i]]} on {accelerators[acc[i]]} is given twice (rows "
            f"{first + 1} and {i + 1}); the second would silently replace the first",
            i,
            "accelerator",
            acc_col[i].as_py(),
        )
    measured = np.bincount(cell_row, minlength=n)
    if (measured == 0).any():
        i = int(np.argmax(measured == 0))
        w.fail(
            "a workload of a table needs measured throughput: the throughput table has no row "
            "for it",
            i,
            "name",
            names[i],
        )
    return WorkloadColumns(
        names=names,
        kind=np.full(n, "custom", dtype="<U8"),
        demand=demand,
        unit=["tokens/s" if u is None else u for u in units] if units else ["tokens/s"] * n,
        cap=np.where(np.isnan(cap), np.inf, cap) if cap is not None else np.full(n, np.inf),
        tier=np.where(np.isnan(tier), 2, tier).astype(np.int8)
        if tier is not None
        else np.full(n, 2, np.int8),
        cell_row=cell_row,
        cell_acc=acc.astype(np.intp),
        cell_value=value,
        accelerators=accelerators,
        objects=False,
    )
