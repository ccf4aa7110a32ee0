"""The served objectives' figures in the plan record and its views: `fairness`, the proved
`objective_bound`, each objective's gap and water-filling's levels are typed fields that read
back equal, and the terminal tables and the HTML report show them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet import app as api
from polyfleet.cli import app
from polyfleet.inputs.options import PlanOptions
from polyfleet.results.plan import PlanRecord

from .conftest import write
from .plan.test_fairness import SCENARIO

runner = CliRunner()
#: SCENARIO water-filled by hand (tests/plan/test_fairness.py): w4 at 0.3, w1 at 0.4, w2 and
#: w3 at 0.6; at max-min alone every workload at 0.3
LEVELS = {"w1": 0.4, "w2": 0.6, "w3": 0.6, "w4": 0.3}


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    return write(tmp_path, SCENARIO)


@pytest.mark.parametrize("method", ["auto", "lp"])
def test_lexicographic_record_carries_levels_bound_and_gaps(scenario, method):
    record = api.plan(scenario, PlanOptions(method=method))
    assert record.fairness == "lexicographic"
    assert record.objective_value == pytest.approx(0.3, rel=1e-6)
    assert record.objective_bound is not None
    assert record.objective_value <= record.objective_bound * (1 + 1e-9)
    assert record.gaps is not None and record.gaps.served is not None
    assert 0.0 <= record.gaps.served <= 1e-6 and 0.0 <= record.gaps.cost <= 1e-6
    assert record.optimality_gap == max(record.gaps.served, record.gaps.cost)
    assert record.levels is not None
    assert [lv.level for lv in record.levels] == pytest.approx([0.3, 0.4, 0.6], rel=1e-6)
    assert [lv.workloads for lv in record.levels] == [1, 1, 2]
    assert all(0.0 <= lv.gap <= 1e-6 for lv in record.levels)
    assert record.workloads is not None
    for w in record.workloads:
        assert w.level == pytest.approx(LEVELS[w.name], rel=1e-6)
        assert w.served_fraction == pytest.approx(LEVELS[w.name], rel=1e-6)
    # typed fields: the JSON reads back to the same record, and the schema names them
    again = PlanRecord.parse(json.loads(record.dump()))
    assert again == record
    props = PlanRecord.model_json_schema()["properties"]
    assert {"fairness", "objective_bound", "gaps", "levels"} <= props.keys()


def test_max_min_and_max_served_have_a_bound_and_both_gaps_but_no_levels(tmp_path):
    # max_min: every workload at w4's 0.3; max_served: w4 0.3 (3 MI300X) + w1 0.4 (4 A100) +
    # 1.2 for w2 and w3 together (12 H100) = 1.9
    for objective, fairness, value in (
        ("max_min_served", "max_min", 0.3),
        ("max_served", None, 1.9),
    ):
        data = {k: v for k, v in SCENARIO.items() if k != "fairness"}
        data["objective"] = objective
        if fairness is not None:
            data["fairness"] = fairness
        record = api.plan(write(tmp_path, data))
        assert record.fairness == fairness
        assert record.objective_value == pytest.approx(value, rel=1e-6)
        assert record.objective_bound is not None
        assert record.objective_value <= record.objective_bound * (1 + 1e-9)
        assert record.gaps is not None and record.gaps.served is not None
        assert record.levels is None
        assert all(w.level is None for w in record.workloads or [])
        assert "levels" not in json.loads(record.dump())


def test_min_cost_has_one_gap_and_none_of_the_served_fields(base, tmp_path):
    record = api.plan(write(tmp_path, base))
    assert record.gaps is not None and record.gaps.served is None
    assert record.gaps.cost == record.optimality_gap
    data = json.loads(record.dump())
    assert data["gaps"] == {"cost": record.optimality_gap}
    assert not {"fairness", "objective_bound", "levels"} & data.keys()


def test_terminal_view_shows_the_level_bound_gaps_and_levels(scenario):
    result = runner.invoke(app, ["plan", str(scenario)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "objective max_min_served (fairness lexicographic)" in out
    assert re.search(r"smallest served fraction 30\.0000%, proved at most 30\.0000%", out)
    assert re.search(r"gaps: served \d\.\de[-+]\d\d, least cost \d\.\de[-+]\d\d", out)
    assert "Water-filling levels" in out
    levels = re.findall(r"│\s+(\d+\.\d{4})%\s+│\s+(\d+)\s+│", out)
    assert levels == [("30.0000", "1"), ("40.0000", "1"), ("60.0000", "2")]
    # each workload's served fraction and level, in the workloads table
    w2 = [line for line in out.splitlines() if line.startswith("│ w2 ") and "%" in line]
    assert len(w2) == 1 and w2[0].count("60.00%") == 2


def test_html_report_shows_the_served_figures_and_levels(scenario, tmp_path):
    page_path = tmp_path / "plan.html"
    result = runner.invoke(app, ["plan", str(scenario), "--html", str(page_path)])
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    assert "fairness <b>lexicographic</b>" in page
    served = re.search(r"<p id='served'>(.*?)</p>", page)
    assert served is not None
    assert "Smallest served fraction <b>30.0000%</b>, proved at most 30.0000%" in served[1]
    assert "gaps: served" in served[1] and "least cost" in served[1]
    levels = re.search(r"<table id='levels'>(.*?)</table>", page)
    assert levels is not None
    rows = re.findall(r"<tr><td>([\d.]+)%</td><td>(\d+)</td>", levels[1])
    assert rows == [("30.0000", "1"), ("40.0000", "1"), ("60.0000", "2")]
    workloads = re.search(r"<table id='workloads'>(.*?)</table>", page)
    assert workloads is not None
    assert (
        "<tr><td>w4</td><td>10</td><td>3</td><td>jobs/s</td><td>30.00%</td><td>30.00%</td>"
        in (workloads[1])
    )


def test_min_cost_html_has_no_served_section(base, tmp_path):
    page_path = tmp_path / "plan.html"
    result = runner.invoke(app, ["plan", str(write(tmp_path, base)), "--html", str(page_path)])
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    assert "id='served'" not in page and "id='levels'" not in page


def test_a_workload_with_no_demand_has_no_level(tmp_path):
    """It is not solved (nothing to serve): no level, rather than a level of 0 that would read as
    a workload water-filling left unserved; the levels count only the others."""
    data = {**SCENARIO, "workloads": [*SCENARIO["workloads"]]}
    data["workloads"].append(
        {
            "name": "idle",
            "kind": "custom",
            "demand": {"value": 0.0, "unit": "jobs/s"},
            "throughput": {"h100-sxm": 1.0},
        }
    )
    record = api.plan(write(tmp_path, data))
    assert record.status == "optimal" and record.workloads is not None
    idle = next(w for w in record.workloads if w.name == "idle")
    assert idle.level is None and "level" not in idle.model_dump(exclude_none=True)
    assert record.levels is not None and sum(lv.workloads for lv in record.levels) == 4
    assert [lv.level for lv in record.levels] == pytest.approx([0.3, 0.4, 0.6], rel=1e-6)
