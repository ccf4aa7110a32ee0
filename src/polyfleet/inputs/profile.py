"""The probe profile: a versioned JSON record of what one accelerator measured on the suite.

A profile is the contract between `polyfleet probe` (which writes it) and the planner (which reads
it to calibrate the throughput matrix), so it is validated strictly on the way in: a file that is not
a polyfleet profile, or is one of another schema version, is refused with the file and field named.
Reading one needs no PyTorch: this module imports nothing of the probe.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    DeviceIndex,
    InputModel,
    JoulesPerUnit,
    LatencyMs,
    MeasuredGbps,
    MeasuredRate,
    MeasuredTflops,
    MemoryGb,
    MemoryUsedGb,
    PeakRatio,
    Repeats,
    ShapeValue,
    WorkPerUnit,
    one_of,
)
from polyfleet.inputs.convert import FieldError, input_error
from polyfleet.inputs.model_shape import ModelShape
from polyfleet.inputs.reader import line_of, read_document

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "CaseResult",
    "DeviceRecord",
    "EnergyRecord",
    "Profile",
    "Skipped",
    "load_profile",
    "load_profiles",
    "profile_files",
]

#: The suite's workloads and presets, named here so that readers of profiles and job files need no
#: PyTorch (probe/suite.py checks that it implements exactly these).
WORKLOAD_NAMES = ("gemm", "copy", "multimodal-train", "llm-decode", "recsys", "small-infer")
PRESET_NAMES = ("tiny", "full")
FORMAT = "polyfleet-profile"
SCHEMA_VERSION = 1
SchemaVersion = one_of(SCHEMA_VERSION)
DeviceKind = Literal["cuda", "rocm", "xpu", "mps", "cpu", "other"]
PresetName = Literal["tiny", "full"]
#: Scenario workload kinds a probe case can calibrate.
CalibratesKind = Literal["train", "serve", "recsys", "infer"]


class _Record(InputModel):
    model_config = ConfigDict(frozen=True)


class DeviceRecord(_Record):
    """Which device ran the suite, as the runtime reports it, and the catalog id it matched."""

    kind: DeviceKind
    vendor: str
    name: str
    index: DeviceIndex = 0
    count: DeviceIndex
    memory_gb: MemoryGb | None = None
    driver: str | None = None
    runtime: str | None = None  # "cuda 13.0", "hip 7.1", None on CPU
    torch: str
    accelerator: str | None = None  # catalog id, None when the name matched none
    matched_by: Literal["name", "user", "none"] = "none"


class EnergyRecord(_Record):
    """Where energy figures come from (NVML, AMD SMI) or why there are none."""

    source: Literal["nvml", "amdsmi"] | None = None
    note: str = ""


class Latency(_Record):
    p50_ms: LatencyMs
    p99_ms: LatencyMs

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.p99_ms < self.p50_ms:
            raise FieldError(
                f"p99_ms ({self.p99_ms:g}) is below p50_ms ({self.p50_ms:g}): a 99th percentile "
                "is never below the median",
                "p99_ms",
            )
        return self


class CaseResult(_Record):
    """One measured case of a workload (one dtype of gemm, one batch size of decode, ...)."""

    workload: str
    case: str
    unit: str  # what units_per_s counts: flop, byte, tokens, samples
    units_per_s: MeasuredRate
    latency: Latency | None = None
    repeats: Repeats
    peak_memory_gb: MemoryUsedGb | None = None
    flop_per_unit: WorkPerUnit | None = None
    bytes_per_unit: WorkPerUnit | None = None
    tflops: MeasuredTflops | None = None
    gbps: MeasuredGbps | None = None
    peak_compute_fraction: PeakRatio | None = None
    peak_bandwidth_fraction: PeakRatio | None = None
    joules_per_unit: JoulesPerUnit | None = None
    #: Scenario kind this case calibrates, and the model shape it ran (ModelShape fields).
    calibrates: CalibratesKind | None = None
    shape: dict[str, ShapeValue | str] | None = None
    #: How a decode step ran: replayed from a captured device graph, or launched op by op. None
    #: for cases without that choice, and in profiles from before decode had both (those ran eager).
    mode: Literal["graph", "eager"] | None = None

    @field_validator("shape")
    @classmethod
    def _a_model_shape(
        cls, value: dict[str, float | int | str] | None
    ) -> dict[str, float | int | str] | None:
        """The shape calibration estimates: the fields and ranges of a scenario's `model:`."""
        if value is not None:
            try:
                ModelShape.model_validate(value)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                raise FieldError(
                    err["msg"].removeprefix("Value error, "), *err["loc"], value=err.get("input")
                ) from None
        return value


class Skipped(_Record):
    workload: str
    case: str
    reason: str


class Profile(_Record):
    """Everything one `polyfleet probe` run measured on one device."""

    format: Literal["polyfleet-profile"] = FORMAT
    schema_version: SchemaVersion = SCHEMA_VERSION
    created: str
    polyfleet: str
    host: str
    preset: PresetName
    device: DeviceRecord
    energy: EnergyRecord = EnergyRecord()
    results: list[CaseResult]
    skipped: list[Skipped] = Field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=1, allow_nan=False) + "\n"

    def headline(self, kind: str) -> CaseResult | None:
        """The case that calibrates scenario workloads of `kind`, if this profile has one."""
        for result in self.results:
            if result.calibrates == kind:
                return result
        return None


def load_profile(path: str | Path) -> Profile:
    """Read and validate one profile file; anything else is an InputError naming what is wrong."""
    path = Path(path)
    data, text = read_document(path, syntax="json")  # a profile is JSON whatever its name
    return parse_profile(data, file=str(path), text=text)


def parse_profile(data: Any, *, file: str = "<profile>", text: str | None = None) -> Profile:
    """Validate profile data; `text` (the source) lets errors give a line."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise InputError(
            "not a polyfleet profile",
            file=file,
            field="format",
            value=found,
            line=line_of(text, ["format"]),
            hint=f"A profile has format '{FORMAT}'; write one with `polyfleet probe --out`",
        )
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            "unsupported profile schema version",
            file=file,
            field="schema_version",
            value=data.get("schema_version"),
            line=line_of(text, ["schema_version"]),
            hint=f"This polyfleet reads version {SCHEMA_VERSION}; re-run `polyfleet probe`",
        )
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=file, text=text, model=Profile) from None


def profile_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and every *.json directly inside folders named, in a stable order."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise InputError("no profile (*.json) in this folder", file=str(path))
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise InputError("profile file or folder not found", file=str(path))
    return out


def load_profiles(paths: Iterable[str | Path]) -> list[tuple[str, Profile]]:
    """(file, profile) for every profile under `paths`."""
    return [(str(p), load_profile(p)) for p in profile_files(paths)]
