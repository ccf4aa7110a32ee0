"""Rich tables for the terminal, rendered from the plan, leverage, frontier and catalog records.
Estimated figures are marked as such wherever they appear."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.catalog import Accelerator
from polyfleet.report.economics_tables import assumptions_table, deal_table
from polyfleet.report.model_tables import print_plan_model
from polyfleet.results.catalog import CatalogRecord
from polyfleet.results.frontier import FrontierRecord
from polyfleet.results.leverage import LeverageRecord
from polyfleet.results.plan import Assignment, Calibration, Diagnosis, PlanRecord, PowerCap

__all__ = [
    "catalog_table",
    "frontier_table",
    "leverage_table",
    "num",
    "print_calibration",
    "print_diagnosis",
    "print_plan",
]

T = TypeVar("T")
ORIGIN_MARK = {"measured": "", "calibrated": " (cal)", "estimated": " (est)"}
#: rows of the terminal view of a plan: a larger plan shows its largest rows and the totals of
#: all of them; the JSON has every row
MAX_ASSIGNMENTS, MAX_WORKLOADS, MAX_INELIGIBLE = 40, 20, 60


def num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def figure(x: float, decimals: int) -> str:
    """`x` to `decimals` places, or to 3 significant figures where that shows fewer: a 0.5 MW cap
    reads "0.5", not "0" (nor 1.5 "2")."""
    if x != 0 and abs(x) < 10.0 ** (2 - decimals):
        decimals = max(decimals, 2 - math.floor(math.log10(abs(x))))
        return f"{x:.{decimals}f}".rstrip("0").rstrip(".")
    return f"{x:,.{decimals}f}"


def catalog_table(record: CatalogRecord) -> Table:
    t = Table(title="Accelerator catalog (dense TFLOPS; * = unconfirmed figure)", show_lines=False)
    for col in (
        "id",
        "vendor",
        "stack",
        "memory GB",
        "TB/s",
        "BF16",
        "FP8",
        "FP4",
        "TDP W",
        "scale-up GB/s",
        "per node",
        "rack",
        "year",
        "$/GPU-h",
        "purchase $",
    ):
        t.add_column(col, justify="left" if col in ("id", "vendor", "stack", "rack") else "right")
    for acc in record.accelerators:

        def mark(field: str, text: str, acc: Accelerator = acc) -> str:
            return text + ("*" if acc.is_unconfirmed(field) and text != "-" else "")

        t.add_row(
            acc.id,
            acc.vendor,
            acc.stack or "-",
            mark("memory_gb", num(acc.memory_gb)),
            mark("bandwidth_tbps", num(acc.bandwidth_tbps, ".2f")),
            mark("tflops.bf16", num(acc.tflops.bf16)),
            mark("tflops.fp8", num(acc.tflops.fp8)),
            mark("tflops.fp4", num(acc.tflops.fp4)),
            mark("tdp_w", num(acc.tdp_w)),
            mark("scaleup_gbps", num(acc.scaleup_gbps)),
            mark("gpus_per_node", str(acc.gpus_per_node)),
            _rack_cell(acc),
            mark("year", str(acc.year or "-")),
            mark("price.per_gpu_hour", num(acc.price.per_gpu_hour, ".2f")),
            "rent only" if acc.rent_only else mark("price.purchase", num(acc.price.purchase)),
        )
    t.caption = (
        "rack: sold as whole racks (GPUs, kW, cooling); rent only: no purchase exists; "
        "TDP '-': not published"
    )
    return t


def _top(rows: list[T], n: int, key: Callable[[T], float]) -> list[T]:
    """All rows if there are at most `n`, else the `n` largest by `key`, largest first."""
    if len(rows) <= n:
        return rows
    return heapq.nlargest(n, rows, key=key)


def _rack_cell(acc: Accelerator) -> str:
    """A rack-scale part's rack: `72 x 120 kW* liquid` (* = unconfirmed kW); '-' for others."""
    if acc.rack is None:
        return "-"
    star = "*" if acc.is_unconfirmed("rack.kw") else ""
    return f"{acc.rack.gpus} x {acc.rack.kw:g} kW{star} {acc.rack.cooling}"


def _spread(a: Assignment) -> str:
    """An assignment's interval as multiples of its value: `0.78-1.28x`; blank where it has none."""
    low, high = a.throughput_low, a.throughput_high
    if a.origin == "measured" or low is None or high is None:
        return ""
    per_acc = a.served / a.accelerators if a.served else None
    if not per_acc or high == low:
        return ""
    return f"{low / per_acc:.2f}-{high / per_acc:.2f}x"


