"""Errors as drawn: each class carries its exit code, and the command line ends every command with
it in one place: 1 bad input (or a missing extra, named), 2 infeasible, 3 the solver failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.errors import (
    NULL,
    CatalogError,
    InfeasibleError,
    InputError,
    MissingExtraError,
    PolyfleetError,
    SolverError,
)

from .conftest import write

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "hyperscaler-2026.yaml"
runner = CliRunner()


def test_each_error_class_carries_its_exit_code():
    assert PolyfleetError("x").exit_code == 1
    assert InputError("x").exit_code == CatalogError("x").exit_code == 1
    missing = MissingExtraError("polyfleet run", extra="run", missing="ray")
    assert isinstance(missing, InputError) and missing.exit_code == 1
    assert str(missing) == (
        "polyfleet run needs the `run` extra (ray is not installed). "
        "Install it: pip install 'polyfleet[run]'"
    )
    assert InfeasibleError("x", {"limits": []}, record={"status": "infeasible"}).exit_code == 2
    assert SolverError("x", status="time limit", seconds=1.0).exit_code == 3


def test_a_solver_failure_exits_3_saying_what_the_solver_reported(base, tmp_path, monkeypatch):
    from polyfleet.plan import placement

    def stopped(problem, objective, *args, **kwargs):
        raise SolverError("HiGHS stopped before an answer", status="time limit reached", seconds=61)

    monkeypatch.setattr(placement, "solve_problem", stopped)
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(write(tmp_path, base)), "--out", str(out)])
    assert result.exit_code == 3, result.output
    err = " ".join(result.stderr.split())
    assert err.startswith("error: HiGHS stopped") and "solver status: time limit reached" in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["leverage", "frontier"])
def test_leverage_and_frontier_on_an_infeasible_fleet_exit_2_with_the_diagnosis(
    base, tmp_path, command
):
    base["limits"] = {"power_cap_mw": 0.05}  # every workload servable, the power cap too small
    result = runner.invoke(app, [command, str(write(tmp_path, base))])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infeasible: ")
    assert "power cap short by" in lines[0] and "run `plan`" in lines[0]


def test_the_infeasible_error_carries_the_limits_that_must_give(base):
    from polyfleet.plan.leverage import leverage
    from polyfleet.plan.placement import prepare

    from .conftest import load

    base["limits"] = {"power_cap_mw": 0.05}
    with pytest.raises(InfeasibleError) as err:
        leverage(prepare(load(base)).problem)
    (limit,) = err.value.diagnosis["limits"]
    assert limit["kind"] == "power" and limit["unit"] == "MW" and limit["by"] > 0


def test_an_infeasible_plan_is_still_an_answer_printed_and_written(base, tmp_path):
    base["workloads"][0]["demand"]["value"] = 1000.0
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(write(tmp_path, base)), "--out", str(out), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["status"] == "infeasible"
    assert json.loads(out.read_text())["diagnosis"]["shortfalls"]
    assert result.stderr.startswith("infeasible: no plan meets every constraint")


def _without(module: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`polyfleet ARGS` in a fresh interpreter where `module` cannot be imported."""
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from polyfleet.cli import app\n"
        "app(sys.argv[1:], prog_name='polyfleet')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env={"COLUMNS": "4000", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("ray", ["status", "--address", "127.0.0.1:1"], "run"),
        ("ray", ["run", "JOBS", "--plan", "PLAN", "--state-dir", "state"], "run"),
        ("ray", ["cluster", "up", "SCENARIO", "--local", "--state-dir", "state"], "run"),
        ("torch", ["probe", "--cpu"], "probe"),
        ("sqlalchemy", ["serve", "token", "list", "--state-dir", "state"], "serve"),
    ],
    ids=["status --address", "run", "cluster up", "probe", "serve"],
)
def test_a_missing_extra_is_one_line_naming_it(tmp_path, plan_file, module, args, extra):
    files = {
        "JOBS": str(ROOT / "examples" / "jobs.yaml"),
        "PLAN": str(plan_file),
        "SCENARIO": str(EXAMPLE),
    }
    proc = _without(module, tmp_path, *[files.get(a, a) for a in args])
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("error: ") and f"pip install 'polyfleet[{extra}]'" in lines[0]
    assert f"({module} is not installed)" in lines[0]
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


@pytest.mark.parametrize(
    "error",
    [
        SolverError("decomposition hit its time limit", status="time limit", seconds=3.0),
        InfeasibleError("no plan", {"limits": [{"message": "power cap short by 1 MW"}]}),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_cross_a_process_boundary_as_themselves(error):
    # a solve run as a Ray task raises in another process: its error is pickled back
    import pickle

    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert vars(back) == vars(error)


def test_null_is_shown_as_null_and_crosses_a_process_boundary():
    import pickle

    error = InputError("must be a number", file="f.yaml", field="count", value=NULL)
    assert str(error).endswith("(got null)")
    assert "(got" not in str(InputError("must be a number", field="count"))  # no value: none
    assert pickle.loads(pickle.dumps(NULL)) is NULL
