"""What polyfleet accepts: the base model of every input schema and the range of every number.

Every number an input file or a command-line option gives is finite, is not a boolean (YAML's
`true` is not 1), and lies within the physical range of its quantity: a price per GPU-hour, a TDP,
a demand, a count. The ranges are data (`RANGES`); the field types are made from them (`ranged`)
and the README's table is generated from them (`ranges_markdown`), so the code, its error messages
and the documentation say the same. `InputModel` refuses unknown fields and non-finite floats, and
refuses, when a schema class is defined, any numeric field that does not use a ranged type and any
boolean field that is not a `Flag` (true or false only) — so a new input schema cannot forget a
range, nor read "yes" or 1 as true.

Nothing here imports the rest of polyfleet: every schema module imports this one.
"""

from __future__ import annotations

import datetime as dt
import math
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from polyfleet.inputs.ranges import LIMITS, RANGES, Limit, Range, _num

__all__ = [
    "LIMITS",
    "RANGES",
    "AcceleratorCap",
    "AcceleratorsPerNode",
    "ActiveParamsB",
    "BandwidthTbps",
    "Batch",
    "Budget",
    "Count",
    "DemandRate",
    "DeviceIndex",
    "EmbeddingDim",
    "EmbeddingGb",
    "Flag",
    "FlopPerParam",
    "Fraction",
    "FrontierPoints",
    "Gang",
    "GflopsPerSample",
    "Growth",
    "Gw",
    "GwCommitted",
    "InputModel",
    "JobCount",
    "JoulesPerUnit",
    "KvDim",
    "LatencyMs",
    "Layers",
    "LifeYears",
    "Limit",
    "Lookups",
    "McPaths",
    "MeasuredGbps",
    "MeasuredRate",
    "MeasuredTflops",
    "MemoryGb",
    "MemoryUsedGb",
    "MipGap",
    "NodePowerKw",
    "NodesPerYear",
    "Nre",
    "ParamsB",
    "PeakRatio",
    "PositiveFraction",
    "PowerCapGw",
    "PowerCapMw",
    "PowerPrice",
    "PricePerGpu",
    "PricePerGpuHour",
    "PricePerGw",
    "Pue",
    "RackKw",
    "Range",
    "Rate",
    "RelativePerformance",
    "Repeats",
    "Retries",
    "RunTimeoutS",
    "ScaleupGbps",
    "ScaleupTbps",
    "SearchPrecision",
    "Seed",
    "SeqLen",
    "ShapeValue",
    "SharePrice",
    "Shares",
    "StepsPerYear",
    "Strike",
    "SystemSize",
    "TdpW",
    "TflopsPeak",
    "Throughput",
    "Tier",
    "TimeLimitS",
    "TokenCount",
    "TrainMinutes",
    "UsdPerGpu",
    "UsdPerMw",
    "Volatility",
    "WorkPerUnit",
    "Workers",
    "Year",
    "Years",
    "fields_by_range",
    "limits_markdown",
    "one_of",
    "ranged",
    "ranges_markdown",
]


# ---------------------------------------------------------------------------------------------
# field types


def _number(value: Any) -> Any:
    """Refuse booleans before pydantic's lax mode turns `true` into 1."""
    if isinstance(value, bool):
        raise PydanticCustomError("bool_number", "must be a number, not true or false")
    return value


def _whole(r: Range) -> Any:
    """Before an integer field: refuse booleans; read "1e12" (YAML 1.1 has no such integer) as a
    number, and check the range of a float before it is made an int (1e30 is out of range, not
    "too large to parse")."""

    def check(value: Any) -> Any:
        value = _number(value)
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                try:
                    value = float(value)
                except ValueError:
                    return value  # pydantic names it: not a valid integer
        if isinstance(value, float) and math.isfinite(value):
            r.check(value)
        return value

    return check


def ranged(key: str) -> Any:
    """The field type of quantity `key`: finite, not a boolean, within `RANGES[key]`."""
    r = RANGES[key]
    bounds = {"exclusiveMinimum" if r.low_open else "minimum": r.low, "maximum": r.high}
    if r.integer:
        return Annotated[
            int,
            BeforeValidator(_whole(r)),
            Field(json_schema_extra=bounds),
            AfterValidator(r.check),
            r,
        ]
    return Annotated[
        float,
        BeforeValidator(_number),
        Field(allow_inf_nan=False, json_schema_extra=bounds),
        AfterValidator(r.check),
        r,
    ]


