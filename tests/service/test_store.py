"""The store on SQLite and PostgreSQL: migrations, versions, concurrent writers, runs, tokens."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from polyfleet.errors import InputError
from polyfleet.service.store import Store, database_url
from polyfleet.service.store.db import connect, current_revision, head_revision, migrate
from polyfleet.service.store.models import Base


def test_migrations_from_empty_match_the_models(db_url: URL):
    engine = connect(db_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= {"documents", "runs", "tokens"}
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        migrate(engine)  # a second start finds the schema current and changes nothing
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_store: Store):
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_every_change_is_a_new_version_and_old_ones_stay(store: Store):
    texts = [b"name: a\n", b"name: b\n", b"name: c\n"]
    infos = [store.documents.put("scenario", "fleet.yaml", t)[0] for t in texts]
    assert [i.version for i in infos] == [1, 2, 3]
    for info, content in zip(infos, texts, strict=True):
        got = store.documents.get("scenario", "fleet.yaml", info.version)
        assert got is not None and got.content == content and got.info == info
    latest = store.documents.get("scenario", "fleet.yaml")
    assert latest is not None and latest.info.version == 3 and latest.content == texts[2]
    assert store.documents.get("scenario", "fleet.yaml", 4) is None
    # the same name under another kind is another document
    assert store.documents.put("deal", "fleet.yaml", b"x: 1\n")[0].version == 1


def test_the_same_content_again_adds_no_version(store: Store):
    first, added = store.documents.put("deal", "d.yaml", b"x: 1\n")
    again, added_again = store.documents.put("deal", "d.yaml", b"x: 1\n")
    assert added and not added_again and again == first
    changed, added_changed = store.documents.put("deal", "d.yaml", b"x: 2\n")
    assert added_changed and changed.version == 2
    # going back to an earlier content is a change too
    assert store.documents.put("deal", "d.yaml", b"x: 1\n")[0].version == 3


def test_lists_are_paged_with_a_total(store: Store):
    for i in range(5):
        store.documents.put("scenario", f"s{i}.yaml", b"a: 1\n")
    store.documents.put("scenario", "s3.yaml", b"a: 2\n")
    page = store.documents.list("scenario", limit=2, offset=2)
    assert page.total == 5
    assert [s.latest.name for s in page.items] == ["s2.yaml", "s3.yaml"]
    assert [s.versions for s in page.items] == [1, 2]
    assert page.items[1].latest.version == 2
    versions = store.documents.versions("scenario", "s3.yaml", limit=1)
    assert versions.total == 2 and [v.version for v in versions.items] == [2]


@pytest.mark.parametrize(
    "name", ["../x.yaml", "a/b.yaml", "/etc/passwd", ".hidden.yaml", "x", "x.txt", "a..b.yaml"]
)
def test_names_that_could_be_paths_are_refused(store: Store, name: str):
    with pytest.raises(InputError, match="name"):
        store.documents.put("scenario", name, b"a: 1\n")
    assert store.documents.list("scenario").total == 0


def test_a_profile_is_json(store: Store):
    with pytest.raises(InputError, match=r"ends in \.json"):
        store.documents.put("profile", "p.yaml", b"{}")


def test_concurrent_writers_lose_nothing(store: Store, db_url: URL):
    """Writers on two engines (as two server processes would be) and several threads each add
    versions of one document at once: every write gets its own version, none is lost."""
    other = Store(connect(db_url))
    writers, each = 6, 5
    barrier = threading.Barrier(writers)

    def write(w: int) -> list[int]:
        target = store if w % 2 else other
        barrier.wait()
        return [
            target.documents.put("scenario", "hot.yaml", f"w: {w}\ni: {i}\n".encode())[0].version
            for i in range(each)
        ]

    try:
        with ThreadPoolExecutor(writers) as pool:
            versions = [v for vs in pool.map(write, range(writers)) for v in vs]
    finally:
        other.close()
    assert sorted(versions) == list(range(1, writers * each + 1))
    contents = {store.documents.get("scenario", "hot.yaml", v).content for v in versions}
    assert len(contents) == writers * each


def test_run_lifecycle(store: Store):
    doc, _ = store.documents.put("scenario", "s.yaml", b"a: 1\n")
    deal, _ = store.documents.put("deal", "d.yaml", b"b: 2\n")
    used = [{"kind": "deal", "name": "d.yaml", "version": 1, "id": deal.id}]
    run = store.runs.create("plan", doc.id, {"method": "lp"}, inputs=used)
    assert run.status == "queued" and run.document == doc and run.options == {"method": "lp"}
    assert run.inputs == used and store.runs.queued(10) == [run.id]
    assert store.runs.get(run.id) == run
    started = store.runs.start(run.id, "worker-1")
    assert started is not None and started.status == "running" and started.worker == "worker-1"
    assert store.runs.start(run.id, "worker-2") is None  # one worker per run
    assert store.runs.progress(run.id, 0.25, "solving").progress == 0.25
    record = '{\n  "status": "optimal",\n  "cost_per_hour": 1.5\n}\n'
    done = store.runs.finish(run.id, "succeeded", record=record)
    assert done.status == "succeeded" and store.runs.record(run.id) == record
    assert done.progress == 1.0 and store.runs.queued(10) == []
    assert done.result_hash == hashlib.sha256(record.encode()).hexdigest()
    assert done.finished_at >= done.started_at >= done.created_at
    assert store.runs.finish(run.id, "failed", error={"code": "x"}) is None  # never reopened
    assert store.runs.cancel(run.id).status == "succeeded"


def test_cancel_and_interrupted_runs(store: Store):
    doc, _ = store.documents.put("scenario", "s.yaml", b"a: 1\n")
    queued = store.runs.create("leverage", doc.id)
    assert store.runs.cancel(queued.id).status == "cancelled"
    assert store.runs.start(queued.id, "w") is None
    running = store.runs.create("frontier", doc.id)
    store.runs.start(running.id, "w")
    assert store.runs.cancel_requested([running.id, queued.id]) == []
    asked = store.runs.cancel(running.id)
    assert asked.status == "running" and asked.cancel_requested_at is not None
    assert store.runs.cancel_requested([running.id, queued.id]) == [running.id]
    waiting = store.runs.create("plan", doc.id)
    assert store.runs.fail_interrupted() == 1
    failed = store.runs.get(running.id)
    assert failed.status == "failed" and failed.error["code"] == "interrupted"
    assert store.runs.get(waiting.id).status == "queued"
    page = store.runs.list(status="cancelled")
    assert page.total == 1 and page.items[0].id == queued.id
    assert store.runs.list().total == 3
    assert store.runs.list(document="s.yaml", kind="plan").total == 1
    assert store.runs.list(document="other.yaml").total == 0
    assert store.runs.fail(waiting.id, {"code": "x", "message": "m"}).status == "failed"
    assert store.runs.fail(waiting.id, {"code": "y", "message": "m"}) is None  # already final


def test_a_run_needs_a_stored_document(store: Store):
    with pytest.raises(InputError, match="no such document"):
        store.runs.create("plan", 12345)
    with pytest.raises(InputError, match="kind"):
        store.runs.create("dance", 1)


def test_tokens_keep_only_a_hash(store: Store):
    info, secret = store.tokens.create("planner", "ci")
    assert store.tokens.authenticate(secret).id == info.id
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM tokens")).all()
    dumped = repr(rows)
    assert info.id in dumped and secret not in dumped and secret.split("_")[-1] not in dumped
    assert store.tokens.get(info.id).last_used_at is not None


def test_wrong_malformed_and_revoked_secrets_are_refused(store: Store):
    info, secret = store.tokens.create("viewer")
    other, _ = store.tokens.create("admin")
    forged = f"pf_{other.id}_{secret.split('_', 2)[2]}"  # a real secret under another id
    for bad in ("", "Bearer x", secret[:-1] + ("A" if secret[-1] != "A" else "B"), forged):
        assert store.tokens.authenticate(bad) is None
    revoked = store.tokens.revoke(info.id)
    assert revoked.revoked_at is not None
    assert store.tokens.revoke(info.id).revoked_at == revoked.revoked_at
    assert store.tokens.authenticate(secret) is None
    assert store.tokens.revoke("nope") is None
    assert store.tokens.count() == 2 and store.tokens.count(active_only=True) == 1


def test_token_roles_and_names_are_checked(store: Store):
    with pytest.raises(InputError, match="role"):
        store.tokens.create("root")
    with pytest.raises(InputError, match="name"):
        store.tokens.create("viewer", "x" * 129)


def test_database_urls(tmp_path: Path):
    assert database_url(None, tmp_path).database == str(tmp_path / "service.sqlite")
    assert database_url("postgresql://u@h/db", tmp_path).drivername == "postgresql+psycopg"
    for bad, why in (
        ("mysql://u@h/db", "unsupported"),
        ("postgresql+psycopg2://u@h/db", "unsupported"),
        ("sqlite://", "in-memory"),
        ("not a url", "not a database URL"),
    ):
        with pytest.raises(InputError, match=why):
            database_url(bad, tmp_path)


def test_servers_starting_together_migrate_once(db_url: URL):
    """Several processes opening one empty database at once: one migrates, the others wait and
    find the schema current (none fails on a half-made schema)."""
    starters = 4
    barrier = threading.Barrier(starters)

    def start(_: int) -> str | None:
        engine = connect(db_url)
        try:
            barrier.wait()
            migrate(engine)
            return current_revision(engine)
        finally:
            engine.dispose()

    with ThreadPoolExecutor(starters) as pool:
        revisions = list(pool.map(start, range(starters)))
    assert revisions == [head_revision()] * starters
