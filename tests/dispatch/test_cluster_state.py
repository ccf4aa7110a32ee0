"""The local cluster's state file is trusted only as far as it can be checked: a reused pid is
never signalled, a damaged file is named, and a dead address is refused in seconds, not waited
on. No cluster is started here."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app

from .test_ledger_files import flat, inputs

runner = CliRunner()


@pytest.fixture
def bystander():
    """An unrelated process, whose pid a stale state file will name."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_address():
    """host:port of a port that is bound but not listening: connections are refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _state(folder: Path, **record: object) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "cluster.json"
    path.write_text(json.dumps(record))
    return path


def test_cluster_down_never_signals_a_process_that_is_not_the_server(
    tmp_path, monkeypatch, bystander, dead_address
):
    monkeypatch.chdir(tmp_path)
    state = _state(tmp_path / ".polyfleet", address=dead_address, pid=bystander.pid, pools=[])
    result = runner.invoke(app, ["cluster", "down"])
    assert result.exit_code == 0, result.output
    assert bystander.poll() is None  # still running: it was not SIGTERMed
    out = flat(result.stdout)
    assert flat("no local cluster was running") in out
    assert flat(f"process {bystander.pid} is now") in out
    assert not state.exists()  # the stale file is gone


def _polyfleet(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A real process, so that a hang fails the test instead of stopping the suite."""
    return subprocess.run(
        [sys.executable, "-m", "polyfleet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_a_stale_state_file_is_not_joined(tmp_path, bystander, dead_address):
    inputs(tmp_path)
    _state(tmp_path / ".polyfleet", address=dead_address, pid=bystander.pid, pools=[])
    proc = _polyfleet("run", "jobs.yaml", "--plan", "plan.json", cwd=tmp_path)
    assert proc.returncode == 1 and "no cluster" in proc.stderr
    assert "stale" in flat(proc.stderr) and bystander.poll() is None


@pytest.mark.parametrize(
    "content", ["{not json", '{"pid": 1}', '{"pid": "x", "address": "h:1"}', "[]"]
)
def test_a_damaged_state_file_is_named(tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    (tmp_path / ".polyfleet").mkdir()
    (tmp_path / ".polyfleet" / "cluster.json").write_text(content)
    for args in (["cluster", "down"], ["run", "jobs.yaml", "--plan", "plan.json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        err = flat(result.stderr)
        assert flat(".polyfleet/cluster.json: not a cluster state file") in err
        assert flat("If no local cluster is running, delete it") in err
    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0 and "not a cluster state file" in status.stdout


def test_a_dead_address_is_refused_in_seconds(tmp_path, dead_address):
    """`status` reports it and `run` refuses it, both promptly (Ray alone waits minutes)."""
    jobs, plan = inputs(tmp_path)
    commands = {
        "status": ["status", "--address", dead_address, "--json"],
        "run": ["run", str(jobs), "--plan", str(plan), "--address", dead_address],
    }
    for name, args in commands.items():
        proc = _polyfleet(*args, cwd=tmp_path)
        said = proc.stdout if name == "status" else proc.stderr
        assert flat(f"cannot reach the Ray cluster at {dead_address}") in flat(said)
        assert proc.returncode == (0 if name == "status" else 1), proc.stderr
        assert "Traceback" not in proc.stderr
