"""Compare the probe's gemm and copy rates with plain torch.matmul and tensor copy.

The plain figures use the simplest code that could measure them (device events where the backend
has them, no polyfleet code) at the sizes of the probe's preset. A GPU's clock drifts by several
per cent between runs (power and heat), so the two are measured in alternation, `--rounds` times
each in one process, and their medians compared. Usage:

    python bench/probe_vs_plain.py [--preset full] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def _timer(device: torch.device):  # -> callable returning seconds of `fn` repeated `reps` times
    if device.type == "cuda":  # also ROCm; bench code, outside the package's device module

        def run(fn, reps: int) -> float:
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop) / 1e3 / reps

    else:

        def run(fn, reps: int) -> float:
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.perf_counter() - t0) / reps

    return run


def plain_rates(n: int, mib: int, trials: int = 10, reps: int = 10) -> dict[str, float]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = _timer(device)
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        torch.matmul(a, b)
    mm = statistics.median(run(lambda: torch.matmul(a, b), reps) for _ in range(trials))
    a = b = torch.empty(0)  # free them before the copy buffers
    src = torch.randn(mib * 2**20 // 4, device=device)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    cp = statistics.median(run(lambda: dst.copy_(src), reps) for _ in range(trials))
    return {
        "matmul_bf16_tflops": 2 * n**3 / mm / 1e12,
        "copy_gbps": 2 * src.numel() * 4 / cp / 1e9,
    }


def probe_rates(preset: str) -> tuple[dict[str, float], dict]:
    from polyfleet.catalog import load_catalog
    from polyfleet.probe.device import discover
    from polyfleet.probe.suite import run_suite

    profile = run_suite(discover(), load_catalog(), preset=preset, only=["gemm", "copy"])
    gemm = next(r.tflops for r in profile.results if (r.workload, r.case) == ("gemm", "bf16"))
    copy = next(r.gbps for r in profile.results if r.workload == "copy")
    return {"gemm_bf16_tflops": gemm, "copy_gbps": copy}, profile.device.model_dump()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="full")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from polyfleet.probe.suite import PRESETS

    size = PRESETS[args.preset]
    probes, plains = [], []
    for _ in range(args.rounds):
        rates, device = probe_rates(args.preset)
        probes.append(rates)
        plains.append(plain_rates(size.gemm_n, size.copy_mib))
    gemm = statistics.median(r["gemm_bf16_tflops"] for r in probes)
    copy = statistics.median(r["copy_gbps"] for r in probes)
    plain = {k: statistics.median(r[k] for r in plains) for k in plains[0]}
    rows = [
        ("gemm bf16 TFLOP/s", gemm, plain["matmul_bf16_tflops"]),
        ("copy GB/s", copy, plain["copy_gbps"]),
    ]
    print(f"device: {device['name']} ({device['accelerator']}); {args.rounds} rounds, medians")
    print(f"{'figure':<20}{'probe':>12}{'plain':>12}{'probe/plain':>14}")
    for name, p, q in rows:
        verdict = "within 5%" if abs(p / q - 1) <= 0.05 else "OFF BY >5%"
        print(f"{name:<20}{p:>12,.1f}{q:>12,.1f}{p / q:>14.3f}  {verdict}")
    print(json.dumps({"plain": plains, "probe": probes}))


if __name__ == "__main__":
    main()
