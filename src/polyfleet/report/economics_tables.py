"""Rich tables for the economics records: an owned accelerator-hour (tco), a valued deal, a
procurement schedule, and the documented defaults a cost assumed."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.results.build import BuildVsBuyRecord
from polyfleet.results.common import Assumption, CostBreakdown
from polyfleet.results.deal import DealRecord, DealValuation, SensitivityPoint
from polyfleet.results.procurement import ProcurementRecord
from polyfleet.results.tco import TcoRecord

__all__ = [
    "assumptions_table",
    "deal_table",
    "print_build_vs_buy",
    "print_deal",
    "print_lock_in",
    "print_procurement",
    "print_tco",
    "sensitivity_table",
    "tco_table",
]


def _num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def tco_table(cost: CostBreakdown, title: str) -> Table:
    """A cost breakdown per accelerator-hour and per year; assumed defaults are marked *."""
    t = Table(title=title)
    for col in ("component", "capital $/GPU", "$/GPU-hour", "$/GPU-year", "share"):
        t.add_column(col, justify="left" if col == "component" else "right")
    gross = cost.gross_per_gpu_hour
    assumed = {a.removesuffix("_per_gpu").removesuffix("_per_mw") for a in cost.assumed_defaults}
    for name, per_hour in cost.per_gpu_hour.items():
        t.add_row(
            name + ("*" if name in assumed else ""),
            _num(cost.capital_per_gpu.get(name)),
            f"{per_hour:,.3f}",
            _num(per_hour * 8760),
            f"{per_hour / gross:.0%}" if gross else "-",
        )
    t.add_row("gross", "", f"{gross:,.3f}", _num(gross * 8760), "100%", style="bold")
    if cost.deal:
        credit = cost.deal_credit_per_gpu_hour
        t.add_row(f"deal credit ({cost.deal})", "", f"-{credit:,.3f}", _num(-credit * 8760), "")
        net = cost.net_per_gpu_hour
        t.add_row("net", "", f"{net:,.3f}", _num(net * 8760), "", style="bold")
    t.caption = (
        f"{cost.it_kw_per_gpu:.2f} kW IT, {cost.facility_kw_per_gpu:.2f} kW at the meter per "
        f"GPU; {cost.gpus_per_gw:,.0f} GPUs per GW"
        + ("; * = documented default (assumption)" if assumed & set(cost.per_gpu_hour) else "")
    )
    return t


def print_tco(record: TcoRecord, console: Console) -> None:
    """The owned cost table, the GPU price and financing it used, and what it assumed."""
    console.print(tco_table(record, f"Owned cost of one {record.accelerator_name} hour"))
    note = ""
    if record.gpu_price_source != "--capex":
        note = " (catalog purchase price" + (
            ", unconfirmed)" if record.gpu_price_unconfirmed else ")"
        )
    console.print(
        f"GPU price ${record.capital_per_gpu['gpu']:,.0f}{note}; "
        f"{record.amortize_years:g} years at {record.cost_of_capital:.1%}"
    )
    if record.catalog_rent_per_gpu_hour:
        console.print(f"catalog rental price: ${record.catalog_rent_per_gpu_hour:.2f} per GPU-hour")
    if record.assumptions:
        console.print(assumptions_table(record.assumptions))


def deal_table(deal: DealValuation) -> Table:
    """A deal's warrant, tranche by tranche, and what it is worth per GPU."""
    w = deal.warrant
    t = Table(title=f"Deal {deal.deal} ({deal.vendor}, {deal.accelerator})")
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
        for i, tr in enumerate(w.tranches, start=1):
            t.add_row(
                str(i),
                _num(tr.shares),
                f"{tr.vests_at_gw:g}",
                (tr.milestone_date or "never") + ("" if tr.milestone_met else " (late)"),
                _num(tr.price_hurdle, ",.0f") if tr.price_hurdle else "-",
                f"{tr.hurdle_probability:.1%}",
                f"{tr.value / 1e9:,.2f}",
            )
        lo, hi = w.ci95
        value_line = (
            f"warrant ${w.value / 1e9:,.2f}B (95% CI {lo / 1e9:,.2f}-{hi / 1e9:,.2f}; "
            f"{w.paths:,} paths, {w.monitoring_steps} monitoring dates)"
        )
    else:
        value_line = "no warrant"
    t.caption = (
        f"{value_line}; {deal.deployed_gw:g} GW = {deal.gpus_delivered:,.0f} GPUs; "
        f"price ${deal.price_per_gpu:,.0f}/GPU - warrant ${deal.warrant_per_gpu:,.0f}/GPU = "
        f"net ${deal.net_price_per_gpu:,.0f}/GPU; ${deal.gross_per_gpu_hour:.2f} -> "
        f"${deal.net_per_gpu_hour:.2f} per GPU-hour"
    )
    return t


