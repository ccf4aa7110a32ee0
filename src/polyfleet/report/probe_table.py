"""Terminal view of a probe profile: the device, then one row per measured case.

Decode cases measured both ways (replayed from a device graph, and eager) show as two rows, the
graph one first, and a line under the table gives the graph / eager ratio of each batch."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.inputs.profile import CaseResult, Profile

_UNIT_RATE = {"flop": ("TFLOP/s", 1e12), "byte": ("GB/s", 1e9)}


def _rate(result: CaseResult) -> str:
    unit, scale = _UNIT_RATE.get(result.unit, (f"{result.unit}/s", 1.0))
    value = result.units_per_s / scale
    return f"{value:,.1f} {unit}" if value < 1e4 else f"{value:,.0f} {unit}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _opt(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def device_line(profile: Profile) -> str:
    d = profile.device
    acc = d.accelerator or "no catalog match (peak fractions not shown; use --as ID)"
    memory = f"{d.memory_gb:,.0f} GB" if d.memory_gb else "memory unknown"
    runtime = ", ".join(x for x in (d.runtime, d.driver and f"driver {d.driver}") if x)
    return (
        f"{d.name} [{d.kind}, {d.vendor}] x{d.count}, {memory}; torch {d.torch}"
        + (f", {runtime}" if runtime else "")
        + f" -> {acc}"
    )


def profile_table(profile: Profile) -> Table:
    t = Table(
        title=f"polyfleet probe ({profile.preset} preset)", caption=escape(device_line(profile))
    )
    modes = any(r.mode for r in profile.results)
    for col in (
        "workload",
        "case",
        *(["mode"] if modes else []),
        "rate",
        "p50 ms",
        "p99 ms",
        "TFLOP/s",
        "GB/s",
        "% peak FLOP",
        "% peak BW",
        "peak mem GB",
        "J/unit",
        "calibrates",
    ):
        left = col in ("workload", "case", "mode", "calibrates")
        t.add_column(col, justify="left" if left else "right")
    for r in profile.results:
        t.add_row(
            r.workload,
            r.case,
            *([r.mode or ""] if modes else []),
            _rate(r),
            _opt(r.latency.p50_ms if r.latency else None, ".3f"),
            _opt(r.latency.p99_ms if r.latency else None, ".3f"),
            _opt(r.tflops, ",.1f"),
            _opt(r.gbps, ",.0f"),
            _pct(r.peak_compute_fraction),
            _pct(r.peak_bandwidth_fraction),
            _opt(r.peak_memory_gb, ",.2f"),
            _opt(r.joules_per_unit, ".3g"),
            r.calibrates or "",
        )
    return t


def graph_speedups(profile: Profile) -> list[tuple[str, str, float]]:
    """(workload, case, graph rate / eager rate) for each case measured both ways."""
    rates = {(r.workload, r.case, r.mode): r.units_per_s for r in profile.results if r.mode}
    return [
        (w, c, rate / rates[w, c, "eager"])
        for (w, c, mode), rate in rates.items()
        if mode == "graph" and (w, c, "eager") in rates
    ]


def print_profile(profile: Profile, console: Console) -> None:
    console.print(profile_table(profile))
    speedups = graph_speedups(profile)
    for workload in dict.fromkeys(w for w, _, _ in speedups):
        ratios = ", ".join(f"{c} x{x:.2f}" for w, c, x in speedups if w == workload)
        console.print(escape(f"{workload} graph replay / eager rate: {ratios}"))
    for s in profile.skipped:
        console.print(escape(f"skipped {s.workload} {s.case}: {s.reason}"))
    if profile.energy.source is None:
        console.print(escape(f"energy: {profile.energy.note}"))
