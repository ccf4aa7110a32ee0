"""The procurement MILP family by family: tiny cases whose rows and columns are checked by key
against figures worked out by hand from the catalog and the file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyfleet.catalog import load_catalog
from polyfleet.economics.cost import facility_kw
from polyfleet.inputs.procurement import load_procurement, parse_procurement
from polyfleet.plan.lp import INF
from polyfleet.plan.procure import build_model, procure

CAT = load_catalog()
MW = {a: facility_kw(CAT[a], 1.2) / 1000.0 for a in ("mi355x", "mi300x", "b200", "h100-sxm")}
# capital per GPU: price + 30 % node + 15 % network + facility $10M per IT MW (PUE 1.2)
CAPITAL_MI355X = 10_000 * 1.45 + 10e6 * MW["mi355x"] / 1.2  # 39,700
CAPITAL_B200 = 30_000 * 1.45 + 10e6 * MW["b200"] / 1.2  # 61,375

# years 2027-2028; kinds in order: mi355x (j=0), b200 (j=1, from 2028), mi300x (j=2, installed)
TWO_YEARS: dict[str, Any] = {
    "name": "families",
    "years": [2027, 2028],
    "discount_rate": 0.0,
    "pue": 1.2,
    "power_price_per_mwh": 0.0,
    "limits": {"budget_per_year": [1e12, 2e12], "power_cap_gw": [100.0, 200.0]},
    "offers": [
        {"accelerator": "mi355x", "price_per_gpu": 10_000, "life_years": 2},
        {
            "accelerator": "b200",
            "price_per_gpu": 30_000,
            "life_years": 1,
            "available_from": 2028,
        },
    ],
    "installed": [{"accelerator": "mi300x", "count": 1000, "retire_year": 2028}],
    "workloads": [
        {
            "name": "jobs",
            "kind": "custom",
            "demand": {"value": 20_000.0, "unit": "jobs/s"},
            "throughput": {"mi355x": 1.0, "b200": 2.0},
        }
    ],
    "growth": {"jobs": 1.5},
}

DEAL: dict[str, Any] = {
    "name": "d1",
    "vendor": "amd",
    "accelerator": "mi300x",
    "valuation_date": "2027-01-01",
    "pue": 1.2,
    "capacity": [
        {"period": "2027", "gw": 0.01, "binding": True},
        {"period": "2028", "gw": 0.01, "binding": True},
    ],
    "price": {"per_gpu": 15_000},
    "warrant": {
        "shares": 2000,
        "strike": 0.01,
        "expiry": "2027-06-30",
        "tranches": [{"shares": 1000, "vests_at_gw": 0.005}, {"shares": 1000, "vests_at_gw": 0.02}],
    },
    "stock": {"spot": 100.0, "volatility": 0.3, "risk_free": 0.04},
    "deployment": [{"date": "2027-03-31", "gw": 0.02}],
    "monte_carlo": {"paths": 2_000, "steps_per_year": 12, "seed": 1},
}


def _parse(data: dict[str, Any]):
    return parse_procurement(copy.deepcopy(data), text=yaml.safe_dump(data))


def _with_deal(tmp_path: Path, **limits: Any):
    """mi355x, and mi300x bought under deal d1; 100 mi300x of the deal already installed."""
    data = copy.deepcopy(TWO_YEARS)
    data["offers"] = [
        TWO_YEARS["offers"][0],
        {"accelerator": "mi300x", "life_years": 2, "deal": "d1"},
        {"accelerator": "b200", "price_per_gpu": 30_000, "life_years": 1},
    ]
    data["installed"] = [{"accelerator": "mi300x", "count": 100, "retire_year": 2030, "deal": "d1"}]
    data["deals"] = ["deal.yaml"]
    data["limits"].update(limits)
    (tmp_path / "deal.yaml").write_text(yaml.safe_dump(DEAL))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    return load_procurement(tmp_path / "p.yaml")


def test_build_model_registers_the_families_in_order():
    lp = build_model(_parse(TWO_YEARS)).lp
    assert list(lp.columns) == ["n", "x", "short", "power_slack"]  # no shares, deals, warrants
    assert list(lp.rows) == ["demand", "capacity", "budget", "power"]
    assert lp.columns["n"].shape == (3, 2)  # kinds x years
    assert lp.columns["x"].shape == (2, 2)  # years x eligible (workload, kind) cells


def test_purchases_cost_capital_less_salvage_and_wait_for_the_offer():
    m = build_model(_parse(TWO_YEARS))
    lp = m.lp
    n = lp.columns["n"]
    cost = lp.cost[n.cols].reshape(n.shape)
    # no discounting, no opex: bought in 2027 a 2-year mi355x is used up by the horizon; bought
    # in 2028 half its life is left, and salvaged
    assert cost[0].tolist() == pytest.approx([8 * CAPITAL_MI355X, 0.5 * 8 * CAPITAL_MI355X])
    hi = lp.hi[n.cols].reshape(n.shape)
    assert hi.tolist() == [[INF, INF], [0.0, INF], [0.0, 0.0]]  # b200 from 2028; mi300x never
    assert lp.integer[n.cols].all() and not lp.integer[lp.cols["x"]].any()


def test_demand_rows_hold_throughput_over_demand_and_a_shortfall():
    lp = build_model(_parse(TWO_YEARS)).lp
    key = ("demand", "jobs", 2028)
    # 2028 demand: 20,000 x 1.5 jobs/s; cells: (jobs, mi355x) = 0, (jobs, b200) = 1
    assert lp.terms(key) == pytest.approx(
        {("x", (1, 0)): 1.0 / 30_000, ("x", (1, 1)): 2.0 / 30_000, ("short", key): 1.0}
    )
    r = lp.row(key)
    assert (lp.row_lo[r], lp.row_hi[r]) == (1.0, INF)
    assert lp.hi[lp.col("short", 1)] == 1.0  # at most all of it short


def test_capacity_rows_count_what_is_alive_and_the_installed_base():
    lp = build_model(_parse(TWO_YEARS)).lp
    # a 2-year mi355x node bought in 2027 or 2028 serves in 2028: 8 GPUs each
    assert lp.terms(("capacity", "mi355x", 2028)) == {
        ("x", (1, 0)): 1.0,
        ("n", (0, 0)): -8.0,
        ("n", (0, 1)): -8.0,
    }
    # a 1-year b200 serves only the year it is bought
    assert lp.terms(("capacity", "b200", 2028)) == {("x", (1, 1)): 1.0, ("n", (1, 1)): -8.0}
    hi = {y: lp.row_hi[lp.row(("capacity", "mi300x", y))] for y in (2027, 2028)}
    assert hi == {2027: 1000.0, 2028: 0.0}  # the installed base, retired in 2028


def test_budget_row_of_a_year_holds_capex_per_node_on_that_years_purchases():
    lp = build_model(_parse(TWO_YEARS)).lp
    for t, year in enumerate((2027, 2028)):
        # b200's 2027 column is there, held at 0; installed-only mi300x costs no capex
        assert lp.terms(("budget", year)) == pytest.approx(
            {("n", (0, t)): 8 * CAPITAL_MI355X, ("n", (1, t)): 8 * CAPITAL_B200}
        )
    assert lp.row_hi[lp.row(("budget", 2028))] == 2e12


def test_power_row_holds_mw_of_what_is_alive_less_the_installed_base():
    lp = build_model(_parse(TWO_YEARS)).lp
    terms = lp.terms(("power", 2028))
    assert terms == pytest.approx(
        {
            ("n", (0, 0)): 8 * MW["mi355x"],
            ("n", (0, 1)): 8 * MW["mi355x"],
            ("n", (1, 1)): 8 * MW["b200"],
            ("n", (2, 1)): 8 * MW["mi300x"],  # a column held at 0: the kind is not offered
            ("power_slack", ("power", 2028)): -1.0,
        }
    )
    r27 = lp.row(("power", 2027))
    assert lp.row_hi[r27] == pytest.approx(100_000.0 - 1000 * MW["mi300x"])


@pytest.mark.parametrize("measure", ["count", "power"])
def test_share_rows_weigh_each_kind_by_vendor_and_bound(measure):
    data = copy.deepcopy(TWO_YEARS)
    data["offers"][1].pop("available_from")
    data["installed"] = [{"accelerator": "h100-sxm", "count": 500, "retire_year": 2030}]
    data["limits"]["vendor_share"] = {
        "measure": measure,
        "max": {"amd": 0.6},
        "min": {"nvidia": 0.3},
    }
    lp = build_model(_parse(data)).lp
    m = MW if measure == "power" else dict.fromkeys(MW, 1.0)
    # kinds: mi355x (amd), b200 (nvidia), h100-sxm (nvidia, installed); all 1-year but mi355x
    key = ("share_max", "amd", 2027)
    assert lp.terms(key) == pytest.approx(
        {
            ("n", (0, 0)): (1 - 0.6) * m["mi355x"] * 8,
            ("n", (1, 0)): (0 - 0.6) * m["b200"] * 8,
            ("n", (2, 0)): (0 - 0.6) * m["h100-sxm"] * 8,
            ("share_slack", key): -1.0,
        }
    )
    assert lp.row_hi[lp.row(key)] == pytest.approx(0.6 * m["h100-sxm"] * 500)
    key = ("share_min", "nvidia", 2028)
    assert lp.terms(key) == pytest.approx(
        {
            ("n", (0, 0)): (0.3 - 0) * m["mi355x"] * 8,
            ("n", (0, 1)): (0.3 - 0) * m["mi355x"] * 8,
            ("n", (1, 1)): (0.3 - 1) * m["b200"] * 8,
            ("n", (2, 1)): (0.3 - 1) * m["h100-sxm"] * 8,
            ("share_slack", key): -1.0,
        }
    )
    assert lp.row_hi[lp.row(key)] == pytest.approx(0.7 * m["h100-sxm"] * 500)


def test_commitment_rows_count_the_deals_gw_bought_so_far(tmp_path):
    lp = build_model(_with_deal(tmp_path)).lp
    gw_node = 8 * MW["mi300x"] / 1000
    base = 100 * MW["mi300x"] / 1000  # the deal's installed GW
    key = ("commitment", "d1", 2028)
    assert lp.terms(key) == pytest.approx(
        {("n", (1, 0)): gw_node, ("n", (1, 1)): gw_node, ("commit_slack", key): 1.0}
    )
    assert lp.row_lo[lp.row(key)] == pytest.approx(0.02 - base)  # cumulative commitment
    assert lp.terms(("commitment", "d1", 2027)) == pytest.approx(
        {("n", (1, 0)): gw_node, ("commit_slack", ("commitment", "d1", 2027)): 1.0}
    )
    assert lp.row_lo[lp.row(("commitment", "d1", 2027))] == pytest.approx(0.01 - base)


def test_tranche_rows_weigh_the_milestone_against_gw_bought_by_expiry(tmp_path):
    m = build_model(_with_deal(tmp_path))
    lp = m.lp
    gw_node = 8 * MW["mi300x"] / 1000
    for number, milestone in ((1, 0.005), (2, 0.02)):
        key = ("tranche", "d1", number)
        # the warrant expires mid-2027: only 2027's purchases count
        assert lp.terms(key) == pytest.approx({("z", key): milestone, ("n", (1, 0)): -gw_node})
        assert lp.row_hi[lp.row(key)] == pytest.approx(100 * MW["mi300x"] / 1000)
    z = lp.columns["z"]
    assert z.keys == (("tranche", "d1", 1), ("tranche", "d1", 2))
    assert lp.integer[z.cols].all() and lp.hi[z.cols].tolist() == [1.0, 1.0]
    values = [value for _deal, _i, _gw, value in m.tranches]
    assert lp.cost[z.cols].tolist() == [-v for v in values] and min(values) > 0


def test_every_slack_block_is_paired_to_its_rows_by_key(tmp_path):
    share = {"measure": "power", "max": {"amd": 0.9}, "min": {"nvidia": 0.05}}
    lp = build_model(_with_deal(tmp_path, vendor_share=share)).lp
    slacks = {name: b for name, b in lp.columns.items() if b.relaxes is not None}
    assert {name: b.relaxes for name, b in slacks.items()} == {
        "short": "demand",
        "power_slack": "power",
        "share_slack": "share",
        "commit_slack": "commitment",
    }
    A = lp.A.tocsc()
    for name, block in slacks.items():
        rows = lp.rows[block.relaxes]
        assert rows.slack == name and block.keys == rows.keys
        for i, key in enumerate(block.keys):
            col = A[:, block.start + i]
            (r,) = col.indices  # one entry, in the row with the same key, relaxing it
            assert r == lp.row(key)
            assert col.data[0] == (1.0 if lp.row_hi[r] == INF else -1.0)


def test_a_commitment_missed_for_budget_is_reported_by_the_gw_short(tmp_path):
    loaded = _with_deal(tmp_path, budget_per_year=[1e8, 1e8])
    out = procure(loaded, limit_costs=False).to_dict()
    bought = {s["year"]: s["gpus"] * MW["mi300x"] / 1000 for s in out["schedule"]}
    base = 100 * MW["mi300x"] / 1000
    by = {v["limit"]: v["by"] for v in out["violations"] if v["unit"] == "GW"}
    assert set(by) == {"commitment:d1:2027", "commitment:d1:2028"}
    assert by["commitment:d1:2027"] == pytest.approx(0.01 - base - bought.get(2027, 0))
    assert by["commitment:d1:2028"] == pytest.approx(0.02 - base - sum(bought.values()))


def test_a_share_cap_and_floor_both_missed_are_each_reported_on_their_own_row():
    data = copy.deepcopy(TWO_YEARS)
    data["offers"] = data["offers"][:1]
    data["installed"] = [{"accelerator": "h100-sxm", "count": 100, "retire_year": 2030}]
    data["limits"]["vendor_share"] = {
        "measure": "power",
        "max": {"amd": 0.9},
        "min": {"nvidia": 0.3},
    }
    out = procure(_parse(data), limit_costs=False).to_dict()
    by = {v["limit"]: v["by"] for v in out["violations"]}
    for t, y in enumerate(out["years"]):
        amd, nvidia = out["gw_by_vendor"]["amd"][t] * 1000, out["gw_by_vendor"]["nvidia"][t] * 1000
        assert by[f"share_max:amd:{y}"] == pytest.approx(amd - 0.9 * (amd + nvidia))
        assert by[f"share_min:nvidia:{y}"] == pytest.approx(0.3 * (amd + nvidia) - nvidia)