def print_plan(plan: PlanRecord, console: Console) -> None:
    """Print a plan record as tables."""
    status = plan.status
    console.print(
        f"[bold]polyfleet plan[/bold] {plan.scenario} — objective {plan.objective}"
        + (f" (fairness {plan.fairness})" if plan.fairness else "")
        + ", "
        f"status [{'green' if status == 'optimal' else 'red'}]{status}[/]"
        + (" (pessimistic: throughputs at the low end)" if plan.pessimistic else "")
    )
    if status != "optimal":
        print_diagnosis(plan.diagnosis, console)
        print_plan_model(plan, console)
        return
    assert plan.power is not None
    assert plan.cost_per_hour is not None
    assert plan.cost_per_year is not None
    assert plan.optimality_gap is not None
    power = plan.power
    console.print(
        f"cost ${plan.cost_per_hour:,.0f}/h  (${plan.cost_per_year / 1e9:,.2f}B/yr)   "
        f"power {figure(power.mw, 1)} MW = {figure(power.gw, 3)} GW{_power_caps(power.caps)}   "
        f"optimality gap {plan.optimality_gap:.1e} "
        f"({plan.solver.method}, {plan.solver.iterations} rounds)"
    )
    served = _served_line(plan)
    if served:
        console.print(served)
    assignments = plan.assignments or []
    shown = _top(assignments, MAX_ASSIGNMENTS, key=lambda a: a.accelerators)
    what = "Assignments"
    if len(shown) < len(assignments):
        what = f"Assignments, the {len(shown)} largest of {len(assignments):,}"
    t = Table(
        title=f"{what} (throughput origin; * = not measured for this scenario: a roofline "
        "estimate, or one calibrated by the probe profile or the published results named; "
        "interval: of the throughput per accelerator)"
    )
    cols = (
        "workload",
        "pool",
        "accelerator",
        "accelerators",
        "served units/s",
        "origin",
        "interval",
        "source",
    )
    for col in cols:
        right = col in ("accelerators", "served units/s", "interval")
        t.add_column(col, justify="right" if right else "left")
    for a in shown:
        t.add_row(
            a.workload,
            a.pool,
            a.accelerator,
            num(a.accelerators),
            num(a.served, ",.4g"),
            a.origin + ("" if a.origin == "measured" else "*"),
            _spread(a),
            escape(a.source or ""),
        )
    if len(shown) < len(assignments):
        t.caption = f"… {len(assignments) - len(shown):,} more assignments; --json for all"
        t.add_section()
        t.add_row(
            f"all {len(assignments):,}",
            "",
            "",
            num(sum(a.accelerators for a in assignments)),
        )
    console.print(t)
    fractions = plan.objective != "min_cost"  # what the served objectives decide
    t = Table(title="Workloads")
    cols = ["workload", "demand", "served", "unit", "accelerators", "$/h", "$ per M units"]
    cols += ["served %"] if fractions else []
    cols += ["level"] if plan.levels else []
    for col in cols:
        t.add_column(col, justify="left" if col in ("workload", "unit") else "right")
    workloads = plan.workloads or []
    shown_w = _top(workloads, MAX_WORKLOADS, key=lambda w: w.cost_per_hour)
    for w in shown_w:
        row = [
            w.name,
            num(w.demand, ",.4g"),
            num(w.served, ",.4g"),
            w.unit,
            num(w.accelerators),
            num(w.cost_per_hour),
            num(w.cost_per_million_units, ",.4g"),
        ]
        row += [f"{w.served_fraction:.2%}"] if fractions else []
        row += [f"{w.level:.2%}" if w.level is not None else "-"] if plan.levels else []
        t.add_row(*row)
    if len(shown_w) < len(workloads):
        t.caption = f"… {len(workloads) - len(shown_w):,} more workloads; --json for all"
        t.add_section()
        t.add_row(
            f"all {len(workloads):,}",
            "",
            "",
            "",
            num(sum(w.accelerators for w in workloads)),
            num(sum(w.cost_per_hour for w in workloads)),
        )
        t.title = f"Workloads: the {len(shown_w)} costliest of {len(workloads):,}"
    console.print(t)
    if plan.levels:
        t = Table(title="Water-filling levels, lowest first")
        for col in ("level", "workloads", "gap"):
            t.add_column(col, justify="right")
        for lv in plan.levels:
            t.add_row(f"{lv.level:.4%}", f"{lv.workloads:,}", f"{lv.gap:.1e}")
        console.print(t)
    t = Table(title="Pools")
    for col in (
        "pool",
        "accelerator",
        "vendor",
        "used",
        "capacity",
        "utilisation",
        "gross $/GPU-h",
        "deal credit",
        "net $/GPU-h",
        "MW",
    ):
        t.add_column(col, justify="left" if col in ("pool", "accelerator", "vendor") else "right")
    for p in plan.pools or []:
        t.add_row(
            p.pool + (f" @ {p.site}" if p.site else ""),
            p.accelerator,
            p.vendor,
            num(p.used),
            num(p.capacity),
            f"{p.utilisation:.0%}",
            f"{p.gross_cost_per_gpu_hour:.2f}",
            f"-{p.deal_credit_per_gpu_hour:.2f} ({p.deal})" if p.deal else "-",
            f"{p.cost_per_gpu_hour:.2f}",
            figure(p.used * p.mw_per_gpu, 1),
        )
    console.print(t)
    if plan.assumptions:
        console.print(assumptions_table(plan.assumptions))
    for m in plan.missing_figures or ():
        console.print(
            f"[yellow]missing:[/yellow] {m.figure} of {escape(m.accelerator)} "
            f"({escape(', '.join(m.pools))}): {escape(m.effect)}"
        )
    t = Table(title="Vendor shares")
    for col in ("vendor", "count", "power", "spend"):
        t.add_column(col, justify="left" if col == "vendor" else "right")
    for vendor, s in (plan.vendor_shares or {}).items():
        t.add_row(vendor, f"{s.count:.1%}", f"{s.power:.1%}", f"{s.spend:.1%}")
    console.print(t)
    if plan.ineligible:
        t = Table(title="Pools that cannot serve a workload, and why")
        for col in ("workload", "accelerator", "reason"):
            t.add_column(col)
        for row in plan.ineligible[:MAX_INELIGIBLE]:
            t.add_row(row.workload, row.accelerator, row.reason)
        if len(plan.ineligible) > MAX_INELIGIBLE:
            t.caption = f"first {MAX_INELIGIBLE} of {len(plan.ineligible)}; --json for all"
        console.print(t)
    for deal in plan.deals or []:
        console.print(deal_table(deal))
    print_calibration(plan.calibration, console)
    print_plan_model(plan, console)
    if plan.binding:
        t = Table(title="Binding constraints: what relaxing each would save")
        for col in ("constraint", "slack", "saving $/h per unit", "unit"):
            t.add_column(col, justify="left" if col in ("constraint", "unit") else "right")
        for b in plan.binding:
            t.add_row(b.constraint, num(b.slack, ",.3g"), num(b.saving_per_hour, ",.2f"), b.unit)
        console.print(t)


