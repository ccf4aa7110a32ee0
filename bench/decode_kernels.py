"""Where one decode step's time goes on this GPU: its kernels, replayed from a graph and eager.

Builds the probe's decode model at a preset's size, prefills one batch, and for a few steps of each
mode prints the wall time per step, the GPU kernel time per step (the difference is launch gaps),
the attention kernel that ran, and the kernels that take the most time. A diagnosis for when the
decode's share of peak memory bandwidth is lower than it should be; it measures nothing the probe
records. Usage:

    python bench/decode_kernels.py [--preset full] [--batch 64] [--steps 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch.nn.attention import sdpa_kernel
from torch.profiler import ProfilerActivity, profile

from polyfleet.catalog import load_catalog
from polyfleet.probe.context import Context, NoProgress
from polyfleet.probe.decode import (
    DECODE_ATTENTION,
    GRAPH_WARMUP,
    build_model,
    cache_length,
    prefill,
)
from polyfleet.probe.device import GraphCaptureError, discover
from polyfleet.probe.suite import PRESETS


def _device_us(evt: object) -> float:
    for name in ("self_device_time_total", "self_cuda_time_total"):
        value = getattr(evt, name, None)
        if value is not None:
            return float(value)
    return 0.0


def _is_kernel(evt: object) -> bool:
    kind = getattr(evt, "device_type", None)
    return kind is not None and "CPU" not in str(kind) and _device_us(evt) > 0


def _report(mode: str, fn: Callable[[], None], sync: Callable[[], None], steps: int) -> None:
    for _ in range(3):
        fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    wall = (time.perf_counter() - t0) / steps * 1e6
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            fn()
        sync()
    kernels = sorted(
        (e for e in prof.key_averages() if _is_kernel(e)), key=_device_us, reverse=True
    )
    busy = sum(_device_us(e) for e in kernels) / steps
    launches = sum(e.count for e in kernels) / steps
    print(f"\n-- {mode}: {wall:,.0f} us a step (unprofiled); kernels busy {busy:,.0f} us a step")
    print(f"   {launches:,.0f} kernels a step; idle between them {max(wall - busy, 0):,.0f} us")
    words = ("fmha", "flash", "attention", "efficient")
    attention = [e.key for e in kernels if any(w in e.key.lower() for w in words)]
    print(f"   attention kernel(s): {attention or 'none named (math: matmul + softmax)'}")
    print(f"   {'us/step':>9} {'calls/step':>10}  kernel")
    for e in kernels[:14]:
        print(f"   {_device_us(e) / steps:>9,.1f} {e.count / steps:>10.1f}  {e.key[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="full")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = discover()
    catalog = load_catalog()
    record = device.record(catalog)
    acc = catalog[record.accelerator] if record.accelerator else None
    preset = PRESETS[args.preset]
    ctx = Context(device, preset, acc, device.energy_meter(), NoProgress())
    print(f"{record.name} -> {record.accelerator}; torch {record.torch}; {args.preset} preset")
    model = build_model(ctx)
    length = cache_length(preset.lm_prompt, 3 * (args.steps + 3) + GRAPH_WARMUP + 1)
    with torch.inference_mode(), sdpa_kernel(DECODE_ATTENTION):
        dec = prefill(ctx, model, args.batch, length)
        try:
            replay: Callable[[], None] | None = device.capture(dec.step, warmup=GRAPH_WARMUP)
        except GraphCaptureError as exc:
            print(f"no graph: {exc}")
            replay = None
        if replay is not None:
            dec.rewind()
            _report(f"graph, batch {args.batch}", replay, device.synchronize, args.steps)
        dec.rewind()
        _report(f"eager, batch {args.batch}", dec.step, device.synchronize, args.steps)


if __name__ == "__main__":
    main()
