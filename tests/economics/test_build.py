"""Build or buy: a hand-solved break-even and cost by year, the slip risk, a build that never
pays, and bad build files refused at their field."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.app import build_vs_buy
from polyfleet.cli import app
from polyfleet.errors import InputError
from polyfleet.inputs.build import parse_build_file

runner = CliRunner()

# Owned-cost terms that leave only the GPU's price (straight-line: no cost of capital, no node,
# network or building) and its power: every figure below is arithmetic on the file.
PLAIN = {
    "amortize_years": 4,
    "cost_of_capital": 0.0,
    "power_price_per_mwh": 100,
    "utilisation": 1.0,
    "maintenance_frac_per_year": 0.0,
    "node_per_gpu": 0,
    "network_per_gpu": 0,
    "facility_per_mw": 0,
}


def _file(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "hand",
        "years": [2027, 2028, 2029],
        "discount_rate": 0.10,
        "pue": 1.0,
        "cost": dict(PLAIN),
        "build": {
            "name": "acorn",
            "relative_to": "h100",
            "performance": {"serve": 1.25},
            "nre": 50e6,
            "unit_cost": 20_000,
            "power_w": 500,
            "first_ship_year": 2028,
            "slip_probability": 0.25,
            "life_years": 4,
        },
        "instead": {"per_gpu_hour": 2.0},  # rent H100s (the reference part)
        "units": [1_000, 2_000, 2_000],
    }
    data.update(over)
    return data


def _write(tmp_path, data: dict[str, Any]):
    path = tmp_path / "build.yaml"
    path.write_text(yaml.safe_dump(data), "utf-8")
    return path


def test_break_even_and_cost_by_year_match_a_hand_solution(tmp_path):
    rec = build_vs_buy(_write(tmp_path, _file()))
    # a build unit-year: 20,000 / 4 years = 5,000 of capital + 0.5 kW x 8,760 h x $100/MWh
    # = 438 of power -> 5,438
    assert rec.build_cost_per_unit_year == pytest.approx(5_438.0)
    # one build unit does the work of 1.25 rented H100s: 1.25 x $2 x 8,760 h = 21,900
    assert rec.instead_per_build == pytest.approx(1.25)
    assert rec.bought_cost_per_build_unit_year == pytest.approx(21_900.0)
    # saves 21,900 - 5,438 = 16,462 a unit-year: NRE 50M / 16,462 = 3,037.29 unit-years,
    # 759.32 units over a 4-year life
    assert rec.saving_per_unit_year == pytest.approx(16_462.0)
    assert rec.break_even_unit_years == pytest.approx(50e6 / 16_462)
    assert rec.break_even_units == pytest.approx(50e6 / 16_462 / 4)
    # buying: units x 21,900 -> 21.9M, 43.8M, 43.8M
    # on time (ships 2028): 2027 bridges by buying + the NRE: 21.9M + 50M = 71.9M;
    # 2028 and 2029: 2,000 x 5,438 = 10.876M
    # a year late: 71.9M, 43.8M (still buying), 10.876M
    # expected (p = 0.25): 71.9M, 0.75 x 10.876M + 0.25 x 43.8M = 19.107M, 10.876M
    by_year = {c.year: c for c in rec.cost_by_year}
    assert [by_year[y].buy for y in (2027, 2028, 2029)] == pytest.approx([21.9e6, 43.8e6, 43.8e6])
    assert [by_year[y].build_on_time for y in (2027, 2028, 2029)] == pytest.approx(
        [71.9e6, 10.876e6, 10.876e6]
    )
    assert [by_year[y].build_slipped for y in (2027, 2028, 2029)] == pytest.approx(
        [71.9e6, 43.8e6, 10.876e6]
    )
    assert by_year[2028].build_expected == pytest.approx(19.107e6)
    # NPV at 10 %: buy 21.9 + 43.8/1.1 + 43.8/1.21 = 21.9 + 39.81818 + 36.19835 = 97.91653M;
    # expected build 71.9 + 19.107/1.1 + 10.876/1.21 = 71.9 + 17.37 + 8.98843 = 98.25843M
    # -> building costs 0.34190M more in expectation
    assert rec.npv.buy == pytest.approx(97.91653e6, rel=1e-6)
    assert rec.npv.build_expected == pytest.approx(98.25843e6, rel=1e-6)
    assert rec.expected_saving == pytest.approx(-0.34190e6, rel=1e-4)
    assert rec.decision == "buy"


def test_the_slip_risk_decides_a_close_case(tmp_path):
    # without the slip, 2028 costs 10.876M: NPV 71.9 + 9.88727 + 8.98843 = 90.77570M
    # against 97.91653M bought: building saves 7.14083M
    rec = build_vs_buy(_write(tmp_path, _file(build={**_file()["build"], "slip_probability": 0})))
    assert rec.npv.build_on_time == rec.npv.build_expected
    assert rec.expected_saving == pytest.approx(7.14083e6, rel=1e-5)
    assert rec.decision == "build"


def test_a_build_that_costs_more_a_unit_never_breaks_even(tmp_path):
    data = _file(instead={"per_gpu_hour": 0.4})  # 1.25 x 0.4 x 8,760 = 4,380 < 5,438
    rec = build_vs_buy(_write(tmp_path, data))
    assert rec.break_even_units is None and rec.break_even_unit_years is None
    assert "no volume pays back" in (rec.break_even_reason or "")
    assert rec.decision == "buy"


def test_the_command_prints_the_figures_and_the_record(tmp_path):
    path = _write(tmp_path, _file())
    result = runner.invoke(app, ["build-vs-buy", str(path)])
    assert result.exit_code == 0, result.output
    assert "break-even: 3,037 unit-years (759 units" in result.output
    result = runner.invoke(app, ["build-vs-buy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["format"] == "polyfleet.build-vs-buy" and data["schema_version"] == 1
    assert data["break_even_unit_years"] == pytest.approx(50e6 / 16_462)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"build": {**_file()["build"], "nre": -1}}, "build.nre"),
        ({"build": {**_file()["build"], "slip_probability": 1.5}}, "build.slip_probability"),
        ({"build": {**_file()["build"], "performance": {"serve": 0}}}, "build.performance.serve"),
        ({"build": {**_file()["build"], "power_w": float("nan")}}, "build.power_w"),
        ({"build": {**_file()["build"], "relative_to": "h1000"}}, "build.relative_to"),
        ({"build": {**_file()["build"], "name": "h100"}}, "build.name"),
        ({"work": "train"}, "work"),
        ({"units": [1, 2]}, "units"),
        ({"instead": {"accelerator": "mi300x", "per_gpu_hour": 2}}, "instead.relative_performance"),
        ({"instead": {"per_gpu_hour": 2, "price_per_gpu": 9}}, "instead"),
    ],
)
def test_bad_build_files_are_refused_at_their_field(change, field):
    with pytest.raises(InputError) as err:
        parse_build_file(_file(**change), file="b.yaml")
    assert err.value.field is not None and err.value.field.startswith(field), err.value
    assert err.value.file == "b.yaml"
