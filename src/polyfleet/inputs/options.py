"""Command-line options as validated records, on the same ranged types as the input files.

`tco --capex nan` or `--power-price -70` is refused like `capex_per_gpu: .nan` in a file: one
InputError naming the option (`--capex`) and the value. `tco`'s cost options default from the same
table as every input's owned-cost terms (inputs/cost.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import ValidationError, ValidationInfo, field_validator

from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    DeviceIndex,
    Flag,
    Fraction,
    FrontierPoints,
    InputModel,
    McPaths,
    PositiveFraction,
    PowerPrice,
    PricePerGpu,
    Pue,
    Retries,
    RunTimeoutS,
    SearchPrecision,
    Seed,
    UsdPerGpu,
    UsdPerMw,
    Workers,
    Years,
)
from polyfleet.inputs.benchmarks import PACKAGED
from polyfleet.inputs.cost import OwnedCost, cost_term

__all__ = [
    "TCO_TERMS",
    "CalibrateOptions",
    "DealOptions",
    "FrontierOptions",
    "LeverageOptions",
    "PlanOptions",
    "ProbeOptions",
    "ProcureOptions",
    "RunOptions",
    "StatusOptions",
    "TcoOptions",
    "option_name",
    "parse_options",
]

M = TypeVar("M", bound=InputModel)


class PlanOptions(InputModel):
    command: ClassVar[str] = "plan"
    method: Literal["auto", "decomposition", "lp"] = "auto"
    #: probe profile files or folders of them: measured efficiency calibrates the estimates
    profiles: tuple[Path, ...] = ()
    matrix: Flag = False  # every matrix cell in the record (workloads x accelerators objects)
    frontier: Flag = False  # the cost-vs-share frontier in the record
    #: tables of published results that calibrate the stack factors (`table_specs`): the packaged
    #: one by default, none for the bare roofline
    benchmarks: tuple[str, ...] = (PACKAGED,)
    pessimistic: Flag = False  # every estimated cell at the low end of its interval


class CalibrateOptions(InputModel):
    command: ClassVar[str] = "calibrate"
    benchmarks: tuple[str, ...] = (PACKAGED,)  # as `table_specs` gives them
    holdout: Flag = False  # also fit on one round and predict the next


#: Each `tco` cost option and the owned-cost term it sets.
TCO_TERMS = {
    "years": "amortize_years",
    "rate": "cost_of_capital",
    "power_price": "power_price_per_mwh",
    "utilisation": "utilisation",
    "maintenance": "maintenance_frac_per_year",
    "node": "node_per_gpu",
    "network": "network_per_gpu",
    "facility_per_mw": "facility_per_mw",
    "facility_years": "facility_years",
    "pue": "pue",
}


class TcoOptions(InputModel):
    command: ClassVar[str] = "tco"
    capex: PricePerGpu | None = None
    power_price: PowerPrice = cost_term("power_price_per_mwh")
    pue: Pue = cost_term("pue")
    years: Years = cost_term("amortize_years")
    rate: Fraction = cost_term("cost_of_capital")
    maintenance: Fraction = cost_term("maintenance_frac_per_year")
    utilisation: PositiveFraction = cost_term("utilisation")
    node: UsdPerGpu | None = None
    network: UsdPerGpu | None = None
    facility_per_mw: UsdPerMw | None = None
    facility_years: Years = cost_term("facility_years")

    def cost_terms(self) -> OwnedCost:
        """The owned-cost terms these options give; those not given keep their defaults (and are
        reported as assumed)."""
        given = {
            term: getattr(self, option)
            for option, term in TCO_TERMS.items()
            if option in self.model_fields_set and term in OwnedCost.model_fields
        }
        return OwnedCost.model_validate(given)

    @property
    def pue_assumed(self) -> bool:
        return "pue" not in self.model_fields_set


class DealOptions(InputModel):
    command: ClassVar[str] = "deal"
    paths: McPaths | None = None
    seed: Seed | None = None
    sensitivity: Flag = True  # revalue at volatility +-10 points and spot +-20 %


class ProcureOptions(InputModel):
    command: ClassVar[str] = "procure"
    limit_costs: Flag = True  # re-solve with each binding limit lifted, to price it
    lock_in: Flag = False  # re-solve with each vendor's parts only: its lock-in premium


def _one_place(workers: int | None, info: ValidationInfo) -> int | None:
    """Independent solves run here (neither option), on a running Ray cluster (`address`) or on
    a local one of `workers` CPUs started for the command: one place, not two."""
    if workers is not None and info.data.get("address") is not None:
        raise ValueError("give --address (a running cluster) or --workers (a local one), not both")
    return workers


class LeverageOptions(InputModel):
    command: ClassVar[str] = "leverage"
    precision: SearchPrecision = 0.005
    address: str | None = None  # a running Ray cluster's: the vendors' searches run there
    workers: Workers | None = None  # or a local cluster of this many CPUs
    _workers = field_validator("workers")(_one_place)


class FrontierOptions(InputModel):
    command: ClassVar[str] = "frontier"
    points: FrontierPoints = 21
    address: str | None = None  # a running Ray cluster's: the points run there
    workers: Workers | None = None  # or a local cluster of this many CPUs
    _workers = field_validator("workers")(_one_place)


class RunOptions(InputModel):
    command: ClassVar[str] = "run"
    retries: Retries = 3
    timeout: RunTimeoutS | None = None  # seconds; None: no limit
    address: str | None = None  # a Ray cluster's; None: the local one
    profiles_out: Path = Path("profiles")  # where probe jobs write their profiles
    wait: Flag = False  # wait for another run that is using the ledger
    state_dir: Path = Path(".polyfleet")  # the local cluster's address and the ledger


class StatusOptions(InputModel):
    command: ClassVar[str] = "status"
    state_dir: Path = Path(".polyfleet")
    address: str | None = None  # also read this cluster's pools


class ProbeOptions(InputModel):
    command: ClassVar[str] = "probe"
    preset: str = "tiny"  # tiny (seconds, any CPU) | full (a data-centre GPU)
    only: tuple[str, ...] | None = None  # workloads to run (default: all)
    accelerator: str | None = None  # catalog id of the device, when its name matches none
    device: DeviceIndex = 0
    cpu: Flag = False  # probe the CPU even if a GPU is present


def option_name(field: str) -> str:
    """`power_price` -> `--power-price`."""
    return "--" + field.replace("_", "-")


def parse_options(model: type[M], **values: Any) -> M:
    """The options as `model`, or an InputError naming the first bad option and its value.
    An option given as None is left out: it keeps its default (and is known as not given)."""
    values = {k: v for k, v in values.items() if v is not None}
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
