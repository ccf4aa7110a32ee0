"""Vendor shares: how much of a measure each vendor holds, and the one row that bounds it.

    share of v   Σ_{p of v} m_p·u_p / Σ_p m_p·u_p                 (u: what is counted per column)
    max  s       Σ_p (1[vendor p = v] − s)·m_p·u_p ≤ 0
    min  s       Σ_p (s − 1[vendor p = v])·m_p·u_p ≤ 0
    m            1 (count), facility MW (power) or USD per hour (spend), by the share measure

Placement (u: accelerators used in a pool) and procurement (u: accelerators installed of a kind
in a year) both build their share rows with `share_coefficients` and measure shares with
`vendor_totals` / `vendor_shares`. A share row's limit, dual and violation are in units of the
measure; `share_point` is what one point (1 %) of the share comes to in those units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["share_coefficients", "share_point", "vendor_shares", "vendor_totals"]


def share_coefficients(
    in_vendor: ArrayLike, bound: str, share: float, weight: ArrayLike
) -> NDArray[np.float64]:
    """Coefficients of the row `Σ coef·u ≤ 0` that keeps vendor v's share at most (`bound` =
    "max") or at least ("min") `share`; `in_vendor` marks the columns of v, `weight` is m."""
    is_v = np.asarray(in_vendor).astype(float)
    m = np.asarray(weight, dtype=float)
    if bound == "max":
        return (is_v - share) * m
    if bound == "min":
        return (share - is_v) * m
    raise ValueError(f"share bound must be 'max' or 'min', got {bound!r}")


def vendor_totals(
    usage: ArrayLike, column_vendor: ArrayLike, vendors: Sequence[str], weight: ArrayLike
) -> dict[str, NDArray[np.float64]]:
    """Σ_{p of v} m_p·u_p per vendor. `column_vendor` is each column's index into `vendors`;
    `usage` has one row per column (and may have more axes, e.g. years: the totals keep them)."""
    u = np.asarray(usage, dtype=float)
    m = np.asarray(weight, dtype=float).reshape(-1, *([1] * (u.ndim - 1)))
    of = np.asarray(column_vendor, dtype=np.intp)
    in_v = of[None, :] == np.arange(len(vendors))[:, None]  # vendors × columns
    totals = np.tensordot(in_v.astype(float), m * u, axes=1)
    return {v: totals[i] for i, v in enumerate(vendors)}


def vendor_shares(
    usage: ArrayLike, column_vendor: ArrayLike, vendors: Sequence[str], weight: ArrayLike
) -> dict[str, float]:
    """Each vendor's share of Σ_p m_p·u_p (all 0 when nothing is used)."""
    totals = vendor_totals(usage, column_vendor, vendors, weight)
    whole = float(sum(float(t) for t in totals.values()))
    return {v: float(t) / whole if whole > 0 else 0.0 for v, t in totals.items()}


def share_point(usage: ArrayLike, weight: ArrayLike) -> float:
    """One share point (1 % of Σ_p m_p·u_p) in units of the measure: a share row's violation
    over it is in points, and its dual times it is the saving per point."""
    return 0.01 * float(np.asarray(weight, dtype=float) @ np.asarray(usage, dtype=float))
