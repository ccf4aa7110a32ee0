"""A scenario: the fleet's pools, its workloads and the limits a plan must respect.

Loading validates shape with pydantic and meaning against the catalog; every error names the file,
the field path, the line where the YAML parser knows it, and the value. A pool's cost is a
`PoolCost` (inputs/cost.py): rent, or an owned pool's price and terms, whose left-out terms take
the documented defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from polyfleet.catalog import Catalog, load_catalog
from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    AcceleratorCap,
    AcceleratorsPerNode,
    Count,
    DemandRate,
    Flag,
    Fraction,
    Gang,
    InputModel,
    LatencyMs,
    PositiveFraction,
    PowerCapMw,
    Pue,
    ScaleupGbps,
    Throughput,
    Tier,
    Year,
)
from polyfleet.inputs.build import ScenarioBuild, add_builds, check_scenario_builds
from polyfleet.inputs.bulk import bulk_columns, check_distinct
from polyfleet.inputs.columns import WorkloadColumns
from polyfleet.inputs.convert import FieldError, relative_file, resolve_name, validate
from polyfleet.inputs.cost import PoolCost, check_purchasable, cost_term
from polyfleet.inputs.deal import Deal, load_deals
from polyfleet.inputs.model_shape import ModelShape
from polyfleet.inputs.profile import Profile, load_profiles
from polyfleet.inputs.reader import dotted, line_of, read_document
from polyfleet.inputs.site import Site, check_pool_sites

__all__ = [
    "BUY_SUFFIX",
    "Demand",
    "Limits",
    "LoadedScenario",
    "Needs",
    "Pool",
    "Scenario",
    "Site",
    "Slo",
    "TierPolicy",
    "VendorShare",
    "Workload",
    "load_scenario",
    "parse_scenario",
]

#: Leverage's name for the units a purchasable pool buys: the pool's name and this.
BUY_SUFFIX = "+buy"
Objective = Literal["min_cost", "max_served", "max_min_served"]
#: max_min_served: raise the smallest served fraction ("max_min"), or then each next-smallest in
#: turn, water-filling ("lexicographic")
Fairness = Literal["max_min", "lexicographic"]
WorkloadKind = Literal["train", "serve", "recsys", "infer", "custom"]
ShareMeasure = Literal["count", "power", "spend"]
#: The unit of work each kind's demand and throughput are counted in.
KIND_UNITS: dict[str, tuple[str, ...]] = {
    "train": ("tokens/s",),
    "serve": ("tokens/s",),
    "recsys": ("samples/s", "queries/s"),
    "infer": ("samples/s", "queries/s", "images/s"),
}


class VendorShare(InputModel):
    """Caps (and floors) on each vendor's fraction of the fleet, counted by `measure`."""

    measure: ShareMeasure = "count"
    max: dict[str, Fraction] = Field(default_factory=dict)
    min: dict[str, Fraction] = Field(default_factory=dict)

    @field_validator("max", "min")
    @classmethod
    def _lower_keys(cls, value: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        given: dict[str, str] = {}
        for key, share in value.items():
            vendor = key.strip().lower()
            if vendor in out:  # YAML keeps both 'NVIDIA' and 'nvidia': one would be lost
                raise ValueError(
                    f"vendor {vendor} is given twice, as {given[vendor]!r} and {key!r}"
                )
            out[vendor], given[vendor] = share, key
        return out

    @model_validator(mode="after")
    def _consistent(self) -> VendorShare:
        for vendor, low in self.min.items():
            high = self.max.get(vendor, 1.0)
            if low > high:
                raise ValueError(f"min share of {vendor} ({low}) exceeds its max share ({high})")
        total_min = sum(self.min.values())
        if total_min > 1.0 + 1e-12:
            raise ValueError(f"min shares sum to {total_min:g}, more than the whole fleet (1.0)")
        return self


class Limits(InputModel):
    power_cap_mw: PowerCapMw | None = None
    vendor_share: VendorShare | None = None


class TierPolicy(InputModel):
    """What a tier may run on: vendors, accelerator ids, and the oldest launch year allowed."""

    vendors: list[str] | None = None
    accelerators: list[str] | None = None
    min_year: Year | None = None

    @field_validator("vendors")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.strip().lower() for v in value]


