"""The vendor-share coefficient, shared by placement and procurement."""

from __future__ import annotations

import numpy as np
import pytest

from polyfleet.plan.problem import PlacementProblem, ShareBound
from polyfleet.plan.shares import share_coefficients, share_point, vendor_shares, vendor_totals


def test_max_and_min_coefficients_by_hand():
    in_amd = np.array([True, False, True])
    assert share_coefficients(in_amd, "max", 0.5, np.ones(3)).tolist() == [0.5, -0.5, 0.5]
    # a floor of 25 % for the others, weighted by MW per accelerator
    assert share_coefficients(~in_amd, "min", 0.25, [1.0, 2.0, 4.0]).tolist() == [0.25, -1.5, 1.0]
    with pytest.raises(ValueError, match="'max' or 'min'"):
        share_coefficients(in_amd, "most", 0.5, np.ones(3))


def test_a_share_row_holds_the_share_where_it_is_zero():
    """Σ coef·u ≤ 0 exactly when the vendor's weighted share is within the bound."""
    in_v, m = np.array([True, False, False]), np.array([1.0, 3.0, 2.0])
    coef = share_coefficients(in_v, "max", 0.4, m)
    for u in ([2.0, 1.0, 0.5], [4.0, 1.0, 0.5], [1.0, 0.0, 0.0]):
        share = (m * u)[in_v].sum() / (m * u).sum()
        assert (coef @ u <= 1e-12) == (share <= 0.4 + 1e-12)


def test_placement_share_rows_use_the_shared_coefficient():
    problem = PlacementProblem(
        workloads=["w"],
        pools=["a1", "n1", "a2"],
        T=np.ones((1, 3)),
        demand=np.ones(1),
        cap=np.full(1, np.inf),
        cost=np.array([2.0, 5.0, 3.0]),
        mw=np.array([0.001, 0.002, 0.004]),
        capacity=np.full(3, 10.0),
        pool_vendor=np.array([0, 1, 0]),
        vendors=["amd", "nvidia"],
        share_measure="spend",
        shares=(ShareBound("amd", "max", 0.6), ShareBound("nvidia", "min", 0.2)),
    )
    rows = problem.coupling()
    assert rows.keys[-2:] == (("share_max", "amd"), ("share_min", "nvidia"))
    assert rows.names[-2:] == ["share_max:amd", "share_min:nvidia"]  # rendered from the keys
    assert rows.G[-2].tolist() == pytest.approx([0.4 * 2, -0.6 * 5, 0.4 * 3])
    assert rows.G[-1].tolist() == pytest.approx([0.2 * 2, -0.8 * 5, 0.2 * 3])


def test_vendor_shares_and_totals_by_hand():
    usage = np.array([10.0, 30.0, 20.0])  # pools of amd, nvidia, amd
    of = np.array([0, 1, 0])
    mw = np.array([1.0, 2.0, 0.5])
    # by count: amd 30 of 60; by power: amd 10 + 10 = 20 of 80 MW
    assert vendor_shares(usage, of, ["amd", "nvidia"], np.ones(3)) == {"amd": 0.5, "nvidia": 0.5}
    assert vendor_shares(usage, of, ["amd", "nvidia"], mw) == {"amd": 0.25, "nvidia": 0.75}
    assert vendor_shares(np.zeros(3), of, ["amd", "nvidia"], mw) == {"amd": 0.0, "nvidia": 0.0}
    # one point of the power measure is 0.8 MW
    assert share_point(usage, mw) == pytest.approx(0.8)
    # totals keep further axes (procurement: kinds × years)
    per_year = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    totals = vendor_totals(per_year, of, ["amd", "nvidia"], mw)
    assert totals["amd"].tolist() == [1.0 + 2.5, 2.0 + 3.0]
    assert totals["nvidia"].tolist() == [6.0, 8.0]
