"""A real server for the browser and load tests: uvicorn on a loopback socket bound before it
starts (requests wait in the listen queue, no polling for readiness), with the worker pool."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from polyfleet.service.app import create_app
from polyfleet.service.executor import ProcessBackend, RunExecutor
from polyfleet.service.settings import Settings
from polyfleet.service.store import Store, database_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Live:
    url: str
    store: Store
    secrets: dict[str, str]
    state: Path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}


@contextmanager
def live_server(state: Path, slots: int = 2) -> Iterator[Live]:
    url = database_url(None, state)
    store = Store.open(url)
    secrets = {role: store.tokens.create(role, f"live {role}")[1] for role in ("viewer", "planner")}
    backend = ProcessBackend(url.render_as_string(hide_password=False), state / "scratch")
    app = create_app(store, Settings(state_dir=state), RunExecutor(store, backend, slots))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", backlog=1024))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{port}", store, secrets, state)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
        store.close()


def need_chromium() -> None:
    """Skip without Debian's chromium, except under CI, which installs it (.ci/run)."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium, as .ci/run does)")
