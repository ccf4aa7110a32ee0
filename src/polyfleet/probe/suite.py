"""The workload suite: each workload builds a real model or kernel, times it, and reports rates.

Workloads see the device only through `Device` (probe/device.py), so the same code runs on any
backend PyTorch supports; what they share is in probe/context.py, and llm-decode (eager and
graph-replayed) has its own module, probe/decode.py. A workload returns one `CaseResult` per
measured case; the case marked with `calibrates` is the one the planner uses to calibrate estimates
of that workload kind. Sizes come from a `Preset`: `tiny` runs in seconds on a laptop CPU (and in
the tests), `full` fills a data-centre GPU.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import torch

from polyfleet.catalog import Catalog
from polyfleet.errors import InputError
from polyfleet.inputs.profile import PRESET_NAMES, WORKLOAD_NAMES, CaseResult, Profile, Skipped
from polyfleet.probe import models
from polyfleet.probe.context import Context, NoProgress, Preset, Progress, case_result
from polyfleet.probe.decode import run_llm_decode
from polyfleet.probe.device import Device, hostname
from polyfleet.probe.timing import count_flops

__all__ = ["PRESETS", "WORKLOADS", "Preset", "Progress", "run_suite"]


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        warmup=1,
        repeats=3,
        gemm_n=256,
        gemm_inner=2,
        copy_mib=16,
        copy_inner=2,
        vlm_dim=64,
        vlm_layers=2,
        vlm_heads=4,
        vlm_vocab=512,
        vlm_image=32,
        vlm_patch=8,
        vlm_text=16,
        vlm_batch=2,
        lm_dim=64,
        lm_layers=2,
        lm_heads=4,
        lm_kv_heads=2,
        lm_hidden=172,
        lm_vocab=512,
        lm_prompt=16,
        decode_tokens=6,
        decode_batches=(1, 4),
        dlrm_tables=4,
        dlrm_rows=1000,
        dlrm_dim=16,
        dlrm_lookups=4,
        dlrm_bottom=(32,),
        dlrm_top=(64, 32),
        dlrm_batch=32,
        enc_dim=64,
        enc_layers=2,
        enc_heads=4,
        enc_seq=32,
        enc_batch=8,
        enc_latency_calls=8,
    ),
    "full": Preset(
        name="full",
        warmup=3,
        repeats=10,
        gemm_n=8192,
        gemm_inner=10,
        copy_mib=4096,
        copy_inner=10,
        vlm_dim=1024,
        vlm_layers=12,
        vlm_heads=16,
        vlm_vocab=32000,
        vlm_image=224,
        vlm_patch=14,
        vlm_text=256,
        vlm_batch=32,
        # 7.4B parameters (14.7 GB in bf16) in 8 wide layers: a step reads 1.7 GB of weights a
        # layer (0.35 ms at an H200's 4.8 TB/s) against ~30 small kernels (norms, adds, cache
        # writes; ~0.1 ms), so the chip's bandwidth, not the kernel count, sets the step time
        lm_dim=8192,
        lm_layers=8,
        lm_heads=64,
        lm_kv_heads=8,
        lm_hidden=28672,
        lm_vocab=32000,
        lm_prompt=512,
        decode_tokens=128,
        decode_batches=(1, 8, 64),
        dlrm_tables=26,
        dlrm_rows=500_000,
        dlrm_dim=128,
        dlrm_lookups=20,
        dlrm_bottom=(512, 256),
        dlrm_top=(1024, 1024, 512, 256),
        dlrm_batch=8192,
        enc_dim=384,
        enc_layers=6,
        enc_heads=12,
        enc_seq=128,
        enc_batch=256,
        enc_latency_calls=200,
    ),
}


# -- workloads ------------------------------------------------------------------------------------


def run_gemm(ctx: Context) -> list[CaseResult]:
    """Square matrix products per dtype: the compute ceiling."""
    n = ctx.preset.gemm_n
    out = []
    cases: list[tuple[str, torch.dtype, str | None]] = [
        ("bf16", torch.bfloat16, "bf16"),
        ("fp16", torch.float16, "bf16"),  # dense fp16 and bf16 rates are equal on these parts
        ("fp32", torch.float32, None),  # the catalog lists no fp32 rate
    ]
    if not ctx.device.supports_bf16():
        cases = cases[1:]
        ctx.skipped.append(Skipped(workload="gemm", case="bf16", reason="no bf16 on this device"))
    for case, dtype, peak_as in cases:
        a = torch.randn(n, n, device=ctx.dev, dtype=dtype)
        b = torch.randn(n, n, device=ctx.dev, dtype=dtype)
        flops = count_flops(lambda a=a, b=b: torch.matmul(a, b))
        ctx.device.reset_peak_memory()
        timed = ctx.time(lambda a=a, b=b: torch.matmul(a, b), inner=ctx.preset.gemm_inner)
        out.append(
            case_result(
                ctx,
                "gemm",
                case,
                unit="flop",
                units_per_call=flops,
                timed=timed,
                flop_per_unit=1.0,
                bytes_per_unit=None,
                precision=peak_as,
            )
        )
        del a, b
    fp8 = ctx.device.fp8_dtype()
    if fp8 is None:
        reason = "no fp8 matrix product on this device"
        ctx.skipped.append(Skipped(workload="gemm", case="fp8", reason=reason))
        return out
    a8 = torch.randn(n, n, device=ctx.dev).to(fp8)
    b8 = torch.randn(n, n, device=ctx.dev).to(fp8).t().contiguous().t()  # column-major operand
    one = torch.ones((), device=ctx.dev)

    def mm8() -> torch.Tensor:
        return torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

    # PyTorch's FLOP counter has no formula for scaled products; count them by hand
    flops = count_flops(mm8) or 2 * n**3
    ctx.device.reset_peak_memory()
    timed = ctx.time(mm8, inner=ctx.preset.gemm_inner)
    out.append(
        case_result(
            ctx,
            "gemm",
            "fp8",
            unit="flop",
            units_per_call=flops,
            timed=timed,
            flop_per_unit=1.0,
            bytes_per_unit=None,
            precision="fp8",
        )
    )
    return out


def run_copy(ctx: Context) -> list[CaseResult]:
    """Device-to-device copy of one buffer into another: the memory-bandwidth ceiling."""
    n = ctx.preset.copy_mib * 2**20 // 4
    src = torch.randn(n, device=ctx.dev)
    dst = torch.empty_like(src)
    moved = 2.0 * src.numel() * src.element_size()  # read once, written once
    ctx.device.reset_peak_memory()
    timed = ctx.time(lambda: dst.copy_(src), inner=ctx.preset.copy_inner)
    result = case_result(
        ctx,
        "copy",
        f"{ctx.preset.copy_mib} MiB",
        unit="byte",
        units_per_call=moved,
        timed=timed,
        flop_per_unit=None,
        bytes_per_unit=1.0,
    )
    return [result]


#: Parameter traffic of one mixed-precision AdamW step, bytes per parameter: read fp32 weights to
#: cast (4), read bf16 weights in forward and backward (2 + 2), write fp32 grads (4), AdamW reads
#: weights, grads and both moments (16) and writes weights and moments (12). Activations excluded.
TRAIN_BYTES_PER_PARAM = 40.0


def run_multimodal_train(ctx: Context) -> list[CaseResult]:
    p = ctx.preset
    with ctx.dev:
        model = models.VisionLanguageModel(
            dim=p.vlm_dim,
            layers=p.vlm_layers,
            heads=p.vlm_heads,
            vocab=p.vlm_vocab,
            patch=p.vlm_patch,
        )
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        images = torch.randn(p.vlm_batch, 3, p.vlm_image, p.vlm_image)
        tokens = torch.randint(p.vlm_vocab, (p.vlm_batch, p.vlm_text + 1))
    half = ctx.half

    def forward_backward() -> None:
        with torch.autocast(ctx.device.type, dtype=half):
            loss = model(images, tokens)
        loss.backward()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        forward_backward()
        opt.step()

    patches = (p.vlm_image // p.vlm_patch) ** 2
    seq = patches + p.vlm_text
    tokens_per_step = p.vlm_batch * seq
    flops = count_flops(forward_backward)
    opt.zero_grad(set_to_none=True)
    params = models.count_params(model)
    ctx.device.reset_peak_memory()
    timed = ctx.time(step)
    shape = {
        "params_b": params / 1e9,
        "seq_len": seq,
        "batch": p.vlm_batch,
        "layers": p.vlm_layers,
        "precision": "bf16",
    }
    return [
        case_result(
            ctx,
            "multimodal-train",
            f"batch {p.vlm_batch} x {patches} patches + {p.vlm_text} text",
            unit="tokens",
            units_per_call=tokens_per_step,
            timed=timed,
            flop_per_unit=flops / tokens_per_step,
            bytes_per_unit=TRAIN_BYTES_PER_PARAM * params / tokens_per_step,
            calibrates="train",
            shape=shape,
        )
    ]


def run_recsys(ctx: Context) -> list[CaseResult]:
    p = ctx.preset
    half = ctx.half
    with ctx.dev:
        model = models.DLRM(
            tables=p.dlrm_tables,
            rows=p.dlrm_rows,
            dim=p.dlrm_dim,
            dense=13,
            bottom=list(p.dlrm_bottom),
            top=list(p.dlrm_top),
        )
        dense = torch.randn(p.dlrm_batch, 13)
        sparse = torch.randint(p.dlrm_rows, (p.dlrm_tables, p.dlrm_batch, p.dlrm_lookups))
    model = model.to(dtype=half).eval()
    dense = dense.to(half)
    elem = half.itemsize
    emb_params = sum(e.weight.numel() for e in model.embeddings)
    mlp_params = models.count_params(model) - emb_params
    with torch.inference_mode():
        flops = count_flops(lambda: model(dense, sparse))
        ctx.device.reset_peak_memory()
        timed = ctx.time(lambda: model(dense, sparse))
    lookups = p.dlrm_tables * p.dlrm_lookups
    per_sample_bytes = lookups * p.dlrm_dim * elem + mlp_params * elem / p.dlrm_batch
    shape = {
        "params_b": mlp_params / 1e9,
        "batch": p.dlrm_batch,
        "lookups_per_sample": lookups,
        "embedding_dim": p.dlrm_dim,
        "embedding_gb": emb_params * elem / 1e9,
        "gflops_per_sample": flops / p.dlrm_batch / 1e9,
        "precision": "bf16",
    }
    return [
        case_result(
            ctx,
            "recsys",
            f"batch {p.dlrm_batch}, {p.dlrm_tables} tables x {p.dlrm_lookups} lookups",
            unit="samples",
            units_per_call=p.dlrm_batch,
            timed=timed,
            flop_per_unit=flops / p.dlrm_batch,
            bytes_per_unit=per_sample_bytes,
            calibrates="recsys",
            shape=shape,
        )
    ]


def run_small_infer(ctx: Context) -> list[CaseResult]:
    p = ctx.preset
    half = ctx.half
    with ctx.dev:
        model = models.Encoder(dim=p.enc_dim, layers=p.enc_layers, heads=p.enc_heads, vocab=30522)
    model = model.to(dtype=half).eval()
    elem = half.itemsize
    params = models.count_params(model)
    weight_bytes = (params - model.embed.weight.numel()) * elem
    out = []
    for batch, calls, is_latency in ((1, p.enc_latency_calls, True), (p.enc_batch, 0, False)):
        with ctx.dev:
            tokens = torch.randint(30522, (batch, p.enc_seq))
        with torch.inference_mode():
            flops = count_flops(lambda tokens=tokens: model(tokens))
            ctx.device.reset_peak_memory()
            timed = ctx.time(lambda tokens=tokens: model(tokens), repeats=calls)
        shape = {
            "params_b": params / 1e9,
            "seq_len": p.enc_seq,
            "batch": batch,
            "gflops_per_sample": flops / batch / 1e9,
            "precision": "bf16",
        }
        out.append(
            case_result(
                ctx,
                "small-infer",
                f"batch {batch}" + (" (latency)" if is_latency else " (throughput)"),
                unit="samples",
                units_per_call=batch,
                timed=timed,
                flop_per_unit=flops / batch,
                bytes_per_unit=weight_bytes / batch + p.enc_seq * p.enc_dim * elem,
                latency=is_latency,
                calibrates=None if is_latency else "infer",
                shape=shape,
            )
        )
    return out


WORKLOADS: dict[str, Callable[[Context], list[CaseResult]]] = {
    "gemm": run_gemm,
    "copy": run_copy,
    "multimodal-train": run_multimodal_train,
    "llm-decode": run_llm_decode,
    "recsys": run_recsys,
    "small-infer": run_small_infer,
}


if tuple(WORKLOADS) != WORKLOAD_NAMES or tuple(PRESETS) != PRESET_NAMES:  # pragma: no cover
    raise ImportError("probe.profile names other workloads or presets than the suite runs")


def run_suite(
    device: Device,
    catalog: Catalog,
    *,
    preset: str = "tiny",
    only: Iterable[str] | None = None,
    accelerator: str | None = None,
    progress: Progress | None = None,
    polyfleet_version: str = "",
) -> Profile:
    """Run the chosen workloads (default: all) on `device` and return the profile."""
    if preset not in PRESETS:
        raise InputError(
            "unknown preset", field="--preset", value=preset, hint=f"Choose {' or '.join(PRESETS)}"
        )
    names = list(only) if only is not None else list(WORKLOADS)
    for name in names:
        if name not in WORKLOADS:
            raise InputError(
                "unknown workload",
                field="--only",
                value=name,
                hint=f"Choose from {', '.join(WORKLOADS)}",
            )
    record = device.record(catalog, accelerator)
    acc = catalog[record.accelerator] if record.accelerator else None
    meter = device.energy_meter()
    ctx = Context(device, PRESETS[preset], acc, meter, progress or NoProgress())
    results: list[CaseResult] = []
    for name in names:
        ctx.progress.begin(name, 0)
        try:
            results.extend(WORKLOADS[name](ctx))
        finally:
            ctx.progress.end()
            device.empty_cache()
    return Profile(
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        polyfleet=polyfleet_version,
        host=hostname(),
        preset=preset,  # type: ignore[arg-type]
        device=record,
        energy=meter.record(),
        results=results,
        skipped=ctx.skipped,
    )
