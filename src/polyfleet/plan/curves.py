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

__all__ = ["Curves", "ServiceCurves"]

F = NDArray[np.float64]
Ix = NDArray[np.intp]
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

    def at(self, r: F) -> Curves:
        """Every workload's cost curve at prices r (≥ 0 per accelerator of each pool)."""
        return Curves(self, np.maximum(r, 0.0))


class Curves:
    """The cost curves at one price vector: ρ and its pool for the uncapped rows; for the capped
    rows the envelope's vertices VA (a), VV (r), VP (pool), each (vertex, row) and padded with
    the row's last vertex, and the slope of each segment (segment l runs from vertex l−1, the
    origin for l = 0, to vertex l; ∞ past the last vertex: the domain's end)."""

    def __init__(self, base: ServiceCurves, r: F) -> None:
        self.base, self.r = base, r
        self.rho, self.p_free = _cheapest(base.inv_free, base.a_free, r, base.buffer)
        self.VA, self.VV, self.VP, self.nv = _envelopes(base.aT, base.invT, base.top, r)
        slope = np.empty_like(self.VA)
        if len(slope):
            slope[0] = self.VV[0] / self.VA[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                slope[1:] = np.diff(self.VV, axis=0) / np.diff(self.VA, axis=0)
            slope[np.arange(len(slope))[:, None] >= self.nv[None, :]] = np.inf
        self.slope = slope

    # ---- the capped rows' envelopes ---------------------------------------------------------
    def _segment(self, pos: Ix | slice, cols: Ix, u: F) -> tuple[Ix, F, F]:
        """For capped rows (`pos`: positions or all; `cols`: the same as indices) at u = s/M:
        the segment and its left vertex (a, r)."""
        VA = self.VA[:, pos]
        i = np.zeros(len(cols), dtype=np.intp)
        for row in VA:
            i += row < u
        np.minimum(i, self.nv[pos] - 1, out=i)
        left = np.maximum(i - 1, 0)
        la = np.where(i > 0, self.VA[left, cols], 0.0)
        lv = np.where(i > 0, self.VV[left, cols], 0.0)
        return i, la, lv

    def _capped(self, s: F) -> tuple[Ix, Ix, F, Ix, F]:
        """Capped rows served: (positions, right pool, its accelerators, left pool (−1: the
        origin), its accelerators)."""
        b = self.base
        sc = s[b.capped]
        cols = np.flatnonzero(sc > 0)
        pos: Ix | slice = slice(None) if cols.size == sc.size else cols
        M = b.M[pos]
        u = sc[pos] / M
        i, la, _ = self._segment(pos, cols, u)
        ra = self.VA[i, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(ra > la, (u - la) / (ra - la), 1.0)
        left = np.where(i > 0, self.VP[np.maximum(i - 1, 0), cols], -1)
        return cols, self.VP[i, cols], M * beta, left, M * (1.0 - beta)

    def assignment(self, s: F) -> tuple[Ix, Ix, F]:
        """(rows, pools, accelerators) of the least-cost way to serve s_w of every workload."""
        b = self.base
        keep = s[b.free] > 0
        p = self.p_free[keep]
        rows, pools = [b.free[keep]], [p]
        accs = [s[b.free][keep] * b.inv_free[keep, p]]
        if b.capped.size:
            pos, right, x_r, left, x_l = self._capped(s)
            mix = left >= 0
            rows += [b.capped[pos], b.capped[pos][mix]]
            pools += [right, left[mix]]
            accs += [x_r, x_l[mix]]
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
            _, right, x_r, left, x_l = self._capped(s)
            out += np.bincount(right, weights=x_r, minlength=n_p)
            mix = left >= 0
            out += np.bincount(left[mix], weights=x_l[mix], minlength=n_p)
        return out

    # ---- the best service level ------------------------------------------------------------
    def best_each(self, value: F, lo: F, hi: F) -> F:
        """Per workload, the least s in [lo, hi] that maximises value_w·s − c_w(s)."""
        b = self.base
        s = lo.copy()
        f = b.free
        s[f] = np.where(value[f] > self.rho, hi[f], lo[f])
        if b.capped.size:
            c = b.capped
            v = value[c]
            k = np.zeros(c.size, dtype=np.intp)  # segments worth more than they cost
            for row in self.slope:
                k += row < v
            top = self.VA[np.maximum(k - 1, 0), np.arange(c.size)]
            s[c] = np.clip(np.where(k > 0, b.M * top, 0.0), lo[c], hi[c])
        return s

    def best_common(self, value: float, among: Ix, t_max: float = np.inf) -> tuple[float, bool]:
        """The least t in [0, t_max] that maximises value·t − Σ_{w ∈ among} c_w(t): (t, False),
        or (1, True) when that grows without bound (a ray; t = 1 is its direction)."""
        b = self.base
        kind = b.kind[among]
        if (kind == 2).any():
            return 0.0, False
        slope0 = value - float(self.rho[b.pos[among[kind == 0]]].sum())
        pos = b.pos[among[kind == 1]]
        if pos.size == 0:
            if slope0 <= 0:
                return 0.0, False
            return (t_max, False) if np.isfinite(t_max) else (1.0, True)
        whole = pos.size == b.capped.size  # every capped row (pos is then all of them, in order)
        sl = self.slope if whole else self.slope[:, pos]
        VA = self.VA if whole else self.VA[:, pos]
        M = b.M if whole else b.M[pos]
        t_end = min(float((M * VA[-1]).min()), t_max)
        slope0 -= float(sl[0].sum())
        if slope0 <= 0:
            return 0.0, False
        # where a row moves to a steeper segment, and by how much its slope grows there
        at = M[None, :] * VA[:-1]
        real = np.isfinite(sl[1:])
        ok = real & (at < t_end)
        inc = sl[1:][ok] - sl[:-1][ok]
        t = _crossing(at[ok], inc, slope0)
        return (t_end if t is None else t), False


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


def _envelopes(aT: F, invT: F, top: F, r: F) -> tuple[F, F, Ix, Ix]:
    """Lower convex envelope from the origin of the points (a[p,w], r[p]), one column per row
    (pool-major input), by gift-wrapping: the next vertex has the least slope from the current
    one (of collinear points each may be a vertex: the envelope is the same). A row whose vertex
    has its largest a has no point ahead and keeps its last vertex (the padding). Returns VA,
    VV, VP (vertex, row) and the vertex count per row. Selections are arithmetic on the pool
    index and one gather per step: masked writes cost several times more per element."""
    n_p, n = aT.shape
    if n == 0 or n_p == 0:
        z = np.zeros((1, n))
        return z, z.copy(), np.zeros((1, n), dtype=np.intp), np.zeros(n, dtype=np.intp)
    flat = aT.ravel()
    cols = np.arange(n)
    pick = np.zeros(n, dtype=np.intp)
    best = np.full(n, np.inf)
    for p in range(n_p):  # first vertex: least r/a (from the origin)
        u = invT[p] * r[p] if r[p] > 0 else np.where(invT[p] < np.inf, 0.0, np.inf)
        pick += (u < best) * (p - pick)
        np.minimum(best, u, out=best)
    ca, cv = flat.take(pick * n + cols), r.take(pick)
    VA, VV, VP = [ca], [cv], [pick]
    nv = np.ones(n, dtype=np.intp)
    while True:
        moving = ca < top
        if not moving.any():
            break
        pick = pick.copy()
        best = np.full(n, np.inf)
        for p in range(n_p):
            da = aT[p] - ca
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = (r[p] - cv) / da
            slope[da <= 0] = np.inf
            pick += (slope < best) * (p - pick)
            np.minimum(best, slope, out=best)
        ca, cv = flat.take(pick * n + cols), r.take(pick)
        VA.append(ca)
        VV.append(cv)
        VP.append(pick)
        nv += moving
    return np.array(VA), np.array(VV), np.array(VP), nv
