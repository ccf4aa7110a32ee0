"""The dashboard in a real browser (Debian's chromium driven by Playwright): sign in, upload the
bundled scenario, run a plan, follow it to its end, and check that the charts were drawn and
that every figure the page shows is the one the API answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from .conftest import EXAMPLES
from .live import CHROMIUM, CHROMIUM_ARGS, Live, live_server, need_chromium

RUN_S = 240  # a bound on the plan's end, far above what it takes; no timing is asserted


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    need_chromium()
    with live_server(tmp_path / "state") as server:
        yield server


@pytest.fixture
def browser_page(live: Live) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.console_errors = []  # type: ignore[attr-defined]
            page.on(
                "console",
                lambda m: m.type == "error" and page.console_errors.append(m.text),  # type: ignore[attr-defined]
            )
            page.on("pageerror", lambda e: page.console_errors.append(str(e)))  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


def upload(page: Any, base: str, kind: str, path: Path) -> None:
    page.goto(base + "/documents")
    page.select_option("#upload-form select[name=kind]", kind)
    page.set_input_files("#upload-form input[type=file]", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(f"**/documents/**/{path.name}")


def test_sign_in_upload_run_a_plan_and_read_its_figures(live: Live, browser_page: Any):
    page = browser_page
    page.goto(live.url + "/")
    assert "/login" in page.url  # no session: sign in first
    page.fill("input[name=token]", "pf_000000000000_" + "A" * 43)
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")
    page.console_errors.clear()  # type: ignore[attr-defined]  # the 401 of that wrong token
    page.fill("input[name=token]", live.secrets["planner"])
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "polyfleet_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    upload(page, live.url, "deal", EXAMPLES / "deals" / "amd-6gw.yaml")
    upload(page, live.url, "scenario", EXAMPLES / "hyperscaler-2026.yaml")
    page.wait_for_selector("#validation-ok")
    page.click("#run-plan")
    page.wait_for_url("**/runs/*")
    # the page follows the run and shows the plan when it ends, without a reload by hand
    page.wait_for_selector("[data-stat=cost_per_hour]", timeout=RUN_S * 1000)
    page.wait_for_selector("#chart-sankey svg.main-svg", timeout=60_000)
    for chart in ("sankey", "shares", "cost", "pools"):
        svg = page.locator(f"#chart-{chart} svg.main-svg")
        assert svg.count() >= 1, chart
    assert page.locator("#chart-sankey g.sankey-node").count() >= 8  # workloads and pools
    assert page.locator("#chart-cost g.point").count() == 7  # one bar per workload

    run_id = page.locator("#run-id").inner_text()
    with httpx2.Client(base_url=live.url, headers=live.auth("viewer"), timeout=30) as client:
        record = client.get(f"/api/v1/runs/{run_id}/result").json()
    assert record["status"] == "optimal"

    def value(selector: str) -> Any:
        return json.loads(page.locator(selector).first.get_attribute("data-value"))

    for key in ("cost_per_hour", "cost_per_year", "power_mw", "optimality_gap"):
        assert value(f"[data-stat={key}]") == record[key], key
    for w in record["workloads"]:
        row = f"#workloads tr[data-workload='{json.dumps(w['name'])}']"
        assert value(f"{row} td[data-field=cost_per_hour]") == w["cost_per_hour"]
        assert value(f"{row} td[data-field=accelerators]") == w["accelerators"]
    for p in record["pools"]:
        row = f"#pools tr[data-pool='{json.dumps(p['pool'])}']"
        assert value(f"{row} td[data-field=used]") == p["used"]
        assert value(f"{row} td[data-field=utilisation]") == p["utilisation"]
    shown = [
        json.loads(v)
        for v in page.locator("#binding td[data-value]").evaluate_all(
            "cells => cells.map(c => c.dataset.value)"
        )
    ]
    assert shown == [b["saving_per_hour"] for b in record["binding"]]
    shown_cost = page.locator("[data-stat=cost_per_hour] dd").inner_text()
    assert shown_cost == f"${record['cost_per_hour']:,.0f}"

    page.goto(live.url + "/")  # the fleet overview draws the plan's pools and shares
    page.wait_for_selector("#chart-pools-by-vendor svg.main-svg")
    page.wait_for_selector("#chart-shares-vs-caps svg.main-svg")
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_the_editor_marks_the_line_at_fault_and_names_are_escaped(live: Live, browser_page: Any):
    page = browser_page
    page.goto(live.url + "/login")
    page.fill("input[name=token]", live.secrets["planner"])
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/")
    text = (EXAMPLES / "hyperscaler-2026.yaml").read_text()
    hostile = text.replace("name: hyperscaler-2026", "name: '<img src=x onerror=alert(1)>'")
    bad = hostile.replace("count: 400000", "count: -4")
    with httpx2.Client(base_url=live.url, headers=live.auth("planner"), timeout=30) as client:
        deal = (EXAMPLES / "deals" / "amd-6gw.yaml").read_bytes()
        assert client.post("/api/v1/deals?name=amd-6gw.yaml", content=deal).status_code == 201
        assert client.post("/api/v1/scenarios?name=bad.yaml", content=bad.encode()).is_success
    page.goto(live.url + "/documents/scenarios/bad.yaml")
    error = page.locator("#validation-error")
    line = int(error.get_attribute("data-line"))
    assert text.splitlines()[line - 1].strip().endswith("cost: {per_gpu_hour: 2.40}}")
    assert error.get_attribute("data-field").startswith("pools[0].count")
    marked = page.locator("ol.source li.error-line")
    assert marked.count() == 1 and marked.get_attribute("id") == f"L{line}"
    assert "count: -4" in marked.inner_text()
    # the hostile name is shown as text, never run as markup
    assert page.locator("ol.source img").count() == 0
    assert "<img src=x onerror=alert(1)>" in page.locator("ol.source").inner_text()
    # fixed in the editor and validated without storing it
    page.fill("textarea[name=content]", hostile)
    page.click("button[value=check]")
    page.wait_for_selector("#validation-ok")
    assert page.console_errors == []  # type: ignore[attr-defined]
