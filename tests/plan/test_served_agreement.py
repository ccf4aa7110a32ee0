"""max_served, max_min_served and lexicographic fairness by decomposition against the whole LP on
the fleets of `test_agreement` (prices over six orders of magnitude, 2-4 vendors, share caps and
floors, the fleet's power cap and sites with power caps of their own): the same served optimum,
the same least cost with it held, every limit recomputed here; and a water-filling case solved
by hand whose levels are set by a site's power cap and a vendor-share cap, not by a pool."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyfleet.plan import served
from polyfleet.plan.diagnose import unservable
from polyfleet.plan.fairness import lexicographic_lp, solve_lexicographic
from polyfleet.plan.lp import solve_lp, violation_scale
from polyfleet.plan.placement import solve_problem
from polyfleet.plan.problem import PlacementProblem, ShareBound

from .test_agreement import spread_problem, violation_of
from .test_properties import random_problem

SOLVERS = {"max_served": served.solve_max_served, "max_min_served": served.solve_max_min}
METHODS = ["decomposition", "lp"]


def servable(seed: int) -> PlacementProblem | None:
    """A spread fleet without the workloads no pool can serve (make_plan reports those and
    solves the rest); capped workloads stay, served in part. None where the share bounds
    contradict each other as a scenario's may not (a min above the max, max shares of the
    vendors with pools summing below 1: nothing but the empty plan would hold them)."""
    p = spread_problem(seed)
    high = {sb.vendor: sb.value for sb in p.shares if sb.bound == "max"}
    low = {sb.vendor: sb.value for sb in p.shares if sb.bound == "min"}
    with_pools = {p.vendors[v] for v in p.pool_vendor}
    if any(v > high.get(k, 1.0) for k, v in low.items()):
        return None
    if sum(high.get(v, 1.0) for v in with_pools) < 1.0:
        return None
    bad, _ = unservable(p, partial=True)
    return p.subset(~bad)


def check_limits(p: PlacementProblem, x: np.ndarray, idle: np.ndarray) -> np.ndarray:
    """Every limit from the raw arrays: eligible cells, caps, each coupling row (capacity, the
    fleet's and each site's power, shares); returns the served fractions."""
    assert (x >= -1e-9).all() and (idle >= -1e-9).all()
    assert np.abs(x[p.T == 0]).max(initial=0.0) <= 1e-9
    assert (x.sum(axis=1) <= p.cap * (1 + 1e-6) + 1e-9).all()
    use = x.sum(axis=0) + idle
    # each row in its own size (its limit; a share row's over a typical pool), as the solvers do
    assert (violation_of(p, use) <= 1e-6 * violation_scale(p, p.coupling())).all()
    return (p.T * x).sum(axis=1) / p.demand


def cost_tolerance(served: float) -> float:
    """How closely two plans' least costs agree when each holds the served level to ~1e-9
    absolute (both solvers' round-off): 1e-5, and the level's own uncertainty where a tiny
    level makes it larger (the cost grows with the level)."""
    return 1e-5 + 1e-8 / max(served, 1e-12)


def own_objective(p: PlacementProblem, objective: str, frac: np.ndarray) -> float:
    return float(
        (p.weight * np.minimum(frac, 1.0)).sum() if objective == "max_served" else frac.min()
    )


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), objective=st.sampled_from(sorted(SOLVERS)))
def test_served_objectives_agree_with_lp_over_spread_prices(seed, objective):
    p = servable(seed)
    if p is None or not p.workloads:
        return
    lp = solve_lp(p, objective)
    dw = SOLVERS[objective](p)
    assert dw.status == lp.status == "optimal"  # serving nothing is always a plan
    frac = check_limits(p, dw.x.toarray(), dw.idle)
    assert dw.objective == pytest.approx(own_objective(p, objective, frac), rel=1e-9, abs=1e-12)
    # (abs: the round-off room each row gets, 1e-9 of its size, can serve ~1e-9 of nothing)
    assert dw.objective == pytest.approx(lp.objective, rel=1e-6, abs=1e-8)
    assert dw.serve_gap <= 1e-6 and dw.gap <= 1e-6
    assert dw.objective <= dw.objective_bound * (1 + 1e-9) + 1e-12
    assert lp.objective <= dw.objective_bound * (1 + 1e-9) + 1e-12
    # the second stage: the least cost with the served level held, proved by its own bound
    cost = float(p.cost @ (dw.x.toarray().sum(axis=0) + dw.idle))
    assert cost == pytest.approx(dw.cost_per_hour, rel=1e-9)
    assert dw.lower_bound <= dw.cost_per_hour * (1 + 1e-9)
    assert dw.cost_per_hour == pytest.approx(lp.cost_per_hour, rel=cost_tolerance(lp.objective))


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_water_filling_agrees_with_the_lp_reference_over_spread_prices(seed):
    """Shares by count or power (by spend, with prices 1e6 apart, which workloads rise past a
    level turns on a share row's round-off: the levels above the first are ill-conditioned for
    both methods). Each level is proved to ~1e-6 (RISE) and the next starts from it, so levels
    agree to 1e-5; the least cost with every level held is proved by each method's own bound,
    and the two agree to 1e-3 (a level held 1e-9 lower, as the reference holds it, can cost
    1e-4 less where every pool's power binds)."""
    p = servable(seed)
    if p is None or not p.workloads or (p.shares and p.share_measure == "spend"):
        return
    ref = lexicographic_lp(p)
    sol = solve_lexicographic(p)
    assert sol.status == ref.status == "optimal"
    np.testing.assert_allclose(sol.levels, ref.levels, rtol=1e-5, atol=1e-8)
    assert sol.gap <= 1e-6 and sol.cost_gap <= 1e-6
    assert sol.lower_bound <= sol.cost_per_hour * (1 + 1e-9)
    frac = check_limits(p, sol.x.toarray(), sol.idle)
    assert (frac >= sol.levels * (1 - 1e-6) - 1e-9).all()  # every level held
    assert sol.cost_per_hour == pytest.approx(ref.cost_per_hour, rel=1e-3, abs=1e-9)


def _sites_and_share() -> PlacementProblem:
    """Demand 1 each, 1 kW per accelerator (PUE included), every count by accelerators.

    A1 (nvidia, site A, $1/h), B1 (nvidia, site B, $2/h), B2 (amd, site B, 8 accelerators,
    $3/h); 100 accelerators in A1 and B1. Site A's power cap 10 kW, site B's 30 kW, the
    fleet's 35 kW; nvidia at most 70 % of the accelerators. w1 and w2 run on A1 only, 0.1 of
    their demand per accelerator; w3 on B1 or B2, 0.05 per accelerator."""
    return PlacementProblem(
        workloads=["w1", "w2", "w3"],
        pools=["A1", "B1", "B2"],
        T=np.array([[0.1, 0, 0], [0.1, 0, 0], [0, 0.05, 0.05]]),
        demand=np.ones(3),
        cap=np.full(3, np.inf),
        cost=np.array([1.0, 2.0, 3.0]),
        mw=np.full(3, 0.001),
        capacity=np.array([100.0, 100.0, 8.0]),
        pool_vendor=np.array([1, 1, 0], dtype=np.intp),
        vendors=["amd", "nvidia"],
        power_cap_mw=0.035,
        share_measure="count",
        shares=(ShareBound("nvidia", "max", 0.7),),
        sites=("A", "B"),
        site_cap_mw=np.array([0.010, 0.030]),
        pool_site=np.array([0, 1, 1], dtype=np.intp),
    )


@pytest.mark.parametrize("method", METHODS)
def test_levels_set_by_a_site_cap_then_a_vendor_share(method):
    """Level 1: w1 and w2 share site A's 10 kW, 10 accelerators: 5 each, t₁ = 0.5, B₁ = {w1,
    w2} (w3 at 0.5 needs 10 accelerators, 8 of them B2's and 2 of B1: nvidia 12 of 20, within
    70 %). Level 2: w3 alone needs 20t accelerators, at most 8 of them AMD: nvidia
    10 + 20t − 8 ≤ 0.7·(10 + 20t), t₂ = 5/6 (site B's 30 kW would allow 1.5, the fleet's 35 kW
    1.25). Fractions (0.5, 0.5, 5/6), no choice left: 10 A1, 26/3 B1, 8 B2,
    $10 + $52/3 + $24 = $154/3 per hour.

    Plain max_min stops at 0.5 and buys the least: w3's 10 accelerators at most 4 of B1
    (nvidia 10 + b ≤ 0.7·20): 4 B1, 6 B2, $10 + $8 + $18 = $36/h. max_served: w1 and w2
    together 1 (site A), w3 5/6: 11/6, for the same $154/3."""
    p = _sites_and_share()
    lex = solve_problem(p, "max_min_served", method, "lexicographic")
    np.testing.assert_allclose(lex.levels, [0.5, 0.5, 5 / 6], rtol=1e-7)
    np.testing.assert_allclose(lex.served, [0.5, 0.5, 5 / 6], rtol=1e-7)
    assert lex.objective == pytest.approx(0.5, rel=1e-7)
    assert lex.cost_per_hour == pytest.approx(154 / 3, rel=1e-7)
    np.testing.assert_allclose(lex.usage, [10, 26 / 3, 8], rtol=1e-7, atol=1e-7)
    flat = solve_problem(p, "max_min_served", method)
    np.testing.assert_allclose(flat.served, [0.5, 0.5, 0.5], rtol=1e-7)
    assert flat.objective == pytest.approx(0.5, rel=1e-7)
    assert flat.cost_per_hour == pytest.approx(36.0, rel=1e-7)
    np.testing.assert_allclose(flat.usage, [10, 4, 6], rtol=1e-7, atol=1e-7)
    most = solve_problem(p, "max_served", method)
    assert most.objective == pytest.approx(11 / 6, rel=1e-7)
    assert most.served[:2].sum() == pytest.approx(1.0, rel=1e-7)
    assert most.served[2] == pytest.approx(5 / 6, rel=1e-7)
    assert most.cost_per_hour == pytest.approx(154 / 3, rel=1e-7)
    for sol in (lex, flat, most):
        check_limits(p, sol.x.toarray(), sol.idle)


@pytest.mark.parametrize("objective", sorted(SOLVERS))
def test_the_sample_holds_its_share_of_every_limit(monkeypatch, objective):
    """A large problem's first prices come from a sample of its workloads whose limits are
    scaled to the sample's share of the weight: every capacity and power cap, each site's
    included (a site's cap left whole would price the sample's site rows at zero)."""
    monkeypatch.setattr(served, "SAMPLE", 8)
    monkeypatch.setattr(served, "SAMPLE_FROM", 20)
    seen: list[PlacementProblem] = []
    engine = served.Engine

    def spy(problem: PlacementProblem, **options: float) -> served.Engine:
        seen.append(problem)
        return engine(problem, **options)

    monkeypatch.setattr(served, "Engine", spy)
    p = random_problem(4, 40, 5, tight=True)
    p = replace(
        p,
        power_cap_mw=0.5,
        sites=("east", "west"),
        site_cap_mw=np.array([0.2, 0.3]),
        pool_site=np.array([0, 0, 1, 1, -1], dtype=np.intp),
    )
    SOLVERS[objective](p)
    whole, sample = seen[0], seen[1]
    assert whole is p and len(sample.workloads) == 8
    share = float(sample.weight.sum() / p.weight.sum())
    rows, sample_rows = p.coupling(), sample.coupling()
    assert sample_rows.keys == rows.keys
    assert sum(k.kind == "power" for k in rows.keys) == 3
    np.testing.assert_allclose(sample_rows.b, rows.b * share, rtol=1e-12)
