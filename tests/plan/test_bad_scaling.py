"""A cheap vendor next to a dear one: the decomposition's penalty on violation was worth less than
the share cap's price, so it called a feasible fleet infeasible (and leverage said "no feasible
plan"). Feasibility is now settled exactly, whatever the prices."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.inputs.scenario import load_scenario
from polyfleet.plan import decompose
from polyfleet.plan.decompose import solve_decomposed
from polyfleet.plan.leverage import leverage, share_frontier
from polyfleet.plan.lp import least_violation_total, solve_lp
from polyfleet.plan.placement import prepare
from polyfleet.plan.problem import ShareBound

BUG1 = """\
name: bug1
limits:
  vendor_share: {measure: count, max: {nvidia: 0.8}}
pools:
  - {name: h, accelerator: h100-sxm, count: 1000, cost: {per_gpu_hour: 0.01}}
  - {name: m, accelerator: mi300x, count: 1000, cost: {per_gpu_hour: 1.80}}
workloads:
  - {name: inf, kind: serve, model: {params_b: 8}, demand: {value: 20000, unit: tokens/s}}
  - {name: tr, kind: train, model: {params_b: 8}, demand: {value: 20000, unit: tokens/s}}
"""
runner = CliRunner()


def _file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BUG1)
    return path


def _problem(tmp_path, price: float = 0.01):
    """The issue's fleet with the H100 pool at `price` per GPU-hour. Prices below the input
    range ($0.001) are set on the problem: the solver must cope with whatever reaches it."""
    problem = prepare(load_scenario(_file(tmp_path))).problem
    return replace(problem, cost=np.where(np.array(problem.pools) == "h", price, problem.cost))


def _run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bug1_plan_is_the_lp_optimum(tmp_path):
    path = str(_file(tmp_path))
    lp = _run("plan", path, "--method", "lp", "--no-matrix")
    for method in ("auto", "decomposition"):
        dw = _run("plan", path, "--method", method, "--no-matrix")
        assert dw["status"] == lp["status"] == "optimal"
        assert dw["cost_per_hour"] == pytest.approx(lp["cost_per_hour"], rel=1e-6)
        assert dw["vendor_shares"]["nvidia"]["count"] <= 0.8 + 1e-9
        assert dw["optimality_gap"] <= 1e-6


def test_bug1_leverage_and_frontier_work(tmp_path):
    path = str(_file(tmp_path))
    lp = _run("plan", path, "--method", "lp", "--no-matrix")
    lev = _run("leverage", path)
    assert lev["cost_per_hour"] == pytest.approx(lp["cost_per_hour"], rel=1e-6)
    nvidia = next(v for v in lev["vendors"] if v["vendor"] == "nvidia")
    assert nvidia["switch_multiplier"] is not None  # 0.01 x m overtakes 1.80 at some m
    amd = next(v for v in lev["vendors"] if v["vendor"] == "amd")
    assert "maximum share of nvidia" in amd["switch_reason"]
    front = _run("frontier", path)
    assert front["vendor"] == "nvidia"
    assert all(p["status"] == "optimal" for p in front["points"])


@pytest.mark.parametrize("price", [0.01, 1e-3, 1e-6, 1e-9, 1e-12])
def test_spread_prices_agree_with_the_lp_in_plan_leverage_and_frontier(tmp_path, price):
    problem = _problem(tmp_path, price)
    assert problem.cost.min() == price
    lp = solve_lp(problem)
    dw = solve_decomposed(problem)
    assert dw.status == lp.status == "optimal"
    assert dw.cost_per_hour == pytest.approx(lp.cost_per_hour, rel=1e-6)
    report = leverage(problem)
    assert report.cost == pytest.approx(lp.cost_per_hour, rel=1e-6)
    free = solve_lp(replace(problem, shares=()))
    assert report.cost_without_shares == pytest.approx(free.cost_per_hour, rel=1e-6)
    front = share_frontier(problem, points=5)
    for point in front.points:
        capped = replace(problem, shares=(ShareBound("nvidia", "max", point["max_share"]),))
        ref = solve_lp(capped)
        assert point["status"] == ref.status
        if ref.status == "optimal":
            assert point["cost_per_hour"] == pytest.approx(ref.cost_per_hour, rel=1e-5)


@pytest.mark.parametrize("big", [1e-6, 1.0, 1e3, 1e8])
def test_answer_does_not_depend_on_the_penalty(tmp_path, monkeypatch, big):
    """Whatever the composite penalty, feasibility is settled by the least-violation phase."""
    problem = _problem(tmp_path)
    monkeypatch.setattr(decompose, "BIG", big)
    lp = solve_lp(problem)
    dw = solve_decomposed(problem)
    assert dw.status == "optimal"
    assert dw.cost_per_hour == pytest.approx(lp.cost_per_hour, rel=1e-6)
    tight = replace(problem, capacity=problem.capacity / 1000)  # 1 + 1 accelerators: too few
    lp, dw = solve_lp(tight), solve_decomposed(tight)
    assert dw.status == lp.status == "infeasible"
    assert least_violation_total(tight, dw.violations) == pytest.approx(
        least_violation_total(tight, lp.violations), rel=1e-6
    )


def test_infeasible_diagnosis_is_the_least_violation(tmp_path):
    """An NVIDIA cap of 10 % with too little AMD capacity: the cap must give by exactly what
    the AMD pool cannot carry, in both methods."""
    text = BUG1.replace("nvidia: 0.8", "nvidia: 0.1").replace(
        "mi300x, count: 1000", "mi300x, count: 2"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    lp = runner.invoke(app, ["plan", str(path), "--json", "--no-matrix", "--method", "lp"])
    dw = runner.invoke(app, ["plan", str(path), "--json", "--no-matrix"])
    assert lp.exit_code == dw.exit_code == 2
    limits = [json.loads(r.stdout)["diagnosis"]["limits"] for r in (lp, dw)]
    assert [[v["limit"] for v in lim] for lim in limits] == [["share_max:nvidia"]] * 2
    assert limits[1][0]["by"] == pytest.approx(limits[0][0]["by"], rel=1e-6)
    assert json.loads(dw.stdout)["lower_bound_per_hour"] is None
    # least violation: all 2 AMD accelerators used; NVIDIA serves the rest of the work
    problem = prepare(load_scenario(path)).problem
    sol = solve_decomposed(problem)
    assert sol.usage[problem.pools.index("m")] == pytest.approx(2.0, rel=1e-6)
    assert np.count_nonzero(sol.violations) == 1


@pytest.mark.parametrize("price", [0.01, 1e-12])
def test_master_numbers_stay_within_what_highs_takes(tmp_path, monkeypatch, price):
    """Costs of the plans that matter are kept near 1 unit (HiGHS's tolerances are absolute)
    and no entry reaches HiGHS's limits, however the prices are spread."""
    problem = _problem(tmp_path, price)
    seen = []
    original = decompose._Master.solve

    def spy(self, started):
        out = original(self, started)
        lp = self.h.getLp()
        seen.append(
            (
                self.phase,
                out[0],
                np.abs(np.asarray(lp.col_cost_)).max(),
                np.abs(np.asarray(lp.a_matrix_.value_)).max(),
            )
        )
        return out

    monkeypatch.setattr(decompose._Master, "solve", spy)
    sol = solve_decomposed(problem)
    assert sol.status == "optimal"
    assert all(cost < 1e13 and entry < 1e13 for _, _, cost, entry in seen)
    phase, objective, _, _ = seen[-1]
    assert phase != 1
    low, high = decompose.UNIT_RANGE
    assert low <= objective <= high  # the optimum, in master units
