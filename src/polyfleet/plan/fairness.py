"""Lexicographic max-min fairness (`fairness: lexicographic`) by water-filling.

max_min_served raises the smallest served fraction t₁ and stops there. Water-filling goes on:

    level k   t_k = max t  s.t.  s_w ≥ t for the workloads not yet fixed (R),
                                 s_w ≥ level_w for those fixed at earlier levels
    fix       B_k = the workloads of R that cannot be served above t_k while every other keeps
              its floor (R at t_k): level_w = t_k for w ∈ B_k; R ← R ∖ B_k
    until R is empty, then the least cost with every level held.

A bottleneck is a workload that cannot be served more than ρ = 1e-6 of the level above it.
The set is proved, never read off a dual's zeros (a degenerate dual can leave a bottleneck at
zero price — a workload stopped by its own cap on an idle pool, say). Two proofs, in turn:

    prices   at the level's prices π, raising w alone by z has the Lagrangian bound
             λ·E + max_z [z − λ·Δc_w(z)] for every λ ≥ 0 (E = πᵀb − Σ_v c_v(ℓ_v), Δc_w the
             rise in w's priced cost); with λ = 1/c_w'(ℓ_w+) it is E/c_w'(ℓ_w+) — one pricing
             proves every workload that is costly to raise (or cannot be served more at all);
    raise(U) for the rest:  max Σ_{w∈U} z_w  s.t.  s_w ≥ t_k + z_w, 0 ≤ z_w ≤ δ (w ∈ U), every
             other floor held. A workload with z_w > ρ rises: it leaves U. When the raise's
             bound is ≤ ρ — or no workload of U rises — U are bottlenecks. The workloads that
             can rise can also rise together (the plans form a convex set), so each round
             removes one or settles the rest.

Levels are solved to a 1e-9 gap, far inside ρ. A level shared by very many workloads makes the
raise degenerate (its bound needs prices as large as their number) and can defeat HiGHS; past
RAISE_ROUNDS, or when HiGHS fails, the workloads the prices prove unable to rise by more than
1e-3 of the level are fixed there. Every step is the served decomposition
(`polyfleet.plan.served.Engine`); `lexicographic_lp` does the same with the whole LP and one LP
per workload for the bottleneck test — the reference the tests compare against.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from polyfleet.errors import SolverError
from polyfleet.plan.lp import LEX_TOL, solve_lp
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.served import Common, Each, Engine, Outcome
from polyfleet.plan.solution import Solution

__all__ = ["lexicographic_lp", "solve_lexicographic"]

F = NDArray[np.float64]
Ix = NDArray[np.intp]
#: A level is held this close (relative) below where it was reached: the plan that reached it
#: serves it, to round-off, so the next step starts from a plan that holds every level.
#: (A looser hold, such as the whole LP's, would be room a bottleneck could rise into.)
HELD = 1e-12
#: Each level's max-min is solved to this gap, far inside the bottleneck tolerance.
LEVEL_GAP = 1e-9
#: A workload rises when it can be served this much above its level (relative to the level):
#: far above the level's gap, and above what a master solved only to HiGHS's default
#: tolerance (an overrun ~1e-7 of a row) lets a bottleneck rise into.
RISE = 1e-6
#: Rounds the raise LP may take; past them (or when HiGHS fails on it) a workload the level's
#: prices prove unable to rise by more than FALLBACK of the level is fixed there.
RAISE_ROUNDS, FALLBACK = 300, 1e-3
#: How far one workload may rise in the raise LP (relative to the level): small enough that
#: every workload that can rise does so in its optimum, large enough to be read above RISE.
STEP = 1e-3


def solve_lexicographic(problem: PlacementProblem, **options: float) -> Solution:
    """Water-filling by the served decomposition; `Solution.levels` holds each class's level."""
    eng = Engine(problem, **options)  # type: ignore[arg-type]
    n_w = problem.shape[0]
    level = np.full(n_w, np.nan)
    floor = np.zeros(n_w)
    rest = np.arange(n_w)
    t_max = eng.level_bound(rest)
    unit = eng.unit_of(t_max)
    x: sp.csr_matrix | None = None
    idle: F | None = None
    gaps: list[tuple[float, float]] = []  # (level, gap) of each level
    first_bound = np.nan
    while rest.size:
        block = Common(eng.curves, rest, floor, eng.level_bound(rest))
        start = [eng.zero() if x is None else eng.plan_column(block, x, idle)]
        out = eng.run(block, start, m_unit=unit, cost=False, gap=min(eng.gap, LEVEL_GAP))
        if x is None:
            first_bound = out.measure_bound
        t, x, idle = out.measure, out.x, out.idle
        gaps.append((t, out.serve_gap))
        scale = t if t > 0 else unit
        bound = _rise_bound(eng, rest, floor, t, out)
        sure = bound <= RISE * scale
        fixed, x, idle = _bottlenecks(
            eng, rest[~sure], bound[~sure], floor, t, x, idle, scale, rest, sure.any()
        )
        fixed = np.union1d(rest[sure], fixed)
        level[fixed] = t
        floor[fixed] = t * (1.0 - HELD)
        rest = np.setdiff1d(rest, fixed)
    assert x is not None or n_w == 0
    final = Each(eng.curves, np.zeros(n_w), floor, floor)
    start = [eng.plan_column(final, x if x is not None else sp.csr_matrix(problem.shape), idle)]
    out = eng.run(final, start, m_unit=1.0, serve=False)
    sol = eng.solution(out, float(level.min(initial=np.inf)) if n_w else 0.0, "decomposition")
    sol.serve_gap = max((g for _, g in gaps), default=0.0)
    sol.gap = max(sol.serve_gap, out.cost_gap)
    sol.objective_bound = first_bound
    sol.levels = level
    sol.level_gaps = tuple(gaps)
    return sol


