"""Sites and racks in placement: a workload that needs a 72-GPU scale-up domain lands only on
rack-scale pools, a site's power cap binds and is priced, a rack too hot for its site is refused,
a pool takes its site's PUE, and TPUs are rented only, their missing power said so."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyfleet.economics.cost import facility_kw
from polyfleet.errors import InputError
from polyfleet.inputs.scenario import load_scenario
from polyfleet.plan.keys import CouplingKey
from polyfleet.plan.placement import make_plan

from ..conftest import load

EAST = CouplingKey("power", "east")

#: Pools of every kind of scale-up domain: 8-GPU servers, 72-GPU racks.
DOMAIN_FLEET: dict[str, Any] = {
    "name": "ep72",
    "pools": [
        {"name": "h100", "accelerator": "h100-sxm", "count": 100_000, "cost": {"per_gpu_hour": 1}},
        {"name": "b200", "accelerator": "b200", "count": 100_000, "cost": {"per_gpu_hour": 2}},
        {
            "name": "mi300x",
            "accelerator": "mi300x",
            "count": 100_000,
            "cost": {"per_gpu_hour": 0.8},
        },
        {"name": "nvl72", "accelerator": "gb200", "count": 72_000, "cost": {"per_gpu_hour": 4}},
        {"name": "helios", "accelerator": "mi455x", "count": 72_000, "cost": {"per_gpu_hour": 5}},
    ],
    "workloads": [
        {
            "name": "moe-ep",  # a 1T-parameter MoE served with experts across a 72-GPU domain
            "kind": "serve",
            "model": {"params_b": 1000, "active_params_b": 32, "precision": "fp8", "seq_len": 8192},
            "demand": {"value": 2.0e7, "unit": "tokens/s"},
            "needs": {"scaleup_domain": 72},
        },
        {
            "name": "chat",
            "kind": "serve",
            "model": {"params_b": 70, "precision": "fp8", "seq_len": 8192},
            "demand": {"value": 1.0e7, "unit": "tokens/s"},
        },
    ],
}


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_a_72_gpu_domain_workload_lands_only_on_rack_scale_pools(method):
    plan = make_plan(load(DOMAIN_FLEET), method=method)
    assert plan.status == "optimal"
    on = {a["pool"] for a in plan.assignments() if a["workload"] == "moe-ep"}
    assert on and on <= {"nvl72", "helios"}
    served = sum(a["served"] for a in plan.assignments() if a["workload"] == "moe-ep")
    assert served == pytest.approx(2.0e7, rel=1e-6)
    # the rest say why; the workload without the need may go anywhere
    why = {r["accelerator"]: r["reason"] for r in plan.ineligible() if r["workload"] == "moe-ep"}
    assert why == dict.fromkeys(("h100-sxm", "b200", "mi300x"), "scale-up domain 8 < 72 needed")
    assert not [r for r in plan.ineligible() if r["workload"] == "chat"]
    # its gangs come in whole domains
    cells = [c for c in plan.matrix.cells() if c["workload"] == "moe-ep" and "gang" in c]
    assert cells and all(c["gang"] % 72 == 0 for c in cells)


def test_a_domain_need_rounds_gangs_up_and_true_keeps_the_parts_own_domain():
    """A 70B model at FP8 fits one replica in one GB200; needing 72, a replica spans the whole domain
    (more memory and bandwidth per replica, so more sequences in flight per GPU, never fewer
    tokens/s per GPU); `true` spans at most the domain without a minimum."""
    data = copy.deepcopy(DOMAIN_FLEET)
    chat = data["workloads"][1]
    rows = {}
    for need in (False, True, 72, 36):
        chat["needs"] = {"scaleup_domain": need}
        m = make_plan(load(data)).matrix
        a = m.accelerators.index("gb200")
        rows[need] = (float(m.value[1, a]), int(m.gang[1, a]))
    assert rows[False][1] == rows[True][1] == 1
    assert rows[72][1] == 72 and rows[36][1] == 36
    assert rows[72][0] >= rows[False][0] and rows[36][0] >= rows[False][0]
    # 0 is no domain, not `false`
    chat["needs"] = {"scaleup_domain": 0}
    with pytest.raises(InputError, match=r"needs\.scaleup_domain.*true, false or the accel"):
        load(data)


def _east_west(east_cap_mw: float) -> dict[str, Any]:
    """100,000 jobs/s; MI300X at site east ($1/h, 1 job/s, 1.35 kW, PUE 1) against H100 in the
    west ($3/h, 2 jobs/s). East serves what its cap powers: 1 MW more there moves 740.7 jobs/s
    off 370.4 H100s ($1,111/h) onto 740.7 MI300X ($741/h), saving (1.5 − 1) / 1.35 kW = $370.37
    per hour per MW."""
    return {
        "name": "east-west",
        "sites": [{"name": "east", "power_cap_mw": east_cap_mw, "pue": 1.0}],
        "pools": [
            {
                "name": "amd-east",
                "accelerator": "mi300x",
                "count": 100_000,
                "site": "east",
                "cost": {"per_gpu_hour": 1.0},
            },
            {
                "name": "nv-west",
                "accelerator": "h100-sxm",
                "count": 100_000,
                "pue": 1.0,
                "cost": {"per_gpu_hour": 3.0},
            },
        ],
        "workloads": [
            {
                "name": "jobs",
                "kind": "custom",
                "demand": {"value": 100_000.0, "unit": "jobs/s"},
                "throughput": {"mi300x": 1.0, "h100-sxm": 2.0},
            }
        ],
    }


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_a_site_cap_binds_and_its_shadow_price_is_what_one_more_mw_saves(method):
    plan = make_plan(load(_east_west(60.0)), method=method)
    assert plan.status == "optimal"
    dual = plan.solution.dual(EAST)
    assert dual == pytest.approx(0.5 / 1.35e-3, rel=1e-6)
    # independently: re-solve with the cap 1 MW higher, and compare what it saves
    more = make_plan(load(_east_west(61.0)), method=method)
    assert plan.cost_per_hour - more.cost_per_hour == pytest.approx(dual, rel=1e-6)
    binding = {b["constraint"]: b for b in plan.binding()}
    assert binding["power_cap:east"]["saving_per_hour"] == pytest.approx(dual, rel=1e-9)
    assert binding["power_cap:east"]["unit"] == "MW"
    caps = {c["limit"]: c for c in plan.power()["caps"]}
    assert caps["power_cap:east"]["mw"] == pytest.approx(60.0, rel=1e-6)
    data = plan.to_dict(matrix_cells=False)
    pools = {p["pool"]: p for p in data["pools"]}
    assert pools["amd-east"]["site"] == "east" and "site" not in pools["nv-west"]
    # a cap with room to spare costs nothing
    loose = make_plan(load(_east_west(500.0)), method=method)
    assert loose.solution.dual(EAST) == pytest.approx(0.0, abs=1e-9)
    assert "power_cap:east" not in {b["constraint"] for b in loose.binding()}


def test_a_pool_takes_its_sites_pue_unless_it_gives_its_own():
    data = _east_west(500.0)
    data["sites"][0]["pue"] = 1.1
    data["pools"][0]["cost"] = {"capex_per_gpu": 15_000}
    data["pools"][1]["site"] = "east"
    data["pools"][1]["pue"] = 1.4
    loaded = load(data)
    plan = make_plan(loaded)
    mi300x, h100 = (loaded.catalog[a] for a in ("mi300x", "h100-sxm"))
    pools = {p["pool"]: p for p in plan.to_dict(matrix_cells=False)["pools"]}
    assert pools["amd-east"]["mw_per_gpu"] == pytest.approx(facility_kw(mi300x, 1.1) / 1000)
    assert pools["nv-west"]["mw_per_gpu"] == pytest.approx(facility_kw(h100, 1.4) / 1000)
    # the site's PUE is given, not the documented default: no assumption about it
    assumed = {a["term"] for a in plan.to_dict(matrix_cells=False)["assumptions"]}
    assert "pue" not in assumed
    data["sites"][0].pop("pue")
    assumed = {a["term"] for a in make_plan(load(data)).to_dict(matrix_cells=False)["assumptions"]}
    assert "pue" in assumed


def _racks_at(site: dict[str, Any], accelerator: str = "gb200") -> dict[str, Any]:
    data = _east_west(500.0)
    data["sites"] = [{"name": "east", "power_cap_mw": 500.0}, site]
    data["pools"].append(
        {
            "name": "racks",
            "accelerator": accelerator,
            "count": 7_200,
            "site": site["name"],
            "cost": {"per_gpu_hour": 5.0},
        }
    )
    return data


def test_a_rack_too_hot_for_an_air_cooled_site_is_refused_with_the_reason():
    site = {"name": "ohio", "cooling": "air", "max_rack_kw": 40}
    with pytest.raises(InputError) as info:
        load(_racks_at(site))
    text = str(info.value)
    assert "pools[2].site (racks)" in text and "ohio" in text
    assert "a GB200 NVL72 rack draws 120 kW" in text and "above the 40 kW per rack" in text
    assert "air-cooled" in text
    # liquid-cooled racks need liquid at the site, whatever its limit
    with pytest.raises(InputError, match="liquid-cooled and site ohio is air-cooled"):
        load(_racks_at({"name": "ohio", "cooling": "air"}))
    # a liquid site that takes 150 kW racks takes an NVL72, not a Vera Rubin NVL72 (210 kW)
    liquid = {"name": "texas", "cooling": "liquid", "max_rack_kw": 150}
    assert load(_racks_at(liquid)).scenario.pools[2].site == "texas"
    with pytest.raises(InputError, match=r"Vera Rubin NVL72 rack draws 210 kW.*above the 150 kW"):
        load(_racks_at(liquid, "vr200"))
    # parts that are not racks are not held to a rack limit
    assert load(_racks_at({"name": "ohio", "cooling": "air", "max_rack_kw": 40}, "h100-sxm"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["pools"][0].update(site="west"),
            r"pools\[0\]\.site.*unknown site; sites: east",
        ),
        (lambda d: d["sites"].append({"name": "east"}), r"sites\[1\]\.name.*duplicate site name"),
        (lambda d: d["sites"][0].update(cooling="water"), r"sites\[0\]\.cooling"),
        (lambda d: d["sites"][0].update(max_rack_kw=0), r"sites\[0\]\.max_rack_kw.*rack's power"),
    ],
)
def test_bad_sites_are_refused_naming_the_field(change, message):
    data = _east_west(60.0)
    change(data)
    with pytest.raises(InputError, match=message):
        load(data)


def _tpu_pool(accelerator: str, **extra: Any) -> dict[str, Any]:
    data = copy.deepcopy(DOMAIN_FLEET)
    data["pools"].append({"name": "tpu", "accelerator": accelerator, "count": 10_000, **extra})
    return data


def test_a_rented_tpu_pool_plans_at_its_price_and_its_stack_takes_the_pooled_factor():
    plan = make_plan(load(_tpu_pool("tpu-v6e")))  # the catalog's $2.70 per chip-hour
    assert plan.status == "optimal"
    pools = {p["pool"]: p for p in plan.to_dict(matrix_cells=False)["pools"]}
    assert pools["tpu"]["cost_per_gpu_hour"] == 2.70 and pools["tpu"]["vendor"] == "google"
    # no published XLA results: the kind's factor of all stacks stands in, and says so
    cell = next(c for c in plan.matrix.cells() if c["accelerator"] == "tpu-v6e" and "basis" in c)
    assert cell["basis"] == "pooled"
    used = {(f["stack"], f["kind"]): f for f in plan.stack_factors()["used"]}
    assert "0 result(s) on xla" in used["xla", "serve"]["note"]
    # Google publishes no v6e power: not counted, and the plan says so
    (missing,) = plan.to_dict(matrix_cells=False)["missing_figures"]
    assert missing["accelerator"] == "tpu-v6e" and missing["pools"] == ["tpu"]
    assert missing["figure"] == "power" and "not counted" in missing["effect"]
    assert pools["tpu"]["mw_per_gpu"] == 0.0
    # a rented TPU7x has a (derived) power figure: counted, nothing missing
    ironwood = make_plan(load(_tpu_pool("tpu7x", cost={"per_gpu_hour": 6.0})))
    assert "missing_figures" not in ironwood.to_dict(matrix_cells=False)


@pytest.mark.parametrize(
    ("pool", "limits", "message"),
    [
        (
            {"cost": {"capex_per_gpu": 20_000}},
            {},
            r"pools\[5\]\.cost\.capex_per_gpu.*tpu-v6e is rent-only, no purchase exists.*"
            r"cannot be owned",
        ),
        ({}, {"power_cap_mw": 5000}, r"no power figure for tpu-v6e.*the fleet's power cap counts"),
        (
            {"site": "east"},
            {},
            r"pools\[5\]\.accelerator \(tpu\).*the power cap of site east counts",
        ),
        (
            {},
            {"vendor_share": {"measure": "power", "max": {"amd": 0.9}}},
            r"the vendor shares by power counts",
        ),
    ],
)
def test_tpus_are_rented_only_and_uncounted_power_is_refused_where_a_limit_counts_it(
    pool, limits, message
):
    data = _tpu_pool("tpu-v6e", **pool)
    data["sites"] = [{"name": "east", "power_cap_mw": 100_000.0}]
    data["limits"] = limits
    with pytest.raises(InputError, match=message):
        load(data)


def test_a_tpu_without_a_rental_price_must_be_given_one():
    with pytest.raises(InputError, match=r"no rental price for tpu-v5e") as info:
        load(_tpu_pool("tpu-v5e"))
    assert "capex_per_gpu" not in str(info.value)  # it cannot be owned: rent is the one choice
    assert load(_tpu_pool("tpu-v5e", cost={"per_gpu_hour": 1.2}))


def test_the_bundled_site_example_shows_what_a_share_cap_and_a_site_cap_cost():
    """examples/hyperscaler-sites.yaml: NVIDIA's share of the power is capped at 45 % and the
    Ohio campus (Helios and MI355X racks) at 900 MW; both bind and both are priced. The
    expert-parallel MoE needs a 72-GPU domain and runs on NVL72 racks only."""
    path = Path(__file__).parents[2] / "examples" / "hyperscaler-sites.yaml"
    plan = make_plan(load_scenario(path))
    assert plan.status == "optimal"
    binding = {b["constraint"]: b for b in plan.binding()}
    assert binding["share_max:nvidia"]["saving_per_hour"] > 0
    assert binding["power_cap:ohio"]["saving_per_hour"] > 0
    assert binding["power_cap:ohio"]["unit"] == "MW"
    assert plan.vendor_shares()["nvidia"]["power"] == pytest.approx(0.45, rel=1e-6)
    caps = {c["limit"]: c for c in plan.power()["caps"]}
    assert caps["power_cap:ohio"]["mw"] == pytest.approx(900.0, rel=1e-6)
    racks = {"gb200", "gb300", "vr200", "mi455x"}
    ep = [a for a in plan.assignments() if a["workload"] == "llm-serving-1t-moe-ep72"]
    assert ep and {a["accelerator"] for a in ep} <= racks
    pools = plan.to_dict(matrix_cells=False)["pools"]
    assert all(p["site"] for p in pools)


def test_the_plan_record_carries_sites_and_missing_figures(tmp_path):
    """What the plan adds for sites and TPUs is in the versioned record, and reads back."""
    from polyfleet import app
    from polyfleet.inputs.options import PlanOptions
    from polyfleet.results.base import dump_record
    from polyfleet.results.plan import PlanRecord

    path = Path(__file__).parents[2] / "examples" / "hyperscaler-sites.yaml"
    record = app.plan(path, PlanOptions(matrix=False))
    assert {p.pool: p.site for p in record.pools}["amd-helios-ohio"] == "ohio"
    caps = {c.limit: c for c in record.power.caps}
    assert caps["power_cap:ohio"].key.subject == "ohio"
    assert {b.constraint for b in record.binding} >= {"share_max:nvidia", "power_cap:ohio"}
    out = tmp_path / "plan.json"
    out.write_text(dump_record(record))
    assert PlanRecord.load(out).pools == record.pools
    scenario = tmp_path / "tpu.yaml"
    scenario.write_text(yaml.safe_dump(_tpu_pool("tpu-v6e")))
    tpu = app.plan(scenario, PlanOptions(matrix=False))
    (missing,) = tpu.missing_figures
    assert (missing.accelerator, missing.figure, missing.pools) == ("tpu-v6e", "power", ["tpu"])
    assert all(p.site is None for p in tpu.pools)
