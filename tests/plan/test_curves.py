"""The cost-of-service curves against small LPs solved by scipy: least cost at a level, the best
level per workload, and the best common level."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from polyfleet.plan.curves import ServiceCurves
from polyfleet.plan.problem import PlacementProblem


def _problem(seed: int, n_w: int, n_p: int) -> PlacementProblem:
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.2, 3.0, (n_w, n_p)) * (rng.random((n_w, n_p)) < 0.7)
    T[rng.random(n_w) < 0.1] = 0.0  # some workloads no pool can serve
    if rng.random() < 0.3:
        T[:, 1:] = np.where(T[:, 1:] > 0, T[:, :1], 0.0)  # equal throughputs: collinear points
    cap = np.where(rng.random(n_w) < 0.6, rng.uniform(0.5, 20.0, n_w), np.inf)
    return PlacementProblem(
        workloads=[f"w{i}" for i in range(n_w)],
        pools=[f"p{j}" for j in range(n_p)],
        T=T,
        demand=rng.uniform(1.0, 10.0, n_w),
        cap=cap,
        cost=np.ones(n_p),
        mw=np.ones(n_p),
        capacity=np.full(n_p, 100.0),
        pool_vendor=np.zeros(n_p, dtype=np.intp),
        vendors=["v"],
    )


def _prices(seed: int, n_p: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    r = rng.uniform(0.0, 2.0, n_p)
    r[rng.random(n_p) < 0.3] = 0.0  # free pools (slack rows) are common in the first rounds
    return r


def _least_cost(a: np.ndarray, r: np.ndarray, cap: float, s: float) -> float:
    """min r·x s.t. a·x ≥ s, Σx ≤ cap, x ≥ 0, by scipy."""
    A = [-a] + ([np.ones_like(a)] if np.isfinite(cap) else [])
    b = [-s] + ([cap] if np.isfinite(cap) else [])
    res = linprog(r, A_ub=np.array(A), b_ub=np.array(b), bounds=(0, None), method="highs")
    assert res.status == 0
    return float(res.fun)


def _assignment_matrix(cv, s: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows, pools, accs = cv.assignment(s)
    x = np.zeros(shape)
    np.add.at(x, (rows, pools), accs)
    return x


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_w=st.integers(1, 12), n_p=st.integers(1, 6))
def test_assignment_is_the_least_cost_service(seed, n_w, n_p):
    p = _problem(seed, n_w, n_p)
    r = _prices(seed, n_p)
    curves = ServiceCurves(p)
    cv = curves.at(r)
    rng = np.random.default_rng(seed + 2)
    end = np.where(np.isfinite(curves.s_end), curves.s_end, 2.0)
    s = end * rng.uniform(0.0, 1.0, n_w)
    ends = rng.random(n_w) < 0.2
    s[ends] = end[ends]  # the domain's end: every row's last vertex
    x = _assignment_matrix(cv, s, p.shape)
    a = p.a
    assert (x >= -1e-12).all()
    assert np.abs(x[a == 0]).max(initial=0.0) == 0.0
    assert (a * x).sum(axis=1) == pytest.approx(s, rel=1e-9, abs=1e-12)
    assert (x.sum(axis=1) <= p.cap * (1 + 1e-9)).all()
    np.testing.assert_allclose(cv.usage(s), x.sum(axis=0), rtol=1e-12, atol=1e-12)
    for w in range(n_w):
        expect = _least_cost(a[w], r, p.cap[w], s[w])
        assert float(r @ x[w]) == pytest.approx(expect, rel=1e-7, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_w=st.integers(1, 10), n_p=st.integers(1, 5))
def test_best_each_maximises_value_less_cost(seed, n_w, n_p):
    p = _problem(seed, n_w, n_p)
    r = _prices(seed, n_p)
    curves = ServiceCurves(p)
    cv = curves.at(r)
    rng = np.random.default_rng(seed + 3)
    value = rng.uniform(0.0, 20.0, n_w)
    end = np.where(np.isfinite(curves.s_end), curves.s_end, 3.0)
    lo = np.minimum(rng.uniform(0.0, 0.5, n_w), end)
    hi = np.minimum(lo + rng.uniform(0.0, 2.0, n_w), end)
    s = cv.best_each(value, lo, hi)
    x = _assignment_matrix(cv, s, p.shape)
    a = p.a
    assert ((s >= lo - 1e-12) & (s <= hi + 1e-12)).all()
    for w in range(n_w):
        # max value·s − r·x over x ≥ 0, s in [lo, hi], a·x ≥ s, Σx ≤ cap (variables: x, s)
        c = np.concatenate([r, [-value[w]]])
        A = [np.concatenate([-a[w], [1.0]])]
        b = [0.0]
        if np.isfinite(p.cap[w]):
            A.append(np.concatenate([np.ones(n_p), [0.0]]))
            b.append(p.cap[w])
        bounds = [(0, None)] * n_p + [(lo[w], hi[w])]
        res = linprog(c, A_ub=np.array(A), b_ub=b, bounds=bounds, method="highs")
        assert res.status == 0
        got = value[w] * s[w] - float(r @ x[w])
        assert got == pytest.approx(-res.fun, rel=1e-7, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_w=st.integers(1, 8), n_p=st.integers(1, 5))
def test_best_common_maximises_value_less_cost(seed, n_w, n_p):
    p = _problem(seed, n_w, n_p)
    rng = np.random.default_rng(seed + 4)
    r = _prices(seed, n_p) + 0.05  # every pool priced: a bounded best level without t_max
    curves = ServiceCurves(p)
    cv = curves.at(r)
    among = np.flatnonzero(rng.random(n_w) < 0.8)
    if among.size == 0:
        among = np.arange(n_w)
    theta = float(rng.uniform(0.1, 5.0))
    t_max = float(rng.uniform(0.5, 5.0))
    t, ray = cv.best_common(theta, among, t_max)
    assert not ray
    assert 0.0 <= t <= t_max
    s = np.zeros(n_w)
    s[among] = t
    got = theta * t - float(r @ cv.usage(s))
    # the same by scipy: variables x (among × pools) and t
    m = among.size
    a = p.a[among]
    c = np.concatenate([np.tile(r, m), [-theta]])
    A, b = [], []
    for i in range(m):
        row = np.zeros(m * n_p + 1)
        row[i * n_p : (i + 1) * n_p] = -a[i]
        row[-1] = 1.0
        A.append(row)
        b.append(0.0)
        if np.isfinite(p.cap[among[i]]):
            row = np.zeros(m * n_p + 1)
            row[i * n_p : (i + 1) * n_p] = 1.0
            A.append(row)
            b.append(p.cap[among[i]])
    bounds = [(0, None)] * (m * n_p) + [(0, t_max)]
    res = linprog(c, A_ub=np.array(A), b_ub=b, bounds=bounds, method="highs")
    assert res.status == 0
    assert got == pytest.approx(-res.fun, rel=1e-7, abs=1e-9)


def test_best_common_without_a_bound_is_a_ray():
    """Uncapped workloads with value above their cheapest cost per unit: serving more always
    pays, so the best level is a ray (t = 1 its direction) unless t_max bounds it."""
    p = replace(_problem(7, 4, 3), T=np.ones((4, 3)), cap=np.full(4, np.inf))
    cv = ServiceCurves(p).at(np.array([0.1, 0.2, 0.3]))
    # ρ_w = 0.1 / a = 0.1 · demand: Σ ρ = 0.1 · Σ demand
    value = 0.1 * float(p.demand.sum()) + 1.0
    assert cv.best_common(value, np.arange(4)) == (1.0, True)
    assert cv.best_common(value, np.arange(4), 2.5) == (2.5, False)
    assert cv.best_common(value - 2.0, np.arange(4)) == (0.0, False)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_w=st.integers(1, 8), n_p=st.integers(1, 5))
def test_rise_cost_is_the_right_slope(seed, n_w, n_p):
    """c_w'(s+) — what water-filling's price certificate divides by — against the least cost a
    little above s, by scipy; ∞ at the most a workload can be served."""
    p = _problem(seed, n_w, n_p)
    r = _prices(seed, n_p)
    curves = ServiceCurves(p)
    cv = curves.at(r)
    rng = np.random.default_rng(seed + 5)
    end = np.where(np.isfinite(curves.s_end), curves.s_end, 2.0)
    s = end * rng.uniform(0.0, 0.9, n_w)
    if n_w > 1:
        s[0] = end[0]  # a capped or dead row at its end
    slope = cv.rise_cost(s)
    a = p.a
    for w in range(n_w):
        if s[w] >= curves.s_end[w] * (1 - 1e-9):
            assert slope[w] == np.inf
            continue
        h = 1e-6 * max(end[w], 1e-3)
        up = _least_cost(a[w], r, p.cap[w], s[w] + h) - _least_cost(a[w], r, p.cap[w], s[w])
        assert slope[w] == pytest.approx(up / h, rel=1e-4, abs=1e-6)
