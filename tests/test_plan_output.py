"""The plan's output at scale: compact JSON (the matrix only on request, or as a Parquet side
file), and a terminal view that shows the largest rows and the totals, not every row."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from polyfleet.catalog import load_catalog
from polyfleet.cli import app
from polyfleet.report.terminal import MAX_ASSIGNMENTS, MAX_WORKLOADS, figure, print_plan
from polyfleet.results.plan import PlanRecord

runner = CliRunner()
#: bytes of compact plan JSON per assignment and per workload: at 100,000 workloads x 50 pools
#: (about 102,000 assignments) this bound is 49 MB, within the 50 MB the plan may take
BYTES_PER_ROW = 245


def fleet(n_w: int, n_p: int, seed: int = 0) -> dict[str, Any]:
    """Measured workloads on pools of custom accelerators, the power cap binding."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.5, 3.0, (n_w, n_p)) * (rng.random((n_w, n_p)) < 0.7)
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = 1.5
    demand = rng.uniform(1, 100, n_w)
    need = float((demand / T.max(axis=1)).sum())
    return {
        "name": "fleet",
        "limits": {"power_cap_mw": round(need * 1.3 * 2.34 / 1000 * 1.1, 3)},
        "catalog": [
            {"id": f"acc-{j}", "vendor": ("amd", "nvidia")[j % 2], "memory_gb": 141, "tdp_w": 1000}
            for j in range(n_p)
        ],
        "pools": [
            {
                "name": f"p{j}",
                "accelerator": f"acc-{j}",
                "count": int(need * 1.6 / n_p) + 1,
                "cost": {"per_gpu_hour": round(float(rng.uniform(1, 5)), 3)},
            }
            for j in range(n_p)
        ],
        "workloads": [
            {
                "name": f"w{i}",
                "kind": "custom",
                "demand": {"value": round(float(demand[i]), 3), "unit": "req/s"},
                "throughput": {f"acc-{j}": round(float(T[i, j]), 4) for j in np.flatnonzero(T[i])},
            }
            for i in range(n_w)
        ],
    }


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "fleet.json"
    path.write_text(json.dumps(fleet(2000, 10)))
    return path


@pytest.fixture(scope="module")
def large_json(large: Path) -> str:
    result = runner.invoke(app, ["plan", str(large), "--json"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_plan_json_is_compact_and_bounded_per_row(large_json):
    data = json.loads(large_json)
    assert data["status"] == "optimal" and "matrix" not in data
    rows = len(data["assignments"]) + len(data["workloads"])
    assert rows > 4000
    assert len(large_json.encode()) <= BYTES_PER_ROW * rows + 20_000
    assert large_json.count("\n") == 1


def test_measured_assignments_leave_out_the_interval_they_do_not_have(large_json):
    a = json.loads(large_json)["assignments"][0]
    assert a["origin"] == "measured" and "throughput_low" not in a


def test_matrix_is_in_the_json_only_on_request(tmp_path, large):
    small = tmp_path / "small.json"
    small.write_text(json.dumps(fleet(30, 4)))
    plain = json.loads(runner.invoke(app, ["plan", str(small), "--json"]).stdout)
    full = json.loads(runner.invoke(app, ["plan", str(small), "--json", "--matrix"]).stdout)
    assert "matrix" not in plain
    accelerators = len(list(load_catalog())) + 4  # the packaged catalog and the scenario's own
    assert len(full["matrix"]) == 30 * accelerators
    assert {k: v for k, v in full.items() if k not in ("matrix", "timings")} == {
        k: v for k, v in plain.items() if k != "timings"
    }


def test_matrix_side_file_holds_every_cell(tmp_path):
    small = tmp_path / "small.json"
    small.write_text(json.dumps(fleet(30, 4)))
    side = tmp_path / "matrix.parquet"
    result = runner.invoke(
        app, ["plan", str(small), "--json", "--matrix", "--matrix-out", str(side)]
    )
    assert result.exit_code == 0, result.stderr
    cells = json.loads(result.stdout)["matrix"]
    table = pq.read_table(side).to_pylist()
    assert len(table) == len(cells)
    for row, cell in zip(table, cells, strict=True):
        assert (row["workload"], row["accelerator"]) == (cell["workload"], cell["accelerator"])
        assert row["throughput"] == cell["throughput"] and row["origin"] == cell["origin"]
        if cell["origin"] == "ineligible":
            assert row["reason"] is not None and row["throughput_low"] == 0.0
        else:
            assert row["reason"] is None
            assert row["throughput_low"] == cell["throughput_low"]


def test_matrix_side_file_must_be_parquet_and_nothing_is_written(tmp_path):
    small = tmp_path / "small.json"
    small.write_text(json.dumps(fleet(30, 4)))
    out = tmp_path / "plan.json"
    result = runner.invoke(
        app, ["plan", str(small), "--out", str(out), "--matrix-out", str(tmp_path / "m.csv")]
    )
    assert result.exit_code == 1
    assert "--matrix-out" in result.stderr and "Parquet" in result.stderr
    assert not out.exists()


def test_terminal_view_of_a_large_plan_shows_the_largest_rows_and_totals(large_json):
    record = PlanRecord.parse(json.loads(large_json))
    out = io.StringIO()
    print_plan(record, Console(file=out, width=200))
    text = out.getvalue()
    n_a, n_w = len(record.assignments or []), len(record.workloads or [])
    assert f"… {n_a - MAX_ASSIGNMENTS:,} more assignments; --json for all" in text
    assert f"… {n_w - MAX_WORKLOADS:,} more workloads; --json for all" in text
    assert f"all {n_w:,}" in text
    assert text.count("\n") < 200  # not one line per row
    biggest = max(record.assignments or [], key=lambda a: a.accelerators)
    assert f"│ {biggest.workload} " in text
    total = sum(w.cost_per_hour for w in record.workloads or [])
    assert f"{total:,.0f}" in text


def test_small_power_figures_do_not_read_as_zero(tmp_path: Path):
    scenario = {
        "name": "small",
        "limits": {"power_cap_mw": 0.5},
        "catalog": [{"id": "acc", "vendor": "amd", "memory_gb": 141, "tdp_w": 700}],
        "pools": [{"name": "p", "accelerator": "acc", "count": 4, "cost": {"per_gpu_hour": 2}}],
        "workloads": [
            {"name": "w", "kind": "custom", "demand": {"value": 3}, "throughput": {"acc": 1.5}}
        ],
    }
    path = tmp_path / "small.json"
    path.write_text(json.dumps(scenario))
    result = runner.invoke(app, ["plan", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert " of 0.5 MW cap" in result.output
    assert not any(f" {zero} MW" in result.output for zero in ("0", "0.0"))
    assert " 0.0 " not in result.output  # the pools' MW column


@pytest.mark.parametrize(
    ("x", "decimals", "shown"),
    [
        (0.5, 0, "0.5"),
        (1.5, 0, "1.5"),
        (250.0, 0, "250"),
        (12_345.6, 0, "12,346"),
        (0.0, 1, "0.0"),
        (0.00328, 1, "0.00328"),
        (3.28e-6, 3, "0.00000328"),
        (5.678, 1, "5.68"),
        (42.04, 1, "42.0"),
    ],
)
def test_figures_keep_three_significant_digits_when_small(x, decimals, shown):
    assert figure(x, decimals) == shown
