"""A fleet a hair from feasible: neither solver may give up where an answer exists.

At 10,000 workloads x 10 pools with the power cap 0.1 % below the least power that serves every
demand, HiGHS ends the whole LP 'Unknown' and the decomposition's phase 1 reaches its round
limit. The whole LP then settles it with its least-violation stage (always feasible), and the
default method falls back to the whole LP rather than exit without an answer. These tests force
the same two failures on a small fleet.
"""

from __future__ import annotations

import numpy as np
import pytest

import polyfleet.plan.lp as lp_mod
import polyfleet.plan.placement as placement
from polyfleet.errors import SolverError
from polyfleet.plan.lp import solve_lp
from polyfleet.plan.problem import PlacementProblem


def _fleet(power_cap_mw: float) -> PlacementProblem:
    # two workloads, two pools; the least power serving both is 30 accelerators x 1 MW on p0
    return PlacementProblem(
        workloads=["a", "b"],
        pools=["p0", "p1"],
        T=np.array([[1.0, 2.0], [1.0, 2.0]]),
        demand=np.array([10.0, 20.0]),
        cap=np.full(2, np.inf),
        cost=np.array([2.0, 1.0]),
        mw=np.array([1.0, 4.0]),
        capacity=np.array([100.0, 100.0]),
        pool_vendor=np.array([0, 1], dtype=np.intp),
        vendors=["amd", "nvidia"],
        power_cap_mw=power_cap_mw,
    )


def _unknown_first(monkeypatch) -> list[str]:
    """HiGHS answers 'Unknown' to the first solve of each LP, as it does at 10k x 10."""
    real, calls = lp_mod.run_optimal, []

    def run(h, started, what):
        calls.append(what)
        if what == "placement LP":
            h.run()
            raise SolverError(f"{what} did not solve", status="Unknown", seconds=0.0)
        return real(h, started, what)

    monkeypatch.setattr(lp_mod, "run_optimal", run)
    return calls


def test_an_unknown_lp_is_settled_by_its_least_violation(monkeypatch) -> None:
    calls = _unknown_first(monkeypatch)
    sol = solve_lp(_fleet(29.7), "min_cost")  # 0.3 MW short of the least power
    assert calls == ["placement LP", "placement LP (least violation)"]
    assert sol.status == "infeasible"
    power = [i for i, k in enumerate(sol.keys) if k.family == "power"]
    assert sol.violations[power].sum() == pytest.approx(0.3, rel=1e-6)


def test_an_unknown_lp_that_meets_every_limit_is_not_called_infeasible(monkeypatch) -> None:
    _unknown_first(monkeypatch)
    with pytest.raises(SolverError, match="did not solve"):
        solve_lp(_fleet(200.0), "min_cost")  # feasible: the least violation is 0


def test_the_default_method_falls_back_to_the_whole_lp(monkeypatch) -> None:
    def stalls(problem, **kwargs):
        raise SolverError("could not settle", status="iteration limit", seconds=0.0)

    monkeypatch.setattr(placement, "solve_decomposed", stalls)
    fleet = _fleet(29.7)
    assert placement.solve_problem(fleet, "min_cost").status == "infeasible"
    assert placement.solve_problem(_fleet(200.0), "min_cost").cost_per_hour == pytest.approx(
        solve_lp(_fleet(200.0), "min_cost").cost_per_hour
    )
    with pytest.raises(SolverError):  # asked for by name: its own answer, or its own error
        placement.solve_problem(fleet, "min_cost", method="decomposition")
