"""Runs over HTTP, executed by the worker pool: submission, progress, results as the command line
prints them, errors, cancel, roles; and the comparison of two plans."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyfleet import app as api_functions
from polyfleet.results.base import dump_record
from polyfleet.results.plan import PlanRecord
from polyfleet.service.store import Store

from .conftest import EXAMPLES, Api, make_api
from .runs import DEAL, SCENARIO, WAIT_S, start_runner, submit, upload, wait


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_runner(tmp_path_factory)


def without_timings(record: dict[str, Any]) -> dict[str, Any]:
    """A record less the figures that measure time (they differ between two runs)."""
    out = dict(record)
    out.pop("timings", None)
    out.pop("seconds", None)
    for deal in out.get("deals") or ():
        if deal.get("warrant"):
            deal["warrant"].pop("seconds", None)
    if isinstance(out.get("warrant"), dict):
        out["warrant"].pop("seconds", None)
    return out


def test_a_plan_run_answers_what_the_command_line_prints(runner: Api, tmp_path: Path):
    upload(runner, "scenarios", "fleet.yaml", SCENARIO)
    answer = submit(runner, "plan", "scenario", "fleet.yaml")
    assert answer.status_code == 202, answer.text
    run = answer.json()
    assert answer.headers["location"] == f"/api/v1/runs/{run['id']}"
    assert run["status"] in ("queued", "running") and run["document"]["name"] == "fleet.yaml"
    assert run["options"]["method"] == "auto"  # defaults filled in and stored
    assert [(i["kind"], i["name"], i["version"], i["via"]) for i in run["inputs"]] == [
        ("deal", "amd-6gw.yaml", 1, "deals[0]")
    ]
    # a later version of the deal does not change what the run reads
    upload(runner, "deals", "amd-6gw.yaml", DEAL + b"\n# edited\n")
    done = wait(runner, run["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == 1.0 and done["started_at"] and done["finished_at"]
    result = runner.client.get(done["result_url"], headers=runner.auth("viewer"))
    assert result.status_code == 200 and result.headers["content-type"] == "application/json"
    assert result.headers["etag"] == f'"{hashlib.sha256(result.content).hexdigest()}"'
    assert done["result_hash"] == hashlib.sha256(result.content).hexdigest()
    again = runner.client.get(
        done["result_url"],
        headers={**runner.auth("viewer"), "If-None-Match": result.headers["etag"]},
    )
    assert again.status_code == 304
    # the same computation on the command line's files, dumped the one way
    (tmp_path / "deals").mkdir()
    (tmp_path / "deals" / "amd-6gw.yaml").write_bytes(DEAL)
    (tmp_path / "fleet.yaml").write_bytes(SCENARIO)
    local = dump_record(api_functions.plan(tmp_path / "fleet.yaml"))
    served = result.text
    assert list(json.loads(served)) == list(json.loads(local))  # same fields, same order
    assert without_timings(json.loads(served)) == without_timings(json.loads(local))
    assert PlanRecord.parse(json.loads(served)).status == "optimal"
    assert served.endswith("}\n") and served.startswith('{"format":"polyfleet.plan"')


def test_the_submission_is_stored_before_the_answer(sqlite_store: Store, tmp_path: Path):
    """No worker pool: the run is in the store, queued, when the 202 arrives."""
    api = make_api(sqlite_store, tmp_path)
    with api.client:
        upload(api, "scenarios", "fleet.yaml", SCENARIO)
        answer = submit(api, "plan", "scenario", "fleet.yaml", {"method": "lp"})
        assert answer.status_code == 202
        stored = sqlite_store.runs.get(answer.json()["id"])
        assert stored is not None and stored.status == "queued"
        assert stored.options["method"] == "lp"
        no_result = api.client.get(f"/api/v1/runs/{stored.id}/result", headers=api.auth("viewer"))
        assert no_result.status_code == 409 and "queued" in no_result.json()["error"]["message"]
        cancelled = api.client.post(f"/api/v1/runs/{stored.id}/cancel", headers=api.auth("planner"))
        assert cancelled.json()["status"] == "cancelled"
        assert sqlite_store.runs.queued(10) == []


def test_infeasible_and_invalid_runs(runner: Api):
    tight = SCENARIO.replace(b"power_cap_mw: 3000", b"power_cap_mw: 300")
    upload(runner, "scenarios", "tight.yaml", tight)
    bad = SCENARIO.replace(b"count: 400000", b"count: -4")
    upload(runner, "scenarios", "bad.yaml", bad)
    infeasible = wait(runner, submit(runner, "plan", "scenario", "tight.yaml").json()["id"])
    assert infeasible["status"] == "infeasible" and infeasible["error"] is None
    record = runner.client.get(infeasible["result_url"], headers=runner.auth("viewer")).json()
    assert record["status"] == "infeasible" and record["diagnosis"]["limits"]
    invalid = wait(runner, submit(runner, "plan", "scenario", "bad.yaml").json()["id"])
    assert invalid["status"] == "failed" and invalid["result_url"] is None
    error = invalid["error"]
    # as the command line and the validate endpoint say it: the stored name, field, line
    validated = runner.client.post(
        "/api/v1/scenarios/bad.yaml/validate", headers=runner.auth("viewer")
    ).json()["error"]
    assert error["code"] == "invalid_input" and error["exit_code"] == 1
    line = bad.decode().splitlines().index(next(x for x in bad.decode().splitlines() if "-4" in x))
    assert error["field"].startswith("pools[0].count") and error["line"] == line + 1
    assert error["file"] == "bad.yaml" and "/" not in error["message"].split(":")[0]
    for key in ("message", "field", "line", "file"):
        assert error[key] == validated[key]
    lever = wait(runner, submit(runner, "leverage", "scenario", "tight.yaml").json()["id"])
    assert lever["status"] in ("failed", "succeeded")
    if lever["status"] == "failed":
        assert lever["error"]["code"] == "infeasible" and lever["error"]["exit_code"] == 2


def test_every_kind_of_run(runner: Api):
    upload(runner, "scenarios", "fleet.yaml", SCENARIO)
    upload(
        runner, "procurements", "buildout.yaml", (EXAMPLES / "buildout-2027-2030.yaml").read_bytes()
    )
    runs = {
        "leverage": submit(runner, "leverage", "scenario", "fleet.yaml", {"precision": 0.05}),
        "frontier": submit(runner, "frontier", "scenario", "fleet.yaml", {"points": 20}),
        "procure": submit(
            runner, "procure", "procurement", "buildout.yaml", {"limit_costs": False}
        ),
        "deal": submit(runner, "deal", "deal", "amd-6gw.yaml", {"paths": 20000, "seed": 7}),
    }
    formats = {
        "leverage": "polyfleet.leverage",
        "frontier": "polyfleet.frontier",
        "procure": "polyfleet.procurement",
        "deal": "polyfleet.deal",
    }
    for kind, answer in runs.items():
        assert answer.status_code == 202, answer.text
        done = wait(runner, answer.json()["id"])
        assert done["status"] in ("succeeded", "infeasible"), (kind, done["error"])
        record = runner.client.get(done["result_url"], headers=runner.auth("viewer")).json()
        assert record["format"] == formats[kind]
    listed = runner.client.get(
        "/api/v1/runs?kind=deal&limit=1", headers=runner.auth("viewer")
    ).json()
    assert listed["total"] >= 1 and len(listed["items"]) == 1
    assert all(r["kind"] == "deal" for r in listed["items"])
    by_doc = runner.client.get(
        "/api/v1/runs?document=buildout.yaml", headers=runner.auth("viewer")
    ).json()
    assert [r["kind"] for r in by_doc["items"]] == ["procure"]
    page = runner.client.get("/api/v1/runs?limit=2&offset=1", headers=runner.auth("viewer")).json()
    assert page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) <= 2


def sweep_progress(api: Api, run_id: str) -> dict[str, Any]:
    """The run as soon as it reports a point of its frontier sweep (before its end)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        run: dict[str, Any] = api.client.get(
            f"/api/v1/runs/{run_id}", headers=api.auth("viewer")
        ).json()
        if (run["message"] or "").startswith("sweep ") or run["status"] != "running":
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} reported no sweep progress in {WAIT_S} s")


