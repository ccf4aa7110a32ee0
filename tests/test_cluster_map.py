"""Leverage and frontier on a local Ray cluster of 2 workers give the serial records, through
the application layer and the command line. Starts Ray once (several seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet import app as api
from polyfleet import parallel
from polyfleet.cli import app
from polyfleet.errors import SolverError
from polyfleet.inputs.options import FrontierOptions, LeverageOptions

from .conftest import write

ray = pytest.importorskip("ray")


def _scenario(base, tmp_path: Path) -> Path:
    base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
    base["workloads"][0]["demand"]["value"] = 150.0
    base["limits"] = {"vendor_share": {"measure": "count", "max": {"amd": 0.7}}}
    return write(tmp_path, base)


def _timeless(record) -> dict:
    data = record.model_dump(mode="json")
    data.pop("seconds", None)
    return data


def test_two_workers_give_the_serial_records(base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    scenario = _scenario(base, tmp_path)
    serial = api.leverage(scenario), api.frontier(scenario)
    tasks: list[int] = []
    as_tasks = parallel._ray_map

    def counted(ray_module):
        mapper = as_tasks(ray_module)

        def mapped(fn, shared, items, on_done=None):
            tasks.append(len(items))
            return mapper(fn, shared, items, on_done)

        return mapped

    monkeypatch.setattr(parallel, "_ray_map", counted)
    steps: list[tuple[str, float, float | None]] = []
    with parallel.cluster_map(workers=2) as mapper:
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
        # the commands join the running cluster and spread their solves over it as tasks
        spread = (
            api.leverage(scenario, LeverageOptions(workers=2)),
            api.frontier(
                scenario,
                FrontierOptions(workers=2),
                on_progress=lambda e: steps.append((e.task, e.done, e.total)),
            ),
        )
        cli = CliRunner().invoke(app, ["frontier", str(scenario), "--workers", "2", "--json"])

        def fails(_: object, item: int) -> int:
            if item:
                raise SolverError("decomposition hit its time limit", status="x", seconds=1.0)
            return item

        with pytest.raises(SolverError, match="time limit"):  # itself, not Ray's wrapper
            mapper(fails, None, [0, 1])
    assert not ray.is_initialized()  # the cluster it started is stopped
    assert tasks == [2, 21, 21, 2]  # both vendors' searches, every frontier point, twice
    sweep = [done for task, done, total in steps if task == "sweep" and total == 21]
    assert sweep == list(range(1, 22))  # told as each point came back
    for a, b in zip(serial, spread, strict=True):
        assert _timeless(a) == _timeless(b)
    assert cli.exit_code == 0, cli.output
    got = json.loads(cli.stdout)
    got.pop("seconds")
    assert got == _timeless(serial[1])
