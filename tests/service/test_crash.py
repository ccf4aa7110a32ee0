"""Crash safety: `polyfleet serve` killed (SIGKILL) while a run is in progress. Restarted on the
same state folder, it shows that run as failed (interrupted), runs the one still queued, and
every stored document and result is intact, byte for byte."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from polyfleet.service.store import Store, database_url

from .conftest import EXAMPLES

WAIT_S = 240  # bounds, far above what each step takes; no timing is asserted


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    state: Path, log: Path, first: bool
) -> Iterator[tuple[subprocess.Popen[bytes], str, str | None]]:
    """`polyfleet serve` in its own process: (the process, its URL, the admin secret it printed
    on its first start)."""
    port = free_port()
    command = [sys.executable, "-m", "polyfleet", "serve", "--state-dir", str(state)]
    out = log.with_suffix(".out")
    with log.open("a") as err, out.open("w") as printed:
        process = subprocess.Popen(
            [*command, "--port", str(port), "--workers", "1"],
            stdout=printed,
            stderr=err,
            cwd=state.parent,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                if httpx2.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        secret = None
        if first:  # printed before the server starts listening
            lines = out.read_text().splitlines()
            secret = next((x.strip() for x in lines if x.startswith("pf_")), None)
        yield process, url, secret
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def status_of(client: httpx2.Client, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
    return body


def wait_while(client: httpx2.Client, run_id: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        run = status_of(client, run_id)
        if run["status"] not in statuses:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run['status']}")


def test_killed_server_restarts_with_everything_intact(tmp_path: Path):
    state = tmp_path / "state"
    files = {
        ("deals", "amd-6gw.yaml"): (EXAMPLES / "deals" / "amd-6gw.yaml").read_bytes(),
        ("scenarios", "fleet.yaml"): (EXAMPLES / "hyperscaler-2026.yaml").read_bytes(),
        ("procurements", "buildout.yaml"): (EXAMPLES / "buildout-2027-2030.yaml").read_bytes(),
    }
    with serve(state, tmp_path / "first.log", first=True) as (server, url, secret):
        assert secret is not None
        auth = {"Authorization": f"Bearer {secret}"}
        with httpx2.Client(base_url=url, headers=auth, timeout=60) as client:
            for (segment, name), content in files.items():
                assert client.post(f"/api/v1/{segment}?name={name}", content=content).is_success
            plan = {"kind": "plan", "document": {"kind": "scenario", "name": "fleet.yaml"}}
            done = wait_while(
                client, client.post("/api/v1/runs", json=plan).json()["id"], ("queued", "running")
            )
            assert done["status"] == "succeeded"
            result = client.get(done["result_url"]).content
            slow = {**plan, "kind": "frontier", "options": {"points": 500}}
            running = client.post("/api/v1/runs", json=slow).json()["id"]
            queued = client.post("/api/v1/runs", json=plan).json()["id"]  # one worker: it waits
            wait_while(client, running, ("queued",))
            assert status_of(client, queued)["status"] == "queued"
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=60)

    store = Store.open(database_url(None, state))  # the database as the crash left it
    try:
        for (segment, name), content in files.items():
            kind = {"deals": "deal", "scenarios": "scenario", "procurements": "procurement"}[
                segment
            ]
            doc = store.documents.get(kind, name)
            assert doc is not None and doc.content == content and doc.info.version == 1
        assert store.runs.record(done["id"]).encode() == result
        assert store.runs.get(running).status == "running"  # as the crash left it
    finally:
        store.close()

    with serve(state, tmp_path / "second.log", first=False) as (_server, url, again):
        assert again is None
        with httpx2.Client(base_url=url, headers=auth, timeout=60) as client:
            interrupted = status_of(client, running)
            assert interrupted["status"] == "failed"
            assert interrupted["error"]["code"] == "interrupted"
            resumed = wait_while(client, queued, ("queued", "running"))
            assert resumed["status"] == "succeeded"
            kept = client.get(done["result_url"])
            assert kept.content == result
            assert kept.headers["etag"] == f'"{hashlib.sha256(result).hexdigest()}"'
            for (segment, name), content in files.items():
                assert client.get(f"/api/v1/{segment}/{name}/raw").content == content
    assert "marked failed" in (tmp_path / "second.log").read_text()
