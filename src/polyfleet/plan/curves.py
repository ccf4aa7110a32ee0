"""What serving part of each workload's demand costs at given prices per accelerator.

For prices r[p] ≥ 0 per accelerator of pool p, the least cost of serving fraction s of workload w

    c_w(s) = min_x Σ_p r[p]·x[p]   s.t.   Σ_p a[w,p]·x[p] ≥ s,   Σ_p x[p] ≤ M[w],   x ≥ 0

is convex and piecewise linear in s. Without a cap (M = ∞) it is the line ρ_w·s, ρ_w = min_p
r[p]/a[w,p]: the cheapest pool per unit served. With a cap, c_w(s) = M·g(s/M), g the lower convex
envelope of the origin and the points (a[w,p], r[p]): its vertices are the pools worth using as s
grows (fill the cap with the cheapest per unit served, then trade it for faster, dearer ones), and
its domain ends at s = M·max_p a[w,p]. A workload with no eligible pool can only be served s = 0.

`ServiceCurves(problem).at(r)` builds every workload's curve at once: ρ in one pass over the
uncapped rows; the envelopes of the capped rows by gift-wrapping from the origin, one step per
vertex, each step vectorised over the rows that have not reached their largest a. Capped rows are
kept pool-major (one contiguous vector per pool or vertex), so that a step is a few passes over
vectors however few the pools. The decomposition of the served objectives
(`polyfleet.plan.served`) prices with these curves.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from polyfleet.plan.problem import PlacementProblem

__all__ = ["Curves", "Group", "Mix", "ServiceCurves", "mix_assignment", "mix_usage"]

F = NDArray[np.float64]
Ix = NDArray[np.intp]
#: Rows per chunk of the envelope computation: its temporaries (64 KiB) stay below the size
#: at which the allocator maps fresh pages for every array.
CHUNK = 8192
#: Below this many breakpoints the crossing is found by one sort (`_crossing`).
SORT_BELOW = 512


class ServiceCurves:
    """What does not change with the prices: 1/a, the caps, which rows are capped or dead."""

    def __init__(self, problem: PlacementProblem) -> None:
        a = problem.a
        self.n_w, self.n_p = a.shape
        eligible = a > 0
        dead = ~eligible.any(axis=1)
        capped = np.isfinite(problem.cap) & ~dead
        self.dead = np.flatnonzero(dead)
        self.capped = np.flatnonzero(capped)
        self.free = np.flatnonzero(~capped & ~dead)  # uncapped: a line through the origin
        with np.errstate(divide="ignore"):
            inv = np.where(eligible, 1.0 / np.where(eligible, a, 1.0), np.inf)
        self.inv_free = inv[self.free]
        self.buffer = np.empty_like(self.inv_free)  # for the products r/a of one pricing
        self.a_free = a[self.free]
        self.aT = np.ascontiguousarray(a[self.capped].T)  # pool-major
        self.invT = np.ascontiguousarray(inv[self.capped].T)
        self.M = problem.cap[self.capped].astype(float)
        self.top = self.aT.max(axis=0, initial=0.0)  # largest a per capped row
        self.kind = np.zeros(self.n_w, dtype=np.int8)  # 0 free, 1 capped, 2 dead
        self.kind[self.capped] = 1
        self.kind[self.dead] = 2
        self.pos = np.zeros(self.n_w, dtype=np.intp)  # position within its kind's rows
        self.pos[self.free] = np.arange(self.free.size)
        self.pos[self.capped] = np.arange(self.capped.size)
        # the most each row can be served (∞ for the uncapped, whatever the prices)
        self.s_end = np.zeros(self.n_w)
        self.s_end[self.free] = np.inf
        self.s_end[self.capped] = self.M * self.top
        # the envelopes and the capped rows' assignment, rewritten by every pricing: reused,
        # since a fresh array this large per pricing costs more in page faults than its use
        n_c, L = self.capped.size, max(self.n_p, 1)
        self.envelope = (np.zeros((L, n_c)), np.zeros((L, n_c)), np.zeros((L, n_c), np.intp))
        self.slopes = np.full((L, n_c), np.inf)
        self.mix = (np.zeros(n_c, np.intp), np.zeros(n_c), np.zeros(n_c, np.intp), np.zeros(n_c))
        self.generation = 0

    def at(self, r: F) -> Curves:
        """Every workload's cost curve at prices r (≥ 0 per accelerator of each pool). The
        curves share this object's arrays: they hold until the next `at`."""
        self.generation += 1
        return Curves(self, np.maximum(r, 0.0))


