"""The planner on small cases solved by hand (see each test's comment for the working)."""

import numpy as np
import pytest

from polyfleet.plan.placement import make_plan

from ..conftest import load

# base: nv = H100 at $2/h giving 2 jobs/s; amd = MI300X at $0.8/h giving 1 job/s; 100 of each.
# Per job/s: amd $0.8/h, nv $1.0/h -> amd first. Facility power at PUE 1: H100 10.2 kW / 8 =
# 1.275 kW (DGX figure); MI300X 750 W x 1.8 default node overhead = 1.35 kW.


def _plan(base, demand=150.0, method="auto", **limits):
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"][0]["demand"]["value"] = demand
    if limits:
        base["limits"] = limits
    return make_plan(load(base), method=method)


def _usage(plan):
    return {p["pool"]: p["used"] for p in plan.pools()}


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_min_cost_fills_cheapest_then_next(base, method):
    plan = _plan(base, 150.0, method)
    # amd 100 (100 jobs/s, $80) + nv 25 (50 jobs/s, $50)
    assert plan.status == "optimal"
    assert plan.cost_per_hour == pytest.approx(130.0, rel=1e-6)
    assert _usage(plan) == pytest.approx({"nv": 25.0, "amd": 100.0}, rel=1e-6)
    binding = {b["constraint"]: b for b in plan.binding()}
    # one more MI300X replaces half an H100 ($1.0) for $0.8: saves $0.2/h
    assert binding["capacity:amd"]["saving_per_hour"] == pytest.approx(0.2, rel=1e-6)
    assert "capacity:nv" not in binding


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_power_cap_binds(base, method):
    plan = _plan(base, 150.0, method, power_cap_mw=0.15)
    # a + 2n = 150, 1.35a + 1.275n = 150 kW -> n = 52.5/1.425 = 36.842, a = 76.316
    n = 52.5 / 1.425
    a = 150 - 2 * n
    assert plan.cost_per_hour == pytest.approx(0.8 * a + 2 * n, rel=1e-6)
    assert plan.power_mw == pytest.approx(0.15, rel=1e-6)
    binding = {b["constraint"]: b for b in plan.binding()}
    # dual of power: moving 1 kW from amd to nv work: (2 - 1.6) / (2*1.35 - 1.275) $/h per kW
    assert binding["power_cap"]["saving_per_hour"] == pytest.approx(0.4 / 1.425 * 1000, rel=1e-5)
    power = plan.power()
    assert power["gw"] == pytest.approx(0.15e-3, rel=1e-6) and power["cap_mw"] == 0.15
    assert power["cap_shadow_price_per_mw_hour"] == pytest.approx(0.4 / 1.425 * 1000, rel=1e-5)


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_vendor_share_cap_by_count(base, method):
    plan = _plan(base, 150.0, method, vendor_share={"measure": "count", "max": {"amd": 0.5}})
    # a <= n and a + 2n = 150 -> n = a = 50, cost 40 + 100
    assert plan.cost_per_hour == pytest.approx(140.0, rel=1e-6)
    shares = plan.vendor_shares()
    assert shares["amd"]["count"] == pytest.approx(0.5, rel=1e-6)
    binding = {b["constraint"]: b for b in plan.binding()}
    assert binding["share_max:amd"]["saving_per_hour"] > 0


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_vendor_share_floor(base, method):
    plan = _plan(base, 100.0, method, vendor_share={"measure": "count", "min": {"nvidia": 0.6}})
    # n >= 1.5a and a + 2n = 100 -> n = 37.5, a = 25: $95
    assert plan.cost_per_hour == pytest.approx(95.0, rel=1e-6)
    assert plan.vendor_shares()["nvidia"]["count"] == pytest.approx(0.6, rel=1e-6)


@pytest.mark.parametrize("measure", ["power", "spend"])
def test_share_measures(base, measure):
    plan = _plan(base, 150.0, "lp", vendor_share={"measure": measure, "max": {"amd": 0.5}})
    assert plan.vendor_shares()["amd"][measure] == pytest.approx(0.5, rel=1e-6)
    dw = _plan(base, 150.0, "decomposition", vendor_share={"measure": measure, "max": {"amd": 0.5}})
    assert dw.cost_per_hour == pytest.approx(plan.cost_per_hour, rel=1e-6)


def test_max_accelerators_forces_a_mix(base):
    base["workloads"][0]["max_accelerators"] = 80
    plan = _plan(base, 100.0, "decomposition")
    # all-amd needs 100 > 80; a + n = 80, a + 2n = 100 -> n = 20, a = 60: $48 + $40
    assert plan.cost_per_hour == pytest.approx(88.0, rel=1e-6)
    lp = _plan(base, 100.0, "lp")
    assert lp.cost_per_hour == pytest.approx(88.0, rel=1e-6)


def _two_workloads(base, objective):
    base["objective"] = objective
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"] = [
        {
            "name": "w1",
            "kind": "custom",
            "demand": {"value": 100.0, "unit": "jobs/s"},
            "throughput": {"h100-sxm": 2.0},
        },
        {
            "name": "w2",
            "kind": "custom",
            "demand": {"value": 300.0, "unit": "jobs/s"},
            "throughput": {"h100-sxm": 2.0, "mi300x": 1.0},
        },
    ]
    return make_plan(load(base))


