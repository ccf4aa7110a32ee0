"""JSON scenarios of measured workloads are read in bulk (orjson, columns, vectorised checks):
the same scenario, the same plan and the same errors as the object path YAML takes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from polyfleet.errors import InputError
from polyfleet.inputs.fast_json import loads_checked
from polyfleet.inputs.reader import MAX_DEPTH, read_document
from polyfleet.inputs.scenario import LoadedScenario, load_scenario
from polyfleet.plan.placement import make_plan

HOSTILE = Path(__file__).parents[1] / "hostile" / "files" / "common"
ACCS = ["h100-sxm", "mi300x", "b200", "mi355x"]


def scenario(n: int = 40, seed: int = 0) -> dict[str, Any]:
    """Measured workloads on four accelerators, some aliased, with caps and tiers, a power cap
    and a vendor-share cap."""
    rng = np.random.default_rng(seed)
    workloads = []
    for i in range(n):
        accs = [a for a in ACCS if rng.random() < 0.7] or ["mi300x"]
        tp = {a: round(float(rng.uniform(0.5, 3.0)), 4) for a in accs}
        if "h100-sxm" in tp and i % 5 == 0:
            tp["h100"] = tp.pop("h100-sxm")  # an alias
        w: dict[str, Any] = {
            "name": f"w{i}",
            "kind": "custom",
            "demand": {"value": round(float(rng.uniform(1, 50)), 3), "unit": "req/s"},
            "throughput": tp,
        }
        if i % 7 == 0:
            w["max_accelerators"] = 200
        if i % 3 == 0:
            w["tier"] = 1
        workloads.append(w)
    return {
        "name": "bulk",
        "limits": {"power_cap_mw": 1.07, "vendor_share": {"measure": "count", "max": {"amd": 0.6}}},
        "pools": [
            {"name": p, "accelerator": a, "count": 300, "cost": {"per_gpu_hour": c}}
            for p, a, c in (("nv", "h100-sxm", 2.0), ("am", "mi300x", 1.2), ("b2", "b200", 3.5))
        ]
        + [{"name": "m3", "accelerator": "mi355x", "count": 200, "cost": {"per_gpu_hour": 2.2}}],
        "workloads": workloads,
    }


def both(tmp_path: Path, data: dict[str, Any]) -> tuple[LoadedScenario, LoadedScenario]:
    (tmp_path / "s.json").write_text(json.dumps(data, indent=1))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return load_scenario(tmp_path / "s.json"), load_scenario(tmp_path / "s.yaml")


def test_json_bulk_path_reads_the_scenario_yaml_reads(tmp_path):
    bulk, objects = both(tmp_path, scenario())
    assert not bulk.columns.objects and bulk.scenario.workloads == []  # the bulk path was taken
    assert objects.columns.objects and len(objects.scenario.workloads) == 40
    a, b = bulk.columns, objects.columns
    assert a.names == b.names and a.unit == b.unit
    for field in ("demand", "cap", "tier"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    accs = sorted(set(a.accelerators) | set(b.accelerators))
    np.testing.assert_array_equal(a.measured(accs), b.measured(accs))


def test_json_bulk_path_gives_the_plan_yaml_gives(tmp_path):
    bulk, objects = both(tmp_path, scenario())
    p, q = make_plan(bulk), make_plan(objects)
    assert p.status == q.status == "optimal"
    assert p.to_dict(matrix_cells=True) | {"timings": None} == q.to_dict(matrix_cells=True) | {
        "timings": None
    }


def _mutations() -> list[tuple[str, Any]]:
    def at(path: list[Any], value: Any) -> Any:
        def apply(d: dict[str, Any]) -> None:
            target = d
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

        return apply

    def drop(path: list[Any]) -> Any:
        def apply(d: dict[str, Any]) -> None:
            target = d
            for key in path[:-1]:
                target = target[key]
            del target[path[-1]]

        return apply

    tp = ["workloads", 3, "throughput"]
    return [
        ("throughput negative", at([*tp, "mi300x"], -1.0)),
        ("throughput zero", at([*tp, "mi300x"], 0)),
        ("throughput huge", at([*tp, "mi300x"], 1e10)),
        ("throughput bool", at([*tp, "mi300x"], True)),
        ("throughput list", at([*tp, "mi300x"], [1])),
        ("throughput empty", at(tp, {})),
        ("unknown accelerator", at([*tp, "h2000"], 1.0)),
        ("alias twice", at(tp, {"h100": 1.0, "h100-sxm": 2.0})),
        ("demand negative", at(["workloads", 5, "demand", "value"], -1)),
        ("demand bool", at(["workloads", 5, "demand", "value"], False)),
        ("demand missing", drop(["workloads", 5, "demand"])),
        ("demand unknown key", at(["workloads", 5, "demand", "rate"], 1)),
        ("unit not text", at(["workloads", 5, "demand", "unit"], 3)),
        ("cap zero", at(["workloads", 6, "max_accelerators"], 0)),
        ("tier three", at(["workloads", 6, "tier"], 3)),
        ("tier bool", at(["workloads", 6, "tier"], True)),
        ("name empty", at(["workloads", 8, "name"], "")),
        ("name number", at(["workloads", 8, "name"], 8)),
        ("duplicate name", at(["workloads", 9, "name"], "w2")),
        ("misspelt key", at(["workloads", 9, "throughpt"], {})),
    ]


@pytest.mark.parametrize(("what", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_json_bulk_path_errors_as_yaml_does(tmp_path, what, mutate):
    data = copy.deepcopy(scenario())
    mutate(data)
    with pytest.raises(InputError) as from_json:
        load_scenario(_write(tmp_path / "s.json", json.dumps(data, indent=1)))
    with pytest.raises(InputError) as from_yaml:
        load_scenario(_write(tmp_path / "s.yaml", yaml.safe_dump(data, sort_keys=False)))
    j, y = from_json.value, from_yaml.value
    assert (j.message, j.field, j.value, type(j)) == (y.message, y.field, y.value, type(y))
    assert j.line is not None and j.file.endswith("s.json")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_accelerator_named_twice_in_one_workload_is_refused(tmp_path):
    data = scenario(10)
    data["workloads"][2]["throughput"] = {"h100": 1.0, "h100-sxm": 2.0}
    for path in (tmp_path / "s.json", tmp_path / "s.yaml"):
        path.write_text(json.dumps(data))
        with pytest.raises(InputError) as info:
            load_scenario(path)
        assert "throughput for h100-sxm is given twice (as 'h100' and 'h100-sxm')" in str(
            info.value
        )
        assert info.value.field == "workloads[2].throughput.h100-sxm (w2)"


def test_a_number_as_text_takes_the_object_path(tmp_path):
    data = scenario(10)
    data["workloads"][4]["demand"]["value"] = "12.5"  # pydantic reads it; the bulk checks do not
    bulk, objects = both(tmp_path, data)
    assert bulk.columns.objects  # read as objects, as YAML is
    assert bulk.columns.demand[4] == objects.columns.demand[4] == 12.5


def test_a_non_finite_number_in_json_is_refused_at_its_field(tmp_path):
    text = json.dumps(scenario(10)).replace('"max_accelerators": 200', '"max_accelerators": NaN')
    with pytest.raises(InputError) as info:
        load_scenario(_write(tmp_path / "s.json", text))
    assert info.value.field == "workloads[0].max_accelerators (w0)"
    assert "finite" in info.value.message


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("*.json")))
def test_fast_reader_reads_every_hostile_file_as_the_exact_reader(name):
    def outcome(fast: bool) -> Any:
        try:
            return read_document(HOSTILE / name, fast=fast)
        except InputError as exc:
            return str(exc)

    assert outcome(fast=True) == outcome(fast=False)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": {"b": 1, "b": 2}}',
        b'{"a": 1, "c": {"x": "1:2"}, "a": 3}',
        b'{"k\\u003a": 1, "k:": 2, "k\\u003a": 3}',
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b"[NaN]",
        b'["\\ud800"]',
    ],
)
def test_fast_parse_leaves_to_the_exact_reader_what_it_cannot_prove(text):
    assert loads_checked(text, MAX_DEPTH) is None


def test_fast_parse_takes_a_document_with_colons_in_its_text():
    text = b'{"a": "x:y", "b": {"c:d": [1, 2, {"e": ":"}]}}'
    assert loads_checked(text, MAX_DEPTH) == json.loads(text)
