"""Damaged, foreign and unusable ledgers: `run` and `status` each give one error naming the file
and what to do, never a traceback, and change nothing. No cluster is needed: `run` checks the
ledger before it connects to one."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.dispatch import ledger as ledger_module
from polyfleet.dispatch.ledger import Ledger

from .plans import plan_record

runner = CliRunner()


def flat(text: str) -> str:
    """`text` without whitespace: rich folds long lines at any space, wherever a path ends."""
    return "".join(text.split())


def _permissions_bind() -> bool:
    """Whether file modes stop this process (they do not stop root with its usual powers)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe"
        probe.write_text("")
        probe.chmod(0o444)
        try:
            probe.open("w").close()
        except PermissionError:
            return True
        return False


ROOT = not _permissions_bind()
PLAN = plan_record({"w": {"p": 8.0}})
JOBS = {"jobs": [{"id": "j0", "workload": "w", "run": {"entry": "polyfleet.dispatch.demo:noop"}}]}


def inputs(folder: Path) -> tuple[Path, Path]:
    """A valid job file and plan in `folder`."""
    jobs, plan = folder / "jobs.yaml", folder / "plan.json"
    jobs.write_text(yaml.safe_dump(JOBS))
    plan.write_text(json.dumps(PLAN))
    return jobs, plan


