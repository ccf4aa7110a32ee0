"""The ledger's state machine and the router's arithmetic, without a cluster."""

from __future__ import annotations

import numpy as np
import pytest

from polyfleet.dispatch.ledger import Ledger
from polyfleet.dispatch.router import Router
from polyfleet.results.plan import PlanRecord

from .plans import plan_record


def test_ledger_transitions_and_stale_attempts(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    assert ledger.add([("j1", "w", {"entry": "m:f"}), ("j2", "w", {"entry": "m:f"})]) == 2
    assert ledger.add([("j1", "w", {"entry": "m:f"})]) == 0  # already known: not queued twice
    ledger.start([("j1", "a", 1), ("j2", "a", 1)])
    assert ledger.counts()["running"] == 2
    # j1's node died: rerouted, then running on b as attempt 2
    assert ledger.finish([("j1", 1, "rerouted", "NodeDiedError on a")]) == 1
    ledger.start([("j1", "b", 2)])
    # a late answer from attempt 1 is ignored; attempt 2's is recorded once
    assert ledger.finish([("j1", 1, "succeeded", {"v": 1})]) == 0
    assert ledger.finish([("j1", 2, "succeeded", {"v": 2})]) == 1
    assert ledger.finish([("j1", 2, "succeeded", {"v": 3})]) == 0
    job = ledger.job("j1")
    assert job["state"] == "succeeded" and job["path"] == ["a", "b"] and job["result"] == {"v": 2}
    assert [s for s, _ in ledger.events("j1")] == [
        "queued",
        "running",
        "rerouted",
        "running",
        "succeeded",
    ]
    assert ledger.finish([("j2", 1, "failed", "RuntimeError: boom")]) == 1
    assert ledger.counts() == {
        "queued": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 1,
        "rerouted": 0,
    }
    with pytest.raises(RuntimeError, match="not waiting"):
        ledger.start([("j2", "a", 2)])  # a failed job is not run again


def test_a_restart_sees_the_same_truth(tmp_path):
    path = tmp_path / "l.sqlite"
    first = Ledger(path)
    first.add([("j1", "w", {}), ("j2", "w", {})])
    first.start([("j1", "a", 1)])
    first.finish([("j1", 1, "succeeded", {})])
    first.start([("j2", "a", 1)])
    first.close()  # the run stops with j2 running
    again = Ledger(path)
    assert again.counts()["succeeded"] == 1 and again.counts()["running"] == 1
    assert again.requeue_orphans() == 1
    assert again.job("j2")["state"] == "rerouted" and again.job("j1")["state"] == "succeeded"


PLAN = plan_record({"w": {"a": 300.0, "b": 100.0}, "v": {"b": 5.0}})


def test_route_follows_the_plan_and_every_prefix_does_too():
    router = Router(PlanRecord.coerce(PLAN).split(), ["a", "b", "c"])
    picks = router.route_names("w", 200)
    assert picks.count("a") == 150 and picks.count("b") == 50 and "c" not in picks
    for n in (4, 20, 63):
        assert abs(picks[:n].count("a") - 0.75 * n) <= 1
    assert router.route_names("v", 3) == ["b", "b", "b"]
    with pytest.raises(KeyError):
        router.route("unknown", 1)


def test_free_capacity_shifts_the_split():
    router = Router(PlanRecord.coerce(PLAN).split(), ["a", "b"])
    router.set_free({"a": 0.25, "b": 1.0})  # a's slots mostly busy
    picks = router.route_names("w", 100)
    assert picks.count("a") == 43  # 300 x 0.25 : 100 x 1 -> 75 : 100 of 100 jobs
    router.set_free({"a": 0.0, "b": 0.0})  # all busy: queue by the plan alone
    assert router.route_names("w", 4).count("a") == 3


def test_next_pool_skips_tried_and_dead_pools():
    router = Router(PlanRecord.coerce(PLAN).split(), ["a", "b", "c"])
    assert router.next_pool("w", tried=["a"], alive=["a", "b", "c"]) == "b"
    assert router.next_pool("w", tried=[], alive=["b"]) == "b"
    assert router.next_pool("w", tried=["a", "b"], alive=["a", "b", "c"]) is None


def test_route_is_vectorised():
    router = Router({"w": {f"p{i}": float(i + 1) for i in range(10)}}, [f"p{i}" for i in range(10)])
    pools = router.route("w", 55_000)
    assert np.bincount(pools).tolist() == [1000 * (i + 1) for i in range(10)]


def test_local_spec_scales_slots_and_gives_real_gpus_to_their_pool():
    from pathlib import Path

    from polyfleet.dispatch.cluster import local_spec
    from polyfleet.inputs.scenario import load_scenario

    loaded = load_scenario(Path(__file__).parents[2] / "examples" / "hyperscaler-2026.yaml")
    spec = local_spec(loaded, 32)
    assert [n["pool"] for n in spec] == [p.name for p in loaded.scenario.pools]
    assert all(n["slots"] >= 1 and n["num_gpus"] == 0 for n in spec)
    biggest = max(loaded.scenario.pools, key=lambda p: p.count).name
    assert max(spec, key=lambda n: n["slots"])["pool"] == biggest
    with_gpu = local_spec(loaded, 32, host_gpus=("NVIDIA H200", 8))
    assert [n["pool"] for n in with_gpu if n["num_gpus"]] == ["nv-h200-west"]
    assert local_spec(loaded, 32, host_gpus=("Some Other GPU", 1)) == spec


def test_one_writer_at_a_time_and_the_refusal_names_the_holder(tmp_path):
    """A second writer (a second `run`) is refused at once, told which process has the ledger;
    with wait=True it starts when the first closes. Readers (`status`) are never blocked."""
    import os
    import threading

    from polyfleet.errors import PolyfleetError

    path = tmp_path / "l.sqlite"
    first = Ledger(path)
    first.add([("j1", "w", {})])
    with pytest.raises(PolyfleetError, match=rf"in use by another run \(pid {os.getpid()} on "):
        Ledger(path)
    with Ledger(path, readonly=True) as reader:
        assert reader.counts()["queued"] == 1
    told: list[str] = []
    box: dict[str, Ledger] = {}
    waiter = threading.Thread(
        target=lambda: box.update(second=Ledger(path, wait=True, on_wait=told.append))
    )
    waiter.start()
    waiter.join(timeout=0.5)
    assert waiter.is_alive() and "second" not in box  # still waiting for the first
    first.close()
    waiter.join(timeout=30)
    assert not waiter.is_alive() and told and f"pid {os.getpid()}" in told[0]
    assert box["second"].counts()["queued"] == 1
    box["second"].close()
    Ledger(path).close()  # and free again


def test_a_result_json_cannot_hold_fails_that_job_alone(tmp_path):
    import uuid

    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.add([("odd", "w", {}), ("fine", "w", {}), ("nan", "w", {})])
    ledger.start([("odd", "a", 1), ("fine", "a", 1), ("nan", "a", 1)])
    outcomes = [
        ("odd", 1, "succeeded", {"value": uuid.uuid4()}),
        ("fine", 1, "succeeded", {"value": 1}),
        ("nan", 1, "succeeded", {"value": float("nan")}),
    ]
    assert ledger.finish(outcomes) == 3
    assert ledger.job("fine")["state"] == "succeeded"
    for job in ("odd", "nan"):
        row = ledger.job(job)
        assert row["state"] == "failed" and "cannot be stored as JSON" in row["error"]
    assert ledger.counts()["running"] == 0  # nothing left `running` to crash the next run


def test_a_run_sees_only_its_own_jobs_and_reports_the_rest(tmp_path):
    """Jobs another job file left unfinished are not this run's: not submitted, not counted,
    reported by file; an id recorded with another definition is refused, naming both files."""
    from polyfleet.errors import InputError

    path = tmp_path / "l.sqlite"
    with Ledger(path) as old:
        old.add([(f"old-{i}", "gone", {"entry": "m:f"}) for i in range(40)], source="old.yaml")
        old.start([("old-0", "a", 1)])  # and that run was killed with old-0 running
    ledger = Ledger(path)
    assert ledger.add([("new-0", "w", {"entry": "m:g"})], source="new.yaml") == 1
    assert ledger.requeue_orphans() == 1
    assert [r["id"] for r in ledger.jobs("queued", scope=True)] == ["new-0"]
    assert ledger.jobs("rerouted", scope=True) == []
    assert ledger.counts(scope=True)["queued"] == 1 and ledger.counts()["queued"] == 40
    assert ledger.leftovers() == {"old.yaml": 40}
    with pytest.raises(InputError, match=r"'old-3'.*another definition \(from old.yaml\)") as err:
        ledger.add([("old-3", "w", {"entry": "m:g"})], source="new.yaml")
    assert err.value.file == "new.yaml"
    assert ledger.job("old-3")["workload"] == "gone"  # the refused add wrote nothing
    # the same job (same definition) from another file is the same job: recorded once
    assert ledger.add([("old-3", "gone", {"entry": "m:f"})], source="copy.yaml") == 0
    ledger.close()


def test_an_old_format_ledger_is_read_and_upgraded(tmp_path):
    """A ledger of the first format (no `source` column) is read by status and upgraded by run."""
    import sqlite3

    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.add([("j1", "w", {})], source="a.yaml")
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE jobs DROP COLUMN source")
    db.execute("PRAGMA user_version=0")
    db.commit()
    db.close()
    with Ledger(path, readonly=True) as reader:
        assert reader.counts()["queued"] == 1 and reader.version == 0
    with Ledger(path) as writer:
        assert writer.version == 1
        writer.add([("j2", "w", {})], source="b.yaml")
        assert writer.leftovers() == {"an earlier job file": 1}


def test_a_refused_add_leaves_the_previous_scope(tmp_path):
    from polyfleet.errors import InputError

    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.add([("a", "w", {})], source="one.yaml")
        with pytest.raises(InputError, match="another definition"):
            ledger.add([("a", "v", {})], source="two.yaml")
        assert [j["id"] for j in ledger.jobs(scope=True)] == ["a"]
    with Ledger(path) as ledger:  # refused first: no scope at all, and it says so
        with pytest.raises(InputError, match="another definition"):
            ledger.add([("a", "v", {})], source="two.yaml")
        with pytest.raises(RuntimeError, match="no scope"):
            ledger.jobs(scope=True)
