"""The user's path: cluster up --local, plan, run, status, run again, cluster down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("ray")

from polyfleet.cli import app

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
    finally:
        down = runner.invoke(app, ["cluster", "down"])
    assert down.exit_code == 0 and "stopped" in down.stdout
    assert "no local cluster" in runner.invoke(app, ["cluster", "down"]).stdout
