"""Leverage and the share frontier on hand-solved cases, and the premium's sign on random ones."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.plan.leverage import _search, knee_index, leverage, share_frontier
from polyfleet.plan.placement import prepare
from polyfleet.plan.problem import PlacementProblem, ShareBound

from ..conftest import load, write

# base: nv = H100 at $2/h giving 2 jobs/s (=$1 per job/s); amd = MI300X at $0.8/h giving 1 job/s;
# 100 of each; demand 150 jobs/s. Least cost: amd 100 + nv 25 = $130/h.


def _problem(base, demand=150.0, **limits) -> PlacementProblem:
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"][0]["demand"]["value"] = demand
    if limits:
        base["limits"] = limits
    return prepare(load(base)).problem


def _vendor(report, name):
    return next(v for v in report.vendors if v.vendor == name)


def test_switching_price_is_the_break_even(base):
    report = leverage(_problem(base))
    amd = _vendor(report, "amd")
    # amd's $0.8 per job/s against nv's $1.0: all of amd's work moves above x1.25, and nv has
    # room for it (75 of 100 H100s), so the first move and the drop are the same multiplier
    assert amd.switch.multiplier == pytest.approx(1.25, rel=0.005)
    assert amd.switch.below < 1.25 <= amd.switch.multiplier
    assert amd.drop.multiplier == pytest.approx(1.25, rel=0.005)
    # nv's work cannot move: amd is full at any price of nv
    nv = _vendor(report, "nvidia")
    assert nv.switch.multiplier is None and "capacity" in nv.switch_reason


def test_lock_in_premium_and_infeasible_single_vendor(base):
    report = leverage(_problem(base))
    nv = _vendor(report, "nvidia")
    # nv alone: 75 H100 x $2 = $150/h against $130/h
    assert nv.single_vendor_cost == pytest.approx(150.0, rel=1e-5)
    assert nv.lock_in_premium == pytest.approx(20.0, rel=1e-4)
    amd = _vendor(report, "amd")
    # amd alone needs 150 MI300X and has 100
    assert amd.single_vendor_status == "infeasible" and amd.lock_in_premium is None
    assert "short by 50 accelerators" in amd.single_vendor_why[0]


def test_share_floor_keeps_a_vendor_and_the_cap_has_a_cost(base):
    problem = _problem(
        base, vendor_share={"measure": "count", "max": {"amd": 0.5}, "min": {"amd": 0.3}}
    )
    report = leverage(problem)
    # with amd capped at half the accelerators: a = n, a + 2n = 150 -> 50 + 50 = $140/h
    assert report.cost == pytest.approx(140.0, rel=1e-5)
    assert report.share_cap_cost == pytest.approx(10.0, rel=1e-4)
    amd = _vendor(report, "amd")
    assert (
        amd.drop.multiplier is None
        and "amd share floor must give by 30.00 points" in amd.drop_reason
    )
    assert amd.share_duals["share_max"] > 0


def test_warm_and_cold_searches_agree(base):
    problem = _problem(base)
    warm, cold = leverage(problem, warm=True), leverage(problem, warm=False)
    for a, b in zip(warm.vendors, cold.vendors, strict=True):
        assert a.switch.multiplier == pytest.approx(b.switch.multiplier or 0, rel=0.006) or (
            a.switch.multiplier is None and b.switch.multiplier is None
        )


def test_frontier_from_full_share_down_to_the_lowest_feasible(base):
    problem = _problem(base)
    f = share_frontier(problem, points=21)
    # the largest vendor by count is amd (100 of 125 accelerators)
    assert f.vendor == "amd" and len(f.points) == 21
    assert f.points[0]["max_share"] == 1.0
    # lowest amd share by count: amd a, nv n with a + 2n = 150, n <= 100 -> a = 0 is feasible
    assert f.lowest_feasible == pytest.approx(0.0, abs=2e-3)
    costs = [p["cost_per_hour"] for p in f.points]
    assert all(c is not None for c in costs)
    assert costs == sorted(costs)  # a tighter cap never costs less
    # a share cap s by count: a = s(a + n), a + 2n = 150; cost 0.8a + 2n, at s = 0 it is $150
    assert costs[-1] == pytest.approx(150.0, rel=1e-4)
    assert 0 < f.knee < 20


def test_knee_is_the_corner():
    x = np.array([1.0, 0.8, 0.6, 0.5, 0.4, 0.2])
    y = np.array([100, 100, 100, 101, 130, 200.0])
    assert knee_index(x, y) == 3


@st.composite
def random_problems(draw):
    n_w = draw(st.integers(1, 6))
    n_p = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.5, 3.0, (n_w, n_p)) * (rng.random((n_w, n_p)) < 0.8)
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = rng.uniform(0.5, 3.0, n_w)
    vendor = np.arange(n_p) % 2
    return PlacementProblem(
        workloads=[f"w{i}" for i in range(n_w)],
        pools=[f"p{j}" for j in range(n_p)],
        T=T,
        demand=rng.uniform(1, 20, n_w),
        cap=np.full(n_w, np.inf),
        cost=rng.uniform(1, 4, n_p),
        mw=rng.uniform(1, 2, n_p) / 1000,
        capacity=rng.uniform(5, 40, n_p),
        pool_vendor=vendor.astype(np.intp),
        vendors=["a", "b"],
        power_cap_mw=None,
        share_measure="count",
        shares=(ShareBound("a", "max", 0.7),) if draw(st.booleans()) else (),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problems())
def test_lock_in_premium_is_never_negative(problem):
    from polyfleet.plan.decompose import solve_decomposed

    if solve_decomposed(replace(problem, shares=())).status != "optimal":
        return  # no plan at all: leverage refuses such a fleet
    if solve_decomposed(problem).status != "optimal":
        return
    report = leverage(problem, precision=0.02)
    for v in report.vendors:
        if v.lock_in_premium is not None:
            assert v.lock_in_premium >= -1e-6 * max(report.cost, 1.0)
    assert report.share_cap_cost >= -1e-6 * max(report.cost, 1.0)


def test_cli_leverage_and_frontier(base, tmp_path: Path):
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"][0]["demand"]["value"] = 150.0
    path = write(tmp_path, base)
    runner = CliRunner()
    result = runner.invoke(app, ["leverage", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    amd = next(v for v in data["vendors"] if v["vendor"] == "amd")
    assert amd["switch_multiplier"] == pytest.approx(1.25, rel=0.005)
    table = runner.invoke(app, ["leverage", str(path)])
    assert "Vendor leverage" in table.stdout and "never" in table.stdout
    page = tmp_path / "f.html"
    result = runner.invoke(app, ["frontier", str(path), "--json", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["points"]) == 21 and "knee" in page.read_text()
    result = runner.invoke(app, ["frontier", str(path), "--points", "5"])
    assert result.exit_code == 1 and "≥ 20" in result.stderr


def test_cli_refuses_a_fleet_without_a_plan(base, tmp_path: Path):
    base["workloads"][0]["throughput"] = {"b200": 1.0}  # no pool has a B200
    path = write(tmp_path, base)
    for command in ("leverage", "frontier"):
        result = CliRunner().invoke(app, [command, str(path)])
        assert result.exit_code == 2  # infeasible: an answer, not bad input
        assert (
            "workload job cannot be served" in result.stderr and "polyfleet plan" in result.stderr
        )


def test_a_single_vendor_fleet_has_no_leverage_and_a_one_point_frontier(base):
    base["pools"] = [base["pools"][0]]
    base["workloads"][0]["throughput"] = {"h100-sxm": 2.0}
    problem = prepare(load(base)).problem
    (nv,) = leverage(problem).vendors
    assert nv.switch.multiplier is None and nv.drop.multiplier is None
    assert "only vendor" in nv.switch_reason and nv.lock_in_premium == pytest.approx(0.0)
    f = share_frontier(problem)
    assert f.lowest_feasible == pytest.approx(1.0, abs=2e-3) and len(f.points) == 1


@pytest.mark.parametrize("precision", [1e-16, 0.0, -1.0, float("nan"), 1e-300])
def test_search_stops_at_machine_precision_whatever_precision_it_is_given(precision):
    calls: list[float] = []

    def met(m: float) -> bool:
        calls.append(m)
        if len(calls) > 10_000:
            raise AssertionError("the search does not stop")
        return m >= 1.2345

    found = _search(met, 1.0, precision)
    assert found.multiplier is not None and found.below < 1.2345 <= found.multiplier
    assert len(calls) < 200


@pytest.mark.parametrize(
    ("command", "args", "option"),
    [
        ("leverage", ["--precision", "1e-16"], "--precision"),
        ("leverage", ["--precision", "nan"], "--precision"),
        ("leverage", ["--precision", "0"], "--precision"),
        ("frontier", ["--points", "100000000"], "--points"),
        ("frontier", ["--points", "5"], "--points"),
    ],
)
def test_cli_search_sizes_are_bounded_before_solving(
    base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command, args, option
):
    def never(*_: object, **__: object) -> None:
        raise AssertionError("solved despite a bad option")

    monkeypatch.setattr("polyfleet.plan.leverage.leverage", never)
    monkeypatch.setattr("polyfleet.plan.leverage.share_frontier", never)
    result = CliRunner().invoke(app, [command, str(write(tmp_path, base)), *args])
    assert result.exit_code == 1, result.output
    assert option in result.stderr and args[1] in result.stderr
