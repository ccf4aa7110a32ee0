"""The `polyfleet` command.

Errors end a command in one place (`_Commands.invoke`): a PolyfleetError prints one line on
stderr and exits with its class's code (1 bad input or a missing extra, 2 infeasible, 3 the
solver failed); commands raise, never print errors themselves.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import UsageError  # typer's bundled click (typer is pinned)
from typer.core import TyperGroup

from polyfleet.errors import InfeasibleError, InputError, MissingExtraError, PolyfleetError
from polyfleet.inputs.cost import COST_DEFAULTS
from polyfleet.service.cli import serve_app

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


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, allow_nan=False, default=_json_default)


def _finite(data: Any, what: str) -> None:
    """Refuse a result with a NaN or infinity before anything is printed or written."""
    from polyfleet.finite import check_finite

    check_finite(data, what)


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
        raise InputError(
            f"unknown vendor; known: {', '.join(cat.vendors)}", field="--vendor", value=vendor
        )
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
    frontier: Annotated[
        bool, typer.Option("--frontier", help="Add the cost-vs-share frontier to the HTML report.")
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
    from polyfleet.inputs.benchmarks import PACKAGED, table_specs
    from polyfleet.inputs.options import PlanOptions, parse_options
    from polyfleet.inputs.scenario import load_scenario
    from polyfleet.plan.placement import make_plan
    from polyfleet.report.files import check_outputs

    t0 = time.perf_counter()
    opts = parse_options(PlanOptions, method=method)
    specs = table_specs(benchmarks)
    inputs = (
        {"SCENARIO": scenario}
        | {f"--profiles {p}": p for p in profiles or []}
        | {f"--benchmarks {b}": Path(b) for b in specs if b != PACKAGED}
    )
    check_outputs({"--out": out, "--html": html}, inputs=inputs)
    loaded = load_scenario(scenario)
    if profiles:
        loaded = loaded.with_profiles(profiles)
    load_s = time.perf_counter() - t0
    changes = None
    if pessimistic:
        from polyfleet.plan.pessimistic import pessimistic_plan

        result, changes = pessimistic_plan(
            loaded, method=opts.method, load_seconds=load_s, benchmarks=specs
        )
    else:
        result = make_plan(loaded, method=opts.method, load_seconds=load_s, benchmarks=specs)
    data = result.to_dict(matrix_cells=matrix)
    if changes is not None:
        data["pessimistic"] = changes
    _finite(data, "plan")
    front = None
    if html is not None and data["status"] == "optimal" and frontier:
        from polyfleet.plan.leverage import share_frontier

        front = share_frontier(result.problem.subset(result.problem.demand > 0)).to_dict()
        _finite(front, "frontier")
    text = _dump(data) if (as_json or out is not None) else ""
    if out is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(out, text)
    if html is not None and data["status"] == "optimal":
        from polyfleet.report.files import write_atomic
        from polyfleet.report.html import render_html

        write_atomic(html, render_html(data, front))
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        from polyfleet.report.terminal import print_plan

        print_plan(data, _console())
    if data["status"] != "optimal":
        where = ""
        if changes is not None:
            where = (
                " at the low end of the throughput intervals (the point plan is "
                f"{changes['point_status']})"
            )
        raise InfeasibleError(
            f"no plan meets every constraint{where}; the diagnosis above says which workloads "
            "and limits fail, and by how much",
            data.get("diagnosis") or {},
            record=data,
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
    from polyfleet.catalog import load_catalog
    from polyfleet.inputs.benchmarks import table_specs
    from polyfleet.perfmodel.fit import calibration_record

    specs = table_specs(benchmarks)
    if not specs:
        raise InputError(
            "calibrate needs a table",
            field="--benchmarks",
            value="none",
            hint="Give --benchmarks FILE, or `packaged` for the shipped table",
        )
    data = calibration_record(specs, load_catalog(), with_holdout=holdout)
    _finite(data, "calibration")
    if as_json:
        typer.echo(_dump(data))
        return
    from polyfleet.report.model_tables import print_calibration_record

    print_calibration_record(data, _console())


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
    from polyfleet.catalog import load_catalog
    from polyfleet.economics.cost import owned_cost
    from polyfleet.inputs.cost import describe
    from polyfleet.inputs.options import TcoOptions, parse_options

    cat = load_catalog()
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
    acc = cat[cat.resolve(accelerator, field="ACCELERATOR")]
    refusal = acc.no_purchase_reason()
    if refusal:
        raise InputError(
            f"{refusal}, so it has no owned cost",
            field="ACCELERATOR",
            value=accelerator,
            hint="Rent it in a scenario pool: cost: {per_gpu_hour: ...}",
        )
    price = opts.capex if opts.capex is not None else acc.price.purchase
    if price is None:
        raise InputError(
            f"the catalog has no purchase price for {acc.id}",
            field="--capex",
            hint="Give --capex (USD per GPU)",
        )
    breakdown = owned_cost(acc, price, opts.cost_terms(), opts.pue, pue_assumed=opts.pue_assumed)
    data = breakdown.to_dict()
    data["gpu_price_source"] = (
        "--capex" if capex is not None else f"catalog: {acc.source_of('price.purchase')}"
    )
    data["gpu_price_unconfirmed"] = capex is None and acc.is_unconfirmed("price.purchase")
    data["catalog_rent_per_gpu_hour"] = acc.price.per_gpu_hour
    data["assumptions"] = describe(data.get("assumed_defaults", ()))
    _finite(data, "tco")
    if as_json:
        typer.echo(_dump(data))
        return
    from polyfleet.report.terminal import assumptions_table, tco_table

    console = _console()
    console.print(tco_table(data, f"Owned cost of one {acc.display_name} hour"))
    note = "" if capex is not None else " (catalog purchase price"
    if note:
        note += ", unconfirmed)" if data["gpu_price_unconfirmed"] else ")"
    console.print(f"GPU price ${price:,.0f}{note}; {opts.years:g} years at {opts.rate:.1%}")
    if acc.price.per_gpu_hour:
        console.print(f"catalog rental price: ${acc.price.per_gpu_hour:.2f} per GPU-hour")
    if data["assumptions"]:
        console.print(assumptions_table(data["assumptions"]))


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
    from polyfleet.economics.deal import value_deal
    from polyfleet.inputs.deal import load_deal, valuation_work
    from polyfleet.inputs.options import DealOptions, parse_options
    from polyfleet.inputs.work import work_problem
    from polyfleet.report.files import check_outputs

    check_outputs({"--html": html}, inputs={"FILE": file})
    opts = parse_options(DealOptions, paths=paths, seed=seed)
    terms = load_deal(file)
    problem = work_problem(valuation_work(terms, paths=opts.paths, sensitivity=sensitivity))
    if problem is not None:
        raise InputError(problem, file=str(file), field="--paths", value=opts.paths)
    valuation = value_deal(
        terms, paths=opts.paths, seed=opts.seed, fan_points=60, sensitivity=sensitivity
    )
    data = valuation.to_dict()
    _finite(data, "deal")
    if html is not None:
        from polyfleet.report.files import write_atomic
        from polyfleet.report.html import render_deal_html

        write_atomic(html, render_deal_html(data))
    if as_json:
        typer.echo(_dump(data))
        return
    from polyfleet.report.terminal import deal_table, sensitivity_table, tco_table

    console = _console()
    console.print(deal_table(data))
    if data.get("warrant", {}).get("sensitivity"):
        console.print(sensitivity_table(data["warrant"]["sensitivity"]))
    console.print(tco_table(data["cost"], f"Cost of one {data['accelerator']} hour under the deal"))
    if data["assumptions"]:
        console.print("assumptions (not public terms): " + escape("; ".join(data["assumptions"])))


def _solvable(scenario: Path) -> Any:
    """The scenario's merged placement problem; an InfeasibleError if a workload cannot be
    served at all."""
    from polyfleet.inputs.scenario import load_scenario
    from polyfleet.plan import diagnose
    from polyfleet.plan.placement import prepare

    prep = prepare(load_scenario(scenario))
    problem = prep.problem
    bad, why = diagnose.unservable(problem)
    if bad.any():
        unservable = [
            {"workload": prep.matrix.workloads[m], "reason": reason}
            for c, reason in zip(bad.nonzero()[0], why, strict=True)
            for m in problem.members[c]
        ]
        first = unservable[0]
        raise InfeasibleError(
            f"{scenario}: workload {first['workload']} cannot be served ({first['reason']}); "
            "run `polyfleet plan` for the diagnosis",
            {"unservable": unservable},
        )
    return problem.subset(problem.demand > 0)


@app.command()
def leverage(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (.yaml or .json).")],
    precision: Annotated[
        float, typer.Option(help="Relative precision of the multipliers.")
    ] = 0.005,
    as_json: JsonOpt = False,
) -> None:
    """Per vendor: the price rise that moves work away, the one that drops it, the lock-in premium."""
    from polyfleet.inputs.options import LeverageOptions, parse_options
    from polyfleet.plan.leverage import leverage as run_leverage

    opts = parse_options(LeverageOptions, precision=precision)
    report = run_leverage(_solvable(scenario), precision=opts.precision)
    data = report.to_dict()
    _finite(data, "leverage")
    if as_json:
        typer.echo(_dump(data))
        return
    from polyfleet.report.terminal import leverage_table

    console = _console()
    console.print(leverage_table(data))


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
    from polyfleet.inputs.options import FrontierOptions, parse_options
    from polyfleet.plan.leverage import share_frontier
    from polyfleet.report.files import check_outputs

    opts = parse_options(FrontierOptions, points=points)
    check_outputs({"--html": html}, inputs={"SCENARIO": scenario})
    result = share_frontier(_solvable(scenario), points=opts.points)
    data = result.to_dict()
    _finite(data, "frontier")
    if html is not None:
        from polyfleet.report.files import write_atomic
        from polyfleet.report.html import render_frontier_html

        write_atomic(html, render_frontier_html(data, str(scenario)))
    if as_json:
        typer.echo(_dump(data))
        return
    from polyfleet.report.terminal import frontier_table

    _console().print(frontier_table(data))


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
    from polyfleet.inputs.procurement import load_procurement
    from polyfleet.plan.procure import procure as run_procure
    from polyfleet.report.files import check_outputs

    check_outputs({"--out": out}, inputs={"FILE": file})
    result = run_procure(load_procurement(file), limit_costs=limit_costs)
    data = result.to_dict()
    _finite(data, "procurement")
    text = _dump(data)
    if out is not None:
        from polyfleet.report.files import write_atomic

        write_atomic(out, text)
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        from polyfleet.report.terminal import print_procurement

        print_procurement(data, _console())
    if data["status"] == "infeasible":
        raise InfeasibleError(
            "the limits cannot all hold; the shortfalls and violations above say which and by "
            "how much",
            {k: data[k] for k in ("shortfalls", "violations") if k in data},
            record=data,
        )


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
    from polyfleet.dispatch.cluster import local_spec, start_local
    from polyfleet.inputs.scenario import load_scenario

    loaded = load_scenario(scenario)
    if local == (address is not None):
        raise InputError(
            "give --local (start a local cluster) or --address (join one)", field="--local"
        )
    if address is not None:
        _show_pools(address, state_dir, [p.name for p in loaded.scenario.pools])
        return
    state = start_local(local_spec(loaded, slots, host_gpus=_host_gpus()), state_dir)
    console = _console()
    console.print(f"local Ray cluster up at {state['address']} (pid {state['pid']}):")
    for node in state["pools"]:
        console.print(
            f"  pool {node['pool']}: {node['accelerator']} ({node['vendor']}), {node['slots']} slots"
        )


def _host_gpus() -> tuple[str, int] | None:
    """(device name, count) of this machine's accelerators, when PyTorch sees any."""
    try:
        from polyfleet.probe.device import discover
    except ImportError:
        return None
    dev = discover()
    return None if dev.type == "cpu" else (dev.name(), dev.count())


