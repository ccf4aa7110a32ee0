"""The `polyfleet` command: an adapter over the application layer (polyfleet.app).

Each command parses its options into the options model, checks the files it will write, calls
one app function, and renders the record it returns: terminal tables, `--json` (the record as
`dump_record` writes it), `--out` and `--html`. Errors end a command in one place
(`_Commands.invoke`): a PolyfleetError prints one line on stderr and exits with its class's code
(1 bad input or a missing extra, 2 infeasible, 3 the solver failed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import UsageError  # typer's bundled click (typer is pinned)
from typer.core import TyperGroup

from polyfleet.errors import InfeasibleError, InputError, PolyfleetError
from polyfleet.inputs.cost import COST_DEFAULTS
from polyfleet.service.cli import serve_app

if TYPE_CHECKING:
    from polyfleet.app import Progress

EXIT_INPUT = InputError.exit_code


class _Commands(TyperGroup):
    """The one place a command's error ends it: a PolyfleetError is one line on stderr and its
    class's exit code. Usage errors (unknown option, missing argument, bad option type) exit 1
    like any other bad input, with typer's message: click's 2 is polyfleet's "infeasible"."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            exc.exit_code = EXIT_INPUT  # type: ignore[misc]
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            exc.exit_code = EXIT_INPUT  # type: ignore[misc]
            raise
        except PolyfleetError as exc:
            label = "infeasible" if isinstance(exc, InfeasibleError) else "error"
            err_console.print(
                f"[red]{label}:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="polyfleet",
    help="Plan, price and run a multi-vendor AI-accelerator fleet.",
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of tables.")]
BenchmarksOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--benchmarks",
        help="Table of published results that calibrates the stack factors (repeatable; "
        "`packaged`: the shipped MLPerf table, the default; `none`: the bare roofline).",
    ),
]


def _console() -> Console:
    """Tables at full width when piped (rich would fold them to 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _emit(record: Any, *, as_json: bool, out: Path | None = None) -> None:
    """Write the record's JSON to `out`, and to stdout with `--json`: one dump, checked finite."""
    if not as_json and out is None:
        return
    from polyfleet.results.base import dump_record

    text = dump_record(record)
    if out is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(out, text)
    if as_json:
        sys.stdout.write(text)


def _write_html(path: Path | None, render: Any, *args: Any) -> None:
    if path is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(path, render(*args))


