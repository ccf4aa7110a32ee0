"""In-house silicon: an accelerator a fleet can build instead of buy.

A build is known before it exists only through what it would cost and how it compares with a
part in the catalog:

    nre               the one-off engineering cost (design, masks, bring-up), USD, committed at
                      the start of the horizon; it buys the right to order units, not units
    unit_cost         USD per accelerator once it ships
    power_w           IT watts per accelerator, all in (the chip and its share of the server)
    first_ship_year   the first year units can be bought
    slip_probability  the chance that the first ship year slips by one year
    relative_to       a catalogued part, and `performance`: for each kind of work, how fast the
                      build runs it relative to that part as the model estimates the part (1.1:
                      10 % faster); kinds left out it does not run. Memory, bandwidth,
                      interconnect and software stack are the reference part's.

`build_accelerator` turns a build into a catalog entry (vendor "in-house" unless named, sold by
the node, its year the ship year), so the throughput matrix, tier policies, vendor shares and
power caps treat it like any accelerator. A build is read from a procurement file (`builds:`), a
scenario (`builds:`, with how many units the option could deploy) or on its own (a build file
for `polyfleet build-vs-buy`: the build, what would be bought instead, and the units the work
needs each year).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from polyfleet.catalog import Accelerator, Catalog, RatedKind, load_catalog
from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    LIMITS,
    RANGES,
    AcceleratorsPerNode,
    Count,
    Fraction,
    InputModel,
    LifeYears,
    Nre,
    PricePerGpu,
    PricePerGpuHour,
    Pue,
    RelativePerformance,
    TdpW,
    Year,
)
from polyfleet.inputs.convert import resolve_name, validate
from polyfleet.inputs.cost import OwnedCost, cost_term
from polyfleet.inputs.reader import dotted, line_of, read_document

__all__ = [
    "IN_HOUSE",
    "Build",
    "BuildFile",
    "Instead",
    "LoadedBuildFile",
    "ScenarioBuild",
    "add_builds",
    "build_accelerator",
    "check_ship_years",
    "load_build_file",
    "parse_build_file",
]

#: The vendor an in-house accelerator is counted under unless its build names one.
IN_HOUSE = "in-house"
MAX_SCENARIO_BUILDS = int(LIMITS["scenario_builds"].value)
NODE_KW = RANGES["node_power_kw"]

Fail = Callable[[str, list[str | int], Any], Exception]


class Build(InputModel):
    """An in-house accelerator that can be built (see the module docstring)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    vendor: str = IN_HOUSE
    relative_to: str
    performance: dict[RatedKind, RelativePerformance] = Field(min_length=1)
    nre: Nre
    unit_cost: PricePerGpu
    power_w: TdpW
    first_ship_year: Year
    slip_probability: Fraction = 0.0
    life_years: LifeYears = 5
    units_per_node: AcceleratorsPerNode | None = None  # None: the reference part's
    max_units_per_year: Count | None = None

    @field_validator("name", "vendor")
    @classmethod
    def _lower(cls, value: str) -> str:
        value = value.strip().lower()
        if not value:  # a catalog entry needs a vendor: a blank one failed deep inside
            raise ValueError("must not be blank")
        return value


class ScenarioBuild(Build):
    """A build a scenario could add to its fleet: up to `count` units at one PUE, costed with the
    owned-cost terms (`cost`, defaults where left out); its NRE is paid over `amortize_years`
    at `cost_of_capital` like the units' capital. A scenario is one moment: the build is
    weighed as if it had shipped, and its slip risk plays no part."""

    count: Count
    pue: Pue = cost_term("pue")
    cost: OwnedCost = OwnedCost()


class Instead(InputModel):
    """What would be bought (or rented) instead of building: a catalog part, at a price per GPU
    (owned) or per GPU-hour (rented); none given, the catalog's purchase price, or its rent for a
    rent-only part. `relative_performance`: how fast one unit of it runs the work relative to the
    build's reference part (1 when it is that part; required for another)."""

    accelerator: str | None = None  # None: the build's reference part
    price_per_gpu: PricePerGpu | None = None
    per_gpu_hour: PricePerGpuHour | None = None
    relative_performance: RelativePerformance | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Instead:
        if self.price_per_gpu is not None and self.per_gpu_hour is not None:
            raise ValueError("price_per_gpu (bought) and per_gpu_hour (rented) are alternatives")
        return self


