"""Fixtures of the service tests: a store on each backend, an app over it, a token per role.

The PostgreSQL case reads its URL from POLYFLEET_TEST_POSTGRES_URL (`.ci/run` starts a server
and sets it). Without it the case is skipped, except under CI, where it fails: CI must run it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url

from polyfleet.service.app import create_app
from polyfleet.service.settings import Settings
from polyfleet.service.store import Store, database_url

POSTGRES_ENV = "POLYFLEET_TEST_POSTGRES_URL"
EXAMPLES = Path(__file__).parents[2] / "examples"


def postgres_url() -> URL:
    """The test PostgreSQL database, emptied; skips (or fails under CI) without one."""
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        if os.environ.get("CI"):
            pytest.fail(
                f"CI is set but {POSTGRES_ENV} is not: .ci/run starts PostgreSQL and sets it"
            )
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} (as .ci/run does) to run this case")
    url = make_url(raw)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    if request.param == "sqlite":
        return database_url(None, tmp_path / "state")
    return postgres_url()


@pytest.fixture
def store(db_url: URL) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(database_url(None, tmp_path / "state"))
    yield store
    store.close()


@dataclass
class Api:
    """A test client with one token per role."""

    client: TestClient
    store: Store
    secrets: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}


def make_api(store: Store, state_dir: Path, max_upload_bytes: int = 64 * 1024) -> Api:
    secrets = {
        role: store.tokens.create(role, f"test {role}")[1]
        for role in ("viewer", "planner", "admin")
    }
    app = create_app(store, Settings(state_dir=state_dir, max_upload_bytes=max_upload_bytes))
    return Api(TestClient(app), store, secrets)


@pytest.fixture
def api(sqlite_store: Store, tmp_path: Path) -> Iterator[Api]:
    """The API over a SQLite store, uploads capped at 64 KiB."""
    api = make_api(sqlite_store, tmp_path / "state")
    with api.client:
        yield api
