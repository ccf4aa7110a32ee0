import json

import pytest

from polyfleet.errors import CatalogError, InputError
from polyfleet.inputs.scenario import load_scenario

from .conftest import load, write


def test_valid_scenario_loads_and_resolves_names(base, tmp_path):
    base["pools"][0]["accelerator"] = "NVIDIA H100"
    loaded = load_scenario(write(tmp_path, base))
    assert loaded.scenario.pools[0].accelerator == "h100-sxm"
    assert loaded.scenario.workloads[0].throughput == {"h100-sxm": 2.0, "mi300x": 1.0}


def test_json_scenario(base, tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(base))
    assert load_scenario(path).scenario.name == "tiny"


def test_unknown_accelerator_names_file_field_line_value(tmp_path):
    text = """name: t
pools:
  - name: a
    accelerator: h2000
    count: 10
    cost: {per_gpu_hour: 1}
workloads:
  - {name: w, kind: custom, demand: {value: 1, unit: x/s}, throughput: {h100-sxm: 1}}
"""
    with pytest.raises(CatalogError) as info:
        load_scenario(write(tmp_path, text))
    msg = str(info.value)
    assert "s.yaml:4" in msg
    assert "pools[0].accelerator (a)" in msg
    assert "'h2000'" in msg
    assert "h200-sxm" in msg  # suggestion


def test_negative_count(base, tmp_path):
    base["pools"][1]["count"] = -5
    with pytest.raises(InputError) as info:
        load_scenario(write(tmp_path, base))
    msg = str(info.value)
    assert "pools[1].count (amd)" in msg and "-5" in msg and "must be ≥ 0 and ≤ 1e8" in msg
    assert info.value.line is not None


@pytest.mark.parametrize(
    ("share", "match"),
    [
        ({"max": {"amd": 0.3}, "min": {"amd": 0.5}}, "min share of amd .* exceeds its max"),
        ({"min": {"amd": 0.6, "nvidia": 0.6}}, "min shares sum to 1.2"),
        ({"max": {"amd": 0.3, "nvidia": 0.4}}, "sum to 0.7, less than the whole fleet"),
        ({"max": {"amd": 1.5}}, "a fraction must be ≥ 0 and ≤ 1"),
        ({"max": {"acme": 0.5}}, "unknown vendor"),
    ],
)
def test_contradictory_share_bounds(base, share, match):
    base["limits"] = {"vendor_share": share}
    with pytest.raises(InputError, match=match) as info:
        load(base)
    assert "limits.vendor_share" in str(info.value)


def test_custom_workload_without_throughput(base):
    del base["workloads"][0]["throughput"]
    with pytest.raises(InputError, match=r"workloads\[0\] \(job\).*custom workload needs"):
        load(base)


def test_yaml_syntax_error_gives_line(tmp_path):
    path = write(tmp_path, "name: t\npools:\n  - name: [unclosed\n")
    with pytest.raises(InputError, match=r"s.yaml:\d+: YAML syntax error"):
        load_scenario(path)


def test_json_syntax_error_gives_line(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{\n "name": "x",\n "pools": [,]\n}')
    with pytest.raises(InputError, match=r"s.json:3: JSON syntax error"):
        load_scenario(path)


def test_missing_file():
    with pytest.raises(InputError, match="file not found"):
        load_scenario("/nonexistent/s.yaml")


def test_duplicate_names(base):
    base["pools"][1]["name"] = "nv"
    with pytest.raises(InputError, match="duplicate pool name 'nv'"):
        load(base)


def test_demand_unit_must_fit_kind(base):
    base["workloads"][0] = {
        "name": "t",
        "kind": "train",
        "model": {"params_b": 7},
        "demand": {"value": 1, "unit": "samples/s"},
    }
    with pytest.raises(InputError, match="does not fit kind 'train'"):
        load(base)


def test_unknown_field_is_refused(base):
    base["pools"][0]["colour"] = "green"
    with pytest.raises(InputError, match=r"pools\[0\]\.colour \(nv\)': unknown field 'colour'"):
        load(base)


def test_pool_without_any_price(base):
    base["pools"][0]["accelerator"] = "mi355x"  # the catalog has no rental price for it
    del base["pools"][0]["cost"]
    with pytest.raises(InputError, match="no cost given"):
        load(base)


def test_unknown_throughput_accelerator(base):
    base["workloads"][0]["throughput"] = {"h100-sxmm": 2.0}
    with pytest.raises(CatalogError, match=r"workloads\[0\]\.throughput\.h100-sxmm"):
        load(base)


def test_tier_is_derived_when_not_given(base):
    base["workloads"].append(
        {
            "name": "big",
            "kind": "train",
            "model": {"params_b": 400},
            "demand": {"value": 1, "unit": "tokens/s"},
        }
    )
    wl = load(base).scenario.workloads
    assert wl[0].effective_tier == 2 and wl[1].effective_tier == 1
