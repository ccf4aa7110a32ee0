"""Summarise the decode cases of probe profiles: graph replay beside eager, per batch.

For each profile: tokens/s, per-token p50 and p99, GB/s and % of the chip's peak memory bandwidth
(bytes per step: weights + the keys and values read), for each batch and mode, with the graph /
eager ratio; the copy workload's % of peak (what this chip's memory reaches at all) where the
profile has it; and why a graph figure is missing, where one is. The last line checks the full
preset's target: graph decode at its largest batch at >= 40 % of peak memory bandwidth. Exit status
1 when a profile has no decode, or the target is missed. Usage:

    python bench/decode_summary.py out/probe-decode/tiny.json out/probe-decode/full.json
"""

from __future__ import annotations

import argparse
import sys

from polyfleet.inputs.profile import CaseResult, Profile, load_profile

TARGET = 0.40


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _row(r: CaseResult, eager_rate: float | None) -> str:
    lat = r.latency
    ratio = f"x{r.units_per_s / eager_rate:.2f}" if (eager_rate and r.mode == "graph") else ""
    return (
        f"{r.case:<10}{r.mode or 'eager?':<8}{r.units_per_s:>14,.1f}"
        f"{lat.p50_ms if lat else float('nan'):>10.3f}{lat.p99_ms if lat else float('nan'):>10.3f}"
        f"{r.gbps or 0:>10,.0f}{_pct(r.peak_bandwidth_fraction):>10}{ratio:>9}"
        + ("  <- calibrates serve" if r.calibrates == "serve" else "")
    )


def summarise(file: str, profile: Profile) -> tuple[bool, float | None]:
    """Print one profile's decode table; (has decode, graph % of peak BW at the largest batch)."""
    d = profile.device
    print(
        f"\n== {file}: {profile.preset} preset, {d.name} -> {d.accelerator or 'no catalog match'}"
    )
    print(f"   torch {d.torch}, {d.runtime or 'no runtime'}, driver {d.driver or '?'}")
    copy = next((r for r in profile.results if r.workload == "copy"), None)
    if copy is not None:
        print(
            f"   copy {copy.case}: {copy.gbps or 0:,.0f} GB/s = {_pct(copy.peak_bandwidth_fraction)}"
        )
    decode = [r for r in profile.results if r.workload == "llm-decode"]
    for s in profile.skipped:
        if s.workload == "llm-decode":
            print(f"   no {s.case} figure: {s.reason}")
    if not decode:
        print("   no llm-decode case in this profile")
        return False, None
    print(
        f"   {'case':<10}{'mode':<8}{'tokens/s':>14}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'GB/s':>10}{'% pk BW':>10}{'g/e':>9}"
    )
    eager = {r.case: r.units_per_s for r in decode if r.mode in ("eager", None)}
    for r in decode:
        print("   " + _row(r, eager.get(r.case)))
    largest = max(decode, key=lambda r: (r.shape or {}).get("batch", 0))
    graph = next((r for r in decode if r.case == largest.case and r.mode == "graph"), None)
    return True, graph.peak_bandwidth_fraction if graph else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profiles", nargs="+")
    args = parser.parse_args()
    ok = True
    verdict = "no full-preset profile given"
    for file in args.profiles:
        try:
            profile = load_profile(file)
        except Exception as exc:  # a missing or broken file is reported, the others still shown
            print(f"\n== {file}: not read ({exc})")
            ok = False
            continue
        has_decode, frac = summarise(file, profile)
        ok = ok and has_decode
        if profile.preset == "full":
            if frac is None:
                verdict, ok = (
                    "full preset: no graph figure at the largest batch: target MISSED",
                    False,
                )
            else:
                met = frac >= TARGET
                ok = ok and met
                verdict = (
                    f"full preset, graph decode at the largest batch: {100 * frac:.1f}% of peak "
                    f"memory bandwidth (target >= {100 * TARGET:.0f}%): {'met' if met else 'MISSED'}"
                )
    print("\n" + verdict)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