def _show_pools(address: str | None, state_dir: Path, expected: list[str] | None = None) -> None:
    from polyfleet.dispatch.cluster import cluster_pools, connect, disconnect

    connect(address, state_dir)
    try:
        pools = cluster_pools()
    finally:
        disconnect()
    console = _console()
    for name, p in sorted(pools.items()):
        console.print(
            f"pool {name}: {p['accelerator']} ({p['vendor']}), {p['free']:g} of {p['slots']:g} "
            f"slots free, {p['alive_nodes']} live node(s)"
        )
    missing = [p for p in expected or [] if p not in pools]
    if missing:
        raise PolyfleetError(f"the cluster has no node for pool(s): {', '.join(missing)}")


@cluster_app.command("down")
def cluster_down(state_dir: StateDirOpt = Path(".polyfleet")) -> None:
    """Stop the local cluster `cluster up --local` started."""
    from polyfleet.dispatch.cluster import stop_local

    _console().print(escape(stop_local(state_dir)))


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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from polyfleet.dispatch.cluster import cluster_pools, connect, disconnect
    from polyfleet.dispatch.ledger import Ledger, check_ledger
    from polyfleet.dispatch.plan_file import load_plan
    from polyfleet.dispatch.runner import match_plan, run_jobs, validate
    from polyfleet.inputs.jobs import load_jobs
    from polyfleet.inputs.options import RunOptions, parse_options
    from polyfleet.report.files import check_outputs

    ledger_path = state_dir / "ledger.sqlite"
    try:
        # every input and output is checked before the cluster or the ledger is touched
        opts = parse_options(RunOptions, retries=retries, timeout=timeout)
        job_list = load_jobs(jobs)
        plan_data = match_plan(job_list, load_plan(plan), jobs_file=jobs, plan_file=plan)
        probes = any(j.run.get("probe") for j in job_list)
        check_outputs(
            folders={"--profiles-out": profiles_out if probes else None, "--state-dir": state_dir},
            inputs={"JOBS": jobs, "--plan": plan},
        )
        source = str(jobs.resolve())
        check_ledger(ledger_path, ((j.id, j.workload, j.run) for j in job_list), source)
        connect(address, state_dir)
        validate(job_list, plan_data, cluster_pools(), jobs_file=jobs, plan_file=plan)
        columns = (
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )

        def waiting(holder: str) -> None:
            err_console.print(
                f"waiting for the run that is using {escape(str(ledger_path))} ({holder})"
            )

        with (
            Ledger(ledger_path, wait=wait, on_wait=waiting) as ledger,
            Progress(*columns, console=err_console) as bars,
        ):
            tasks = {
                s: bars.add_task(s, total=len(job_list))
                for s in ("succeeded", "failed", "rerouted")
            }

            def show(counts: dict[str, int]) -> None:
                for s, t in tasks.items():
                    bars.update(t, completed=counts.get(s, 0))

            report = run_jobs(
                job_list,
                plan_data,
                ledger,
                source=source,
                retries=opts.retries,
                profiles_dir=profiles_out,
                on_change=show,
                timeout_s=opts.timeout,
            )
    finally:
        disconnect()
    if as_json:
        typer.echo(_dump(report.to_dict()))
    else:
        c = report.counts
        _console().print(
            f"{c['succeeded']} succeeded, {c['failed']} failed, {report.rerouted} re-routed, in "
            f"{report.seconds:.1f} s; ledger {ledger_path}"
            + (f"; {len(report.profiles)} profile(s) in {profiles_out}" if report.profiles else "")
        )
    for note in report.notes(ledger_path):
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if report.counts["failed"] or report.unknown:
        raise typer.Exit(EXIT_INPUT)


