"""Pricing for the decomposition (plan/decompose.py): given a price per accelerator of each pool,
each workload's cheapest way to be served — one pool, or the best two-pool mix when its cap on
accelerators binds — for every workload at once with numpy. A whole-fleet answer is a Proposal,
one column of the decomposition's master LP."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from polyfleet.plan.problem import PlacementProblem

__all__ = ["Pricer", "Proposal"]

F = NDArray[np.float64]
PAIR_CHUNK = 256


class Proposal:
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
        self.mix = mix  # (rows, q, x_q): rows mixing x1_mix at p1 with x_q at pool q
        self.x1_mix = x1_mix
        self.usage = usage
        self.cost = cost

    @classmethod
    def recosted(cls, prop: Proposal, cost: float) -> Proposal:
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


class Pricer:
    """Per-workload pricing. Each workload's accelerators are capped at M[w] = min(its
    max_accelerators, all the accelerators of its eligible pools). The second is implied by the
    capacity rows, so it leaves the LP unchanged while those rows hold, and it keeps every
    proposal's size within the fleet's (a workload one pool could serve only with astronomically
    many accelerators gets a mix). Least-violation pricing (`implied(False)`) drops it: there
    the capacity rows may give, and the implied cap with them."""

    def __init__(self, problem: PlacementProblem) -> None:
        a = problem.a
        with np.errstate(divide="ignore"):
            inv = np.where(a > 0, 1.0 / np.where(a > 0, a, 1.0), np.inf)
        # accelerators per unit of demand, stored pool by pool: pricing scans one pool's column
        # at a time, a contiguous vector (several times faster than an argmin along short rows)
        self.invT = np.ascontiguousarray(inv.T)
        del inv
        eligible = a > 0
        held = np.where(eligible, problem.capacity[None, :], 0.0).sum(axis=1)
        fewest = self.inv.min(axis=1, initial=np.inf)
        if not (fewest <= problem.cap * (1 + 1e-9)).all():
            raise ValueError(
                "every workload needs an eligible pool within its cap before decomposition"
            )
        # a cap within round-off of the fewest accelerators is that many; a workload that needs
        # more than its pools hold gets at least what it needs (the capacity rows must give)
        self._caps = (
            np.maximum(problem.cap, fewest),
            np.maximum(np.minimum(problem.cap, held), fewest),
        )
        self.implied(True)
        self.cost = problem.cost
        self.n_w, self.n_p = a.shape
        self.rows = np.arange(self.n_w)
        self._best = np.empty(self.n_w)
        self._cur = np.empty(self.n_w)
        self._less = np.empty(self.n_w, dtype=bool)

    @property
    def inv(self) -> F:
        """Accelerators of pool p that serve all of workload w's demand (inf: ineligible)."""
        return self.invT.T

    def implied(self, on: bool) -> None:
        """Price with the implied cap (plans that meet capacity) or without (least violation)."""
        self.cap = self._caps[int(on)]
        self.cap_tol = self.cap * (1 + 1e-12)

    def price(self, r: F) -> tuple[Proposal, float]:
        """The proposal minimising Σ r·x over every workload, and that minimum."""
        p1, val = self._cheapest(r)
        x1 = self.invT[p1, self.rows]
        mix = None
        x1_mix = None
        over = np.flatnonzero(x1 > self.cap_tol)
        if over.size:
            p_best, q_best, xp, xq, v = self._capped(over, r)
            p1[over] = p_best
            x1[over] = xp
            val[over] = v
            has_q = q_best >= 0
            mix = (over[has_q], q_best[has_q], xq[has_q])
            x1_mix = xp[has_q]
        usage = np.bincount(p1, weights=x1, minlength=self.n_p)
        if mix is not None:
            usage += np.bincount(mix[1], weights=mix[2], minlength=self.n_p)
        cost = float(self.cost @ usage)
        return Proposal(p1, mix, x1_mix, usage, cost), float(val.sum())

    def _cheapest(self, r: F) -> tuple[NDArray[np.intp], F]:
        """Per workload, the pool with the least inv·r (the first such pool on a tie, as argmin
        picks) and that least value, one pool's column at a time."""
        best, cur, less = self._best, self._cur, self._less
        p1 = np.zeros(self.n_w, dtype=np.intp)
        with np.errstate(invalid="ignore"):
            np.multiply(self.invT[0], r[0], out=best)
            if r[0] == 0:  # a free pool: inf·0 is NaN, and ineligible cells must stay out
                best[np.isnan(best)] = np.inf
            for q in range(1, self.n_p):
                np.multiply(self.invT[q], r[q], out=cur)
                if r[q] == 0:
                    cur[np.isnan(cur)] = np.inf
                np.less(cur, best, out=less)
                np.copyto(p1, q, where=less)
                np.minimum(best, cur, out=best)
        return p1, best.copy()

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
            inv = self.invT[:, rows[sl]].T
            M = self.cap[rows[sl]][:, None]
            fits = inv <= M * (1 + 1e-12)
            with np.errstate(invalid="ignore"):
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

    def x_of(self, prop: Proposal) -> tuple[NDArray[np.intp], NDArray[np.intp], F]:
        """(rows, pools, accelerators) of a proposal."""
        p1 = prop.p1.astype(np.intp)
        x1 = self.invT[p1, self.rows]
        if prop.mix is None:
            return self.rows, p1, x1
        assert prop.x1_mix is not None
        rows_q, q, xq = prop.mix
        x1 = x1.copy()
        x1[rows_q] = prop.x1_mix
        return (
            np.concatenate([self.rows, rows_q]),
            np.concatenate([p1, q]),
            np.concatenate([x1, xq]),
        )
