"""Tables of the performance model's calibration, rendered from the calibration and plan
records: the stack factors and the published results behind them, the held-out check, and what
a pessimistic plan changes."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyfleet.results.calibration import (
    CalibrationRecord,
    Fit,
    Holdout,
    SplitTest,
    StackFactor,
)
from polyfleet.results.plan import Pessimistic, PlanRecord

__all__ = [
    "changes_table",
    "holdout_table",
    "print_calibration_record",
    "print_plan_model",
    "splits_table",
    "stack_factors_table",
]


def _interval(f: StackFactor) -> str:
    low, high = f.interval
    return f"{low:.2f}-{high:.2f}x"


def stack_factors_table(factors: list[StackFactor], title: str) -> Table:
    """One row per (stack, kind): the factor, how it was set, its interval, the results."""
    t = Table(title=title)
    for col in ("stack", "kind", "factor", "basis", "interval", "results"):
        t.add_column(col, justify="right" if col in ("factor", "interval") else "left")
    for f in factors:
        shown = ", ".join(f.results)
        t.add_row(
            f.stack or "unknown",
            f.kind,
            f"{f.factor:.3f}",
            f.basis,
            _interval(f),
            escape(shown),
        )
    return t


def changes_table(record: Pessimistic) -> Table:
    """The assignments a plan at the low end of the intervals moves, against the point plan."""
    t = Table(title="Pessimistic plan: assignments that change from the point estimate")
    for col in ("workload", "pool", "point", "low end", "change", ""):
        t.add_column(col, justify="left" if col in ("workload", "pool", "") else "right")
    for c in record.changed_assignments[:100]:
        t.add_row(
            c.workload,
            c.pool,
            f"{c.accelerators_point:,.0f}",
            f"{c.accelerators_low:,.0f}",
            f"{c.change:+,.0f}",
            c.status,
        )
    n = len(record.changed_assignments)
    if n > 100:
        t.caption = f"first 100 of {n}; --json for all"
    return t


def print_plan_model(plan: PlanRecord, console: Console) -> None:
    """A plan's stack factors and, for a pessimistic plan, what changed."""
    stacks = plan.stack_factors
    if stacks and stacks.used:
        files = ", ".join(stacks.files)
        title = f"Stack factors from published results ({escape(files)}): `polyfleet calibrate`"
        console.print(stack_factors_table(stacks.used, title))
    record = plan.pessimistic
    if record is None:
        return
    point, low = record.point_cost_per_hour, record.low_cost_per_hour
    if low is None:
        console.print(
            "pessimistic: with every estimated cell at the low end of its interval no plan meets "
            "every constraint (the diagnosis above); at the point estimate the plan is "
            f"{record.point_status}" + (f" at ${point:,.0f}/h" if point is not None else "")
        )
        return
    if point is not None:
        console.print(
            f"pessimistic: every estimated cell at the low end of its interval; cost "
            f"${low:,.0f}/h against ${point:,.0f}/h at the point estimate ({low / point - 1:+.1%})"
        )
    if record.changed_assignments:
        console.print(changes_table(record))
    elif point is not None and low is not None:
        console.print("no assignment changes at the low end: only the counts they need grow")


def holdout_table(holdout: Holdout) -> Table:
    t = Table(title="Held out: predicted vs published cross-stack ratios")
    for col in ("kind", "scenario", "round", "pair", "predicted", "published", "error", "fit on"):
        t.add_column(col, justify="right" if col in ("predicted", "published", "error") else "left")
    for p in holdout.pairs:
        t.add_row(
            p.kind,
            p.scenario,
            p.round,
            p.pair,
            f"{p.predicted_ratio:.3f}",
            f"{p.published_ratio:.3f}",
            f"{p.error:+.1%}",
            p.fitted_on,
        )
    return t


