"""The job ledger: every job's state and path, in SQLite, written before anything is submitted.

    queued ──> running ──> succeeded
                  │   └──> failed          (its own error, or no pool left to try)
                  └──> rerouted ──> running  (the node or pool was lost; next pool in the plan)

Each submission is an attempt with a number; a result is recorded only for the job's current
attempt and only from `running`, so a late answer from an abandoned attempt can never mark a job
done twice. `polyfleet status` and a restarted `polyfleet run` read the same file.

Opened for writing, a ledger holds an exclusive lock (`lock.py`) for as long as it is open, so two
runs never submit the same jobs. Each row records the job file it came from (`source`), and `add`
makes a run's own jobs its scope: a run submits, counts and reports only those, and lists the
unfinished jobs of other files as leftovers. A file that is not a ledger this version can use
(damaged, truncated, foreign, newer, unreadable) is refused with one error naming it and what to
do; it is checked whole (`PRAGMA quick_check`, and every row's JSON) when opened.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from polyfleet.dispatch.lock import LedgerLock
from polyfleet.errors import InputError

__all__ = ["STATES", "Ledger", "check_ledger", "unknown_states"]

STATES = ("queued", "running", "succeeded", "failed", "rerouted")
WAITING = ("queued", "rerouted")
SCHEMA_VERSION = 1  # PRAGMA user_version; 0 is the first format (no `source`), upgraded on write
BUSY_TIMEOUT_S = 5.0
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
    updated REAL NOT NULL,
    source TEXT
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
_JOB_COLUMNS = {0: set(), 1: {"source"}}
_V0_JOB_COLUMNS = {"id", "workload", "run", "state", "pool", "attempt", "path", "error", "result"}
_V0_JOB_COLUMNS |= {"created", "updated"}
_EVENT_COLUMNS = {"job", "at", "state", "pool", "detail"}
# rows polyfleet wrote: JSON where JSON belongs, an integer attempt
_BAD_ROWS = """
SELECT id FROM jobs WHERE NOT (
    typeof(id) = 'text' AND typeof(workload) = 'text' AND typeof(state) = 'text'
    AND typeof(attempt) = 'integer'
    AND CASE WHEN json_valid(run) THEN json_type(run) = 'object' ELSE 0 END
    AND CASE WHEN json_valid(path) THEN json_type(path) = 'array' ELSE 0 END
    AND (result IS NULL OR json_valid(result))
) LIMIT 3
"""
_MAGIC = b"SQLite format 3\x00"

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """SQLite errors raised while using the ledger become one InputError naming the file."""

    @functools.wraps(method)
    def wrapper(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._sqlite_error(exc) from None

    return wrapper  # type: ignore[return-value]


def unknown_states(counts: dict[str, int]) -> dict[str, int]:
    """The states in `counts` that no version of polyfleet writes (the file was edited)."""
    return {s: n for s, n in counts.items() if s not in STATES and n}


class Ledger:
    """The ledger at `path`: read-only (`status`), or for writing under the ledger's lock (`run`;
    `wait` waits for another run to finish instead of refusing)."""

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        wait: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._scoped = False
        self._lock = None if readonly else LedgerLock(self.path)
        if self._lock is not None:
            self._lock.acquire(wait=wait, on_wait=on_wait)
        try:
            self.db = self._connect()
            self.version = self._verify()
            if not readonly and self.version < SCHEMA_VERSION:
                self._upgrade()
        except sqlite3.Error as exc:
            self._release()
            raise self._sqlite_error(exc) from None
        except OSError as exc:
            self._release()
            raise InputError(
                f"cannot open the ledger ({exc.strerror or exc})",
                file=str(self.path),
                hint=f"Check the permissions of the file and of its folder {self.path.parent}",
            ) from None
        except BaseException:
            self._release()
            raise

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    # -- opening ------------------------------------------------------------------------------

    def _damaged(self, what: str) -> InputError:
        return InputError(
            f"{what}: not a ledger polyfleet can use",
            file=str(self.path),
            hint=f"Move it aside (mv {self.path} {self.path}.damaged) to start a new ledger; "
            "the jobs recorded in this one are then unknown to polyfleet and run again",
        )

    def _sqlite_error(self, exc: sqlite3.Error) -> InputError:
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_FORMAT", "SQLITE_SCHEMA")):
            return self._damaged(f"the file is damaged ({exc})")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return InputError(
                f"the ledger is locked by another program ({exc}); try again when it is done",
                file=str(self.path),
            )
        if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")):
            doing = "read" if self.readonly else "read and write"
            return InputError(
                f"cannot {doing} the ledger ({exc})",
                file=str(self.path),
                hint=f"Check the permissions of the file and of its folder {self.path.parent}",
            )
        if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
            return InputError(
                f"cannot write the ledger ({exc}): is the disk full?", file=str(self.path)
            )
        return self._damaged(f"SQLite says: {exc}")

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        if path.is_symlink() and not path.exists():
            raise self._damaged(f"it is a link to {os.readlink(path)}, which does not exist")
        if not path.exists():
            if self.readonly:
                raise InputError("no ledger here", file=str(path))
            self._create()
        elif not path.is_file():
            raise self._damaged("it is a folder or a device, not a file")
        try:
            with path.open("rb") as fh:
                head = fh.read(len(_MAGIC))
        except OSError as exc:
            raise InputError(
                f"cannot read the ledger ({exc.strerror or exc})",
                file=str(path),
                hint=f"Check the permissions of the file and of its folder {path.parent}",
            ) from None
        if not head:
            raise self._damaged("the file is empty (truncated?)")
        if head != _MAGIC:
            raise self._damaged("the file is not an SQLite database")
        uri = f"{path.resolve().as_uri()}?mode={'ro' if self.readonly else 'rw'}"
        if self.readonly and not os.access(path.parent, os.W_OK):
            uri += "&immutable=1"  # no run can write here either; SQLite could not make its -shm
        db = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_S,
        )
        if not self.readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _create(self) -> None:
        """A new ledger, built beside the path and renamed into place: a crash never leaves an
        empty or half-made ledger behind."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create the ledger's folder ({exc.strerror or exc})", file=str(self.path)
            ) from None
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)  # a run stopped while creating it (we hold the lock)
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        os.replace(tmp, self.path)

    def _verify(self) -> int:
        """The ledger's format version, once the file is whole and has this format's tables."""
        problems = [r[0] for r in self.db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise self._damaged(f"the file is damaged ({'; '.join(problems)})")
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise InputError(
                f"the ledger has format {version}, written by a newer polyfleet (this one reads "
                f"up to {SCHEMA_VERSION})",
                file=str(self.path),
                hint="Use that version, or another --state-dir",
            )
        columns = {
            table: {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            for table in ("jobs", "events")
        }
        if (
            version not in _JOB_COLUMNS
            or columns["jobs"] != _V0_JOB_COLUMNS | _JOB_COLUMNS[version]
            or columns["events"] != _EVENT_COLUMNS
        ):
            raise self._damaged("its tables are not a polyfleet job ledger's")
        bad = [r[0] for r in self.db.execute(_BAD_ROWS)]
        if bad:
            raise self._damaged(f"the rows of job(s) {', '.join(map(repr, bad))} are not valid")
        return version

    def _upgrade(self) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.version == 0:
                self.db.execute("ALTER TABLE jobs ADD COLUMN source TEXT")
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.version = SCHEMA_VERSION

    # -- this run's jobs ----------------------------------------------------------------------

    def _stage(self, jobs: Iterable[tuple[str, str, dict[str, Any]]], source: str | None) -> None:
        """Make `jobs` this connection's scope (a temporary table: it never touches the file)."""
        self.db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS scope "
            "(id TEXT PRIMARY KEY, workload TEXT, run TEXT, source TEXT)"
        )
        self.db.execute("DELETE FROM temp.scope")
        self.db.executemany(
            "INSERT OR IGNORE INTO temp.scope VALUES (?, ?, ?, ?)",
            ((i, w, json.dumps(r, sort_keys=True), source) for i, w, r in jobs),
        )

    def _refuse_conflicts(self, source: str | None) -> None:
        """A job id already recorded with another workload or run is another job: refuse."""
        origin = "j.source" if self.version >= 1 else "NULL"
        rows = self.db.execute(
            f"SELECT j.id, {origin} FROM jobs j JOIN temp.scope s ON s.id = j.id "
            "WHERE j.workload != s.workload OR j.run != s.run LIMIT 3"
        ).fetchall()
        if rows:
            ids = ", ".join(repr(r[0]) for r in rows)
            origin = rows[0][1] or "an earlier job file"
            raise InputError(
                f"job(s) {ids} are already in the ledger {self.path} with another definition "
                f"(from {origin})",
                file=source,
                hint="Give the job(s) new ids, or use another --state-dir for this job file",
            )

    @_guarded
    def check(self, jobs: Iterable[tuple[str, str, dict[str, Any]]], source: str | None) -> None:
        """Refuse a job file whose ids the ledger holds with other definitions (reads only)."""
        self._stage(jobs, source)
        self._refuse_conflicts(source)
        self._scoped = True

    # -- writing ------------------------------------------------------------------------------

    @_guarded
    def add(
        self, jobs: Iterable[tuple[str, str, dict[str, Any]]], source: str | None = None
    ) -> int:
        """Queue jobs (id, workload, run) not already in the ledger, and make these jobs the scope
        that `scope=True` reads; returns how many were new."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self._stage(jobs, source)
            self._refuse_conflicts(source)
            self.db.execute(
                "INSERT INTO events (job, at, state) SELECT id, ?, 'queued' FROM temp.scope "
                "WHERE id NOT IN (SELECT id FROM jobs)",
                (now,),
            )
            cur = self.db.execute(
                "INSERT OR IGNORE INTO jobs (id, workload, run, state, source, created, updated) "
                "SELECT id, workload, run, 'queued', source, ?, ? FROM temp.scope ORDER BY rowid",
                (now, now),
            )
        self._scoped = True  # only now: a refused add rolled the scope back with the rest
        return cur.rowcount

    @_guarded
    def start(self, assignments: Sequence[tuple[str, str, int]]) -> None:
        """Jobs (id, pool, attempt) submitted: queued or rerouted -> running."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
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

    @_guarded
    def finish(self, outcomes: Sequence[tuple[str, int, str, Any]]) -> int:
        """Record (id, attempt, state, result or error) for current attempts only; returns the
        number recorded (stale attempts are ignored). A result JSON cannot hold fails its job
        alone, saying so."""
        now = time.time()
        done = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for job, attempt, state, payload in outcomes:
                if state not in ("succeeded", "failed", "rerouted"):
                    raise ValueError(f"not a final or rerouted state: {state}")
                result: str | None = None
                error: str | None = None
                if state != "succeeded":
                    error = str(payload)
                else:
                    try:
                        result = json.dumps(payload, allow_nan=False)
                    except (TypeError, ValueError, RecursionError) as exc:
                        state = "failed"
                        error = f"its result cannot be stored as JSON ({exc})"[:500]
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

    @_guarded
    def fail_waiting(self, failures: Sequence[tuple[str, str]]) -> int:
        """Jobs (id, reason) that cannot be submitted at all: queued or rerouted -> failed."""
        now = time.time()
        done = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for job, reason in failures:
                cur = self.db.execute(
                    "UPDATE jobs SET state='failed', error=?, updated=? "
                    "WHERE id=? AND state IN ('queued', 'rerouted')",
                    (reason, now, job),
                )
                if cur.rowcount == 1:
                    done += 1
                    self.db.execute(
                        "INSERT INTO events (job, at, state, detail) VALUES (?, ?, 'failed', ?)",
                        (job, now, reason),
                    )
        return done

    @_guarded
    def requeue_orphans(self) -> int:
        """Jobs left `running` by a run that stopped (its tasks died with it): queue them again.
        (Only the lock's holder writes, so every `running` row is an orphan.)"""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "UPDATE jobs SET state='rerouted', error='the run that started it stopped', "
                "updated=? WHERE state='running'",
                (time.time(),),
            )
            return cur.rowcount

    # -- reading ------------------------------------------------------------------------------

    def _where(self, scope: bool) -> str:
        if not scope:
            return ""
        if not self._scoped:
            raise RuntimeError("no scope: `add` or `check` this run's jobs first")
        return " AND id IN (SELECT id FROM temp.scope)"

    @_guarded
    def counts(self, scope: bool = False) -> dict[str, int]:
        """Jobs by state; states polyfleet does not know are counted too (see unknown_states)."""
        out = dict.fromkeys(STATES, 0)
        sql = f"SELECT state, COUNT(*) FROM jobs WHERE 1{self._where(scope)} GROUP BY state"
        for state, n in self.db.execute(sql):
            out[state] = n
        return out

    @_guarded
    def leftovers(self) -> dict[str, int]:
        """Unfinished jobs outside this run's scope, by the job file they came from."""
        out: dict[str, int] = {}
        rows = self.db.execute(
            "SELECT COALESCE(source, 'an earlier job file'), COUNT(*) FROM jobs "
            "WHERE state IN ('queued', 'running', 'rerouted') "
            "AND id NOT IN (SELECT id FROM temp.scope) GROUP BY 1 ORDER BY 1"
            if self._scoped
            else "SELECT '', 0 WHERE 0"
        )
        for source, n in rows:
            out[source] = n
        return out

    @_guarded
    def by_pool(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for pool, state, n in self.db.execute(
            "SELECT pool, state, COUNT(*) FROM jobs WHERE pool IS NOT NULL GROUP BY pool, state"
        ):
            out.setdefault(pool, dict.fromkeys(STATES, 0))[state] = n
        return out

    @_guarded
    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT id, workload, run, state, pool, attempt, path, error, result FROM jobs "
            "WHERE id=?",
            (job_id,),
        ).fetchone()
        return None if row is None else self._row(row)

    @_guarded
    def jobs(self, state: str | None = None, scope: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT id, workload, run, state, pool, attempt, path, error, result FROM jobs"
        sql += " WHERE 1" + self._where(scope)
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " AND state=?"
            args = (state,)
        return [self._row(r) for r in self.db.execute(sql + " ORDER BY created, rowid", args)]

    @_guarded
    def events(self, job_id: str) -> list[tuple[str, str | None]]:
        return list(
            self.db.execute("SELECT state, pool FROM events WHERE job=? ORDER BY rowid", (job_id,))
        )

    def _row(self, row: tuple[Any, ...]) -> dict[str, Any]:
        keys = ("id", "workload", "run", "state", "pool", "attempt", "path", "error", "result")
        out = dict(zip(keys, row, strict=True))
        try:
            out["run"] = json.loads(out["run"])
            out["path"] = json.loads(out["path"])
            out["result"] = json.loads(out["result"]) if out["result"] else None
        except (TypeError, ValueError):  # changed since it was opened and checked
            raise self._damaged(f"the row of job {out['id']!r} is not valid") from None
        return out


def check_ledger(
    path: str | Path, jobs: Iterable[tuple[str, str, dict[str, Any]]], source: str | None
) -> None:
    """Before a run connects to anything: a ledger at `path` must be one this version can use and
    agree with the job file (reads only; a missing ledger is fine, `run` creates it)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    with Ledger(path, readonly=True) as ledger:
        ledger.check(jobs, source)
    if not os.access(path, os.W_OK):
        raise InputError(
            "the ledger is read-only, and `run` records every job in it",
            file=str(path),
            hint="Make it writable (chmod u+w), or use another --state-dir",
        )
