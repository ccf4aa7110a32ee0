"""Stored input files (scenarios, procurement files, deals, profiles, job files), every change a
new version.

A document is named like a file, `fleet.yaml`: letters, digits, `_`, `-` and single dots, starting
with a letter or digit, at most 128 characters, ending in `.yaml`, `.yml` or `.json` (the suffix
says how it is parsed, as on the command line; profiles are JSON). Names never reach the file
system as paths: the store reads and writes rows only, and a name that could be a path
(`../x.yaml`, `a/b.yaml`) is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from polyfleet.errors import InputError
from polyfleet.service.store.models import DOCUMENT_KINDS, Document
from polyfleet.service.store.records import DocumentInfo, DocumentSummary, DocumentVersion, Page

__all__ = [
    "NAME_MAX",
    "NAME_PATTERNS",
    "DocumentRepository",
    "check_kind",
    "check_name",
    "media_type_of",
]

MEDIA_TYPES = {".json": "application/json", ".yaml": "application/yaml", ".yml": "application/yaml"}
_STEM = r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*"
NAME_MAX = 128
# the names of each kind, as a regular expression (the API's schema publishes it too)
NAME_PATTERNS = {
    kind: f"^{_STEM}\\.({'json' if kind == 'profile' else 'yaml|yml|json'})$"
    for kind in DOCUMENT_KINDS
}
INFO_COLUMNS = (
    Document.id,
    Document.kind,
    Document.name,
    Document.version,
    Document.content_hash,
    Document.size,
    Document.media_type,
    Document.created_at,
    Document.created_by,
)
_INSERT_TRIES = 8


def check_kind(kind: str) -> str:
    if kind not in DOCUMENT_KINDS:
        raise InputError(
            f"kind must be one of {', '.join(DOCUMENT_KINDS)}", field="kind", value=kind
        )
    return kind


def check_name(kind: str, name: str) -> str:
    """`name` if it is a valid document name for `kind`; else an InputError saying why."""
    suffixes = (".json",) if kind == "profile" else tuple(MEDIA_TYPES)
    if len(name) > NAME_MAX or not re.fullmatch(_STEM, name):
        raise InputError(
            "a document name is a file name: letters, digits, '_', '-' and single dots, "
            f"starting with a letter or digit, at most {NAME_MAX} characters, no folders",
            field="name",
            value=name,
        )
    if not name.endswith(suffixes):
        raise InputError(f"a {kind} name ends in {' or '.join(suffixes)}", field="name", value=name)
    return name


def media_type_of(name: str) -> str:
    return MEDIA_TYPES[name[name.rfind(".") :]]


def _info(row: object) -> DocumentInfo:
    return DocumentInfo(**{c.key: getattr(row, c.key) for c in INFO_COLUMNS})


class DocumentRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def put(
        self, kind: str, name: str, content: bytes, created_by: str | None = None
    ) -> tuple[DocumentInfo, bool]:
        """Store `content` as the next version of (kind, name), or return the newest version
        unchanged when its content is the same; the flag says whether a version was added."""
        check_kind(kind)
        check_name(kind, name)
        digest = hashlib.sha256(content).hexdigest()
        latest = self.get(kind, name)
        if latest is not None and latest.info.content_hash == digest:
            return latest.info, False
        next_version = (
            select(func.coalesce(func.max(Document.version), 0) + 1)
            .where(Document.kind == kind, Document.name == name)
            .scalar_subquery()
        )
        # the version is computed inside the INSERT, under a lock: SQLite takes its write lock
        # for the whole statement; PostgreSQL takes a transaction-scoped advisory lock on the
        # document first. Should two writers still meet, the unique constraint turns it into an
        # IntegrityError, retried with the next number.
        lock_key = int.from_bytes(
            hashlib.sha256(f"documents/{kind}/{name}".encode()).digest()[:8], "big", signed=True
        )
        stmt = (
            insert(Document)
            .values(
                kind=kind,
                name=name,
                version=next_version,
                content=content,
                content_hash=digest,
                size=len(content),
                media_type=media_type_of(name),
                created_at=dt.datetime.now(dt.UTC),
                created_by=created_by,
            )
            .returning(*INFO_COLUMNS)
        )
        for attempt in range(_INSERT_TRIES):
            try:
                with self._sessions.begin() as session:
                    if session.get_bind().dialect.name == "postgresql":
                        session.execute(select(func.pg_advisory_xact_lock(lock_key)))
                    return _info(session.execute(stmt).one()), True
            except IntegrityError:
                if attempt == _INSERT_TRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, kind: str, name: str, version: int | None = None) -> DocumentVersion | None:
        """A version of a document (the newest when `version` is None); None if there is none."""
        query = select(Document).where(Document.kind == kind, Document.name == name)
        if version is None:
            query = query.order_by(Document.version.desc()).limit(1)
        else:
            query = query.where(Document.version == version)
        with self._sessions() as session:
            row = session.scalars(query).first()
            return None if row is None else DocumentVersion(info=_info(row), content=row.content)

    def get_by_id(self, document_id: int) -> DocumentInfo | None:
        with self._sessions() as session:
            row = session.execute(select(*INFO_COLUMNS).where(Document.id == document_id)).first()
            return None if row is None else _info(row)

    def list(self, kind: str, *, limit: int = 50, offset: int = 0) -> Page[DocumentSummary]:
        """Documents of `kind` by name, each with its newest version and number of versions."""
        check_kind(kind)
        latest = (
            select(
                Document.name,
                func.max(Document.version).label("version"),
                func.count().label("versions"),
            )
            .where(Document.kind == kind)
            .group_by(Document.name)
            .subquery()
        )
        query = (
            select(*INFO_COLUMNS, latest.c.versions)
            .join(
                latest,
                (Document.name == latest.c.name) & (Document.version == latest.c.version),
            )
            .where(Document.kind == kind)
            .order_by(Document.name)
            .limit(limit)
            .offset(offset)
        )
        total = select(func.count(func.distinct(Document.name))).where(Document.kind == kind)
        with self._sessions() as session:
            items = [
                DocumentSummary(latest=_info(row), versions=row.versions)
                for row in session.execute(query)
            ]
            return Page(items, session.scalar(total) or 0, limit, offset)

    def versions(
        self, kind: str, name: str, *, limit: int = 50, offset: int = 0
    ) -> Page[DocumentInfo]:
        """Every version of a document, newest first."""
        where = (Document.kind == kind, Document.name == name)
        query = (
            select(*INFO_COLUMNS)
            .where(*where)
            .order_by(Document.version.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._sessions() as session:
            items = [_info(row) for row in session.execute(query)]
            total = session.scalar(select(func.count()).select_from(Document).where(*where)) or 0
            return Page(items, total, limit, offset)
