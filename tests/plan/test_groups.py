"""Identical workloads merge into classes with numpy only: the groups equal those a loop over
the workloads builds, and they expand assignments back onto every member."""

from __future__ import annotations

import numpy as np
import pytest

from polyfleet.plan.problem import Groups, PlacementProblem


def reference(classes: list[int], n: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(n)]
    for i, c in enumerate(classes):
        out[c].append(i)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_groups_of_classes_are_the_members_a_loop_finds(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    classes = rng.integers(0, n, 200)
    groups = Groups.of_classes(classes, n)
    expected = reference(classes.tolist(), n)
    assert [g.tolist() for g in groups] == expected
    pick = rng.integers(0, n, 30)
    taken = groups.take(pick)
    assert [g.tolist() for g in taken] == [expected[c] for c in pick]
    assert taken.sizes.tolist() == [len(expected[c]) for c in pick]


def test_collapse_merges_identical_workloads_and_keeps_their_members():
    rng = np.random.default_rng(3)
    base = rng.uniform(1, 3, (5, 3))
    pick = rng.integers(0, 5, 60)
    n = len(pick)
    problem = PlacementProblem(
        workloads=[f"w{i}" for i in range(n)],
        pools=["a", "b", "c"],
        T=base[pick],
        demand=np.ones(n),
        cap=np.full(n, np.inf),
        cost=np.ones(3),
        mw=np.ones(3),
        capacity=np.full(3, 100.0),
        pool_vendor=np.array([0, 0, 1]),
        vendors=["amd", "nvidia"],
    )
    collapsed, cls = problem.collapse()
    assert len(collapsed.workloads) == len(set(pick.tolist()))
    for c, members in enumerate(collapsed.members):
        assert members.tolist() == np.flatnonzero(cls == c).tolist()
        assert len(set(pick[members].tolist())) == 1
        assert collapsed.demand[c] == len(members)
    keep = np.arange(len(collapsed.workloads)) % 2 == 0
    sub = collapsed.subset(keep)
    assert [m.tolist() for m in sub.members] == [
        m.tolist() for c, m in enumerate(collapsed.members) if keep[c]
    ]


def test_problems_built_with_lists_of_members_still_work():
    p = PlacementProblem(
        workloads=["x", "y"],
        pools=["a"],
        T=np.ones((2, 1)),
        demand=np.ones(2),
        cap=np.full(2, np.inf),
        cost=np.ones(1),
        mw=np.ones(1),
        capacity=np.ones(1),
        pool_vendor=np.zeros(1, dtype=np.intp),
        vendors=["amd"],
        members=[[0, 2], [1]],
    )
    assert [m.tolist() for m in p.members] == [[0, 2], [1]]
