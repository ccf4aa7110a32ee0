"""Deal files: the bundled AMD deal, refusal of contradictory terms, and deals in the plan."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.economics.cost import HOURS_PER_YEAR, annuity_factor
from polyfleet.economics.deal import milestone_dates, value_deal
from polyfleet.errors import InputError
from polyfleet.inputs.deal import load_deal, parse_deal
from polyfleet.inputs.scenario import load_scenario
from polyfleet.plan.placement import make_plan

from ..conftest import write

ROOT = Path(__file__).parents[2]
AMD = ROOT / "examples" / "deals" / "amd-6gw.yaml"
runner = CliRunner()


@pytest.fixture
def deal_data() -> dict[str, Any]:
    return yaml.safe_load(AMD.read_text())


def test_bundled_amd_deal_has_the_public_terms():
    deal = load_deal(AMD)
    w = deal.warrant
    assert w is not None and w.shares == 160_000_000 and w.strike == 0.01
    assert w.tranches[0].vests_at_gw == 1 and w.tranches[-1].vests_at_gw == 6
    assert w.tranches[-1].price_hurdle == 600 and w.expiry == dt.date(2031, 2, 24)
    assert deal.committed_gw == 6 and deal.accelerator == "mi455x"
    assert deal.assumptions and deal.sources["warrant"]


def test_valuation_spreads_the_warrant_over_the_delivered_capacity():
    deal = load_deal(AMD)
    v = value_deal(deal, paths=20_000)
    assert v.warrant is not None and v.warrant_value > 0
    assert v.gpus == pytest.approx(6 * v.gpus_per_gw)
    assert v.warrant_per_gpu == pytest.approx(v.warrant_value / v.gpus)
    assert v.credit_per_mw == pytest.approx(v.warrant_value / 6000)
    d = v.to_dict()
    assert d["net_price_per_gpu"] == pytest.approx(d["price_per_gpu"] - d["warrant_per_gpu"])
    # 15B per GW over the GPUs a GW powers
    assert d["price_per_gpu"] == pytest.approx(15e9 / v.gpus_per_gw)
    c = deal.costing
    credit = v.warrant_per_gpu * annuity_factor(c.cost_of_capital, c.amortize_years)
    assert d["gross_per_gpu_hour"] - d["net_per_gpu_hour"] == pytest.approx(credit / HOURS_PER_YEAR)
    tranche_sum = sum(t["value"] for t in d["warrant"]["tranches"])
    assert tranche_sum == pytest.approx(d["warrant_value"])
    # higher hurdles are reached less often
    probs = [t["hurdle_probability"] for t in d["warrant"]["tranches"]]
    assert probs == sorted(probs, reverse=True)


def test_milestones_follow_the_deployment_schedule(deal_data):
    deal = parse_deal(deal_data)
    assert milestone_dates(deal)[:3] == [
        dt.date(2026, 12, 31),
        dt.date(2027, 12, 31),
        dt.date(2028, 6, 30),
    ]
    # deployment that reaches 6 GW only after expiry: the last tranche cannot vest
    late = copy.deepcopy(deal_data)
    late["deployment"][-1]["date"] = "2031-06-30"
    v = value_deal(parse_deal(late), paths=4_000).to_dict()
    last = v["warrant"]["tranches"][-1]
    assert last["milestone_met"] is False and last["value"] == 0


def test_sensitivity_rises_with_spot_and_volatility(deal_data):
    deal_data["monte_carlo"]["sensitivity_paths"] = 20_000
    v = value_deal(parse_deal(deal_data), paths=4_000, sensitivity=True)
    grid = {(g["volatility"], g["spot"]): g["value"] for g in v.sensitivity}
    vols = sorted({k[0] for k in grid})
    spots = sorted({k[1] for k in grid})
    for vol in vols:
        assert [grid[vol, s] for s in spots] == sorted(grid[vol, s] for s in spots)
    for spot in spots:
        assert [grid[v_, spot] for v_ in vols] == sorted(grid[v_, spot] for v_ in vols)


def _edit(data: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("warrant", "tranches", 0, "shares"), 10, "warrant.shares", "tranche shares sum to"),
        (
            ("warrant", "tranches", 2, "vests_at_gw"),
            0.5,
            "warrant.tranches[2].vests_at_gw",
            "milestones out of order",
        ),
        (("stock", "volatility"), -0.2, "stock.volatility", "volatility must be ≥ 0.001"),
        (("deployment", 3, "gw"), 2.5, "deployment[3].gw", "deployment is cumulative"),
        (("deployment", 2, "date"), "2027-01-01", "deployment[2].date", "dates must increase"),
        (("deployment", 6, "gw"), 7.0, "deployment[6].gw", "more than the 6 GW committed"),
        (("warrant", "expiry"), "2025-01-01", "warrant.expiry", "not after the valuation date"),
        (
            ("warrant", "tranches", 5, "vests_at_gw"),
            9,
            "warrant.tranches[5].vests_at_gw",
            "could never vest",
        ),
        (("stock",), None, "warrant", "a warrant needs a stock model"),
        (("price",), {"per_gpu": 30_000, "per_gw": 15e9}, "price", "exactly one of"),
        (("accelerator",), "mi999x", "accelerator", "unknown accelerator"),
        (("vendor",), "nvidia", "vendor", "mi455x is made by amd, not nvidia"),
    ],
)
def test_contradictory_deal_is_refused(deal_data, tmp_path, path, value, field, message):
    """Cross-field checks name the field at fault and its line, not the deal's first line."""
    if value is None:
        del deal_data[path[0]]
    else:
        _edit(deal_data, path, value)
    path_ = write(tmp_path, deal_data, name="deal.yaml")
    with pytest.raises(InputError, match=message) as err:
        load_deal(path_)
    assert err.value.file == str(path_)
    assert err.value.field == field
    assert err.value.line is not None
    line = path_.read_text().splitlines()[err.value.line - 1]
    assert f"{field.split('.')[-1].split('[')[0]}:" in line


