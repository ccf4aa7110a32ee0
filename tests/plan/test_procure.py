"""Procurement MILP: hand-solved cases, tranche incentives, limits, and random instances."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.economics.cost import facility_kw
from polyfleet.errors import InputError
from polyfleet.inputs.procurement import load_procurement, parse_procurement
from polyfleet.plan.procure import build_model, procure

ROOT = Path(__file__).parents[2]

BASE: dict[str, Any] = {
    "name": "small",
    "years": [2027],
    "discount_rate": 0.0,
    "pue": 1.2,
    "power_price_per_mwh": 0.0,
    "limits": {"budget_per_year": 1e12, "power_cap_gw": 100.0},
    "offers": [
        {"accelerator": "mi355x", "price_per_gpu": 10_000, "life_years": 1},
    ],
    "workloads": [
        {
            "name": "jobs",
            "kind": "custom",
            "demand": {"value": 20_000.0, "unit": "jobs/s"},
            "throughput": {"mi355x": 1.0, "mi300x": 1.0},
        }
    ],
}

DEAL: dict[str, Any] = {
    "name": "test-deal",
    "vendor": "amd",
    "accelerator": "mi300x",
    "valuation_date": "2027-01-01",
    "pue": 1.2,
    "capacity": [{"period": "2027", "gw": 1.0}],
    "price": {"per_gpu": 25_000},
    "warrant": {
        "shares": 1000,
        "strike": 0.01,
        "expiry": "2030-01-01",
        "tranches": [{"shares": 1000, "vests_at_gw": 0.01}],
    },
    "stock": {"spot": 100.0, "volatility": 0.3, "risk_free": 0.04},
    "deployment": [{"date": "2027-12-31", "gw": 1.0}],
    "monte_carlo": {"paths": 20_000, "steps_per_year": 12, "seed": 1},
}


def _load(data: dict[str, Any], tmp_path: Path | None = None, deal: dict | None = None):
    if deal is not None:
        assert tmp_path is not None
        (tmp_path / "deal.yaml").write_text(yaml.safe_dump(deal))
        path = tmp_path / "p.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_procurement(path)
    return parse_procurement(copy.deepcopy(data), text=yaml.safe_dump(data))


def test_buys_whole_nodes_for_the_demand():
    result = procure(_load(BASE))
    out = result.to_dict()
    # 20,000 GPUs at 1 job/s each, 8 per MI355X node: 2,500 nodes
    (buy,) = out["schedule"]
    assert (buy["accelerator"], buy["nodes"], buy["gpus"]) == ("mi355x", 2500, 20_000)
    # capital per GPU: $10k + 30 % node + 15 % network + facility $10M/MW x 2.52 kW IT
    capital = 10_000 * 1.45 + 10e6 * 2.52e-3
    assert buy["capex"] == pytest.approx(20_000 * capital)
    assert out["status"] == "optimal" and out["mip_gap"] <= 1e-3


def test_demand_not_divisible_by_a_node_rounds_up():
    data = copy.deepcopy(BASE)
    data["workloads"][0]["demand"]["value"] = 20_001.0
    (buy,) = procure(_load(data)).to_dict()["schedule"]
    assert buy["nodes"] == 2501


def test_budget_shortfall_is_an_answer_with_amounts():
    data = copy.deepcopy(BASE)
    data["limits"]["budget_per_year"] = 1_000 * 8 * (10_000 * 1.45 + 10e6 * 2.52e-3)  # 1,000 nodes
    result = procure(_load(data)).to_dict()
    assert result["status"] == "infeasible"
    (short,) = result["shortfalls"]
    assert short["short_fraction"] == pytest.approx(0.6, rel=1e-6)  # 8,000 of 20,000 GPUs
    assert short["short_units"] == pytest.approx(12_000, rel=1e-6)


def test_an_infeasible_plans_cost_is_what_it_buys_not_its_penalties():
    # the objective once kept the shortfall's penalty (150 times the cost here), and each limit a
    # "saving" that was mostly penalty
    data = copy.deepcopy(BASE)
    data["limits"]["budget_per_year"] = budget = 1_000 * 8 * (10_000 * 1.45 + 10e6 * 2.52e-3)
    result = procure(_load(data)).to_dict()
    assert result["status"] == "infeasible"
    assert result["objective"] == pytest.approx(budget, rel=1e-6)  # the 1,000 nodes it buys
    discounted = sum(c["discounted"] for c in result["cost_by_year"])
    assert result["objective"] == pytest.approx(discounted, rel=1e-9)
    assert result["binding_limits"] == []


def test_installed_fleet_over_the_power_cap_is_reported():
    data = copy.deepcopy(BASE)
    data["installed"] = [{"accelerator": "mi300x", "count": 100_000, "retire_year": 2030}]
    data["limits"]["power_cap_gw"] = 0.1
    result = procure(_load(data)).to_dict()
    assert result["status"] == "infeasible"
    (v,) = result["violations"]
    # 100k MI300X x 1.35 kW x PUE 1.2 = 162 MW against a 100 MW cap
    assert v["limit"] == "power:2027" and v["by"] == pytest.approx(62.0, rel=1e-6)


def _tranche_case(tmp_path: Path, ratio: float) -> tuple[dict, float]:
    """A tranche worth `ratio` times the extra cost of reaching its milestone."""
    data = copy.deepcopy(BASE)
    data["deals"] = ["deal.yaml"]
    data["offers"].append({"accelerator": "mi300x", "life_years": 1, "deal": "test-deal"})
    loaded = _load(data, tmp_path, DEAL)
    model = build_model(loaded)
    per_node = {k.accelerator: model.cost[j] for j, k in enumerate(model.kinds)}
    mi300x = loaded.catalog["mi300x"]
    gpus = 0.01e6 / facility_kw(mi300x, 1.2)  # 10 MW of MI300X
    nodes = math.ceil(gpus / 8)
    extra = nodes * (per_node["mi300x"] - per_node["mi355x"])
    assert extra > 0  # the deal's parts are the dearer way to serve the demand
    deal = copy.deepcopy(DEAL)
    value_per_share = 100.0 - 0.01 * math.exp(-0.04 * 3)  # deep in the money, no hurdle
    deal["warrant"]["shares"] = deal["warrant"]["tranches"][0]["shares"] = round(
        ratio * extra / value_per_share
    )
    return procure(_load(data, tmp_path, deal)).to_dict(), nodes


def test_a_milestone_worth_more_than_reaching_it_is_reached(tmp_path):
    out, nodes = _tranche_case(tmp_path, 2.0)
    assert out["tranches"][0]["vested"] is True
    bought = {s["accelerator"]: s["nodes"] for s in out["schedule"]}
    assert bought["mi300x"] == nodes and bought["mi355x"] == 2500 - nodes


def test_a_milestone_worth_less_than_reaching_it_is_not(tmp_path):
    out, _ = _tranche_case(tmp_path, 0.5)
    assert out["tranches"][0]["vested"] is False
    assert {s["accelerator"] for s in out["schedule"]} == {"mi355x"}


def test_deal_commitment_is_bought_on_schedule(tmp_path):
    data = copy.deepcopy(BASE)
    data["deals"] = ["deal.yaml"]
    data["offers"].append({"accelerator": "mi300x", "life_years": 1, "deal": "test-deal"})
    deal = copy.deepcopy(DEAL)
    deal["capacity"] = [{"period": "2027", "gw": 0.02, "binding": True}]
    deal["deployment"] = [{"date": "2027-12-31", "gw": 0.02}]
    deal["warrant"]["tranches"][0]["vests_at_gw"] = 0.02
    out = procure(_load(data, tmp_path, deal)).to_dict()
    mi300x = next(s for s in out["schedule"] if s["accelerator"] == "mi300x")
    gw = (
        mi300x["gpus"]
        * facility_kw(load_procurement(tmp_path / "p.yaml").catalog["mi300x"], 1.2)
        / 1e6
    )
    assert gw >= 0.02 - 1e-9 and gw < 0.02 + 8 * 1.62e-6  # the commitment, within one node


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("years",), [2027, 2029], "years[1]"),
        (("limits", "budget_per_year"), [1e9, 2e9], "limits.budget_per_year"),
        (("offers", 0, "accelerator"), "mi999", "offers[0].accelerator"),
        (("limits", "power_cap_gw"), -1, "limits.power_cap_gw"),
    ],
)
def test_bad_files_name_the_field(path, value, field):
    data = copy.deepcopy(BASE)
    if path == ("limits", "budget_per_year"):
        data["years"] = [2027, 2028, 2029]
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InputError) as err:
        _load(data)
    assert err.value.field == field
    assert err.value.line is not None


def test_offer_without_any_price_is_refused():
    data = copy.deepcopy(BASE)
    data["offers"][0].pop("price_per_gpu")
    with pytest.raises(InputError, match="no price"):
        _load(data)


# -- random instances: every constraint holds ------------------------------------------------


@st.composite
def instances(draw):
    years = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    accs = ["b200", "mi300x", "mi355x", "h200-sxm"]
    n_off = draw(st.integers(1, 3))
    offers = [
        {
            "accelerator": a,
            "price_per_gpu": float(rng.uniform(10_000, 40_000)),
            "life_years": int(rng.integers(1, 4)),
            "available_from": 2027 + int(rng.integers(0, years)),
        }
        for a in accs[:n_off]
    ]
    workloads = [
        {
            "name": f"w{i}",
            "kind": "custom",
            "demand": {"value": float(rng.uniform(100, 5_000)), "unit": "jobs/s"},
            "throughput": {a: float(rng.uniform(0.5, 3)) for a in accs},
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    data = {
        "years": list(range(2027, 2027 + years)),
        "limits": {
            "budget_per_year": float(rng.uniform(2e7, 2e8)),
            "power_cap_gw": float(rng.uniform(0.002, 0.02)),
        },
        "offers": offers,
        "installed": [
            {"accelerator": "mi300x", "count": int(rng.integers(0, 3000)), "retire_year": 2028}
        ],
        "workloads": workloads,
        "growth": {"w0": float(rng.uniform(1.0, 1.5))},
    }
    if draw(st.booleans()):
        data["limits"]["vendor_share"] = {"measure": "count", "max": {"amd": 0.8}}
    return data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_constraint_holds_on_random_instances(data):
    loaded = _load(data)
    result = procure(loaded, limit_costs=False)
    m, x = result.model, result.solution
    act = m.A @ x
    tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(m.row_hi), m.row_hi, 0)))
    assert np.all(act <= m.row_hi + tol) and np.all(act >= m.row_lo - tol)
    n = x[m.cols["n"]]
    assert np.allclose(n, np.round(n)) and (n >= -1e-9).all()
    out = result.to_dict()
    # nothing bought before it is offered, and the budget holds as the schedule spends it
    first = {o["accelerator"]: o["available_from"] for o in data["offers"]}
    for s in out["schedule"]:
        assert s["year"] >= first[s["accelerator"]]
    for c in out["cost_by_year"]:
        assert c["capex"] <= data["limits"]["budget_per_year"] * (1 + 1e-9)
    # power: within the cap unless the answer says by how much it is over
    over = {v["limit"]: v["by"] for v in out["violations"]}
    for t, y in enumerate(out["years"]):
        gw = sum(v[t] for v in out["gw_by_vendor"].values())
        assert gw * 1000 <= data["limits"]["power_cap_gw"] * 1000 + over.get(f"power:{y}", 0) + 1e-6
    # demand: served in full unless a shortfall is reported
    assert (out["status"] == "optimal") == (not out["shortfalls"] and not out["violations"])


def test_procure_cli_on_the_bundled_build_out(tmp_path):
    runner = CliRunner()
    out = tmp_path / "r.json"
    result = runner.invoke(
        app,
        [
            "procure",
            str(ROOT / "examples" / "buildout-2027-2030.yaml"),
            "--json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "optimal" and data["mip_gap"] <= 1e-3
    assert data["years"] == [2027, 2028, 2029, 2030] and data["schedule"]
    assert any(t["vested"] for t in data["tranches"])
    assert set(data["gw_by_vendor"]) == {"amd", "nvidia"}
    assert json.loads(out.read_text()) == data


def test_procure_cli_infeasible_exits_2(tmp_path):
    data = copy.deepcopy(BASE)
    data["limits"]["budget_per_year"] = 1e6
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["procure", str(path)])
    assert result.exit_code == 2 and "short:" in result.stdout


def test_pattern_enumeration_matches_the_plain_milp(tmp_path):
    from polyfleet.plan.procure import _solve, _solve_best

    data = copy.deepcopy(BASE)
    data["years"] = [2027, 2028]
    data["deals"] = ["deal.yaml"]
    data["offers"].append({"accelerator": "mi300x", "life_years": 2, "deal": "test-deal"})
    deal = copy.deepcopy(DEAL)
    deal["warrant"]["shares"] = 3_000_000
    deal["warrant"]["tranches"] = [
        {"shares": 1_000_000, "vests_at_gw": 0.005},
        {"shares": 1_000_000, "vests_at_gw": 0.01},
        {"shares": 1_000_000, "vests_at_gw": 0.03},
    ]
    model = build_model(_load(data, tmp_path, deal))
    plain, best = _solve(model, 1e-6, 60), _solve_best(model, 1e-6, 60)
    assert best["objective"] == pytest.approx(plain["objective"], rel=1e-5)
    z_best = best["x"][model.cols["z"]]
    assert list(z_best) == sorted(z_best, reverse=True)  # monotone: lower milestones first


def test_a_workload_no_kind_can_serve_is_short_with_the_reason():
    data = copy.deepcopy(BASE)
    data["workloads"].append(
        {
            "name": "needs-b200",
            "kind": "custom",
            "demand": {"value": 10.0, "unit": "jobs/s"},
            "throughput": {"b200": 1.0},
        }
    )
    out = procure(_load(data)).to_dict()
    assert out["status"] == "infeasible"
    (short,) = out["shortfalls"]
    assert short["workload"] == "needs-b200" and short["short_fraction"] == pytest.approx(1.0)
    assert "mi355x: custom workload with no measured throughput" in short["why"]
    # the servable workload is still planned
    assert out["schedule"][0]["gpus"] == 20_000