class BuildFile(InputModel):
    """A build on its own: the build, what would be bought instead, the owned-cost terms of both
    (`cost`, the documented defaults where left out) and the units of the build the work needs
    in service each year (one number holds for every year)."""

    name: str = "build-vs-buy"
    years: list[Year] = Field(min_length=1, max_length=int(LIMITS["procurement_years"].value))
    discount_rate: Fraction = 0.08
    pue: Pue = cost_term("pue")
    cost: OwnedCost = OwnedCost()
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    build: Build
    instead: Instead = Instead()
    work: RatedKind | None = None  # the kind of work the units do; None: the first rated
    units: list[Count] = Field(min_length=1)

    @property
    def kind_of_work(self) -> RatedKind:
        return self.work if self.work is not None else next(iter(self.build.performance))

    def units_by_year(self) -> list[int]:
        return list(self.units) if len(self.units) > 1 else [self.units[0]] * len(self.years)


@dataclass(frozen=True)
class LoadedBuildFile:
    """A validated build file, with the catalog (the build in it) it resolves against."""

    spec: BuildFile
    catalog: Catalog
    file: str
    instead: str  # the catalog id bought or rented instead
    rented: bool  # the alternative is rented (per GPU-hour), not bought
    price: float  # its price: USD per GPU, or per GPU-hour when rented
    instead_per_build: float  # units of the alternative that do one build unit's work


def build_accelerator(build: Build, reference: Accelerator) -> Accelerator:
    """The catalog entry of a build: the reference part's memory, bandwidth, interconnect and
    stack; the build's vendor, price, power and year; sold by the node; its performance
    relative to the reference (`Accelerator.relative`)."""
    per_node = build.units_per_node or reference.gpus_per_node
    kept = reference.model_dump(
        include={
            "stack",
            "memory_gb",
            "bandwidth_tbps",
            "tflops",
            "mamf_tflops",
            "scaleup_gbps",
            "scaleup_domain",
        }
    )
    return Accelerator.model_validate(
        {
            **kept,
            "id": build.name,
            "vendor": build.vendor,
            "name": f"{build.name} (in-house, vs {reference.id})",
            "gpus_per_node": per_node,
            "node_power_kw": build.power_w * per_node / 1000.0,
            "year": build.first_ship_year,
            "price": {"purchase": build.unit_cost},
            "relative": {"to": reference.id, "performance": dict(build.performance)},
            "sources": {
                "specs": f"in-house build {build.name}: {reference.id}'s memory, bandwidth and "
                "interconnect; performance relative to it, as given",
                "price": f"in-house build {build.name}: unit cost as given",
                "node_power_kw": f"in-house build {build.name}: {build.power_w:g} W per unit",
            },
        }
    )


def _in_builds(i: int) -> list[str | int]:
    return ["builds", i]


def add_builds(
    catalog: Catalog,
    builds: Sequence[Build],
    fail: Fail,
    where: Callable[[int], list[str | int]] = _in_builds,
) -> Catalog:
    """The catalog with every build in it; each build's reference resolved (an unknown one, or a
    name a catalog part already has, refused at its field; `where(i)`: the path of build i)."""
    if not builds:
        return catalog
    entries: list[Accelerator] = []
    for i, build in enumerate(builds):
        at = where(i)
        if catalog.find(build.name) is not None:
            raise fail(
                f"a build's name must be new: the catalog already has {catalog.find(build.name)}",
                [*at, "name"],
                build.name,
            )
        if build.name in (e.id for e in entries):
            raise fail("duplicate build name", [*at, "name"], build.name)
        ref_id = catalog.find(build.relative_to)
        if ref_id is None:
            try:
                catalog.resolve(build.relative_to)
            except InputError as exc:
                raise fail(
                    f"unknown accelerator; {exc.hint or ''}".strip(),
                    [*at, "relative_to"],
                    build.relative_to,
                ) from None
        assert ref_id is not None
        reference = catalog[ref_id]
        if reference.relative is not None:
            raise fail(
                "a build is measured against a catalogued part, not another build",
                [*at, "relative_to"],
                build.relative_to,
            )
        build.relative_to = ref_id
        per_node = build.units_per_node or reference.gpus_per_node
        node_kw = build.power_w * per_node / 1000.0
        if not NODE_KW.contains(node_kw):  # a catalog entry's range, not the field's own
            raise fail(
                f"{build.power_w:g} W x {per_node} units per node is {node_kw:g} kW a node; "
                f"{NODE_KW.label} must be {NODE_KW.rule()} {NODE_KW.unit}",
                [*at, "power_w"],
                build.power_w,
            )
        entries.append(build_accelerator(build, reference))
    return Catalog([*catalog.values(), *entries], catalog.origin, references=catalog.references)


def check_ship_years(
    builds: Sequence[Build],
    years: Sequence[int],
    fail: Fail,
    where: Callable[[int], list[str | int]] = _in_builds,
) -> None:
    """A build weighed over a horizon must ship within it: one that ships after its last year
    could never serve, and its NRE would buy nothing."""
    for i, build in enumerate(builds):
        if build.first_ship_year > years[-1]:
            raise fail(
                f"the build ships in {build.first_ship_year}, after the last year of the horizon "
                f"({years[-1]}): no year could use it",
                [*where(i), "first_ship_year"],
                build.first_ship_year,
            )