def test_cancel_and_a_worker_that_dies(runner: Api):
    upload(runner, "scenarios", "fleet.yaml", SCENARIO)
    slow = {"points": 500}
    first = submit(runner, "frontier", "scenario", "fleet.yaml", slow).json()
    second = submit(runner, "frontier", "scenario", "fleet.yaml", slow).json()
    wait(runner, first["id"], until=("queued",))
    wait(runner, second["id"], until=("queued",))
    # the sweep's progress shows while it runs, point by point
    midway = sweep_progress(runner, first["id"])
    assert 0.5 < midway["progress"] < 1.0 and midway["status"] == "running"
    done, total = midway["message"].removeprefix("sweep ").split("/")
    assert 0 < int(done) < int(total) and int(total) == slow["points"]
    asked = runner.client.post(f"/api/v1/runs/{first['id']}/cancel", headers=runner.auth("planner"))
    assert asked.status_code == 200
    assert wait(runner, first["id"], until=("running",))["status"] == "cancelled"
    # the second run's worker process is killed: the pool notices and marks the run failed
    executor = runner.client.app.state.executor  # type: ignore[attr-defined]
    process = executor.active.get(second["id"])
    if process is not None:
        os.kill(process.pid, signal.SIGKILL)
        failed = wait(runner, second["id"], until=("running",))
        assert failed["status"] == "failed" and failed["error"]["code"] == "worker_failed"
    else:  # it finished first (not expected: 500 solves)
        assert wait(runner, second["id"])["status"] == "succeeded"
    finished = runner.client.post(
        f"/api/v1/runs/{first['id']}/cancel", headers=runner.auth("planner")
    )
    assert finished.json()["status"] == "cancelled"  # a finished run is unchanged


