"""Tables of published results: a user's table loads with its aliases resolved; a bad row is
refused with the file, the row (index and id), the field, the value and the line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.catalog import load_catalog
from polyfleet.cli import app
from polyfleet.errors import CatalogError, InputError
from polyfleet.inputs.benchmarks import load_benchmarks, merge, parse_benchmarks, table_specs

TABLE: dict[str, Any] = {
    "format": "polyfleet-benchmarks",
    "schema_version": 1,
    "models": {
        "m70": {
            "params_b": 70,
            "layers": 80,
            "kv_dim": 1024,
            "prompt_tokens": 512,
            "output_tokens": 256,
            "seq_len": 2048,
            "source": "a paper",
        }
    },
    "results": [
        {
            "id": "r1",
            "round": "v1",
            "system": "8x H100",
            "submitter": "us",
            "accelerator": "h100-sxm",
            "count": 8,
            "precision": "fp8",
            "model": "m70",
            "scenario": "offline",
            "throughput": 20000.0,
            "source": "our serving stack, 2026-11",
        },
        {
            "id": "r2",
            "round": "v1",
            "system": "8x MI300X",
            "submitter": "us",
            "accelerator": "MI300X",
            "count": 8,
            "precision": "fp8",
            "model": "m70",
            "scenario": "server",
            "throughput": 18000.0,
            "token_latency_ms": 200,
            "source": "our serving stack, 2026-11",
        },
    ],
}


def _write(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, str]:
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    return path, text


def _line(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, x in enumerate(lines) if after in x) if after else 0
    return next(i for i, x in enumerate(lines) if i >= start and needle in x) + 1


def test_a_users_table_loads_and_resolves_aliases(tmp_path):
    path, _ = _write(tmp_path, TABLE)
    table = load_benchmarks(path, load_catalog())
    assert [r.accelerator for r in table.results] == ["h100-sxm", "mi300x"]
    assert table.files == (str(path),)


@pytest.mark.parametrize(
    ("change", "field", "value", "message"),
    [
        (lambda t: t["results"][1].update(throughput=-5), "results[1] (r2).throughput", -5, "≥"),
        (lambda t: t["results"][0].update(count=0), "results[0] (r1).count", 0, "≥ 1"),
        (lambda t: t["results"][0].pop("source"), "results[0] (r1).source", None, "required"),
        (
            lambda t: t["results"][0].update(scenario="batch"),
            "results[0] (r1).scenario",
            "batch",
            "",
        ),
        (
            lambda t: t["results"][0].update(minutes=12.0),
            "results[0] (r1).minutes",
            12.0,
            "not minutes",
        ),
        (
            lambda t: t["results"][0].update(precision="int4"),
            "results[0] (r1).precision",
            "int4",
            "",
        ),
        (lambda t: t["results"][0].update(throughput=True), "results[0] (r1).throughput", True, ""),
        (lambda t: t["results"][0].update(colour="red"), "results[0] (r1).colour", None, "unknown"),
        (
            lambda t: t["results"][0].update(througput=1.0),
            "results[0] (r1).througput",
            None,
            "throughput",
        ),
        (lambda t: t.update(format="csv"), "format", "csv", ""),
        (lambda t: t["models"]["m70"].update(params_b=1e9), "models.m70.params_b", 1e9, "≤"),
    ],
)
def test_a_bad_row_is_refused_naming_file_row_field_and_value(
    tmp_path, change, field, value, message
):
    data = copy.deepcopy(TABLE)
    change(data)
    path, _ = _write(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_benchmarks(path, load_catalog())
    e = err.value
    assert e.file == str(path) and e.field == field and message in e.message
    if value is not None:
        assert e.value == value
    assert e.line is not None


def test_an_unknown_accelerator_names_the_row_and_its_line(tmp_path):
    data = copy.deepcopy(TABLE)
    data["results"][1]["accelerator"] = "mi3000x"
    path, text = _write(tmp_path, data)
    with pytest.raises(CatalogError) as err:
        load_benchmarks(path, load_catalog())
    e = err.value
    assert e.field == "results[1] (r2).accelerator" and e.value == "mi3000x"
    assert "mi300x" in str(e)  # did you mean
    assert e.line == _line(text, "accelerator: mi3000x")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda t: t["results"][1].update(model="m7"), "results[1] (r2).model", "unknown model"),
        (lambda t: t["results"][1].update(id="r1"), "results[1] (r1).id", "duplicate"),
        (
            lambda t: t["results"][0].update(scenario="training", minutes=30.0, throughput=None),
            "results[0] (r1).minutes",
            "train_tokens",
        ),
    ],
)
def test_rows_that_contradict_the_table_are_refused(tmp_path, change, field, message):
    data = copy.deepcopy(TABLE)
    change(data)
    for row in data["results"]:
        if row.get("throughput") is None:
            row.pop("throughput", None)
    path, _ = _write(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_benchmarks(path, load_catalog())
    assert err.value.field == field and message in err.value.message and err.value.line


def test_two_tables_may_not_reuse_a_result_id(tmp_path):
    path, _ = _write(tmp_path, TABLE)
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text())
    cat = load_catalog()
    with pytest.raises(InputError, match="already used in") as err:
        merge([load_benchmarks(path, cat), load_benchmarks(other, cat)])
    assert err.value.file == str(other) and err.value.value == "r1"


def test_benchmarks_option_values():
    assert table_specs(None) == ("packaged",)
    assert table_specs(["none"]) == ()
    assert table_specs(["packaged", "mine.yaml"]) == ("packaged", "mine.yaml")
    with pytest.raises(InputError, match="cannot be combined"):
        table_specs(["none", "mine.yaml"])


def test_calibrate_without_a_table_is_one_error_naming_the_option():
    result = CliRunner().invoke(app, ["calibrate", "--benchmarks", "none", "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --benchmarks: calibrate needs a table (got 'none')")
    assert "packaged" in line


def test_calibrate_refuses_a_bad_table_and_writes_nothing(tmp_path):
    data = copy.deepcopy(TABLE)
    data["results"][0]["count"] = -8
    path, _ = _write(tmp_path, data)
    result = CliRunner().invoke(app, ["calibrate", "--benchmarks", str(path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "results[0] (r1).count" in result.stderr and str(path) in result.stderr


def test_the_readme_example_table_is_a_valid_table():
    text = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    start = text.index("**Table format**")
    block = text[text.index("```yaml\n", start) + 8 : text.index("```\n", start + 20)]
    table = parse_benchmarks(yaml.safe_load(block), load_catalog(), file="README.md", text=block)
    (row,) = table.results
    assert row.accelerator == "h200-sxm" and row.kind == "serve"
