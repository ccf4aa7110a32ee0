"""The dashboard's pages without a browser: sign-in and its cookie, CSRF and origin checks, roles,
escaping, and a page (with its charts) for every kind of run, the comparison and the jobs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, Api
from .runs import SCENARIO, start_runner, submit, upload, wait
from .test_api_fleet import write_ledger

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_runner(tmp_path_factory)


def sign_in(api: Api, role: str) -> str:
    """Sign the client in as `role`; the CSRF field of its pages."""
    api.client.cookies.clear()
    answer = api.client.post("/login", data={"token": api.secrets[role], "next": "/"})
    assert answer.status_code == 200 and answer.url.path == "/"
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', answer.text)
    assert found is not None
    return found.group(1)


def charts_of(page: str) -> dict[str, dict[str, Any]]:
    """The figures a page carries, by chart id."""
    found = re.findall(
        r'<script type="application/json" id="(chart-[\w-]+)-data">(.*?)</script>', page
    )
    return {key: json.loads(data) for key, data in found}


def test_pages_need_a_session_and_the_cookie_is_guarded(api: Api):
    for path in ("/", "/documents", "/runs", "/compare", "/jobs", "/catalog"):
        answer = api.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    wrong = api.client.post("/login", data={"token": "pf_nope", "next": "/"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    answer = api.client.post(
        "/login",
        data={"token": api.secrets["viewer"], "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"  # only a path on this site
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = api.client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "<script>" not in page.text.replace('<script type="application/json"', "")
    # a revoked token signs the page out
    token_id = api.secrets["viewer"].split("_")[1]
    api.store.tokens.revoke(token_id)
    assert api.client.get("/", follow_redirects=False).status_code == 303


def test_forms_need_the_csrf_field_the_origin_and_the_role(api: Api):
    csrf = sign_in(api, "viewer")
    files = {"file": ("fleet.yaml", SCENARIO)}
    refused = api.client.post("/documents", data={"csrf": csrf, "kind": "scenario"}, files=files)
    assert refused.status_code == 403  # viewers read only
    csrf = sign_in(api, "planner")
    for data in ({"kind": "scenario"}, {"kind": "scenario", "csrf": "0" * 64}):
        assert api.client.post("/documents", data=data, files=files).status_code == 403
    foreign = api.client.post(
        "/documents",
        data={"csrf": csrf, "kind": "scenario"},
        files=files,
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403 and "another site" in foreign.text
    assert api.store.documents.get("scenario", "fleet.yaml") is None  # nothing was stored
    stored = api.client.post(
        "/documents", data={"csrf": csrf, "kind": "scenario"}, files=files, follow_redirects=False
    )
    assert (
        stored.status_code == 303
        and stored.headers["location"] == "/documents/scenarios/fleet.yaml"
    )
    bad_name = api.client.post(
        "/documents",
        data={"csrf": csrf, "kind": "scenario"},
        files={"file": ("../x.yaml", b"a: 1")},
    )
    assert bad_name.status_code == 422
    out = api.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and 'polyfleet_session=""' in out.headers["set-cookie"]


def test_the_editor_escapes_and_marks_the_error_line(api: Api):
    csrf = sign_in(api, "planner")
    text = SCENARIO.decode().replace("name: hyperscaler-2026", f'name: "{HOSTILE}"')
    bad = text.replace("count: 400000", "count: -4")
    upload(api, "scenarios", "bad.yaml", bad.encode())
    page = api.client.get("/documents/scenarios/bad.yaml")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "&lt;script&gt;alert(" in page.text
    line = bad.splitlines().index(next(x for x in bad.splitlines() if "count: -4" in x)) + 1
    assert f'<li id="L{line}" class="error-line">' in page.text
    assert page.text.count("error-line") == 1 + page.text.count("li.error-line")
    checked = api.client.post(
        "/documents/scenarios/bad.yaml", data={"csrf": csrf, "content": text, "action": "check"}
    )
    # valid but for the deal file it names, which this store lacks: the error says which
    assert checked.status_code == 422 and "amd-6gw.yaml" in checked.text
    saved = api.client.post(
        "/documents/scenarios/bad.yaml",
        data={"csrf": csrf, "content": text, "action": "save"},
        follow_redirects=False,
    )
    assert saved.headers["location"] == "/documents/scenarios/bad.yaml?version=2"
    assert api.store.documents.get("scenario", "bad.yaml").content == text.encode()
    assert api.client.get("/documents/scenarios/none.yaml").status_code == 404
    assert api.client.get("/documents/nothing/x.yaml").status_code == 404


def test_a_page_for_every_kind_of_run(runner: Api):
    csrf = sign_in(runner, "planner")
    hostile = SCENARIO.replace(b"name: hyperscaler-2026", f'name: "{HOSTILE}"'.encode())
    upload(runner, "scenarios", "fleet.yaml", hostile)
    upload(
        runner, "procurements", "buildout.yaml", (EXAMPLES / "buildout-2027-2030.yaml").read_bytes()
    )
    submitted = runner.client.post(
        "/runs",
        data={"csrf": csrf, "kind": "plan", "document_kind": "scenario", "name": "fleet.yaml"},
        follow_redirects=False,
    )
    assert submitted.status_code == 303
    plan_id = submitted.headers["location"].rsplit("/", 1)[1]
    waiting = runner.client.get(f"/runs/{plan_id}")
    assert waiting.status_code == 200
    status = runner.client.get(f"/runs/{plan_id}/status.json").json()
    assert set(status) == {"status", "progress", "message"}
    runs = {
        "plan": wait(runner, plan_id),
        "leverage": wait(
            runner,
            submit(runner, "leverage", "scenario", "fleet.yaml", {"precision": 0.05}).json()["id"],
        ),
        "frontier": wait(
            runner,
            submit(runner, "frontier", "scenario", "fleet.yaml", {"points": 20}).json()["id"],
        ),
        "procure": wait(
            runner, submit(runner, "procure", "procurement", "buildout.yaml").json()["id"]
        ),
        "deal": wait(
            runner, submit(runner, "deal", "deal", "amd-6gw.yaml", {"paths": 20000}).json()["id"]
        ),
    }
    expected = {
        "plan": {"chart-sankey", "chart-shares", "chart-cost", "chart-pools"},
        "leverage": {"chart-leverage"},
        "frontier": {"chart-frontier"},
        "procure": {"chart-procurement"},
        "deal": {"chart-fan"},
    }
    for kind, run in runs.items():
        assert run["status"] == "succeeded", (kind, run["error"])
        page = runner.client.get(f"/runs/{run['id']}")
        assert page.status_code == 200, kind
        assert set(charts_of(page.text)) == expected[kind], kind
        assert HOSTILE not in page.text, kind
    plan = runner.client.get(runs["plan"]["result_url"], headers=runner.auth("viewer")).json()
    sankey = charts_of(runner.client.get(f"/runs/{plan_id}").text)["chart-sankey"]["data"][0]
    labels = sankey["node"]["label"]
    flows = {
        (labels[s], labels[t]): v
        for s, t, v in zip(
            sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["value"], strict=True
        )
    }
    assert flows == {(a["workload"], a["pool"]): a["accelerators"] for a in plan["assignments"]}
    frontier = charts_of(runner.client.get(f"/runs/{runs['frontier']['id']}").text)[
        "chart-frontier"
    ]
    assert [t["name"] for t in frontier["data"]] == ["least cost", "knee"]
    procure = charts_of(runner.client.get(f"/runs/{runs['procure']['id']}").text)[
        "chart-procurement"
    ]
    assert any(t.get("yaxis") == "y2" and t["name"] == "total GW" for t in procure["data"])
    overview = runner.client.get("/")
    assert set(charts_of(overview.text)) == {"chart-pools-by-vendor", "chart-shares-vs-caps"}
    caps = charts_of(overview.text)["chart-shares-vs-caps"]["data"]
    cap = next(t for t in caps if t["name"] == "cap")
    assert dict(zip(cap["x"], cap["y"], strict=True)) == {"nvidia": 0.65, "amd": 0.6}
    compare = runner.client.get(f"/compare?a={plan_id}&b={plan_id}")
    assert compare.status_code == 200 and "compare-workloads" in compare.text
    assert runner.client.get("/runs?kind=plan&status=succeeded").status_code == 200


def test_failed_runs_show_their_error_and_link_the_line(runner: Api):
    sign_in(runner, "viewer")
    bad = SCENARIO.replace(b"count: 400000", b"count: -4")
    upload(runner, "scenarios", "broken.yaml", bad)
    run = wait(runner, submit(runner, "plan", "scenario", "broken.yaml").json()["id"])
    page = runner.client.get(f"/runs/{run['id']}")
    assert page.status_code == 200 and 'id="run-error"' in page.text
    assert f"#L{run['error']['line']}" in page.text
    assert runner.client.get("/runs/" + "0" * 32).status_code == 404


def test_jobs_page_reads_the_ledger(api: Api, tmp_path: Path):
    sign_in(api, "viewer")
    empty = api.client.get("/jobs")
    assert empty.status_code == 200 and "No ledger yet" in empty.text
    write_ledger(tmp_path / "state")
    page = api.client.get("/jobs")
    charts = charts_of(page.text)
    by_state = charts["chart-jobs-by-state"]["data"][0]
    assert dict(zip(by_state["x"], by_state["y"], strict=True))["queued"] == 2
    assert "job-1" in page.text and "boom" in page.text
    only_failed = api.client.get("/jobs?state=failed").text
    assert "job-1" in only_failed and "job-3" not in only_failed


def test_static_files_and_plotly_from_the_package(api: Api):
    import plotly

    script = api.client.get("/static/plotly.min.js")
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert script.status_code == 200 and script.content == bundled.read_bytes()
    assert api.client.get("/static/dashboard.js").status_code == 200
    for name in ("../app.py", "%2e%2e%2fapp.py", "nope.js"):
        assert api.client.get(f"/static/{name}").status_code == 404


def test_every_kind_of_document_has_its_page(api: Api):
    sign_in(api, "viewer")
    bundled = {
        ("deals", "amd-6gw.yaml"): EXAMPLES / "deals" / "amd-6gw.yaml",
        ("scenarios", "fleet.yaml"): EXAMPLES / "hyperscaler-2026.yaml",
        ("procurements", "buildout.yaml"): EXAMPLES / "buildout-2027-2030.yaml",
        ("profiles", "h100.json"): EXAMPLES / "profiles" / "h100-sxm-decode.json",
        ("job-files", "jobs.yaml"): EXAMPLES / "jobs.yaml",
    }
    runs_offered = {
        "deals": ["run-deal"],
        "scenarios": ["run-plan", "run-leverage", "run-frontier"],
        "procurements": ["run-procure"],
        "profiles": [],
        "job-files": [],
    }
    for (segment, name), path in bundled.items():
        upload(api, segment, name, path.read_bytes())
    listing = api.client.get("/documents").text
    sign_in(api, "planner")  # planners are offered the runs of each kind
    for (segment, name), path in bundled.items():
        assert f'href="/documents/{segment}/{name}"' in listing, segment
        page = api.client.get(f"/documents/{segment}/{name}")
        assert page.status_code == 200, segment
        assert 'id="validation-ok"' in page.text, segment  # the bundled files are valid
        shown = re.findall(r'<li id="L\d+"[^>]*>(.*?)</li>', page.text, flags=re.S)
        assert len(shown) == len(path.read_text().splitlines()), segment
        assert re.findall(r'id="(run-[\w-]+)"', page.text) == runs_offered[segment], segment
