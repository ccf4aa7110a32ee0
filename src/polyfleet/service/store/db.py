"""Connecting to the store's database and bringing its schema up to date.

SQLite is the embedded default (a file in the state folder, WAL journal so readers never wait for
the writer, foreign keys on, a busy timeout so concurrent writers queue instead of failing);
PostgreSQL is reached by URL through psycopg 3. The schema is created and upgraded by the Alembic
migrations shipped in this package, run programmatically: users need no alembic.ini.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from polyfleet.errors import InputError

__all__ = [
    "DEFAULT_DB_FILE",
    "MIGRATIONS",
    "connect",
    "current_revision",
    "database_url",
    "head_revision",
    "migrate",
]

DEFAULT_DB_FILE = "service.sqlite"
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_MS = 30_000


def database_url(db: str | None, state_dir: Path) -> URL:
    """The URL to connect to: `db` as given (`postgresql://` means psycopg 3), or the SQLite file
    in `state_dir` when `db` is None. Any other scheme is an InputError."""
    if db is None:
        return URL.create("sqlite+pysqlite", database=str(state_dir / DEFAULT_DB_FILE))
    try:
        url = make_url(db)
    except ArgumentError:
        raise InputError(
            "not a database URL",
            field="--db",
            value=db,
            hint="Use sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host/dbname",
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgresql" and driver in ("", "psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not url.database or url.database == ":memory:":
            raise InputError(
                "an in-memory SQLite database would be lost on exit; name a file",
                field="--db",
                value=db,
            )
        return url.set(drivername="sqlite+pysqlite")
    raise InputError(
        "unsupported database; use SQLite or PostgreSQL (psycopg 3)",
        field="--db",
        value=url.render_as_string(hide_password=True),
    )


def connect(url: URL) -> Engine:
    """An engine for `url`; for SQLite, the file's folder is created and every connection gets
    WAL, foreign keys and a busy timeout."""
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        _wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _wal(cursor: Any) -> None:
    """Switch to the WAL journal. Switching takes an exclusive lock and SQLite may answer "locked"
    at once, without waiting on the busy timeout, while another connection opens the same new
    file; retry until the busy timeout has passed."""
    import sqlite3

    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# the key of the PostgreSQL advisory lock that migrations hold: the first bytes of "polyfleet"
MIGRATION_LOCK = int.from_bytes(b"polyflt", "big")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (the newest by default); a no-op when it is there.

    Servers that start together take turns: the migration runs in one transaction that first
    takes the database's write lock (SQLite `BEGIN IMMEDIATE`) or an advisory lock (PostgreSQL),
    so the others wait, then find the schema current.
    """
    from alembic import command

    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.begin()
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        command.upgrade(_config(connection), revision)
        connection.commit()


def head_revision() -> str:
    """The newest migration this package ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