def test_submission_errors_and_roles(runner: Api):
    upload(runner, "scenarios", "fleet.yaml", SCENARIO)
    cases = [
        (
            {"kind": "plan", "document": {"kind": "deal", "name": "amd-6gw.yaml"}},
            422,
            "document.kind",
        ),
        (
            {"kind": "plan", "document": {"kind": "scenario", "name": "none.yaml"}},
            404,
            "document.name",
        ),
        (
            {"kind": "plan", "document": {"kind": "scenario", "name": "fleet.yaml", "version": 99}},
            404,
            "document.name",
        ),
        (
            {"kind": "plan", "document": {"kind": "scenario", "name": "../x.yaml"}},
            422,
            "document.name",
        ),
        (
            {
                "kind": "frontier",
                "document": {"kind": "scenario", "name": "fleet.yaml"},
                "options": {"points": 2},
            },
            422,
            "options.points",
        ),
        (
            {
                "kind": "plan",
                "document": {"kind": "scenario", "name": "fleet.yaml"},
                "options": {"profiles": ["x.json"]},
            },
            422,
            "options.profiles[0]",
        ),
        (
            {
                "kind": "plan",
                "document": {"kind": "scenario", "name": "fleet.yaml"},
                "options": {"benchmarks": "/etc/passwd"},
            },
            422,
            "options.benchmarks",
        ),
        ({"kind": "dance", "document": {"kind": "scenario", "name": "fleet.yaml"}}, 422, "kind"),
    ]
    for body, status, field in cases:
        answer = runner.client.post("/api/v1/runs", json=body, headers=runner.auth("planner"))
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["field"] == field, body
    good = {"kind": "plan", "document": {"kind": "scenario", "name": "fleet.yaml"}}
    assert runner.client.post("/api/v1/runs", json=good).status_code == 401
    viewer = runner.client.post("/api/v1/runs", json=good, headers=runner.auth("viewer"))
    assert viewer.status_code == 403
    some = runner.client.get("/api/v1/runs", headers=runner.auth("viewer")).json()["items"][0]["id"]
    assert runner.client.get(f"/api/v1/runs/{some}").status_code == 401
    assert runner.client.get(f"/api/v1/runs/{some}/result").status_code == 401
    cancel = runner.client.post(f"/api/v1/runs/{some}/cancel", headers=runner.auth("viewer"))
    assert cancel.status_code == 403
    missing = runner.client.get("/api/v1/runs/" + "0" * 32, headers=runner.auth("viewer"))
    assert missing.status_code == 404
    assert runner.client.get("/api/v1/runs/nope", headers=runner.auth("viewer")).status_code == 422


def test_compare_two_plans(runner: Api):
    upload(runner, "scenarios", "fleet.yaml", SCENARIO)
    capped = SCENARIO.replace(b"max: {nvidia: 0.65, amd: 0.6}", b"max: {nvidia: 0.55, amd: 0.6}")
    upload(runner, "scenarios", "capped.yaml", capped)
    a = wait(runner, submit(runner, "plan", "scenario", "fleet.yaml").json()["id"])
    b = wait(runner, submit(runner, "plan", "scenario", "capped.yaml").json()["id"])
    auth = runner.auth("viewer")
    answer = runner.client.get(f"/api/v1/compare?a={a['id']}&b={b['id']}", headers=auth)
    assert answer.status_code == 200, answer.text
    cmp = answer.json()
    ra = runner.client.get(a["result_url"], headers=auth).json()
    rb = runner.client.get(b["result_url"], headers=auth).json()
    assert cmp["cost_per_hour"] == {
        "a": ra["cost_per_hour"],
        "b": rb["cost_per_hour"],
        "delta": rb["cost_per_hour"] - ra["cost_per_hour"],
    }
    assert cmp["power_mw"]["delta"] == rb["power_mw"] - ra["power_mw"]
    shares = {v["vendor"]: v for v in cmp["vendor_shares"]}
    for vendor, share in ra["vendor_shares"].items():
        assert (
            shares[vendor]["power"]["delta"]
            == rb["vendor_shares"][vendor]["power"] - share["power"]
        )
    wa = {w["name"]: w for w in ra["workloads"]}
    wb = {w["name"]: w for w in rb["workloads"]}
    assert [w["workload"] for w in cmp["workloads"]] == list(wa)
    for w in cmp["workloads"]:
        name = w["workload"]
        assert w["accelerators"]["delta"] == wb[name]["accelerators"] - wa[name]["accelerators"]
    pa = {p["pool"]: p for p in ra["pools"]}
    for p in cmp["pools"]:
        assert p["used"]["a"] == pa[p["pool"]]["used"]
    # the tighter cap cannot be cheaper
    assert cmp["cost_per_hour"]["delta"] >= -1e-6 * ra["cost_per_hour"]
    lever = submit(runner, "leverage", "scenario", "fleet.yaml", {"precision": 0.05}).json()
    not_plan = runner.client.get(f"/api/v1/compare?a={a['id']}&b={lever['id']}", headers=auth)
    assert not_plan.status_code == 422 and not_plan.json()["error"]["field"] == "b"
    gone = runner.client.get(f"/api/v1/compare?a={'0' * 32}&b={b['id']}", headers=auth)
    assert gone.status_code == 404
    assert runner.client.get(f"/api/v1/compare?a={a['id']}&b={b['id']}").status_code == 401
