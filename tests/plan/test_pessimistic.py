"""A plan at the low end of the throughput intervals, and the assignments it changes."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.perfmodel import build_matrix
from polyfleet.perfmodel.fit import factors_from
from polyfleet.plan.pessimistic import assignment_changes

from ..conftest import load, write


def test_assignment_changes_lists_what_moved_and_ignores_round_off():
    base = [
        {"workload": "a", "pool": "p", "accelerators": 10.0},
        {"workload": "a", "pool": "q", "accelerators": 5.0},
        {"workload": "b", "pool": "p", "accelerators": 3.0},
    ]
    other = [
        {"workload": "a", "pool": "p", "accelerators": 10.0 + 1e-9},  # round-off
        {"workload": "a", "pool": "r", "accelerators": 8.0},
        {"workload": "b", "pool": "p", "accelerators": 4.5},
    ]
    changes = assignment_changes(base, other)
    assert [(c["workload"], c["pool"], c["status"]) for c in changes] == [
        ("a", "r", "added"),
        ("a", "q", "removed"),
        ("b", "p", "changed"),
    ]
    assert changes[2]["accelerators_point"] == 3.0 and changes[2]["change"] == 1.5
    assert assignment_changes(base, base) == []


def _scenario(base: dict[str, Any]) -> dict[str, Any]:
    """Chat on an H100 pool (an estimate with an interval) or an MI300X pool (measured): the
    measured rate is 85 % of the H100's point estimate at the same price, so the H100 wins at
    the point estimate and loses at the low end of its interval."""
    data = copy.deepcopy(base)
    data["workloads"] = [
        {
            "name": "chat",
            "kind": "serve",
            "model": {"params_b": 8, "precision": "fp8", "seq_len": 4096},
            "demand": {"value": 1e6, "unit": "tokens/s"},
        }
    ]
    for pool in data["pools"]:
        pool["count"] = 100_000
        pool["cost"] = {"per_gpu_hour": 2.0}
    loaded = load(data)
    m = build_matrix(loaded.scenario, loaded.catalog, ["h100-sxm"], stacks=factors_from())
    point, low = float(m.value[0, 0]), float(m.low[0, 0])
    assert low < 0.85 * point
    data["workloads"][0]["throughput"] = {"mi300x": 0.85 * point}
    return data


def test_pessimistic_plan_moves_work_to_the_measured_pool_and_says_so(base, tmp_path):
    path = write(tmp_path, _scenario(base))
    runner = CliRunner()
    point = json.loads(runner.invoke(app, ["plan", str(path), "--json"]).stdout)
    assert [a["pool"] for a in point["assignments"]] == ["nv"]
    assert point["throughput_bound"] == "point" and "pessimistic" not in point
    result = runner.invoke(app, ["plan", str(path), "--json", "--pessimistic"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["throughput_bound"] == "low"
    assert [a["pool"] for a in data["assignments"]] == ["amd"]
    changes = data["pessimistic"]["changed_assignments"]
    assert {(c["pool"], c["status"]) for c in changes} == {("nv", "removed"), ("amd", "added")}
    nv = next(c for c in changes if c["pool"] == "nv")
    assert nv["accelerators_point"] == pytest.approx(point["assignments"][0]["accelerators"])
    assert data["pessimistic"]["point_cost_per_hour"] == pytest.approx(point["cost_per_hour"])
    assert data["pessimistic"]["low_cost_per_hour"] > point["cost_per_hour"]
    table = runner.invoke(app, ["plan", str(path), "--pessimistic"])
    assert "Pessimistic plan: assignments that change" in table.stdout
    assert "removed" in table.stdout and "added" in table.stdout


def _tight(base: dict[str, Any]) -> dict[str, Any]:
    """Chat on the H100 pool alone, sized between what the point estimate needs and what the low
    end of its interval (below 85 % of the point, `_scenario`) needs: 1 / 0.9 of the point's."""
    data = _scenario(base)
    point = data["workloads"][0].pop("throughput")["mi300x"] / 0.85
    data["pools"] = [p for p in data["pools"] if p["name"] == "nv"]
    data["pools"][0]["count"] = math.ceil(1e6 / point / 0.9)
    return data


def test_a_pessimistic_plan_infeasible_at_the_low_end_is_written_then_exits_2(base, tmp_path):
    """A fleet feasible at the point estimates but not at the low end: the record (with what was
    compared) is still printed and written, and the one handler exits 2."""
    out = tmp_path / "plan.json"
    path = write(tmp_path, _tight(base))
    args = ["plan", str(path), "--pessimistic", "--no-matrix", "--json", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.stderr
    data = json.loads(result.stdout)
    assert json.loads(out.read_text()) == data
    assert data["status"] == "infeasible" and data["throughput_bound"] == "low"
    assert data["diagnosis"]["shortfalls"] or data["diagnosis"]["limits"]
    record = data["pessimistic"]
    assert record["point_status"] == "optimal" and record["point_cost_per_hour"] > 0
    assert record["low_cost_per_hour"] is None and record["changed_assignments"] == []
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("infeasible: no plan meets every constraint at the low end")
    assert "(the point plan is optimal)" in line


def test_the_point_plan_shows_intervals_and_the_results_behind_them(base, tmp_path):
    path = write(tmp_path, _scenario(base))
    data = json.loads(CliRunner().invoke(app, ["plan", str(path), "--json"]).stdout)
    (row,) = data["assignments"]
    assert row["origin"] == "calibrated" and row["calibration"] == "benchmarks"
    assert row["results"] and all(r.startswith(("v4.1", "v5.0")) for r in row["results"])
    per_acc = row["served"] / row["accelerators"]
    assert row["throughput_low"] < per_acc < row["throughput_high"]
    assert math.isclose(row["throughput_low"] * row["throughput_high"], per_acc**2, rel_tol=1e-9)
    used = data["stack_factors"]["used"]
    assert any(f["stack"] == "cuda" and f["kind"] == "serve" for f in used)
