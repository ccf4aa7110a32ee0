"""Runs for the service tests: an API with a worker pool, and helpers to upload, submit and wait."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from polyfleet.service.app import create_app
from polyfleet.service.executor import ProcessBackend, RunExecutor
from polyfleet.service.settings import Settings
from polyfleet.service.store import Store, database_url

from .conftest import EXAMPLES, Api, make_api

SCENARIO = (EXAMPLES / "hyperscaler-2026.yaml").read_bytes()
DEAL = (EXAMPLES / "deals" / "amd-6gw.yaml").read_bytes()
WAIT_S = 240  # a bound on a run's end, far above what one takes; no timing is asserted


def start_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API with a worker pool of two processes, over one SQLite store (a module fixture's
    body: `yield from start_runner(tmp_path_factory)`)."""
    state = tmp_path_factory.mktemp("runs") / "state"
    url = database_url(None, state)
    store = Store.open(url)
    backend = ProcessBackend(url.render_as_string(hide_password=False), state / "scratch")
    executor = RunExecutor(store, backend, slots=2)
    api = make_api(store, state)
    api.client = TestClient(
        create_app(store, Settings(state_dir=state, max_upload_bytes=1 << 20), executor)
    )
    with api.client:
        api.client.post(
            "/api/v1/deals?name=amd-6gw.yaml", content=DEAL, headers=api.auth("planner")
        )
        yield api
    store.close()


def upload(api: Api, kind: str, name: str, content: bytes) -> dict[str, Any]:
    answer = api.client.post(
        f"/api/v1/{kind}?name={name}", content=content, headers=api.auth("planner")
    )
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


def submit(
    api: Api,
    kind: str,
    doc_kind: str,
    name: str,
    options: dict[str, Any] | None = None,
    **extra: Any,
) -> Any:
    body = {"kind": kind, "document": {"kind": doc_kind, "name": name, **extra}}
    if options is not None:
        body["options"] = options
    return api.client.post("/api/v1/runs", json=body, headers=api.auth("planner"))


def wait(api: Api, run_id: str, until: tuple[str, ...] = ("queued", "running")) -> dict[str, Any]:
    """The run once its status is no longer one of `until`."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.client.get(
            f"/api/v1/runs/{run_id}", headers=api.auth("viewer")
        ).json()
        if run["status"] not in until:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {run['status']} after {WAIT_S} s")
