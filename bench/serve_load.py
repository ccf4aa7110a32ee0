"""Load on loopback: one `polyfleet serve` process (its own SQLite store, or PostgreSQL with --db)
takes 200 concurrent reads and 20 concurrent plan submissions at once, in rounds. Every answer
must be a success and every submission must be stored, listed and run to its end (none lost);
the script exits 1 otherwise. Latency is from sending a request to its whole answer, per kind of
request; "drain" is from a round's start until its last plan has ended.

    python bench/serve_load.py               # 3 rounds, appends a section to BENCHMARKS.md
    python bench/serve_load.py --rounds 1 --no-write
    python bench/serve_load.py --db postgresql+psycopg://user:pw@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
WAIT_S = 600  # bounds on the server's start and a round's runs; far above what they take
PLAN = {"kind": "plan", "document": {"kind": "scenario", "name": "fleet.yaml"}}


@dataclass
class Tally:
    """Latencies (s) by kind of request, failures as text, and the runs each round submitted."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    drain_s: list[float] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(state: Path, workers: int, db: str | None) -> Iterator[tuple[str, str]]:
    """`polyfleet serve` on a free loopback port: (its URL, the admin secret it printed)."""
    port = free_port()
    out, err = state.parent / "serve.out", state.parent / "serve.err"
    command = [sys.executable, "-m", "polyfleet", "serve", "--state-dir", str(state)]
    command += ["--port", str(port), "--workers", str(workers)]
    if db is not None:
        command += ["--db", db]
    with out.open("w") as printed, err.open("w") as errors:
        process = subprocess.Popen(command, stdout=printed, stderr=errors, cwd=state.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"polyfleet serve did not start:\n{err.read_text()}")
            try:
                if httpx2.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        secrets = [x.strip() for x in out.read_text().splitlines() if x.startswith("pf_")]
        if not secrets:
            raise SystemExit("the store has tokens already: use a fresh --db")
        yield url, secrets[0]
    finally:
        process.terminate()
        process.wait(timeout=120)


def prepare(url: str, admin: str) -> tuple[dict[str, str], dict[str, str], str]:
    """Tokens for a viewer and a planner, the bundled scenario and its deal stored, and one plan
    run ended (the reads fetch its result): (viewer headers, planner headers, its id)."""
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as client:
        auth = {}
        for role in ("viewer", "planner"):
            made = client.post("/api/v1/tokens", json={"role": role, "name": f"load {role}"})
            made.raise_for_status()
            auth[role] = {"Authorization": f"Bearer {made.json()['secret']}"}
        for segment, name, path in (
            ("deals", "amd-6gw.yaml", EXAMPLES / "deals" / "amd-6gw.yaml"),
            ("scenarios", "fleet.yaml", EXAMPLES / "hyperscaler-2026.yaml"),
        ):
            client.post(f"/api/v1/{segment}?name={name}", content=path.read_bytes())
        run = client.post("/api/v1/runs", json=PLAN).json()["id"]
        deadline = time.monotonic() + WAIT_S
        while client.get(f"/api/v1/runs/{run}").json()["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise SystemExit("the first plan run did not end")
            time.sleep(0.2)
    return auth["viewer"], auth["planner"], run


def read_paths(run: str) -> dict[str, str]:
    return {
        "scenario": "/api/v1/scenarios/fleet.yaml",
        "scenario list": "/api/v1/scenarios",
        "run list": "/api/v1/runs?limit=50",
        "run status": f"/api/v1/runs/{run}",
        "plan result": f"/api/v1/runs/{run}/result",
        "catalog": "/api/v1/catalog",
    }


async def timed(
    tally: Tally, label: str, client: httpx2.AsyncClient, method: str, path: str, **kw: object
) -> httpx2.Response | None:
    start = time.perf_counter()
    try:
        answer = await client.request(method, path, **kw)  # type: ignore[arg-type]
    except httpx2.HTTPError as exc:
        tally.failures.append(f"{label}: {type(exc).__name__}: {exc}")
        return None
    tally.latency[label].append(time.perf_counter() - start)
    if not answer.is_success:
        tally.failures.append(f"{label}: {answer.status_code} {answer.text[:200]}")
    return answer


async def one_round(
    url: str, viewer: dict[str, str], planner: dict[str, str], run: str, reads: int, plans: int
) -> Tally:
    """`reads` reads and `plans` plan submissions all in flight at once, then the plans' ends."""
    tally = Tally()
    paths = list(read_paths(run).items())
    limits = httpx2.Limits(max_connections=reads + plans + 10, max_keepalive_connections=0)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=WAIT_S) as client:
        start = time.perf_counter()
        read_calls = [
            timed(
                tally,
                paths[i % len(paths)][0],
                client,
                "GET",
                paths[i % len(paths)][1],
                headers=viewer,
            )
            for i in range(reads)
        ]
        submits = [
            timed(
                tally, "plan submission", client, "POST", "/api/v1/runs", json=PLAN, headers=planner
            )
            for _ in range(plans)
        ]
        answers = await asyncio.gather(*read_calls, *submits)
        ids = [a.json()["id"] for a in answers[reads:] if a is not None and a.status_code == 202]
        tally.submitted = ids
        pending = set(ids)
        deadline = time.monotonic() + WAIT_S
        while pending and time.monotonic() < deadline:
            for run_id in list(pending):
                status = (await client.get(f"/api/v1/runs/{run_id}", headers=viewer)).json()
                if status["status"] not in ("queued", "running"):
                    pending.discard(run_id)
                    if status["status"] != "succeeded":
                        tally.failures.append(f"run {run_id}: {status['status']}")
            await asyncio.sleep(0.2)
        tally.drain_s.append(time.perf_counter() - start)
        tally.failures += [f"run {r}: did not end" for r in pending]
    return tally


