"""The worker pool: runs execute outside the request, in worker processes (or Ray tasks).

A scheduler thread in the server claims queued runs from the store, oldest first, while it has
free slots (`RunRepository.start` is one conditional UPDATE, so servers sharing a database never
start a run twice), hands each to a backend, and watches them:

- a run whose worker ends without storing an answer (killed, crashed) is marked failed;
- a run whose cancel was asked for has its worker stopped and is marked cancelled;
- on a clean shutdown the runs still going are stopped and put back in the queue, so the next
  server runs them again; after a crash the next server marks them failed (`fail_interrupted`).

Backends: `ProcessBackend` starts one process per run from a fork server that has the planner
already imported (fast to start, and a process can be stopped at once, whatever it is doing);
`RayBackend` submits each run as a Ray task (`polyfleet serve --ray-address`). Either runs
`worker.execute`, which reads and writes the store itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from polyfleet.service.store import Store

__all__ = ["Backend", "ProcessBackend", "RayBackend", "RunExecutor", "default_slots"]

log = logging.getLogger("polyfleet.service")

# modules the fork server imports once, so that each run's process starts with them loaded
PRELOAD = [
    "numpy",
    "scipy.sparse",
    "scipy.optimize",
    "highspy",
    "polyfleet.app",
    "polyfleet.plan.placement",
    "polyfleet.results.plan",
    "polyfleet.service.worker",
]
IDLE_POLL_S = 0.5
STOP_WAIT_S = 5.0


def default_slots() -> int:
    """Runs at once: one per core the server may use, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


class Backend(Protocol):
    """Starts runs and tells when they end."""

    def launch(self, run_id: str) -> Any: ...

    def finished(self, handle: Any) -> str | None:
        """None while the run's worker works; else how it ended ("" when it ended normally)."""

    def stop(self, handle: Any) -> None: ...

    def close(self) -> None: ...


def _child(db_url: str, scratch: str, run_id: str) -> None:
    from polyfleet.service.worker import execute

    execute(db_url, scratch, run_id, watch_parent=True)


class ProcessBackend:
    """One process per run, forked from a fork server with the planner imported."""

    def __init__(self, db_url: str, scratch: Path) -> None:
        self.db_url, self.scratch = db_url, str(scratch)
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)

    def launch(self, run_id: str) -> Any:
        process = self.context.Process(
            target=_child, args=(self.db_url, self.scratch, run_id), name=f"run-{run_id}"
        )
        process.start()
        return process

    def finished(self, handle: Any) -> str | None:
        if handle.is_alive():
            return None
        handle.join()
        code = handle.exitcode
        handle.close()
        return "" if code == 0 else f"the run's worker process ended with exit code {code}"

    def stop(self, handle: Any) -> None:
        handle.terminate()
        handle.join(STOP_WAIT_S)
        if handle.exitcode is None:
            handle.kill()
            handle.join()

    def close(self) -> None:
        return


class RayBackend:
    """Each run as a Ray task on the cluster at `address`. The task reaches the store by its URL:
    a cluster beyond this machine needs a PostgreSQL store (SQLite is a local file)."""

    def __init__(self, address: str, db_url: str, scratch: Path, state_dir: Path) -> None:
        from polyfleet.dispatch.cluster import connect
        from polyfleet.service.worker import execute

        connect(address, state_dir)
        import ray

        self.ray = ray
        self.db_url, self.scratch = db_url, str(scratch)
        self.task = ray.remote(num_cpus=1, max_retries=0)(execute)

    def launch(self, run_id: str) -> Any:
        return self.task.remote(self.db_url, self.scratch, run_id)

    def finished(self, handle: Any) -> str | None:
        ready, _ = self.ray.wait([handle], timeout=0)
        if not ready:
            return None
        try:
            self.ray.get(handle)
        except Exception as exc:
            return f"the run's Ray task failed: {type(exc).__name__}"
        return ""

    def stop(self, handle: Any) -> None:
        self.ray.cancel(handle, force=True)

    def close(self) -> None:
        from polyfleet.dispatch.cluster import disconnect

        disconnect()


class RunExecutor:
    """The scheduler thread over a backend, with `slots` runs at most at once."""

    def __init__(self, store: Store, backend: Backend, slots: int | None = None) -> None:
        self.store, self.backend = store, backend
        self.slots = slots or default_slots()
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.active: dict[str, Any] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="polyfleet-runs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (a run was submitted or a cancel asked for)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop scheduling; stop the runs still going and queue them again."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for run_id, handle in list(self.active.items()):
            self.backend.stop(handle)
            self.store.runs.requeue(run_id)
        self.active.clear()
        self.backend.close()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except SQLAlchemyError:
                log.exception("the run scheduler could not reach the store; trying again")
            self._wake.wait(IDLE_POLL_S)
            self._wake.clear()

    def step(self) -> None:
        """One round: reap ended runs, stop cancelled ones, start queued ones."""
        for run_id, handle in list(self.active.items()):
            how = self.backend.finished(handle)
            if how is None:
                continue
            del self.active[run_id]
            if how:  # ended without its answer (if it stored one, this changes nothing)
                self.store.runs.fail(run_id, {"code": "worker_failed", "message": how})
        for run_id in self.store.runs.cancel_requested(list(self.active)):
            self.backend.stop(self.active.pop(run_id))
            self.store.runs.cancelled(run_id)
        free = self.slots - len(self.active)
        if free <= 0 or self._stopping.is_set():
            return
        for run_id in self.store.runs.queued(free):
            if self.store.runs.start(run_id, self.name) is None:
                continue  # another server took it, or it was cancelled
            try:
                self.active[run_id] = self.backend.launch(run_id)
            except Exception as exc:
                log.exception("could not start run %s", run_id)
                message = f"the run could not be started ({type(exc).__name__})"
                self.store.runs.fail(run_id, {"code": "worker_failed", "message": message})
