"""Accelerator records, the packaged catalog file, and one canonical way to resolve a name."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from polyfleet.errors import CatalogError
from polyfleet.inputs.base import (
    AcceleratorsPerNode,
    BandwidthTbps,
    Flag,
    InputModel,
    MemoryGb,
    NodePowerKw,
    PricePerGpu,
    PricePerGpuHour,
    RackKw,
    RelativePerformance,
    ScaleupGbps,
    ScaleupTbps,
    TdpW,
    TflopsPeak,
    Year,
)
from polyfleet.inputs.convert import input_error
from polyfleet.inputs.model_shape import Precision
from polyfleet.inputs.reader import line_of, read_document

PACKAGED_FILE = "accelerators.yaml"
SCHEMA_VERSION = 1
#: The software path a chip needs: NVIDIA CUDA, AMD ROCm, Google XLA.
Stack = Literal["cuda", "rocm", "xla"]
STACKS: tuple[Stack, ...] = ("cuda", "rocm", "xla")
#: How a rack (or a site) removes heat: air, or liquid to the chips.
Cooling = Literal["air", "liquid"]
#: The kinds of work the performance model estimates (a custom workload is measured instead).
RatedKind = Literal["train", "serve", "recsys", "infer"]
PRECISIONS: tuple[Precision, ...] = ("fp4", "fp8", "bf16")  # fastest first
#: Fields whose value is a published figure and therefore needs a source.
SOURCED_FIELDS = (
    "stack",
    "mamf_tflops",
    "memory_gb",
    "bandwidth_tbps",
    "tflops",
    "tdp_w",
    "scaleup_gbps",
    "gpus_per_node",
    "year",
    "node_power_kw",
    "price",
    "rent_only",
    "rack",
)
SPEC_FIELDS = (
    "memory_gb",
    "bandwidth_tbps",
    "tflops",
    "tdp_w",
    "scaleup_gbps",
    "scaleup_domain",
    "gpus_per_node",
    "year",
)


class _Strict(InputModel):
    model_config = ConfigDict(frozen=True)


class Tflops(_Strict):
    """Dense tensor rates in TFLOP/s per accelerator; None where the chip has no such format."""

    bf16: TflopsPeak | None = None
    fp8: TflopsPeak | None = None
    fp4: TflopsPeak | None = None

    def at(self, precision: Precision) -> float | None:
        return getattr(self, precision)


class Price(_Strict):
    """Indicative prices: on-demand rental per GPU-hour and purchase per GPU (USD)."""

    per_gpu_hour: PricePerGpuHour | None = None
    purchase: PricePerGpu | None = None


class Rack(_Strict):
    """The system a part is sold as: whole racks of `gpus` accelerators, each rack one or more
    whole scale-up domains, drawing `kw` at the IT load and cooled by `cooling`."""

    name: str = Field(min_length=1)
    gpus: AcceleratorsPerNode
    kw: RackKw
    cooling: Cooling
    scaleup_tbps: ScaleupTbps | None = None  # the rack's aggregate scale-up bandwidth


class Relative(_Strict):
    """A part known only against a catalogued one (an in-house chip before it exists): for each
    kind of work, how fast it runs relative to `to` as the model estimates `to` (1.1: 10 %
    faster); kinds left out it does not run. Memory, bandwidth, interconnect and software stack
    are `to`'s."""

    to: str = Field(min_length=1)
    performance: dict[RatedKind, RelativePerformance] = Field(min_length=1)


