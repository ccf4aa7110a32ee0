"""The economics commands: tco, deal, procure and build-vs-buy. Each parses its options, calls one function of
polyfleet.app and renders the record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polyfleet.cli.base import JsonOpt, app, console, emit, write_html
from polyfleet.errors import InfeasibleError
from polyfleet.inputs.cost import COST_DEFAULTS


def _default(term: str) -> str:
    """The documented default of an owned-cost term, for an option's help."""
    d = COST_DEFAULTS[term]
    return f"default {d.shown}: {d.source}"


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
        emit(record, as_json=True)
        return
    from polyfleet.report.economics_tables import print_tco

    print_tco(record, console())


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

        write_html(html, render_deal_html, record)
    if as_json:
        emit(record, as_json=True)
        return
    from polyfleet.report.economics_tables import print_deal

    print_deal(record, console())


@app.command()
def procure(
    file: Annotated[Path, typer.Argument(help="Procurement file (.yaml or .json).")],
    limit_costs: Annotated[
        bool, typer.Option(help="Re-solve with each binding limit lifted, to price it.")
    ] = True,
    lock_in: Annotated[
        bool, typer.Option(help="Re-solve with each vendor's parts only: its lock-in premium.")
    ] = False,
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option(help="Also write the result JSON here.")] = None,
) -> None:
    """What to buy, year by year, under budgets, power, shares and deal commitments (MILP)."""
    from polyfleet import app as api
    from polyfleet.inputs.options import ProcureOptions, parse_options
    from polyfleet.report.files import check_outputs

    check_outputs({"--out": out}, inputs={"FILE": file})
    record = api.procure(
        file, parse_options(ProcureOptions, limit_costs=limit_costs, lock_in=lock_in)
    )
    emit(record, as_json=as_json, out=out)
    if not as_json:
        from polyfleet.report.economics_tables import print_procurement

        print_procurement(record, console())
    if record.status == "infeasible":
        raise InfeasibleError(
            "the limits cannot all hold; the shortfalls and violations above say which and by "
            "how much",
            record.model_dump(include={"shortfalls", "violations"}),
            record=record,
        )


@app.command(name="build-vs-buy")
def build_vs_buy(
    file: Annotated[Path, typer.Argument(help="Build file (.yaml or .json).")],
    as_json: JsonOpt = False,
    out: Annotated[Path | None, typer.Option(help="Also write the result JSON here.")] = None,
) -> None:
    """An in-house chip against buying or renting: break-even, cost by year, slip risk."""
    from polyfleet import app as api
    from polyfleet.report.files import check_outputs

    check_outputs({"--out": out}, inputs={"FILE": file})
    record = api.build_vs_buy(file)
    emit(record, as_json=as_json, out=out)
    if not as_json:
        from polyfleet.report.economics_tables import print_build_vs_buy

        print_build_vs_buy(record, console())
