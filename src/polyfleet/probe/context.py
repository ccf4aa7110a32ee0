"""What a workload of the suite sees: the preset's sizes, the device, a timer and a result builder.

The workloads (probe/suite.py, probe/decode.py) measure; `case_result` turns a measurement into the
profile's `CaseResult`, with rates, peak fractions and energy per unit worked out one way for all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from polyfleet.catalog import Accelerator
from polyfleet.inputs.profile import CaseResult, Latency, Skipped
from polyfleet.probe.device import Device, EnergyMeter
from polyfleet.probe.timing import Timed, time_calls

__all__ = ["Context", "NoProgress", "Preset", "Progress", "case_result"]


@dataclass(frozen=True)
class Preset:
    """Problem sizes and repeat counts for one run of the suite."""

    name: str
    warmup: int
    repeats: int
    gemm_n: int
    gemm_inner: int
    copy_mib: int
    copy_inner: int
    # multimodal-train: a causal transformer over image patches then text tokens
    vlm_dim: int
    vlm_layers: int
    vlm_heads: int
    vlm_vocab: int
    vlm_image: int
    vlm_patch: int
    vlm_text: int
    vlm_batch: int
    # llm-decode: GQA decoder, prompt then `decode_tokens` new tokens at each batch size
    lm_dim: int
    lm_layers: int
    lm_heads: int
    lm_kv_heads: int
    lm_hidden: int
    lm_vocab: int
    lm_prompt: int
    decode_tokens: int
    decode_batches: tuple[int, ...]
    # recsys: DLRM with `dlrm_tables` embedding bags of `dlrm_lookups` pooled rows each
    dlrm_tables: int
    dlrm_rows: int
    dlrm_dim: int
    dlrm_lookups: int
    dlrm_bottom: tuple[int, ...]
    dlrm_top: tuple[int, ...]
    dlrm_batch: int
    # small-infer: encoder at batch 1 (latency) and at a throughput batch
    enc_dim: int
    enc_layers: int
    enc_heads: int
    enc_seq: int
    enc_batch: int
    enc_latency_calls: int


class Progress(Protocol):
    """What the suite reports as it goes; the CLI draws it as one bar per workload."""

    def begin(self, workload: str, steps: int) -> None: ...
    def add_steps(self, steps: int) -> None: ...
    def advance(self) -> None: ...
    def end(self) -> None: ...


class NoProgress:
    def begin(self, workload: str, steps: int) -> None:
        pass

    def add_steps(self, steps: int) -> None:
        pass

    def advance(self) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class Context:
    device: Device
    preset: Preset
    accelerator: Accelerator | None  # catalog entry the device matched, for peak fractions
    meter: EnergyMeter
    progress: Progress
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def dev(self) -> torch.device:
        return self.device.torch_device

    @property
    def half(self) -> torch.dtype:
        """The 16-bit type models run in: bf16 where the device has it, else fp16."""
        return torch.bfloat16 if self.device.supports_bf16() else torch.float16

    def time(self, step: Callable[[], object], *, inner: int = 1, repeats: int = 0) -> Timed:
        repeats = repeats or self.preset.repeats
        self.progress.add_steps(self.preset.warmup + repeats)
        energy = self.meter.joules if self.meter.source else None
        return time_calls(
            step,
            self.device.synchronize,
            warmup=self.preset.warmup,
            repeats=repeats,
            inner=inner,
            energy=energy,
            tick=self.progress.advance,
        )

    def peak_gb(self) -> float | None:
        peak = self.device.peak_memory_bytes()
        return peak / 1e9 if peak is not None else None


def case_result(
    ctx: Context,
    workload: str,
    case: str,
    *,
    unit: str,
    units_per_call: float,
    timed: Timed,
    flop_per_unit: float | None,
    bytes_per_unit: float | None,
    precision: str | None = "bf16",
    latency: bool = False,
    calibrates: str | None = None,
    shape: dict[str, float | int | str] | None = None,
    mode: str | None = None,
) -> CaseResult:
    rate = units_per_call / timed.median
    tflops = rate * flop_per_unit / 1e12 if flop_per_unit else None
    gbps = rate * bytes_per_unit / 1e9 if bytes_per_unit else None
    acc = ctx.accelerator
    peak = acc.tflops.at(precision) if acc is not None and precision else None  # type: ignore[arg-type]
    joules = timed.energy_j / (timed.calls * units_per_call) if timed.energy_j else None
    lat = None
    if latency:
        lat = Latency(p50_ms=timed.percentile_ms(50), p99_ms=timed.percentile_ms(99))
    return CaseResult(
        workload=workload,
        case=case,
        unit=unit,
        units_per_s=rate,
        latency=lat,
        repeats=len(timed.per_call),
        peak_memory_gb=ctx.peak_gb(),
        flop_per_unit=flop_per_unit,
        bytes_per_unit=bytes_per_unit,
        tflops=tflops,
        gbps=gbps,
        peak_compute_fraction=tflops / peak if (tflops and peak) else None,
        peak_bandwidth_fraction=(
            gbps / (acc.bandwidth_tbps * 1e3) if (gbps and acc and acc.bandwidth_tbps) else None
        ),
        joules_per_unit=joules if joules and math.isfinite(joules) else None,
        calibrates=calibrates,  # type: ignore[arg-type]
        shape=shape,
        mode=mode,  # type: ignore[arg-type]
    )
