"""Take the README's screenshot of the dashboard's plan page: start `polyfleet serve` on a fresh
state folder, upload the bundled scenario and its deal, run a plan, and photograph its page in
Debian's chromium (Playwright). Run: `.venv/bin/python docs/screenshot.py` (writes
docs/plan-page.png)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OUT = ROOT / "docs" / "plan-page.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    state = Path(tempfile.mkdtemp(prefix="polyfleet-shot-"))
    port = free_port()
    serve = [sys.executable, "-m", "polyfleet", "serve", "--state-dir", str(state)]
    server = subprocess.Popen(
        [*serve, "--port", str(port)], stdout=subprocess.PIPE, text=True, cwd=state
    )
    try:
        assert server.stdout is not None
        secret = next(line.strip() for line in server.stdout if line.startswith("pf_"))
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {secret}"}
        with httpx2.Client(base_url=base, headers=auth, timeout=60) as client:
            for _ in range(600):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx2.TransportError:
                    time.sleep(0.1)
            deal = (EXAMPLES / "deals" / "amd-6gw.yaml").read_bytes()
            client.post("/api/v1/deals?name=amd-6gw.yaml", content=deal)
            scenario = (EXAMPLES / "hyperscaler-2026.yaml").read_bytes()
            client.post("/api/v1/scenarios?name=hyperscaler-2026.yaml", content=scenario)
            body = {
                "kind": "plan",
                "document": {"kind": "scenario", "name": "hyperscaler-2026.yaml"},
            }
            run = client.post("/api/v1/runs", json=body).json()
            while client.get(f"/api/v1/runs/{run['id']}").json()["status"] in ("queued", "running"):
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1250})
            page.goto(f"{base}/login?next=/runs/{run['id']}")
            page.fill("input[name=token]", secret)
            page.click("button[type=submit]")
            for chart in ("sankey", "shares", "cost", "pools"):
                page.wait_for_selector(f"#chart-{chart} svg.main-svg")
            page.wait_for_timeout(500)  # plotly's transitions
            page.screenshot(path=str(OUT))
            browser.close()
        print(f"wrote {OUT}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
