"""Self-contained HTML pages rendered from the plan, deal and frontier records: plotly's
JavaScript is inlined, so a page opens without network. The charts come from report/figures.py,
which the team dashboard uses too."""

from __future__ import annotations

import html

from polyfleet.report.figures import fan_figure, frontier_figure, plan_figures
from polyfleet.results.deal import DealValuation
from polyfleet.results.frontier import FrontierRecord
from polyfleet.results.plan import Assignment, PlanRecord, PowerCap

_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:right}td:first-child{text-align:left}.est{color:#a60}</style>"
)


def _deal_section(deal: DealValuation, index: int, include_js: bool) -> str:
    esc = html.escape
    parts = [f"<h2>Deal {esc(deal.deal)}</h2>"]
    parts.append(
        f"<p class='deal'>{deal.deployed_gw:g} GW of {esc(deal.accelerator)} = "
        f"{deal.gpus_delivered:,.0f} GPUs. Price ${deal.price_per_gpu:,.0f} per GPU; warrant "
        f"${deal.warrant_value / 1e9:,.2f}B = ${deal.warrant_per_gpu:,.0f} per GPU; net "
        f"${deal.net_price_per_gpu:,.0f} per GPU, ${deal.gross_per_gpu_hour:.2f} gross and "
        f"${deal.net_per_gpu_hour:.2f} net per GPU-hour.</p>"
    )
    if deal.assumptions:
        parts.append(
            "<p class='est'>Assumptions (not public terms): "
            + esc("; ".join(deal.assumptions))
            + "</p>"
        )
    w = deal.warrant
    if w is not None and w.fan is not None:
        parts.append(
            fan_figure(deal).to_html(
                full_html=False, include_plotlyjs=include_js, div_id=f"fan-{index}"
            )
        )
    return "".join(parts)


def render_deal_html(deal: DealValuation) -> str:
    """A page for one valued deal (a deal record)."""
    esc = html.escape
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>polyfleet deal: {esc(deal.deal)}</title>{_STYLE}</head><body>"
        + _deal_section(deal, 0, True)
        + "</body></html>"
    )


def _source(a: Assignment) -> str:
    """An assignment's source, with the ids of the published results behind a stack factor."""
    return (a.source or "") + (": " + ", ".join(a.results) if a.results else "")


