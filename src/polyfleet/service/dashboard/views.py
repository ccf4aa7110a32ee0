"""What each dashboard page shows, built from result records: figures (from report/figures.py, as
plotly JSON the page's script draws) and the rows of its tables. No HTML here: the templates
render it, escaping every text."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

from polyfleet.report import figures
from polyfleet.results.base import Record
from polyfleet.results.deal import DealRecord
from polyfleet.results.frontier import FrontierRecord
from polyfleet.results.leverage import LeverageRecord
from polyfleet.results.plan import PlanRecord
from polyfleet.results.procurement import ProcurementRecord

__all__ = [
    "FILTERS",
    "Chart",
    "RecordView",
    "Stat",
    "overview_view",
    "record_view",
    "scenario_limits",
]


@dataclass(frozen=True)
class Chart:
    """A figure for the page: its element id and its plotly JSON."""

    id: str
    figure: dict[str, Any]

    @classmethod
    def of(cls, key: str, fig: go.Figure) -> Chart:
        return cls(f"chart-{key}", json.loads(fig.to_json()))


@dataclass(frozen=True)
class Stat:
    """A headline figure: `value` as the record has it (the page keeps it in a data attribute,
    so what it shows can be checked against the API's JSON), `shown` formatted."""

    key: str
    label: str
    value: float | str | None
    shown: str


@dataclass
class RecordView:
    """A result page: headline figures, charts, then tables."""

    template: str
    record: Any
    stats: list[Stat] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def money(value: float | None, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"${value:,.{digits}f}"


def number(value: float | None, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value * 100:.{digits}f} %"


def signed(value: float | None, digits: int = 0) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+,.{digits}f}"


FILTERS = {"money": money, "number": number, "percent": percent, "signed": signed}


def scenario_limits(data: Any) -> tuple[str, dict[str, float], dict[str, float]]:
    """(measure, caps, floors) of a scenario's vendor shares, read from its parsed document."""
    share = {}
    if isinstance(data, dict) and isinstance(data.get("limits"), dict):
        share = data["limits"].get("vendor_share") or {}
    if not isinstance(share, dict):
        share = {}

    def numbers(key: str) -> dict[str, float]:
        raw = share.get(key)
        if not isinstance(raw, dict):
            return {}
        return {
            str(k): float(v)
            for k, v in raw.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }

    measure = (
        share.get("measure") if share.get("measure") in ("count", "power", "spend") else "count"
    )
    return str(measure), numbers("max"), numbers("min")


def plan_view(plan: PlanRecord) -> RecordView:
    view = RecordView("run_plan.html", plan)
    view.stats = [
        Stat("status", "status", plan.status, plan.status),
        Stat("cost_per_hour", "cost per hour", plan.cost_per_hour, money(plan.cost_per_hour)),
        Stat(
            "cost_per_year",
            "cost per year",
            plan.cost_per_year,
            money(plan.cost_per_year / 1e9, 2) + "B" if plan.cost_per_year is not None else "–",
        ),
        Stat("power_mw", "power", plan.power_mw, number(plan.power_mw, 1) + " MW"),
    ]
    if plan.optimality_gap is not None:
        view.stats.append(
            Stat(
                "optimality_gap",
                "optimality gap",
                plan.optimality_gap,
                f"{plan.optimality_gap:.1e}",
            )
        )
    if plan.status == "optimal":
        view.charts = [
            Chart.of("sankey", figures.sankey_figure(plan)),
            *(Chart.of(key, fig) for key, fig in figures.plan_figures(plan)),
        ]
    return view


def leverage_view(data: LeverageRecord) -> RecordView:
    view = RecordView("run_leverage.html", data)
    view.stats = [
        Stat("cost_per_hour", "cost per hour", data.cost_per_hour, money(data.cost_per_hour)),
        Stat(
            "share_limits_cost_per_hour",
            "share limits cost per hour",
            data.share_limits_cost_per_hour,
            money(data.share_limits_cost_per_hour),
        ),
    ]
    view.charts = [Chart.of("leverage", figures.leverage_figure(data))]
    return view


def frontier_view(data: FrontierRecord) -> RecordView:
    view = RecordView("run_frontier.html", data)
    knee = data.knee
    view.stats = [
        Stat("vendor", "largest vendor", data.vendor, data.vendor),
        Stat(
            "lowest_feasible_share",
            "lowest feasible share",
            data.lowest_feasible_share,
            percent(data.lowest_feasible_share),
        ),
        Stat(
            "knee_max_share",
            "knee at share",
            None if knee is None else knee.max_share,
            "–" if knee is None else percent(knee.max_share),
        ),
        Stat(
            "knee_cost_per_hour",
            "knee cost per hour",
            None if knee is None else knee.cost_per_hour,
            "–" if knee is None else money(knee.cost_per_hour),
        ),
    ]
    view.charts = [Chart.of("frontier", figures.frontier_figure(data))]
    return view


def procurement_view(data: ProcurementRecord) -> RecordView:
    view = RecordView("run_procure.html", data)
    total = sum(c.discounted for c in data.cost_by_year)
    view.stats = [
        Stat("status", "status", data.status, data.status),
        Stat("objective", "objective (discounted)", data.objective, money(data.objective)),
        Stat("discounted", "discounted cost", total, money(total)),
    ]
    view.charts = [Chart.of("procurement", figures.procurement_figure(data))]
    return view


def deal_view(data: DealRecord) -> RecordView:
    view = RecordView("run_deal.html", data)
    view.stats = [
        Stat(
            "warrant_value",
            "warrant value",
            data.warrant_value,
            money(data.warrant_value / 1e9, 2) + "B",
        ),
        Stat(
            "net_price_per_gpu",
            "net price per GPU",
            data.net_price_per_gpu,
            money(data.net_price_per_gpu),
        ),
        Stat(
            "net_per_gpu_hour",
            "net per GPU-hour",
            data.net_per_gpu_hour,
            money(data.net_per_gpu_hour, 2),
        ),
    ]
    if data.warrant is not None and data.warrant.fan is not None:
        view.charts = [Chart.of("fan", figures.fan_figure(data))]
    return view


def record_view(record: Record) -> RecordView:
    """The page of a run's record."""
    if isinstance(record, PlanRecord):
        return plan_view(record)
    if isinstance(record, LeverageRecord):
        return leverage_view(record)
    if isinstance(record, FrontierRecord):
        return frontier_view(record)
    if isinstance(record, ProcurementRecord):
        return procurement_view(record)
    if isinstance(record, DealRecord):
        return deal_view(record)
    raise TypeError(f"no page for {type(record).__name__}")


def overview_view(plan: PlanRecord, scenario: Any) -> list[Chart]:
    """The fleet overview of a plan: pools by vendor (MW), shares against their caps."""
    measure, caps, floors = scenario_limits(scenario)
    return [
        Chart.of("pools-by-vendor", figures.pools_by_vendor_figure(plan)),
        Chart.of("shares-vs-caps", figures.shares_against_caps_figure(plan, measure, caps, floors)),
    ]
