"""Price-directed decomposition of the min-cost placement LP (Dantzig–Wolfe over coupling rows).

The LP has one demand row per workload but only a few rows that couple workloads (one per pool,
the power cap, the vendor shares). With prices π ≥ 0 on the coupling rows G·usage ≤ b, the rest
splits into one tiny problem per workload, solved for all workloads at once with numpy:

    pricing(π):  for each w, min_x Σ_p r[p]·x[p]  s.t.  Σ_p a[w,p]·x[p] ≥ 1,  Σ_p x[p] ≤ M[w]
                 with r = c + πᵀG  — the cheapest pool by r[p]/a[w,p], or the best mix of two
                 pools when that pool alone would need more than M[w] accelerators.

Each pricing gives a whole-fleet proposal (cost C_j, coupling use R_j = G·usage_j). The master LP
chooses a convex combination of proposals, min Σ λ_j C_j s.t. Σ λ_j R_j ≤ b, Σ λ_j = 1 (with
penalised artificial slack, so that an infeasible fleet still yields the least violation), and
its row duals are the next prices. Bounds:

    upper  UB = master objective (a feasible plan once the artificials are zero)
    lower  LB(π) = Σ_w pricing_w(π) − πᵀb   (Lagrangian dual; valid for every π ≥ 0)

Accelerators held idle (a column per pool in the master) let a vendor-share floor be met when no
workload wants more of that vendor; at optimal prices no pool's price c + πᵀG is negative. The
loop stops when (UB − LB) / UB ≤ gap: the plan is optimal to that gap, proved by the
primal–dual pair. Prices are smoothed towards the best lower bound's (Wentges), which cuts the
number of rounds several-fold on large instances.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from polyfleet.errors import SolverError
from polyfleet.plan.lp import INF, new_highs, run_optimal
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.solution import Solution

F = NDArray[np.float64]
PAIR_CHUNK = 256


class _Proposal:
    """One whole-fleet pricing answer: pool per workload, plus two-pool mixes for capped ones."""

    __slots__ = ("cost", "mix", "p1", "usage", "x1_mix")

    def __init__(
        self,
        p1: NDArray[np.intp],
        mix: tuple[NDArray[np.intp], ...] | None,
        x1_mix: F | None,
        usage: F,
        cost: float,
    ) -> None:
        self.p1 = p1.astype(np.int16 if p1.size and p1.max() < 32_000 else np.int32)
        self.mix = mix  # (rows, q, x_q) for rows whose x at p1 is x1_mix, plus x_q at pool q
        self.x1_mix = x1_mix
        self.usage = usage
        self.cost = cost

    @classmethod
    def recosted(cls, prop: _Proposal, cost: float) -> _Proposal:
        """The same assignment at another cost (the cost vector changed, the usage did not)."""
        out = cls.__new__(cls)
        out.p1, out.mix, out.x1_mix, out.usage, out.cost = (
            prop.p1,
            prop.mix,
            prop.x1_mix,
            prop.usage,
            cost,
        )
        return out


class _Pricer:
    def __init__(self, problem: PlacementProblem) -> None:
        a = problem.a
        with np.errstate(divide="ignore"):
            self.inv = np.where(a > 0, 1.0 / np.where(a > 0, a, 1.0), np.inf)
        self.cap = problem.cap
        self.capped = np.flatnonzero(np.isfinite(problem.cap))
        self.cost = problem.cost
        self.n_w, self.n_p = a.shape
        self.rows = np.arange(self.n_w)

    def price(self, r: F) -> tuple[_Proposal, float]:
        """The proposal minimising Σ r·x over every workload, and that minimum."""
        inv = self.inv
        U = inv * r  # inf where ineligible
        p1 = np.argmin(U, axis=1)
        x1 = inv[self.rows, p1]
        val = U[self.rows, p1]
        mix = None
        x1_mix = None
        if self.capped.size:
            over = self.capped[x1[self.capped] > self.cap[self.capped] * (1 + 1e-12)]
            if over.size:
                p_best, q_best, xp, xq, v = self._capped(over, r)
                p1[over] = p_best
                x1[over] = xp
                val[over] = v
                has_q = q_best >= 0
                mix = (over[has_q], q_best[has_q], xq[has_q])
                x1_mix = xp
        usage = np.bincount(p1, weights=x1, minlength=self.n_p)
        if mix is not None:
            usage += np.bincount(mix[1], weights=mix[2], minlength=self.n_p)
        cost = float(self.cost @ usage)
        return _Proposal(p1, mix, x1_mix, usage, cost), float(val.sum())

    def _capped(self, rows: NDArray[np.intp], r: F) -> tuple[NDArray[np.intp], ...]:
        """Best single pool within the cap, or best two-pool mix that uses exactly the cap."""
        n = len(rows)
        p_out = np.empty(n, dtype=np.intp)
        q_out = np.full(n, -1, dtype=np.intp)
        xp_out = np.empty(n)
        xq_out = np.zeros(n)
        v_out = np.empty(n)
        for s in range(0, n, PAIR_CHUNK):
            sl = slice(s, s + PAIR_CHUNK)
            inv = self.inv[rows[sl]]
            M = self.cap[rows[sl]][:, None]
            fits = inv <= M * (1 + 1e-12)
            single = np.where(fits, inv * r, np.inf)
            ps = np.argmin(single, axis=1)
            vs = single[np.arange(len(ps)), ps]
            # pairs: p too big alone (a_p < 1/M), q within (a_q ≥ 1/M); x_p + x_q = M, a·x = 1
            with np.errstate(divide="ignore", invalid="ignore"):
                ap = np.where(np.isfinite(inv), 1.0 / inv, 0.0)
                A_p = ap[:, :, None]
                A_q = ap[:, None, :]
                Mx = M[:, :, None]
                xq = (1.0 - A_p * Mx) / (A_q - A_p)
                xpp = Mx - xq
                ok = (A_p > 0) & (~fits)[:, :, None] & fits[:, None, :] & (xq >= 0) & (xpp >= 0)
                pair = np.where(ok, r[None, :, None] * xpp + r[None, None, :] * xq, np.inf)
            flat = pair.reshape(len(inv), -1).argmin(axis=1)
            pp, qq = np.divmod(flat, self.n_p)
            vp = pair.reshape(len(inv), -1)[np.arange(len(inv)), flat]
            use_pair = vp < vs
            idx = np.arange(len(inv))
            p_out[sl] = np.where(use_pair, pp, ps)
            q_out[sl] = np.where(use_pair, qq, -1)
            xp_out[sl] = np.where(use_pair, xpp[idx, pp, qq], inv[idx, ps])
            xq_out[sl] = np.where(use_pair, xq[idx, pp, qq], 0.0)
            v_out[sl] = np.minimum(vp, vs)
        return p_out, q_out, xp_out, xq_out, v_out

    def x_of(self, prop: _Proposal) -> tuple[NDArray[np.intp], NDArray[np.intp], F]:
        """(rows, pools, accelerators) of a proposal."""
        p1 = prop.p1.astype(np.intp)
        x1 = self.inv[self.rows, p1]
        if prop.mix is None:
            return self.rows, p1, x1
        over = self.capped[
            self.inv[self.capped, p1[self.capped]] > self.cap[self.capped] * (1 + 1e-12)
        ]
        x1 = x1.copy()
        assert prop.x1_mix is not None
        x1[over] = prop.x1_mix
        rows_q, q, xq = prop.mix
        return (
            np.concatenate([self.rows, rows_q]),
            np.concatenate([p1, q]),
            np.concatenate([x1, xq]),
        )


@dataclass
class WarmStart:
    """What a solve leaves for the next one on a similar problem (same workloads and pools, other
    costs or limits): its proposals, still valid columns whatever the costs, and its prices."""

    proposals: list[_Proposal]
    duals: F  # per coupling row, USD per unit (as Solution.duals)
    rows: list[str]  # coupling row names the duals belong to


MAX_WARM_COLUMNS = 400


def solve_decomposed(
    problem: PlacementProblem,
    *,
    gap: float = 1e-6,
    max_rounds: int = 2000,
    smoothing: float = 0.9,
    time_limit: float = 600.0,
    warm: WarmStart | None = None,
) -> Solution:
    """Min-cost placement by decomposition; every workload must have an eligible pool within cap.

    With `warm` (from `Solution.warm_start` of a solve of the same workloads and pools), the
    master starts with that solve's proposals, re-costed, and pricing starts from its prices.
    """
    started = time.perf_counter()
    n_w, n_p = problem.shape
    pricer = _Pricer(problem)
    finite = np.isfinite(pricer.inv)
    if n_w and not finite.any(axis=1).all():
        raise ValueError("every workload needs at least one eligible pool before decomposition")
    coupling = problem.coupling()
    G, b = coupling.G, coupling.b
    n_k = len(b)
    typical = np.abs(G) @ np.maximum(problem.capacity, 1.0) / max(n_p, 1)
    scale = np.maximum(np.abs(b), np.maximum(typical, 1e-9))
    Gs, bs = G / scale[:, None], b / scale

    # the master works in units of the cheapest unconstrained fleet's cost, so its costs are ~1
    first, val0 = pricer.price(problem.cost.copy())
    unit = max(first.cost, 1e-9)
    cost = problem.cost / unit
    pricer.cost = cost
    first.cost /= unit
    val0 /= unit
    big = 1e3

    h = new_highs()
    h.setOptionValue("solver", "simplex")
    for k in range(n_k):
        h.addRow(-INF, float(bs[k]), 0, np.array([], dtype=np.int32), np.array([]))
    h.addRow(1.0, 1.0, 0, np.array([], dtype=np.int32), np.array([]))
    for k in range(n_k):
        h.addCol(big, 0.0, INF, 1, np.array([k], dtype=np.int32), np.array([-1.0]))
    for p in range(n_p):  # idle accelerators: what a share floor may make worth holding
        nz = np.flatnonzero(Gs[:, p])
        h.addCol(float(cost[p]), 0.0, INF, len(nz), nz.astype(np.int32), Gs[nz, p])
    n_fixed = n_k + n_p
    proposals: list[_Proposal] = []
    conv_idx = np.arange(n_k + 1, dtype=np.int32)

    def add(prop: _Proposal) -> None:
        coef = np.append(Gs @ prop.usage, 1.0)
        h.addCol(prop.cost, 0.0, INF, n_k + 1, conv_idx, coef)
        proposals.append(prop)

    add(first)
    best_lb = val0  # the Lagrangian bound at π = 0
    best_pi = np.zeros(n_k)
    if warm is not None and warm.proposals and warm.proposals[0].p1.shape[0] == n_w:
        for prop in warm.proposals[-MAX_WARM_COLUMNS:]:
            add(_Proposal.recosted(prop, float(cost @ prop.usage)))
        # the previous prices, on the rows both problems have, as the first stability centre
        prev = dict(zip(warm.rows, warm.duals, strict=True))
        pi0 = np.array([prev.get(name, 0.0) for name in coupling.names]) * scale / unit
        r0 = cost + pi0 @ Gs
        if r0.min() >= 0:
            prop0, val = pricer.price(np.maximum(r0, 1e-12 * cost.max()))
            add(prop0)
            lb0 = val - float(pi0 @ bs)
            if lb0 > best_lb:
                best_lb, best_pi = lb0, pi0
    ub = np.inf
    rounds = 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - rounds is reported
        run_optimal(h, started, "decomposition master")
        sol = h.getSolution()
        ub = h.getInfo().objective_function_value
        y = np.asarray(sol.row_dual)
        pi = np.maximum(-y[:n_k], 0.0)
        sigma = y[n_k]
        if (ub - best_lb) <= gap * max(abs(ub), 1e-9):
            break
        added = False
        centre = smoothing * best_pi + (1 - smoothing) * pi
        for point in (centre, pi) if smoothing > 0 else (pi,):
            r = cost + point @ Gs
            # a negative price makes holding idle accelerators pay: the Lagrangian is unbounded
            # there (no bound from this point), and pricing uses the positive part
            bounded = bool(r.min() >= 0)
            prop, val = pricer.price(np.maximum(r, 1e-12 * cost.max()))
            lb = val - float(point @ bs) if bounded else -np.inf
            if lb > best_lb:
                best_lb, best_pi = lb, point
            reduced = prop.cost + float(pi @ (Gs @ prop.usage)) - sigma
            if reduced < -1e-12 * max(abs(ub), 1.0):
                add(prop)
                added = True
                break
        if not added:
            best_lb = max(best_lb, ub)  # no improving column at the master's prices: optimal
            break
        if time.perf_counter() - started > time_limit:
            raise SolverError(
                "decomposition hit its time limit",
                status="time limit",
                seconds=time.perf_counter() - started,
            )

    sol = h.getSolution()
    col = np.asarray(sol.col_value)
    artificial = col[:n_k] * scale
    idle = col[n_k:n_fixed]
    lam = col[n_fixed:]
    rows_all, cols_all, vals_all = [], [], []
    for lj, prop in zip(lam, proposals, strict=True):
        if lj <= 1e-13:
            continue
        r_, c_, v_ = pricer.x_of(prop)
        rows_all.append(r_)
        cols_all.append(c_)
        vals_all.append(lj * v_)
    if rows_all:
        x = sp.csr_matrix(
            (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
            shape=(n_w, n_p),
        )
    else:
        x = sp.csr_matrix((n_w, n_p))
    x.sum_duplicates()
    x.eliminate_zeros()
    usage = np.asarray(x.sum(axis=0)).ravel() + idle
    served = np.asarray(x.multiply(problem.a).sum(axis=1)).ravel()
    total = float(problem.cost @ usage)
    violated = artificial > 1e-7 * np.maximum(scale, 1.0)
    y = np.asarray(sol.row_dual)
    duals = np.maximum(-y[:n_k], 0.0) * unit / scale
    keep = [proposals[j] for j in np.argsort(-lam, kind="stable")[:MAX_WARM_COLUMNS]]
    return Solution(
        warm_start=WarmStart(keep, duals, list(coupling.names)),
        x=x,
        status="infeasible" if violated.any() else "optimal",
        objective=total,
        cost_per_hour=total,
        served=served,
        duals=duals,
        usage=usage,
        idle=idle,
        method="decomposition",
        gap=max(0.0, (ub - best_lb) / max(abs(ub), 1e-9)),
        lower_bound=best_lb * unit,
        iterations=rounds,
        violation=np.where(violated, artificial, 0.0),
        seconds=time.perf_counter() - started,
    )
