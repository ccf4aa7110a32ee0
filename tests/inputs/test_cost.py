"""One OwnedCost with one set of documented defaults: an owned accelerator left to the defaults
costs the same whichever input prices it (a scenario pool, a deal, a procurement file, `tco`),
and a plan lists every default it took, never a silent zero."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.economics.cost import HOURS_PER_YEAR
from polyfleet.inputs.cost import COST_DEFAULTS, OwnedCost, defaults_markdown
from polyfleet.inputs.procurement import parse_procurement
from polyfleet.plan.procure_model import procurement_arrays

from ..conftest import write

README = Path(__file__).parents[2] / "README.md"
runner = CliRunner()
PRICE = 25_000.0

#: An owned MI355X pool that gives its price and nothing else.
OWNED_POOL = {
    "name": "own",
    "accelerator": "mi355x",
    "count": 100,
    "cost": {"capex_per_gpu": PRICE},
}
DEAL: dict[str, Any] = {
    "name": "plain",
    "vendor": "amd",
    "accelerator": "mi355x",
    "valuation_date": "2026-01-01",
    "capacity": [{"period": "2026", "gw": 1.0}],
    "price": {"per_gpu": PRICE},
    "deployment": [{"date": "2026-12-31", "gw": 1.0}],
}
PROCUREMENT: dict[str, Any] = {
    "years": [2027],
    "limits": {"budget_per_year": 1e10, "power_cap_gw": 1.0},
    "offers": [{"accelerator": "mi355x", "price_per_gpu": PRICE}],
    "workloads": [
        {
            "name": "w",
            "kind": "custom",
            "demand": {"value": 1.0, "unit": "jobs/s"},
            "throughput": {"mi355x": 1.0},
        }
    ],
}


def _json(args: list[str]) -> dict[str, Any]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def owned_scenario(base: dict[str, Any], tmp_path: Path) -> Path:
    base["pools"].append(OWNED_POOL)
    base["workloads"][0]["throughput"]["mi355x"] = 3.0  # the owned pool serves
    return write(tmp_path, base)


def test_an_owned_accelerator_costs_the_same_whichever_input_prices_it(owned_scenario, tmp_path):
    tco = _json(["tco", "mi355x", "--capex", str(PRICE)])
    plan = _json(["plan", str(owned_scenario), "--no-matrix"])
    (pool,) = [p for p in plan["pools"] if p["pool"] == "own"]
    deal = _json(["deal", str(write(tmp_path, DEAL, "deal.yaml")), "--no-sensitivity"])
    assert pool["gross_cost_per_gpu_hour"] == pytest.approx(tco["gross_per_gpu_hour"], rel=1e-12)
    assert pool["cost_breakdown"] == pytest.approx(tco["per_gpu_hour"], rel=1e-12)
    assert deal["gross_per_gpu_hour"] == pytest.approx(tco["gross_per_gpu_hour"], rel=1e-12)
    # procurement pays capital when it buys and power and upkeep every year
    arrays = procurement_arrays(parse_procurement(PROCUREMENT))
    assert arrays.capital[0] == pytest.approx(sum(tco["capital_per_gpu"].values()), rel=1e-12)
    per_year = (tco["per_gpu_hour"]["power"] + tco["per_gpu_hour"]["maintenance"]) * HOURS_PER_YEAR
    assert arrays.opex[0] == pytest.approx(per_year, rel=1e-12)
    assert arrays.mw[0] == pytest.approx(tco["facility_kw_per_gpu"] / 1000, rel=1e-12)


def test_the_defaults_are_the_documented_table():
    terms = OwnedCost()
    assert terms.defaulted() == tuple(OwnedCost.model_fields)
    for name in ("amortize_years", "cost_of_capital", "power_price_per_mwh", "utilisation"):
        assert getattr(terms, name) == COST_DEFAULTS[name].value
    assert COST_DEFAULTS["power_price_per_mwh"].value == 80.6  # EIA, US industrial, 2023
    assert (COST_DEFAULTS["amortize_years"].value, COST_DEFAULTS["cost_of_capital"].value) == (
        5.0,
        0.08,
    )
    assert COST_DEFAULTS["pue"].value == 1.3
    sources = [d.source for d in COST_DEFAULTS.values()]
    assert all(s.startswith(("assumption: ", "EIA", "Uptime")) for s in sources)


def test_an_owned_pool_without_a_power_price_pays_the_default_and_the_plan_says_so(
    owned_scenario,
):
    plan = _json(["plan", str(owned_scenario), "--no-matrix"])
    (pool,) = [p for p in plan["pools"] if p["pool"] == "own"]
    it_kw = _json(["tco", "mi355x", "--capex", str(PRICE)])["it_kw_per_gpu"]
    assert pool["cost_breakdown"]["power"] == pytest.approx(it_kw * 1.3 * 80.6 / 1000, rel=1e-12)
    assumed = {a["term"]: a for a in plan["assumptions"]}
    assert set(assumed) == set(OwnedCost.model_fields) | {"pue"}
    power = assumed["power_price_per_mwh"]
    assert power["value"] == 80.6 and power["pools"] == ["own"] and "EIA" in power["source"]
    # rented pools and terms the scenario gives are no assumption
    given = yaml.safe_load(owned_scenario.read_text())
    given["pools"][2]["cost"].update(power_price_per_mwh=60.0, amortize_years=4)
    given["pools"][2]["pue"] = 1.2
    again = _json(["plan", str(write(owned_scenario.parent, given, "given.yaml")), "--no-matrix"])
    terms = {a["term"] for a in again["assumptions"]}
    assert not terms & {"power_price_per_mwh", "amortize_years", "pue"}
    assert all(a["pools"] == ["own"] for a in again["assumptions"])


def test_the_plans_tables_list_the_assumptions(owned_scenario):
    result = runner.invoke(app, ["plan", str(owned_scenario)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "power_price_per_mwh" in line)
    assert "80.6 USD per MWh" in row and "own" in row and "EIA" in row


def test_tco_options_default_from_the_same_table():
    tco = _json(["tco", "mi355x", "--capex", str(PRICE)])
    assert tco["assumed_defaults"] == [*OwnedCost.model_fields, "pue"]
    given = _json(["tco", "mi355x", "--capex", str(PRICE), "--power-price", "50", "--years", "4"])
    assert {a["term"] for a in given["assumptions"]} == (set(OwnedCost.model_fields) | {"pue"}) - {
        "power_price_per_mwh",
        "amortize_years",
    }
    assert given["per_gpu_hour"]["power"] < tco["per_gpu_hour"]["power"]


def test_a_rented_pool_with_owned_terms_is_refused_naming_the_term(base, tmp_path):
    base["pools"][0]["cost"]["amortize_years"] = 4
    result = runner.invoke(app, ["plan", str(write(tmp_path, base))])
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "pools[0].cost.amortize_years (nv)" in err and "a term of an owned pool" in err


def _readme_block(name: str) -> str:
    found = re.search(
        rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", README.read_text(), re.S
    )
    assert found, f"README.md has no {name} block"
    return found.group(1)


def test_the_readme_lists_the_defaults_as_in_code():
    assert _readme_block("cost-defaults") == defaults_markdown()
