"""The application layer: one function per command, from paths (or validated inputs) and an
options model to a versioned result record.

The command line and the team service call these and nothing below them, so a planning sequence
exists once. They print nothing, render nothing and choose no exit code: errors are raised
(a PolyfleetError says which exit code it means), infeasibility of a plan or a procurement is an
answer (a record with status "infeasible"), and progress goes to an optional callback. Heavy
modules load inside the functions: importing this module loads no solver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyfleet.errors import InfeasibleError, InputError, MissingExtraError
from polyfleet.inputs.options import (
    CalibrateOptions,
    DealOptions,
    FrontierOptions,
    LeverageOptions,
    PlanOptions,
    ProbeOptions,
    ProcureOptions,
    RunOptions,
    StatusOptions,
    TcoOptions,
)

if TYPE_CHECKING:
    from polyfleet.inputs.profile import Profile
    from polyfleet.inputs.scenario import LoadedScenario
    from polyfleet.perfmodel.matrix import ThroughputMatrix
    from polyfleet.plan.problem import PlacementProblem
    from polyfleet.results.build import BuildVsBuyRecord
    from polyfleet.results.calibration import CalibrationRecord
    from polyfleet.results.catalog import CatalogRecord
    from polyfleet.results.deal import DealRecord
    from polyfleet.results.frontier import FrontierRecord
    from polyfleet.results.leverage import LeverageRecord
    from polyfleet.results.plan import PlanRecord
    from polyfleet.results.procurement import ProcurementRecord
    from polyfleet.results.run import ClusterRecord, RunRecord, StatusRecord
    from polyfleet.results.tco import TcoRecord

__all__ = [
    "OnProgress",
    "Progress",
    "build_vs_buy",
    "calibrate",
    "catalog",
    "cluster_down",
    "cluster_up",
    "deal",
    "frontier",
    "leverage",
    "plan",
    "probe",
    "procure",
    "run",
    "status",
    "tco",
]


@dataclass(frozen=True)
class Progress:
    """One step of a long command: `done` of `total` for `task` (a stage, a probe workload, a
    job state), or a `message` to show as it is (a run waiting for the ledger)."""

    task: str
    done: float = 0.0
    total: float | None = None
    message: str = ""


OnProgress = Callable[[Progress], None]


def _tell(on_progress: OnProgress | None, task: str, done: float, total: float | None) -> None:
    if on_progress is not None:
        on_progress(Progress(task, done, total))


# ---- catalog, tco, deal, procurement ----------------------------------------------------------


def catalog(vendor: str | None = None) -> CatalogRecord:
    """The packaged accelerator catalog (one vendor's part of it), with every figure's source."""
    from polyfleet.catalog import load_catalog
    from polyfleet.catalog._catalog import references
    from polyfleet.results.catalog import CatalogRecord

    cat = load_catalog()
    if vendor is not None and vendor.lower() not in cat.vendors:
        raise InputError(
            f"unknown vendor; known: {', '.join(cat.vendors)}", field="--vendor", value=vendor
        )
    return CatalogRecord.build({"accelerators": cat.table_rows(vendor), "references": references()})


def tco(accelerator: str, options: TcoOptions | None = None) -> TcoRecord:
    """The owned cost of one accelerator-hour, component by component, and GPUs per gigawatt;
    terms the options leave out take the documented defaults and are listed as assumed."""
    from polyfleet.catalog import load_catalog
    from polyfleet.economics.cost import owned_cost
    from polyfleet.inputs.cost import describe
    from polyfleet.results.tco import TcoRecord

    opts = options or TcoOptions()
    cat = load_catalog()
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
    given = opts.capex is not None
    terms = opts.cost_terms()
    data["accelerator_name"] = acc.display_name
    data["amortize_years"] = terms.amortize_years
    data["cost_of_capital"] = terms.cost_of_capital
    data["gpu_price_source"] = "--capex" if given else f"catalog: {acc.source_of('price.purchase')}"
    data["gpu_price_unconfirmed"] = not given and acc.is_unconfirmed("price.purchase")
    data["catalog_rent_per_gpu_hour"] = acc.price.per_gpu_hour
    data["assumptions"] = describe(breakdown.assumed)
    return TcoRecord.build(data)


def deal(file: str | Path, options: DealOptions | None = None) -> DealRecord:
    """Value a supply deal's warrant by Monte Carlo and net it against the hardware cost. A
    valuation over the Monte Carlo work limit is refused before anything is simulated."""
    from polyfleet.economics.deal import value_deal
    from polyfleet.inputs.deal import load_deal, valuation_work
    from polyfleet.inputs.work import work_problem
    from polyfleet.results.deal import DealRecord

    opts = options or DealOptions()
    terms = load_deal(file)
    work = valuation_work(terms, paths=opts.paths, sensitivity=opts.sensitivity)
    problem = work_problem(work)
    if problem is not None:
        raise InputError(problem, file=str(file), field="--paths", value=opts.paths)
    valuation = value_deal(
        terms, paths=opts.paths, seed=opts.seed, fan_points=60, sensitivity=opts.sensitivity
    )
    return DealRecord.build(valuation.to_dict())


def procure(file: str | Path, options: ProcureOptions | None = None) -> ProcurementRecord:
    """What to buy, year by year (a MILP). Limits that cannot all hold are an answer: the record
    has status "infeasible" with the shortfalls and violations. `lock_in`: each vendor's lock-in
    premium, the file re-solved with that vendor's parts only."""
    from polyfleet.inputs.procurement import load_procurement
    from polyfleet.plan.procure import procure as run_procure
    from polyfleet.results.procurement import ProcurementRecord

    opts = options or ProcureOptions()
    loaded = load_procurement(file)
    data = run_procure(loaded, limit_costs=opts.limit_costs).to_dict()
    if opts.lock_in:
        from polyfleet.plan.procure_lock_in import lock_in

        data["lock_in"] = lock_in(loaded)
    return ProcurementRecord.build(data)


def build_vs_buy(file: str | Path) -> BuildVsBuyRecord:
    """An in-house accelerator against buying (or renting) a catalogued part for the same work:
    break-even volume, cost by year, and the expected value with the slip risk."""
    from polyfleet.economics.build import build_vs_buy as weigh
    from polyfleet.inputs.build import load_build_file
    from polyfleet.results.build import BuildVsBuyRecord

    return BuildVsBuyRecord.build(weigh(load_build_file(file)))


def calibrate(options: CalibrateOptions | None = None) -> CalibrationRecord:
    """Fit a factor per software stack and workload kind to tables of published results."""
    from polyfleet.catalog import load_catalog
    from polyfleet.perfmodel.fit import calibration_record
    from polyfleet.results.calibration import CalibrationRecord

    opts = options or CalibrateOptions()
    if not opts.benchmarks:
        raise InputError(
            "calibrate needs a table",
            field="--benchmarks",
            value="none",
            hint="Give --benchmarks FILE, or `packaged` for the shipped table",
        )
    data = calibration_record(opts.benchmarks, load_catalog(), with_holdout=opts.holdout)
    return CalibrationRecord.build(data)


# ---- placement ----------------------------------------------------------------------------


def plan(
    scenario: str | Path,
    options: PlanOptions | None = None,
    *,
    on_progress: OnProgress | None = None,
    on_matrix: Callable[[ThroughputMatrix], None] | None = None,
) -> PlanRecord:
    """Place the scenario's workloads on its pools within every limit. An infeasible scenario is
    an answer: the record has status "infeasible" and the diagnosis (which workloads, which
    limits, by how much). `pessimistic`: solved with every estimated cell at the low end of its
    interval, the record saying what changes against the point plan. `on_matrix` is handed the
    throughput matrix the plan used (for a side file: the record holds it only with `matrix`)."""
    from polyfleet.inputs.scenario import load_scenario
    from polyfleet.plan.placement import make_plan
    from polyfleet.results.plan import PlanRecord

    opts = options or PlanOptions()
    t0 = time.perf_counter()
    _tell(on_progress, "load", 0, 1)
    loaded = load_scenario(scenario)
    if opts.profiles:
        loaded = loaded.with_profiles(opts.profiles)
    _tell(on_progress, "load", 1, 1)
    _tell(on_progress, "solve", 0, 1)
    load_s = time.perf_counter() - t0
    changes = None
    if opts.pessimistic:
        from polyfleet.plan.pessimistic import pessimistic_plan

        result, changes = pessimistic_plan(
            loaded, method=opts.method, load_seconds=load_s, benchmarks=opts.benchmarks
        )
    else:
        result = make_plan(
            loaded, method=opts.method, load_seconds=load_s, benchmarks=opts.benchmarks
        )
    _tell(on_progress, "solve", 1, 1)
    if on_matrix is not None:
        on_matrix(result.matrix)
    data = result.to_dict(matrix_cells=opts.matrix)
    if changes is not None:
        data["pessimistic"] = changes
    if opts.frontier and result.status == "optimal":
        from polyfleet.plan.leverage import share_frontier

        _tell(on_progress, "frontier", 0, 1)
        problem = result.problem
        data["frontier"] = share_frontier(problem.subset(problem.demand > 0)).to_dict()
        _tell(on_progress, "frontier", 1, 1)
    return PlanRecord.build(data)


def _solvable(scenario: str | Path) -> PlacementProblem:
    """The scenario's merged placement problem, without workloads of no demand; an
    InfeasibleError (naming the first) if a workload cannot be served at all."""
    from polyfleet.inputs.scenario import load_scenario

    return _servable(load_scenario(scenario), scenario)


def _servable(loaded: LoadedScenario, scenario: str | Path) -> PlacementProblem:
    from polyfleet.plan import diagnose
    from polyfleet.plan.placement import prepare

    prep = prepare(loaded)
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


def leverage(
    scenario: str | Path,
    options: LeverageOptions | None = None,
    *,
    on_progress: OnProgress | None = None,
) -> LeverageRecord:
    """Per vendor: the price rise that moves work away, the one that drops it, the lock-in
    premium and the share limits' cost; where the scenario can buy or build, each vendor's
    greenfield premium and its switching price with the in-house option. A scenario with no
    feasible plan is an InfeasibleError. With `address` or `workers`, the vendors' searches run
    as tasks on a Ray cluster (the same record as here)."""
    from polyfleet.inputs.scenario import load_scenario
    from polyfleet.parallel import cluster_map
    from polyfleet.plan.leverage import leverage as run_leverage
    from polyfleet.results.leverage import LeverageRecord

    opts = options or LeverageOptions()
    _tell(on_progress, "prepare", 0, 1)
    loaded = load_scenario(scenario)
    problem = _servable(loaded, scenario)
    _tell(on_progress, "prepare", 1, 1)
    with cluster_map(opts.address, opts.workers) as mapper:
        report = run_leverage(
            problem,
            precision=opts.precision,
            mapper=mapper,
            on_step=lambda done, total: _tell(on_progress, "search", done, total),
        )
    data = report.to_dict()
    scn = loaded.scenario
    if any(p.purchasable for p in scn.pools) or loaded.candidates or scn.builds:
        from polyfleet.plan.greenfield import with_greenfield

        _tell(on_progress, "greenfield", 0, 1)
        data = with_greenfield(data, loaded, opts.precision)
        _tell(on_progress, "greenfield", 1, 1)
    else:
        data["greenfield_note"] = (
            "nothing can be bought or built: mark pools `purchasable` or give `builds:` for "
            "the lock-in premium if you bought accordingly"
        )
    return LeverageRecord.build(data)


def frontier(
    scenario: str | Path,
    options: FrontierOptions | None = None,
    *,
    on_progress: OnProgress | None = None,
) -> FrontierRecord:
    """Least cost against the largest vendor's maximum share, from 1 down to the lowest
    feasible share, with the knee. A scenario with no feasible plan is an InfeasibleError.
    With `address` or `workers`, the points run as tasks on a Ray cluster (the same record)."""
    from polyfleet.parallel import cluster_map
    from polyfleet.plan.leverage import share_frontier
    from polyfleet.results.frontier import FrontierRecord

    opts = options or FrontierOptions()
    _tell(on_progress, "prepare", 0, 1)
    problem = _solvable(scenario)
    _tell(on_progress, "prepare", 1, 1)
    with cluster_map(opts.address, opts.workers) as mapper:
        result = share_frontier(
            problem,
            points=opts.points,
            mapper=mapper,
            on_step=lambda done, total: _tell(on_progress, "sweep", done, total),
        )
    return FrontierRecord.build(result.to_dict())


# ---- probe --------------------------------------------------------------------------------


class _SuiteProgress:
    """The probe suite's progress (begin / add_steps / advance / end per workload) as events."""

    def __init__(self, on_progress: OnProgress | None) -> None:
        self._tell = on_progress
        self._task = ""
        self._done = 0
        self._total = 0

    def _send(self) -> None:
        _tell(self._tell, self._task, self._done, max(self._total, 1))

    def begin(self, workload: str, steps: int) -> None:
        self._task, self._done, self._total = workload, 0, steps
        self._send()

    def add_steps(self, steps: int) -> None:
        self._total += steps
        self._send()

    def advance(self) -> None:
        self._done += 1
        self._send()

    def end(self) -> None:
        self._done = self._total = max(self._total, self._done)
        self._send()


def probe(options: ProbeOptions | None = None, *, on_progress: OnProgress | None = None) -> Profile:
    """Run the workload suite on this machine's accelerator (or CPU) and return its profile."""
    try:
        from polyfleet.probe.device import discover
        from polyfleet.probe.suite import WORKLOADS, run_suite
    except ImportError as exc:  # torch is in the `probe` extra
        raise MissingExtraError("polyfleet probe", extra="probe", missing=exc.name) from None
    from polyfleet import __version__
    from polyfleet.catalog import load_catalog

    opts = options or ProbeOptions()
    names = list(opts.only) if opts.only else list(WORKLOADS)
    dev = discover(opts.device, force_cpu=opts.cpu)
    return run_suite(
        dev,
        load_catalog(),
        preset=opts.preset,
        only=names,
        accelerator=opts.accelerator,
        progress=_SuiteProgress(on_progress),
        polyfleet_version=__version__,
    )


# ---- dispatch -----------------------------------------------------------------------------


def run(
    jobs: str | Path,
    plan_file: str | Path,
    options: RunOptions | None = None,
    *,
    on_progress: OnProgress | None = None,
) -> RunRecord:
    """Dispatch a job file's jobs to the pools the plan chose, re-routing when a pool is lost.

    Every input and output is checked before the cluster or the ledger is touched: the job file,
    the plan (its record), the folders the run writes, the ledger. One run at a time per ledger:
    another is refused, or with `wait`, starts when the first ends (a progress message says so).
    Progress: the jobs succeeded, failed and re-routed so far, of all the file's jobs."""
    from polyfleet.dispatch.cluster import cluster_pools, connect, disconnect
    from polyfleet.dispatch.ledger import Ledger, check_ledger
    from polyfleet.dispatch.runner import match_plan, run_jobs, validate
    from polyfleet.inputs.jobs import load_jobs
    from polyfleet.report.files import check_outputs
    from polyfleet.results.plan import load_plan

    opts = options or RunOptions()
    jobs, plan_file = Path(jobs), Path(plan_file)
    ledger_path = opts.state_dir / "ledger.sqlite"
    try:
        job_list = load_jobs(jobs)
        plan_record = match_plan(
            job_list, load_plan(plan_file), jobs_file=jobs, plan_file=plan_file
        )
        probes = any(j.run.get("probe") for j in job_list)
        check_outputs(
            folders={
                "--profiles-out": opts.profiles_out if probes else None,
                "--state-dir": opts.state_dir,
            },
            inputs={"JOBS": jobs, "--plan": plan_file},
        )
        source = str(jobs.resolve())
        check_ledger(ledger_path, ((j.id, j.workload, j.run) for j in job_list), source)
        connect(opts.address, opts.state_dir)
        validate(job_list, plan_record, cluster_pools(), jobs_file=jobs, plan_file=plan_file)

        def waiting(holder: str) -> None:
            if on_progress is not None:
                message = f"waiting for the run that is using {ledger_path} ({holder})"
                on_progress(Progress("waiting", message=message))

        def show(counts: dict[str, int]) -> None:
            for state in ("succeeded", "failed", "rerouted"):
                _tell(on_progress, state, counts.get(state, 0), len(job_list))

        with Ledger(ledger_path, wait=opts.wait, on_wait=waiting) as ledger:
            show({})
            report = run_jobs(
                job_list,
                plan_record,
                ledger,
                source=source,
                retries=opts.retries,
                profiles_dir=opts.profiles_out,
                on_change=show,
                timeout_s=opts.timeout,
            )
    finally:
        disconnect()
    return report.record(ledger_path)


def status(options: StatusOptions | None = None) -> StatusRecord:
    """Jobs by state and pool (from the ledger), and the cluster's pools when one is reachable;
    a cluster that is down or unreadable is reported in the record, not raised."""
    from polyfleet.dispatch.cluster import cluster_pools, connect, disconnect, read_state
    from polyfleet.dispatch.ledger import Ledger, unknown_states
    from polyfleet.results.run import StatusRecord

    opts = options or StatusOptions()
    state_dir = opts.state_dir
    ledger_path = state_dir / "ledger.sqlite"
    data: dict[str, Any] = {"ledger": str(ledger_path), "jobs": {}, "pools": {}, "failed": []}
    if state_dir.exists() and not state_dir.is_dir():
        raise InputError("is a file, not a folder", field="--state-dir", value=str(state_dir))
    if ledger_path.exists() or ledger_path.is_symlink():
        with Ledger(ledger_path, readonly=True) as ledger:
            data["jobs"] = ledger.counts()
            data["by_pool"] = ledger.by_pool()
            data["failed"] = [
                {"id": j["id"], "error": j["error"], "path": j["path"]}
                for j in ledger.jobs("failed")[:50]
            ]
        data["unknown_states"] = unknown_states(data["jobs"])
    try:
        if opts.address is not None or read_state(state_dir) is not None:
            connect(opts.address, state_dir)
            data["pools"] = cluster_pools()
    except MissingExtraError:
        raise  # not the cluster's state: this install cannot reach any cluster
    except Exception as exc:  # a cluster that is down or unreadable is reported, not fatal
        data["cluster_error"] = str(exc)
    finally:
        disconnect()
    return StatusRecord.build(data)


def _host_gpus() -> tuple[str, int] | None:
    """(device name, count) of this machine's accelerators, when PyTorch sees any."""
    try:
        from polyfleet.probe.device import discover
    except ImportError:
        return None
    dev = discover()
    return None if dev.type == "cpu" else (dev.name(), dev.count())


def cluster_up(
    scenario: str | Path,
    *,
    local: bool = False,
    address: str | None = None,
    slots: int = 32,
    state_dir: Path = Path(".polyfleet"),
) -> ClusterRecord:
    """Start a local cluster with one Ray node per pool of the scenario (`local`), or read the
    pools of the cluster at `address`; the record lists the scenario's pools it lacks."""
    from polyfleet.dispatch.cluster import local_spec, start_local
    from polyfleet.inputs.scenario import load_scenario
    from polyfleet.results.run import ClusterRecord

    loaded = load_scenario(scenario)
    if local == (address is not None):
        raise InputError(
            "give --local (start a local cluster) or --address (join one)", field="--local"
        )
    if address is not None:
        pools = _read_pools(address, state_dir)
        expected = [p.name for p in loaded.scenario.pools]
        missing = [p for p in expected if p not in pools]
        return ClusterRecord.build({"address": address, "pools": pools, "missing": missing})
    state = start_local(local_spec(loaded, slots, host_gpus=_host_gpus()), state_dir)
    return ClusterRecord.build(
        {"address": state["address"], "pid": state["pid"], "nodes": state["pools"]}
    )


def _read_pools(address: str | None, state_dir: Path) -> dict[str, Any]:
    """The pools of the cluster at `address` (None: the local one)."""
    from polyfleet.dispatch import cluster

    cluster.connect(address, state_dir)
    try:
        return cluster.cluster_pools()
    finally:
        cluster.disconnect()


def cluster_down(state_dir: Path = Path(".polyfleet")) -> str:
    """Stop the local cluster `cluster_up(local=True)` started; says what it did."""
    from polyfleet.dispatch.cluster import stop_local

    return stop_local(state_dir)