class Accelerator(_Strict):
    """One kind of accelerator. Units are in the field names; every figure's source in `sources`.

    A part sold only as a rack-scale system (GB200 NVL72, Helios) has a `rack`: it is bought a rack
    at a time, draws the rack's kW, and a site must be able to cool a rack. A part that cannot be
    bought at all (a TPU: rented through its maker's cloud only) is `rent_only`."""

    id: str = Field(min_length=1)
    vendor: str = Field(min_length=1)
    name: str | None = None
    aliases: tuple[str, ...] = ()
    stack: Stack | None = None  # None: unknown; the performance model pools it with the others
    memory_gb: MemoryGb
    bandwidth_tbps: BandwidthTbps | None = None
    tflops: Tflops = Tflops()
    mamf_tflops: TflopsPeak | None = None  # achieved dense BF16 matmul rate (MAMF), measured
    tdp_w: TdpW | None = None  # None: not published; the power comes from the node or the rack
    scaleup_gbps: ScaleupGbps | None = None
    scaleup_domain: AcceleratorsPerNode | None = None
    gpus_per_node: AcceleratorsPerNode = 8
    node_power_kw: NodePowerKw | None = None
    year: Year | None = None
    price: Price = Price()
    rent_only: Flag = False  # no purchase exists: it can only be rented, at its maker's price
    rack: Rack | None = None
    relative: Relative | None = None  # an in-house part: its performance relative to another
    sources: dict[str, str] = Field(default_factory=dict)
    unconfirmed: tuple[str, ...] = ()

    @field_validator("id", "vendor")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @model_validator(mode="after")
    def _consistent(self) -> Accelerator:
        if self.rent_only and self.price.purchase is not None:
            raise ValueError("a rent-only part has no purchase price (price.purchase)")
        if self.rack is not None:
            domain = self.scaleup_domain
            if domain is None:
                raise ValueError("a rack-scale part needs its scale-up domain (scaleup_domain)")
            if self.rack.gpus % domain:
                raise ValueError(
                    f"a rack of {self.rack.gpus} is not whole scale-up domains of {domain}"
                )
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def domain_size(self) -> int:
        """Accelerators that share one scale-up (NVLink / Infinity Fabric) domain."""
        return self.scaleup_domain or self.gpus_per_node

    @property
    def matmul_fraction(self) -> float | None:
        """The fraction of its dense BF16 peak a large matmul reaches on this chip (MAMF / peak),
        or None where no measurement is published."""
        if self.mamf_tflops is None or not self.tflops.bf16:
            return None
        return min(self.mamf_tflops / self.tflops.bf16, 1.0)

    def source_of(self, field: str) -> str | None:
        """The source of a field (`price.purchase` falls back to `price`, spec fields to `specs`)."""
        head = field.split(".")[0]
        for key in (field, head):
            if key in self.sources:
                return self.sources[key]
        if head in SPEC_FIELDS:
            return self.sources.get("specs")
        return None

    def is_unconfirmed(self, field: str) -> bool:
        head = field.split(".")[0]
        return field in self.unconfirmed or head in self.unconfirmed

    def best_precision(self, allowed: Precision) -> Precision | None:
        """The fastest format the chip has that the workload allows (fp4 ⊂ fp8 ⊂ bf16 in loss)."""
        order = PRECISIONS[PRECISIONS.index(allowed) :]
        for precision in order:
            if self.tflops.at(precision) is not None:
                return precision
        return None

    @property
    def power_known(self) -> bool:
        """Whether the catalog has any power figure for it: a rack's, a node's or a TDP."""
        return self.rack is not None or self.node_power_kw is not None or self.tdp_w is not None

    @property
    def purchase_unit(self) -> tuple[str, int]:
        """What it is bought by, and how many accelerators that is: ("rack", 72), ("node", 8)."""
        if self.rack is not None:
            return "rack", self.rack.gpus
        return "node", self.gpus_per_node

    def no_purchase_reason(self) -> str | None:
        """Why it cannot be bought (None: it can): a rent-only part, with the catalog's source."""
        if not self.rent_only:
            return None
        source = self.source_of("rent_only")
        return f"{self.id} is rent-only, no purchase exists" + (f" ({source})" if source else "")

    def facility_watts(self, pue: float, default_overhead: float) -> float:
        """All-in watts per accelerator at the facility meter: its share of the rack's power, else
        of the node's, else TDP × overhead; × PUE. 0 where the catalog has no power figure at all
        (`power_known` is false): whatever counts power checks that first."""
        if self.rack is not None:
            node_w = self.rack.kw * 1000.0 / self.rack.gpus
        elif self.node_power_kw is not None:
            node_w = self.node_power_kw * 1000.0 / self.gpus_per_node
        elif self.tdp_w is not None:
            node_w = self.tdp_w * default_overhead
        else:
            node_w = 0.0
        return node_w * pue


#: Words runtimes put before a model name, removed (in this order) when matching device names.
_BRAND_WORDS = ("nvidia", "amd", "radeon", "instinct", "intel", "datacenter", "gpu")


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