def _rise_bound(eng: Engine, rest: Ix, floor: F, t: float, out: Outcome) -> F:
    """For each workload of `rest`, how far above t the level's own prices prove it cannot rise
    (∞: they prove nothing); those within RISE of the level are bottlenecks.

    Raising one workload w by z while every other keeps its floor ℓ (rest at t) is an LP whose
    Lagrangian, at λ times the level's prices π (r = λ·πᵀG), is for every λ ≥ 0 an upper bound
    on z:  λ·E + max_z [z − λ·(c_w(ℓ_w + z) − c_w(ℓ_w))],  E = πᵀb − Σ_v c_v(ℓ_v).
    The curve is convex, so for λ ≥ 1/σ_w, σ_w = c_w'(ℓ_w+) its cost of rising, the second
    term is 0: w cannot rise above t by more than E/σ_w. At the max-min's prices E is its
    Lagrangian gap (≈ 0) and the workloads that hold the level up have σ_w > 0, so one pricing
    settles most of them; a workload stopped by its own cap or by a full pool has σ_w = ∞
    however degenerate the prices. Those left (rising is free or cheap at these prices) go to
    the raise LP."""
    held = floor.copy()
    held[rest] = t * (1.0 - HELD)
    bound = np.full(rest.size, np.inf)
    G = eng.problem.coupling().G
    b = np.where(np.isfinite(out.rows), out.rows, 0.0)
    for prices in (out.prices, out.bound_prices):
        cv = eng.curves.at(np.maximum(prices @ G, 0.0))
        excess = max(float(prices @ b) - float(cv.r @ cv.usage(held)), 0.0)
        sigma = cv.rise_cost(held)[rest]
        with np.errstate(divide="ignore", invalid="ignore"):
            np.minimum(bound, np.where(sigma > 0, excess / sigma, np.inf), out=bound)
    return bound


