"""A pool's node dies mid-run: its jobs are re-routed to the next pool in the plan, none lost.
(Its own module: it needs a cluster of its own, started after the shared one is gone.)"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from polyfleet.dispatch.cluster import cluster_pools  # noqa: E402
from polyfleet.dispatch.ledger import Ledger  # noqa: E402
from polyfleet.dispatch.runner import run_jobs  # noqa: E402

from .test_cluster import make_jobs, plan_for_tests, start_cluster  # noqa: E402


def test_node_loss_reroutes_and_loses_no_job(tmp_path):
    """A second cluster: pools a-like 'nv' and 'amd'; 'nv' is removed mid-run."""
    c, nodes = start_cluster({"nv": 2, "amd": 2})
    ray.init(address=c.address, logging_level="ERROR", log_to_driver=False)
    try:
        plan = plan_for_tests()
        ledger = Ledger(tmp_path / "l.sqlite")
        jobs = make_jobs(24, entry="polyfleet.dispatch.demo:sleep", args={"seconds": 0.4})
        box: dict[str, Any] = {}
        runner = threading.Thread(
            target=lambda: box.update(r=run_jobs(jobs, plan, ledger, timeout_s=120)), daemon=True
        )
        runner.start()
        deadline = time.monotonic() + 60
        while ledger.counts()["succeeded"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        c.remove_node(nodes["nv"], allow_graceful=False)
        runner.join(timeout=120)
        assert not runner.is_alive()
        counts = ledger.counts()
        assert counts["succeeded"] + counts["failed"] == 24  # none lost
        assert counts["failed"] == 0  # amd could take every rerouted job
        moved = [j for j in ledger.jobs() if j["path"][:1] == ["nv"] and len(j["path"]) > 1]
        assert moved and all(j["path"] == ["nv", "amd"] for j in moved)
        assert box["r"].rerouted == len(moved)
        assert all(j["pool"] == "amd" for j in moved)
        assert any(s == "rerouted" for s, _ in ledger.events(moved[0]["id"]))
        ledger.close()
        # a later run whose plan names the dead pool runs on the live one and reports the dead
        # one; only the jobs of a workload with no live pool (`other`: spare, not in this
        # cluster) fail, each saying why
        deadline = time.monotonic() + 120
        while cluster_pools().get("nv", {}).get("alive") and time.monotonic() < deadline:
            time.sleep(0.2)  # until Ray marks the node dead
        later = Ledger(tmp_path / "later.sqlite")
        more = make_jobs(6) + make_jobs(2, workload="other")
        report = run_jobs(more, plan, later, timeout_s=120)
        assert report.counts["succeeded"] == 6 and report.counts["failed"] == 2
        assert {j["pool"] for j in later.jobs("succeeded")} == {"amd"}
        assert report.missing_pools == {"nv": "no live node", "spare": "not in the cluster"}
        for job in later.jobs("failed"):
            assert job["error"] == "no live pool for workload 'other' (spare: not in the cluster)"
    finally:
        ray.shutdown()
        c.shutdown()