def _scenario(base: dict[str, Any], deal_file: str, deal_name: str | None) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["deals"] = [deal_file]
    data["pools"][1] = {
        "name": "amd",
        "accelerator": "mi455x",
        "count": 100,
        "pue": 1.2,
        "cost": {"capex_per_gpu": 60_000, "cost_of_capital": 0.08, "amortize_years": 5},
    }
    if deal_name:
        data["pools"][1]["deal"] = deal_name
    data["workloads"][0]["throughput"] = {"h100-sxm": 2.0, "mi455x": 4.0}
    return data


def test_a_pool_that_names_a_deal_nets_its_credit(base, deal_data, tmp_path):
    deal_data["monte_carlo"]["paths"] = 4_000
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(deal_data))
    plain = make_plan(load_scenario(write(tmp_path, _scenario(base, "d.yaml", None))))
    dealt = make_plan(load_scenario(write(tmp_path, _scenario(base, "d.yaml", "amd-6gw-2026"))))
    pool = dealt.to_dict(matrix_cells=False)["pools"][1]
    before = plain.to_dict(matrix_cells=False)["pools"][1]
    v = dealt.deals["amd-6gw-2026"]
    expected = v.credit_per_mw * pool["mw_per_gpu"] * annuity_factor(0.08, 5) / HOURS_PER_YEAR
    assert pool["deal"] == "amd-6gw-2026"
    assert pool["deal_credit_per_gpu_hour"] == pytest.approx(expected)
    assert pool["gross_cost_per_gpu_hour"] == pytest.approx(before["cost_per_gpu_hour"])
    assert pool["cost_per_gpu_hour"] == pytest.approx(before["cost_per_gpu_hour"] - expected)
    out = dealt.to_dict(matrix_cells=False)
    assert out["deals"][0]["deal"] == "amd-6gw-2026" and "fan" in out["deals"][0]["warrant"]


