"""Rich tables for the terminal. Estimated figures are marked as such wherever they appear."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.catalog import Catalog
from polyfleet.report.model_tables import print_plan_model

ORIGIN_MARK = {"measured": "", "calibrated": " (cal)", "estimated": " (est)"}


def _num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def catalog_table(catalog: Catalog, vendor: str | None = None) -> Table:
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
    for acc in catalog.table_rows(vendor):

        def mark(field: str, text: str, acc: Any = acc) -> str:
            return text + ("*" if acc.is_unconfirmed(field) and text != "-" else "")

        t.add_row(
            acc.id,
            acc.vendor,
            acc.stack or "-",
            mark("memory_gb", _num(acc.memory_gb)),
            mark("bandwidth_tbps", _num(acc.bandwidth_tbps, ".2f")),
            mark("tflops.bf16", _num(acc.tflops.bf16)),
            mark("tflops.fp8", _num(acc.tflops.fp8)),
            mark("tflops.fp4", _num(acc.tflops.fp4)),
            mark("tdp_w", _num(acc.tdp_w)),
            mark("scaleup_gbps", _num(acc.scaleup_gbps)),
            mark("gpus_per_node", str(acc.gpus_per_node)),
            _rack_cell(acc),
            mark("year", str(acc.year or "-")),
            mark("price.per_gpu_hour", _num(acc.price.per_gpu_hour, ".2f")),
            "rent only" if acc.rent_only else mark("price.purchase", _num(acc.price.purchase)),
        )
    t.caption = (
        "rack: sold as whole racks (GPUs, kW, cooling); rent only: no purchase exists; "
        "TDP '-': not published"
    )
    return t


def _rack_cell(acc: Any) -> str:
    """A rack-scale part's rack: `72 x 120 kW* liquid` (* = unconfirmed kW); '-' for others."""
    if acc.rack is None:
        return "-"
    star = "*" if acc.is_unconfirmed("rack.kw") else ""
    return f"{acc.rack.gpus} x {acc.rack.kw:g} kW{star} {acc.rack.cooling}"


def _spread(cell: dict[str, Any]) -> str:
    """A cell's interval as multiples of its value: `0.78-1.28x`; blank where it has none."""
    value = cell.get("served")
    low, high = cell.get("throughput_low"), cell.get("throughput_high")
    if cell.get("origin") == "measured" or low is None or high is None:
        return ""
    per_acc = value / cell["accelerators"] if value and cell.get("accelerators") else None
    if not per_acc or high == low:
        return ""
    return f"{low / per_acc:.2f}-{high / per_acc:.2f}x"


