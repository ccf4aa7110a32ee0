"""The API's request and response bodies (pydantic records; the OpenAPI schema is made from them)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from polyfleet.service.store import DocumentInfo, DocumentSummary, TokenInfo
from polyfleet.service.store.tokens import TOKEN_NAME_PATTERN

__all__ = [
    "ERROR_RESPONSES",
    "DocumentOut",
    "DocumentPage",
    "DocumentSummaryOut",
    "DocumentWithContent",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "TokenCreate",
    "TokenCreated",
    "TokenList",
    "TokenOut",
    "ValidationOut",
    "VersionPage",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Out):
    code: str = Field(description="Stable machine-readable code, e.g. invalid_input, not_found.")
    message: str = Field(description="What is wrong; for documents, as the command line says it.")
    field: str | None = Field(None, description="The field path at fault, e.g. pools[0].count.")
    line: int | None = Field(None, description="The line of the document, when known.")
    file: str | None = Field(None, description="The document (or a file it names) at fault.")


class ErrorBody(_Out):
    error: ErrorDetail


# the error answers every route documents
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (401, "No token, or an unknown or revoked one"),
        (403, "The token's role may not do this"),
        (404, "No such object"),
        (413, "Upload over the size limit"),
        (422, "Invalid name, parameter or body"),
    )
}


class Health(_Out):
    status: Literal["ok", "unavailable"]
    version: str


class DocumentOut(_Out):
    kind: str
    name: str
    version: int
    content_hash: str = Field(description="SHA-256 of the content, hex.")
    size: int = Field(description="Bytes.")
    media_type: str
    created_at: dt.datetime
    created_by: str | None = Field(description="Id of the token that uploaded it.")

    @classmethod
    def of(cls, info: DocumentInfo) -> DocumentOut:
        return cls(
            kind=info.kind,
            name=info.name,
            version=info.version,
            content_hash=info.content_hash,
            size=info.size,
            media_type=info.media_type,
            created_at=info.created_at,
            created_by=info.created_by,
        )


class DocumentWithContent(DocumentOut):
    content: str = Field(description="The document's text (UTF-8).")


class DocumentSummaryOut(_Out):
    name: str
    versions: int
    latest: DocumentOut

    @classmethod
    def of(cls, summary: DocumentSummary) -> DocumentSummaryOut:
        info = summary.latest
        return cls(name=info.name, versions=summary.versions, latest=DocumentOut.of(info))


class _Page(_Out):
    total: int = Field(description="Every item, not only this page's.")
    limit: int
    offset: int


class DocumentPage(_Page):
    items: list[DocumentSummaryOut]


class VersionPage(_Page):
    items: list[DocumentOut]


class ValidationOut(_Out):
    valid: bool
    kind: str
    name: str
    version: int | None = Field(None, description="The stored version checked, if any.")
    error: ErrorDetail | None = None


class TokenOut(_Out):
    id: str
    name: str
    role: Literal["viewer", "planner", "admin"]
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, info: TokenInfo) -> TokenOut:
        return cls.model_validate(info, from_attributes=True)


class TokenCreated(TokenOut):
    secret: str = Field(description="The bearer secret: shown this once, stored only hashed.")


class TokenList(_Out):
    items: list[TokenOut]
    total: int


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["viewer", "planner", "admin"]
    name: str | None = Field(None, pattern=TOKEN_NAME_PATTERN, description="Default: the role.")
