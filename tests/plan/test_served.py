"""max_served and max_min_served by decomposition against the whole LP: same status and
objective at random sizes, every limit recomputed here from the arrays, proved gaps and bounds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyfleet.errors import SolverError
from polyfleet.plan.lp import solve_lp
from polyfleet.plan.placement import make_plan, solve_problem
from polyfleet.plan.served import solve_max_min, solve_max_served

from ..conftest import load
from .test_properties import check_feasible, random_problem

SOLVERS = {"max_served": solve_max_served, "max_min_served": solve_max_min}


def served_of(p, x: np.ndarray) -> np.ndarray:
    """Fraction of each workload's demand a plan serves, from T and the demand."""
    return (p.T * x).sum(axis=1) / p.demand


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_w=st.integers(1, 30),
    n_p=st.integers(2, 8),
    tight=st.booleans(),
    objective=st.sampled_from(sorted(SOLVERS)),
)
def test_decomposition_matches_lp(seed, n_w, n_p, tight, objective):
    p = random_problem(seed, n_w, n_p, tight)
    lp = solve_lp(p, objective)
    dw = SOLVERS[objective](p)
    assert dw.status == lp.status == "optimal"
    x = dw.x.toarray()
    check_feasible(p, x, dw.idle, demand=False)
    served = served_of(p, x)
    # the objective is what the plan serves, recomputed here
    own = (p.weight * np.minimum(served, 1.0)).sum() if objective == "max_served" else served.min()
    assert dw.objective == pytest.approx(own, rel=1e-9, abs=1e-12)
    assert dw.objective == pytest.approx(lp.objective, rel=1e-6, abs=1e-9)
    # proved: the gap, an upper bound no plan beats, the cost's lower bound
    assert dw.gap <= 1e-6
    assert lp.objective_bound <= dw.objective_bound * (1 + 1e-9) + 1e-12
    assert dw.objective <= dw.objective_bound * (1 + 1e-9) + 1e-12
    assert dw.lower_bound <= dw.cost_per_hour * (1 + 1e-9)
    # least cost at the level held: the same as the LP's second stage
    assert float(p.cost @ (x.sum(axis=0) + dw.idle)) == pytest.approx(dw.cost_per_hour, rel=1e-9)
    assert dw.cost_per_hour == pytest.approx(lp.cost_per_hour, rel=1e-5)


@pytest.mark.parametrize("objective", sorted(SOLVERS))
def test_identical_workloads_collapse_to_the_same_optimum(objective):
    """Ten copies of three workloads, merged into three classes (weights 10): the same plan
    per workload as solving the thirty apart."""
    p = random_problem(11, 3, 4, tight=True)
    idx = np.repeat(np.arange(3), 10)
    big = replace(
        p,
        workloads=[f"w{i}" for i in range(30)],
        T=p.T[idx],
        demand=p.demand[idx],
        cap=p.cap[idx],
        weight=np.ones(30),
        members=[],
        capacity=p.capacity * 10,
        power_cap_mw=None if p.power_cap_mw is None else p.power_cap_mw * 10,
    )
    merged, _ = big.collapse()
    assert len(merged.workloads) == 3
    whole = SOLVERS[objective](big)
    parts = SOLVERS[objective](merged)
    assert parts.objective == pytest.approx(whole.objective, rel=1e-6)
    assert parts.cost_per_hour == pytest.approx(whole.cost_per_hour, rel=1e-5)


@pytest.mark.parametrize("solve", [lambda p: solve_lp(p, "max_min_served"), solve_max_min])
def test_nothing_bounds_the_level_is_a_solver_error(solve):
    """No capacity, no power cap, no max_accelerators: the smallest fraction grows without
    bound, and both methods say so instead of returning a number."""
    p = random_problem(3, 4, 3, tight=False)
    p = replace(
        p, capacity=np.full(3, np.inf), power_cap_mw=None, shares=(), cap=np.full(4, np.inf)
    )
    with pytest.raises(SolverError, match=r"bound|solve"):
        solve(p)


@pytest.mark.parametrize("objective", sorted(SOLVERS))
def test_plan_reports_a_proved_gap_for_every_objective(base, objective):
    """Served objectives used to be solved by the whole LP with no bound in the plan; they are
    now decomposed like min_cost and the plan carries the gap and the served bound."""
    base["objective"] = objective
    base["workloads"][0]["demand"]["value"] = 500.0  # more than the 300 jobs/s the fleet has
    out = make_plan(load(base)).to_dict(matrix_cells=False)
    assert out["solver"]["method"] == "decomposition"
    assert out["optimality_gap"] <= 1e-6
    # 100 H100 at 2 jobs/s + 100 MI300X at 1 job/s = 300 of 500 jobs/s: 0.6 served
    assert out["objective_value"] == pytest.approx(0.6, rel=1e-6)
    assert out["objective_bound"] == pytest.approx(0.6, rel=1e-6)
    assert out["objective_bound"] >= out["objective_value"]
    assert out["lower_bound_per_hour"] <= out["cost_per_hour"] * (1 + 1e-9)


@pytest.mark.parametrize("objective", sorted(SOLVERS))
def test_lp_method_still_solves_the_whole_lp(objective):
    p = random_problem(5, 6, 3, tight=True)
    assert solve_problem(p, objective, "lp").method == "lp"
    assert solve_problem(p, objective).method == "decomposition"


@pytest.mark.parametrize("objective", sorted(SOLVERS))
@pytest.mark.parametrize("seed", range(6))
def test_start_from_a_sample_of_the_workloads(monkeypatch, objective, seed):
    """Large problems start from prices found on a sample of their workloads (their limits
    scaled to the sample's share); the optimum and its proof are the same as without."""
    import polyfleet.plan.served as served

    monkeypatch.setattr(served, "SAMPLE", 8)
    monkeypatch.setattr(served, "SAMPLE_FROM", 20)
    p = random_problem(seed, 40, 5, tight=True)
    lp = solve_lp(p, objective)
    dw = SOLVERS[objective](p)
    assert dw.objective == pytest.approx(lp.objective, rel=1e-6, abs=1e-9)
    assert dw.gap <= 1e-6
    check_feasible(p, dw.x.toarray(), dw.idle, demand=False)
