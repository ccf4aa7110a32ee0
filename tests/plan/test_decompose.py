"""The decomposition's pricing scans pools one column at a time: it must pick what an argmin
over each workload's row picks, ties and free pools included. Its shortcuts for searches
(feasibility first, stop at the verdict) reach the same answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from polyfleet.plan.decompose import solve_decomposed
from polyfleet.plan.pricer import Pricer
from polyfleet.plan.problem import PlacementProblem


def _random(seed: int, n_w: int = 300, n_p: int = 7) -> PlacementProblem:
    rng = np.random.default_rng(seed)
    T = rng.choice([0.0, 1.0, 2.0, 4.0], size=(n_w, n_p))  # few values: many ties
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = 1.0  # every workload has a pool
    return PlacementProblem(
        workloads=[f"w{i}" for i in range(n_w)],
        pools=[f"p{j}" for j in range(n_p)],
        T=T,
        demand=rng.choice([1.0, 2.0, 8.0], size=n_w),
        cap=np.full(n_w, np.inf),
        cost=rng.choice([1.0, 2.0], size=n_p),
        mw=np.full(n_p, 1e-3),
        capacity=np.full(n_p, 1e6),
        pool_vendor=np.zeros(n_p, dtype=np.intp),
        vendors=["v"],
    )


@pytest.mark.parametrize("seed", range(4))
def test_cheapest_pool_is_the_rows_argmin(seed):
    problem = _random(seed)
    pricer = Pricer(problem)
    rng = np.random.default_rng(seed)
    r = rng.choice([0.0, 1.0, 2.0], size=problem.shape[1])  # free pools and equal prices
    inv = np.where(problem.a > 0, 1.0 / np.where(problem.a > 0, problem.a, 1.0), np.inf)
    with np.errstate(invalid="ignore"):
        U = inv * r
    U[np.isnan(U)] = np.inf  # an ineligible cell of a free pool stays out
    want = np.argmin(U, axis=1)
    pools, values = pricer._cheapest(r)
    np.testing.assert_array_equal(pools, want)
    np.testing.assert_array_equal(values, U[np.arange(len(want)), want])


@pytest.mark.parametrize(("room", "status"), [(3.0, "optimal"), (0.2, "infeasible")])
def test_feasibility_first_reaches_the_same_answer(room, status):
    problem = _random(7)
    fewest = Pricer(problem).inv.min(axis=1).sum()  # accelerators if each had its best pool
    problem = replace(problem, capacity=np.full(problem.shape[1], room * fewest / problem.shape[1]))
    usual = solve_decomposed(problem)
    first = solve_decomposed(problem, feasibility_first=True)
    assert usual.status == first.status == status
    if status == "optimal":
        assert first.cost_per_hour == pytest.approx(usual.cost_per_hour, rel=1e-5)
    else:
        # the least violation, either way; stopping at the verdict keeps the verdict only
        assert first.violations.sum() == pytest.approx(usual.violations.sum(), rel=1e-4)
        quick = solve_decomposed(problem, feasibility_first=True, least_violation=False)
        assert quick.status == "infeasible"
        assert quick.iterations <= first.iterations