def splits_table(splits: list[SplitTest], title: str) -> Table:
    """One row per split asked of the data: its results, F-test and whether it is supported."""
    t = Table(title=title)
    cols = ("kind", "stack", "split", "results", "systems", "relative", "F", "p", "supported")
    for col in cols:
        right = col in ("results", "systems", "relative", "F", "p")
        t.add_column(col, justify="right" if right else "left")
    for sp in splits:
        f = sp.f
        t.add_row(
            sp.kind,
            sp.stack,
            sp.split,
            str(len(sp.results)),
            str(sp.systems),
            f"{sp.relative_factor:.3f}",
            ("inf" if f is None else f"{f:.2f}") + f" ({sp.dof[0]}, {sp.dof[1]})",
            f"{sp.p:.3f}",
            "yes" if sp.supported else "no",
        )
    return t


def _fit_lines(fits: list[Fit], console: Console) -> None:
    """One line per fit: results, factors, degrees of freedom, residual spread."""
    for f in fits:
        sd = f.residual_sd
        on = f", {f.fitted_on}" if f.fitted_on else ""
        console.print(
            f"{f.kind}{on}: {f.results} results, {f.factors} factors, {f.dof} "
            f"degrees of freedom, residual sd {'-' if sd is None else f'{sd:.3f}'} (log)"
        )


_SPLITS_NOTE = "splits are diagnostics: the fit keeps one factor per (stack, kind)"


def print_calibration_record(data: CalibrationRecord, console: Console) -> None:
    """What `polyfleet calibrate` prints."""
    files = ", ".join(data.files)
    title = (
        f"Stack factors from {escape(files)} (own: >= {data.min_results} results on the "
        "stack; pooled: the kind's; interval about 90 %)"
    )
    own_or_pooled = [
        f if f.stack is not None else f.model_copy(update={"stack": "any other"})
        for f in data.factors
        if f.basis == "own" or f.stack is None
    ]
    console.print(stack_factors_table(own_or_pooled, title))
    low, high = data.uncalibrated_interval
    console.print(
        f"other stacks of a calibrated kind take its pooled factor; kinds with no results keep "
        f"1.0, interval {low:.2f}-{high:.2f}x (the roofline's own error against these results)"
    )
    _fit_lines(data.fits, console)
    if data.splits:
        title = "Splits: would a stack's subset have a factor of its own? (F-test, p < 0.05)"
        console.print(splits_table(data.splits, title))
        console.print(_SPLITS_NOTE)
    t = Table(
        title="Results against the bare roofline (per accelerator; ratio = published / estimate)"
    )
    for col in ("result", "accelerator", "stack", "published", "estimate", "ratio", "residual"):
        right = col in ("published", "estimate", "ratio", "residual")
        t.add_column(col, justify="right" if right else "left")
    for r in data.results:
        t.add_row(
            r.id,
            r.accelerator,
            r.stack or "-",
            f"{r.published_per_accelerator:,.1f}",
            f"{r.estimated:,.1f}",
            f"{r.ratio:.3f}",
            f"{r.residual:+.3f}",
        )
    console.print(t)
    for model, notes in data.assumptions.items():
        for note in notes:
            console.print(f"[yellow]assumption[/yellow] ({escape(model)}): {escape(note)}")
    ho = data.holdout
    if not ho:
        return
    console.print(holdout_table(ho))
    for kind, how in ho.methods.items():
        console.print(f"{kind}: {escape(how)}")
    _fit_lines(ho.fits, console)
    if ho.splits:
        rounds = ", ".join(dict.fromkeys(sp.fitted_on for sp in ho.splits))
        console.print(splits_table(ho.splits, f"Splits asked of the fit's {rounds}"))
        console.print(_SPLITS_NOTE)
    targets = ho.targets
    for name, s in ho.summary.items():
        if not s.pairs or s.median is None or s.worst is None:
            continue
        console.print(
            f"{name}: {s.pairs} pairs, median |error| {s.median:.1%} "
            f"(target {targets['median']:.0%}), worst {s.worst:.1%} "
            f"(target {targets['worst']:.0%})"
        )
