"""The shared input base model and the ranges table: every range holds at its bounds and refuses
what lies outside; every input schema is built on the base model; the README lists the table."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ValidationError, create_model

import polyfleet.catalog._catalog as catalog_schema
import polyfleet.inputs.benchmarks as benchmark_schema
import polyfleet.inputs.build as build_schema
import polyfleet.inputs.cost as cost_schema
import polyfleet.inputs.deal as deal_schema
import polyfleet.inputs.jobs as jobs_schema
import polyfleet.inputs.model_shape as model_shape_schema
import polyfleet.inputs.options as options_schema
import polyfleet.inputs.procurement as procurement_schema
import polyfleet.inputs.profile as profile_schema
import polyfleet.inputs.scenario as scenario_schema
import polyfleet.inputs.site as site_schema
from polyfleet.inputs.base import (
    RANGES,
    Flag,
    InputModel,
    Tier,
    fields_by_range,
    limits_markdown,
    ranged,
    ranges_markdown,
)

README = Path(__file__).parents[1] / "README.md"


def _model(key: str) -> type[BaseModel]:
    return create_model(f"M_{key}", __base__=InputModel, v=(ranged(key), ...))


def _refused(model: type[BaseModel], value: Any) -> str:
    with pytest.raises(ValidationError) as err:
        model.model_validate({"v": value})
    return err.value.errors()[0]["msg"]


@pytest.mark.parametrize("key", list(RANGES))
def test_every_range_holds_its_bounds_and_refuses_the_rest(key):
    r = RANGES[key]
    model = _model(key)
    for bad in (math.nan, math.inf, -math.inf, 1e308, -1e308, True, False):
        _refused(model, bad)
    high = int(r.high) if r.integer else r.high
    low = int(r.low) if r.integer else r.low
    if r.integer:
        above, below = high + 1, low - 1
    else:
        above, below = high * (1 + 1e-9), low - max(abs(low), 1e-6) * 1e-3
    assert "must be" in _refused(model, above)
    assert "must be" in _refused(model, below)
    assert model.model_validate({"v": high}).v == high
    if r.low_open:
        assert "must be" in _refused(model, low)
    else:
        assert model.model_validate({"v": low}).v == low


def test_an_out_of_range_message_names_the_quantity_the_range_and_the_unit():
    msg = _refused(_model("price_per_gpu_hour"), 5000)
    assert msg == "a price per GPU-hour must be ≥ 0.001 and ≤ 1000 USD"
    assert _refused(_model("count"), True) == "must be a number, not true or false"


def test_whole_numbers_are_read_from_exponent_strings_and_checked_before_conversion():
    model = _model("mc_paths")
    assert model.model_validate({"v": "1e6"}).v == 1_000_000  # YAML 1.1 reads 1e6 as a string
    assert "must be" in _refused(_model("count"), 1e30)  # not "too large to parse"
    assert "fractional" in _refused(model, 2.5)


def test_tiers_refuse_booleans():
    model = create_model("T", __base__=InputModel, tier=(Tier, ...))
    assert model.model_validate({"tier": 2}).tier == 2
    with pytest.raises(ValidationError, match="not true or false"):
        model.model_validate({"tier": True})


@pytest.mark.parametrize(
    "annotation",
    [float, int, float | None, list[float], dict[str, int], Literal[1, 2], list[dict[str, float]]],
)
def test_a_schema_with_an_unranged_number_cannot_be_defined(annotation):
    with pytest.raises(TypeError, match="needs a ranged type"):
        create_model("Bad", __base__=InputModel, x=(annotation, ...))


@pytest.mark.parametrize("annotation", [bool, bool | None, list[bool], bool | ranged("count")])
def test_a_schema_with_a_lax_boolean_cannot_be_defined(annotation):
    with pytest.raises(TypeError, match="needs the strict type"):
        create_model("Bad", __base__=InputModel, x=(annotation, ...))


@pytest.mark.parametrize("value", ["yes", "true", "on", 1, 0, 1.0, None])
def test_flags_take_true_or_false_only(value):
    model = create_model("F", __base__=InputModel, flag=(Flag, False))
    assert model.model_validate({"flag": True}).flag is True
    with pytest.raises(ValidationError, match="must be true or false"):
        model.model_validate({"flag": value})


def test_a_schema_of_ranged_numbers_and_other_fields_can():
    create_model(
        "Good",
        __base__=InputModel,
        a=(ranged("count"), ...),
        b=(dict[str, ranged("throughput")], ...),
        c=(list[ranged("budget")] | None, None),
        d=(str, ...),
        e=(Flag, False),
        f=(Literal["x", "y"], "x"),
        g=(dict[str, Any], {}),
    )


SCHEMA_MODULES = (
    scenario_schema,
    cost_schema,
    model_shape_schema,
    procurement_schema,
    deal_schema,
    profile_schema,
    jobs_schema,
    catalog_schema,
    options_schema,
    benchmark_schema,
    site_schema,
    build_schema,
)
#: Models that hold loaded inputs or results, not what a file says.
NOT_READ = {"LoadedScenario", "LoadedProcurement", "Job"}


def _schemas(module: Any) -> list[type[BaseModel]]:
    return [
        obj
        for name, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseModel) and obj.__module__ == module.__name__ and name not in NOT_READ
    ]


@pytest.mark.parametrize("module", SCHEMA_MODULES, ids=lambda m: m.__name__)
def test_every_input_schema_is_built_on_the_shared_base_model(module):
    models = _schemas(module)
    assert models
    for model in models:
        assert issubclass(model, InputModel), model
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("allow_inf_nan") is False, model


def _readme_block(name: str) -> str:
    text = README.read_text("utf-8")
    found = re.search(rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert found, f"README.md has no {name} block"
    return found.group(1)


def test_every_range_is_used_by_some_field():
    used = fields_by_range([m for module in SCHEMA_MODULES for m in _schemas(module)])
    assert set(used) == set(RANGES)
    assert "Pool.count" in used["count"] and "tco --capex" in used["price_per_gpu"]


def test_the_readme_lists_every_range_and_limit_as_in_code():
    used = fields_by_range([m for module in SCHEMA_MODULES for m in _schemas(module)])
    ranges, limits = ranges_markdown(used), limits_markdown()
    assert _readme_block("ranges") == ranges, f"README ranges block, as in code:\n{ranges}"
    assert _readme_block("limits") == limits, f"README limits block, as in code:\n{limits}"