def _served_line(plan: PlanRecord) -> str:
    """What a served objective reached, the bound that proves how far it could go, and each
    objective's gap (min_cost: none; the cost line has its gap)."""
    if plan.objective == "min_cost" or plan.objective_value is None:
        return ""
    value, bound = plan.objective_value, plan.objective_bound
    if plan.objective == "max_served":
        text = f"sum of served fractions {value:,.6g}"
        text += f", proved at most {bound:,.6g}" if bound is not None else ""
    else:
        text = f"smallest served fraction {value:.4%}"
        text += f", proved at most {bound:.4%}" if bound is not None else ""
    gaps = plan.gaps
    if gaps is not None:
        parts = [f"served {gaps.served:.1e}"] if gaps.served is not None else []
        text += "   gaps: " + ", ".join([*parts, f"least cost {gaps.cost:.1e}"])
    return text


def _power_caps(caps: list[PowerCap]) -> str:
    """Each power cap, by its key: the fleet's as "of N MW cap", a site's with what it draws."""
    out = ""
    for c in caps:
        site = c.key.subject
        text = f" of {figure(c.cap_mw, 0)} MW cap"
        if site is not None:
            text = f"; {escape(str(site))} {figure(c.mw, 1)} MW{text}"
        if c.shadow_price_per_mw_hour > 0:
            text += f" (binding: ${c.shadow_price_per_mw_hour:,.0f}/h per extra MW)"
        out += text
    return out


def print_calibration(calibration: Calibration | None, console: Console) -> None:
    """Which probe profiles calibrated which (accelerator, kind), by what factor."""
    if not calibration:
        return
    if calibration.used:
        t = Table(title="Calibration from probe profiles (factor = measured / roofline estimate)")
        for col in ("accelerator", "kind", "factor", "probe case", "preset", "profile"):
            t.add_column(col, justify="right" if col == "factor" else "left")
        for c in calibration.used:
            t.add_row(c.accelerator, c.kind, f"{c.factor:.3f}", c.probe_case, c.preset, c.profile)
        console.print(t)
    for note in calibration.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_diagnosis(diagnosis: Diagnosis | None, console: Console) -> None:
    if diagnosis is None:
        return
    for u in diagnosis.unservable or []:
        console.print(f"[red]workload {u.workload}[/red]: {u.reason}")
        for acc, why in (u.pools or {}).items():
            console.print(f"    {acc}: {why}")
    for lim in diagnosis.limits or []:
        console.print(f"[red]limit[/red] {lim.message}")
    for s in diagnosis.shortfalls or []:
        console.print(
            f"[red]workload {s.workload}[/red] can be served only {s.served_fraction:.1%}: "
            f"short by {s.short_by:,.4g} {s.unit}"
        )