class Catalog(Mapping[str, Accelerator]):
    """Accelerators by id. `resolve` maps any alias or spelling to one id, or suggests the nearest."""

    def __init__(
        self,
        accelerators: Iterable[Accelerator],
        origin: str = PACKAGED_FILE,
        references: Mapping[str, str] | None = None,
    ) -> None:
        self.references = dict(references or {})  # source keys cited by entries, spelled out
        self._by_id: dict[str, Accelerator] = {}
        for acc in accelerators:
            self._by_id[acc.id] = acc
        self.origin = origin
        self._names: dict[str, str] = {}
        for acc in self._by_id.values():
            for name in (acc.id, acc.display_name, *acc.aliases):
                self._names.setdefault(_normalise(name), acc.id)

    def __getitem__(self, key: str) -> Accelerator:
        return self._by_id[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def vendors(self) -> list[str]:
        return sorted({a.vendor for a in self._by_id.values()})

    def find(self, name: str) -> str | None:
        """The id that `name` (an id, alias or marketing name) denotes, or None."""
        return self._names.get(_normalise(name))

    def match_device(self, device_name: str) -> str | None:
        """The id for a name a runtime reports ("NVIDIA H200", "AMD Instinct MI300X"), or None.

        The name matches when it, or it without the vendor's brand words, is an id or alias: exact
        matching keeps "NVIDIA H100 PCIe" from passing for the SXM part, whose figures differ.
        """
        found = self.find(device_name)
        if found is not None:
            return found
        stripped = _normalise(device_name)
        for brand in _BRAND_WORDS:
            if stripped.startswith(brand):
                stripped = stripped[len(brand) :]
        return self._names.get(stripped)

    def resolve(self, name: str, *, file: str | None = None, field: str | None = None) -> str:
        """The id for `name`, or a CatalogError with "did you mean" suggestions."""
        found = self.find(name)
        if found is not None:
            return found
        close = difflib.get_close_matches(name.lower(), list(self._by_id), n=3, cutoff=0.5)
        hint = f"Did you mean {', '.join(close)}?" if close else None
        hint = (hint + " " if hint else "") + "Run `polyfleet catalog` to list known ids."
        raise CatalogError("unknown accelerator", file=file, field=field, value=name, hint=hint)

    def with_entries(
        self,
        entries: Iterable[Mapping[str, Any]],
        *,
        file: str,
        field: str,
        text: str | None = None,
    ) -> Catalog:
        """A new catalog with `entries` added, or merged field by field into an existing id.
        `text` (the file's source) lets errors give the line of the entry's field."""
        merged = dict(self._by_id)
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or "id" not in entry:
                raise CatalogError(
                    "a catalog entry needs at least an 'id'",
                    file=file,
                    field=f"{field}[{i}]",
                    value=entry,
                    line=line_of(text, [field, i]),
                )
            if "relative" in entry:  # made by a build, which carries its NRE and ship year
                raise CatalogError(
                    "an in-house part is declared under `builds:`, not in the catalog",
                    file=file,
                    field=f"{field}[{i}].relative",
                    value=entry["relative"],
                    line=line_of(text, [field, i, "relative"]),
                )
            key = self.find(str(entry["id"])) or str(entry["id"]).strip().lower()
            base = merged[key].model_dump(exclude_defaults=True) if key in merged else {}
            data = _deep_merge(base, dict(entry))
            data["id"] = key
            try:
                merged[key] = Accelerator.model_validate(data)
            except ValidationError as exc:
                raise input_error(
                    exc,
                    file=file,
                    text=text,
                    model=Accelerator,
                    prefix=(field, i),
                    error=CatalogError,
                ) from None
        return Catalog(
            merged.values(), origin=f"{self.origin} + {file}", references=self.references
        )

    def table_rows(self, vendor: str | None = None) -> list[Accelerator]:
        rows = [a for a in self._by_id.values() if vendor is None or a.vendor == vendor.lower()]
        return sorted(rows, key=lambda a: (a.vendor, a.year or 0, a.id))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@cache
def _packaged() -> Catalog:
    raw = resources.files("polyfleet.catalog").joinpath(PACKAGED_FILE).read_bytes()
    data, text = read_document(raw, file=PACKAGED_FILE)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise CatalogError(
            "unsupported catalog schema version",
            file=PACKAGED_FILE,
            field="schema_version",
            value=data.get("schema_version"),
            hint=f"This polyfleet reads version {SCHEMA_VERSION}",
        )
    accs = []
    for i, entry in enumerate(data["accelerators"]):
        try:
            accs.append(Accelerator.model_validate(entry))
        except ValidationError as exc:
            raise input_error(
                exc,
                file=PACKAGED_FILE,
                text=text,
                model=Accelerator,
                prefix=("accelerators", i),
                error=CatalogError,
            ) from None
    return Catalog(accs, references=data.get("references", {}))


def load_catalog(
    extra: Iterable[Mapping[str, Any]] = (), *, file: str = "<scenario>", text: str | None = None
) -> Catalog:
    """The packaged catalog, with `extra` entries (a scenario's `catalog:` list) merged in; an
    entry's error names the file, field and (with the file's `text`) line."""
    base = _packaged()
    extra = list(extra)
    return base.with_entries(extra, file=file, field="catalog", text=text) if extra else base


def references() -> dict[str, str]:
    """The long form of the source keys the packaged catalog cites (ML-ENG, SKY-RUNPOD, ...)."""
    return dict(_packaged().references)
