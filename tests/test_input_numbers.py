"""Every number of every input file kind: NaN, infinities, 1e308, booleans, negatives and zeros
where a quantity cannot be zero are one InputError naming the file, the field path and the value.

The table holds one field of every numeric family of every file kind (scenario, catalog override,
procurement, deal, profile, job file); each is tried with every bad value.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from polyfleet.errors import InputError
from polyfleet.inputs.deal import load_deal
from polyfleet.inputs.jobs import load_jobs
from polyfleet.inputs.procurement import load_procurement
from polyfleet.inputs.profile import load_profile
from polyfleet.inputs.scenario import load_scenario

from .conftest import BASE

ROOT = Path(__file__).parents[1]

SCENARIO: dict[str, Any] = {
    **copy.deepcopy(BASE),
    "limits": {"power_cap_mw": 100, "vendor_share": {"max": {"amd": 0.9}}},
    "tiers": {1: {"min_year": 2020}},
    "catalog": [
        {
            "id": "h100-sxm",
            "tdp_w": 700,
            "memory_gb": 80,
            "bandwidth_tbps": 3.35,
            "tflops": {"bf16": 989},
            "gpus_per_node": 8,
            "node_power_kw": 10.2,
            "year": 2022,
            "price": {"per_gpu_hour": 2.5},
        }
    ],
}
SCENARIO["pools"][1]["cost"] = {
    "capex_per_gpu": 20_000,
    "amortize_years": 4,
    "cost_of_capital": 0.08,
    "power_price_per_mwh": 70,
    "facility_per_mw": 1e7,
}
SCENARIO["workloads"] += [
    {
        "name": "chat",
        "kind": "serve",
        "model": {"params_b": 70, "seq_len": 8192, "batch": 64, "layers": 80, "kv_dim": 1024},
        "demand": {"value": 1e6, "unit": "tokens/s"},
        "max_accelerators": 50,
        "needs": {"min_scaleup_gbps": 400, "max_gang": 64},
        "slo": {"max_token_latency_ms": 60},
    },
    {
        "name": "rank",
        "kind": "recsys",
        "model": {"embedding_gb": 100, "lookups_per_sample": 800, "gflops_per_sample": 0.6},
        "demand": {"value": 1e6, "unit": "samples/s"},
    },
]

PROCUREMENT: dict[str, Any] = {
    "name": "p",
    "years": [2027, 2028],
    "discount_rate": 0.05,
    "pue": 1.2,
    "power_price_per_mwh": 70,
    "mip_gap": 0.001,
    "time_limit_s": 60,
    "limits": {"budget_per_year": 1e12, "power_cap_gw": [100.0, 120.0]},
    "offers": [
        {
            "accelerator": "mi355x",
            "price_per_gpu": 10_000,
            "life_years": 5,
            "max_nodes_per_year": 1000,
            "available_from": 2027,
        }
    ],
    "installed": [{"accelerator": "mi300x", "count": 1000, "retire_year": 2028}],
    "growth": {"jobs": 1.5},
    "workloads": [
        {
            "name": "jobs",
            "kind": "custom",
            "demand": {"value": 20_000.0, "unit": "jobs/s"},
            "throughput": {"mi355x": 1.0, "mi300x": 1.0},
        }
    ],
}

DEAL = yaml.safe_load((ROOT / "examples" / "deals" / "amd-6gw.yaml").read_text())
PROFILE = json.loads((ROOT / "examples" / "profiles" / "h200-sxm-full.json").read_text())
TIMED = next(i for i, r in enumerate(PROFILE["results"]) if r["latency"] is not None)
JOBS = yaml.safe_load((ROOT / "examples" / "jobs.yaml").read_text())


def _write_yaml(tmp_path: Path, data: Any, name: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _write_json(tmp_path: Path, data: Any, name: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1))  # NaN and Infinity as Python's json writes them
    return path


#: file kind -> (its valid data, how to write it, how to load it)
KINDS: dict[str, tuple[Any, Callable[[Path, Any], Path], Callable[[Path], Any]]] = {
    "scenario": (SCENARIO, lambda d, x: _write_yaml(d, x, "s.yaml"), load_scenario),
    "procurement": (PROCUREMENT, lambda d, x: _write_yaml(d, x, "p.yaml"), load_procurement),
    "deal": (DEAL, lambda d, x: _write_yaml(d, x, "deal.yaml"), load_deal),
    "profile": (PROFILE, lambda d, x: _write_json(d, x, "profile.json"), load_profile),
    "jobs": (JOBS, lambda d, x: _write_yaml(d, x, "jobs.yaml"), load_jobs),
}

# (file kind, path to the number, the field path an error names, whether 0 is a valid value)
FIELDS: list[tuple[str, tuple[Any, ...], str, bool]] = [
    # scenario: pools and their cost
    ("scenario", ("pools", 0, "cost", "per_gpu_hour"), "pools[0].cost.per_gpu_hour", False),
    ("scenario", ("pools", 0, "count"), "pools[0].count", True),
    ("scenario", ("pools", 0, "pue"), "pools[0].pue", False),
    ("scenario", ("pools", 0, "availability"), "pools[0].availability", False),
    ("scenario", ("pools", 1, "cost", "capex_per_gpu"), "pools[1].cost.capex_per_gpu", False),
    ("scenario", ("pools", 1, "cost", "amortize_years"), "pools[1].cost.amortize_years", False),
    ("scenario", ("pools", 1, "cost", "cost_of_capital"), "pools[1].cost.cost_of_capital", True),
    (
        "scenario",
        ("pools", 1, "cost", "power_price_per_mwh"),
        "pools[1].cost.power_price_per_mwh",
        True,
    ),
    ("scenario", ("pools", 1, "cost", "facility_per_mw"), "pools[1].cost.facility_per_mw", True),
    # scenario: workloads, model shape, needs, SLO, limits, tiers
    ("scenario", ("workloads", 0, "demand", "value"), "workloads[0].demand.value", True),
    (
        "scenario",
        ("workloads", 0, "throughput", "h100-sxm"),
        "workloads[0].throughput.h100-sxm",
        False,
    ),
    ("scenario", ("workloads", 1, "model", "params_b"), "workloads[1].model.params_b", True),
    ("scenario", ("workloads", 1, "model", "seq_len"), "workloads[1].model.seq_len", False),
    ("scenario", ("workloads", 1, "model", "batch"), "workloads[1].model.batch", False),
    ("scenario", ("workloads", 1, "model", "layers"), "workloads[1].model.layers", False),
    ("scenario", ("workloads", 1, "model", "kv_dim"), "workloads[1].model.kv_dim", False),
    ("scenario", ("workloads", 1, "max_accelerators"), "workloads[1].max_accelerators", False),
    (
        "scenario",
        ("workloads", 1, "needs", "min_scaleup_gbps"),
        "workloads[1].needs.min_scaleup_gbps",
        True,
    ),
    ("scenario", ("workloads", 1, "needs", "max_gang"), "workloads[1].needs.max_gang", False),
    (
        "scenario",
        ("workloads", 1, "slo", "max_token_latency_ms"),
        "workloads[1].slo.max_token_latency_ms",
        False,
    ),
    (
        "scenario",
        ("workloads", 2, "model", "embedding_gb"),
        "workloads[2].model.embedding_gb",
        True,
    ),
    (
        "scenario",
        ("workloads", 2, "model", "lookups_per_sample"),
        "workloads[2].model.lookups_per_sample",
        True,
    ),
    (
        "scenario",
        ("workloads", 2, "model", "gflops_per_sample"),
        "workloads[2].model.gflops_per_sample",
        False,
    ),
    ("scenario", ("limits", "power_cap_mw"), "limits.power_cap_mw", False),
    ("scenario", ("limits", "vendor_share", "max", "amd"), "limits.vendor_share.max.amd", True),
    ("scenario", ("tiers", 1, "min_year"), "tiers[1].min_year", False),
    # scenario: catalog overrides
    ("scenario", ("catalog", 0, "tdp_w"), "catalog[0].tdp_w", False),
    ("scenario", ("catalog", 0, "memory_gb"), "catalog[0].memory_gb", False),
    ("scenario", ("catalog", 0, "bandwidth_tbps"), "catalog[0].bandwidth_tbps", False),
    ("scenario", ("catalog", 0, "tflops", "bf16"), "catalog[0].tflops.bf16", False),
    ("scenario", ("catalog", 0, "gpus_per_node"), "catalog[0].gpus_per_node", False),
    ("scenario", ("catalog", 0, "node_power_kw"), "catalog[0].node_power_kw", False),
    ("scenario", ("catalog", 0, "year"), "catalog[0].year", False),
    ("scenario", ("catalog", 0, "price", "per_gpu_hour"), "catalog[0].price.per_gpu_hour", False),
    # procurement
    ("procurement", ("limits", "budget_per_year"), "limits.budget_per_year", False),
    ("procurement", ("limits", "power_cap_gw", 1), "limits.power_cap_gw[1]", False),
    ("procurement", ("growth", "jobs"), "growth.jobs", False),
    ("procurement", ("offers", 0, "price_per_gpu"), "offers[0].price_per_gpu", False),
    ("procurement", ("offers", 0, "life_years"), "offers[0].life_years", False),
    ("procurement", ("offers", 0, "max_nodes_per_year"), "offers[0].max_nodes_per_year", True),
    ("procurement", ("offers", 0, "available_from"), "offers[0].available_from", False),
    ("procurement", ("installed", 0, "count"), "installed[0].count", True),
    ("procurement", ("years", 0), "years[0]", False),
    ("procurement", ("discount_rate",), "discount_rate", True),
    ("procurement", ("pue",), "pue", False),
    ("procurement", ("power_price_per_mwh",), "power_price_per_mwh", True),
    ("procurement", ("mip_gap",), "mip_gap", False),
    ("procurement", ("time_limit_s",), "time_limit_s", False),
    ("procurement", ("workloads", 0, "demand", "value"), "workloads[0].demand.value", True),
    # deal
    ("deal", ("pue",), "pue", False),
    ("deal", ("capacity", 0, "gw"), "capacity[0].gw", False),
    ("deal", ("deployment", 0, "gw"), "deployment[0].gw", True),
    ("deal", ("price", "per_gw"), "price.per_gw", False),
    ("deal", ("warrant", "shares"), "warrant.shares", False),
    ("deal", ("warrant", "strike"), "warrant.strike", True),
    ("deal", ("warrant", "tranches", 0, "price_hurdle"), "warrant.tranches[0].price_hurdle", False),
    ("deal", ("stock", "spot"), "stock.spot", False),
    ("deal", ("stock", "volatility"), "stock.volatility", False),
    ("deal", ("stock", "risk_free"), "stock.risk_free", True),
    ("deal", ("stock", "dividend_yield"), "stock.dividend_yield", True),
    ("deal", ("monte_carlo", "paths"), "monte_carlo.paths", False),
    ("deal", ("monte_carlo", "steps_per_year"), "monte_carlo.steps_per_year", False),
    ("deal", ("monte_carlo", "seed"), "monte_carlo.seed", True),
    ("deal", ("costing", "power_price_per_mwh"), "costing.power_price_per_mwh", True),
    ("deal", ("costing", "amortize_years"), "costing.amortize_years", False),
    # profile
    ("profile", ("results", 0, "units_per_s"), "results[0].units_per_s", False),
    ("profile", ("results", 0, "repeats"), "results[0].repeats", False),
    ("profile", ("results", 0, "tflops"), "results[0].tflops", True),
    ("profile", ("results", 0, "peak_memory_gb"), "results[0].peak_memory_gb", True),
    ("profile", ("results", 0, "joules_per_unit"), "results[0].joules_per_unit", False),
    ("profile", ("results", 0, "peak_compute_fraction"), "results[0].peak_compute_fraction", True),
    ("profile", ("results", TIMED, "latency", "p50_ms"), f"results[{TIMED}].latency.p50_ms", False),
    ("profile", ("device", "memory_gb"), "device.memory_gb", False),
    ("profile", ("device", "count"), "device.count", True),
    # job file
    ("jobs", ("jobs", 1, "count"), "jobs[1].count", False),
]

BAD: list[tuple[str, Any]] = [
    ("nan", math.nan),
    ("inf", math.inf),
    ("-inf", -math.inf),
    ("1e308", 1e308),
    ("true", True),
    ("negative", -1),
]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _same(got: Any, bad: Any) -> bool:
    if isinstance(bad, float) and math.isnan(bad):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(bad, bool):
        return got is bad
    return got == bad and not isinstance(got, bool)


def _cases() -> list[Any]:
    out = []
    for kind, path, field, zero_ok in FIELDS:
        bads = [*BAD, *([] if zero_ok else [("zero", 0)])]
        for name, bad in bads:
            out.append(pytest.param(kind, path, field, bad, id=f"{kind}:{field}={name}"))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_valid_file_of_each_kind_loads(kind, tmp_path):
    data, write, load = KINDS[kind]
    load(write(tmp_path, data))


@pytest.mark.parametrize(("kind", "path", "field", "bad"), _cases())
def test_a_bad_number_is_one_error_naming_file_field_and_value(kind, path, field, bad, tmp_path):
    data, write, load = KINDS[kind]
    file = write(tmp_path, _set(data, path, bad))
    with pytest.raises(InputError) as err:
        load(file)
    e = err.value
    assert e.file == str(file)
    assert e.field is not None and e.field.startswith(field), e
    assert _same(e.value, bad), e
    text = str(e)
    assert str(file) in text and field in text


@pytest.mark.parametrize(
    ("kind", "path", "value", "field", "message"),
    [
        ("scenario", ("catalog", 0, "tdp_w"), "1e308", "catalog[0].tdp_w", "TDP must be"),
        ("scenario", ("workloads", 0, "demand", "value"), 1e308, "workloads[0]", "demand must"),
        ("scenario", ("workloads", 0, "throughput", "h100-sxm"), 1e-300, "workloads[0]", "≥ 0.001"),
        ("scenario", ("workloads", 1, "model", "params_b"), 1e308, "workloads[1]", "parameter"),
        ("scenario", ("workloads", 0, "tier"), True, "workloads[0].tier", "not true or false"),
        ("procurement", ("installed", 0, "count"), 1e30, "installed[0].count", "≤ 1e8"),
        ("procurement", ("installed", 0, "count"), "1e30", "installed[0].count", "≤ 1e8"),
        ("procurement", ("growth", "jobs"), 9.0, "growth.jobs", "grows the demand"),
        ("procurement", ("years",), list(range(2027, 2100)), "years", "at most 50"),
        ("procurement", ("tiers",), {True: {"min_year": 2020}}, "tiers", "not true or false"),
        ("profile", ("schema_version",), True, "schema_version", "not true or false"),
    ],
)
def test_the_issue_examples_are_refused(kind, path, value, field, message, tmp_path):
    data, write, load = KINDS[kind]
    if kind == "procurement" and path == ("growth", "jobs"):
        data = _set(data, ("years",), list(range(2027, 2031)))
        data = _set(data, ("limits", "power_cap_gw"), 100.0)
        data = _set(data, ("workloads", 0, "demand", "value"), 1e10)
    file = write(tmp_path, _set(data, path, value))
    with pytest.raises(InputError, match=message) as err:
        load(file)
    assert err.value.file == str(file) and (err.value.field or "").startswith(field)
