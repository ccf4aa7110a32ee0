"""The model builder: blocks at known columns and rows, one matrix, slacks paired by key."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from polyfleet.plan.blocks import ModelBuilder, Slack, row_name
from polyfleet.plan.lp import INF


def _two_blocks() -> ModelBuilder:
    b = ModelBuilder()
    b.add_columns("u", (2, 3), cost=np.arange(6.0).reshape(2, 3), integer=True)
    b.add_columns("v", (2,), hi=5.0)
    return b


def test_blocks_are_stacked_in_order_and_read_back_by_name():
    b = _two_blocks()
    b.add_rows(
        "cap",
        [("cap", "a"), ("cap", "b")],
        hi=[10.0, 20.0],
        terms={"u": sp.kron(sp.eye(2), np.ones((1, 3))), "v": -np.eye(2)},
        slack=Slack("over", cost=7.0),
    )
    b.add_rows("floor", [("floor", 2027)], lo=1.0, terms={"v": np.array([[1.0, 2.0]])})
    m = b.build()
    assert m.cols == {"u": slice(0, 6), "v": slice(6, 8), "over": slice(8, 10)}
    assert m.cost.tolist() == [0, 1, 2, 3, 4, 5, 0, 0, 7, 7]
    assert m.integer.tolist() == [True] * 6 + [False] * 4
    assert m.hi[6:8].tolist() == [5.0, 5.0] and m.hi[8:].tolist() == [INF, INF]
    expected = np.array(
        [
            [1, 1, 1, 0, 0, 0, -1, 0, -1, 0],
            [0, 0, 0, 1, 1, 1, 0, -1, 0, -1],
            [0, 0, 0, 0, 0, 0, 1, 2, 0, 0],
        ],
        float,
    )
    assert np.array_equal(m.A.toarray(), expected)
    assert m.row_lo.tolist() == [-INF, -INF, 1.0] and m.row_hi.tolist() == [10.0, 20.0, INF]
    assert m.row(("floor", 2027)) == 2 and m.family(("cap", "b")) == "cap"
    assert m.col("u", 1, 2) == 5
    assert m.terms(("cap", "b")) == {
        ("u", (1, 0)): 1.0,
        ("u", (1, 1)): 1.0,
        ("u", (1, 2)): 1.0,
        ("v", (1,)): -1.0,
        ("over", ("cap", "b")): -1.0,
    }
    x = np.arange(10.0)
    assert m.values(x, "u").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert list(m.slacks(x, "over")) == [(("cap", "a"), 8.0), (("cap", "b"), 9.0)]
    assert m.values(x, "missing").size == 0 and list(m.slacks(x, "missing")) == []
    assert [row_name(k) for k in m.keys] == ["cap:a", "cap:b", "floor:2027"]


def test_a_slack_takes_the_sign_that_relaxes_its_rows():
    b = _two_blocks()
    b.add_rows("ge", [("ge", 0)], lo=1.0, terms={"v": np.ones((1, 2))}, slack=Slack("s1", 1.0))
    b.add_rows("le", [("le", 0)], hi=1.0, terms={"v": np.ones((1, 2))}, slack=Slack("s2", 1.0))
    m = b.build()
    assert m.terms(("ge", 0))["s1", ("ge", 0)] == 1.0
    assert m.terms(("le", 0))["s2", ("le", 0)] == -1.0
    assert m.columns["s1"].relaxes == "ge" and m.rows["le"].slack == "s2"


def test_a_slack_on_ranged_rows_is_refused():
    b = _two_blocks()
    with pytest.raises(ValueError, match="one-sided"):
        b.add_rows(
            "r", [("r", 0)], lo=0.0, hi=1.0, terms={"v": np.ones((1, 2))}, slack=Slack("s", 1.0)
        )


def test_a_term_of_the_wrong_shape_is_refused():
    b = _two_blocks()
    with pytest.raises(ValueError, match=r"term on 'v' is \(1, 3\), expected \(1, 2\)"):
        b.add_rows("r", [("r", 0)], hi=1.0, terms={"v": np.ones((1, 3))})


def test_a_row_key_or_block_used_twice_is_refused():
    b = _two_blocks()
    b.add_rows("a", [("k", 1)], hi=1.0, terms={"v": np.ones((1, 2))})
    b.add_rows("b", [("k", 1)], hi=1.0, terms={"v": np.ones((1, 2))})
    with pytest.raises(ValueError, match="registered twice"):
        b.build()
    with pytest.raises(ValueError, match="registered twice"):
        b.add_columns("u", (1,))
    with pytest.raises(KeyError, match="no row"):
        _two_blocks().build().row(("nothing",))
