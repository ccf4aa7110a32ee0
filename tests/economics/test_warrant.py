"""The Monte Carlo warrant value against closed forms: Black-Scholes and up-and-in barrier calls."""

from __future__ import annotations

import numpy as np
import pytest

from polyfleet.economics.warrant import (
    bgk_barrier,
    black_scholes_call,
    chunk_pairs,
    simulate_warrant,
    up_and_in_call,
)
from polyfleet.inputs.work import CHUNK_BYTES, work_problem


def mc(spot, strike, t, r, q, vol, hurdles, *, paths=200_000, steps=20, seed=1, met=None, **kw):
    n = len(hurdles)
    return simulate_warrant(
        spot=spot,
        strike=strike,
        expiry_years=t,
        rate=r,
        dividend_yield=q,
        volatility=vol,
        shares=[1.0] * n,
        hurdles=hurdles,
        milestone_met=met if met is not None else [True] * n,
        paths=paths,
        steps=steps,
        seed=seed,
        **kw,
    )


@pytest.mark.parametrize(
    ("spot", "strike", "t", "r", "q", "vol"),
    [
        (100, 100, 1.0, 0.04, 0.0, 0.3),
        (100, 80, 3.0, 0.03, 0.01, 0.5),
        (100, 115, 0.5, 0.05, 0.0, 0.25),
        (216, 0.01, 5.0, 0.04, 0.0, 0.55),
    ],
)
def test_no_milestone_no_hurdle_is_the_black_scholes_call(spot, strike, t, r, q, vol):
    res = mc(spot, strike, t, r, q, vol, [None])
    lo, hi = res.ci95
    assert lo <= black_scholes_call(spot, strike, t, r, q, vol) <= hi
    assert res.stderr < 0.02 * res.value  # the interval is tight enough to mean something


@pytest.mark.parametrize(
    ("spot", "strike", "barrier", "t", "r", "q", "vol", "per_year"),
    [
        (100, 100, 130, 1.0, 0.04, 0.0, 0.3, 252),
        (100, 90, 150, 3.0, 0.03, 0.01, 0.5, 52),
        (100, 120, 125, 2.0, 0.05, 0.0, 0.25, 12),
        (216, 0.01, 600, 5.0, 0.04, 0.0, 0.5, 52),
    ],
)
def test_hurdle_is_the_up_and_in_call_after_the_bgk_shift(
    spot, strike, barrier, t, r, q, vol, per_year
):
    steps = round(t * per_year)
    res = mc(spot, strike, t, r, q, vol, [barrier], paths=400_000, steps=steps, seed=2)
    shifted = up_and_in_call(spot, strike, bgk_barrier(barrier, vol, t / steps), t, r, q, vol)
    continuous = up_and_in_call(spot, strike, barrier, t, r, q, vol)
    # the correction is an approximation of order 1/steps: allow 1 % beyond the MC interval
    assert abs(res.value - shifted) <= 1.96 * res.stderr + 0.01 * shifted
    assert shifted < continuous  # discrete monitoring touches the barrier less often


@pytest.mark.parametrize(("per_year", "vol"), [(12, 0.3), (52, 0.5)])
def test_coarse_monitoring_needs_the_shift(per_year, vol):
    """Where the shift is large against the noise, only the shifted price agrees with the MC."""
    spot, strike, barrier, t, r = 216.0, 0.01, 600.0, 5.0, 0.04
    steps = round(t * per_year)
    res = mc(spot, strike, t, r, 0.0, vol, [barrier], paths=400_000, steps=steps, seed=3)
    shifted = up_and_in_call(spot, strike, bgk_barrier(barrier, vol, t / steps), t, r, 0.0, vol)
    continuous = up_and_in_call(spot, strike, barrier, t, r, 0.0, vol)
    assert continuous - shifted > 5 * res.stderr
    assert abs(res.value - shifted) < 3 * res.stderr < abs(res.value - continuous)


def test_barrier_closed_form_limits():
    bs = black_scholes_call(100, 100, 1, 0.04, 0, 0.3)
    assert up_and_in_call(100, 100, 90, 1, 0.04, 0, 0.3) == pytest.approx(bs)  # already above
    assert up_and_in_call(100, 100, 95, 1, 0.04, 0, 0.3) == pytest.approx(bs)  # H <= K
    # a barrier far above is almost never touched
    assert up_and_in_call(100, 100, 1e5, 1, 0.04, 0, 0.3) < 1e-6
    # in + out = vanilla, so in < vanilla for H > K
    assert 0 < up_and_in_call(100, 100, 120, 1, 0.04, 0, 0.3) < bs


