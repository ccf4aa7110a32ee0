"""Plotly figures built from result records: the one place both the self-contained HTML reports
(report/html.py) and the team dashboard (service/dashboard) take their charts from.

Each builder reads a record (or the ledger's counts) and returns a `go.Figure`; none renders or
writes anything. Names in records are the user's own text: plotly sets them as SVG text, never as
HTML, and the pages that embed a figure escape its JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import plotly.graph_objects as go

from polyfleet.results.deal import DealValuation
from polyfleet.results.frontier import FrontierRecord
from polyfleet.results.leverage import LeverageRecord
from polyfleet.results.plan import PlanRecord
from polyfleet.results.procurement import ProcurementRecord

__all__ = [
    "cost_figure",
    "fan_figure",
    "frontier_figure",
    "jobs_by_pool_figure",
    "jobs_by_state_figure",
    "leverage_figure",
    "plan_figures",
    "pools_by_vendor_figure",
    "procurement_figure",
    "sankey_figure",
    "shares_against_caps_figure",
    "shares_figure",
    "utilisation_figure",
]

MAX_BARS = 50


def shares_figure(plan: PlanRecord) -> go.Figure:
    """Each vendor's share of the fleet by count, power and spend, stacked."""
    fig = go.Figure()
    for vendor, s in (plan.vendor_shares or {}).items():
        fig.add_bar(name=vendor, x=["count", "power", "spend"], y=[s.count, s.power, s.spend])
    fig.update_layout(barmode="stack", yaxis_tickformat=".0%", title="Vendor shares")
    return fig


def cost_figure(plan: PlanRecord) -> go.Figure:
    """Cost per hour of each workload, the costliest first (the first 50)."""
    wl = sorted(plan.workloads or [], key=lambda w: -w.cost_per_hour)[:MAX_BARS]
    fig = go.Figure(go.Bar(x=[w.name for w in wl], y=[w.cost_per_hour for w in wl]))
    fig.update_layout(title="Cost by workload (USD per hour)", yaxis_title="$/h")
    return fig


def utilisation_figure(plan: PlanRecord) -> go.Figure:
    """Each pool's accelerators in use against its capacity."""
    pools = plan.pools or []
    fig = go.Figure(
        go.Bar(
            x=[p.pool for p in pools],
            y=[p.utilisation for p in pools],
            text=[f"{p.used:,.0f} / {p.capacity:,.0f}" for p in pools],
        )
    )
    fig.update_layout(title="Pool utilisation", yaxis_tickformat=".0%", yaxis_range=[0, 1.05])
    return fig


def plan_figures(plan: PlanRecord) -> list[tuple[str, go.Figure]]:
    """The report page's charts of an optimal plan, by key."""
    return [
        ("shares", shares_figure(plan)),
        ("cost", cost_figure(plan)),
        ("pools", utilisation_figure(plan)),
    ]


def sankey_figure(plan: PlanRecord) -> go.Figure:
    """Accelerators flowing from workloads to pools (the placement)."""
    workloads = [w.name for w in plan.workloads or ()]
    pools = [p.pool for p in plan.pools or ()]
    index = {name: i for i, name in enumerate(workloads)}
    offset = len(workloads)
    pool_index = {name: offset + i for i, name in enumerate(pools)}
    links = [a for a in plan.assignments or () if a.workload in index and a.pool in pool_index]
    fig = go.Figure(
        go.Sankey(
            node={"label": workloads + pools, "pad": 12, "thickness": 14},
            link={
                "source": [index[a.workload] for a in links],
                "target": [pool_index[a.pool] for a in links],
                "value": [a.accelerators for a in links],
            },
            valueformat=",.0f",
            valuesuffix=" accelerators",
        )
    )
    fig.update_layout(title="Workloads → pools (accelerators)")
    return fig


def pools_by_vendor_figure(plan: PlanRecord) -> go.Figure:
    """Each pool's MW at full capacity and in use, grouped by vendor."""
    fig = go.Figure()
    by_vendor: dict[str, list[tuple[str, float, float]]] = {}
    for p in plan.pools or ():
        by_vendor.setdefault(p.vendor, []).append(
            (p.pool, p.capacity * p.mw_per_gpu, p.used * p.mw_per_gpu)
        )
    for vendor, rows in by_vendor.items():
        fig.add_bar(
            name=f"{vendor} in use",
            x=[r[0] for r in rows],
            y=[r[2] for r in rows],
            legendgroup=vendor,
        )
        fig.add_bar(
            name=f"{vendor} idle",
            x=[r[0] for r in rows],
            y=[r[1] - r[2] for r in rows],
            legendgroup=vendor,
            opacity=0.35,
        )
    fig.update_layout(barmode="stack", title="Pools by vendor (MW)", yaxis_title="MW")
    return fig


def shares_against_caps_figure(
    plan: PlanRecord,
    measure: str,
    caps: Mapping[str, float],
    floors: Mapping[str, float],
) -> go.Figure:
    """Each vendor's share by the scenario's `measure`, with its cap and floor marked."""
    shares = plan.vendor_shares or {}
    vendors = list(shares)
    fig = go.Figure(
        go.Bar(
            x=vendors,
            y=[getattr(shares[v], measure) for v in vendors],
            name=f"share ({measure})",
        )
    )
    for marks, name, symbol in ((caps, "cap", "line-ew-open"), (floors, "floor", "line-ew")):
        shown = [v for v in vendors if v in marks]
        if shown:
            fig.add_scatter(
                x=shown,
                y=[marks[v] for v in shown],
                mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 40, "line": {"width": 3}},
            )
    fig.update_layout(
        title=f"Vendor shares by {measure} against their limits",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1.05],
    )
    return fig