class Pool(InputModel):
    """A group of identical accelerators the fleet has. `purchasable`: more of them can be bought
    where leverage weighs buying (the greenfield lock-in premium), up to `max_purchase` more
    (default: as many as the whole fleet has), at the pool's own owned-cost terms, or for a
    rented pool at the catalog's purchase price and the documented owned-cost defaults; a
    rent-only part's pool rents more at its rent. A purchasable pool of count 0 is a part the
    fleet could buy and has none of: plans leave it out. A plan places work on the pools as they
    are."""

    name: str = Field(min_length=1)
    accelerator: str
    count: Count
    pue: Pue = cost_term("pue")  # left out: the site's, else the documented default
    availability: PositiveFraction = 1.0
    site: str | None = None  # a name under the scenario's `sites:` (a free label without any)
    cost: PoolCost | None = None
    deal: str | None = None  # name of a deal in the scenario's `deals:`; its warrants are netted
    purchasable: Flag = False
    max_purchase: Count | None = None


class Demand(InputModel):
    value: DemandRate
    unit: str = "tokens/s"


_DOMAIN = TypeAdapter(AcceleratorsPerNode)


class Needs(InputModel):
    """What a workload needs of the accelerators it runs on. `scaleup_domain`: false, a replica
    spans at most a node; true, it may span the accelerator's scale-up domain; N, it needs a
    domain of at least N accelerators (expert-parallel serving of a large MoE, long-context
    training) and its gangs come in whole domains of N."""

    min_scaleup_gbps: ScaleupGbps | None = None
    vendors: list[str] | None = None
    accelerators: list[str] | None = None
    max_gang: Gang | None = None
    scaleup_domain: Flag | AcceleratorsPerNode = False

    @field_validator("vendors")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.strip().lower() for v in value]

    @field_validator("scaleup_domain", mode="before")
    @classmethod
    def _domain(cls, value: Any) -> Any:
        """true, false, or a whole number of accelerators (0 is not `false`)."""
        if isinstance(value, bool):
            return value
        try:
            return _DOMAIN.validate_python(value)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise ValueError(f"true, false or the accelerators a domain needs: {msg}") from None

    @property
    def domain_need(self) -> int:
        """Accelerators the workload's scale-up domain must hold (0: no such need)."""
        need = self.scaleup_domain
        return 0 if isinstance(need, bool) else int(need)


class Slo(InputModel):
    max_token_latency_ms: LatencyMs | None = None
    max_latency_ms: LatencyMs | None = None


class Workload(InputModel):
    name: str = Field(min_length=1)
    kind: WorkloadKind
    tier: Tier | None = None
    model: ModelShape = ModelShape()
    demand: Demand
    max_accelerators: AcceleratorCap | None = None
    needs: Needs = Needs()
    slo: Slo = Slo()
    throughput: dict[str, Throughput] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shape_for_kind(self) -> Workload:
        if self.kind == "custom" and not self.throughput:
            raise ValueError(
                "a custom workload needs measured `throughput` per accelerator "
                "(units/s), since polyfleet cannot estimate it"
            )
        if self.kind in ("train", "serve") and self.model.params_b <= 0 and not self.throughput:
            raise ValueError(f"a {self.kind} workload needs model.params_b > 0 to be estimated")
        units = KIND_UNITS.get(self.kind)
        if units and self.demand.unit not in units:
            raise ValueError(
                f"demand unit '{self.demand.unit}' does not fit kind '{self.kind}' "
                f"(use {' or '.join(units)})"
            )
        return self

    @property
    def effective_tier(self) -> int:
        """Tier from the scenario, else derived: big training or scale-up-hungry work is tier 1."""
        if self.tier is not None:
            return self.tier
        if self.kind == "train" and self.model.params_b >= 100:
            return 1
        if (self.needs.min_scaleup_gbps or 0) >= 900:
            return 1
        return 2


