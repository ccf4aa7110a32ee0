"""Warrant valuation: Monte Carlo under geometric Brownian motion, and the closed forms it is
checked against.

The rule valued (European, held to expiry T): tranche i pays

    shares_i · max(S_T − K, 0)    at T,   if  milestone_i ≤ T  and  max over monitoring dates t ≤ T
                                                of S_t ≥ hurdle_i   (S_0 counts; no hurdle: always)

discounted at the risk-free rate. The milestone (the date deployment reaches the tranche's
gigawatts) is known from the deployment schedule, so it switches a tranche on or off; the hurdle is
an up-and-in barrier on the simulated price, monitored on `steps` equally spaced dates. With
continuous monitoring that is the closed-form up-and-in call; discrete monitoring touches the
barrier less often, which the Broadie–Glasserman–Kou shift H·exp(0.5826·σ·√Δt) corrects.

Paths are simulated in chunks (the whole path matrix is never held), with antithetic pairs: each
chunk draws Z once and uses Z and −Z, and the confidence interval comes from the pair averages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

__all__ = [
    "BGK_BETA",
    "WarrantResult",
    "bgk_barrier",
    "black_scholes_call",
    "simulate_warrant",
    "up_and_in_call",
]

#: −ζ(1/2)/√(2π): the Broadie–Glasserman–Kou continuity correction for discrete monitoring.
BGK_BETA = 0.5825971579390106
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def black_scholes_call(s: float, k: float, t: float, r: float, q: float, sigma: float) -> float:
    """European call on a stock paying a continuous dividend yield q."""
    if t <= 0 or sigma <= 0:
        return max(s * math.exp(-q * t) - k * math.exp(-r * t), 0.0)
    if k <= 0:
        return s * math.exp(-q * t) - k * math.exp(-r * t)
    sd = sigma * math.sqrt(t)
    d1 = (math.log(s / k) + (r - q + 0.5 * sigma**2) * t) / sd
    return float(s * math.exp(-q * t) * ndtr(d1) - k * math.exp(-r * t) * ndtr(d1 - sd))


def up_and_in_call(
    s: float, k: float, h: float, t: float, r: float, q: float, sigma: float
) -> float:
    """Up-and-in call, barrier H monitored continuously (Reiner–Rubinstein; Hull, Options,
    Futures and Other Derivatives, ch. 26). If H ≤ K every path that ends in the money has crossed
    H, and if S ≥ H the barrier is already touched: both are the plain call."""
    if s >= h or h <= k:
        return black_scholes_call(s, k, t, r, q, sigma)
    sd = sigma * math.sqrt(t)
    lam = (r - q + 0.5 * sigma**2) / sigma**2
    x1 = math.log(s / h) / sd + lam * sd
    y = math.log(h * h / (s * k)) / sd + lam * sd
    y1 = math.log(h / s) / sd + lam * sd
    disc_s, disc_k = s * math.exp(-q * t), k * math.exp(-r * t)
    ratio = h / s
    value = (
        disc_s * ndtr(x1)
        - disc_k * ndtr(x1 - sd)
        - disc_s * ratio ** (2 * lam) * (ndtr(-y) - ndtr(-y1))
        + disc_k * ratio ** (2 * lam - 2) * (ndtr(-y + sd) - ndtr(-y1 + sd))
    )
    return float(value)


def bgk_barrier(h: float, sigma: float, dt: float) -> float:
    """The continuous-monitoring barrier that prices an up barrier monitored every `dt` years."""
    return h * math.exp(BGK_BETA * sigma * math.sqrt(dt))


@dataclass(frozen=True)
class WarrantResult:
    """Present value, its 95 % confidence interval, and per-tranche detail."""

    value: float
    stderr: float
    tranche_values: NDArray[np.float64]
    tranche_hit_probability: NDArray[np.float64]  # P(hurdle touched by T)
    paths: int
    steps: int
    seconds: float
    fan_times: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    fan: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))  # quantile x time

    @property
    def ci95(self) -> tuple[float, float]:
        return self.value - 1.96 * self.stderr, self.value + 1.96 * self.stderr


def simulate_warrant(
    *,
    spot: float,
    strike: float,
    expiry_years: float,
    rate: float,
    dividend_yield: float,
    volatility: float,
    shares: Sequence[float],
    hurdles: Sequence[float | None],
    milestone_met: Sequence[bool],
    paths: int,
    steps: int,
    seed: int = 0,
    chunk: int = 1 << 15,
    fan_points: int = 0,
) -> WarrantResult:
    """Value the tranches by Monte Carlo (antithetic GBM, `steps` monitoring dates to expiry).

    `paths` counts simulated paths (an antithetic pair is two). `fan_points` > 0 also returns
    price quantiles (5/25/50/75/95 %) at that many dates, from the first chunk's paths.
    """
    if paths < 2 or steps < 1:
        raise ValueError("need at least 2 paths and 1 monitoring step")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    dt = expiry_years / steps
    drift = np.float32((rate - dividend_yield - 0.5 * volatility**2) * dt)
    vol = np.float32(volatility * math.sqrt(dt))
    n_tr = len(shares)
    weight = np.asarray(shares, float) * np.asarray(milestone_met, bool)
    log_h = np.array(
        [-np.inf if h is None else math.log(h / spot) for h in hurdles], dtype=np.float32
    )
    pairs_total = paths // 2
    chunk_pairs = max(1, min(chunk // 2, pairs_total))
    total_sum = total_sq = 0.0
    tranche_sum = np.zeros(n_tr)
    hit_count = np.zeros(n_tr)
    fan_times = np.zeros(0)
    fan = np.zeros((0, 0))
    z = np.empty((chunk_pairs, steps), dtype=np.float32)
    x = np.empty_like(z)
    done = 0
    while done < pairs_total:
        m = min(chunk_pairs, pairs_total - done)
        zc, xc = z[:m], x[:m]
        rng.standard_normal(out=zc, dtype=np.float32)
        pair_payoff = np.zeros((m, n_tr))
        for sign in (1.0, -1.0):
            np.multiply(zc, np.float32(sign) * vol, out=xc)
            xc += drift
            np.cumsum(xc, axis=1, out=xc)  # log(S_t / S_0) on the monitoring dates
            running_max = np.maximum(xc.max(axis=1), 0.0)  # S_0 itself counts as touched
            hit = running_max[:, None] >= log_h[None, :]
            intrinsic = np.maximum(spot * np.exp(xc[:, -1].astype(np.float64)) - strike, 0.0)
            pair_payoff += 0.5 * intrinsic[:, None] * hit
            hit_count += hit.sum(axis=0)
            if fan_points and done == 0 and sign > 0:
                cols = np.unique(np.linspace(0, steps - 1, min(fan_points, steps)).astype(int))
                fan = spot * np.exp(np.quantile(xc[:, cols], FAN_QUANTILES, axis=0))
                fan_times = (cols + 1) * dt
        per_pair = pair_payoff @ weight
        total_sum += float(per_pair.sum())
        total_sq += float(np.dot(per_pair, per_pair))
        tranche_sum += pair_payoff.sum(axis=0) * weight
        done += m
    disc = math.exp(-rate * expiry_years)
    mean = total_sum / pairs_total
    var = max(total_sq / pairs_total - mean * mean, 0.0) * pairs_total / max(pairs_total - 1, 1)
    if fan_points:
        fan = np.concatenate([np.full((len(FAN_QUANTILES), 1), spot), fan], axis=1)
        fan_times = np.concatenate([[0.0], fan_times])
    return WarrantResult(
        value=disc * mean,
        stderr=disc * math.sqrt(var / pairs_total),
        tranche_values=disc * tranche_sum / pairs_total,
        tranche_hit_probability=hit_count / (2 * pairs_total),
        paths=2 * pairs_total,
        steps=steps,
        seconds=time.perf_counter() - t0,
        fan_times=fan_times,
        fan=fan,
    )
