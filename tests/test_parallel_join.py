"""Joining a Ray cluster for leverage and frontier (`--address`) fails with one message, never
Ray's traceback: `auto` with no cluster running, a cluster that refuses the join, and `local`
(which would start a new cluster where --workers is meant). Ray is never started here."""

from __future__ import annotations

import pytest

from polyfleet import parallel
from polyfleet.errors import InputError, PolyfleetError

ray = pytest.importorskip("ray")


@pytest.mark.parametrize(
    "raised",
    [
        ConnectionError("Could not find any running Ray instance."),
        Exception("The current node timed out during startup."),
    ],
)
def test_a_failed_join_is_one_error(monkeypatch: pytest.MonkeyPatch, raised: Exception):
    def init(**kwargs):
        raise raised

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(PolyfleetError) as err, parallel.cluster_map(address="auto"):
        pass
    assert not isinstance(err.value, InputError)  # the cluster, not the option, failed
    text = str(err.value)
    assert "cannot join the Ray cluster at auto" in text
    assert str(raised).rstrip(".") in text


def test_local_is_refused_before_ray_starts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ray, "init", lambda **kwargs: pytest.fail("Ray was started"))
    with pytest.raises(InputError) as err, parallel.cluster_map(address="local"):
        pass
    assert err.value.field == "--address" and "--workers" in str(err.value)
