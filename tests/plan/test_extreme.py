"""Extreme but representable numbers reach the solvers (input ranges are checked elsewhere): they
answer, or refuse with a SolverError that names the figure, and never crash inside."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from polyfleet.errors import SolverError
from polyfleet.plan import lp as lp_module
from polyfleet.plan.decompose import solve_decomposed
from polyfleet.plan.lp import solve_lp
from polyfleet.plan.placement import prepare, solve_problem
from polyfleet.plan.problem import PlacementProblem, ShareBound

from ..conftest import load

SOLVERS = [solve_lp, solve_decomposed]


def two_pools(**changes) -> PlacementProblem:
    """One workload worth 1e11 units/s next to one worth 1e-3: a 1e14 spread of demand."""
    p = PlacementProblem(
        workloads=["big", "small"],
        pools=["a", "b"],
        T=np.array([[1.0, 2.0], [1.0, 0.5]]),
        demand=np.array([1e11, 1e-3]),
        cap=np.array([np.inf, np.inf]),
        cost=np.array([1.0, 3.0]),
        mw=np.array([1e-3, 1e-3]),
        capacity=np.array([4e10, 1e11]),
        pool_vendor=np.array([0, 1]),
        vendors=["amd", "nvidia"],
        share_measure="count",
        shares=(ShareBound("amd", "max", 0.5),),
    )
    return replace(p, **changes)


def test_whole_lp_keeps_tiny_coefficients(monkeypatch):
    """T/D = 1e-11 per accelerator: HiGHS drops entries below 1e-9, so unscaled demand rows lost
    every coefficient and the LP was 'infeasible'. Rows are scaled to a largest entry of 1."""
    seen = []
    original = lp_module.pass_lp

    def spy(h, cost, lo, hi, A, row_lo, row_hi, integer=None):
        seen.append(np.abs(A.data))
        original(h, cost, lo, hi, A, row_lo, row_hi, integer)

    monkeypatch.setattr(lp_module, "pass_lp", spy)
    p = two_pools()
    lp = solve_lp(p)
    # amd <= nvidia by count: a = b = 1e11 / 3 accelerators, at $1 + $3
    assert lp.status == "optimal"
    assert lp.cost_per_hour == pytest.approx(4e11 / 3, rel=1e-6)
    assert solve_decomposed(p).cost_per_hour == pytest.approx(lp.cost_per_hour, rel=1e-6)
    entries = np.concatenate(seen)
    assert entries.min() >= 1e-9 and entries.max() < 1e15


@pytest.mark.parametrize("solver", SOLVERS)
def test_infinite_limits_mean_no_limit(solver):
    """An infinite power cap or pool size used to give NaN row scales (an IndexError)."""
    base = solver(two_pools())
    for changes in (
        {"power_cap_mw": np.inf},
        {"capacity": np.array([4e10, np.inf])},
        {"cap": np.array([np.inf, np.inf])},
    ):
        sol = solver(two_pools(**changes))
        assert sol.status == "optimal"
        # one pool unlimited changes nothing here: the share cap binds, not capacity
        assert sol.cost_per_hour == pytest.approx(base.cost_per_hour, rel=1e-6)
        assert np.isfinite(sol.duals).all() and np.isfinite(sol.usage).all()


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"demand": np.array([1e308, 1.0])}, "big would need 1e+308 accelerators of a"),
        (
            {"T": np.array([[1e-300, 2.0], [1.0, 0.5]])},
            "big would need over 1e+308 accelerators of a",
        ),
        ({"cost": np.array([np.nan, 3.0])}, "cost per accelerator-hour of a is nan"),
        ({"cost": np.array([1.0, np.inf])}, "cost per accelerator-hour of b is inf"),
        ({"T": np.array([[1.0, np.inf], [1.0, 0.5]])}, "throughput of big on b is inf"),
        ({"capacity": np.array([-1.0, 1.0])}, "capacity of a is -1.0"),
        ({"mw": np.array([1e-3, np.nan])}, "MW per accelerator of b is nan"),
        ({"power_cap_mw": float("nan")}, "power cap is nan MW"),
        ({"demand": np.array([1e-310, 1.0])}, "one accelerator of b would serve over 1e+308"),
    ],
)
def test_unrepresentable_numbers_are_a_solver_error(solver, changes, names):
    with pytest.raises(SolverError, match="beyond what the solver can represent") as err:
        solver(two_pools(**changes))
    assert names in str(err.value)


def test_master_overflow_is_a_solver_error_not_a_crash():
    """1e14 accelerators against a pool of one: columns beyond what HiGHS takes are refused
    before they reach it (a refused column used to shift every later one: zip() mismatch)."""
    p = two_pools(demand=np.array([1e14, 1.0]), capacity=np.array([1.0, 1.0]))
    with pytest.raises(SolverError, match="beyond what the solver can represent"):
        solve_decomposed(p)
    assert solve_lp(p).status == "infeasible"


@pytest.mark.parametrize("method", ["auto", "lp"])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("demand", np.array([1e308]), "job would need 1e+308 accelerators of amd"),
        ("T", np.array([[1e-300, 1e-300]]), "job would need 1e+302 accelerators of nv"),
    ],
)
def test_scenario_figures_beyond_range_are_refused_by_the_solver(
    base, method, field, value, message
):
    """Input ranges refuse these at the file; whatever reaches the solver anyway is refused
    there with the figure named (it was `zip() argument 2 is longer` in the decomposition)."""
    problem = prepare(load(base)).problem
    with pytest.raises(SolverError, match="beyond what the solver can represent") as err:
        solve_problem(replace(problem, **{field: value}), "min_cost", method)
    assert message in str(err.value)
