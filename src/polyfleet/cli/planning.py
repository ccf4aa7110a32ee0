"""The planning commands: catalog, plan, calibrate, leverage, frontier, and the records' schemas.
Each parses its options, calls one function of polyfleet.app and renders the record."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from polyfleet.cli.base import (
    AddressOpt,
    BenchmarksOpt,
    JsonOpt,
    WorkersOpt,
    app,
    console,
    emit,
    write_html,
)
from polyfleet.errors import InfeasibleError, InputError


@app.command()
def catalog(
    vendor: Annotated[str | None, typer.Option(help="Only this vendor (nvidia, amd, ...).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the packaged accelerator catalog, with the source of every figure."""
    from polyfleet import app as api

    record = api.catalog(vendor)
    if as_json:
        emit(record, as_json=True)
        return
    from polyfleet.report.terminal import catalog_table

    out_console = console()
    out_console.print(catalog_table(record))
    out_console.print("Sources per figure: `polyfleet catalog --json`.")


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
    matrix: Annotated[
        bool,
        typer.Option(
            help="Include every matrix cell in the JSON (workloads x accelerators objects: "
            "use --matrix-out for a large scenario)."
        ),
    ] = False,
    matrix_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the throughput matrix to this Parquet file, one row per cell "
            "(needs the tables extra: pip install 'polyfleet\\[tables]')."
        ),
    ] = None,
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
    check_outputs({"--out": out, "--html": html, "--matrix-out": matrix_out}, inputs=inputs)
    on_matrix = None
    if matrix_out is not None:
        from polyfleet.report.matrix_file import parquet_path, write_matrix

        on_matrix = partial(write_matrix, path=parquet_path(matrix_out, "--matrix-out"))

    record = api.plan(scenario, opts, on_matrix=on_matrix)
    emit(record, as_json=as_json, out=out)
    if html is not None and record.status == "optimal":
        from polyfleet.report.html import render_html

        write_html(html, render_html, record)
    if not as_json:
        from polyfleet.report.terminal import print_plan

        print_plan(record, console())
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
        emit(record, as_json=True)
        return
    from polyfleet.report.model_tables import print_calibration_record

    print_calibration_record(record, console())


@app.command()
def leverage(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    precision: Annotated[
        float, typer.Option(help="Relative precision of the multipliers.")
    ] = 0.005,
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per vendor: the price rise that moves work away, the one that drops it, the lock-in premium."""
    from polyfleet import app as api
    from polyfleet.inputs.options import LeverageOptions, parse_options

    opts = parse_options(LeverageOptions, precision=precision, address=address, workers=workers)
    record = api.leverage(scenario, opts)
    if as_json:
        emit(record, as_json=True)
        return
    from polyfleet.report.terminal import greenfield_table, leverage_table

    out = console()
    out.print(leverage_table(record))
    table = greenfield_table(record)
    if table is not None:
        out.print(table)
    elif record.greenfield_note:
        out.print(f"lock-in premium if the fleet bought accordingly: {record.greenfield_note}")


@app.command()
def frontier(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    points: Annotated[int, typer.Option(help="Points on the sweep (20 to 500).")] = 21,
    html: Annotated[Path | None, typer.Option(help="Write the chart as a self-contained page.")] = (
        None
    ),
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Least cost as the largest vendor's maximum share falls from 100 % to the lowest feasible."""
    from polyfleet import app as api
    from polyfleet.inputs.options import FrontierOptions, parse_options
    from polyfleet.report.files import check_outputs

    opts = parse_options(FrontierOptions, points=points, address=address, workers=workers)
    check_outputs({"--html": html}, inputs={"SCENARIO": scenario})
    record = api.frontier(scenario, opts)
    if html is not None:
        from polyfleet.report.html import render_frontier_html

        write_html(html, render_frontier_html, record, str(scenario))
    if as_json:
        emit(record, as_json=True)
        return
    from polyfleet.report.terminal import frontier_table

    console().print(frontier_table(record))


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
