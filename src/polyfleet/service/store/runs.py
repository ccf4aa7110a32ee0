"""Runs: a plan, leverage, frontier, procure or deal computation against one stored document
version, from submission to its answer.

States: queued → running → succeeded | failed | infeasible, and queued or running → cancelled.
A run is written (queued) before its submission is acknowledged; each change of state is one
conditional UPDATE (`WHERE status = ...`), so two workers cannot both start the same run and a
finished run is never reopened. Runs left running by a server that stopped are marked failed
when the next one starts (`fail_interrupted`); queued ones are kept and run then.

A finished run keeps its record as the JSON text the command line prints (`record`), and the
SHA-256 of that text (`result_hash`), which is its ETag.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from polyfleet.errors import InputError
from polyfleet.service.store.documents import INFO_COLUMNS
from polyfleet.service.store.models import RUN_KINDS, RUN_STATUSES, Document, Run
from polyfleet.service.store.records import DocumentInfo, Page, RunInfo

__all__ = ["FINAL", "RunRepository", "result_hash"]

FINAL = ("succeeded", "failed", "cancelled", "infeasible")
_RUN_COLUMNS = tuple(c for c in Run.__table__.columns if c.key not in ("document_id", "record"))
_DOCUMENT_COLUMNS = tuple(c.label(f"document_{c.key}") for c in INFO_COLUMNS)


def result_hash(record: str) -> str:
    """The SHA-256 of a record's JSON text: its ETag."""
    return hashlib.sha256(record.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _query() -> Any:
    return select(*_RUN_COLUMNS, *_DOCUMENT_COLUMNS).join(Document, Run.document_id == Document.id)


def _record(row: Any) -> RunInfo:
    values = row._mapping
    document = DocumentInfo(**{c.key: values[f"document_{c.key}"] for c in INFO_COLUMNS})
    return RunInfo(document=document, **{c.key: values[c.key] for c in _RUN_COLUMNS})


class RunRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(
        self,
        kind: str,
        document_id: int,
        options: dict[str, Any] | None = None,
        created_by: str | None = None,
        inputs: list[dict[str, Any]] | None = None,
    ) -> RunInfo:
        """A queued run, committed before this returns. `inputs`: the stored documents (other
        than `document_id`) it will read, each {kind, name, version, id}."""
        if kind not in RUN_KINDS:
            raise InputError(
                f"kind must be one of {', '.join(RUN_KINDS)}", field="kind", value=kind
            )
        run_id = uuid.uuid4().hex
        with self._sessions.begin() as session:
            if session.get(Document, document_id) is None:
                raise InputError("no such document", field="document", value=document_id)
            session.add(
                Run(
                    id=run_id,
                    kind=kind,
                    document_id=document_id,
                    options=dict(options or {}),
                    status="queued",
                    progress=0.0,
                    created_at=_now(),
                    created_by=created_by,
                    inputs=list(inputs or []),
                )
            )
        run = self.get(run_id)
        assert run is not None
        return run

    def get(self, run_id: str) -> RunInfo | None:
        with self._sessions() as session:
            row = session.execute(_query().where(Run.id == run_id)).first()
            return None if row is None else _record(row)

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        document: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[RunInfo]:
        """Runs, newest first, optionally of one status or kind, or against one document name."""
        where = []
        if status is not None:
            if status not in RUN_STATUSES:
                raise InputError(
                    f"status must be one of {', '.join(RUN_STATUSES)}", field="status", value=status
                )
            where.append(Run.status == status)
        if kind is not None:
            where.append(Run.kind == kind)
        if document is not None:
            where.append(Document.name == document)
        query = _query().where(*where).order_by(Run.created_at.desc(), Run.id).limit(limit)
        count = select(func.count()).select_from(Run).join(Document, Run.document_id == Document.id)
        with self._sessions() as session:
            items = [_record(r) for r in session.execute(query.offset(offset))]
            total = session.scalar(count.where(*where)) or 0
            return Page(items, total, limit, offset)

    def record(self, run_id: str) -> str | None:
        """The record a finished run answered with, as the JSON text `--json` prints."""
        with self._sessions() as session:
            return session.scalar(select(Run.record).where(Run.id == run_id))

    def queued(self, limit: int) -> list[str]:
        """The ids of the oldest queued runs, first submitted first."""
        query = (
            select(Run.id)
            .where(Run.status == "queued")
            .order_by(Run.created_at, Run.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def cancel_requested(self, run_ids: list[str]) -> list[str]:
        """Of `run_ids`, those still running whose cancel was asked for."""
        if not run_ids:
            return []
        query = select(Run.id).where(
            Run.id.in_(run_ids), Run.status == "running", Run.cancel_requested_at.is_not(None)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def _transition(self, run_id: str, allowed: tuple[str, ...], **values: Any) -> RunInfo | None:
        """Apply `values` if the run is in one of the `allowed` states; the run after, or None
        when it does not exist or was not in such a state."""
        stmt = (
            update(Run)
            .where(Run.id == run_id, Run.status.in_(allowed))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            changed = session.execute(stmt).rowcount
        return self.get(run_id) if changed else None

    def start(self, run_id: str, worker: str) -> RunInfo | None:
        """Claim a queued run for `worker`; None when it is not queued (taken or cancelled)."""
        return self._transition(
            run_id, ("queued",), status="running", worker=worker, started_at=_now()
        )

    def progress(self, run_id: str, progress: float, message: str | None = None) -> RunInfo | None:
        """Record how far a running run is (0 to 1)."""
        return self._transition(
            run_id, ("running",), progress=min(max(progress, 0.0), 1.0), message=message
        )

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        record: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> RunInfo | None:
        """End a running run with its answer (succeeded or infeasible carry the record's JSON
        text; failed an error); None when it is not running."""
        if status not in FINAL or status == "cancelled":
            raise ValueError(f"a run finishes succeeded, infeasible or failed, not {status!r}")
        return self._transition(
            run_id,
            ("running",),
            status=status,
            progress=1.0 if status != "failed" else Run.progress,
            record=record,
            result_hash=None if record is None else result_hash(record),
            error=error,
            finished_at=_now(),
        )

    def cancel(self, run_id: str) -> RunInfo | None:
        """Cancel a queued run at once; ask a running one to stop (its worker ends it as
        cancelled). A finished run is returned unchanged; None if there is no such run."""
        now = _now()
        queued = self._transition(run_id, ("queued",), status="cancelled", finished_at=now)
        if queued is not None:
            return queued
        with self._sessions.begin() as session:
            session.execute(
                update(Run)
                .where(Run.id == run_id, Run.status == "running", Run.cancel_requested_at.is_(None))
                .values(cancel_requested_at=now)
            )
        return self.get(run_id)

    def cancelled(self, run_id: str) -> RunInfo | None:
        """End a running run whose cancel was requested."""
        return self._transition(run_id, ("running",), status="cancelled", finished_at=_now())

    def requeue(self, run_id: str) -> RunInfo | None:
        """Put a running run back in the queue (its server stopped it to shut down)."""
        return self._transition(
            run_id,
            ("running",),
            status="queued",
            progress=0.0,
            message=None,
            worker=None,
            started_at=None,
        )

    def fail(self, run_id: str, error: dict[str, Any]) -> RunInfo | None:
        """End a queued or running run as failed (its worker died, or it could not start)."""
        return self._transition(
            run_id, ("queued", "running"), status="failed", error=error, finished_at=_now()
        )

    def fail_interrupted(
        self, message: str = "the server stopped while this run was running"
    ) -> int:
        """Mark every running run failed (call on start, before any worker runs); how many."""
        stmt = (
            update(Run)
            .where(Run.status == "running")
            .values(
                status="failed",
                error={"code": "interrupted", "message": message},
                finished_at=_now(),
            )
        )
        with self._sessions.begin() as session:
            return session.execute(stmt).rowcount
