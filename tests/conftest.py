from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyfleet.inputs.scenario import LoadedScenario, parse_scenario

BASE: dict[str, Any] = {
    "name": "tiny",
    "objective": "min_cost",
    "pools": [
        {
            "name": "nv",
            "accelerator": "h100-sxm",
            "count": 100,
            "pue": 1.0,
            "cost": {"per_gpu_hour": 2.0},
        },
        {
            "name": "amd",
            "accelerator": "mi300x",
            "count": 100,
            "pue": 1.0,
            "cost": {"per_gpu_hour": 1.0},
        },
    ],
    "workloads": [
        {
            "name": "job",
            "kind": "custom",
            "demand": {"value": 100.0, "unit": "jobs/s"},
            "throughput": {"h100-sxm": 2.0, "mi300x": 1.0},
        },
    ],
}


@pytest.fixture
def base() -> dict[str, Any]:
    """A two-pool, one-workload scenario whose optimum is easy to work out by hand."""
    return copy.deepcopy(BASE)


def load(data: dict[str, Any]) -> LoadedScenario:
    return parse_scenario(copy.deepcopy(data), file="test.yaml", text=yaml.safe_dump(data))


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tiny_profile() -> Any:
    """The whole probe suite at the tiny preset on this machine's CPU, run once per session."""
    from polyfleet.catalog import load_catalog
    from polyfleet.probe.device import discover
    from polyfleet.probe.suite import run_suite

    return run_suite(discover(force_cpu=True), load_catalog(), preset="tiny")
