"""The probe command: run the workload suite on this machine and write its profile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from polyfleet.cli.base import Bars, JsonOpt, app, console


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
    bars = Bars(18)
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

    shown = console()
    print_profile(profile, shown)
    if out is not None:
        shown.print(f"profile written to {out}")