@app.command()
def status(
    state_dir: StateDirOpt = Path(".polyfleet"),
    address: Annotated[str | None, typer.Option(help="Also show this cluster's pools.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Jobs by state and pool (from the ledger), and the cluster's pools when one is reachable."""
    from polyfleet.dispatch.cluster import cluster_pools, connect, disconnect, read_state
    from polyfleet.dispatch.ledger import Ledger, unknown_states

    ledger_path = state_dir / "ledger.sqlite"
    data: dict[str, Any] = {"ledger": str(ledger_path), "jobs": {}, "pools": {}, "failed": []}
    found = ledger_path.exists() or ledger_path.is_symlink()
    if state_dir.exists() and not state_dir.is_dir():
        raise InputError("is a file, not a folder", field="--state-dir", value=str(state_dir))
    if found:
        with Ledger(ledger_path, readonly=True) as ledger:
            data["jobs"] = ledger.counts()
            data["by_pool"] = ledger.by_pool()
            data["failed"] = [
                {"id": j["id"], "error": j["error"], "path": j["path"]}
                for j in ledger.jobs("failed")[:50]
            ]
        data["unknown_states"] = unknown_states(data["jobs"])
    try:
        if address is not None or read_state(state_dir) is not None:
            connect(address, state_dir)
            data["pools"] = cluster_pools()
    except MissingExtraError:
        raise  # not the cluster's state: this install cannot reach any cluster
    except Exception as exc:  # a cluster that is down or unreadable is reported, not fatal
        data["cluster_error"] = str(exc)
    finally:
        disconnect()
    if as_json:
        typer.echo(_dump(data))
        return
    from polyfleet.report.terminal import status_tables

    console = _console()
    if not found:
        console.print(f"no jobs yet: `polyfleet run` records them in {ledger_path}")
    for table in status_tables(data):
        console.print(table)
    if data.get("cluster_error"):
        console.print(f"[yellow]cluster:[/yellow] {escape(data['cluster_error'])}")
    if data.get("unknown_states"):
        states = ", ".join(f"{n} in state {s!r}" for s, n in data["unknown_states"].items())
        console.print(
            f"[red]jobs in states polyfleet does not know:[/red] {escape(states)}; they are never "
            f"run: {escape(str(ledger_path))} was changed by another program"
        )


class _BarProgress:
    """One rich progress bar per workload, on stderr so `--json` output stays clean."""

    def __init__(self, progress: Any) -> None:
        self._p = progress
        self._task: Any = None

    def begin(self, workload: str, steps: int) -> None:
        self._task = self._p.add_task(workload, total=max(steps, 1))
        self._total = steps

    def add_steps(self, steps: int) -> None:
        self._total += steps
        self._p.update(self._task, total=self._total)

    def advance(self) -> None:
        self._p.advance(self._task)

    def end(self) -> None:
        self._p.update(self._task, completed=self._total, total=max(self._total, 1))


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
    try:
        from polyfleet.probe.device import discover
        from polyfleet.probe.suite import WORKLOADS, run_suite
    except ImportError as exc:  # torch is in the `probe` extra
        raise MissingExtraError("polyfleet probe", extra="probe", missing=exc.name) from None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from polyfleet import __version__
    from polyfleet.catalog import load_catalog
    from polyfleet.report.files import check_outputs

    check_outputs({"--out": out})
    names = [n.strip() for n in only.split(",") if n.strip()] if only else list(WORKLOADS)
    dev = discover(device, force_cpu=cpu)
    columns = (
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bars:
        profile = run_suite(
            dev,
            load_catalog(),
            preset=preset,
            only=names,
            accelerator=as_id,
            progress=_BarProgress(bars),
            polyfleet_version=__version__,
        )
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