def test_milestone_not_met_pays_nothing_and_tranches_add_up():
    res = mc(100, 1.0, 2.0, 0.04, 0.0, 0.4, [None, 150.0, 150.0], met=[True, True, False])
    assert res.tranche_values[2] == 0.0
    assert res.tranche_values[1] < res.tranche_values[0]
    assert res.tranche_values.sum() == pytest.approx(res.value)
    assert res.tranche_hit_probability[0] == 1.0
    assert 0 < res.tranche_hit_probability[1] < 1


def test_antithetic_pairs_lower_the_error_of_a_near_linear_payoff():
    res = mc(100, 0.01, 1.0, 0.04, 0.0, 0.3, [None], paths=20_000)
    # deep in the money the payoff is ~linear in S_T, so Z and -Z cancel most of the noise
    naive_sd = 100 * np.sqrt(np.exp(0.09) - 1)  # sd of S_T under GBM
    # without the pairing the error would be the naive one, or worse if pairs were duplicates
    assert res.stderr < 0.5 * naive_sd / np.sqrt(20_000)


def test_chunking_does_not_change_the_answer_beyond_noise():
    whole = mc(100, 100, 1.0, 0.04, 0.0, 0.3, [120.0], paths=100_000, chunk=1 << 20)
    chunked = mc(100, 100, 1.0, 0.04, 0.0, 0.3, [120.0], paths=100_000, chunk=1000)
    assert chunked.paths == whole.paths == 100_000
    assert abs(whole.value - chunked.value) < 3 * np.hypot(whole.stderr, chunked.stderr)


def test_fan_quantiles_start_at_spot_and_are_ordered():
    res = mc(100, 100, 2.0, 0.04, 0.0, 0.4, [150.0], paths=20_000, steps=100, fan_points=25)
    assert res.fan.shape == (5, len(res.fan_times))
    assert res.fan_times[0] == 0 and res.fan_times[-1] == pytest.approx(2.0)
    assert np.all(res.fan[:, 0] == 100)
    assert np.all(np.diff(res.fan, axis=0) >= 0)  # 5 % <= 25 % <= ... <= 95 % at every date
    assert res.fan[4, -1] > 150 > res.fan[0, -1]


def test_too_few_paths_is_refused():
    with pytest.raises(ValueError, match="at least 2 paths"):
        mc(100, 100, 1.0, 0.04, 0.0, 0.3, [None], paths=1)


def test_result_depends_on_the_seed_not_on_the_threads():
    one = mc(100, 100, 1.0, 0.04, 0.0, 0.3, [120.0], paths=40_000, chunk=4_000, workers=1)
    two = mc(100, 100, 1.0, 0.04, 0.0, 0.3, [120.0], paths=40_000, chunk=4_000, workers=2)
    other = mc(100, 100, 1.0, 0.04, 0.0, 0.3, [120.0], paths=40_000, chunk=4_000, seed=9)
    assert one.value == two.value and one.stderr == two.stderr
    assert other.value != one.value


# -- bounds: work and memory are bounded before anything is drawn ---------------------------


def test_work_over_the_limit_is_refused_before_anything_is_drawn():
    with pytest.raises(ValueError, match=r"1e12 paths × 260 steps is 2\.6e14 path-steps.*limit"):
        mc(100, 100, 5.0, 0.04, 0.0, 0.3, [None], paths=10**12, steps=260)
    assert work_problem([(200_000, 260)] + [(50_000, 260)] * 9) is None  # the bundled deal
    assert "sensitivity runs" in work_problem([(200_000, 49_993)] + [(50_000, 49_993)] * 9)


@pytest.mark.parametrize("steps", [1, 260, 10_000, 500_000, CHUNK_BYTES // 8])
def test_a_chunk_stays_within_its_memory_whatever_the_steps(steps):
    pairs = chunk_pairs(steps, pairs_total=10**9)
    assert pairs >= 1 and pairs * steps * 8 <= CHUNK_BYTES
    assert chunk_pairs(260, 10**9) == 1 << 14  # the bundled deal's chunks are unchanged


def test_one_path_pair_over_the_chunk_memory_is_refused():
    assert "MiB per path pair" in work_problem([(2, CHUNK_BYTES // 8 + 1)])


def test_many_steps_shrink_the_chunks_and_keep_the_value():
    steps = 20_000
    assert chunk_pairs(steps, 2_000) < 2_000  # several chunks of fewer pairs
    res = mc(100, 100, 1.0, 0.04, 0.0, 0.3, [None], paths=4_000, steps=steps)
    lo, hi = res.ci95
    assert lo <= black_scholes_call(100, 100, 1.0, 0.04, 0.0, 0.3) <= hi
