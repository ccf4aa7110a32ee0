"""Dispatch on a real local Ray cluster (one node per pool): routing, pinning, node loss, profiles,
and refusal of bad input before anything is submitted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from polyfleet.dispatch.cluster import cluster_pools, node_labels, node_resources  # noqa: E402
from polyfleet.dispatch.ledger import Ledger  # noqa: E402
from polyfleet.dispatch.runner import run_jobs, validate  # noqa: E402
from polyfleet.errors import InputError, PolyfleetError  # noqa: E402
from polyfleet.inputs.jobs import Job, load_jobs  # noqa: E402
from polyfleet.plan.placement import make_plan  # noqa: E402
from polyfleet.results.plan import PlanRecord  # noqa: E402

from ..conftest import load  # noqa: E402
from .plans import plan_record  # noqa: E402

SCENARIO: dict[str, Any] = {
    "name": "three-pools",
    "pools": [
        {
            "name": "nv",
            "accelerator": "h100-sxm",
            "count": 100,
            "pue": 1.0,
            "cost": {"per_gpu_hour": 2.0},
        },
        {
            "name": "amd",
            "accelerator": "mi300x",
            "count": 100,
            "pue": 1.0,
            "cost": {"per_gpu_hour": 1.2},
        },
        {
            "name": "spare",
            "accelerator": "mi325x",
            "count": 10,
            "pue": 1.0,
            "cost": {"per_gpu_hour": 9.0},
        },
    ],
    "workloads": [
        {
            "name": "job",
            "kind": "custom",
            "demand": {"value": 250.0, "unit": "jobs/s"},
            "throughput": {"h100-sxm": 2.0, "mi300x": 1.0},
        },
        {
            "name": "other",
            "kind": "custom",
            "demand": {"value": 5.0, "unit": "jobs/s"},
            "throughput": {"mi325x": 1.0},
        },
    ],
}


def plan_for_tests() -> dict[str, Any]:
    """The planner's plan for SCENARIO (it splits `job` over nv and amd, `other` onto spare)."""
    plan = make_plan(load(copy.deepcopy(SCENARIO))).to_dict(matrix_cells=False)
    return PlanRecord.build(plan).model_dump(mode="json")


def start_cluster(pools: dict[str, int]) -> tuple[Cluster, dict[str, Any]]:
    """A local cluster with one node per pool; returns it and each pool's node."""
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
    )
    handles = {}
    accs = {p["name"]: p["accelerator"] for p in SCENARIO["pools"]}
    vendors = {"h100-sxm": "nvidia", "mi300x": "amd", "mi325x": "amd"}
    for name, slots in pools.items():
        node = {
            "pool": name,
            "accelerator": accs[name],
            "vendor": vendors[accs[name]],
            "slots": slots,
        }
        handles[name] = cluster.add_node(
            num_cpus=1, resources=node_resources(node), labels=node_labels(node)
        )
    cluster.wait_for_nodes()
    return cluster, handles


@pytest.fixture(scope="module")
def cluster():
    c, _ = start_cluster({"nv": 4, "amd": 4, "spare": 2})
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def make_jobs(n: int, workload: str = "job", **run: Any) -> list[Job]:
    spec = run or {"entry": "polyfleet.dispatch.demo:noop", "args": {}}
    return [Job(id=f"{workload}-{i}", workload=workload, run=spec) for i in range(n)]


def test_pools_are_read_from_the_nodes(cluster):
    pools = cluster_pools()
    assert set(pools) == {"nv", "amd", "spare"}
    assert pools["nv"]["accelerator"] == "h100-sxm" and pools["amd"]["vendor"] == "amd"
    assert pools["nv"]["slots"] == 4 and pools["nv"]["alive"]


def test_routing_follows_the_plan_and_tasks_see_their_pool(cluster, tmp_path):
    plan = plan_for_tests()
    split = {a["pool"]: a["accelerators"] for a in plan["assignments"] if a["workload"] == "job"}
    ledger = Ledger(tmp_path / "l.sqlite")
    report = run_jobs(make_jobs(200), plan, ledger, timeout_s=120)
    assert report.counts["succeeded"] == 200 and report.submitted == 200
    done = ledger.jobs("succeeded")
    share = {p: sum(j["pool"] == p for j in done) / 200 for p in split}
    total = sum(split.values())
    for pool, acc in split.items():
        assert share[pool] == pytest.approx(acc / total, abs=0.05)
    for job in done:  # pinned: the scheduler gave each task its pool's resource
        assert job["result"]["assigned"].get(f"pool:{job['pool']}") == 1.0


