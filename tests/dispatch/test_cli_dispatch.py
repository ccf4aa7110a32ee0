"""The user's path: cluster up --local, plan, run, status, run again, cluster down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("ray")

from polyfleet.cli import app
from polyfleet.dispatch.ledger import Ledger

from .test_cluster import SCENARIO


def test_local_cluster_run_status_and_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCENARIO))
    jobs = {
        "jobs": [
            {
                "workload": "job",
                "run": {"entry": "polyfleet.dispatch.demo:sleep", "args": {"seconds": 0.01}},
                "count": 12,
            },
            {"id": "probe", "workload": "other", "run": {"probe": "copy", "preset": "tiny"}},
        ]
    }
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(jobs))
    assert runner.invoke(app, ["plan", "s.yaml", "--out", "plan.json"]).exit_code == 0
    # no cluster yet: a clear error, nothing written
    result = runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json"])
    assert result.exit_code == 1 and "no cluster" in result.stderr
    up = runner.invoke(app, ["cluster", "up", "s.yaml", "--local", "--slots", "6"])
    assert up.exit_code == 0, up.output
    try:
        assert "pool nv" in up.stdout and "pool spare" in up.stdout
        again = runner.invoke(app, ["cluster", "up", "s.yaml", "--local"])
        assert again.exit_code == 1 and "already running" in again.stderr
        (tmp_path / "bad.yaml").write_text(
            yaml.safe_dump({"jobs": [{"workload": "nope", "run": {"entry": "m:f"}}]})
        )
        bad = runner.invoke(app, ["run", "bad.yaml", "--plan", "plan.json"])
        assert bad.exit_code == 1 and "unknown workload 'nope'" in bad.stderr
        assert not (tmp_path / ".polyfleet" / "ledger.sqlite").exists()  # nothing written
        result = runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["counts"]["succeeded"] == 13 and len(report["profiles"]) == 1
        assert Path(report["profiles"][0]).parent.name == "profiles"
        status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
        assert status["jobs"]["succeeded"] == 13
        assert set(status["pools"]) == {"nv", "amd", "spare"}
        assert status["by_pool"]["spare"]["succeeded"] == 1  # `other` runs only on spare
        # a second run of the same file finds every job done: nothing runs twice
        rerun = json.loads(
            runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json", "--json"]).stdout
        )
        assert rerun["submitted"] == 0 and rerun["counts"]["succeeded"] == 13
        _two_runs_at_once(tmp_path, runner)
    finally:
        down = runner.invoke(app, ["cluster", "down"])
    assert down.exit_code == 0 and "stopped" in down.stdout
    assert "no local cluster" in runner.invoke(app, ["cluster", "down"]).stdout


def _two_runs_at_once(tmp_path: Path, runner: CliRunner) -> None:
    """While a run holds the ledger, another is refused, naming it; two more started with
    --wait both wait, then one runs every job and the other finds them done: each job runs once
    (a second `mkdir` of the same folder would fail its job)."""
    made = tmp_path / "made"
    made.mkdir()
    mkdir = [
        {"id": f"mk-{i}", "workload": "job", "run": {"entry": "os:mkdir", "args": {"path": p}}}
        for i, p in enumerate(str(made / f"d{i}") for i in range(30))
    ]
    (tmp_path / "mk.yaml").write_text(yaml.safe_dump({"jobs": mkdir}))
    ledger = tmp_path / ".polyfleet" / "ledger.sqlite"
    holder = Ledger(ledger)  # this test plays a run in progress
    try:
        refused = runner.invoke(app, ["run", "mk.yaml", "--plan", "plan.json"])
        assert refused.exit_code == 1
        said = "".join(refused.stderr.split())  # rich folds long lines at any space
        assert f"inusebyanotherrun(pid{os.getpid()}on" in said
        cmd = [sys.executable, "-m", "polyfleet", "run", "mk.yaml", "--plan", "plan.json"]
        procs = [
            subprocess.Popen(
                [*cmd, "--json", "--wait"],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in procs:  # both have checked everything and wait for the ledger
            assert proc.stderr is not None
            assert any("waiting for the run" in line for line in proc.stderr)
    finally:
        holder.close()
    outs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    reports = [json.loads(out) for out, _ in outs]
    assert sorted(r["submitted"] for r in reports) == [0, 30]
    assert all(r["counts"]["succeeded"] == 30 for r in reports)
    assert sorted(p.name for p in made.iterdir()) == sorted(f"d{i}" for i in range(30))
    with Ledger(ledger, readonly=True) as done:
        assert all([s for s, _ in done.events(f"mk-{i}")].count("running") == 1 for i in range(30))
