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

Paths are simulated in chunks (the whole path matrix is never held), on a few threads, with
antithetic pairs: each chunk draws Z once and uses Z and −Z (one cumulative sum serves both), and
the confidence interval comes from the pair averages.

Work and memory are bounded before anything is drawn: a chunk holds two float32 arrays of
pairs × steps (8 bytes a pair-step), so its pairs shrink as the steps grow to keep it within
`CHUNK_BYTES` (at most `MAX_WORKERS` chunks are alive at once), and the paths × steps a valuation
may simulate are capped (`polyfleet.inputs.work.work_problem` says what a request would need).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from polyfleet.inputs.work import BYTES_PER_PAIR_STEP, CHUNK_BYTES, work_problem

__all__ = [
    "BGK_BETA",
    "WarrantResult",
    "bgk_barrier",
    "black_scholes_call",
    "chunk_pairs",
    "simulate_warrant",
    "up_and_in_call",
]

#: −ζ(1/2)/√(2π): the Broadie–Glasserman–Kou continuity correction for discrete monitoring.
BGK_BETA = 0.5825971579390106
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_WORKERS = 8
CHUNK_PATHS = 1 << 15


def ndtr(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


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


def chunk_pairs(steps: int, pairs_total: int, chunk: int = CHUNK_PATHS) -> int:
    """Antithetic pairs per chunk: `chunk` paths, fewer when `steps` would overflow CHUNK_BYTES."""
    fits = CHUNK_BYTES // (BYTES_PER_PAIR_STEP * max(steps, 1))
    return max(1, min(chunk // 2, pairs_total, fits))


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
    chunk: int = CHUNK_PATHS,
    fan_points: int = 0,
    workers: int | None = None,
) -> WarrantResult:
    """Value the tranches by Monte Carlo (antithetic GBM, `steps` monitoring dates to expiry).

    `paths` counts simulated paths (an antithetic pair is two). Chunks of `chunk` paths (fewer
    when the steps are many: `chunk_pairs`) run on `workers` threads (default: the CPU count, at
    most 8); each chunk draws from its own stream spawned from `seed`, so the result depends on
    the seed and chunk size, not on scheduling. A request over the limits is a ValueError
    (`work_problem` says why) before anything is drawn.
    `fan_points` > 0 also returns price quantiles (5/25/50/75/95 %) at that many dates, from the
    first chunk's paths.
    """
    if paths < 2 or steps < 1:
        raise ValueError("need at least 2 paths and 1 monitoring step")
    problem = work_problem([(paths, steps)])
    if problem is not None:
        raise ValueError(problem)
    t0 = time.perf_counter()
    dt = expiry_years / steps
    # log(S_t/S_0) on date k is drift·k + vol·(Z_1 + ... + Z_k); the antithetic path flips the sum
    drift_k = ((rate - dividend_yield - 0.5 * volatility**2) * dt * np.arange(1, steps + 1)).astype(
        np.float32
    )
    vol = np.float32(volatility * math.sqrt(dt))
    weight = np.asarray(shares, float) * np.asarray(milestone_met, bool)
    log_h = np.array(
        [-np.inf if h is None else math.log(h / spot) for h in hurdles], dtype=np.float32
    )
    pairs_total = paths // 2
    per_chunk = chunk_pairs(steps, pairs_total, chunk)
    sizes = [min(per_chunk, pairs_total - s) for s in range(0, pairs_total, per_chunk)]
    streams = np.random.SeedSequence(seed).spawn(len(sizes))

    def run(i: int) -> tuple[NDArray[np.float64], float, float, NDArray[np.float64], Any]:
        m = sizes[i]
        rng = np.random.Generator(np.random.PCG64(streams[i]))
        cz = rng.standard_normal((m, steps), dtype=np.float32)
        np.cumsum(cz, axis=1, out=cz)
        x = np.empty_like(cz)
        pair_payoff = np.zeros((m, len(weight)))
        hits = np.zeros(len(weight))
        fan_part = None
        for sign in (1.0, -1.0):
            np.multiply(cz, np.float32(sign) * vol, out=x)
            x += drift_k
            running_max = np.maximum(x.max(axis=1), 0.0)  # S_0 itself counts as touched
            hit = running_max[:, None] >= log_h[None, :]
            intrinsic = np.maximum(spot * np.exp(x[:, -1].astype(np.float64)) - strike, 0.0)
            pair_payoff += 0.5 * intrinsic[:, None] * hit
            hits += hit.sum(axis=0)
            if fan_points and i == 0 and sign > 0:
                cols = np.unique(np.linspace(0, steps - 1, min(fan_points, steps)).astype(int))
                fan_part = (cols, spot * np.exp(np.quantile(x[:, cols], FAN_QUANTILES, axis=0)))
        per_pair = pair_payoff @ weight
        tranche = pair_payoff.sum(axis=0) * weight
        return tranche, float(per_pair.sum()), float(np.dot(per_pair, per_pair)), hits, fan_part

    n_workers = min(workers or os.cpu_count() or 1, MAX_WORKERS)
    if n_workers > 1 and len(sizes) > 1:
        with ThreadPoolExecutor(n_workers) as pool:  # numpy's RNG and ufuncs release the GIL
            parts = list(pool.map(run, range(len(sizes))))
    else:
        parts = [run(i) for i in range(len(sizes))]
    tranche_sum = np.sum([p[0] for p in parts], axis=0)
    total_sum = sum(p[1] for p in parts)
    total_sq = sum(p[2] for p in parts)
    hit_count = np.sum([p[3] for p in parts], axis=0)
    disc = math.exp(-rate * expiry_years)
    mean = total_sum / pairs_total
    var = max(total_sq / pairs_total - mean * mean, 0.0) * pairs_total / max(pairs_total - 1, 1)
    fan_times, fan = np.zeros(0), np.zeros((0, 0))
    if parts[0][4] is not None:
        cols, quantiles = parts[0][4]
        fan = np.concatenate([np.full((len(FAN_QUANTILES), 1), spot), quantiles], axis=1)
        fan_times = np.concatenate([[0.0], (cols + 1) * dt])
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
