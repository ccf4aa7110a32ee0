"""One run, executed in a worker process (or a Ray task): materialise the stored document
version and the versions it references, call the application function, store the record or
the error. The worker talks to the store only, so it runs wherever the database is reachable.

Errors become structured run errors: an InputError keeps its file (relative to the scratch
folder), field path, line and value; an InfeasibleError its diagnosis; a SolverError what the
solver reported; each with the exit code the command line would end with. An infeasible plan or
procurement is not an error: it is a result with status "infeasible".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from polyfleet.errors import InfeasibleError, InputError, PolyfleetError, SolverError
from polyfleet.service.materialise import Reference, materialise, relative_error, scratch_folder
from polyfleet.service.run_kinds import call_app
from polyfleet.service.store import Store

__all__ = ["PROGRESS_EVERY_S", "STAGES", "error_of", "execute", "worker_name"]

log = logging.getLogger("polyfleet.service")

# the stages each app function reports, in order: progress is the share of stages done
STAGES = {
    "plan": ("load", "solve", "frontier"),
    "leverage": ("prepare", "search", "greenfield"),
    "frontier": ("prepare", "sweep"),
}
# progress is written at most this often (stage changes always)
PROGRESS_EVERY_S = 0.25


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def error_of(exc: BaseException) -> dict[str, Any]:
    """A run error: the command line's message, its exit code and what the error carries."""
    if isinstance(exc, InputError):
        return {
            "code": "invalid_input",
            "message": str(exc),
            "field": exc.field,
            "line": exc.line,
            "file": exc.file,
            "exit_code": exc.exit_code,
        }
    if isinstance(exc, InfeasibleError):
        return {
            "code": "infeasible",
            "message": str(exc),
            "diagnosis": exc.diagnosis,
            "exit_code": exc.exit_code,
        }
    if isinstance(exc, SolverError):
        return {
            "code": "solver_error",
            "message": str(exc),
            "solver_status": exc.status,
            "exit_code": exc.exit_code,
        }
    if isinstance(exc, PolyfleetError):
        return {"code": "error", "message": str(exc), "exit_code": exc.exit_code}
    return {"code": "internal", "message": f"internal error ({type(exc).__name__})"}


class _Reporter:
    """Progress events of the app function as the run's progress in the store."""

    def __init__(self, store: Store, run_id: str, kind: str) -> None:
        self.store, self.run_id = store, run_id
        self.stages = STAGES.get(kind, ())
        self.last = 0.0
        self.stage = ""

    def __call__(self, event: Any) -> None:
        if event.task not in self.stages:
            return
        index = self.stages.index(event.task)
        part = event.done / event.total if event.total else 0.0
        # the last stage may not come (a plan without its frontier): scale to the stages seen
        progress = (index + min(max(part, 0.0), 1.0)) / len(self.stages)
        now = time.monotonic()
        if event.task == self.stage and now - self.last < PROGRESS_EVERY_S:
            return
        self.stage, self.last = event.task, now
        self.store.runs.progress(
            self.run_id, progress, f"{event.task} {event.done:g}/{event.total:g}"
        )


def _exit_with_parent() -> None:
    """End this process when the one that started it is gone (the server was killed): its
    answer would be refused anyway, since the next server marks the run failed."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def execute(db_url: str, scratch: str, run_id: str, *, watch_parent: bool = False) -> str:
    """Run a claimed (running) run to its end and store its answer; its final status."""
    from sqlalchemy.engine import make_url

    from polyfleet.results.base import dump_record
    from polyfleet.service.store.db import connect

    if watch_parent:
        _exit_with_parent()
    store = Store(connect(make_url(db_url)))
    try:
        run = store.runs.get(run_id)
        if run is None or run.status != "running":
            return "gone" if run is None else run.status
        with scratch_folder(Path(scratch), f"run-{run_id[:12]}-") as folder:
            try:
                doc = store.documents.get(
                    run.document.kind, run.document.name, run.document.version
                )
                if doc is None:
                    raise InputError("the stored document is gone", file=run.document.name)
                refs = [Reference.from_input(i) for i in run.inputs]
                path = materialise(store, folder, doc.info.kind, doc.info.name, doc.content, refs)
                profiles = [folder / r.path for r in refs if r.via.startswith("options.")]
                record = call_app(
                    run.kind, path, run.options, profiles, _Reporter(store, run_id, run.kind)
                )
                text = dump_record(record)
            except PolyfleetError as exc:
                error = error_of(relative_error(exc, folder))
                done = store.runs.finish(run_id, "failed", error=error)
                return "failed" if done else "gone"
            except Exception as exc:
                log.exception("run %s failed", run_id)
                done = store.runs.finish(run_id, "failed", error=error_of(exc))
                return "failed" if done else "gone"
        status = "infeasible" if getattr(record, "status", None) == "infeasible" else "succeeded"
        return status if store.runs.finish(run_id, status, record=text) else "gone"
    finally:
        store.close()