def _mult(x: float | None, below: float) -> str:
    return f"x{x:.3f}" if x is not None else f"never (> x{below:g})"


def leverage_table(data: LeverageRecord) -> Table:
    """Per vendor: switching and drop multipliers, lock-in premium, share-limit duals."""
    t = Table(title="Vendor leverage (multiplier on that vendor's prices; premium in $/h)")
    for col in (
        "vendor",
        "work share",
        "moves work at",
        "dropped at",
        "single-vendor $/h",
        "lock-in premium $/h",
        "share-limit $/h per point",
    ):
        t.add_column(col, justify="left" if col == "vendor" else "right")
    notes = []
    for v in data.vendors:
        duals = ", ".join(f"{k}: {d:,.0f}" for k, d in v.share_duals_per_point.items()) or "-"
        t.add_row(
            v.vendor,
            f"{v.base_work_share:.1%}",
            _mult(v.switch_multiplier, v.switch_multiplier_below),
            _mult(v.drop_multiplier, v.drop_multiplier_below),
            num(v.single_vendor_cost_per_hour) if v.single_vendor_cost_per_hour else "infeasible",
            num(v.lock_in_premium_per_hour),
            duals,
        )
        for reason in (v.switch_reason, v.drop_reason):
            line = f"{v.vendor}: {reason}"
            if reason and line not in notes:
                notes.append(line)
        for why in v.single_vendor_why:
            notes.append(f"{v.vendor} alone is infeasible: {why}")
    notes.append(
        f"least cost ${data.cost_per_hour:,.0f}/h; the vendor-share limits cost "
        f"${num(data.share_limits_cost_per_hour)}/h; {data.solves} solves in "
        f"{data.seconds:.2f} s, multipliers to {data.precision:.1%}"
    )
    t.caption = escape("\n".join(notes))
    return t


def greenfield_table(data: LeverageRecord) -> Table | None:
    """Per vendor, the lock-in premium if the fleet bought (and built) accordingly, beside
    today's fixed fleet's; with builds, the switching price with the in-house option."""
    if not data.greenfield:
        return None
    today = {v.vendor: v for v in data.vendors}
    with_build = any(
        g.switch_with_in_house_reason is not None or g.switch_multiplier_with_in_house is not None
        for g in data.greenfield
    )
    t = Table(title="Lock-in premium: today's fleet, and if the fleet bought accordingly")
    cols = ["vendor", "today $/h", "buying $/h", "buying $M/year"]
    if with_build:
        cols += ["moves work at", "with in-house"]
    for col in cols:
        t.add_column(col, justify="left" if col == "vendor" else "right")
    notes = []
    for g in data.greenfield:
        v = today.get(g.vendor)
        fixed = (
            "no pools"
            if v is None
            else (
                num(v.lock_in_premium_per_hour)
                if v.lock_in_premium_per_hour is not None
                else "infeasible"
            )
        )
        cells = [
            g.vendor,
            fixed,
            num(g.greenfield_premium_per_hour)
            if g.greenfield_premium_per_hour is not None
            else "infeasible",
            f"{g.greenfield_premium_per_year / 1e6:,.1f}"
            if g.greenfield_premium_per_year is not None
            else "-",
        ]
        if with_build:
            cells += [
                _mult(v.switch_multiplier, v.switch_multiplier_below) if v else "-",
                f"x{g.switch_multiplier_with_in_house:.3f}"
                if g.switch_multiplier_with_in_house is not None
                else "-",
            ]
            if g.switch_with_in_house_reason:
                notes.append(f"{g.vendor} with in-house: {g.switch_with_in_house_reason}")
        t.add_row(*cells)
        for why in g.greenfield_why:
            notes.append(f"{g.vendor} alone, even buying, is infeasible: {why}")
    used = ", ".join(data.greenfield_builds_used or []) or "none"
    notes.append(
        f"least cost buying ${num(data.greenfield_cost_per_hour)}/h without share limits "
        f"(builds used: {used})"
    )
    t.caption = escape("\n".join(notes))
    return t


def frontier_table(data: FrontierRecord) -> Table:
    knee = data.knee_index
    t = Table(
        title=f"Least cost vs. the maximum {data.measure} share of {data.vendor} "
        f"(lowest feasible {data.lowest_feasible_share:.1%})"
    )
    for col in ("max share", "share", "$/h", ""):
        t.add_column(col, justify="right")
    for i, p in enumerate(data.points):
        t.add_row(
            f"{p.max_share:.1%}",
            f"{p.share:.1%}" if p.share is not None else "-",
            num(p.cost_per_hour) if p.cost_per_hour is not None else p.status,
            "knee" if i == knee else "",
        )
    return t