def test_user_error_fails_without_retry_and_probe_results_become_profiles(cluster, tmp_path):
    plan = plan_for_tests()
    ledger = Ledger(tmp_path / "l.sqlite")
    jobs = [
        Job(
            id="boom",
            workload="job",
            run={"entry": "polyfleet.dispatch.demo:fail", "args": {"message": "bad input"}},
        ),
        Job(
            id="probe",
            workload="job",
            run={"probe": "small-infer", "preset": "tiny", "as": "h100-sxm"},
        ),
        Job(id="uuid", workload="job", run={"entry": "uuid:uuid4", "args": {}}),
    ]
    report = run_jobs(jobs, plan, ledger, profiles_dir=tmp_path / "profiles", timeout_s=120)
    boom = ledger.job("boom")
    assert boom["state"] == "failed" and "RuntimeError: bad input" in boom["error"]
    assert len(boom["path"]) == 1 and report.rerouted == 0
    odd = ledger.job("uuid")  # a value JSON cannot hold is kept, marked, and the run goes on
    assert odd["state"] == "succeeded" and odd["result"]["value"]["not_json"] == "uuid.UUID"
    (profile_file,) = report.profiles
    from polyfleet.catalog import load_catalog
    from polyfleet.inputs.profile import load_profile
    from polyfleet.perfmodel.calibrate import calibrate

    profile = load_profile(profile_file)
    assert profile.device.accelerator == "h100-sxm"
    cal = calibrate([(profile_file, profile)], load_catalog())
    assert [(c.accelerator, c.kind) for c in cal.used] == [("h100-sxm", "infer")]


def test_bad_input_is_refused_before_anything_is_submitted(cluster, tmp_path):
    plan = plan_for_tests()
    ledger = Ledger(tmp_path / "l.sqlite")
    with pytest.raises(PolyfleetError, match="unknown workload 'nope'"):
        run_jobs(make_jobs(3, workload="nope"), plan, ledger)
    ghost = copy.deepcopy(plan)
    ghost["assignments"] = [{**a, "pool": "ghost"} for a in ghost["assignments"]]
    with pytest.raises(PolyfleetError, match=r"no job can run.*ghost: not in the cluster"):
        run_jobs(make_jobs(3), ghost, ledger)
    assert sum(ledger.counts().values()) == 0  # nothing recorded, nothing submitted
    bad = tmp_path / "jobs.yaml"
    bad.write_text(yaml.safe_dump({"jobs": [{"workload": "job", "run": {"entry": "no-colon"}}]}))
    with pytest.raises(InputError, match="module:function") as err:
        load_jobs(bad)
    assert err.value.field == "jobs[0].run"
    bad.write_text(yaml.safe_dump({"jobs": [{"workload": "job", "run": {"probe": "warp"}}]}))
    with pytest.raises(InputError, match="unknown probe workload") as err:
        load_jobs(bad)
    assert err.value.field == "jobs[0].run.probe" and err.value.line == 3  # "probe: warp"


def test_validate_needs_an_optimal_plan():
    with pytest.raises(PolyfleetError, match="optimal"):
        validate(make_jobs(1), plan_record({"job": {"nv": 1.0}}, status="infeasible"), {})


def test_jobs_still_running_at_the_timeout_fail_saying_so(cluster, tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    jobs = make_jobs(2, entry="polyfleet.dispatch.demo:sleep", args={"seconds": 30})
    report = run_jobs(jobs, plan_for_tests(), ledger, timeout_s=1.0)
    assert report.counts["failed"] == 2 and report.seconds < 20
    assert all("timed out after 1 s" in j["error"] for j in ledger.jobs("failed"))


def test_a_pool_missing_from_the_cluster_is_reported_and_the_rest_run(cluster, tmp_path):
    plan = plan_for_tests()
    plan["assignments"].append({**plan["assignments"][0], "pool": "ghost"})
    report = run_jobs(make_jobs(6), plan, Ledger(tmp_path / "l.sqlite"), timeout_s=120)
    assert report.counts["succeeded"] == 6
    assert report.missing_pools == {"ghost": "not in the cluster"}
    assert any("pool ghost: not in the cluster" in n for n in report.notes("l.sqlite"))


def test_a_run_submits_only_its_own_files_jobs(cluster, tmp_path):
    """A killed run of another job file left 40 jobs (of a workload this plan does not know) in
    the ledger, one of them `running`: this run runs and counts its own 2 jobs only, reports the
    40 by file, and leaves them waiting for their own file."""
    path = tmp_path / "l.sqlite"
    with Ledger(path) as old:
        old.add([(f"old-{i}", "gone", {"entry": "m:f"}) for i in range(40)], source="old.yaml")
        old.start([("old-0", "x", 1)])
    ledger = Ledger(path)
    report = run_jobs(make_jobs(2), plan_for_tests(), ledger, source="new.yaml", timeout_s=120)
    assert report.submitted == 2 and report.counts["succeeded"] == 2
    assert sum(report.counts.values()) == 2
    assert report.leftovers == {"old.yaml": 40}
    assert {j["state"] for j in ledger.jobs() if j["id"].startswith("old-")} == {
        "queued",
        "rerouted",
    }


def test_own_jobs_in_unknown_states_are_reported_not_run(cluster, tmp_path):
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.add([(j.id, j.workload, j.run) for j in make_jobs(3)], source="a.yaml")
        ledger.db.execute("UPDATE jobs SET state='paused' WHERE id='job-1'")
    ledger = Ledger(path)
    report = run_jobs(make_jobs(3), plan_for_tests(), ledger, source="a.yaml", timeout_s=120)
    assert report.counts["succeeded"] == 2 and report.unknown == {"paused": 1}
    assert ledger.job("job-1")["state"] == "paused"
    assert any(
        "states polyfleet does not know (1 in state 'paused')" in n for n in report.notes(path)
    )