def render_html(plan: PlanRecord) -> str:
    """The report page for a plan record, with its share frontier if it has one."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>polyfleet plan: {esc(plan.scenario)}</title>",
        _STYLE + "</head><body>",
        f"<h1>Plan: {esc(plan.scenario)}</h1>",
        f"<p>Objective <b>{esc(plan.objective)}</b>"
        + (f" (fairness <b>{esc(plan.fairness)}</b>)" if plan.fairness else "")
        + f", status <b id='status'>{esc(plan.status)}</b>.</p>",
    ]
    if plan.status != "optimal":
        diagnosis = plan.diagnosis.model_dump() if plan.diagnosis is not None else None
        parts.append("<pre id='diagnosis'>" + esc(repr(diagnosis)) + "</pre>")
        parts.append("</body></html>")
        return "".join(parts)
    assert plan.cost_per_hour is not None
    assert plan.cost_per_year is not None
    assert plan.power_mw is not None
    assert plan.optimality_gap is not None
    parts.append(
        f"<p id='summary'>Cost <b>${plan.cost_per_hour:,.0f}</b> per hour "
        f"(${plan.cost_per_year / 1e9:,.2f}B per year), power <b>{plan.power_mw:,.1f} MW</b>, "
        f"optimality gap {plan.optimality_gap:.1e}.</p>"
    )
    parts.append(_served(plan))
    for i, (key, fig) in enumerate(plan_figures(plan)):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"chart-{key}"))
    parts.append(
        "<h2>Assignments</h2><p class='est'>Throughputs marked * are roofline estimates "
        "(calibrated ones scaled by the probe profile, or the published results, named), "
        "not measurements.</p>"
        "<table><tr><th>workload</th><th>pool</th><th>accelerator</th><th>accelerators</th>"
        "<th>served units/s</th><th>origin</th><th>source</th></tr>"
    )
    for a in (plan.assignments or [])[:500]:
        star = "" if a.origin == "measured" else "*"
        parts.append(
            f"<tr><td>{esc(a.workload)}</td><td>{esc(a.pool)}</td>"
            f"<td>{esc(a.accelerator)}</td><td>{a.accelerators:,.0f}</td>"
            f"<td>{a.served:,.4g}</td><td>{esc(a.origin)}{star}</td>"
            f"<td>{esc(_source(a))}</td></tr>"
        )
    parts.append(
        "</table><h2>Binding constraints</h2><table><tr><th>constraint</th>"
        "<th>saving $/h per unit</th><th>unit</th></tr>"
    )
    for b in plan.binding or []:
        parts.append(
            f"<tr><td>{esc(b.constraint)}</td><td>{b.saving_per_hour:,.2f}</td>"
            f"<td>{esc(b.unit)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(_power_caps(plan.power.caps if plan.power is not None else []))
    for i, deal in enumerate(plan.deals or []):
        parts.append(_deal_section(deal, i, include_js=False))
    if plan.frontier is not None:
        parts.append("<h2>Share frontier</h2>")
        parts.append(
            frontier_figure(plan.frontier).to_html(
                full_html=False, include_plotlyjs=False, div_id="frontier"
            )
        )
    parts.append("</body></html>")
    return "".join(parts)


def _served(plan: PlanRecord) -> str:
    """A served objective: what it reached, its proved bound, each objective's gap, each
    workload's served fraction (and water-filling level) and the levels; min_cost: nothing."""
    if plan.objective == "min_cost" or plan.objective_value is None:
        return ""
    esc = html.escape
    pct = plan.objective == "max_min_served"

    def fmt(v: float) -> str:
        return f"{v:.4%}" if pct else f"{v:,.6g}"

    what = "Smallest served fraction" if pct else "Sum of served fractions"
    text = f"{what} <b>{fmt(plan.objective_value)}</b>"
    if plan.objective_bound is not None:
        text += f", proved at most {fmt(plan.objective_bound)}"
    if plan.gaps is not None:
        gaps = [f"served {plan.gaps.served:.1e}"] if plan.gaps.served is not None else []
        text += "; gaps: " + ", ".join([*gaps, f"least cost {plan.gaps.cost:.1e}"])
    parts = [f"<p id='served'>{text}.</p>"]
    levels = bool(plan.levels)
    parts.append(
        "<h2>Served</h2><table id='workloads'><tr><th>workload</th><th>demand</th>"
        "<th>served</th><th>unit</th><th>served %</th>"
        + ("<th>level</th>" if levels else "")
        + "</tr>"
    )
    for w in (plan.workloads or [])[:500]:
        level = (
            "" if not levels else f"<td>{w.level:.2%}</td>" if w.level is not None else "<td>-</td>"
        )
        parts.append(
            f"<tr><td>{esc(w.name)}</td><td>{w.demand:,.4g}</td><td>{w.served:,.4g}</td>"
            f"<td>{esc(w.unit)}</td><td>{w.served_fraction:.2%}</td>{level}</tr>"
        )
    parts.append("</table>")
    if plan.levels:
        parts.append(
            "<h2>Water-filling levels</h2><table id='levels'><tr><th>level</th>"
            "<th>workloads</th><th>gap</th></tr>"
        )
        parts.extend(
            f"<tr><td>{lv.level:.4%}</td><td>{lv.workloads:,}</td><td>{lv.gap:.1e}</td></tr>"
            for lv in plan.levels
        )
        parts.append("</table>")
    return "".join(parts)


def _power_caps(caps: list[PowerCap]) -> str:
    """One row per power cap, named by its key's subject: the fleet's, or a site's."""
    if not caps:
        return ""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(str(c.key.subject or 'fleet'))}</td><td>{c.mw:,.1f}</td>"
        f"<td>{c.cap_mw:,.1f}</td><td>{c.shadow_price_per_mw_hour:,.2f}</td></tr>"
        for c in caps
    )
    return (
        "<h2>Power caps</h2><table id='power-caps'><tr><th>cap</th><th>MW drawn</th>"
        f"<th>cap MW</th><th>saving $/h per extra MW</th></tr>{rows}</table>"
    )


def render_frontier_html(data: FrontierRecord, scenario: str) -> str:
    esc = html.escape
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>polyfleet frontier: {esc(scenario)}</title>{_STYLE}</head><body>"
        f"<h1>Share frontier: {esc(scenario)}</h1>"
        + frontier_figure(data).to_html(full_html=False, include_plotlyjs=True, div_id="frontier")
        + "</body></html>"
    )