def sensitivity_table(grid: list[SensitivityPoint]) -> Table:
    """Warrant value ($B) on a volatility x spot grid (common random numbers)."""
    vols = sorted({g.volatility for g in grid})
    spots = sorted({g.spot for g in grid})
    t = Table(title="Warrant value, $B, by volatility (rows) and spot (columns)")
    t.add_column("volatility")
    for spot in spots:
        t.add_column(f"spot ${spot:,.0f}", justify="right")
    value = {(g.volatility, g.spot): g.value for g in grid}
    for vol in vols:
        t.add_row(f"{vol:.0%}", *[f"{value[vol, spot] / 1e9:,.2f}" for spot in spots])
    return t


def print_deal(record: DealRecord, console: Console) -> None:
    """The warrant table, its sensitivity grid, the cost under the deal and its assumptions."""
    console.print(deal_table(record))
    if record.warrant is not None and record.warrant.sensitivity:
        console.print(sensitivity_table(record.warrant.sensitivity))
    console.print(tco_table(record.cost, f"Cost of one {record.accelerator} hour under the deal"))
    if record.assumptions:
        console.print("assumptions (not public terms): " + escape("; ".join(record.assumptions)))


def print_procurement(data: ProcurementRecord, console: Console) -> None:
    """The buying schedule, cost and GW by year, tranches, and what each binding limit costs."""
    objective = f"${data.objective / 1e9:,.2f}B" if data.objective is not None else "-"
    gap = f"{data.mip_gap:.2%}" if data.mip_gap is not None else "-"
    console.print(
        f"[bold]polyfleet procure[/bold] {escape(data.name)} — status {data.status} "
        f"(MIP gap {gap}, {data.seconds:.2f} s); discounted cost {objective} net of warrant "
        "tranches"
    )
    t = Table(title="What to buy (GPUs; nodes, or racks, in brackets)")
    t.add_column("accelerator")
    for y in data.years:
        t.add_column(str(y), justify="right")
    rows: dict[str, dict[int, str]] = {}
    for s in data.schedule:
        label = s.accelerator + (f" @ {s.site}" if s.site else "")
        label += f" ({s.deal})" if s.deal else ""
        racks = " racks" if s.unit == "rack" else ""
        if s.unit == "gpu":
            label += " (rented)"
        cell = f"{s.gpus:,}" if s.unit == "gpu" else f"{s.gpus:,} ({s.nodes:,}{racks})"
        rows.setdefault(label, {})[s.year] = cell
    for label, by_year in rows.items():
        t.add_row(label, *[by_year.get(y, "-") for y in data.years])
    console.print(t)
    for b in data.builds or []:
        console.print(
            f"in-house {escape(b.build)}: NRE ${b.nre / 1e6:,.0f}M "
            + ("paid" if b.paid else "not paid (buying and renting is cheaper)")
        )
    t = Table(title="Cost and power by year")
    for col in ("year", "capex $B", "opex $B", "total $B", *[f"GW {v}" for v in data.gw_by_vendor]):
        t.add_column(col, justify="right")
    for i, c in enumerate(data.cost_by_year):
        t.add_row(
            str(c.year),
            f"{c.capex / 1e9:,.2f}",
            f"{c.opex / 1e9:,.2f}",
            f"{c.total / 1e9:,.2f}",
            *[f"{gw[i]:,.2f}" for gw in data.gw_by_vendor.values()],
        )
    console.print(t)
    if data.tranches:
        t = Table(title="Warrant tranches (value with the milestone met)")
        for col in ("deal", "tranche", "vests at GW", "value $B", "vested"):
            t.add_column(col, justify="left" if col == "deal" else "right")
        for tr in data.tranches:
            t.add_row(
                tr.deal,
                str(tr.tranche),
                f"{tr.vests_at_gw:g}",
                f"{tr.value / 1e9:,.2f}",
                "yes" if tr.vested else "no",
            )
        console.print(t)
    if data.binding_limits:
        t = Table(title="Binding limits: discounted saving if each were lifted")
        for col in ("limit", "saving $B"):
            t.add_column(col, justify="left" if col == "limit" else "right")
        for b in data.binding_limits:
            t.add_row(b.limit, f"{b.saving_if_lifted / 1e9:,.3f}")
        console.print(t)
    for sh in data.shortfalls:
        console.print(
            f"[red]short:[/red] {escape(sh.workload)} in {sh.year} by "
            f"{sh.short_fraction:.1%} of demand ({sh.short_units:,.4g} units/s)"
            + (f": {escape(sh.why)}" if sh.why else "")
        )
    for v in data.violations:
        console.print(f"[red]limit cannot hold:[/red] {escape(v.limit)} by {v.by:,.4g} {v.unit}")
    for n in data.not_offered or ():
        console.print(
            f"not offered: {escape(n.accelerator)} at {escape(n.site)}: {escape(n.reason)}"
        )
    if data.lock_in is not None:
        print_lock_in(data, console)