def _bottlenecks(
    eng: Engine,
    undecided: Ix,
    proved: F,
    floor: F,
    t: float,
    x: sp.csr_matrix,
    idle: F,
    scale: float,
    rest: Ix,
    some_fixed: bool,
) -> tuple[Ix, sp.csr_matrix, F]:
    """The workloads of `undecided` (some of `rest`) that cannot rise above t (see the module
    docstring), and the last raise's plan (it serves every floor and rest at t, the risers
    above). `proved`: how far each of `undecided` is proved unable to rise (`_rise_bound`);
    `some_fixed`: others of `rest` are bottlenecks already."""
    rho, delta = RISE * scale, STEP * scale
    lo = floor.copy()
    lo[rest] = t * (1.0 - HELD)
    undecided0 = undecided
    while undecided.size:
        hi = lo.copy()
        hi[undecided] = lo[undecided] + delta
        weight = np.zeros(len(lo))
        weight[undecided] = 1.0
        block = Each(eng.curves, weight, lo, hi)
        try:
            out = eng.run(
                block,
                [eng.plan_column(block, x, idle)],
                m_unit=delta * undecided.size,
                cost=False,
                gap=LEVEL_GAP,
                enough=rho,
                max_rounds=RAISE_ROUNDS,
            )
        except SolverError:
            # a level shared by very many workloads makes the raise degenerate (its bound
            # needs prices as large as their number, past what HiGHS resolves): those the
            # level's prices prove unable to rise by more than FALLBACK of it are fixed
            held = proved[np.searchsorted(undecided0, undecided)] <= FALLBACK * scale
            if held.any() or some_fixed:
                return undecided[held], x, idle
            raise
        x, idle = out.x, out.idle
        if out.measure_bound <= rho:
            break
        served = np.asarray(x.multiply(eng.problem.a).sum(axis=1)).ravel()
        rise = served[undecided] - lo[undecided]
        rises = rise > rho
        if not rises.any():
            break
        if rises.all():
            if some_fixed:
                return undecided[:0], x, idle
            # every one of rest rose: the level fell short of the max-min by more than its
            # gap (a master HiGHS could only solve to its default tolerance); those that rose
            # least are fixed, which keeps water-filling moving, within that round-off
            undecided = undecided[rise <= rise.min() + rho]
            break
        undecided = undecided[~rises]
    return undecided, x, idle


def lexicographic_lp(problem: PlacementProblem) -> Solution:
    """Water-filling with the whole LP: a max-min LP per level and, per workload still rising, an
    LP that raises it alone (the textbook bottleneck test). The last level's LP already minimises
    the cost with every level held. The reference `solve_lexicographic` is tested against; slow
    beyond a few dozen workloads."""
    started = time.perf_counter()
    n_w = problem.shape[0]
    level = np.full(n_w, np.nan)
    floor = np.zeros(n_w)
    rest = np.ones(n_w, dtype=bool)
    sol = None
    steps: list[tuple[float, float]] = []  # (level, gap): the LP's own, 0
    while rest.any():
        sol = solve_lp(problem, "max_min_served", floor=floor, among=rest)
        t = sol.objective_bound
        steps.append((t, 0.0))
        scale = t if t > 0 else 1.0
        held = np.where(rest, t, floor)
        fixed = np.zeros(n_w, dtype=bool)
        for w in np.flatnonzero(rest):
            alone = np.zeros(n_w, dtype=bool)
            alone[w] = True
            top = solve_lp(problem, "max_min_served", floor=held, among=alone).objective
            fixed[w] = top <= t + RISE * scale
        if not fixed.any():
            raise SolverError(
                "water-filling: every workload rose above the level it was raised to",
                status="no bottleneck",
                seconds=time.perf_counter() - started,
            )
        level[fixed] = t
        floor[fixed] = t * (1.0 - LEX_TOL)
        rest &= ~fixed
    if sol is None:  # no workload: nothing to serve
        sol = solve_lp(problem, "min_cost", floor=floor)
    return replace(
        sol,
        objective=float(level.min(initial=np.inf)) if n_w else 0.0,
        levels=level,
        level_gaps=tuple(steps),
        seconds=time.perf_counter() - started,
    )
