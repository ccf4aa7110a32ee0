"""A self-contained HTML report: plotly's JavaScript is inlined, so it opens without network."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go


def _figures(plan: dict[str, Any]) -> list[tuple[str, go.Figure]]:
    shares = plan["vendor_shares"]
    fig_s = go.Figure()
    for vendor, s in shares.items():
        fig_s.add_bar(
            name=vendor, x=["count", "power", "spend"], y=[s["count"], s["power"], s["spend"]]
        )
    fig_s.update_layout(barmode="stack", yaxis_tickformat=".0%", title="Vendor shares")
    wl = sorted(plan["workloads"], key=lambda w: -w["cost_per_hour"])[:50]
    fig_c = go.Figure(go.Bar(x=[w["name"] for w in wl], y=[w["cost_per_hour"] for w in wl]))
    fig_c.update_layout(title="Cost by workload (USD per hour)", yaxis_title="$/h")
    pools = plan["pools"]
    fig_u = go.Figure(
        go.Bar(
            x=[p["pool"] for p in pools],
            y=[p["utilisation"] for p in pools],
            text=[f"{p['used']:,.0f} / {p['capacity']:,.0f}" for p in pools],
        )
    )
    fig_u.update_layout(title="Pool utilisation", yaxis_tickformat=".0%", yaxis_range=[0, 1.05])
    return [("shares", fig_s), ("cost", fig_c), ("pools", fig_u)]


def render_html(plan: dict[str, Any]) -> str:
    """The report page for a plan dict (`Plan.to_dict()`)."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>polyfleet plan: {esc(plan['scenario'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:right}td:first-child{text-align:left}.est{color:#a60}</style></head><body>",
        f"<h1>Plan: {esc(plan['scenario'])}</h1>",
        f"<p>Objective <b>{esc(plan['objective'])}</b>, status <b id='status'>"
        f"{esc(plan['status'])}</b>.</p>",
    ]
    if plan["status"] != "optimal":
        parts.append("<pre id='diagnosis'>" + esc(repr(plan.get("diagnosis"))) + "</pre>")
        parts.append("</body></html>")
        return "".join(parts)
    parts.append(
        f"<p id='summary'>Cost <b>${plan['cost_per_hour']:,.0f}</b> per hour "
        f"(${plan['cost_per_year'] / 1e9:,.2f}B per year), power <b>{plan['power_mw']:,.1f} MW</b>, "
        f"optimality gap {plan['optimality_gap']:.1e}.</p>"
    )
    for i, (key, fig) in enumerate(_figures(plan)):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"chart-{key}"))
    parts.append(
        "<h2>Assignments</h2><p class='est'>Throughputs marked * are roofline estimates "
        "(calibrated ones scaled by the probe profile named), not measurements.</p>"
        "<table><tr><th>workload</th><th>pool</th><th>accelerator</th><th>accelerators</th>"
        "<th>served units/s</th><th>origin</th><th>source</th></tr>"
    )
    for a in plan["assignments"][:500]:
        star = "" if a["origin"] == "measured" else "*"
        parts.append(
            f"<tr><td>{esc(a['workload'])}</td><td>{esc(a['pool'])}</td>"
            f"<td>{esc(a['accelerator'])}</td><td>{a['accelerators']:,.0f}</td>"
            f"<td>{a['served']:,.4g}</td><td>{esc(a['origin'])}{star}</td>"
            f"<td>{esc(a.get('source') or '')}</td></tr>"
        )
    parts.append(
        "</table><h2>Binding constraints</h2><table><tr><th>constraint</th>"
        "<th>saving $/h per unit</th><th>unit</th></tr>"
    )
    for b in plan["binding"]:
        parts.append(
            f"<tr><td>{esc(b['constraint'])}</td><td>{b['saving_per_hour']:,.2f}</td>"
            f"<td>{esc(b['unit'])}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)