class _Bars:
    """Progress events as rich bars on stderr (one per task), so `--json` stays clean; an event
    with a message is printed as a line."""

    def __init__(self, width: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn(f"{{task.description:<{width}}}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
        )
        self._tasks: dict[str, Any] = {}

    def __call__(self, event: Progress) -> None:
        if event.message:
            self.progress.console.print(escape(event.message))
            return
        task = self._tasks.get(event.task)
        if task is None:
            task = self._tasks[event.task] = self.progress.add_task(event.task, total=None)
        self.progress.update(task, completed=event.done, total=event.total)


@app.command()
def catalog(
    vendor: Annotated[str | None, typer.Option(help="Only this vendor (nvidia, amd, ...).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the packaged accelerator catalog, with the source of every figure."""
    from polyfleet import app as api

    record = api.catalog(vendor)
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.terminal import catalog_table

    console = _console()
    console.print(catalog_table(record))
    console.print("Sources per figure: `polyfleet catalog --json`.")


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option(help="Also write the plan JSON to this file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    frontier: Annotated[
        bool,
        typer.Option("--frontier", help="Add the cost-vs-share frontier to the record and report."),
    ] = False,
    method: Annotated[str, typer.Option(help="auto | decomposition | lp")] = "auto",
    matrix: Annotated[bool, typer.Option(help="Include every matrix cell in the JSON.")] = True,
    profiles: Annotated[
        list[Path] | None,
        typer.Option(
            help="Probe profile file or folder of them (repeatable): calibrates the estimates."
        ),
    ] = None,
    benchmarks: BenchmarksOpt = None,
    pessimistic: Annotated[
        bool,
        typer.Option(
            "--pessimistic",
            help="Solve with every estimated cell at the low end of its interval; say which "
            "assignments change.",
        ),
    ] = False,
) -> None:
    """Place the scenario's workloads on its pools at least cost within every limit."""
    from polyfleet import app as api
    from polyfleet.inputs.benchmarks import PACKAGED, table_specs
    from polyfleet.inputs.options import PlanOptions, parse_options
    from polyfleet.report.files import check_outputs

    opts = parse_options(
        PlanOptions,
        method=method,
        profiles=profiles or None,
        matrix=matrix,
        frontier=frontier,
        benchmarks=table_specs(benchmarks),
        pessimistic=pessimistic,
    )
    inputs = (
        {"SCENARIO": scenario}
        | {f"--profiles {p}": p for p in opts.profiles}
        | {f"--benchmarks {b}": Path(b) for b in opts.benchmarks if b != PACKAGED}
    )
    check_outputs({"--out": out, "--html": html}, inputs=inputs)
    record = api.plan(scenario, opts)
    _emit(record, as_json=as_json, out=out)
    if html is not None and record.status == "optimal":
        from polyfleet.report.html import render_html

        _write_html(html, render_html, record)
    if not as_json:
        from polyfleet.report.terminal import print_plan

        print_plan(record, _console())
    if record.status != "optimal":
        where = ""
        if record.pessimistic is not None:
            where = (
                " at the low end of the throughput intervals (the point plan is "
                f"{record.pessimistic.point_status})"
            )
        raise InfeasibleError(
            f"no plan meets every constraint{where}; the diagnosis above says which workloads "
            "and limits fail, and by how much",
            record.diagnosis.model_dump() if record.diagnosis is not None else {},
            record=record,
        )


def _default(term: str) -> str:
    """The documented default of an owned-cost term, for an option's help."""
    d = COST_DEFAULTS[term]
    return f"default {d.shown}: {d.source}"


@app.command()
def calibrate(
    benchmarks: BenchmarksOpt = None,
    holdout: Annotated[
        bool,
        typer.Option(
            "--holdout",
            help="Also fit on one round and predict the next: cross-stack ratio errors.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a factor per software stack and workload kind to tables of published results."""
    from polyfleet import app as api
    from polyfleet.inputs.benchmarks import table_specs
    from polyfleet.inputs.options import CalibrateOptions, parse_options

    specs = table_specs(benchmarks)
    record = api.calibrate(parse_options(CalibrateOptions, benchmarks=specs, holdout=holdout))
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.model_tables import print_calibration_record

    print_calibration_record(record, _console())


@app.command()
def tco(
    accelerator: Annotated[
        str, typer.Argument(help="Catalog id or alias (mi355x, 'NVIDIA H200').")
    ],
    capex: Annotated[
        float | None, typer.Option(help="GPU price, USD (default: the catalog's purchase price).")
    ] = None,
    power_price: Annotated[
        float | None,
        typer.Option(help=f"Electricity, USD per MWh ({_default('power_price_per_mwh')})."),
    ] = None,
    pue: Annotated[
        float | None,
        typer.Option(help=f"Power usage effectiveness of the facility ({_default('pue')})."),
    ] = None,
    years: Annotated[
        float | None,
        typer.Option(help=f"Amortisation of GPU, node and network ({_default('amortize_years')})."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help=f"Cost of capital per year, 0.08 = 8 % ({_default('cost_of_capital')})."),
    ] = None,
    maintenance: Annotated[
        float | None,
        typer.Option(
            help=f"Maintenance, fraction of capex a year ({_default('maintenance_frac_per_year')})."
        ),
    ] = None,
    utilisation: Annotated[
        float | None,
        typer.Option(help=f"Average fraction of full power drawn ({_default('utilisation')})."),
    ] = None,
    node: Annotated[
        float | None, typer.Option(help=f"Server share per GPU, USD ({_default('node_per_gpu')}).")
    ] = None,
    network: Annotated[
        float | None,
        typer.Option(help=f"Fabric share per GPU, USD ({_default('network_per_gpu')})."),
    ] = None,
    facility_per_mw: Annotated[
        float | None,
        typer.Option(
            help=f"Data-centre build cost per MW of IT load, USD ({_default('facility_per_mw')})."
        ),
    ] = None,
    facility_years: Annotated[
        float | None,
        typer.Option(help=f"Facility financing years ({_default('facility_years')})."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cost of one owned accelerator-hour, component by component, and GPUs per gigawatt."""
    from polyfleet import app as api
    from polyfleet.inputs.options import TcoOptions, parse_options

    opts = parse_options(
        TcoOptions,
        capex=capex,
        power_price=power_price,
        pue=pue,
        years=years,
        rate=rate,
        maintenance=maintenance,
        utilisation=utilisation,
        node=node,
        network=network,
        facility_per_mw=facility_per_mw,
        facility_years=facility_years,
    )
    record = api.tco(accelerator, opts)
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.economics_tables import print_tco

    print_tco(record, _console())


@app.command()
def deal(
    file: Annotated[Path, typer.Argument(help="Deal file (.yaml or .json).")],
    paths: Annotated[
        float | None, typer.Option(help="Monte Carlo paths (default: the file's).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the file's).")] = None,
    sensitivity: Annotated[
        bool, typer.Option(help="Revalue at volatility +-10 points and spot +-20 %.")
    ] = True,
    html: Annotated[
        Path | None, typer.Option(help="Write an HTML page with the fan chart.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Value a supply deal's warrant and net it against the hardware cost."""
    from polyfleet import app as api
    from polyfleet.inputs.options import DealOptions, parse_options
    from polyfleet.report.files import check_outputs

    check_outputs({"--html": html}, inputs={"FILE": file})
    opts = parse_options(DealOptions, paths=paths, seed=seed, sensitivity=sensitivity)
    record = api.deal(file, opts)
    if html is not None:
        from polyfleet.report.html import render_deal_html

        _write_html(html, render_deal_html, record)
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.economics_tables import print_deal

    print_deal(record, _console())


@app.command()
def leverage(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    precision: Annotated[
        float, typer.Option(help="Relative precision of the multipliers.")
    ] = 0.005,
    as_json: JsonOpt = False,
) -> None:
    """Per vendor: the price rise that moves work away, the one that drops it, the lock-in premium."""
    from polyfleet import app as api
    from polyfleet.inputs.options import LeverageOptions, parse_options

    record = api.leverage(scenario, parse_options(LeverageOptions, precision=precision))
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.terminal import leverage_table

    _console().print(leverage_table(record))


@app.command()
def frontier(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    points: Annotated[int, typer.Option(help="Points on the sweep (20 to 500).")] = 21,
    html: Annotated[Path | None, typer.Option(help="Write the chart as a self-contained page.")] = (
        None
    ),
    as_json: JsonOpt = False,
) -> None:
    """Least cost as the largest vendor's maximum share falls from 100 % to the lowest feasible."""
    from polyfleet import app as api
    from polyfleet.inputs.options import FrontierOptions, parse_options
    from polyfleet.report.files import check_outputs

    opts = parse_options(FrontierOptions, points=points)
    check_outputs({"--html": html}, inputs={"SCENARIO": scenario})
    record = api.frontier(scenario, opts)
    if html is not None:
        from polyfleet.report.html import render_frontier_html

        _write_html(html, render_frontier_html, record, str(scenario))
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.terminal import frontier_table

    _console().print(frontier_table(record))


@app.command()
def procure(
    file: Annotated[Path, typer.Argument(help="Procurement file (.yaml or .json).")],
    limit_costs: Annotated[
        bool, typer.Option(help="Re-solve with each binding limit lifted, to price it.")
    ] = True,
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option(help="Also write the result JSON here.")] = None,
) -> None:
    """What to buy, year by year, under budgets, power, shares and deal commitments (MILP)."""
    from polyfleet import app as api
    from polyfleet.inputs.options import ProcureOptions, parse_options
    from polyfleet.report.files import check_outputs

    check_outputs({"--out": out}, inputs={"FILE": file})
    record = api.procure(file, parse_options(ProcureOptions, limit_costs=limit_costs))
    _emit(record, as_json=as_json, out=out)
    if not as_json:
        from polyfleet.report.economics_tables import print_procurement

        print_procurement(record, _console())
    if record.status == "infeasible":
        raise InfeasibleError(
            "the limits cannot all hold; the shortfalls and violations above say which and by "
            "how much",
            record.model_dump(include={"shortfalls", "violations"}),
            record=record,
        )


@app.command()
def schema(
    name: Annotated[
        str | None, typer.Argument(help="A record's name; none: list them.", show_default=False)
    ] = None,
) -> None:
    """Print the JSON Schema of a result record (what `--json` and `--out` write)."""
    from polyfleet.results import RECORDS, record_class

    if name is None:
        for key in RECORDS:
            cls = record_class(key)
            fmt = cls.model_fields["format"].default
            version = cls.model_fields["schema_version"].default
            typer.echo(f"{key:<12} {fmt} version {version}")
        return
    if name not in RECORDS:
        raise InputError(f"no such record; known: {', '.join(RECORDS)}", field="NAME", value=name)
    import json

    typer.echo(json.dumps(record_class(name).model_json_schema(), indent=2))


cluster_app = typer.Typer(help="Start, stop or inspect the Ray cluster jobs run on.")
app.add_typer(cluster_app, name="cluster")
StateDirOpt = Annotated[
    Path, typer.Option(help="Where the local cluster's address and the ledger live.")
]


@cluster_app.command("up")
def cluster_up(
    scenario: Annotated[Path, typer.Argument(help="Scenario whose pools become nodes.")],
    local: Annotated[
        bool, typer.Option("--local", help="Start a local multi-node cluster.")
    ] = False,
    address: Annotated[str | None, typer.Option(help="Join this cluster instead.")] = None,
    slots: Annotated[int, typer.Option(help="Job slots over all local nodes.")] = 32,
    state_dir: StateDirOpt = Path(".polyfleet"),
) -> None:
    """One Ray node per pool, each advertising its pool, accelerator and vendor as resources."""
    from polyfleet import app as api
    from polyfleet.report.dispatch_tables import print_cluster

    record = api.cluster_up(
        scenario, local=local, address=address, slots=slots, state_dir=state_dir
    )
    print_cluster(record, _console())
    if record.missing:
        raise PolyfleetError(f"the cluster has no node for pool(s): {', '.join(record.missing)}")


@cluster_app.command("down")
def cluster_down(state_dir: StateDirOpt = Path(".polyfleet")) -> None:
    """Stop the local cluster `cluster up --local` started."""
    from polyfleet import app as api

    _console().print(escape(api.cluster_down(state_dir)))


@app.command()
def run(
    jobs: Annotated[Path, typer.Argument(help="Job file (.yaml or .json).")],
    plan: Annotated[Path, typer.Option(help="Plan JSON from `polyfleet plan --out`.")],
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: the local one).")
    ] = None,
    retries: Annotated[
        int, typer.Option(help="Re-routes per job after a node failure (0-100).")
    ] = 3,
    timeout: Annotated[
        float | None, typer.Option(help="Fail jobs still unfinished after this many seconds.")
    ] = None,
    profiles_out: Annotated[
        Path, typer.Option(help="Where probe jobs write their profiles.")
    ] = Path("profiles"),
    wait: Annotated[
        bool,
        typer.Option("--wait", help="If another run is using the ledger, wait for it to end."),
    ] = False,
    state_dir: StateDirOpt = Path(".polyfleet"),
    as_json: JsonOpt = False,
) -> None:
    """Dispatch jobs to the pools the plan chose; re-route when a pool is lost.

    One run at a time per ledger: a second run on the same --state-dir is refused (or, with
    --wait, starts when the first ends). A run submits only this job file's jobs."""
    from polyfleet import app as api
    from polyfleet.inputs.options import RunOptions, parse_options
    from polyfleet.results.run import run_notes

    opts = parse_options(
        RunOptions,
        retries=retries,
        timeout=timeout,
        address=address,
        profiles_out=profiles_out,
        wait=wait,
        state_dir=state_dir,
    )
    bars = _Bars(10)
    with bars.progress:
        record = api.run(jobs, plan, opts, on_progress=bars)
    if as_json:
        _emit(record, as_json=True)
    else:
        from polyfleet.report.dispatch_tables import print_run

        print_run(record, _console(), profiles_out=opts.profiles_out)
    for note in run_notes(record):
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if not record.ok:
        raise typer.Exit(EXIT_INPUT)


@app.command()
def status(
    state_dir: StateDirOpt = Path(".polyfleet"),
    address: Annotated[str | None, typer.Option(help="Also show this cluster's pools.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Jobs by state and pool (from the ledger), and the cluster's pools when one is reachable."""
    from polyfleet import app as api
    from polyfleet.inputs.options import StatusOptions, parse_options

    record = api.status(parse_options(StatusOptions, state_dir=state_dir, address=address))
    if as_json:
        _emit(record, as_json=True)
        return
    from polyfleet.report.dispatch_tables import print_status

    print_status(record, _console())


@app.command()
def probe(
    preset: Annotated[
        str, typer.Option(help="tiny (seconds, any CPU) | full (a data-centre GPU)")
    ] = ("tiny"),
    out: Annotated[Path | None, typer.Option(help="Write the profile JSON to this file.")] = None,
    only: Annotated[
        str | None, typer.Option(help="Comma-separated workloads (default: all of them).")
    ] = None,
    as_id: Annotated[
        str | None,
        typer.Option("--as", help="Catalog id of this device, when its name matches none."),
    ] = None,
    device: Annotated[int, typer.Option(help="Index of the accelerator to probe.")] = 0,
    cpu: Annotated[bool, typer.Option("--cpu", help="Probe the CPU even if a GPU is present.")] = (
        False
    ),
    as_json: JsonOpt = False,
) -> None:
    """Run the workload suite on this machine's accelerator and record a profile."""
    from polyfleet import app as api
    from polyfleet.inputs.options import ProbeOptions, parse_options
    from polyfleet.report.files import check_outputs

    check_outputs({"--out": out})
    names = tuple(n.strip() for n in only.split(",") if n.strip()) if only else None
    opts = parse_options(
        ProbeOptions, preset=preset, only=names, accelerator=as_id, device=device, cpu=cpu
    )
    bars = _Bars(18)
    with bars.progress:
        profile = api.probe(opts, on_progress=bars)
    text = profile.to_json()
    if out is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(out, text)
    if as_json:
        sys.stdout.write(text)
        return
    from polyfleet.report.probe_table import print_profile

    console = _console()
    print_profile(profile, console)
    if out is not None:
        console.print(f"profile written to {out}")


app.add_typer(serve_app, name="serve")


def main() -> None:  # pragma: no cover - console entry
    app()
