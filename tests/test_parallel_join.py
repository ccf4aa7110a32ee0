"""Joining a Ray cluster for leverage and frontier (`--address`) fails with one message in
bounded time, never Ray's traceback or its minutes of retries: `auto` with no cluster running, a
cluster that refuses the join, `local` (which would start a new cluster where --workers is
meant), and an address where something answers that is not Ray. Ray is never started here."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from polyfleet import parallel
from polyfleet.dispatch.cluster import check_reachable
from polyfleet.errors import InputError, PolyfleetError


@pytest.fixture
def ray() -> Any:
    return pytest.importorskip("ray")


@pytest.mark.parametrize(
    "raised",
    [
        ConnectionError("Could not find any running Ray instance."),
        Exception("The current node timed out during startup."),
    ],
)
def test_a_failed_join_is_one_error(
    ray: Any, monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    def init(**kwargs: Any) -> None:
        raise raised

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(PolyfleetError) as err, parallel.cluster_map(address="auto"):
        pass
    assert not isinstance(err.value, InputError)  # the cluster, not the option, failed
    text = str(err.value)
    assert "cannot join the Ray cluster at auto" in text
    assert str(raised).rstrip(".") in text


def test_local_is_refused_before_ray_starts(ray: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "init", lambda **kwargs: pytest.fail("Ray was started"))
    with pytest.raises(InputError) as err, parallel.cluster_map(address="local"):
        pass
    assert err.value.field == "--address" and "--workers" in str(err.value)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A local TCP server that answers each connection with `request.param` (None: nothing)."""
    reply: bytes | None = request.param
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                if reply:
                    conn.sendall(reply)
                if reply != b"":  # b"": close at once; else hold the connection open
                    done.wait(2.0)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    done.set()
    listener.close()
    thread.join(5.0)


SETTINGS = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # what a gRPC server answers first


@pytest.mark.parametrize(
    ("server", "why"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a Ray cluster"),
        (b"", "not a Ray cluster"),  # answers nothing and closes
        (None, "no answer within 0.5 s"),  # holds the connection, silent
    ],
    indirect=["server"],
    ids=["http/1.1", "closes", "silent"],
)
def test_an_address_that_is_not_ray_is_refused_in_bounded_time(server: str, why: str) -> None:
    with pytest.raises(PolyfleetError) as err:
        check_reachable(server, timeout=0.5)
    assert why in str(err.value) and server in str(err.value)


@pytest.mark.parametrize("server", [SETTINGS], indirect=True)
def test_a_grpc_server_passes(server: str) -> None:
    check_reachable(server, timeout=5.0)
