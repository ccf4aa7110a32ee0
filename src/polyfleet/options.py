"""Command-line options as validated records, on the same ranged types as the input files.

`tco --capex nan` or `--power-price -70` is refused like `capex_per_gpu: .nan` in a file: one
InputError naming the option (`--capex`) and the value.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import ValidationError

from polyfleet.errors import InputError
from polyfleet.ranges import (
    Fraction,
    FrontierPoints,
    InputModel,
    McPaths,
    PositiveFraction,
    PowerPrice,
    PricePerGpu,
    Pue,
    SearchPrecision,
    Seed,
    UsdPerGpu,
    UsdPerMw,
    Years,
)

__all__ = [
    "DealOptions",
    "FrontierOptions",
    "LeverageOptions",
    "PlanOptions",
    "TcoOptions",
    "option_name",
    "parse_options",
]

M = TypeVar("M", bound=InputModel)


class PlanOptions(InputModel):
    command: ClassVar[str] = "plan"
    method: Literal["auto", "decomposition", "lp"] = "auto"


class TcoOptions(InputModel):
    command: ClassVar[str] = "tco"
    capex: PricePerGpu | None = None
    power_price: PowerPrice = 70.0
    pue: Pue = 1.3
    years: Years = 4.0
    rate: Fraction = 0.08
    maintenance: Fraction = 0.0
    utilisation: PositiveFraction = 1.0
    node: UsdPerGpu | None = None
    network: UsdPerGpu | None = None
    facility_per_mw: UsdPerMw | None = None
    facility_years: Years = 15.0


class DealOptions(InputModel):
    command: ClassVar[str] = "deal"
    paths: McPaths | None = None
    seed: Seed | None = None


class LeverageOptions(InputModel):
    command: ClassVar[str] = "leverage"
    precision: SearchPrecision = 0.005


class FrontierOptions(InputModel):
    command: ClassVar[str] = "frontier"
    points: FrontierPoints = 21


def option_name(field: str) -> str:
    """`power_price` -> `--power-price`."""
    return "--" + field.replace("_", "-")


def parse_options(model: type[M], **values: Any) -> M:
    """The options as `model`, or an InputError naming the first bad option and its value."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else ""
        raise InputError(
            err["msg"].removeprefix("Value error, "),
            field=option_name(name) if name else None,
            value=values.get(name),
        ) from None