class Group:
    """Some workloads (`among`) split by kind once, for repeated pricing of a shared level:
    positions of the uncapped and the capped rows (a slice when they are all the capped rows),
    whether one can be served nothing, and where the capped rows' domains end."""

    def __init__(self, base: ServiceCurves, among: Ix) -> None:
        kind = base.kind[among]
        self.dead = bool((kind == 2).any())
        self.free = base.pos[among[kind == 0]]
        pos = base.pos[among[kind == 1]]
        whole = pos.size == base.capped.size and bool((pos == np.arange(pos.size)).all())
        self.capped: Ix | slice | None = None if pos.size == 0 else slice(None) if whole else pos
        self.t_end = float(base.s_end[among[kind == 1]].min(initial=np.inf))


class Curves:
    """The cost curves at one price vector: ρ and its pool for the uncapped rows; for the capped
    rows the envelope's vertices VA (a), VV (r), VP (pool), each (vertex, row) and padded with
    the row's last vertex, and the slope of each segment (segment l runs from vertex l−1, the
    origin for l = 0, to vertex l; ∞ past the last vertex: the domain's end)."""

    def __init__(self, base: ServiceCurves, r: F) -> None:
        self.base, self.r = base, r
        self.generation = base.generation
        self.rho, self.p_free = _cheapest(base.inv_free, base.a_free, r, base.buffer)
        self.VA, self.VV, self.VP, self.slope, self.nv = _envelopes(base, r)

    def _check(self) -> None:
        if self.generation != self.base.generation:
            raise RuntimeError("these curves were overwritten by a later pricing")

    # ---- the capped rows' envelopes ---------------------------------------------------------
    def _capped(self, s: F) -> tuple[Ix, Ix, F, Ix, F]:
        """Capped rows served: (positions, right pool, its accelerators, left pool (−1: the
        origin), its accelerators), in the base's reused arrays, chunk by chunk: the segment
        holding u = s/M, and the mix of its two ends (or of the origin and its end) serving s."""
        self._check()
        b = self.base
        sc = s[b.capped]
        cols = np.flatnonzero(sc > 0)
        m = cols.size
        right, x_r, left, x_l = (a[:m] for a in b.mix)
        whole = m == sc.size
        n = self.VA.shape[1]
        VA, VP = self.VA.ravel(), self.VP.ravel()
        with np.errstate(invalid="ignore", divide="ignore"):
            for lo in range(0, m, CHUNK):
                c = slice(lo, min(lo + CHUNK, m))
                at = cols[c]
                cut = slice(at[0], at[-1] + 1) if whole else at
                M = b.M[cut]
                u = sc[cut] / M
                i = np.zeros(len(at), dtype=np.intp)
                for row in self.VA[:, cut]:
                    i += row < u
                np.minimum(i, self.nv[cut] - 1, out=i)
                k = i * n + at
                kl = np.maximum(k - n, 0)
                la = np.where(i > 0, VA.take(kl), 0.0)
                ra = VA.take(k)
                beta = np.where(ra > la, (u - la) / (ra - la), 1.0)
                right[c] = VP.take(k)
                x_r[c] = M * beta
                left[c] = np.where(i > 0, VP.take(kl), -1)
                x_l[c] = M * (1.0 - beta)
        return cols, right, x_r, left, x_l

    def mix(self, s: F) -> Mix:
        """The capped rows' part of the least-cost service of s, kept (copied) for later."""
        return tuple(a.copy() for a in self._capped(s))  # type: ignore[return-value]

    def assignment(self, s: F) -> tuple[Ix, Ix, F]:
        """(rows, pools, accelerators) of the least-cost way to serve s_w of every workload."""
        b = self.base
        keep = s[b.free] > 0
        p = self.p_free[keep]
        rows, pools = [b.free[keep]], [p]
        accs = [s[b.free][keep] * b.inv_free[keep, p]]
        if b.capped.size:
            r2, p2, a2 = mix_assignment(b, self._capped(s))
            rows.append(r2)
            pools.append(p2)
            accs.append(a2)
        return np.concatenate(rows), np.concatenate(pools), np.concatenate(accs)

    def usage(self, s: F) -> F:
        """Accelerators per pool the least-cost service of s uses."""
        b = self.base
        n_p = b.n_p
        x_free = s[b.free] * b.inv_free.ravel().take(np.arange(b.free.size) * n_p + self.p_free)
        out = np.zeros(n_p)
        if b.free.size:
            out += np.bincount(
                self.p_free, weights=np.where(s[b.free] > 0, x_free, 0.0), minlength=n_p
            )
        if b.capped.size:
            out += mix_usage(n_p, self._capped(s))
        return out

    def rise_cost(self, s: F) -> F:
        """c_w'(s_w+): what serving a little more than s_w costs per unit served (∞ where s_w
        is within 1e-9 of the most the workload can be served: the end of its domain, which
        s = M·max a reaches only to round-off)."""
        b = self.base
        out = np.full(b.n_w, np.inf)
        out[b.free] = self.rho
        if b.capped.size:
            self._check()
            u = s[b.capped] / b.M
            i = np.zeros(b.capped.size, dtype=np.intp)
            for row in self.VA:
                i += row <= u  # vertices at or below u: the next segment starts there
            n = self.VA.shape[1]
            past = (i >= self.nv) | (s[b.capped] >= b.s_end[b.capped] * (1.0 - 1e-9))
            k = np.minimum(i, self.VA.shape[0] - 1) * n + np.arange(n)
            out[b.capped] = np.where(past, np.inf, self.slope.ravel().take(k))
        return out

    # ---- the best service level ------------------------------------------------------------
    def best_each(self, value: F, lo: F, hi: F) -> F:
        """Per workload, the least s in [lo, hi] that maximises value_w·s − c_w(s)."""
        b = self.base
        s = lo.copy()
        f = b.free
        s[f] = np.where(value[f] > self.rho, hi[f], lo[f])
        if b.capped.size:
            self._check()
            c = b.capped
            v = value[c]
            k = np.zeros(c.size, dtype=np.intp)  # segments worth more than they cost
            for row in self.slope:
                k += row < v
            top = self.VA[np.maximum(k - 1, 0), np.arange(c.size)]
            s[c] = np.clip(np.where(k > 0, b.M * top, 0.0), lo[c], hi[c])
        return s

    def best_common(
        self, value: float, among: Ix | Group, t_max: float = np.inf
    ) -> tuple[float, bool]:
        """The least t in [0, t_max] that maximises value·t − Σ_{w ∈ among} c_w(t): (t, False),
        or (1, True) when that grows without bound (a ray; t = 1 is its direction)."""
        g = among if isinstance(among, Group) else Group(self.base, among)
        if g.dead:
            return 0.0, False
        slope0 = value - float(self.rho[g.free].sum())
        if g.capped is None:
            if slope0 <= 0:
                return 0.0, False
            return (t_max, False) if np.isfinite(t_max) else (1.0, True)
        self._check()
        pos = g.capped
        t_end = min(g.t_end, t_max)
        slope0 -= float(self.slope[0, pos].sum())
        if slope0 <= 0:
            return 0.0, False
        # where a row moves to a steeper segment, and by how much its slope grows there
        idx = np.arange(self.VA.shape[1])[pos]
        ats, incs = [], []
        for lo in range(0, idx.size, CHUNK):
            c = idx[lo : lo + CHUNK]
            cut = slice(c[0], c[-1] + 1) if isinstance(pos, slice) else c
            sl = self.slope[:, cut]
            at = self.base.M[cut][None, :] * self.VA[:-1, cut]
            ok = np.isfinite(sl[1:]) & (at < t_end)
            ats.append(at[ok])
            incs.append(sl[1:][ok] - sl[:-1][ok])
        t = _crossing(np.concatenate(ats), np.concatenate(incs), slope0)
        return (t_end if t is None else t), False