# The named types the schemas use (each the range of the same key).
PricePerGpuHour = ranged("price_per_gpu_hour")
PricePerGpu = ranged("price_per_gpu")
UsdPerGpu = ranged("usd_per_gpu")
UsdPerMw = ranged("usd_per_mw")
PricePerGw = ranged("price_per_gw")
PowerPrice = ranged("power_price")
Budget = ranged("budget")
Nre = ranged("nre")
TdpW = ranged("tdp_w")
NodePowerKw = ranged("node_power_kw")
MemoryGb = ranged("memory_gb")
MemoryUsedGb = ranged("memory_used_gb")
BandwidthTbps = ranged("bandwidth_tbps")
TflopsPeak = ranged("tflops")
ScaleupGbps = ranged("scaleup_gbps")
ScaleupTbps = ranged("scaleup_tbps")
RackKw = ranged("rack_kw")
AcceleratorsPerNode = ranged("accelerators_per_node")
Year = ranged("year")
Count = ranged("count")
AcceleratorCap = ranged("accelerator_cap")
NodesPerYear = ranged("nodes_per_year")
Pue = ranged("pue")
Fraction = ranged("fraction")
PositiveFraction = ranged("positive_fraction")
PowerCapMw = ranged("power_cap_mw")
PowerCapGw = ranged("power_cap_gw")
Gw = ranged("gw")
GwCommitted = ranged("gw_committed")
DemandRate = ranged("demand")
Throughput = ranged("throughput")
ParamsB = ranged("params_b")
ActiveParamsB = ranged("active_params_b")
SeqLen = ranged("seq_len")
Batch = ranged("batch")
Layers = ranged("layers")
KvDim = ranged("kv_dim")
EmbeddingGb = ranged("embedding_gb")
Lookups = ranged("lookups")
EmbeddingDim = ranged("embedding_dim")
GflopsPerSample = ranged("gflops_per_sample")
LatencyMs = ranged("latency_ms")
Gang = ranged("gang")
RelativePerformance = ranged("relative_performance")
Years = ranged("years")
LifeYears = ranged("life_years")
Growth = ranged("growth")
MipGap = ranged("mip_gap")
TimeLimitS = ranged("time_limit_s")
Shares = ranged("shares")
SharePrice = ranged("share_price")
Strike = ranged("strike")
Volatility = ranged("volatility")
Rate = ranged("rate")
McPaths = ranged("mc_paths")
StepsPerYear = ranged("steps_per_year")
Seed = ranged("seed")
MeasuredRate = ranged("measured_rate")
WorkPerUnit = ranged("work_per_unit")
MeasuredTflops = ranged("measured_tflops")
MeasuredGbps = ranged("measured_gbps")
PeakRatio = ranged("peak_ratio")
JoulesPerUnit = ranged("joules_per_unit")
Repeats = ranged("repeats")
DeviceIndex = ranged("device_index")
ShapeValue = ranged("shape_value")
JobCount = ranged("job_count")
SystemSize = ranged("system_size")
TrainMinutes = ranged("train_minutes")
TokenCount = ranged("token_count")
FlopPerParam = ranged("flop_per_param")
SearchPrecision = ranged("search_precision")
FrontierPoints = ranged("frontier_points")
Retries = ranged("retries")
Workers = ranged("workers")
RunTimeoutS = ranged("run_timeout_s")


class _Checked:
    """Marks a numeric type that refuses booleans without being a range (a tier: 1 or 2)."""


CHECKED = _Checked()


def one_of(*values: int) -> Any:
    """A field that is one of a few whole numbers (a tier, a schema version), never a boolean."""
    return Annotated[Literal[values], BeforeValidator(_number), CHECKED]


#: A workload tier: 1 or 2 (not `true`).
Tier = one_of(1, 2)


def _flag(value: Any) -> Any:
    """Refuse what pydantic's lax mode reads as a boolean: "yes", "off", 1, 0."""
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_strict", "must be true or false")
    return value