def print_plan(plan: dict[str, Any], console: Console) -> None:
    """Print a plan (the dict from Plan.to_dict) as tables."""
    status = plan["status"]
    console.print(
        f"[bold]polyfleet plan[/bold] {plan['scenario']} — objective {plan['objective']}, "
        f"status [{'green' if status == 'optimal' else 'red'}]{status}[/]"
        + (" (pessimistic: throughputs at the low end)" if plan.get("pessimistic") else "")
    )
    if status != "optimal":
        print_diagnosis(plan.get("diagnosis") or {}, console)
        print_plan_model(plan, console)
        return
    power = plan["power"]
    console.print(
        f"cost ${plan['cost_per_hour']:,.0f}/h  (${plan['cost_per_year'] / 1e9:,.2f}B/yr)   "
        f"power {power['mw']:,.1f} MW = {power['gw']:,.3f} GW{_power_caps(power['caps'])}   "
        f"optimality gap {plan['optimality_gap']:.1e} "
        f"({plan['solver']['method']}, {plan['solver']['iterations']} rounds)"
    )
    t = Table(
        title="Assignments (throughput origin; * = not measured for this scenario: a roofline "
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
    for a in plan["assignments"][:200]:
        t.add_row(
            a["workload"],
            a["pool"],
            a["accelerator"],
            _num(a["accelerators"]),
            _num(a["served"], ",.4g"),
            a["origin"] + ("" if a["origin"] == "measured" else "*"),
            _spread(a),
            escape(a.get("source") or ""),
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
        "gross $/GPU-h",
        "deal credit",
        "net $/GPU-h",
        "MW",
    ):
        t.add_column(col, justify="left" if col in ("pool", "accelerator", "vendor") else "right")
    for p in plan["pools"]:
        credit = p.get("deal_credit_per_gpu_hour") or 0.0
        t.add_row(
            p["pool"] + (f" @ {p['site']}" if p.get("site") else ""),
            p["accelerator"],
            p["vendor"],
            _num(p["used"]),
            _num(p["capacity"]),
            f"{p['utilisation']:.0%}",
            f"{p.get('gross_cost_per_gpu_hour', p['cost_per_gpu_hour']):.2f}",
            f"-{credit:.2f} ({p['deal']})" if p.get("deal") else "-",
            f"{p['cost_per_gpu_hour']:.2f}",
            _num(p["used"] * p["mw_per_gpu"], ",.1f"),
        )
    console.print(t)
    if plan.get("assumptions"):
        console.print(assumptions_table(plan["assumptions"]))
    for m in plan.get("missing_figures", []):
        console.print(
            f"[yellow]missing:[/yellow] {m['figure']} of {escape(m['accelerator'])} "
            f"({escape(', '.join(m['pools']))}): {escape(m['effect'])}"
        )
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
    for deal in plan.get("deals", []):
        console.print(deal_table(deal))
    print_calibration(plan.get("calibration"), console)
    print_plan_model(plan, console)
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


def _power_caps(caps: list[dict[str, Any]]) -> str:
    """Each power cap, by its key: the fleet's as "of N MW cap", a site's with what it draws."""
    out = ""
    for c in caps:
        site = c["key"]["subject"]
        text = f" of {c['cap_mw']:,.0f} MW cap"
        if site is not None:
            text = f"; {escape(str(site))} {c['mw']:,.1f} MW{text}"
        if c["shadow_price_per_mw_hour"] > 0:
            text += f" (binding: ${c['shadow_price_per_mw_hour']:,.0f}/h per extra MW)"
        out += text
    return out


def tco_table(cost: dict[str, Any], title: str) -> Table:
    """A cost breakdown per accelerator-hour and per year; assumed defaults are marked *."""
    t = Table(title=title)
    for col in ("component", "capital $/GPU", "$/GPU-hour", "$/GPU-year", "share"):
        t.add_column(col, justify="left" if col == "component" else "right")
    gross = cost["gross_per_gpu_hour"]
    assumed = {a.removesuffix("_per_gpu").removesuffix("_per_mw") for a in cost["assumed_defaults"]}
    for name, per_hour in cost["per_gpu_hour"].items():
        capital = cost["capital_per_gpu"].get(name)
        t.add_row(
            name + ("*" if name in assumed else ""),
            _num(capital),
            f"{per_hour:,.3f}",
            _num(per_hour * 8760),
            f"{per_hour / gross:.0%}" if gross else "-",
        )
    t.add_row("gross", "", f"{gross:,.3f}", _num(gross * 8760), "100%", style="bold")
    if cost.get("deal"):
        credit = cost["deal_credit_per_gpu_hour"]
        t.add_row(f"deal credit ({cost['deal']})", "", f"-{credit:,.3f}", _num(-credit * 8760), "")
        net = cost["net_per_gpu_hour"]
        t.add_row("net", "", f"{net:,.3f}", _num(net * 8760), "", style="bold")
    t.caption = (
        f"{cost['it_kw_per_gpu']:.2f} kW IT, {cost['facility_kw_per_gpu']:.2f} kW at the meter per "
        f"GPU; {cost['gpus_per_gw']:,.0f} GPUs per GW"
        + ("; * = documented default (assumption)" if assumed & set(cost["per_gpu_hour"]) else "")
    )
    return t


def deal_table(deal: dict[str, Any]) -> Table:
    """A deal's warrant, tranche by tranche, and what it is worth per GPU."""
    w = deal.get("warrant")
    t = Table(title=f"Deal {deal['deal']} ({deal['vendor']}, {deal['accelerator']})")
    for col in (
        "tranche",
        "shares",
        "vests at GW",
        "milestone",
        "hurdle $",
        "P(hurdle)",
        "value $B",
    ):
        t.add_column(col, justify="left" if col in ("tranche", "milestone") else "right")
    if w:
        for i, tr in enumerate(w["tranches"], start=1):
            t.add_row(
                str(i),
                _num(tr["shares"]),
                f"{tr['vests_at_gw']:g}",
                (tr["milestone_date"] or "never") + ("" if tr["milestone_met"] else " (late)"),
                _num(tr["price_hurdle"], ",.0f") if tr["price_hurdle"] else "-",
                f"{tr['hurdle_probability']:.1%}",
                f"{tr['value'] / 1e9:,.2f}",
            )
        lo, hi = w["ci95"]
        value_line = (
            f"warrant ${w['value'] / 1e9:,.2f}B (95% CI {lo / 1e9:,.2f}-{hi / 1e9:,.2f}; "
            f"{w['paths']:,} paths, {w['monitoring_steps']} monitoring dates)"
        )
    else:
        value_line = "no warrant"
    t.caption = (
        f"{value_line}; {deal['deployed_gw']:g} GW = {deal['gpus_delivered']:,.0f} GPUs; "
        f"price ${deal['price_per_gpu']:,.0f}/GPU - warrant ${deal['warrant_per_gpu']:,.0f}/GPU = "
        f"net ${deal['net_price_per_gpu']:,.0f}/GPU; ${deal['gross_per_gpu_hour']:.2f} -> "
        f"${deal['net_per_gpu_hour']:.2f} per GPU-hour"
    )
    return t


def sensitivity_table(grid: list[dict[str, float]]) -> Table:
    """Warrant value ($B) on a volatility x spot grid (common random numbers)."""
    vols = sorted({g["volatility"] for g in grid})
    spots = sorted({g["spot"] for g in grid})
    t = Table(title="Warrant value, $B, by volatility (rows) and spot (columns)")
    t.add_column("volatility")
    for spot in spots:
        t.add_column(f"spot ${spot:,.0f}", justify="right")
    value = {(g["volatility"], g["spot"]): g["value"] for g in grid}
    for vol in vols:
        t.add_row(f"{vol:.0%}", *[f"{value[vol, spot] / 1e9:,.2f}" for spot in spots])
    return t


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


def _mult(x: float | None, below: float) -> str:
    return f"x{x:.3f}" if x is not None else f"never (> x{below:g})"


def leverage_table(data: dict[str, Any]) -> Table:
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
    for v in data["vendors"]:
        duals = ", ".join(f"{k}: {d:,.0f}" for k, d in v["share_duals_per_point"].items()) or "-"
        t.add_row(
            v["vendor"],
            f"{v['base_work_share']:.1%}",
            _mult(v["switch_multiplier"], v["switch_multiplier_below"]),
            _mult(v["drop_multiplier"], v["drop_multiplier_below"]),
            _num(v["single_vendor_cost_per_hour"])
            if v["single_vendor_cost_per_hour"]
            else "infeasible",
            _num(v["lock_in_premium_per_hour"]),
            duals,
        )
        for key in ("switch_reason", "drop_reason"):
            line = f"{v['vendor']}: {v[key]}"
            if v[key] and line not in notes:
                notes.append(line)
        for why in v["single_vendor_why"]:
            notes.append(f"{v['vendor']} alone is infeasible: {why}")
    share_cost = data["share_limits_cost_per_hour"]
    notes.append(
        f"least cost ${data['cost_per_hour']:,.0f}/h; the vendor-share limits cost "
        f"${share_cost:,.0f}/h; {data['solves']} solves in {data['seconds']:.2f} s, multipliers to "
        f"{data['precision']:.1%}"
    )
    t.caption = escape("\n".join(notes))
    return t


def frontier_table(data: dict[str, Any]) -> Table:
    knee = data["points"].index(data["knee"]) if data["knee"] else None
    t = Table(
        title=f"Least cost vs. the maximum {data['measure']} share of {data['vendor']} "
        f"(lowest feasible {data['lowest_feasible_share']:.1%})"
    )
    for col in ("max share", "share", "$/h", ""):
        t.add_column(col, justify="right")
    for i, p in enumerate(data["points"]):
        t.add_row(
            f"{p['max_share']:.1%}",
            f"{p['share']:.1%}" if p["share"] is not None else "-",
            _num(p["cost_per_hour"]) if p["cost_per_hour"] is not None else p["status"],
            "knee" if i == knee else "",
        )
    return t


def print_procurement(data: dict[str, Any], console: Console) -> None:
    """The buying schedule, cost and GW by year, tranches, and what each binding limit costs."""
    console.print(
        f"[bold]polyfleet procure[/bold] {escape(data['name'])} — status {data['status']} "
        f"(MIP gap {data['mip_gap']:.2%}, {data['seconds']:.2f} s); discounted cost "
        f"${data['objective'] / 1e9:,.2f}B net of warrant tranches"
    )
    years = data["years"]
    t = Table(title="What to buy (GPUs; nodes, or racks, in brackets)")
    t.add_column("accelerator")
    for y in years:
        t.add_column(str(y), justify="right")
    rows: dict[str, dict[int, str]] = {}
    for s in data["schedule"]:
        label = s["accelerator"] + (f" @ {s['site']}" if s.get("site") else "")
        label += f" ({s['deal']})" if s["deal"] else ""
        racks = " racks" if s.get("unit") == "rack" else ""
        rows.setdefault(label, {})[s["year"]] = f"{s['gpus']:,} ({s['nodes']:,}{racks})"
    for label, by_year in rows.items():
        t.add_row(label, *[by_year.get(y, "-") for y in years])
    console.print(t)
    t = Table(title="Cost and power by year")
    for col in (
        "year",
        "capex $B",
        "opex $B",
        "total $B",
        *[f"GW {v}" for v in data["gw_by_vendor"]],
    ):
        t.add_column(col, justify="right")
    for i, c in enumerate(data["cost_by_year"]):
        t.add_row(
            str(c["year"]),
            f"{c['capex'] / 1e9:,.2f}",
            f"{c['opex'] / 1e9:,.2f}",
            f"{c['total'] / 1e9:,.2f}",
            *[f"{gw[i]:,.2f}" for gw in data["gw_by_vendor"].values()],
        )
    console.print(t)
    if data["tranches"]:
        t = Table(title="Warrant tranches (value with the milestone met)")
        for col in ("deal", "tranche", "vests at GW", "value $B", "vested"):
            t.add_column(col, justify="left" if col == "deal" else "right")
        for tr in data["tranches"]:
            t.add_row(
                tr["deal"],
                str(tr["tranche"]),
                f"{tr['vests_at_gw']:g}",
                f"{tr['value'] / 1e9:,.2f}",
                "yes" if tr["vested"] else "no",
            )
        console.print(t)
    if data["binding_limits"]:
        t = Table(title="Binding limits: discounted saving if each were lifted")
        for col in ("limit", "saving $B"):
            t.add_column(col, justify="left" if col == "limit" else "right")
        for b in data["binding_limits"]:
            t.add_row(b["limit"], f"{b['saving_if_lifted'] / 1e9:,.3f}")
        console.print(t)
    for sh in data["shortfalls"]:
        console.print(
            f"[red]short:[/red] {escape(sh['workload'])} in {sh['year']} by "
            f"{sh['short_fraction']:.1%} of demand ({sh['short_units']:,.4g} units/s)"
            + (f": {escape(sh['why'])}" if sh.get("why") else "")
        )
    for v in data["violations"]:
        console.print(
            f"[red]limit cannot hold:[/red] {escape(v['limit'])} by {v['by']:,.4g} {v['unit']}"
        )
    for n in data.get("not_offered", []):
        console.print(
            f"not offered: {escape(n['accelerator'])} at {escape(n['site'])}: {escape(n['reason'])}"
        )


def status_tables(data: dict[str, Any]) -> list[Table]:
    """Jobs by state and pool, and the cluster's pools with their free slots."""
    out = []
    t = Table(title=f"Jobs ({data['ledger']})")
    for col in ("pool", "queued", "running", "succeeded", "failed", "rerouted"):
        t.add_column(col, justify="left" if col == "pool" else "right")
    for pool, counts in sorted(data.get("by_pool", {}).items()):
        t.add_row(
            pool,
            *[
                str(counts.get(s, 0))
                for s in ("queued", "running", "succeeded", "failed", "rerouted")
            ],
        )
    jobs = data.get("jobs", {})
    if jobs:
        t.add_row(
            "all",
            *[
                str(jobs.get(s, 0))
                for s in ("queued", "running", "succeeded", "failed", "rerouted")
            ],
            style="bold",
        )
    out.append(t)
    if data.get("pools"):
        t = Table(title="Cluster pools")
        for col in ("pool", "accelerator", "vendor", "slots", "free", "utilisation", "live nodes"):
            t.add_column(
                col, justify="left" if col in ("pool", "accelerator", "vendor") else "right"
            )
        for name, p in sorted(data["pools"].items()):
            used = 1 - p["free"] / p["slots"] if p["slots"] else 0.0
            t.add_row(
                name,
                str(p["accelerator"]),
                str(p["vendor"]),
                f"{p['slots']:g}",
                f"{p['free']:g}",
                f"{used:.0%}",
                str(p["alive_nodes"]),
            )
        out.append(t)
    if data.get("failed"):
        t = Table(title="Failed jobs")
        for col in ("job", "error", "path"):
            t.add_column(col)
        for f in data["failed"]:
            t.add_row(f["id"], escape(str(f["error"])), " -> ".join(f["path"]))
        out.append(t)
    return out


def assumptions_table(rows: list[dict[str, Any]]) -> Table:
    """The documented defaults a cost took because its input left the term out, with sources."""
    with_pools = any("pools" in r for r in rows)
    t = Table(title="Assumed: owned-cost terms the input left out, at their documented defaults")
    for col in ("term", "default", *(("pools",) if with_pools else ()), "source"):
        t.add_column(col)
    for r in rows:
        shown = f"{r['value']:,.10g}" + (f" {r['unit']}" if r["unit"] else "")
        pools = (", ".join(r.get("pools", ())),) if with_pools else ()
        t.add_row(r["term"], shown, *pools, r["source"])
    return t
