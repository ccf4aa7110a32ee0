"""Command-line usage errors exit 1 like any other bad input (2 means "infeasible"), and keep
typer's message saying what was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "hyperscaler-2026.yaml")
runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", EXAMPLE, "--bogus"], "No such option"),
        (["plan"], "Missing argument"),
        (["tco", "h100-sxm", "--capex", "abc"], "Invalid value for '--capex'"),
        (["deal", "d.yaml", "--seed", "many"], "Invalid value for '--seed'"),
        (["frontier", EXAMPLE, "--points"], "requires an argument"),
        (["plann", EXAMPLE], "No such command"),
        (["cluster"], "Missing command"),
        (["cluster", "up"], "Missing argument"),
        (["run", "jobs.yaml"], "Missing option '--plan'"),
    ],
)
def test_usage_errors_exit_1_with_typers_message(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.stderr.split())  # rich wraps lines in its error box


def test_help_still_exits_0():
    assert runner.invoke(app, ["plan", "--help"]).exit_code == 0