Mix = tuple[Ix, Ix, F, Ix, F]  # capped positions, right pool and accelerators, left ones


def mix_usage(n_p: int, mix: Mix) -> F:
    """Accelerators per pool of the capped rows' part of a service (`Curves.mix`)."""
    _, right, x_r, left, x_l = mix
    two = left >= 0
    return np.bincount(right, weights=x_r, minlength=n_p) + np.bincount(
        left[two], weights=x_l[two], minlength=n_p
    )


def mix_assignment(base: ServiceCurves, mix: Mix) -> tuple[Ix, Ix, F]:
    """(rows, pools, accelerators) of the capped rows' part of a service."""
    pos, right, x_r, left, x_l = mix
    two = left >= 0
    rows = base.capped[pos]
    return (
        np.concatenate([rows, rows[two]]),
        np.concatenate([right, left[two]]),
        np.concatenate([x_r, x_l[two]]),
    )


def _crossing(at: F, inc: F, need: float) -> float | None:
    """The least breakpoint t with Σ_{at ≤ t} inc ≥ need (inc ≥ 0), or None when the sum never
    gets there: a weighted selection by halving around partition pivots, then one small sort."""
    if not inc.sum() >= need:
        return None
    while at.size > SORT_BELOW:
        k = at.size // 2
        pivot = np.partition(at, k)[k]
        left = at <= pivot
        below = float(inc[left].sum())
        if below >= need:
            if left.all():
                break
            at, inc = at[left], inc[left]
        else:
            need -= below
            at, inc = at[~left], inc[~left]
    order = np.argsort(at, kind="stable")
    total = np.cumsum(inc[order])
    j = min(int(np.searchsorted(total, need, side="left")), len(order) - 1)
    return float(at[order[j]])


