"""Requests generated from the OpenAPI schema, good and bad, never get a 5xx, and the answers
match what the schema documents. Bounded: a fixed number of examples per operation, derandomised
so that a run is repeatable."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from polyfleet.service.app import create_app
from polyfleet.service.settings import Settings
from polyfleet.service.store import Store, database_url

from .conftest import EXAMPLES, make_api

EXAMPLES_PER_OPERATION = 10
# The schema is loaded when the module is collected, so the app is made here; each test gives it
# a fresh store (its routes find the store on app.state at request time).
app = create_app(cast(Store, None), Settings(state_dir=Path(tempfile.gettempdir())))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
# every request carries the admin token (below); unknown query parameters are ignored, as HTTP
# APIs commonly do, so neither is a schema violation the API must refuse
schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
_admin: dict[str, str] = {}


@pytest.fixture(autouse=True)
def fresh_store(tmp_path: Path) -> Iterator[None]:
    store = Store.open(database_url(None, tmp_path / "state"))
    api = make_api(store, tmp_path / "state")
    app.state.store = store
    app.state.settings = Settings(state_dir=tmp_path / "state", max_upload_bytes=64 * 1024)
    auth = api.auth("admin")
    # something to find: the fuzzer's names rarely hit a stored one by chance
    for segment, name, path in (
        ("scenarios", "fleet.yaml", EXAMPLES / "hyperscaler-2026.yaml"),
        ("deals", "amd-6gw.yaml", EXAMPLES / "deals" / "amd-6gw.yaml"),
    ):
        api.client.post(f"/api/v1/{segment}?name={name}", content=path.read_bytes(), headers=auth)
    _admin.clear()
    _admin.update(auth)
    yield
    store.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    excluded = []
    if case.method == "POST" and "name" not in (case.query or {}) and "{name}" not in case.path:
        # an upload without ?name= is named by its file name, which OpenAPI cannot constrain:
        # a schema-valid request can still carry a refused name (file.png)
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers=dict(_admin), excluded_checks=excluded)