def real_ledger(path: Path, n: int = 300) -> None:
    ledger = Ledger(path)
    ledger.add([(f"job-{i}", "w", {"entry": "m:f", "args": {"i": i}}) for i in range(n)])
    ledger.start([(f"job-{i}", "p", 1) for i in range(n // 2)])
    ledger.finish([(f"job-{i}", 1, "failed", "x" * 200) for i in range(n // 2)])
    ledger.close()
    path.with_name(path.name + ".lock").unlink(missing_ok=True)


def _sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(s)
    db.commit()
    db.close()


def garbage(p: Path) -> None:
    p.write_bytes(b"\x00\xffgarbage" * 512)


def text(p: Path) -> None:
    p.write_text(json.dumps(PLAN))


def empty(p: Path) -> None:
    p.write_bytes(b"")


def truncated(p: Path) -> None:
    real_ledger(p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def header_only(p: Path) -> None:
    real_ledger(p)
    p.write_bytes(p.read_bytes()[:100])


def folder(p: Path) -> None:
    p.mkdir()


def dangling_link(p: Path) -> None:
    p.symlink_to(p.parent / "gone.sqlite")


def foreign(p: Path) -> None:
    _sql(p, "CREATE TABLE songs (title TEXT)")


def other_jobs_table(p: Path) -> None:
    _sql(p, "CREATE TABLE jobs (id TEXT, name TEXT)", "CREATE TABLE events (job TEXT)")


def newer(p: Path) -> None:
    real_ledger(p)
    _sql(p, "PRAGMA user_version=99")


def bad_json_row(p: Path) -> None:
    real_ledger(p)
    _sql(p, "UPDATE jobs SET path='not json' WHERE id='job-3'")


def bad_type_row(p: Path) -> None:
    real_ledger(p)
    _sql(p, "UPDATE jobs SET attempt='many', run='[1]' WHERE id='job-200'")


def corrupt_page(p: Path) -> None:
    real_ledger(p)
    data = bytearray(p.read_bytes())
    data[4096 * 2 : 4096 * 2 + 64] = b"\xff" * 64  # the header of a b-tree page
    p.write_bytes(bytes(data))


def unreadable(p: Path) -> None:
    real_ledger(p)
    p.chmod(0)


# (name, how to damage the ledger file, what the message says)
CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("garbage header", garbage, "not an SQLite database"),
    ("a text file", text, "not an SQLite database"),
    ("empty", empty, "is empty"),
    ("truncated", truncated, "damaged"),
    ("truncated to its header", header_only, "damaged"),
    ("a folder", folder, "not a file"),
    ("a dangling link", dangling_link, "does not exist"),
    ("a foreign database", foreign, "not a polyfleet job ledger"),
    ("another jobs table", other_jobs_table, "not a polyfleet job ledger"),
    ("a newer format", newer, "newer polyfleet"),
    ("a row that is not JSON", bad_json_row, "'job-3' are not valid"),
    ("a row of the wrong types", bad_type_row, "'job-200' are not valid"),
    ("a damaged page", corrupt_page, "damaged"),
]
if not ROOT:  # permissions do not stop root
    CASES += [
        ("unreadable", unreadable, "cannot read the ledger"),
    ]


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes, less SQLite's own scratch files (`-shm`, `-wal`: a reader of a
    write-ahead-log database makes them, whatever it reads)."""
    return {
        str(p): (p.read_bytes() if p.is_file() and os.access(p, os.R_OK) else None)
        for p in sorted(folder.rglob("*"))
        if not p.name.endswith(("-shm", "-wal"))
    }


@pytest.mark.parametrize("command", ["run", "status"])
@pytest.mark.parametrize(("name", "damage", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_damaged_ledger_is_one_clear_error(tmp_path, monkeypatch, command, name, damage, message):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    ledger = state / "ledger.sqlite"
    damage(ledger)
    before = _snapshot(tmp_path)
    try:
        args = ["run", "jobs.yaml", "--plan", "plan.json"] if command == "run" else ["status"]
        result = runner.invoke(app, [*args, "--state-dir", "state"])
    finally:
        state.chmod(0o755)
    err = flat(result.stderr)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert flat(message) in err and "state/ledger.sqlite" in err
    if damage not in (newer, unreadable):  # a file to move aside, not a version or a mode
        assert flat("Move it aside (mv state/ledger.sqlite state/ledger.sqlite.damaged)") in err
    assert _snapshot(tmp_path) == before  # nothing written, nothing created


def test_a_ledger_another_program_locks_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ledger_module, "BUSY_TIMEOUT_S", 0.05)
    real_ledger(tmp_path / "ledger.sqlite")
    holder = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = runner.invoke(app, ["status", "--state-dir", "."])
    finally:
        holder.close()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert flat("locked by another program") in flat(result.stderr)


def test_a_state_folder_that_is_a_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    Path("state").write_text("x")
    for args in (["run", "jobs.yaml", "--plan", "plan.json"], ["status"]):
        result = runner.invoke(app, [*args, "--state-dir", "state"])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert "--state-dir" in result.stderr and flat("not a folder") in flat(result.stderr)


def test_jobs_in_unknown_states_are_reported(tmp_path, monkeypatch):
    """A row in a state no polyfleet writes is never run: `status` says so (it used to say
    nothing, and `run` never ran it)."""
    monkeypatch.chdir(tmp_path)
    real_ledger(tmp_path / "ledger.sqlite", n=4)
    _sql(
        tmp_path / "ledger.sqlite", "UPDATE jobs SET state='paused' WHERE id IN ('job-2', 'job-3')"
    )
    result = runner.invoke(app, ["status", "--state-dir", "."])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert flat("2 in state 'paused'") in out and flat("never run") in out
    data = json.loads(runner.invoke(app, ["status", "--state-dir", ".", "--json"]).stdout)
    assert data["unknown_states"] == {"paused": 2}


def test_a_read_only_ledger_is_read_by_status_and_refused_by_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    real_ledger(tmp_path / "ledger.sqlite", n=4)
    (tmp_path / "ledger.sqlite").chmod(0o444)
    result = runner.invoke(app, ["status", "--state-dir", ".", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["jobs"]["failed"] == 2
    if not ROOT:
        args = ["run", "jobs.yaml", "--plan", "plan.json", "--state-dir", "."]
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert flat("ledger.sqlite: the ledger is read-only") in flat(result.stderr)


@pytest.mark.skipif(ROOT, reason="permissions do not stop root")
def test_a_ledger_in_a_read_only_folder_is_read_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    real_ledger(state / "ledger.sqlite", n=4)
    state.chmod(0o555)
    try:
        status = runner.invoke(app, ["status", "--state-dir", "state", "--json"])
        run = runner.invoke(
            app, ["run", "jobs.yaml", "--plan", "plan.json", "--state-dir", "state"]
        )
    finally:
        state.chmod(0o755)
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["jobs"]["failed"] == 2
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit)
    assert flat("--state-dir: cannot create files in state") in flat(run.stderr)


def test_a_sound_ledger_passes_and_a_conflicting_job_file_is_refused(tmp_path, monkeypatch):
    """A sound ledger lets `run` go on to the cluster (none here: that is the next error); a job
    file whose id the ledger holds with another definition is refused before any cluster."""
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    from polyfleet.inputs.jobs import load_jobs

    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        ledger.add([(j.id, j.workload, j.run) for j in load_jobs("jobs.yaml")])
    args = ["run", "jobs.yaml", "--plan", "plan.json", "--state-dir", "state"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "no cluster" in result.stderr
    Path("jobs.yaml").write_text(
        yaml.safe_dump({"jobs": [{"id": "j0", "workload": "w", "run": {"entry": "m:other"}}]})
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert flat("'j0' are already in the ledger") in flat(result.stderr)
