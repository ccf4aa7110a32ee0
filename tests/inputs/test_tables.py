"""Workloads and throughput as tables (Parquet, CSV): the same scenario as written out, and one
clear error per bad table naming the table file, row, column and value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from polyfleet.errors import CatalogError, InputError
from polyfleet.inputs import tables
from polyfleet.inputs.scenario import load_scenario
from polyfleet.plan.placement import make_plan

from .test_bulk import scenario


def split(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, list[Any]]]:
    """A scenario's header, its workloads table and its long-form throughput table."""
    wl = data["workloads"]
    workloads = {
        "name": [w["name"] for w in wl],
        "demand": [float(w["demand"]["value"]) for w in wl],
        "unit": [w["demand"]["unit"] for w in wl],
        "max_accelerators": [w.get("max_accelerators") for w in wl],
        "tier": [w.get("tier") for w in wl],
    }
    cells = [(w["name"], a, float(v)) for w in wl for a, v in w["throughput"].items()]
    throughput = {
        k: [c[i] for c in cells] for i, k in enumerate(("workload", "accelerator", "value"))
    }
    head = {k: v for k, v in data.items() if k != "workloads"}
    return head, workloads, throughput


def write_tables(
    folder: Path,
    workloads: dict[str, list[Any]],
    throughput: dict[str, list[Any]],
    fmt: str = "parquet",
    head: dict[str, Any] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, cols in (("workloads", workloads), ("throughput", throughput)):
        table = pa.table(cols)
        if fmt == "parquet":
            pq.write_table(table, folder / f"{name}.parquet")
        else:  # NaN and infinity are written as the words nan and inf
            pacsv.write_csv(table, folder / f"{name}.csv")
    path = folder / "s.json"
    data = dict(head if head is not None else split(scenario(10))[0])
    data["workloads"] = {"table": f"workloads.{fmt}"}
    data["throughput"] = {"table": f"throughput.{fmt}"}
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_tables_give_the_plan_the_written_out_scenario_gives(tmp_path, fmt):
    data = scenario()
    head, workloads, throughput = split(data)
    path = write_tables(tmp_path / "t", workloads, throughput, fmt, head)
    (tmp_path / "s.yaml").write_text(json.dumps(data))
    from_tables, written = load_scenario(path), load_scenario(tmp_path / "s.yaml")
    assert not from_tables.columns.objects
    p, q = make_plan(from_tables), make_plan(written)
    assert p.status == q.status == "optimal"
    assert p.to_dict() | {"timings": None} == q.to_dict() | {"timings": None}


def good() -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    _, workloads, throughput = split(scenario(10))
    return workloads, throughput


def bad_cases() -> list[tuple[str, Any, str, str, str | None, str]]:
    """(id, change to the tables, table, field, value shown, message part)."""

    def cell(table: str, column: str, row: int, value: Any) -> Any:
        def apply(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
            cols = w if table == "workloads" else t
            cols[column][row] = value

        return apply

    def drop(table: str, column: str) -> Any:
        def apply(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
            del (w if table == "workloads" else t)[column]

        return apply

    def add(table: str, column: str) -> Any:
        def apply(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
            cols = w if table == "workloads" else t
            cols[column] = [1.0] * len(next(iter(cols.values())))

        return apply

    def empty(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
        for cols in (w, t):
            for k in cols:
                cols[k] = cols[k][:0]

    def repeat(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
        for k in t:
            t[k].append(t[k][2])

    def unmeasured(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
        keep = [i for i, name in enumerate(t["workload"]) if name != "w4"]
        for k in t:
            t[k] = [t[k][i] for i in keep]

    def text_values(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
        t["value"] = [str(v) for v in t["value"]]
        t["value"][5] = "fast"

    def bool_demand(w: dict[str, list[Any]], t: dict[str, list[Any]]) -> None:
        w["demand"] = [True] * len(w["demand"])

    return [
        (
            "value nan",
            cell("throughput", "value", 3, float("nan")),
            "throughput",
            "row 4, column value",
            "nan",
            "not a finite number",
        ),
        (
            "value inf",
            cell("throughput", "value", 3, float("inf")),
            "throughput",
            "row 4, column value",
            "inf",
            "not a finite number",
        ),
        (
            "value negative",
            cell("throughput", "value", 3, -2.0),
            "throughput",
            "row 4, column value",
            "-2.0",
            "a throughput must be ≥ 0.001",
        ),
        (
            "value missing",
            cell("throughput", "value", 6, None),
            "throughput",
            "row 7, column value",
            None,
            "missing value",
        ),
        (
            "value as text",
            text_values,
            "throughput",
            "row 6, column value",
            None,
            "holds numbers, not string",
        ),
        (
            "demand negative",
            cell("workloads", "demand", 2, -1.0),
            "workloads",
            "row 3, column demand",
            "-1.0",
            "a demand must be ≥ 0",
        ),
        (
            "demand as bool",
            bool_demand,
            "workloads",
            "row 1, column demand",
            None,
            "holds numbers, not true/false",
        ),
        (
            "cap zero",
            cell("workloads", "max_accelerators", 1, 0.0),
            "workloads",
            "row 2, column max_accelerators",
            "0.0",
            "a cap on accelerators must be ≥ 1",
        ),
        (
            "tier three",
            cell("workloads", "tier", 1, 3),
            "workloads",
            "row 2, column tier",
            "3.0",
            "must be ≥ 1 and ≤ 2",
        ),
        (
            "unknown workload",
            cell("throughput", "workload", 4, "nobody"),
            "throughput",
            "row 5, column workload",
            "'nobody'",
            "unknown workload",
        ),
        (
            "unknown accelerator",
            cell("throughput", "accelerator", 4, "h2000"),
            "throughput",
            "row 5, column accelerator",
            "'h2000'",
            "unknown accelerator",
        ),
        (
            "pair twice",
            repeat,
            "throughput",
            "row {last}, column accelerator",
            None,
            "is given twice (rows 3 and {last})",
        ),
        (
            "duplicate name",
            cell("workloads", "name", 6, "w1"),
            "workloads",
            "row 7, column name",
            "'w1'",
            "duplicate workload name 'w1'",
        ),
        (
            "empty name",
            cell("workloads", "name", 6, ""),
            "workloads",
            "row 7, column name",
            "''",
            "a workload needs a name",
        ),
        (
            "workload unmeasured",
            unmeasured,
            "workloads",
            "row 5, column name",
            "'w4'",
            "needs measured throughput",
        ),
        (
            "missing column",
            drop("throughput", "value"),
            "throughput",
            None,
            None,
            "missing column 'value'",
        ),
        (
            "unknown column",
            add("workloads", "demnd"),
            "workloads",
            None,
            None,
            "unknown column 'demnd' — did you mean 'demand'?",
        ),
        ("empty tables", empty, "workloads", None, None, "the table is empty"),
    ]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize(
    ("what", "change", "table", "field", "value", "message"),
    bad_cases(),
    ids=[c[0] for c in bad_cases()],
)
def test_a_bad_table_is_one_error_naming_file_row_column_value(
    tmp_path, fmt, what, change, table, field, value, message
):
    workloads, throughput = good()
    if fmt == "csv" and what == "empty name":
        value, message = None, "missing value"  # an empty CSV field is no value
    change(workloads, throughput)
    last = len(throughput["workload"])
    path = write_tables(tmp_path, workloads, throughput, fmt)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(tmp_path / f"{table}.{fmt}")
    assert message.format(last=last) in err.message
    if fmt == "csv" and what == "value as text":
        return  # CSV reads the whole column as text: the first row names it
    if field is not None:
        assert err.field == field.format(last=last)
        row = int(err.field.split(",")[0].removeprefix("row "))
        assert err.line == (row + 1 if fmt == "csv" else None)
    if value is not None:
        assert f"(got {value})" in str(err)
    if what == "unknown accelerator":
        assert isinstance(err, CatalogError) and "h200-sxm" in str(err)  # a suggestion


@pytest.mark.parametrize("entry", ["../elsewhere.parquet", "/etc/passwd", "sub/../../x.parquet"])
def test_a_table_outside_the_scenario_folder_is_refused(tmp_path, entry):
    workloads, throughput = good()
    path = write_tables(tmp_path / "inside", workloads, throughput)
    data = json.loads(path.read_text())
    data["workloads"] = {"table": entry}
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert "must lie in the scenario's folder" in str(info.value)
    assert info.value.field == "workloads.table"


def test_a_table_over_the_row_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    workloads, throughput = good()
    path = write_tables(tmp_path, workloads, throughput)
    monkeypatch.setattr(tables, "MAX_TABLE_ROWS", len(throughput["value"]) - 1)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert f"has {len(throughput['value']):,} rows, more than" in str(info.value)
    assert info.value.file == str(tmp_path / "throughput.parquet")


def test_a_csv_table_over_the_byte_limit_is_refused(tmp_path, monkeypatch):
    workloads, throughput = good()
    path = write_tables(tmp_path, workloads, throughput, "csv")
    monkeypatch.setattr(tables, "MAX_CSV_BYTES", 100)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert "larger than" in str(info.value) and "Parquet" in str(info.value)


def test_throughput_table_without_a_workloads_table_is_refused(tmp_path):
    data = scenario(5)
    data["throughput"] = {"table": "throughput.parquet"}
    (tmp_path / "s.yaml").write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "s.yaml")
    assert info.value.field == "throughput" and "gives the cells of a workloads table" in str(
        info.value
    )


def test_workloads_table_without_throughput_is_refused(tmp_path):
    workloads, throughput = good()
    path = write_tables(tmp_path, workloads, throughput)
    data = json.loads(path.read_text())
    del data["throughput"]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.field == "workloads" and "needs its measured throughput" in str(info.value)


def test_a_file_that_is_not_a_table_is_refused(tmp_path):
    workloads, throughput = good()
    path = write_tables(tmp_path, workloads, throughput)
    (tmp_path / "throughput.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert "cannot read this table" in str(info.value)


def test_table_cells_reach_the_matrix_as_measured(tmp_path):
    workloads, throughput = good()
    loaded = load_scenario(write_tables(tmp_path, workloads, throughput))
    cols = loaded.columns
    dense = cols.measured(["h100-sxm", "mi300x"])
    i = throughput["workload"].index("w3")
    acc = throughput["accelerator"][i]
    j = {"h100": 0, "h100-sxm": 0, "mi300x": 1}.get(acc)
    if j is not None:
        assert dense[3, j] == throughput["value"][i]
    assert np.count_nonzero(cols.measured(list(cols.accelerators))) == len(throughput["value"])
