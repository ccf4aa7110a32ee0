"""`fairness: lexicographic`: water-filling on cases solved by hand, and against the whole-LP
reference (one LP per workload for the bottleneck test) at random sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyfleet.errors import InputError
from polyfleet.plan.fairness import lexicographic_lp, solve_lexicographic
from polyfleet.plan.placement import make_plan, solve_problem
from polyfleet.plan.problem import PlacementProblem

from ..conftest import load
from .test_properties import check_feasible, random_problem

METHODS = ["decomposition", "lp"]


def _problem(a: list[list[float]], capacity: list[float], cost: list[float], cap=None):
    """Workloads of demand 1 (so T = a, the fraction one accelerator serves)."""
    T = np.array(a, dtype=float)
    n_w, n_p = T.shape
    return PlacementProblem(
        workloads=[f"w{i + 1}" for i in range(n_w)],
        pools=[f"P{j + 1}" for j in range(n_p)],
        T=T,
        demand=np.ones(n_w),
        cap=np.full(n_w, np.inf) if cap is None else np.array(cap, dtype=float),
        cost=np.array(cost, dtype=float),
        mw=np.full(n_p, 0.001),
        capacity=np.array(capacity, dtype=float),
        pool_vendor=np.zeros(n_p, dtype=np.intp),
        vendors=["v"],
    )


@pytest.mark.parametrize("method", METHODS)
def test_two_pools_three_workloads(method):
    """P1: 10 accelerators at $1/h, P2: 10 at $2/h. w1 and w2 run only on P1, 0.1 of their
    demand per accelerator; w3 only on P2, 0.08 per accelerator.

    Level 1: w1 and w2 share P1's 10 accelerators: 5 each, 0.5 each; w3 alone could reach
    10 · 0.08 = 0.8, so t₁ = 0.5 and the bottlenecks are {w1, w2} (P1 is full).
    Level 2: w3 alone on P2: t₂ = 0.8.  Fractions (0.5, 0.5, 0.8); cost 10·$1 + 10·$2 = $30/h.
    max_min stops at level 1 and then buys the least: w3 at 0.5 needs 6.25 accelerators of
    P2: (0.5, 0.5, 0.5) for 10·$1 + 6.25·$2 = $22.5/h."""
    p = _problem([[0.1, 0], [0.1, 0], [0, 0.08]], [10, 10], [1, 2])
    lex = solve_problem(p, "max_min_served", method, "lexicographic")
    np.testing.assert_allclose(lex.levels, [0.5, 0.5, 0.8], rtol=1e-7)
    np.testing.assert_allclose(lex.served, [0.5, 0.5, 0.8], rtol=1e-7)
    assert lex.objective == pytest.approx(0.5, rel=1e-7)
    assert lex.cost_per_hour == pytest.approx(30.0, rel=1e-7)
    flat = solve_problem(p, "max_min_served", method)
    np.testing.assert_allclose(flat.served, [0.5, 0.5, 0.5], rtol=1e-7)
    assert flat.cost_per_hour == pytest.approx(22.5, rel=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_three_levels_and_a_bottleneck_with_zero_prices(method):
    """P1: 4 accelerators at $1.5/h, P2: 12 at $2/h, P3: 100 at $0.5/h.
    w1 on P1 only (0.1 per accelerator); w2 on P2 (0.1) or, slower, P1 (0.05); w3 on P2 only
    (0.1); w4 on P3 only (0.1) with max_accelerators 3.

    Level 1: w4 can reach 3 · 0.1 = 0.3 and no more; at 0.3 every pool has room (w1 3 of P1's
    4, w2 and w3 6 of P2's 12), so every coupling row is slack and priced zero — the
    bottleneck is held by its own cap, which a dual on the coupling rows does not show.
    t₁ = 0.3, B₁ = {w4}.
    Level 2: w1 is alone on P1's 4 accelerators: 0.4; w2 and w3 could share P2's 12: 0.6
    each. t₂ = 0.4, B₂ = {w1} (P1 full; w2 then cannot use P1).
    Level 3: w2 and w3 share P2: 10t + 10t = 12, t₃ = 0.6, B₃ = {w2, w3}.
    Fractions (0.4, 0.6, 0.6, 0.3); cost 4·$1.5 + 12·$2 + 3·$0.5 = $31.5/h."""
    p = _problem(
        [[0.1, 0, 0], [0.05, 0.1, 0], [0, 0.1, 0], [0, 0, 0.1]],
        [4, 12, 100],
        [1.5, 2, 0.5],
        cap=[np.inf, np.inf, np.inf, 3],
    )
    sol = solve_problem(p, "max_min_served", method, "lexicographic")
    np.testing.assert_allclose(sol.levels, [0.4, 0.6, 0.6, 0.3], rtol=1e-7)
    np.testing.assert_allclose(sol.served, [0.4, 0.6, 0.6, 0.3], rtol=1e-7)
    assert sol.cost_per_hour == pytest.approx(31.5, rel=1e-7)
    x = sol.x.toarray()
    np.testing.assert_allclose(x.sum(axis=0), [4, 12, 3], rtol=1e-7, atol=1e-7)


SCENARIO = {
    "name": "fair",
    "objective": "max_min_served",
    "fairness": "lexicographic",
    "pools": [
        {"name": "p1", "accelerator": "a100-80gb", "count": 4, "pue": 1.0, "cost": {"per_gpu_hour": 1.5}},
        {"name": "p2", "accelerator": "h100-sxm", "count": 12, "pue": 1.0, "cost": {"per_gpu_hour": 2.0}},
        {"name": "p3", "accelerator": "mi300x", "count": 3, "pue": 1.0, "cost": {"per_gpu_hour": 0.5}},
    ],
    "workloads": [
        {"name": "w1", "kind": "custom", "demand": {"value": 10.0, "unit": "jobs/s"},
         "throughput": {"a100-80gb": 1.0}},
        {"name": "w2", "kind": "custom", "demand": {"value": 10.0, "unit": "jobs/s"},
         "throughput": {"h100-sxm": 1.0, "a100-80gb": 0.5}},
        {"name": "w3", "kind": "custom", "demand": {"value": 10.0, "unit": "jobs/s"},
         "throughput": {"h100-sxm": 1.0}},
        {"name": "w4", "kind": "custom", "demand": {"value": 10.0, "unit": "jobs/s"},
         "throughput": {"mi300x": 1.0}},
    ],
}  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
def test_plan_with_lexicographic_fairness(method):
    """The three-level case above as a scenario (10 jobs/s of demand, 1 job/s per accelerator,
    0.5 on an A100 for w2), with P3 holding 3 MI300X instead of w4's cap (the cap itself, served
    in part, is tests/plan/test_partial_service.py's). Water-filling
    serves (0.4, 0.6, 0.6, 0.3) for $31.5/h; plain max_min serves 0.3 each the cheapest way: w1
    3·$1.5, w2 and w3 3·$2 each on P2, w4 3·$0.5: $18/h."""
    plan = make_plan(load(SCENARIO), method=method)
    out = plan.to_dict(matrix_cells=False)
    assert out["status"] == "optimal"
    assert out["fairness"] == "lexicographic"
    fractions = {w["name"]: w["served_fraction"] for w in out["workloads"]}
    assert fractions == pytest.approx({"w1": 0.4, "w2": 0.6, "w3": 0.6, "w4": 0.3}, rel=1e-6)
    assert out["cost_per_hour"] == pytest.approx(31.5, rel=1e-6)
    assert out["optimality_gap"] <= 1e-6
    flat = make_plan(load({**SCENARIO, "fairness": "max_min"}), method=method).to_dict(
        matrix_cells=False
    )
    assert [w["served_fraction"] for w in flat["workloads"]] == pytest.approx([0.3] * 4, rel=1e-6)
    assert flat["cost_per_hour"] == pytest.approx(18.0, rel=1e-6)


@pytest.mark.parametrize("objective", ["min_cost", "max_served"])
def test_lexicographic_needs_max_min_served(objective):
    with pytest.raises(InputError, match="fairness") as err:
        load({**SCENARIO, "objective": objective})
    assert "max_min_served" in str(err.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_w=st.integers(1, 7),
    n_p=st.integers(2, 5),
    tight=st.booleans(),
)
def test_water_filling_matches_the_lp_reference(seed, n_w, n_p, tight):
    p = random_problem(seed, n_w, n_p, tight)
    ref = lexicographic_lp(p)
    sol = solve_lexicographic(p)
    assert sol.status == ref.status == "optimal"
    np.testing.assert_allclose(sol.levels, ref.levels, rtol=1e-6, atol=1e-9)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-9)
    assert sol.gap <= 1e-6
    x = sol.x.toarray()
    check_feasible(p, x, sol.idle, demand=False)
    served = (p.T * x).sum(axis=1) / p.demand
    assert (served >= sol.levels * (1 - 1e-6) - 1e-9).all()  # every level held
    # lexicographic: the sorted levels are never below max_min's single level
    assert np.sort(sol.levels)[0] == pytest.approx(solve_problem(p, "max_min_served").objective)
    assert sol.cost_per_hour == pytest.approx(ref.cost_per_hour, rel=1e-5)