def test_max_min_served(base):
    plan = _two_workloads(base, "max_min_served")
    # w1 takes 50t H100s, w2 gets 100 (amd) + 2(100 - 50t); 300t = 300 - 100t -> t = 0.75
    served = {w["name"]: w["served_fraction"] for w in plan.workloads()}
    assert served == pytest.approx({"w1": 0.75, "w2": 0.75}, rel=1e-6)
    assert plan.solution.objective == pytest.approx(0.75, rel=1e-6)


def test_max_served(base):
    plan = _two_workloads(base, "max_served")
    # an H100 serves 2% of w1 but 0.67% of w2: w1 in full (50), w2 gets 100 + 100 jobs/s
    served = {w["name"]: w["served_fraction"] for w in plan.workloads()}
    assert served["w1"] == pytest.approx(1.0, rel=1e-6)
    assert served["w2"] == pytest.approx(2 / 3, rel=1e-6)
    assert plan.solution.objective == pytest.approx(5 / 3, rel=1e-6)


def test_max_served_never_serves_more_than_demand(base):
    base["objective"] = "max_served"
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"][0]["demand"]["value"] = 10.0
    plan = make_plan(load(base))
    w = plan.workloads()[0]
    assert w["served"] == pytest.approx(10.0, rel=1e-6)
    assert plan.cost_per_hour == pytest.approx(8.0, rel=1e-6)  # and at least cost


def test_infeasible_capacity_is_diagnosed(base):
    plan = _plan(base, 400.0)  # 300 jobs/s is all the fleet can do
    assert plan.status == "infeasible"
    d = plan.to_dict()["diagnosis"]
    assert any(lim["kind"] == "capacity" for lim in d["limits"])
    (short,) = d["shortfalls"]
    assert short["workload"] == "job"
    assert short["served_fraction"] == pytest.approx(0.75, rel=1e-6)
    assert short["short_by"] == pytest.approx(100.0, rel=1e-6)


def test_infeasible_power_says_by_how_much(base):
    plan = _plan(base, 100.0, power_cap_mw=0.05)
    # at best (all H100: 50 x 1.275 kW) the work needs 63.75 kW: 13.75 kW over
    assert plan.status == "infeasible"
    limits = plan.to_dict()["diagnosis"]["limits"]
    power = [lim for lim in limits if lim["kind"] == "power"]
    assert power and power[0]["unit"] == "MW"
    assert power[0]["by"] == pytest.approx(0.01375, rel=1e-4)


def test_unservable_workload_names_reasons(base):
    base["workloads"].append(
        {
            "name": "needs-b200",
            "kind": "train",
            "model": {"params_b": 1},
            "demand": {"value": 5.0, "unit": "tokens/s"},
            "needs": {"accelerators": ["b200"]},
        }
    )
    plan = make_plan(load(base))
    assert plan.status == "infeasible"
    (u,) = plan.to_dict()["diagnosis"]["unservable"]
    assert u["workload"] == "needs-b200"
    assert "no pool is eligible" in u["reason"]
    assert u["pools"]["h100-sxm"] == "accelerator not in the workload's needs.accelerators"


def test_identical_workloads_collapse_without_changing_the_answer(base):
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    w = base["workloads"][0]
    base["workloads"] = [
        dict(w, name=f"job{i}", demand={"value": 50.0, "unit": "jobs/s"}) for i in range(3)
    ]
    plan = make_plan(load(base))
    assert len(plan.problem.workloads) == 1  # one class of three
    assert plan.cost_per_hour == pytest.approx(130.0, rel=1e-6)
    served = [w["served"] for w in plan.workloads()]
    assert served == pytest.approx([50.0, 50.0, 50.0], rel=1e-6)
    assert sum(a["accelerators"] for a in plan.assignments()) == pytest.approx(125.0, rel=1e-6)


def test_tier_policy_keeps_tier1_on_capable_parts(base):
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["tiers"] = {1: {"vendors": ["nvidia"]}}
    base["workloads"][0]["tier"] = 1
    plan = make_plan(load(base))
    assert _usage(plan)["amd"] == pytest.approx(0.0, abs=1e-9)
    assert plan.cost_per_hour == pytest.approx(100.0, rel=1e-6)


def test_unit_cost_is_reported(base):
    plan = _plan(base, 150.0)
    (w,) = plan.workloads()
    assert w["cost_per_hour"] == pytest.approx(130.0, rel=1e-6)
    assert w["cost_per_unit"] == pytest.approx(130.0 / (150.0 * 3600), rel=1e-6)


def test_solution_arrays_are_consistent(base):
    plan = _plan(base, 150.0)
    x = plan.solution.x.toarray()
    assert np.allclose(x.sum(axis=0) + plan.solution.idle, plan.solution.usage)


def test_zero_demand_workload_is_served_trivially(base):
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"].append(
        {
            "name": "idle",
            "kind": "custom",
            "demand": {"value": 0.0, "unit": "jobs/s"},
            "throughput": {"mi300x": 1.0},
        }
    )
    base["workloads"][0]["demand"]["value"] = 150.0
    plan = make_plan(load(base))
    assert plan.status == "optimal"
    assert plan.cost_per_hour == pytest.approx(130.0, rel=1e-6)
    rows = {w["name"]: w for w in plan.workloads()}
    assert rows["idle"]["accelerators"] == 0.0
    assert rows["idle"]["served_fraction"] == 1.0


def test_only_zero_demand(base):
    base["workloads"][0]["demand"]["value"] = 0.0
    plan = make_plan(load(base))
    assert plan.status == "optimal"
    assert plan.cost_per_hour == 0.0
