"""Results are checked finite before they are printed or written: the first NaN or infinity is
named by its JSON path, and nothing is printed or written."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.errors import SolverError
from polyfleet.finite import check_finite, first_non_finite

from .conftest import write

ROOT = Path(__file__).parent.parent
runner = CliRunner()


@pytest.mark.parametrize(
    ("record", "found"),
    [
        ({"a": 1.0, "b": [1, 2.5, None, "x", True]}, None),
        ({"a": 1.0, "b": [0.0, {"c": math.nan}]}, ("$.b[1].c", math.nan)),
        ({"x": [{"y": 1.0}, {"y": -math.inf}], "z": math.nan}, ("$.x[1].y", -math.inf)),
        ({"cells": np.array([[1.0, 2.0], [3.0, np.inf]])}, ("$.cells[1][1]", math.inf)),
        ({"v": np.float64("nan")}, ("$.v", math.nan)),
        ([{"ok": np.int64(3)}, (1.0, math.inf)], ("$[1][1]", math.inf)),
    ],
)
def test_first_non_finite_names_the_json_path(record, found):
    got = first_non_finite(record)
    if found is None:
        assert got is None
        check_finite(record, "test")  # no error
        return
    assert got is not None
    assert got[0] == found[0]
    assert (math.isnan(got[1]) and math.isnan(found[1])) or got[1] == found[1]
    with pytest.raises(SolverError, match=found[0].replace("$", r"\$").replace("[", r"\[")):
        check_finite(record, "test")


class _Poisoned:
    """A computed result whose record holds an infinity at `path` (the rest is the real one)."""

    def __init__(self, result: object, path: tuple[str | int, ...]) -> None:
        self._result, self._path = result, path

    def __getattr__(self, name: str) -> object:
        return getattr(self._result, name)

    def to_dict(self, **kw: object) -> dict:
        data = self._result.to_dict(**kw)
        node = data
        for part in self._path[:-1]:
            node = node[part]
        node[self._path[-1]] = math.inf
        return data


def test_plan_with_a_nan_solution_is_refused_and_writes_nothing(base, tmp_path, monkeypatch):
    from polyfleet.plan import placement

    real = placement.solve_problem

    def nan_solve(problem, objective, *args, **kwargs):
        sol = real(problem, objective, *args, **kwargs)
        sol.usage = np.full_like(sol.usage, np.nan)
        return sol

    monkeypatch.setattr(placement, "solve_problem", nan_solve)
    out, html = tmp_path / "plan.json", tmp_path / "r.html"
    args = ["plan", str(write(tmp_path, base)), "--out", str(out), "--html", str(html)]
    for extra in ([], ["--json"]):
        result = runner.invoke(app, args + extra)
        assert result.exit_code == 3  # a computation that failed, as the solver's failures
        assert "non-finite number at $.cost_per_hour (nan)" in result.stderr
        assert result.stdout == ""
        assert not out.exists() and not html.exists()


@pytest.mark.parametrize(
    ("command", "target", "args", "path"),
    [
        (
            "leverage",
            "polyfleet.plan.leverage.leverage",
            ["SCENARIO"],
            ("vendors", 0, "base_work_share"),
        ),
        (
            "frontier",
            "polyfleet.plan.leverage.share_frontier",
            ["SCENARIO", "--html", "OUT"],
            ("lowest_feasible_share",),
        ),
        (
            "procure",
            "polyfleet.plan.procure.procure",
            ["PROCUREMENT", "--out", "OUT"],
            ("cost_by_year", 1, "capex"),
        ),
        (
            "deal",
            "polyfleet.economics.deal.value_deal",
            ["DEAL", "--html", "OUT"],
            ("cost", "per_gpu_hour", "gpu"),
        ),
        (
            "tco",
            "polyfleet.economics.cost.owned_cost",
            ["mi300x", "--capex", "20000"],
            ("per_gpu_hour", "power"),
        ),
    ],
)
def test_every_command_refuses_a_non_finite_result(
    base, tmp_path, monkeypatch, command, target, args, path
):
    module, name = target.rsplit(".", 1)
    real = getattr(importlib.import_module(module), name)
    monkeypatch.setattr(target, lambda *a, **k: _Poisoned(real(*a, **k), path))
    out = tmp_path / "result.out"
    files = {
        "SCENARIO": str(write(tmp_path, base)),
        "PROCUREMENT": str(ROOT / "examples" / "buildout-2027-2030.yaml"),
        "DEAL": str(ROOT / "examples" / "deals" / "amd-6gw.yaml"),
        "OUT": str(out),
    }
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    for extra in ([], ["--json"]):
        result = runner.invoke(app, [command, *[files.get(a, a) for a in args], *extra])
        assert result.exit_code == 3, result.output
        assert f"the {command if command != 'procure' else 'procurement'} result" in result.stderr
        assert f"non-finite number at {where} (inf)" in result.stderr
        assert result.stdout == ""
        assert not out.exists()