def print_lock_in(data: ProcurementRecord, console: Console) -> None:
    """Each vendor's lock-in premium: buying from it only, against buying from all."""
    lock = data.lock_in
    assert lock is not None
    if lock.base_objective is None:
        console.print(
            f"lock-in premium: none, the file has no plan even with every vendor "
            f"({lock.base_status})"
        )
        return
    t = Table(title="Lock-in premium: buying from one vendor only, without share limits ($B)")
    for col in ("vendor", *[str(y) for y in data.years], "NPV"):
        t.add_column(col, justify="left" if col == "vendor" else "right")
    notes = []
    for v in lock.vendors:
        if v.premium is None or v.premium_by_year is None:
            t.add_row(v.vendor, *["-"] * len(data.years), "infeasible")
            notes += [f"{v.vendor} alone: {w}" for w in v.why]
            continue
        t.add_row(
            v.vendor, *[f"{p / 1e9:,.2f}" for p in v.premium_by_year], f"{v.premium / 1e9:,.2f}"
        )
    t.caption = escape(
        "\n".join([*notes, f"least cost with every vendor: ${lock.base_objective / 1e9:,.2f}B"])
    )
    console.print(t)


def assumptions_table(rows: list[Assumption]) -> Table:
    """The documented defaults a cost took because its input left the term out, with sources."""
    with_pools = any(r.pools is not None for r in rows)
    t = Table(title="Assumed: owned-cost terms the input left out, at their documented defaults")
    for col in ("term", "default", *(("pools",) if with_pools else ()), "source"):
        t.add_column(col)
    for r in rows:
        shown = f"{r.value:,.10g}" + (f" {r.unit}" if r.unit else "")
        pools = (", ".join(r.pools or ()),) if with_pools else ()
        t.add_row(r.term, shown, *pools, r.source)
    return t


def print_build_vs_buy(data: BuildVsBuyRecord, console: Console) -> None:
    """The unit economics, the break-even volume, cost by year of each path and the NPVs."""
    basis = "rented" if data.instead_basis == "rented" else "bought"
    console.print(
        f"[bold]polyfleet build-vs-buy[/bold] {escape(data.name)}: {escape(data.accelerator)} "
        f"({escape(data.vendor)}, {data.work} work at the pace of {data.instead_per_build:.2f} "
        f"x {escape(data.instead)} {basis}); NRE ${data.nre / 1e6:,.0f}M, ships "
        f"{data.first_ship_year} ({data.slip_probability:.0%} chance of a year late)"
    )
    console.print(
        f"a build unit-year costs ${data.build_cost_per_unit_year:,.0f}; its work bought costs "
        f"${data.bought_cost_per_build_unit_year:,.0f}: saves "
        f"${data.saving_per_unit_year:,.0f} a unit-year"
    )
    if data.break_even_unit_years is not None and data.break_even_units is not None:
        console.print(
            f"break-even: {data.break_even_unit_years:,.0f} unit-years "
            f"({data.break_even_units:,.0f} units over their service life)"
        )
    else:
        console.print(f"break-even: never ({escape(data.break_even_reason or '')})")
    t = Table(title="Cost by year ($M)")
    for col in ("year", "units", "buy", "build on time", "build a year late", "build expected"):
        t.add_column(col, justify="right")
    for c in data.cost_by_year:
        t.add_row(
            str(c.year),
            f"{c.units:,}",
            *[
                f"{v / 1e6:,.1f}"
                for v in (c.buy, c.build_on_time, c.build_slipped, c.build_expected)
            ],
        )
    npv = data.npv
    t.add_row(
        f"NPV @{data.discount_rate:.0%}",
        "",
        *[
            f"{v / 1e6:,.1f}"
            for v in (npv.buy, npv.build_on_time, npv.build_slipped, npv.build_expected)
        ],
        style="bold",
    )
    console.print(t)
    word = "saves" if data.expected_saving > 0 else "costs"
    console.print(
        f"expected value of building: {word} ${abs(data.expected_saving) / 1e6:,.1f}M "
        f"against buying (NPV, slip risk weighed) -> {data.decision}"
    )
    if data.assumptions:
        console.print(assumptions_table(data.assumptions))
