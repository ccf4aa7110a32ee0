"""What the store hands out: immutable records, detached from any database session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["DocumentInfo", "DocumentSummary", "DocumentVersion", "Page", "RunInfo", "TokenInfo"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: `total` counts every item, not only those on the page."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token without its secret or hash."""

    id: str
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """One stored version of a document, without its content."""

    id: int
    kind: str
    name: str
    version: int
    content_hash: str
    size: int
    media_type: str
    created_at: dt.datetime
    created_by: str | None


@dataclass(frozen=True, slots=True)
class DocumentVersion:
    """One stored version of a document with its content."""

    info: DocumentInfo
    content: bytes


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """A document by name: its newest version and how many versions it has."""

    latest: DocumentInfo
    versions: int


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run and the document version it runs against (its record is read on its own:
    `RunRepository.record`); `inputs` are the stored deals and profiles it read, each
    {kind, name, version, id}."""

    id: str
    kind: str
    document: DocumentInfo
    options: dict[str, Any]
    status: str
    progress: float
    message: str | None
    result_hash: str | None
    error: dict[str, Any] | None
    worker: str | None
    created_at: dt.datetime
    created_by: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cancel_requested_at: dt.datetime | None
    inputs: list[dict[str, Any]]

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled", "infeasible")
