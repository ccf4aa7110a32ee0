"""The `polyfleet` command."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from polyfleet.errors import PolyfleetError

app = typer.Typer(
    name="polyfleet",
    help="Plan, price and run a multi-vendor AI-accelerator fleet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)
EXIT_INPUT = 1
EXIT_INFEASIBLE = 2

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of tables.")]


def _console() -> Console:
    """Tables at full width when piped (rich would fold them to 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _fail(exc: PolyfleetError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(EXIT_INPUT)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, allow_nan=False, default=_json_default)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@app.command()
def catalog(
    vendor: Annotated[str | None, typer.Option(help="Only this vendor (nvidia, amd, ...).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the packaged accelerator catalog, with the source of every figure."""
    from polyfleet.catalog import load_catalog
    from polyfleet.catalog._catalog import references

    cat = load_catalog()
    if vendor is not None and vendor.lower() not in cat.vendors:
        raise _fail(PolyfleetError(f"unknown vendor {vendor!r}; known: {', '.join(cat.vendors)}"))
    rows = cat.table_rows(vendor)
    if as_json:
        typer.echo(
            _dump(
                {
                    "accelerators": [a.model_dump(mode="json") for a in rows],
                    "references": references(),
                }
            )
        )
        return
    from polyfleet.report.terminal import catalog_table

    console = _console()
    console.print(catalog_table(cat, vendor))
    console.print("Sources per figure: `polyfleet catalog --json`.")


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option(help="Also write the plan JSON to this file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    method: Annotated[str, typer.Option(help="auto | decomposition | lp")] = "auto",
    matrix: Annotated[bool, typer.Option(help="Include every matrix cell in the JSON.")] = True,
) -> None:
    """Place the scenario's workloads on its pools at least cost within every limit."""
    from polyfleet.plan.placement import make_plan
    from polyfleet.scenario import load_scenario

    if method not in ("auto", "decomposition", "lp"):
        raise _fail(PolyfleetError(f"--method must be auto, decomposition or lp (got {method!r})"))
    t0 = time.perf_counter()
    try:
        loaded = load_scenario(scenario)
        result = make_plan(loaded, method=method, load_seconds=time.perf_counter() - t0)
    except PolyfleetError as exc:
        raise _fail(exc) from None
    data = result.to_dict(matrix_cells=matrix)
    text = _dump(data) if (as_json or out is not None) else ""
    if out is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(out, text)
    if html is not None and data["status"] == "optimal":
        from polyfleet.report.files import write_atomic
        from polyfleet.report.html import render_html

        write_atomic(html, render_html(data))
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        from polyfleet.report.terminal import print_plan

        print_plan(data, _console())
    if data["status"] != "optimal":
        err_console.print(
            "[red]infeasible:[/red] no plan meets every constraint; the diagnosis above says "
            "which workloads and limits fail, and by how much."
        )
        raise typer.Exit(EXIT_INFEASIBLE)


def main() -> None:  # pragma: no cover - console entry
    app()
