"""The job ledger: every job's state and path, in SQLite, written before anything is submitted.

    queued ──> running ──> succeeded
                  │   └──> failed          (its own error, or no pool left to try)
                  └──> rerouted ──> running  (the node or pool was lost; next pool in the plan)

Each submission is an attempt with a number; a result is recorded only for the job's current
attempt and only from `running`, so a late answer from an abandoned attempt can never mark a job
done twice. `polyfleet status` and a restarted `polyfleet run` read the same file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["STATES", "Ledger"]

STATES = ("queued", "running", "succeeded", "failed", "rerouted")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    workload TEXT NOT NULL,
    run TEXT NOT NULL,
    state TEXT NOT NULL,
    pool TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    result TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    job TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL,
    pool TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events(job);
"""


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- writing ------------------------------------------------------------------------------

    def add(self, jobs: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
        """Queue jobs (id, workload, run) not already in the ledger; returns how many were new."""
        now = time.time()
        rows = [(i, w, json.dumps(r, sort_keys=True), "queued", now, now) for i, w, r in jobs]
        with self.db:
            self.db.execute("BEGIN")
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO jobs (id, workload, run, state, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = self.db.total_changes - before
            self.db.execute(
                "INSERT INTO events (job, at, state) SELECT id, created, 'queued' FROM jobs "
                "WHERE created = ?",
                (now,),
            )
        return added

    def start(self, assignments: Sequence[tuple[str, str, int]]) -> None:
        """Jobs (id, pool, attempt) submitted: queued or rerouted -> running."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            for job, pool, attempt in assignments:
                cur = self.db.execute(
                    "UPDATE jobs SET state='running', pool=?, attempt=?, updated=?, "
                    "path=json_insert(path, '$[#]', ?) "
                    "WHERE id=? AND state IN ('queued', 'rerouted')",
                    (pool, attempt, now, pool, job),
                )
                if cur.rowcount != 1:
                    raise RuntimeError(f"job {job} is not waiting to run")
                self.db.execute(
                    "INSERT INTO events (job, at, state, pool) VALUES (?, ?, 'running', ?)",
                    (job, now, pool),
                )

    def finish(self, outcomes: Sequence[tuple[str, int, str, Any]]) -> int:
        """Record (id, attempt, state, result or error) for current attempts only; returns the
        number recorded (stale attempts are ignored)."""
        now = time.time()
        done = 0
        with self.db:
            self.db.execute("BEGIN")
            for job, attempt, state, payload in outcomes:
                if state not in ("succeeded", "failed", "rerouted"):
                    raise ValueError(f"not a final or rerouted state: {state}")
                result = json.dumps(payload) if state == "succeeded" else None
                error = None if state == "succeeded" else str(payload)
                cur = self.db.execute(
                    "UPDATE jobs SET state=?, result=COALESCE(?, result), error=?, updated=? "
                    "WHERE id=? AND attempt=? AND state='running'",
                    (state, result, error, now, job, attempt),
                )
                if cur.rowcount == 1:
                    done += 1
                    self.db.execute(
                        "INSERT INTO events (job, at, state, detail) VALUES (?, ?, ?, ?)",
                        (job, now, state, error),
                    )
        return done

    def requeue_orphans(self) -> int:
        """Jobs left `running` by a run that stopped (its tasks died with it): queue them again."""
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "UPDATE jobs SET state='rerouted', error='the run that started it stopped', "
                "updated=? WHERE state='running'",
                (time.time(),),
            )
            return cur.rowcount

    # -- reading ------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for state, n in self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = n
        return out

    def by_pool(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for pool, state, n in self.db.execute(
            "SELECT pool, state, COUNT(*) FROM jobs WHERE pool IS NOT NULL GROUP BY pool, state"
        ):
            out.setdefault(pool, dict.fromkeys(STATES, 0))[state] = n
        return out

    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT id, workload, run, state, pool, attempt, path, error, result FROM jobs "
            "WHERE id=?",
            (job_id,),
        ).fetchone()
        return None if row is None else self._row(row)

    def jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, workload, run, state, pool, attempt, path, error, result FROM jobs"
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state=?"
            args = (state,)
        return [self._row(r) for r in self.db.execute(sql + " ORDER BY created, id", args)]

    def events(self, job_id: str) -> list[tuple[str, str | None]]:
        return list(
            self.db.execute("SELECT state, pool FROM events WHERE job=? ORDER BY rowid", (job_id,))
        )

    @staticmethod
    def _row(row: tuple[Any, ...]) -> dict[str, Any]:
        keys = ("id", "workload", "run", "state", "pool", "attempt", "path", "error", "result")
        out = dict(zip(keys, row, strict=True))
        out["run"] = json.loads(out["run"])
        out["path"] = json.loads(out["path"])
        out["result"] = json.loads(out["result"]) if out["result"] else None
        return out
