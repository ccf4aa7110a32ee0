"""The application layer, called directly (no command line): one function per command, each
returning its result record; errors raised, never printed; progress through a callback. And the
command line as an adapter: it imports no domain module, and no module is over ~600 lines."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from polyfleet import app as api
from polyfleet.errors import InfeasibleError, InputError
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
from polyfleet.results.calibration import CalibrationRecord
from polyfleet.results.catalog import CatalogRecord
from polyfleet.results.deal import DealRecord
from polyfleet.results.frontier import FrontierRecord
from polyfleet.results.leverage import LeverageRecord
from polyfleet.results.plan import PlanRecord
from polyfleet.results.procurement import ProcurementRecord
from polyfleet.results.run import StatusRecord
from polyfleet.results.tco import TcoRecord

from .conftest import write

ROOT = Path(__file__).parent.parent
SRC = ROOT / "src" / "polyfleet"
EXAMPLES = ROOT / "examples"


def test_catalog_returns_the_record_of_one_vendor():
    record = api.catalog("amd")
    assert isinstance(record, CatalogRecord) and record.format == "polyfleet.catalog"
    assert {a.vendor for a in record.accelerators} == {"amd"}
    assert record.references and all(a.sources for a in record.accelerators)
    with pytest.raises(InputError, match="unknown vendor") as err:
        api.catalog("acme")
    assert err.value.field == "--vendor"


def test_plan_returns_the_record_and_reports_progress(base, tmp_path):
    events = []
    record = api.plan(
        write(tmp_path, base), PlanOptions(matrix=False, frontier=True), on_progress=events.append
    )
    assert isinstance(record, PlanRecord) and record.status == "optimal"
    # 100 jobs/s at $1 per job/s-hour on either pool (H100: $2/h for 2 jobs/s; MI300X: $1/h for 1)
    assert record.cost_per_hour == pytest.approx(100.0, rel=1e-9)
    assert record.matrix is None and record.frontier is not None
    assert sum(a.served for a in record.assignments or ()) == pytest.approx(100.0, rel=1e-9)
    tasks = [(e.task, e.done, e.total) for e in events]
    assert tasks[:2] == [("load", 0, 1), ("load", 1, 1)] and ("solve", 1, 1) in tasks
    assert ("frontier", 1, 1) in tasks


def test_an_infeasible_plan_is_an_answer_not_an_error(base, tmp_path):
    base["workloads"][0]["demand"]["value"] = 1000.0
    record = api.plan(write(tmp_path, base), PlanOptions(matrix=False))
    assert record.status == "infeasible" and record.assignments is None
    assert record.diagnosis is not None and record.diagnosis.shortfalls
    assert record.diagnosis.shortfalls[0].short_by == pytest.approx(700.0, rel=1e-6)


def test_leverage_and_frontier_return_records_and_refuse_an_unservable_fleet(base, tmp_path):
    path = write(tmp_path, base)
    lev = api.leverage(path, LeverageOptions(precision=0.01))
    assert isinstance(lev, LeverageRecord) and {v.vendor for v in lev.vendors} == {"amd", "nvidia"}
    front = api.frontier(path, FrontierOptions(points=20))
    assert isinstance(front, FrontierRecord) and len(front.points) == 20
    base["workloads"][0]["throughput"] = {"h100-sxm": 0.001, "mi300x": 0.001}
    base["workloads"][0]["max_accelerators"] = 1
    bad = write(tmp_path, base, "bad.yaml")
    for call in (api.leverage, api.frontier):
        with pytest.raises(InfeasibleError, match="cannot be served") as err:
            call(bad)
        assert err.value.diagnosis["unservable"][0]["workload"] == "job"


def test_leverage_and_frontier_report_each_step(base, tmp_path):
    """A long leverage or frontier run tells its progress step by step, not only at its end."""
    path = write(tmp_path, base)
    events = []
    api.leverage(path, LeverageOptions(precision=0.01), on_progress=events.append)
    search = [(e.done, e.total) for e in events if e.task == "search"]
    assert search == [(1, 2), (2, 2)]  # one step per vendor
    events.clear()
    front = api.frontier(path, FrontierOptions(points=20), on_progress=events.append)
    sweep = [(e.done, e.total) for e in events if e.task == "sweep"]
    assert sweep == [(i, len(front.points)) for i in range(1, len(front.points) + 1)]


def test_tco_deal_procure_calibrate_return_their_records():
    tco = api.tco("mi355x", TcoOptions(capex=25_000))
    assert isinstance(tco, TcoRecord) and tco.gpu_price_source == "--capex"
    assert tco.capital_per_gpu["gpu"] == 25_000 and tco.amortize_years == 5.0
    deal = api.deal(EXAMPLES / "deals" / "amd-6gw.yaml", DealOptions(paths=2000, sensitivity=False))
    assert isinstance(deal, DealRecord) and deal.warrant is not None
    assert deal.warrant.paths == 2000 and deal.warrant.sensitivity == []
    with pytest.raises(InputError, match="path-steps") as err:
        api.deal(EXAMPLES / "deals" / "amd-6gw.yaml", DealOptions(paths=1e12))
    assert err.value.field == "--paths" and err.value.file.endswith("amd-6gw.yaml")
    proc = api.procure(EXAMPLES / "buildout-2027-2030.yaml", ProcureOptions(limit_costs=False))
    assert isinstance(proc, ProcurementRecord) and proc.status == "optimal"
    assert proc.binding_limits == [] and proc.schedule
    cal = api.calibrate(CalibrateOptions(holdout=True))
    assert isinstance(cal, CalibrationRecord) and cal.holdout is not None and cal.factors
    with pytest.raises(InputError, match="calibrate needs a table"):
        api.calibrate(CalibrateOptions(benchmarks=()))


def test_probe_returns_a_profile_and_reports_each_workload():
    pytest.importorskip("torch")
    events = []
    profile = api.probe(ProbeOptions(only=("copy",), cpu=True), on_progress=events.append)
    assert profile.format == "polyfleet-profile" and profile.device.kind == "cpu"
    assert {r.workload for r in profile.results} == {"copy"}
    last = [e for e in events if e.task == "copy"][-1]
    assert last.total is not None and last.done == last.total > 0


def test_status_without_a_ledger_and_run_refuses_a_bad_plan_before_the_ledger(tmp_path):
    record = api.status(StatusOptions(state_dir=tmp_path / "state"))
    assert isinstance(record, StatusRecord) and record.jobs == {} and record.by_pool is None
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n- {id: j0, workload: w, run: {entry: 'polyfleet.dispatch.demo:noop'}}\n"
    )
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format": "polyfleet.leverage", "schema_version": 1}))
    options = RunOptions(state_dir=tmp_path / "state")
    with pytest.raises(InputError, match=r"not a polyfleet\.plan record") as err:
        api.run(jobs, plan, options)
    assert err.value.field == "format" and not (tmp_path / "state").exists()


# ---- the command line is an adapter --------------------------------------------------------

#: what a command-line module may not import at its top: the domain belongs to polyfleet.app
DOMAIN = ("polyfleet.plan", "polyfleet.economics", "polyfleet.perfmodel", "polyfleet.dispatch")


def _top_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out = []
    for node in tree.body:  # module level only: a command may import its renderer lazily
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
    return out


def test_the_command_line_imports_no_domain_module():
    files = sorted((SRC / "cli").glob("*.py"))
    assert len(files) >= 5
    for path in files:
        bad = [m for m in _top_level_imports(path) if m.startswith(DOMAIN)]
        assert not bad, f"{path.name} imports {bad} at module level"
    # and none inside a command either: every domain step goes through polyfleet.app
    for path in files:
        tree = ast.parse(path.read_text("utf-8"))
        inner = [
            n.module
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith(DOMAIN)
        ]
        assert not inner, f"{path.name} imports {inner}"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, polyfleet.cli\n"
            "print([m for m in sys.modules if m.startswith(" + repr(DOMAIN) + ")])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


#: modules allowed past the line limit, each with its reason (none today)
LONG_MODULES: dict[str, str] = {}
MAX_LINES = 600


def test_no_module_is_over_600_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) <= set(LONG_MODULES), f"modules over {MAX_LINES} lines: {long}"
