"""Vendor-share rows: the one coefficient that holds a vendor's share of a measure to a bound.

    share of v   Σ_{p of v} m_p·u_p / Σ_p m_p·u_p                 (u: what is counted per column)
    max  s       Σ_p (1[vendor p = v] − s)·m_p·u_p ≤ 0
    min  s       Σ_p (s − 1[vendor p = v])·m_p·u_p ≤ 0
    m            1 (count), facility MW (power) or USD per hour (spend), by the share measure

Placement (u: accelerators used in a pool) and procurement (u: accelerators installed of a kind
in a year) both build their share rows with `share_coefficients`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["share_coefficients"]


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