def fan_figure(deal: DealValuation) -> go.Figure:
    """Quantiles of the simulated share price over time, with the tranche hurdles and the dates
    deployment reaches each milestone."""
    w = deal.warrant
    assert w is not None
    assert w.fan is not None
    t0 = dt.date.fromisoformat(deal.valuation_date)
    dates = [t0 + dt.timedelta(days=y * 365.25) for y in w.fan.years]
    q = w.fan.price  # rows: 5, 25, 50, 75, 95 %
    fig = go.Figure()
    for lo, hi, name, alpha in ((0, 4, "5-95 %", 0.15), (1, 3, "25-75 %", 0.3)):
        fig.add_scatter(x=dates, y=q[hi], mode="lines", line={"width": 0}, showlegend=False)
        fig.add_scatter(
            x=dates,
            y=q[lo],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=f"rgba(31,119,180,{alpha})",
            name=name,
        )
    fig.add_scatter(x=dates, y=q[2], mode="lines", name="median", line={"color": "#1f77b4"})
    for i, tr in enumerate(w.tranches, start=1):
        if tr.price_hurdle:
            fig.add_hline(
                y=tr.price_hurdle,
                line={"dash": "dot", "color": "#a60"},
                annotation_text=f"tranche {i} hurdle ${tr.price_hurdle:,.0f}",
            )
        if tr.milestone_date:
            fig.add_vline(x=tr.milestone_date, line={"dash": "dash", "color": "#888"})
    fig.update_layout(
        title=f"{deal.deal}: simulated share price (GBM, {w.paths:,} paths), hurdles and "
        "deployment milestones",
        yaxis_title="USD per share",
    )
    return fig


def frontier_figure(data: FrontierRecord) -> go.Figure:
    """Least cost against the largest vendor's maximum share, with the knee."""
    pts = [p for p in data.points if p.cost_per_hour is not None]
    fig = go.Figure()
    fig.add_scatter(
        x=[p.max_share for p in pts],
        y=[p.cost_per_hour for p in pts],
        mode="lines+markers",
        name="least cost",
    )
    if data.knee:
        fig.add_scatter(
            x=[data.knee.max_share],
            y=[data.knee.cost_per_hour],
            mode="markers+text",
            marker={"size": 14, "symbol": "star", "color": "#d62728"},
            text=["knee"],
            textposition="top center",
            name="knee",
        )
    fig.update_layout(
        title=f"Least cost vs. maximum {data.measure} share of {data.vendor}",
        xaxis_title=f"maximum share of {data.vendor}",
        xaxis_tickformat=".0%",
        xaxis_autorange="reversed",
        yaxis_title="USD per hour",
    )
    return fig


def leverage_figure(data: LeverageRecord) -> go.Figure:
    """Per vendor, the price multiplier at which work starts to move away and the one at which
    it all goes (a missing bar: no such price within the search)."""
    vendors = [v.vendor for v in data.vendors]
    fig = go.Figure()
    fig.add_bar(
        name="work starts to move",
        x=vendors,
        y=[v.switch_multiplier for v in data.vendors],
    )
    fig.add_bar(name="all work leaves", x=vendors, y=[v.drop_multiplier for v in data.vendors])
    fig.update_layout(
        barmode="group", title="Price multiplier each vendor can charge", yaxis_title="× price"
    )
    return fig


def procurement_figure(data: ProcurementRecord) -> go.Figure:
    """Capex by year, stacked by vendor, and the GW installed each year (right axis)."""
    fig = go.Figure()
    vendors = sorted({p.vendor for p in data.schedule})
    for vendor in vendors:
        fig.add_bar(
            name=f"{vendor} capex",
            x=data.years,
            y=[
                sum(p.capex for p in data.schedule if p.vendor == vendor and p.year == y)
                for y in data.years
            ],
        )
    for vendor, gw in data.gw_by_vendor.items():
        fig.add_scatter(
            name=f"{vendor} GW",
            x=data.years,
            y=gw,
            mode="lines+markers",
            yaxis="y2",
        )
    total = [sum(gw[i] for gw in data.gw_by_vendor.values()) for i in range(len(data.years))]
    fig.add_scatter(
        name="total GW", x=data.years, y=total, mode="lines+markers", yaxis="y2", line={"width": 3}
    )
    fig.update_layout(
        barmode="stack",
        title="Purchases by year and vendor (capex, USD) and GW installed",
        xaxis={"type": "category"},
        yaxis_title="USD",
        yaxis2={"title": "GW", "overlaying": "y", "side": "right", "rangemode": "tozero"},
    )
    return fig


def jobs_by_state_figure(counts: Mapping[str, int]) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(counts), y=list(counts.values())))
    fig.update_layout(title="Jobs by state", yaxis_title="jobs")
    return fig


def jobs_by_pool_figure(by_pool: Mapping[str, Mapping[str, int]]) -> go.Figure:
    pools = list(by_pool)
    states = sorted({s for counts in by_pool.values() for s in counts})
    fig = go.Figure()
    for state in states:
        fig.add_bar(name=state, x=pools, y=[by_pool[p].get(state, 0) for p in pools])
    fig.update_layout(barmode="stack", title="Jobs by pool and state", yaxis_title="jobs")
    return fig
