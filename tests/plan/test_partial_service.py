"""Partial service: a workload its `max_accelerators` keeps from full service is served as far as
it can be under the served objectives (their point), and stays an unservable workload, with the
plan infeasible, under min_cost; the infeasible diagnosis lists every shortfall at any size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from polyfleet.plan import diagnose
from polyfleet.plan.lp import solve_lp
from polyfleet.plan.placement import make_plan
from polyfleet.plan.problem import PlacementProblem

from ..conftest import load
from .test_properties import random_problem

#: "capped" needs 10 H100 for its 10 jobs/s but may have 4: it can be served 40 % at most.
#: "open" can be served in full on either pool (the MI300X pool is cheaper).
SCENARIO = {
    "name": "partial",
    "objective": "max_served",
    "pools": [
        {"name": "nv", "accelerator": "h100-sxm", "count": 10, "pue": 1.0, "cost": {"per_gpu_hour": 2.0}},
        {"name": "amd", "accelerator": "mi300x", "count": 10, "pue": 1.0, "cost": {"per_gpu_hour": 1.0}},
    ],
    "workloads": [
        {"name": "capped", "kind": "custom", "demand": {"value": 10.0, "unit": "jobs/s"},
         "throughput": {"h100-sxm": 1.0}, "max_accelerators": 4},
        {"name": "open", "kind": "custom", "demand": {"value": 10.0, "unit": "jobs/s"},
         "throughput": {"h100-sxm": 1.0, "mi300x": 1.0}},
    ],
}  # fmt: skip

# objective, fairness -> served fractions (capped, open), objective value, least cost $/h
CASES = {
    # both as far as they go: 0.4 + 1.0; 4 H100 and 10 MI300X
    ("max_served", "max_min"): ([0.4, 1.0], 1.4, 4 * 2.0 + 10 * 1.0),
    # the smallest fraction is capped's 0.4; the least cost holding it serves open 0.4 too
    ("max_min_served", "max_min"): ([0.4, 1.0 * 0.4], 0.4, 4 * 2.0 + 4 * 1.0),
    # water-filling: capped fixed at 0.4, then open raised as far as the fleet goes (a level
    # may pass 1): the other 6 H100 and the 10 MI300X, 16 jobs/s of its 10
    ("max_min_served", "lexicographic"): ([0.4, 1.6], 0.4, 10 * 2.0 + 10 * 1.0),
}


@pytest.mark.parametrize("method", ["auto", "lp"])
@pytest.mark.parametrize(("objective", "fairness"), sorted(CASES))
def test_a_capped_workload_is_served_as_far_as_its_cap_allows(objective, fairness, method):
    fractions, value, cost = CASES[objective, fairness]
    loaded = load({**SCENARIO, "objective": objective, "fairness": fairness})
    out = make_plan(loaded, method=method).to_dict(matrix_cells=False)
    assert out["status"] == "optimal"
    assert "diagnosis" not in out
    served = [w["served_fraction"] for w in out["workloads"]]
    assert served == pytest.approx(fractions, rel=1e-6)
    assert out["objective_value"] == pytest.approx(value, rel=1e-6)
    assert out["cost_per_hour"] == pytest.approx(cost, rel=1e-6)
    capped = [a for a in out["assignments"] if a["workload"] == "capped"]
    assert sum(a["accelerators"] for a in capped) == pytest.approx(4.0, rel=1e-6)
    if fairness == "lexicographic":
        assert [lv["level"] for lv in out["levels"]] == pytest.approx(fractions, rel=1e-6)


def test_min_cost_still_names_the_capped_workload_infeasible():
    out = make_plan(load({**SCENARIO, "objective": "min_cost"})).to_dict(matrix_cells=False)
    assert out["status"] == "infeasible"
    (bad,) = out["diagnosis"]["unservable"]
    assert bad["workload"] == "capped"
    assert "above max_accelerators 4" in bad["reason"]


def test_unservable_is_a_mask_that_leaves_capped_workloads_to_partial_service():
    p = random_problem(4, 6, 3, tight=False)
    cap = p.cap.copy()
    cap[2] = 1e-3  # far below what workload 2 needs
    T = p.T.copy()
    T[4] = 0.0  # no pool can serve workload 4
    p = replace(p, cap=cap, T=T)
    full, why = diagnose.unservable(p)
    part, _ = diagnose.unservable(p, partial=True)
    assert full.dtype == part.dtype == np.bool_
    assert np.flatnonzero(full).tolist() == [2, 4] and len(why) == 2
    assert np.flatnonzero(part).tolist() == [4]


def test_no_eligible_pool_is_still_infeasible_for_the_served_objectives():
    """Partial service is service within a cap; a workload no pool can serve at all is still
    named, as before (its pools' reasons say what to change)."""
    data = {**SCENARIO, "workloads": [*SCENARIO["workloads"]]}
    data["workloads"].append(
        {
            "name": "nowhere",
            "kind": "custom",
            "demand": {"value": 1.0, "unit": "jobs/s"},
            "throughput": {"b200": 1.0},
        }
    )
    out = make_plan(load(data)).to_dict(matrix_cells=False)
    assert out["status"] == "infeasible"
    assert [u["workload"] for u in out["diagnosis"]["unservable"]] == ["nowhere"]


def test_shortfalls_agree_with_the_whole_lp():
    """What the diagnosis lists is what max_served leaves short: the same as the whole LP."""
    p = random_problem(7, 12, 4, tight=True)
    p = replace(p, capacity=p.capacity * 0.5)  # short: some workloads cannot be served in full
    servable = np.ones(len(p.workloads), dtype=bool)
    short = diagnose.shortfalls(p, servable)
    lp = solve_lp(p, "max_served")
    assert short, "the halved fleet leaves some workload short"
    total = sum(s["short_by"] for s in short)
    lp_total = float(((1.0 - np.minimum(lp.served, 1.0)) * p.demand).sum())
    assert total == pytest.approx(lp_total, rel=1e-5)
    for s in short:
        assert 0.0 <= s["served_fraction"] < 1.0
        w = s["class"]
        assert s["short_by"] == pytest.approx((1.0 - s["served_fraction"]) * p.demand[w])


def test_shortfalls_are_listed_beyond_two_million_cells():
    """The diagnosis used to skip the shortfalls above 2M cells (the whole LP was too large to
    solve there); by decomposition they are listed at any size. 400,001 distinct workloads on
    5 pools (2M cells and more) and a fleet that can serve at most 80 % of their demand."""
    rng = np.random.default_rng(3)
    n_w, n_p = 400_001, 5
    T = rng.uniform(0.5, 2.0, (n_w, n_p)) * (rng.random((n_w, n_p)) < 0.3)
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = 1.0  # every workload has an eligible pool
    demand = rng.uniform(1.0, 3.0, n_w)
    # no accelerator serves more than 2 units/s: the fleet serves at most 80 % of the demand
    capacity = np.full(n_p, 0.8 * float(demand.sum()) / (2.0 * n_p))
    big = PlacementProblem(
        workloads=[f"w{i}" for i in range(n_w)],
        pools=[f"p{j}" for j in range(n_p)],
        T=T,
        demand=demand,
        cap=np.full(n_w, np.inf),
        cost=rng.uniform(0.5, 5.0, n_p),
        mw=np.full(n_p, 1e-3),
        capacity=capacity,
        pool_vendor=(np.arange(n_p) % 2).astype(np.intp),
        vendors=["amd", "nvidia"],
    )
    assert n_w * n_p > 2_000_000
    short = diagnose.shortfalls(big, np.ones(n_w, dtype=bool))
    assert short
    most = float((capacity * T.max(axis=0)).sum())
    assert most <= 0.8 * float(demand.sum()) + 1e-6
    assert sum(s["short_by"] for s in short) >= float(demand.sum()) - most - 1e-6
    assert all(0.0 <= s["served_fraction"] < 1.0 for s in short)
