"""The profile file: it round-trips, and anything that is not a valid profile is refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyfleet.errors import InputError
from polyfleet.inputs.profile import Profile, load_profile, load_profiles, parse_profile

EXAMPLE = Path(__file__).parents[2] / "examples" / "profiles" / "h200-sxm-full.json"


def test_round_trip_through_the_schema(tiny_profile: Profile, tmp_path: Path):
    path = tmp_path / "p.json"
    path.write_text(tiny_profile.to_json())
    assert load_profile(path) == tiny_profile
    data = json.loads(path.read_text())
    assert data["format"] == "polyfleet-profile" and data["schema_version"] == 1


def test_bundled_h200_profile_is_valid_and_matched():
    profile = load_profile(EXAMPLE)
    assert profile.device.accelerator == "h200-sxm" and profile.preset == "full"
    assert profile.energy.source == "nvml"
    assert {r.calibrates for r in profile.results if r.calibrates} == {
        "train",
        "serve",
        "recsys",
        "infer",
    }


def _data(profile: Profile) -> dict:
    return json.loads(profile.to_json())


def test_corrupt_json_names_the_file_and_line(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "polyfleet-profile",\n  "schema_version": 1,,}')
    with pytest.raises(InputError) as err:
        load_profile(path)
    assert err.value.file == str(path) and err.value.line == 2
    assert "JSON syntax error" in str(err.value)


@pytest.mark.parametrize(
    "foreign",
    [{"name": "a scenario", "pools": []}, [1, 2, 3], {"format": "something-else"}],
)
def test_foreign_json_is_not_a_profile(tmp_path: Path, foreign):
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    with pytest.raises(InputError, match="not a polyfleet profile") as err:
        load_profile(path)
    assert err.value.field == "format"


def test_other_schema_version_is_refused(tiny_profile: Profile):
    data = _data(tiny_profile)
    data["schema_version"] = 99
    with pytest.raises(InputError, match="schema version") as err:
        parse_profile(data, file="p.json")
    assert err.value.value == 99


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("results", 0, "units_per_s"), -5.0, "results[0].units_per_s"),
        (("results", 1, "unit"), None, "results[1].unit"),
        (("device", "kind"), "quantum", "device.kind"),
        (("preset",), "medium", "preset"),
    ],
)
def test_invalid_field_is_named(tiny_profile: Profile, path, value, field):
    data = _data(tiny_profile)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(InputError) as err:
        parse_profile(data, file="p.json")
    assert err.value.field == field and err.value.file == "p.json"


def test_unknown_field_is_refused(tiny_profile: Profile):
    data = _data(tiny_profile)
    data["results"][0]["speedup"] = 3
    with pytest.raises(InputError, match=r"results\[0\]\.speedup.*unknown field .speedup."):
        parse_profile(data)


def test_folder_loads_every_json_and_empty_folder_is_an_error(tiny_profile, tmp_path: Path):
    (tmp_path / "a.json").write_text(tiny_profile.to_json())
    (tmp_path / "b.json").write_text(tiny_profile.to_json())
    (tmp_path / "notes.txt").write_text("not read")
    assert [Path(f).name for f, _ in load_profiles([tmp_path])] == ["a.json", "b.json"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no profile"):
        load_profiles([empty])
    with pytest.raises(InputError, match="not found"):
        load_profiles([tmp_path / "missing"])


def test_p99_below_p50_is_refused_naming_the_latency():
    data = json.loads(EXAMPLE.read_text())
    i = next(k for k, r in enumerate(data["results"]) if r["latency"] is not None)
    data["results"][i]["latency"] = {"p50_ms": 10.0, "p99_ms": 5.0}
    with pytest.raises(InputError, match=r"p99_ms \(5\) is below p50_ms \(10\)") as err:
        parse_profile(data, file="p.json")
    assert err.value.field == f"results[{i}].latency.p99_ms" and err.value.file == "p.json"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("batch", 0, "a batch size must be ≥ 1"),
        ("params_b", 1e6, "a parameter count"),
        ("precision", "fp64", "Input should be"),
        ("speedup", 3, "Extra inputs"),
    ],
)
def test_a_case_shape_is_checked_like_a_scenario_model(key, value, message):
    data = json.loads(EXAMPLE.read_text())
    i = next(k for k, r in enumerate(data["results"]) if r["calibrates"] == "serve")
    data["results"][i]["shape"][key] = value
    with pytest.raises(InputError, match=message) as err:
        parse_profile(data, file="p.json")
    assert err.value.field == f"results[{i}].shape.{key}" and err.value.value == value
