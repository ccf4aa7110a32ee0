"""Tables of the performance model's calibration: the stack factors and the published results
behind them, and the held-out check."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = [
    "holdout_table",
    "print_calibration_record",
    "print_plan_model",
    "stack_factors_table",
]


def _interval(f: dict[str, Any]) -> str:
    low, high = f["interval"]
    return f"{low:.2f}-{high:.2f}x"


def stack_factors_table(factors: list[dict[str, Any]], title: str) -> Table:
    """One row per (stack, kind): the factor, how it was set, its interval, the results."""
    t = Table(title=title)
    for col in ("stack", "kind", "factor", "basis", "interval", "results"):
        t.add_column(col, justify="right" if col in ("factor", "interval") else "left")
    for f in factors:
        shown = ", ".join(f["results"])
        t.add_row(
            f["stack"] or "unknown",
            f["kind"],
            f"{f['factor']:.3f}",
            f["basis"],
            _interval(f),
            escape(shown),
        )
    return t


def print_plan_model(plan: dict[str, Any], console: Console) -> None:
    """A plan's stack factors."""
    stacks = plan.get("stack_factors")
    if stacks and stacks["used"]:
        files = ", ".join(stacks["files"])
        title = f"Stack factors from published results ({escape(files)}): `polyfleet calibrate`"
        console.print(stack_factors_table(stacks["used"], title))


def holdout_table(holdout: dict[str, Any]) -> Table:
    t = Table(title="Held out: predicted vs published cross-stack ratios")
    for col in ("kind", "scenario", "round", "pair", "predicted", "published", "error", "fit on"):
        t.add_column(col, justify="right" if col in ("predicted", "published", "error") else "left")
    for p in holdout["pairs"]:
        t.add_row(
            p["kind"],
            p["scenario"],
            p["round"],
            p["pair"],
            f"{p['predicted_ratio']:.3f}",
            f"{p['published_ratio']:.3f}",
            f"{p['error']:+.1%}",
            p["fitted_on"],
        )
    return t


def print_calibration_record(data: dict[str, Any], console: Console) -> None:
    """What `polyfleet calibrate` prints."""
    files = ", ".join(data["files"])
    title = (
        f"Stack factors from {escape(files)} (own: >= {data['min_results']} results on the "
        "stack; pooled: the kind's; interval about 90 %)"
    )
    own_or_pooled = [
        f if f["stack"] is not None else {**f, "stack": "any other"}
        for f in data["factors"]
        if f["basis"] == "own" or f["stack"] is None
    ]
    console.print(stack_factors_table(own_or_pooled, title))
    low, high = data["uncalibrated_interval"]
    console.print(
        f"other stacks of a calibrated kind take its pooled factor; kinds with no results keep "
        f"1.0, interval {low:.2f}-{high:.2f}x (the roofline's own error against these results)"
    )
    t = Table(
        title="Results against the bare roofline (per accelerator; ratio = published / estimate)"
    )
    for col in ("result", "accelerator", "stack", "published", "estimate", "ratio", "residual"):
        right = col in ("published", "estimate", "ratio", "residual")
        t.add_column(col, justify="right" if right else "left")
    for r in data["results"]:
        t.add_row(
            r["id"],
            r["accelerator"],
            r["stack"] or "-",
            f"{r['published_per_accelerator']:,.1f}",
            f"{r['estimated']:,.1f}",
            f"{r['ratio']:.3f}",
            f"{r['residual']:+.3f}",
        )
    console.print(t)
    for model, notes in data["assumptions"].items():
        for note in notes:
            console.print(f"[yellow]assumption[/yellow] ({escape(model)}): {escape(note)}")
    ho = data.get("holdout")
    if not ho:
        return
    console.print(holdout_table(ho))
    for kind, how in ho["methods"].items():
        console.print(f"{kind}: {escape(how)}")
    targets = ho["targets"]
    for name, s in ho["summary"].items():
        if not s["pairs"]:
            continue
        console.print(
            f"{name}: {s['pairs']} pairs, median |error| {s['median']:.1%} "
            f"(target {targets['median']:.0%}), worst {s['worst']:.1%} "
            f"(target {targets['worst']:.0%})"
        )
