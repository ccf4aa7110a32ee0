"""Rich tables for the terminal. Estimated figures are marked as such wherever they appear."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.catalog import Catalog

ORIGIN_MARK = {"measured": "", "calibrated": " (cal)", "estimated": " (est)"}


def _num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def catalog_table(catalog: Catalog, vendor: str | None = None) -> Table:
    t = Table(title="Accelerator catalog (dense TFLOPS; * = unconfirmed figure)", show_lines=False)
    for col in (
        "id",
        "vendor",
        "memory GB",
        "TB/s",
        "BF16",
        "FP8",
        "FP4",
        "TDP W",
        "scale-up GB/s",
        "per node",
        "year",
        "$/GPU-h",
        "purchase $",
    ):
        t.add_column(col, justify="left" if col in ("id", "vendor") else "right")
    for acc in catalog.table_rows(vendor):

        def mark(field: str, text: str, acc: Any = acc) -> str:
            return text + ("*" if acc.is_unconfirmed(field) and text != "-" else "")

        t.add_row(
            acc.id,
            acc.vendor,
            mark("memory_gb", _num(acc.memory_gb)),
            mark("bandwidth_tbps", _num(acc.bandwidth_tbps, ".2f")),
            mark("tflops.bf16", _num(acc.tflops.bf16)),
            mark("tflops.fp8", _num(acc.tflops.fp8)),
            mark("tflops.fp4", _num(acc.tflops.fp4)),
            mark("tdp_w", _num(acc.tdp_w)),
            mark("scaleup_gbps", _num(acc.scaleup_gbps)),
            mark("gpus_per_node", str(acc.gpus_per_node)),
            mark("year", str(acc.year or "-")),
            mark("price.per_gpu_hour", _num(acc.price.per_gpu_hour, ".2f")),
            mark("price.purchase", _num(acc.price.purchase)),
        )
    return t


def print_plan(plan: dict[str, Any], console: Console) -> None:
    """Print a plan (the dict from Plan.to_dict) as tables."""
    status = plan["status"]
    console.print(
        f"[bold]polyfleet plan[/bold] {plan['scenario']} — objective {plan['objective']}, "
        f"status [{'green' if status == 'optimal' else 'red'}]{status}[/]"
    )
    if status != "optimal":
        print_diagnosis(plan.get("diagnosis") or {}, console)
        return
    console.print(
        f"cost ${plan['cost_per_hour']:,.0f}/h  (${plan['cost_per_year'] / 1e9:,.2f}B/yr)   "
        f"power {plan['power_mw']:,.1f} MW   optimality gap {plan['optimality_gap']:.1e} "
        f"({plan['solver']['method']}, {plan['solver']['iterations']} rounds)"
    )
    t = Table(
        title="Assignments (throughput origin; * = not measured for this scenario: a roofline "
        "estimate, or one calibrated by the probe profile named)"
    )
    cols = ("workload", "pool", "accelerator", "accelerators", "served units/s", "origin", "source")
    for col in cols:
        t.add_column(col, justify="right" if col in ("accelerators", "served units/s") else "left")
    for a in plan["assignments"][:200]:
        t.add_row(
            a["workload"],
            a["pool"],
            a["accelerator"],
            _num(a["accelerators"]),
            _num(a["served"], ",.4g"),
            a["origin"] + ("" if a["origin"] == "measured" else "*"),
            a.get("source") or "",
        )
    if len(plan["assignments"]) > 200:
        t.caption = f"first 200 of {len(plan['assignments'])} rows; --json for all"
    console.print(t)
    t = Table(title="Workloads")
    for col in ("workload", "demand", "served", "unit", "accelerators", "$/h", "$ per M units"):
        t.add_column(col, justify="left" if col in ("workload", "unit") else "right")
    for w in plan["workloads"][:100]:
        t.add_row(
            w["name"],
            _num(w["demand"], ",.4g"),
            _num(w["served"], ",.4g"),
            w["unit"],
            _num(w["accelerators"]),
            _num(w["cost_per_hour"]),
            _num(w["cost_per_million_units"], ",.4g"),
        )
    console.print(t)
    t = Table(title="Pools")
    for col in (
        "pool",
        "accelerator",
        "vendor",
        "used",
        "capacity",
        "utilisation",
        "$/GPU-h",
        "MW",
    ):
        t.add_column(col, justify="left" if col in ("pool", "accelerator", "vendor") else "right")
    for p in plan["pools"]:
        t.add_row(
            p["pool"],
            p["accelerator"],
            p["vendor"],
            _num(p["used"]),
            _num(p["capacity"]),
            f"{p['utilisation']:.0%}",
            f"{p['cost_per_gpu_hour']:.2f}",
            _num(p["used"] * p["mw_per_gpu"], ",.1f"),
        )
    console.print(t)
    t = Table(title="Vendor shares")
    for col in ("vendor", "count", "power", "spend"):
        t.add_column(col, justify="left" if col == "vendor" else "right")
    for vendor, s in plan["vendor_shares"].items():
        t.add_row(vendor, f"{s['count']:.1%}", f"{s['power']:.1%}", f"{s['spend']:.1%}")
    console.print(t)
    if plan.get("ineligible"):
        t = Table(title="Pools that cannot serve a workload, and why")
        for col in ("workload", "accelerator", "reason"):
            t.add_column(col)
        for row in plan["ineligible"][:60]:
            t.add_row(row["workload"], row["accelerator"], row["reason"])
        if len(plan["ineligible"]) > 60:
            t.caption = f"first 60 of {len(plan['ineligible'])}; --json for all"
        console.print(t)
    print_calibration(plan.get("calibration"), console)
    if plan["binding"]:
        t = Table(title="Binding constraints: what relaxing each would save")
        for col in ("constraint", "slack", "saving $/h per unit", "unit"):
            t.add_column(col, justify="left" if col in ("constraint", "unit") else "right")
        for b in plan["binding"]:
            t.add_row(
                b["constraint"],
                _num(b["slack"], ",.3g"),
                _num(b["saving_per_hour"], ",.2f"),
                b["unit"],
            )
        console.print(t)


def print_calibration(calibration: dict[str, Any] | None, console: Console) -> None:
    """Which probe profiles calibrated which (accelerator, kind), by what factor."""
    if not calibration:
        return
    if calibration["used"]:
        t = Table(title="Calibration from probe profiles (factor = measured / roofline estimate)")
        for col in ("accelerator", "kind", "factor", "probe case", "preset", "profile"):
            t.add_column(col, justify="right" if col == "factor" else "left")
        for c in calibration["used"]:
            t.add_row(
                c["accelerator"],
                c["kind"],
                f"{c['factor']:.3f}",
                c["probe_case"],
                c["preset"],
                c["profile"],
            )
        console.print(t)
    for note in calibration["notes"]:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_diagnosis(diagnosis: dict[str, Any], console: Console) -> None:
    for u in diagnosis.get("unservable", []):
        console.print(f"[red]workload {u['workload']}[/red]: {u['reason']}")
        for acc, why in u["pools"].items():
            console.print(f"    {acc}: {why}")
    for lim in diagnosis.get("limits", []):
        console.print(f"[red]limit[/red] {lim['message']}")
    for s in diagnosis.get("shortfalls", []):
        console.print(
            f"[red]workload {s['workload']}[/red] can be served only {s['served_fraction']:.1%}: "
            f"short by {s['short_by']:,.4g} {s['unit']}"
        )
