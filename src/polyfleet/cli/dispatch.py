"""The dispatch commands: cluster up/down, run and status. Each parses its options, calls one
function of polyfleet.app and renders the record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from polyfleet.cli.base import (
    EXIT_INPUT,
    Bars,
    JsonOpt,
    StateDirOpt,
    app,
    console,
    emit,
    err_console,
)
from polyfleet.errors import PolyfleetError

cluster_app = typer.Typer(help="Start, stop or inspect the Ray cluster jobs run on.")
app.add_typer(cluster_app, name="cluster")


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
    print_cluster(record, console())
    if record.missing:
        raise PolyfleetError(f"the cluster has no node for pool(s): {', '.join(record.missing)}")


@cluster_app.command("down")
def cluster_down(state_dir: StateDirOpt = Path(".polyfleet")) -> None:
    """Stop the local cluster `cluster up --local` started."""
    from polyfleet import app as api

    console().print(escape(api.cluster_down(state_dir)))


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
    bars = Bars(10)
    with bars.progress:
        record = api.run(jobs, plan, opts, on_progress=bars)
    if as_json:
        emit(record, as_json=True)
    else:
        from polyfleet.report.dispatch_tables import print_run

        print_run(record, console(), profiles_out=opts.profiles_out)
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
        emit(record, as_json=True)
        return
    from polyfleet.report.dispatch_tables import print_status

    print_status(record, console())