def test_unknown_deal_name_and_missing_deal_file(base, deal_data, tmp_path):
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(deal_data))
    with pytest.raises(InputError, match="unknown deal") as err:
        load_scenario(write(tmp_path, _scenario(base, "d.yaml", "nvidia-10gw")))
    assert err.value.field == "pools[1].deal (amd)" and err.value.value == "nvidia-10gw"
    with pytest.raises(InputError, match="deal file not found") as err:
        load_scenario(write(tmp_path, _scenario(base, "missing.yaml", None)))
    assert err.value.field == "deals[0]"


def test_deal_command_json_and_html(tmp_path):
    page = tmp_path / "deal.html"
    result = runner.invoke(
        app,
        ["deal", str(AMD), "--paths", "4000", "--no-sensitivity", "--json", "--html", str(page)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["warrant"]["paths"] == 4000 and data["warrant"]["sensitivity"] == []
    lo, hi = data["warrant"]["ci95"]
    assert lo < data["warrant_value"] < hi
    text = page.read_text()
    assert "fan-0" in text and "Assumptions" in text and "plotly" in text


def test_deal_command_table_and_bad_file(tmp_path):
    result = runner.invoke(app, ["deal", str(AMD), "--paths", "4000", "--no-sensitivity"])
    assert result.exit_code == 0 and "warrant $" in result.stdout and "deal credit" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvendor: amd\n")
    result = runner.invoke(app, ["deal", str(bad)])
    assert result.exit_code == 1 and "bad.yaml" in result.stderr


def test_tco_command(tmp_path):
    result = runner.invoke(
        app, ["tco", "mi355x", "--capex", "25000", "--power-price", "70", "--pue", "1.25", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["capital_per_gpu"]["gpu"] == 25_000 and data["gpu_price_source"] == "--capex"
    assert data["net_per_gpu_hour"] == pytest.approx(sum(data["per_gpu_hour"].values()))
    table = runner.invoke(app, ["tco", "h100", "--pue", "1.2"])
    assert table.exit_code == 0 and "catalog purchase price, unconfirmed" in table.stdout
    for args, message in (
        (["tco", "mi355x", "--pue", "0.5", "--capex", "1"], "--pue"),
        (["tco", "mi355x"], "no purchase price"),
        (["tco", "h999", "--capex", "1"], "unknown accelerator"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("monte_carlo", "paths"), "1e12", "monte_carlo.paths", "1e12 paths × 260 steps"),
        (("monte_carlo", "paths"), 10**12, "monte_carlo.paths", "~43 days"),
        (("monte_carlo", "steps_per_year"), 10_000, "monte_carlo.steps_per_year", "49,993 steps"),
        (("monte_carlo", "sensitivity_paths"), 10**8, "monte_carlo.sensitivity_paths", "9 sens"),
        (("warrant", "expiry"), "9999-12-31", "warrant.expiry", "7,974 years after"),
    ],
)
def test_unbounded_monte_carlo_is_refused_saying_what_it_would_need(
    deal_data, tmp_path, path, value, field, message
):
    path_ = write(tmp_path, _edit(deal_data, path, value), name="deal.yaml")
    with pytest.raises(InputError, match=message) as err:
        load_deal(path_)
    assert err.value.file == str(path_) and err.value.field == field
    assert err.value.line is not None and "the limit is" in str(err.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--paths", "1e11"], "1e11 paths × 260 steps"),
        (["--paths", "1e11", "--no-sensitivity"], "2.6e13 path-steps"),
        (["--paths", "nan"], "finite"),
        (["--paths", "1"], "≥ 2"),
        (["--seed", "-1"], "≥ 0"),
    ],
)
def test_deal_command_options_are_bounded(args, message):
    result = runner.invoke(app, ["deal", str(AMD), *args])
    assert result.exit_code == 1, result.output
    assert args[0] in result.stderr and message in " ".join(result.stderr.split())
