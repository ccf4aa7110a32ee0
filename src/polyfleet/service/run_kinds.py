"""What each kind of run reads, which options it takes, and which application function it calls.

The options are the command line's (polyfleet.inputs.options), less those that name paths on the
server's disk: a plan's probe profiles are stored profiles named by their stored names, and its
published-results table is the packaged one or none. So a request can choose how a run computes,
never which file it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from polyfleet.errors import NULL, InputError
from polyfleet.inputs.base import (
    Flag,
    FrontierPoints,
    InputModel,
    McPaths,
    SearchPrecision,
    Seed,
)
from polyfleet.inputs.reader import dotted
from polyfleet.service.store.documents import NAME_MAX, NAME_PATTERNS

__all__ = [
    "KINDS",
    "DealRunOptions",
    "FrontierRunOptions",
    "LeverageRunOptions",
    "PlanRunOptions",
    "ProcureRunOptions",
    "RunKind",
    "call_app",
    "parse_run_options",
]


class _Options(InputModel):
    model_config = ConfigDict(frozen=True)


ProfileName = Annotated[str, Field(max_length=NAME_MAX, pattern=NAME_PATTERNS["profile"])]


class PlanRunOptions(_Options):
    """`polyfleet plan`'s options. `profiles`: stored probe profiles that calibrate the
    estimates; `benchmarks`: the packaged table of published results, or none."""

    method: Literal["auto", "decomposition", "lp"] = "auto"
    matrix: Flag = False  # as the command line: every matrix cell only on request
    frontier: Flag = False
    pessimistic: Flag = False
    benchmarks: Literal["packaged", "none"] = "packaged"
    profiles: list[ProfileName] = Field(default_factory=list, max_length=64)


class LeverageRunOptions(_Options):
    precision: SearchPrecision = 0.005


class FrontierRunOptions(_Options):
    points: FrontierPoints = 21


class ProcureRunOptions(_Options):
    limit_costs: Flag = True


class DealRunOptions(_Options):
    paths: McPaths | None = None
    seed: Seed | None = None
    sensitivity: Flag = True


@dataclass(frozen=True, slots=True)
class RunKind:
    """A kind of run: the document kind it runs against and its options."""

    name: str
    document: str
    options: type[_Options]


KINDS: dict[str, RunKind] = {
    "plan": RunKind("plan", "scenario", PlanRunOptions),
    "leverage": RunKind("leverage", "scenario", LeverageRunOptions),
    "frontier": RunKind("frontier", "scenario", FrontierRunOptions),
    "procure": RunKind("procure", "procurement", ProcureRunOptions),
    "deal": RunKind("deal", "deal", DealRunOptions),
}


def _shown(err: Any) -> Any:
    """The value a request gave, as its error shows it: null said as such, a mapping not shown."""
    if err["type"] == "missing" or "input" not in err:
        return None
    value = err["input"]
    if value is None:
        return NULL
    return None if isinstance(value, dict) else value


def parse_run_options(kind: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The options of a `kind` run, validated and with their defaults filled in; an InputError
    naming `options.<field>` for a bad one."""
    model = KINDS[kind].options
    try:
        parsed = model.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = dotted([p for p in err["loc"] if isinstance(p, str | int)])
        raise InputError(
            err["msg"].removeprefix("Value error, "),
            field=f"options.{loc}" if loc else "options",
            value=_shown(err),
        ) from None
    return parsed.model_dump(mode="json")


def call_app(
    kind: str, path: Path, options: dict[str, Any], profiles: list[Path], on_progress: Any
) -> Any:
    """Run the application function of `kind` on the materialised document at `path`."""
    from polyfleet import app
    from polyfleet.inputs import options as cli_options

    if kind == "plan":
        opts = PlanRunOptions.model_validate(options)
        plan_options = cli_options.PlanOptions(
            method=opts.method,
            matrix=opts.matrix,
            frontier=opts.frontier,
            pessimistic=opts.pessimistic,
            profiles=tuple(profiles),
            benchmarks=cli_options.PlanOptions().benchmarks
            if opts.benchmarks == "packaged"
            else (),
        )
        return app.plan(path, plan_options, on_progress=on_progress)
    if kind == "leverage":
        lev = LeverageRunOptions.model_validate(options)
        return app.leverage(
            path, cli_options.LeverageOptions(precision=lev.precision), on_progress=on_progress
        )
    if kind == "frontier":
        fr = FrontierRunOptions.model_validate(options)
        return app.frontier(
            path, cli_options.FrontierOptions(points=fr.points), on_progress=on_progress
        )
    if kind == "procure":
        pr = ProcureRunOptions.model_validate(options)
        return app.procure(path, cli_options.ProcureOptions(limit_costs=pr.limit_costs))
    if kind == "deal":
        dl = DealRunOptions.model_validate(options)
        return app.deal(
            path,
            cli_options.DealOptions(paths=dl.paths, seed=dl.seed, sensitivity=dl.sensitivity),
        )
    raise ValueError(f"no such run kind: {kind}")