def lost(url: str, viewer: dict[str, str], submitted: list[str]) -> list[str]:
    """Acknowledged submissions the store does not list."""
    with httpx2.Client(base_url=url, headers=viewer) as client:
        listed: set[str] = set()
        offset = 0
        while True:
            page = client.get(f"/api/v1/runs?kind=plan&limit=500&offset={offset}").json()
            listed |= {r["id"] for r in page["items"]}
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
    return [r for r in submitted if r not in listed]


def one_at_a_time(url: str, viewer: dict[str, str], run: str, tally: Tally) -> np.ndarray:
    """Latencies (ms) of the same reads sent one after another, none concurrent: what a read
    costs, against which the rounds' figures show the queueing."""
    out = []
    with httpx2.Client(base_url=url, headers=viewer) as client:
        for _ in range(20):
            for label, path in read_paths(run).items():
                start = time.perf_counter()
                answer = client.get(path)
                out.append(time.perf_counter() - start)
                if not answer.is_success:
                    tally.failures.append(f"{label} alone: {answer.status_code}")
    return np.array(out) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--plans", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="runs at once (serve --workers)")
    parser.add_argument("--db", help="a PostgreSQL URL (default: SQLite in the state folder)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    total = Tally()
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="polyfleet-load-") as tmp,
        server(Path(tmp) / "state", args.workers, args.db) as (url, admin),
    ):
        viewer, planner, run = prepare(url, admin)
        for _ in range(args.rounds):
            tally = asyncio.run(one_round(url, viewer, planner, run, args.reads, args.plans))
            for label, values in tally.latency.items():
                total.latency[label] += values
            total.failures += tally.failures
            total.submitted += tally.submitted
            total.drain_s += tally.drain_s
        missing = lost(url, viewer, total.submitted)
        alone = one_at_a_time(url, viewer, run, total)
    expected = args.rounds * args.plans
    total.failures += [f"run {r}: acknowledged, not listed" for r in missing]
    if len(total.submitted) != expected:
        total.failures.append(f"{len(total.submitted)} of {expected} submissions acknowledged")

    rows = []
    for label in [*read_paths(run), "plan submission"]:
        ms = np.array(total.latency[label]) * 1000
        rows.append(
            f"| {label} | {ms.size} | {np.percentile(ms, 50):.0f} | "
            f"{np.percentile(ms, 99):.0f} | {ms.max():.0f} |"
        )
    reads = np.concatenate([total.latency[k] for k in read_paths(run)]) * 1000
    rows.append(
        f"| all reads | {reads.size} | {np.percentile(reads, 50):.0f} | "
        f"{np.percentile(reads, 99):.0f} | {reads.max():.0f} |"
    )
    rows.append(
        f"| one read at a time, none concurrent | {alone.size} | {np.percentile(alone, 50):.0f} | "
        f"{np.percentile(alone, 99):.0f} | {alone.max():.0f} |"
    )
    store = "PostgreSQL" if args.db else "SQLite (WAL)"
    section = "\n".join(
        [
            f"## serve_load{' on PostgreSQL' if args.db else ''} — {date.today()} — "
            f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}",
            "",
            f"One `polyfleet serve` process on loopback, {store} store, {args.workers} run "
            f"workers. Each of {args.rounds} rounds sends {args.reads} reads and {args.plans} "
            "plan submissions of the bundled scenario at once (one connection each), then waits "
            "for its plans to end. The client, the server and its workers share the machine's "
            f"cores (load average {load_before:.1f} before the start, other work included). "
            f"Reproduce: `python bench/serve_load.py{' --db URL' if args.db else ''}`.",
            "",
            "| request | n | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Errors: {len(total.failures)}. Submissions acknowledged {len(total.submitted)} of "
            f"{expected}, lost {len(missing)}, every one ended succeeded: "
            f"{'yes' if not total.failures else 'no'}. Drain per round (submission to the last "
            f"plan's end): {', '.join(f'{s:.1f}' for s in total.drain_s)} s.",
            "",
        ]
    )
    print(section)
    for failure in total.failures[:20]:
        print("FAILED", failure, file=sys.stderr)
    if not args.no_write and not total.failures:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write("\n" + section)
    sys.exit(1 if total.failures else 0)


if __name__ == "__main__":
    main()