#: A yes-or-no field: `true` or `false` only (not "yes", 1 or 0), as numbers are never `true`.
Flag = Annotated[bool, BeforeValidator(_flag), CHECKED]

# ---------------------------------------------------------------------------------------------
# the base model


class InputModel(BaseModel):
    """Base of every input schema: unknown fields, non-finite floats and unranged numbers refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            if any(isinstance(m, Range | _Checked) for m in info.metadata):
                continue
            bad = _unranged(info.annotation)
            if bad == "bool":
                raise TypeError(
                    f"{cls.__name__}.{name}: a boolean in an input schema needs the strict type "
                    "(polyfleet.inputs.base.Flag), not bool"
                )
            if bad:
                raise TypeError(
                    f"{cls.__name__}.{name}: a number in an input schema needs a ranged type "
                    f"(polyfleet.inputs.base.ranged), not {bad}"
                )


_PLAIN = (str, bytes, dt.date, dt.datetime, type(None))


def _unranged(tp: Any) -> str | None:
    """The first int/float (or integer Literal) inside `tp` not wrapped in a ranged type, or bool
    not wrapped as a Flag."""
    if tp is Any or tp in _PLAIN:
        return None
    if tp in (int, float, bool):
        return tp.__name__
    origin = typing.get_origin(tp)
    if origin is Annotated:
        if any(isinstance(m, Range | _Checked) for m in tp.__metadata__):
            return None
        return _unranged(typing.get_args(tp)[0])
    if origin is Literal:
        if any(isinstance(a, int) and not isinstance(a, bool) for a in typing.get_args(tp)):
            return f"{tp} (an integer Literal: use a ranged type)"
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return None  # checked when that model was defined
    if origin in (typing.Union, types.UnionType, list, tuple, dict, set, frozenset):
        for arg in typing.get_args(tp):
            if arg is Ellipsis:
                continue
            bad = _unranged(arg)
            if bad:
                return bad
        return None
    return None


# ---------------------------------------------------------------------------------------------
# documentation


def _ranges_in(tp: Any) -> list[Range]:
    """The ranges used anywhere inside an annotation."""
    found: list[Range] = []
    if typing.get_origin(tp) is Annotated:
        found += [m for m in tp.__metadata__ if isinstance(m, Range)]
    for arg in typing.get_args(tp):
        if arg is not Ellipsis and not isinstance(arg, str | int | float):
            found += _ranges_in(arg)
    return found


def fields_by_range(models: Iterable[type[BaseModel]]) -> dict[str, list[str]]:
    """Where each range is used: `Pool.count`, or `tco --capex` for a command's options (a model
    with a `command` class attribute). An inherited field is listed under the model declaring it."""
    out: dict[str, list[str]] = {}
    for model in models:
        command = getattr(model, "command", None)
        inherited = {n for base in model.__mro__[1:] for n in getattr(base, "model_fields", {})}
        for name, info in model.model_fields.items():
            if name in inherited:
                continue  # listed under the model that declares it
            used = [m for m in info.metadata if isinstance(m, Range)] + _ranges_in(info.annotation)
            where = (
                f"{command} --{name.replace('_', '-')}" if command else f"{model.__name__}.{name}"
            )
            for r in dict.fromkeys(used):
                out.setdefault(r.key, []).append(where)
    return out


def ranges_markdown(used_by: Mapping[str, Sequence[str]]) -> str:
    """The README's table of ranges, one row per quantity, with the fields that use it."""
    rows = ["| quantity | accepted | unit | used by | why |", "|---|---|---|---|---|"]
    for r in RANGES.values():
        kind = "whole number " if r.integer else ""
        fields = ", ".join(f"`{f}`" for f in used_by.get(r.key, ()))
        rows.append(f"| {r.key} | {kind}{r.rule()} | {r.unit} | {fields} | {r.why} |")
    return "\n".join(rows)


def limits_markdown() -> str:
    """The README's table of limits on the size of a run."""
    rows = ["| limit | at most | unit | why |", "|---|---|---|---|"]
    for x in LIMITS.values():
        shown = f"{x.value / 2**20:,.0f} MiB" if x.key.endswith("_bytes") else _num(x.value)
        rows.append(f"| {x.key} | {shown} | {x.unit} | {x.why} |")
    return "\n".join(rows)
