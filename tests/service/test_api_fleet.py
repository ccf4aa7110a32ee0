"""The dispatch ledger's jobs and pools, read-only, and the catalog with its sources."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from polyfleet import app as api_functions
from polyfleet.dispatch.ledger import Ledger
from polyfleet.results.base import dump_record

from .conftest import Api


def write_ledger(state: Path) -> None:
    """A ledger as `polyfleet run` leaves it: jobs done, failed, running and queued."""
    with Ledger(state / "ledger.sqlite") as ledger:
        ledger.add(
            [(f"job-{i}", "llm-serving-70b", {"steps": i}) for i in range(5)], source="jobs.yaml"
        )
        ledger.start([("job-0", "pool-a", 1), ("job-1", "pool-a", 1), ("job-2", "pool-b", 1)])
        ledger.finish([("job-0", 1, "succeeded", {"ok": True}), ("job-1", 1, "failed", "boom")])


def test_jobs_and_pools_from_the_ledger(api: Api, tmp_path: Path):
    auth = api.auth("viewer")
    empty = api.client.get("/api/v1/jobs", headers=auth).json()
    assert empty["total"] == 0 and empty["items"] == []
    assert api.client.get("/api/v1/pools", headers=auth).json()["pools"] == {}
    state = tmp_path / "state"
    write_ledger(state)
    before = (state / "ledger.sqlite").read_bytes()
    jobs = api.client.get("/api/v1/jobs", headers=auth).json()
    assert jobs["total"] == 5 and jobs["ledger"] == "ledger.sqlite"
    by_id = {j["id"]: j for j in jobs["items"]}
    assert by_id["job-0"]["state"] == "succeeded" and by_id["job-0"]["path"] == ["pool-a"]
    assert by_id["job-1"]["error"] == "boom" and by_id["job-3"]["state"] == "queued"
    assert by_id["job-2"]["run"] == {"steps": 2}
    failed = api.client.get("/api/v1/jobs?state=failed", headers=auth).json()
    assert [j["id"] for j in failed["items"]] == ["job-1"]
    pool = api.client.get("/api/v1/jobs?pool=pool-a&limit=1&offset=1", headers=auth).json()
    assert pool["total"] == 2 and [j["id"] for j in pool["items"]] == ["job-1"]
    pools = api.client.get("/api/v1/pools", headers=auth).json()
    assert pools["jobs"]["queued"] == 2 and pools["jobs"]["running"] == 1
    assert pools["pools"]["pool-a"]["succeeded"] == 1 and pools["pools"]["pool-a"]["failed"] == 1
    assert pools["pools"]["pool-b"]["running"] == 1
    assert (state / "ledger.sqlite").read_bytes() == before  # read, never written
    assert api.client.get("/api/v1/jobs").status_code == 401
    assert api.client.get("/api/v1/pools").status_code == 401


def test_a_damaged_ledger_is_a_clear_error(api: Api, tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    (state / "ledger.sqlite").write_bytes(b"not a database at all" * 100)
    answer = api.client.get("/api/v1/jobs", headers=api.auth("viewer"))
    assert answer.status_code == 422 and "ledger" in answer.json()["error"]["message"]


def test_the_catalog_with_sources(api: Api):
    auth = api.auth("viewer")
    answer = api.client.get("/api/v1/catalog", headers=auth)
    assert answer.status_code == 200
    assert answer.text == dump_record(api_functions.catalog())
    assert answer.headers["etag"] == f'"{hashlib.sha256(answer.content).hexdigest()}"'
    record = answer.json()
    assert record["format"] == "polyfleet.catalog" and record["references"]
    assert all(acc["sources"] for acc in record["accelerators"])
    cached = api.client.get(
        "/api/v1/catalog", headers={**auth, "If-None-Match": answer.headers["etag"]}
    )
    assert cached.status_code == 304
    amd = json.loads(api.client.get("/api/v1/catalog?vendor=amd", headers=auth).text)
    assert {a["vendor"] for a in amd["accelerators"]} == {"amd"}
    bad = api.client.get("/api/v1/catalog?vendor=acme", headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "vendor"
    assert api.client.get("/api/v1/catalog").status_code == 401
