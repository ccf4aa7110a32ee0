"""Procurement with racks and sites: a rack-scale part is bought a rack at a time, each site's
power cap holds year by year beside the fleet's and is priced, a site that cannot cool a rack is
not offered it (with the reason), and nothing rent-only can be bought anywhere."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.economics.cost import facility_kw
from polyfleet.errors import InputError
from polyfleet.inputs.deal import parse_deal
from polyfleet.inputs.procurement import parse_procurement
from polyfleet.plan.procure import build_model, procure

BASE: dict[str, Any] = {
    "name": "sites",
    "years": [2027, 2028],
    "discount_rate": 0.0,
    "pue": 1.3,
    "power_price_per_mwh": 80.0,
    "limits": {"budget_per_year": 1e12, "power_cap_gw": 100.0},
    "offers": [{"accelerator": "mi355x", "price_per_gpu": 10_000, "life_years": 2}],
    "workloads": [
        {
            "name": "jobs",
            "kind": "custom",
            "demand": {"value": 20_000.0, "unit": "jobs/s"},
            "throughput": {"mi355x": 1.0, "gb200": 1.0, "mi300x": 1.0},
        }
    ],
}
#: east: PUE 1.1 and a 30 MW cap, liquid; west: PUE 1.5, air-cooled, 40 kW racks at most.
SITES = [
    {"name": "east", "pue": 1.1, "power_cap_gw": 0.03, "cooling": "liquid", "max_rack_kw": 150},
    {"name": "west", "pue": 1.5, "cooling": "air", "max_rack_kw": 40},
]


def _load(data: dict[str, Any]):
    return parse_procurement(copy.deepcopy(data), text=yaml.safe_dump(data))


def _sited(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["sites"] = copy.deepcopy(SITES)
    data.update(changes)
    return data


def test_a_rack_scale_part_is_bought_a_whole_rack_at_a_time():
    data = copy.deepcopy(BASE)
    data["offers"] = [{"accelerator": "gb200", "price_per_gpu": 43_000, "life_years": 2}]
    data["workloads"][0]["demand"]["value"] = 10_000.0
    out = procure(_load(data)).to_dict()
    (buy,) = out["schedule"]
    # 10,000 GPUs is 138.9 racks of 72: 139 racks
    assert (buy["unit"], buy["nodes"], buy["gpus"]) == ("rack", 139, 139 * 72)
    model = build_model(_load(data))
    (kind,) = model.kinds
    assert (kind.gpus_per_node, kind.unit) == (72, "rack")
    # a rack's power is the rack's kW: 120 kW / 72 per GPU, at the file's PUE
    assert kind.mw_per_gpu == pytest.approx(120 / 72 * 1.3 / 1000)


def test_each_sites_cap_holds_beside_the_fleets_and_is_priced():
    loaded = _load(_sited())
    model = build_model(loaded)
    assert [k.name for k in model.kinds] == ["mi355x@east", "mi355x@west"]
    assert model.lp.rows["site_power"].keys == (("power", "east", 2027), ("power", "east", 2028))
    # a kind at a site draws the site's PUE
    mi355x = loaded.catalog["mi355x"]
    assert [k.mw_per_gpu for k in model.kinds] == pytest.approx(
        [facility_kw(mi355x, 1.1) / 1000, facility_kw(mi355x, 1.5) / 1000]
    )
    result = procure(loaded)
    out = result.to_dict()
    assert out["status"] == "optimal"
    # east is cheaper to run (PUE 1.1) and fills to its cap; the rest goes west
    assert max(out["mw_by_site"]["east"]) <= 30.0 + 1e-6
    assert out["mw_by_site"]["east"][0] == pytest.approx(30.0, abs=8 * facility_kw(mi355x, 1.1))
    bought = {(s["site"], s["year"]): s["gpus"] for s in out["schedule"]}
    assert bought["east", 2027] + bought["west", 2027] >= 20_000
    priced = {b["limit"]: b for b in out["binding_limits"]}
    east = priced["power:east:2027"]
    assert east["kind"] == "site_power" and east["saving_if_lifted"] > 0
    # independently: the same file with east's cap gone costs that much less
    lifted = _sited()
    lifted["sites"][0]["power_cap_gw"] = [100.0, 0.03]
    again = procure(_load(lifted), limit_costs=False)
    assert result.objective - again.objective == pytest.approx(
        east["saving_if_lifted"], rel=1e-3, abs=1.0
    )


def test_a_site_cap_that_cannot_hold_says_by_how_much():
    data = _sited(installed=[{"accelerator": "mi300x", "count": 30_000, "retire_year": 2030}])
    data["installed"][0]["site"] = "east"
    out = procure(_load(data)).to_dict()
    assert out["status"] == "infeasible"
    by = {v["limit"]: v for v in out["violations"]}
    # 30,000 MI300X x 1.35 kW x PUE 1.1 = 44.55 MW at east, against 30 MW
    assert by["power:east:2027"]["by"] == pytest.approx(14.55, rel=1e-6)
    assert by["power:east:2027"]["unit"] == "MW"


def test_a_site_that_cannot_cool_a_rack_is_not_offered_it_with_the_reason():
    data = _sited()
    data["offers"].append({"accelerator": "gb200", "price_per_gpu": 43_000, "life_years": 2})
    model = build_model(_load(data))
    assert [k.name for k in model.kinds] == ["mi355x@east", "mi355x@west", "gb200@east"]
    out = procure(_load(data), limit_costs=False).to_dict()
    (no,) = out["not_offered"]
    assert (no["accelerator"], no["site"]) == ("gb200", "west")
    assert "GB200 NVL72 rack draws 120 kW" in no["reason"] and "40 kW" in no["reason"]
    # an installed rack at such a site is refused outright
    data["installed"] = [
        {"accelerator": "gb200", "count": 720, "retire_year": 2030, "site": "west"}
    ]
    with pytest.raises(InputError, match=r"installed\[0\]\.site.*gb200 cannot be at site west"):
        _load(data)


def test_an_offer_split_over_sites_keeps_its_yearly_supply():
    data = _sited()
    data["sites"][0]["power_cap_gw"] = 1.0
    data["offers"][0]["max_nodes_per_year"] = 1_000
    model = build_model(_load(data))
    assert model.lp.rows["supply"].keys == (("supply", "mi355x", 2027), ("supply", "mi355x", 2028))
    out = procure(_load(data), limit_costs=False).to_dict()
    for year in (2027, 2028):
        assert sum(s["nodes"] for s in out["schedule"] if s["year"] == year) <= 1_000
    assert out["shortfalls"]  # 2,500 nodes are needed; 1,000 a year is all there is


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["sites"].append({"name": "east"}), r"sites\[2\]\.name.*duplicate site"),
        (
            lambda d: d.update(
                installed=[{"accelerator": "mi300x", "count": 8, "retire_year": 2030, "site": "x"}]
            ),
            r"installed\[0\]\.site.*unknown site; sites: east, west",
        ),
        (
            lambda d: d["sites"][0].update(power_cap_gw=[1.0, 2.0, 3.0]),
            r"sites\[0\]\.power_cap_gw.*3 values for 2 years",
        ),
    ],
)
def test_bad_procurement_sites_are_refused_naming_the_field(change, message):
    data = _sited()
    change(data)
    with pytest.raises(InputError, match=message):
        _load(data)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            lambda d: d["offers"].append({"accelerator": "tpu-v6e", "price_per_gpu": 1}),
            r"offers\[1\]\.accelerator.*tpu-v6e is rent-only, no purchase exists",
        ),
        (
            lambda d: d.update(
                installed=[{"accelerator": "ironwood", "count": 8, "retire_year": 2030}]
            ),
            r"installed\[0\]\.accelerator.*tpu7x is rent-only",
        ),
    ],
)
def test_procurement_never_buys_or_owns_a_tpu(where, message):
    data = copy.deepcopy(BASE)
    where(data)
    with pytest.raises(InputError, match=message):
        _load(data)


def test_no_deal_and_no_tco_for_a_tpu():
    deal = {
        "name": "tpu-deal",
        "vendor": "google",
        "accelerator": "tpu-v5p",
        "valuation_date": "2027-01-01",
        "capacity": [{"period": "2027", "gw": 1.0}],
        "price": {"per_gpu": 25_000},
        "deployment": [{"date": "2027-12-31", "gw": 1.0}],
    }
    with pytest.raises(InputError, match=r"accelerator.*supply deal buys accelerators.*rent-only"):
        parse_deal(deal, text=yaml.safe_dump(deal))
    result = CliRunner().invoke(app, ["tco", "trillium", "--capex", "20000"])
    assert result.exit_code == 1
    assert "tpu-v6e is rent-only, no purchase exists" in result.output
    assert "Google Cloud only" in result.output and "no owned cost" in result.output


def test_the_procurement_record_carries_sites_racks_and_what_was_not_offered(tmp_path):
    from polyfleet import app
    from polyfleet.inputs.options import ProcureOptions
    from polyfleet.results.base import dump_record
    from polyfleet.results.procurement import ProcurementRecord

    data = _sited()
    data["offers"].append({"accelerator": "gb200", "price_per_gpu": 43_000, "life_years": 2})
    data["workloads"][0]["throughput"] = {"gb200": 3.0, "mi355x": 1.0}  # racks are worth buying
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    record = app.procure(path, ProcureOptions(limit_costs=False))
    racks = [s for s in record.schedule if s.accelerator == "gb200"]
    assert racks and all(s.unit == "rack" and s.site == "east" for s in racks)
    assert all(s.gpus == 72 * s.nodes for s in racks)
    assert set(record.mw_by_site) == {"east", "west"}
    (no,) = record.not_offered
    assert (no.accelerator, no.site) == ("gb200", "west")
    out = tmp_path / "r.json"
    out.write_text(dump_record(record))
    again = ProcurementRecord.load(out)
    assert again.not_offered == record.not_offered and again.schedule == record.schedule
    # a file without sites prints what it always did: no site fields, nodes as the unit
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(BASE))
    base = app.procure(plain, ProcureOptions(limit_costs=False))
    assert base.mw_by_site is None and base.not_offered is None
    assert all(s.site is None and s.unit == "node" for s in base.schedule)
    assert '"site"' not in dump_record(base)
