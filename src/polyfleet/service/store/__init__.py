"""The service's store: documents (every version kept), runs and tokens, on SQLite or PostgreSQL.

`Store.open(url)` connects and runs the migrations; the API layer then uses its repositories:

    store = Store.open(database_url(None, Path(".polyfleet")))
    info, added = store.documents.put("scenario", "fleet.yaml", data, created_by=token.id)
    token, secret = store.tokens.create("planner", "ci")
    run = store.runs.create("plan", info.id, {"method": "auto"}, created_by=token.id)
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from polyfleet.service.store.db import connect, database_url, migrate
from polyfleet.service.store.documents import DocumentRepository, check_name
from polyfleet.service.store.records import (
    DocumentInfo,
    DocumentSummary,
    DocumentVersion,
    Page,
    RunInfo,
    TokenInfo,
)
from polyfleet.service.store.runs import RunRepository
from polyfleet.service.store.tokens import TokenRepository

__all__ = [
    "DocumentInfo",
    "DocumentSummary",
    "DocumentVersion",
    "Page",
    "RunInfo",
    "Store",
    "TokenInfo",
    "check_name",
    "database_url",
]


class Store:
    """The repositories over one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        sessions = sessionmaker(engine, expire_on_commit=False)
        self.documents = DocumentRepository(sessions)
        self.runs = RunRepository(sessions)
        self.tokens = TokenRepository(sessions)

    @classmethod
    def open(cls, url: URL) -> Store:
        """Connect to `url` and bring its schema up to date."""
        engine = connect(url)
        migrate(engine)
        return cls(engine)

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with Session(self.engine) as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        self.engine.dispose()