class Scenario(InputModel):
    name: str = "scenario"
    objective: Objective = "min_cost"
    fairness: Fairness = "max_min"
    limits: Limits = Limits()
    tiers: dict[Tier, TierPolicy] = Field(default_factory=dict)
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    sites: list[Site] = Field(default_factory=list)
    pools: list[Pool] = Field(min_length=1)
    workloads: list[Workload] = Field(min_length=1)
    profiles: list[str] = Field(default_factory=list)
    deals: list[str] = Field(default_factory=list)  # deal files, relative to the scenario file
    builds: list[ScenarioBuild] = Field(default_factory=list)  # in-house options (leverage)

    @property
    def fleet_count(self) -> int:
        """Accelerators in every pool: the default bound on what a purchasable pool may buy."""
        return sum(p.count for p in self.pools)

    @model_validator(mode="after")
    def _fairness_ranks_fractions(self) -> Scenario:
        """Lexicographic fairness ranks served fractions: only max_min_served has them to rank."""
        if self.fairness == "lexicographic" and self.objective != "max_min_served":
            raise FieldError(
                f"fairness 'lexicographic' needs objective max_min_served, not {self.objective}",
                "fairness",
            )
        return self

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        """Names unique and apart from the ones leverage gives the pools it adds (a build's, a
        purchasable pool's bought units), and no purchase bound on a pool that buys nothing."""
        for what, items in (("pools", self.pools), ("workloads", self.workloads)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.name in seen:
                    raise FieldError(f"duplicate {what[:-1]} name '{item.name}'", what, i, "name")
                seen.add(item.name)
        for i, pool in enumerate(self.pools):
            if pool.name.endswith(BUY_SUFFIX):
                raise FieldError(
                    f"a pool's name may not end in '{BUY_SUFFIX}': leverage names the units a "
                    "purchasable pool buys so",
                    "pools",
                    i,
                    "name",
                )
            if pool.max_purchase is not None and not pool.purchasable:
                raise FieldError(
                    "max_purchase bounds what a purchasable pool buys, and this pool is not "
                    "purchasable: add purchasable: true, or drop max_purchase",
                    "pools",
                    i,
                    "max_purchase",
                )
        if all(p.purchasable and p.count == 0 for p in self.pools):
            raise FieldError(
                "every pool is purchasable with count 0, so today's fleet is empty: give a pool "
                "the accelerators the fleet has (count > 0)",
                "pools",
                value=f"{len(self.pools)} pools of count 0",
            )
        pools = {p.name for p in self.pools}
        for i, build in enumerate(self.builds):
            if build.name in pools:
                raise FieldError(
                    "a build's name must differ from every pool's: leverage weighs the build "
                    "as a pool of that name",
                    "builds",
                    i,
                    "name",
                    value=build.name,
                )
        return self


class LoadedScenario(BaseModel):
    """A validated scenario with the catalog it resolves against and where it came from.

    `columns` holds every workload, in order. `scenario.workloads` holds the workloads given as
    objects (in YAML, or JSON that describes models, needs or SLOs): all of them, or none when
    they came in bulk (a JSON list of measured `custom` workloads, or tables)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    scenario: Scenario
    catalog: Catalog
    file: str
    columns: WorkloadColumns
    profiles: tuple[tuple[str, Profile], ...] = ()
    deals: dict[str, Deal] = Field(default_factory=dict)
    #: purchasable pools of count 0: parts leverage may buy, outside today's fleet and plans
    candidates: tuple[Pool, ...] = ()

    def with_profiles(self, paths: Sequence[str | Path]) -> LoadedScenario:
        """This scenario with the probe profiles under `paths` (files or folders) added."""
        extra = tuple(load_profiles(paths))
        return self.model_copy(update={"profiles": self.profiles + extra})


# ---------------------------------------------------------------------------------------------
# loading


def _named(loc: Sequence[str | int], data: Any) -> str:
    """A field path where list indices of pools/workloads are followed by the item's name."""
    path = dotted(loc)
    if len(loc) >= 2 and loc[0] in ("pools", "workloads", "builds") and isinstance(loc[1], int):
        try:
            name = data[loc[0]][loc[1]].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            name = None
        if name:
            path += f" ({name})"
    return path


#: Stands in for bulk workloads while the rest of a scenario is validated (a list of one).
_PLACEHOLDER = Workload(name="-", kind="custom", demand=Demand(value=0), throughput={"-": 1.0})


def parse_scenario(
    data: Any, *, file: str = "<scenario>", text: str | None = None, bulk: bool = False
) -> LoadedScenario:
    """Validate already-parsed scenario data. `text` (the source) lets errors give a line.

    Workload tables (`workloads: {table: ...}`) are always read in bulk; with `bulk`, so is a
    list of plain measured workloads (`inputs.bulk`), as `load_scenario` does for JSON files."""

    name = partial(_named, data=data)
    rows = data.get("workloads") if isinstance(data, dict) else None
    tables = isinstance(rows, dict) or (isinstance(data, dict) and "throughput" in data)
    in_bulk = tables or (bulk and isinstance(rows, list) and rows)
    head = data
    if in_bulk:  # the rest of the scenario, with one stand-in workload
        head = {k: v for k, v in data.items() if k != "throughput"} | {"workloads": [_PLACEHOLDER]}
    scenario = validate(Scenario, head, file=file, text=text, what="a scenario", name=name)
    catalog = _with_builds(
        scenario, load_catalog(scenario.catalog, file=file, text=text), file, text, data
    )
    columns: WorkloadColumns | None = None
    if in_bulk:
        scenario.workloads = []
        if tables:
            from polyfleet.inputs.tables import table_columns  # pyarrow, imported on use

            columns = table_columns(data, catalog, file=file, text=text)
        else:
            columns = bulk_columns(rows, catalog, Workload, file=file, text=text, name=name)
        if columns is None:  # not plain measured workloads: read them as objects
            return parse_scenario(data, file=file, text=text)
    _check_meaning(scenario, catalog, file, text, data)
    _check_sites(scenario, catalog, file, text, data)
    if columns is None:
        columns = WorkloadColumns.of(scenario.workloads)
    profiles = _load_scenario_profiles(scenario.profiles, file, text)
    deals = load_deals(scenario.deals, file=file, text=text, catalog=catalog)
    _check_pool_deals(scenario, deals, file, text, data)
    # a purchasable pool of none yet is a part the fleet could buy, not part of today's fleet
    candidates = tuple(p for p in scenario.pools if p.purchasable and p.count == 0)
    if candidates:
        today = [p for p in scenario.pools if not (p.purchasable and p.count == 0)]
        scenario = scenario.model_copy(update={"pools": today})
    return LoadedScenario(
        scenario=scenario,
        catalog=catalog,
        file=file,
        columns=columns,
        profiles=profiles,
        deals=deals,
        candidates=candidates,
    )


def _with_builds(
    scn: Scenario, catalog: Catalog, file: str, text: str | None, data: Any
) -> Catalog:
    """The catalog with the scenario's builds in it (their vendor known to every later check)."""

    def fail(msg: str, loc: list[str | int], value: Any) -> InputError:
        return InputError(
            msg, file=file, field=_named(loc, data), value=value, line=line_of(text, loc)
        )

    check_scenario_builds(scn.builds, fail)
    return add_builds(catalog, scn.builds, fail)


def _check_pool_deals(
    scn: Scenario, deals: dict[str, Deal], file: str, text: str | None, data: Any
) -> None:
    """Every pool's `deal:` must name a deal of the scenario's `deals:` files."""
    for i, pool in enumerate(scn.pools):
        if pool.deal is not None and pool.deal not in deals:
            known = ", ".join(deals) or "none: add the deal file under `deals:`"
            raise InputError(
                f"unknown deal; deals in this scenario: {known}",
                file=file,
                field=_named(["pools", i, "deal"], data),
                value=pool.deal,
                line=line_of(text, ["pools", i, "deal"]),
            )


def _load_scenario_profiles(
    entries: Sequence[str], file: str, text: str | None
) -> tuple[tuple[str, Profile], ...]:
    """The scenario's `profiles:` entries, files or folders relative to the scenario file."""
    out: list[tuple[str, Profile]] = []
    for i, entry in enumerate(entries):
        path = relative_file(file, entry, ["profiles", i], text, "profile file or folder")
        out.extend(load_profiles([path]))
    return tuple(out)


def _check_meaning(scn: Scenario, catalog: Catalog, file: str, text: str | None, data: Any) -> None:
    """Checks that need the catalog: ids resolve, vendors exist, share bounds can hold together."""

    def fail(msg: str, loc: list[str | int], value: Any, hint: str | None = None) -> None:
        line = line_of(text, loc)
        raise InputError(msg, file=file, field=_named(loc, data), value=value, line=line, hint=hint)

    def resolve(name: str, loc: list[str | int]) -> str:
        return resolve_name(
            catalog, name, loc, file=file, text=text, name=lambda at: _named(at, data)
        )

    vendors = set(catalog.vendors)
    for i, pool in enumerate(scn.pools):
        pool.accelerator = resolve(pool.accelerator, ["pools", i, "accelerator"])
        acc = catalog[pool.accelerator]
        if pool.cost is None and acc.price.per_gpu_hour is None:
            fail(
                f"no cost given and the catalog has no rental price for {acc.id}",
                ["pools", i],
                None,
                "Add cost: {per_gpu_hour: ...}"
                + ("" if acc.rent_only else " or cost: {capex_per_gpu: ...}"),
            )
        refusal = acc.no_purchase_reason()
        if refusal and pool.cost is not None and not pool.cost.rented:
            fail(
                f"{refusal}, so a pool of it cannot be owned",
                ["pools", i, "cost", "capex_per_gpu"],
                pool.cost.capex_per_gpu,
                "Rent it: cost: {per_gpu_hour: ...}",
            )
        if pool.purchasable:
            check_purchasable(pool, acc, ["pools", i, "purchasable"], fail)
    # today's fleet: a purchasable pool of count 0 is only a part the fleet could buy
    pool_vendors = {
        catalog[p.accelerator].vendor for p in scn.pools if not (p.purchasable and p.count == 0)
    }
    for i, wl in enumerate(scn.workloads):
        ids = {key: resolve(key, ["workloads", i, "throughput", key]) for key in wl.throughput}
        if len(set(ids.values())) < len(ids):
            at: list[str | int] = ["workloads", i, "throughput"]
            named = partial(_named, data=data)
            check_distinct(wl.throughput, dict(ids), at, file=file, text=text, name=named)
        wl.throughput = {ids[key]: value for key, value in wl.throughput.items()}
        for j, vendor in enumerate(wl.needs.vendors or []):
            if vendor not in vendors:
                fail(
                    "unknown vendor",
                    ["workloads", i, "needs", "vendors", j],
                    vendor,
                    f"Known vendors: {', '.join(sorted(vendors))}",
                )
        if wl.needs.accelerators:
            wl.needs.accelerators = [
                resolve(a, ["workloads", i, "needs", "accelerators", j])
                for j, a in enumerate(wl.needs.accelerators)
            ]
    for tier, policy in scn.tiers.items():
        for j, vendor in enumerate(policy.vendors or []):
            if vendor not in vendors:
                fail(
                    "unknown vendor",
                    ["tiers", tier, "vendors", j],
                    vendor,
                    f"Known vendors: {', '.join(sorted(vendors))}",
                )
        if policy.accelerators:
            policy.accelerators = [
                resolve(a, ["tiers", tier, "accelerators", j])
                for j, a in enumerate(policy.accelerators)
            ]
    share = scn.limits.vendor_share
    if share is not None:
        for bound in ("max", "min"):
            for vendor, value in getattr(share, bound).items():
                if vendor not in vendors:
                    fail(
                        "unknown vendor",
                        ["limits", "vendor_share", bound, vendor],
                        value,
                        f"Known vendors: {', '.join(sorted(vendors))}",
                    )
        for vendor, low in share.min.items():
            if low > 0 and vendor not in pool_vendors:
                fail(
                    f"a minimum share for {vendor}, but no pool has a {vendor} accelerator",
                    ["limits", "vendor_share", "min", vendor],
                    low,
                )
        reachable = sum(share.max.get(v, 1.0) for v in pool_vendors)
        if reachable < 1.0 - 1e-12:
            fail(
                f"the max shares of the vendors with pools ({', '.join(sorted(pool_vendors))}) "
                f"sum to {reachable:g}, less than the whole fleet (1.0)",
                ["limits", "vendor_share", "max"],
                dict(share.max),
            )


def _check_sites(scn: Scenario, catalog: Catalog, file: str, text: str | None, data: Any) -> None:
    """Pools at sites (see `check_pool_sites`), each error at its field and line."""

    def fail(msg: str, loc: list[str | int], value: Any, hint: str | None = None) -> InputError:
        line = line_of(text, loc)
        return InputError(
            msg, file=file, field=_named(loc, data), value=value, line=line, hint=hint
        )

    check_pool_sites(scn, catalog, fail)


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file: JSON (by orjson, its measured workloads in bulk), or
    YAML with the C loader; workload tables are read with pyarrow."""
    path = Path(path)
    data, text = read_document(path, fast=True)
    json = path.name.lower().endswith(".json")
    return parse_scenario(data, file=str(path), text=text, bulk=json)
