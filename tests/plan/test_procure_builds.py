"""Procurement with in-house builds and rented offers: the NRE is a yes-or-no decision (paid
where the build's units save more than it, not where they do not), and rented GPUs cost their
rent, no capex, and no power in the fleet's caps."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyfleet.errors import InputError
from polyfleet.inputs.procurement import parse_procurement
from polyfleet.plan.procure import build_model, procure

from .test_procure import BASE


def _with_build(nre: float, **build: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["builds"] = [
        {
            "name": "acorn",
            "relative_to": "mi355x",
            "performance": {"serve": 1.0},
            "nre": nre,
            "unit_cost": 5_000,  # half the MI355X's 10,000
            "power_w": 1_400,
            "first_ship_year": 2027,
            "life_years": 1,
            **build,
        }
    ]
    data["workloads"][0]["throughput"]["acorn"] = 1.0
    return data


def _solve(data: dict[str, Any]) -> dict[str, Any]:
    return procure(parse_procurement(data), limit_costs=False).to_dict()


def test_the_nre_is_a_binary_column_gating_the_builds_units():
    model = build_model(parse_procurement(_with_build(1e6)))
    paid = model.lp.cols["nre_paid"]
    assert model.lp.integer[paid].all() and model.lp.hi[paid].tolist() == [1.0]
    assert model.lp.cost[paid].tolist() == [1e6]
    (key,) = [k for k in model.lp.rows["nre"].keys if k[3] == 2027]
    terms = model.lp.terms(key)
    assert [v for (block, _), v in terms.items() if block == "n"] == [1.0]  # the acorn's n
    assert terms[("nre_paid", ("nre", "acorn"))] < 0


def test_a_cheap_nre_is_paid_and_the_build_bought():
    # 20,000 GPUs of work: each acorn saves 5,000 of GPU price and its share of server and
    # network (1.45 x 5,000 = 7,250 in all) over an MI355X: ~145M against a 1M NRE
    free = _solve(_with_build(0.0))
    cheap = _solve(_with_build(1e6))
    assert cheap["builds"] == [{"build": "acorn", "nre": 1e6, "paid": True}]
    bought = {s["accelerator"]: s["gpus"] for s in cheap["schedule"]}
    assert bought == {"acorn": 20_000}
    # the same purchases as with no NRE, plus the NRE: paid in the first year
    assert cheap["objective"] == pytest.approx(free["objective"] + 1e6, rel=1e-6)
    assert cheap["cost_by_year"][0]["nre"] == 1e6


def test_a_dear_nre_is_not_paid_and_nothing_of_the_build_is_bought():
    without = _solve(copy.deepcopy(BASE))
    dear = _solve(_with_build(1e9))  # more than the ~145M the units could save
    assert dear["builds"] == [{"build": "acorn", "nre": 1e9, "paid": False}]
    assert {s["accelerator"] for s in dear["schedule"]} == {"mi355x"}
    assert dear["objective"] == pytest.approx(without["objective"], rel=1e-6)
    assert dear["cost_by_year"][0]["nre"] == 0.0


def test_a_build_is_bought_from_its_ship_year_only():
    data = _with_build(1e6, first_ship_year=2028)
    data["years"] = [2027, 2028]
    out = _solve(data)
    years = {s["year"] for s in out["schedule"] if s["accelerator"] == "acorn"}
    assert years == {2028}
    assert {s["accelerator"] for s in out["schedule"] if s["year"] == 2027} == {"mi355x"}


def test_rented_gpus_cost_their_rent_and_no_power_under_the_cap():
    data = copy.deepcopy(BASE)
    data["limits"] = {"budget_per_year": 1.0, "power_cap_gw": 0.001}  # nothing can be bought
    data["offers"] = [{"accelerator": "tpu7x", "per_gpu_hour": 2.0}]
    data["workloads"][0]["throughput"] = {"tpu7x": 2.0}
    out = _solve(data)
    assert out["status"] == "optimal" and not out["violations"]
    (rent,) = out["schedule"]
    assert rent["unit"] == "gpu" and rent["gpus"] == 10_000 and rent["capex"] == 0.0
    # 10,000 TPUs x $2 x 8,760 h = 175.2M of rent, no GW of the fleet's own
    assert out["cost_by_year"][0]["opex"] == pytest.approx(175.2e6)
    assert out["objective"] == pytest.approx(175.2e6, rel=1e-6)
    assert np.allclose(out["gw_by_vendor"]["google"], 0.0)


@pytest.mark.parametrize("cap", [0, 4_000])
def test_a_rented_offers_cap_holds_even_at_zero(cap: int):
    # a cap of 0 GPUs a year once read as no cap at all
    data = copy.deepcopy(BASE)
    data["offers"].append({"accelerator": "tpu7x", "per_gpu_hour": 0.5, "max_nodes_per_year": cap})
    data["workloads"][0]["throughput"]["tpu7x"] = 2.0
    out = _solve(data)
    rented = {s["accelerator"]: s["gpus"] for s in out["schedule"]}
    # the rent (0.5 x 8,760 = 4,380 a year for 2 jobs/s) beats buying: as much as the cap allows
    assert rented.get("tpu7x", 0) == cap
    assert rented["mi355x"] == 20_000 - 2 * cap


def test_a_build_offered_as_an_offer_is_refused_at_its_field():
    data = _with_build(1e6)
    data["offers"].append({"accelerator": "acorn"})
    with pytest.raises(InputError) as err:
        parse_procurement(data)
    assert err.value.field == "offers[1].accelerator"


def _two_vendors() -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["offers"].append({"accelerator": "b200", "price_per_gpu": 20_000, "life_years": 1})
    data["workloads"][0]["throughput"]["b200"] = 1.0
    data["limits"]["vendor_share"] = {"measure": "count", "max": {"amd": 0.5}}
    return data


def test_each_vendors_lock_in_premium_is_its_own_plan_against_all_without_shares():
    from polyfleet.plan.procure_lock_in import lock_in

    data = _two_vendors()
    out = lock_in(parse_procurement(copy.deepcopy(data)))
    free = copy.deepcopy(data)
    del free["limits"]["vendor_share"]
    nvidia_only = copy.deepcopy(free)
    nvidia_only["offers"] = [nvidia_only["offers"][1]]
    all_cost = _solve(free)["objective"]  # every GPU an MI355X: the share cap is lifted
    by = {v["vendor"]: v for v in out["vendors"]}
    assert out["base_objective"] == pytest.approx(all_cost, rel=1e-6)
    assert by["amd"]["premium"] == pytest.approx(0.0, abs=1e-6 * all_cost)
    nvidia_cost = _solve(nvidia_only)["objective"]
    assert nvidia_cost > all_cost
    assert by["nvidia"]["premium"] == pytest.approx(nvidia_cost - all_cost, rel=1e-6)
    assert by["nvidia"]["premium_by_year"] == pytest.approx([nvidia_cost - all_cost], rel=1e-6)


def test_a_vendor_that_cannot_serve_the_work_even_buying_says_why():
    from polyfleet.plan.procure_lock_in import lock_in

    data = _two_vendors()
    data["workloads"][0]["throughput"].pop("b200")  # only AMD parts run the jobs
    out = lock_in(parse_procurement(data))
    (nvidia,) = [v for v in out["vendors"] if v["vendor"] == "nvidia"]
    assert nvidia["status"] == "infeasible" and nvidia["premium"] is None
    assert any("jobs: up to 100.0% of its demand unmet (2027)" in w for w in nvidia["why"])


def test_the_vertical_integration_example_prices_every_merchant_vendor():
    from polyfleet import app as api
    from polyfleet.inputs.options import ProcureOptions

    example = Path(__file__).parents[2] / "examples" / "vertical-integration.yaml"
    rec = api.procure(example, ProcureOptions(limit_costs=False, lock_in=True))
    assert rec.status == "optimal"
    assert rec.builds is not None and [b.build for b in rec.builds] == ["tier2-asic"]
    assert {s.unit for s in rec.schedule if s.vendor == "google"} == {"gpu"}  # rented
    assert rec.lock_in is not None
    by = {v.vendor: v for v in rec.lock_in.vendors}
    assert set(by) == {"amd", "google", "in-house", "nvidia"}
    for vendor in ("amd", "google", "nvidia"):
        assert by[vendor].premium is not None and by[vendor].premium > 0, vendor
    # the in-house chip is rated for serving only: alone it cannot train, and says so
    assert by["in-house"].premium is None
    assert any("tier policy excludes it" in w for w in by["in-house"].why)


def test_a_build_runs_only_the_kinds_of_work_it_is_rated_for():
    from polyfleet.plan.procure_arrays import procurement_arrays

    data = _with_build(1e6, performance={"serve": 1.25})
    data["workloads"] = [
        {
            "name": "train-7b",
            "kind": "train",
            "model": {"params_b": 7, "precision": "bf16", "seq_len": 4096},
            "demand": {"value": 1e5, "unit": "tokens/s"},
        },
        {
            "name": "serve-7b",
            "kind": "serve",
            "model": {"params_b": 7, "precision": "bf16", "seq_len": 4096},
            "demand": {"value": 1e4, "unit": "tokens/s"},
        },
    ]
    arrays = procurement_arrays(parse_procurement(data))
    assert [k.accelerator for k in arrays.kinds] == ["mi355x", "acorn"]
    # serving: 1.25 x the model's MI355X estimate; training: not rated, so not run
    assert arrays.T[1, 1] == pytest.approx(1.25 * arrays.T[1, 0]) and arrays.T[1, 0] > 0
    assert arrays.T[0, 1] == 0 and arrays.T[0, 0] > 0
    trained = parse_procurement({**data, "offers": []})
    why = procurement_arrays(trained).unservable["train-7b"]
    assert "no performance figure for this kind of work" in why