def _cheapest(inv: F, a: F, r: F, buf: F) -> tuple[F, Ix]:
    """ρ = min_p r[p]/a[w,p] and its pool per row; among free pools, the fastest. `buf` (the
    shape of `inv`) takes the products: a fresh array of that size per call costs more in page
    faults than the products themselves."""
    n, n_p = inv.shape
    if inv.size == 0:
        return np.zeros(n), np.zeros(n, dtype=np.intp)
    U = buf
    with np.errstate(invalid="ignore"):
        np.multiply(inv, r, out=U)  # ∞ where ineligible; NaN where ineligible and free
    free = r <= 0
    if free.any():
        U[:, free] = np.where(np.isinf(inv[:, free]), np.inf, 0.0)
    p = np.argmin(U, axis=1)
    flat = np.arange(n) * n_p + p
    rho = U.ravel().take(flat)
    if free.any():  # ties at zero price: the free pool that needs the fewest accelerators
        fp = np.flatnonzero(free)
        zero = np.flatnonzero(rho == 0)
        p[zero] = fp[np.argmax(a[zero][:, fp], axis=1)]
    return rho, p


def _envelopes(base: ServiceCurves, r: F) -> tuple[F, F, Ix, F, Ix]:
    """Lower convex envelope from the origin of the points (a[p,w], r[p]) of the capped rows
    (pool-major): VA, VV, VP and the segments' slopes (vertex, row), each row padded with its
    last vertex (slope ∞ past it), and the vertex count per row; written into the base's
    arrays. Rows go in chunks whose temporaries stay small."""
    aT, invT, top = base.aT, base.invT, base.top
    VA, VV, VP = base.envelope
    SL = base.slopes
    n_p, n = aT.shape
    nv = np.zeros(n, dtype=np.intp)
    if n == 0 or n_p == 0:
        return VA[:1], VV[:1], VP[:1], SL[:1], nv
    used = 1
    for lo in range(0, n, CHUNK):
        sl = slice(lo, min(lo + CHUNK, n))
        k = _wrap(aT[:, sl], invT[:, sl], top[sl], r, VA[:, sl], VV[:, sl], VP[:, sl], SL[:, sl])
        nv[sl] = k
        used = max(used, int(k.max(initial=1)))
    return VA[:used], VV[:used], VP[:used], SL[:used], nv


def _wrap(aT: F, invT: F, top: F, r: F, VA: F, VV: F, VP: Ix, SL: F) -> Ix:
    """Gift-wrapping for one chunk of rows, into VA, VV, VP, SL: the next vertex has the least
    slope from the current one (of collinear points each may be a vertex: the envelope is the
    same); a row whose vertex has its largest a has no point ahead and keeps it. Selections
    are arithmetic on the pool index and one gather per step (masked writes cost several times
    more per element). Returns the vertex count per row."""
    n_p, n = aT.shape
    flat = aT.ravel()
    cols = np.arange(n)
    pick = np.zeros(n, dtype=np.intp)
    best = np.full(n, np.inf)
    for p in range(n_p):  # first vertex: least r/a (from the origin)
        u = invT[p] * r[p] if r[p] > 0 else np.where(invT[p] < np.inf, 0.0, np.inf)
        pick += (u < best) * (p - pick)
        np.minimum(best, u, out=best)
    ca, cv = flat.take(pick * n + cols), r.take(pick)
    VA[:], VV[:], VP[:] = ca, cv, pick
    SL[0] = best
    SL[1:] = np.inf
    nv = np.ones(n, dtype=np.intp)
    step = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        while step < n_p:
            moving = ca < top
            if not moving.any():
                break
            best = np.full(n, np.inf)
            for p in range(n_p):
                da = aT[p] - ca
                slope = (r[p] - cv) / da
                slope[da <= 0] = np.inf
                pick += (slope < best) * (p - pick)
                np.minimum(best, slope, out=best)
            ca, cv = flat.take(pick * n + cols), r.take(pick)
            VA[step:], VV[step:], VP[step:] = ca, cv, pick
            SL[step] = best
            nv += moving
            step += 1
    return nv
