"""The decomposition against the whole LP on random fleets whose prices span six orders of
magnitude (1e-3 to 1e3 USD per GPU-hour), some with sites that have power caps of their own:
same status, same cost, same least violation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyfleet.plan.decompose import solve_decomposed
from polyfleet.plan.diagnose import unservable
from polyfleet.plan.lp import least_violation_total, solve_lp
from polyfleet.plan.problem import PlacementProblem, ShareBound

from .test_properties import check_feasible

VENDORS = ["amd", "google", "intel", "nvidia"]


def spread_problem(seed: int) -> PlacementProblem:
    """2-6 pools of 2-4 vendors, 1-8 workloads, log-uniform prices, random capacities, caps on
    accelerators per workload, a power cap, 0-3 sites with power caps of their own (each pool at
    one of them or at none) and share caps/floors by count, power or spend; the limits are drawn
    around what the demand needs, so that some instances are infeasible."""
    rng = np.random.default_rng(seed)
    n_p, n_w = int(rng.integers(2, 7)), int(rng.integers(1, 9))
    n_v = int(rng.integers(2, min(n_p, 4) + 1))
    names = sorted(rng.choice(VENDORS, n_v, replace=False).tolist())
    pool_vendor = np.concatenate([np.arange(n_v), rng.integers(0, n_v, n_p - n_v)])
    rng.shuffle(pool_vendor)
    T = rng.uniform(0.2, 5.0, (n_w, n_p)) * (rng.random((n_w, n_p)) < 0.7)
    T[np.arange(n_w), rng.integers(0, n_p, n_w)] = rng.uniform(0.2, 5.0, n_w)
    D = 10.0 ** rng.uniform(0.0, 3.0, n_w)
    need = np.where(T > 0, D[:, None] / np.where(T > 0, T, 1.0), np.inf).min(axis=1)
    capacity = rng.uniform(0.2, 2.0, n_p) * need.sum() * rng.uniform(0.6, 3.0) / n_p
    cap = np.where(rng.random(n_w) < 0.3, need * rng.uniform(0.9, 2.0, n_w), np.inf)
    mw = rng.uniform(0.5, 2.5, n_p) / 1000.0
    power = None
    if rng.random() < 0.5:
        power = float(need.sum() * mw.mean() * rng.uniform(0.7, 2.5))
    n_s = int(rng.integers(0, 4))
    pool_site = rng.integers(-1, n_s, n_p) if n_s else np.full(n_p, -1)
    held_mw = np.array([(capacity * mw)[pool_site == k].sum() for k in range(n_s)])
    site_cap = held_mw * rng.uniform(0.1, 1.0, n_s)  # a site cannot power all it holds
    shares: list[ShareBound] = []
    for vendor in names:
        if rng.random() < 0.35:
            shares.append(ShareBound(vendor, "max", float(rng.uniform(0.2, 0.95))))
        if rng.random() < 0.2:
            shares.append(ShareBound(vendor, "min", float(rng.uniform(0.02, 0.5))))
    return PlacementProblem(
        workloads=[f"w{i}" for i in range(n_w)],
        pools=[f"p{j}" for j in range(n_p)],
        T=T,
        demand=D,
        cap=cap,
        cost=10.0 ** rng.uniform(-3.0, 3.0, n_p),
        mw=mw,
        capacity=capacity,
        pool_vendor=pool_vendor.astype(np.intp),
        vendors=names,
        power_cap_mw=power,
        share_measure=str(rng.choice(["count", "power", "spend"])),
        shares=tuple(shares),
        sites=tuple(f"s{k}" for k in range(n_s)),
        site_cap_mw=site_cap,
        pool_site=pool_site.astype(np.intp),
    )


def violation_of(p: PlacementProblem, usage: np.ndarray) -> np.ndarray:
    """How far a plan's pool use exceeds each coupling row, recomputed from the raw arrays."""
    rows = p.coupling()
    return np.maximum(rows.G @ usage - rows.b, 0.0)


@settings(
    max_examples=500,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_decomposition_agrees_with_lp_over_spread_prices(seed):
    p = spread_problem(seed)
    assert len(list(p.coupling().of_kind("power"))) == len(p.sites) + (p.power_cap_mw is not None)
    bad, _ = unservable(p)
    p = p.subset(~bad)  # make_plan reports these and solves the rest
    if not p.workloads:
        return
    lp = solve_lp(p)
    dw = solve_decomposed(p)
    assert dw.status == lp.status
    if lp.status == "optimal":
        assert dw.cost_per_hour == pytest.approx(lp.cost_per_hour, rel=1e-6)
        for sol in (lp, dw):
            check_feasible(p, sol.x.toarray(), sol.idle)
        return
    # both report the least violation, Σ violation / row size, and the plan that attains it
    least = least_violation_total(p, lp.violations)
    assert least > 0
    assert least_violation_total(p, dw.violations) == pytest.approx(least, rel=1e-6, abs=1e-9)
    for sol in (lp, dw):
        x = sol.x.toarray()
        assert ((x * p.T).sum(axis=1) >= p.demand * (1 - 1e-6)).all()  # demand is always met
        assert (x.sum(axis=1) <= p.cap * (1 + 1e-6) + 1e-9).all()
        assert violation_of(p, sol.usage) == pytest.approx(sol.violations, rel=1e-5, abs=1e-6)