def check_scenario_builds(builds: Sequence[ScenarioBuild], fail: Fail) -> None:
    """A scenario weighs every subset of its builds: at most MAX_SCENARIO_BUILDS of them."""
    if len(builds) > MAX_SCENARIO_BUILDS:
        raise fail(
            f"{len(builds)} builds; a scenario takes at most {MAX_SCENARIO_BUILDS} (each subset "
            "is one solve): weigh more in a procurement file",
            ["builds"],
            len(builds),
        )


def parse_build_file(
    data: Any, *, file: str = "<build file>", text: str | None = None
) -> LoadedBuildFile:
    """Validate a build file: the build's reference and the part bought instead resolve, the
    units cover the years, the work is one the build runs, and the alternative has a price."""

    def fail(msg: str, loc: list[str | int], value: Any) -> InputError:
        return InputError(msg, file=file, field=dotted(loc), value=value, line=line_of(text, loc))

    spec = validate(BuildFile, data, file=file, text=text, what="a build file")
    for i in range(1, len(spec.years)):
        if spec.years[i] != spec.years[i - 1] + 1:
            raise fail(
                f"years must be consecutive: {spec.years[i]} follows {spec.years[i - 1]}",
                ["years", i],
                spec.years[i],
            )
    if len(spec.units) not in (1, len(spec.years)):
        raise fail(f"{len(spec.units)} values for {len(spec.years)} years", ["units"], spec.units)
    base = load_catalog(spec.catalog, file=file, text=text)
    catalog = add_builds(base, [spec.build], fail, lambda _: ["build"])
    check_ship_years([spec.build], spec.years, fail, lambda _: ["build"])
    if spec.build.max_units_per_year is not None:
        raise fail(
            "build-vs-buy weighs every unit in `units`; a cap on the units built a year would "
            "leave work unserved, which it does not weigh: drop it, or weigh the build in a "
            "procurement file",
            ["build", "max_units_per_year"],
            spec.build.max_units_per_year,
        )
    if spec.work is not None and spec.work not in spec.build.performance:
        raise fail(
            f"the build has no performance figure for {spec.work} work; rated: "
            + ", ".join(spec.build.performance),
            ["work"],
            spec.work,
        )
    instead = spec.instead
    alt_id = spec.build.relative_to
    if instead.accelerator is not None:
        alt_id = resolve_name(
            base, instead.accelerator, ["instead", "accelerator"], file=file, text=text
        )
    acc = base[alt_id]
    if instead.price_per_gpu is not None and acc.rent_only:
        raise fail(
            f"{acc.no_purchase_reason()}: rent it (per_gpu_hour)",
            ["instead", "price_per_gpu"],
            instead.price_per_gpu,
        )
    rented = instead.per_gpu_hour is not None or (instead.price_per_gpu is None and acc.rent_only)
    price = (
        (instead.per_gpu_hour or acc.price.per_gpu_hour)
        if rented
        else (instead.price_per_gpu or acc.price.purchase)
    )
    if price is None:
        what = "rental price" if rented else "purchase price"
        field = "per_gpu_hour" if rented else "price_per_gpu"
        raise fail(
            f"the catalog has no {what} for {alt_id}; give instead.{field}", ["instead"], None
        )
    if not rented and not acc.power_known:
        raise fail(
            f"the catalog has no power figure for {alt_id}, which its running cost needs",
            ["instead", "accelerator"],
            alt_id,
        )
    ratio = instead.relative_performance
    if ratio is not None and ratio != 1.0 and alt_id == spec.build.relative_to:
        raise fail(
            f"{alt_id} is the build's reference part, so it runs the work at 1 x itself: the "
            "build's `performance` says how the build compares",
            ["instead", "relative_performance"],
            ratio,
        )
    if ratio is None and alt_id != spec.build.relative_to:
        raise fail(
            f"{alt_id} is not the build's reference part ({spec.build.relative_to}): give how "
            "fast it runs the work relative to it",
            ["instead", "relative_performance"],
            None,
        )
    perf = spec.build.performance[spec.kind_of_work]
    return LoadedBuildFile(
        spec=spec,
        catalog=catalog,
        file=file,
        instead=alt_id,
        rented=rented,
        price=float(price),
        instead_per_build=perf / (ratio if ratio is not None else 1.0),
    )


def load_build_file(path: str | Path) -> LoadedBuildFile:
    path = Path(path)
    data, text = read_document(path)
    return parse_build_file(data, file=str(path), text=text)
