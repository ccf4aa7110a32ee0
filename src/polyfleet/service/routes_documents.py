"""Documents: upload (multipart `file=@fleet.yaml` or the raw body), list, get (newest or one
version, as a JSON record or the raw file), list versions, validate. One router per kind, whose
segment is one of

    scenarios  procurements  deals  profiles  job-files

and whose routes are /api/v1/<segment>[/<name>[/raw|/versions|/validate]] and
/api/v1/validate/<segment> (check an upload without storing it).

FastAPI reads the annotations of the routes made in `document_router`, which name per-kind types
local to it, so this module keeps annotations evaluated (no `from __future__ import annotations`).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from polyfleet.service.auth import Planner, Viewer, store_of
from polyfleet.service.caching import CACHE_CONTROL, etag_matches, not_modified
from polyfleet.service.errors import ApiError, detail_of
from polyfleet.service.schemas import (
    ERROR_RESPONSES,
    DocumentOut,
    DocumentPage,
    DocumentSummaryOut,
    DocumentWithContent,
    ValidationOut,
    VersionPage,
)
from polyfleet.service.settings import Settings
from polyfleet.service.store import DocumentVersion, check_name
from polyfleet.service.store.documents import NAME_MAX, NAME_PATTERNS
from polyfleet.service.validate import validate_document

__all__ = ["SEGMENTS", "document_router"]

# the URL segment of each document kind
SEGMENTS = {
    "scenario": "scenarios",
    "procurement": "procurements",
    "deal": "deals",
    "profile": "profiles",
    "jobs": "job-files",
}
MAX_INT = 2**31 - 1
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="Items to skip.")]
Version = Annotated[
    int | None, Query(ge=1, le=MAX_INT, description="A stored version; the newest if absent.")
]

# documents are UTF-8 text: YAML or JSON (application/octet-stream is taken too, undocumented)
_TEXT = {"type": "string", "minLength": 1}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file, as multipart (`file` part) or as the raw body (`?name=`).",
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {"file": _TEXT}},
                "encoding": {"file": {"contentType": "application/yaml, application/json"}},
            },
            # any YAML or JSON document: what it must hold is the loaders' to say (validate)
            "application/yaml": {"schema": {}},
            "application/json": {"schema": {}},
        },
    }
}


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def read_upload(request: Request, limit: int) -> tuple[bytes, str | None]:
    """The uploaded bytes and the file name the client gave, refusing more than `limit` bytes as
    they arrive (not after reading them all)."""
    too_large = ApiError(413, "too_large", f"the document is over the limit of {limit} bytes")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=1, max_part_size=limit + 1)
        try:
            part = form.get("file")
            if isinstance(part, UploadFile):
                data, filename = await part.read(limit + 1), part.filename
            elif isinstance(part, str):  # a part without a file name arrives as a text field
                data, filename = part.encode(), None
            else:
                raise ApiError(422, "invalid_input", "the upload has no `file` part", field="file")
        finally:
            await form.close()
        if len(data) > limit:
            raise too_large
        return data, filename
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks), None


def _text(content: bytes, name: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422, "invalid_input", f"{name}: not UTF-8 text (byte {exc.start})", field="content"
        ) from None


def document_router(kind: str) -> APIRouter:
    """The routes of one document kind, under /api/v1/<segment>."""
    segment = SEGMENTS[kind]
    prefix = f"/api/v1/{segment}"
    router = APIRouter(prefix="/api/v1", tags=[segment], responses=ERROR_RESPONSES)
    pattern = NAME_PATTERNS[kind]
    NameQuery = Annotated[
        str | None,
        Query(
            max_length=NAME_MAX,
            pattern=pattern,
            description="The document's name; else the uploaded file's name.",
        ),
    ]
    Name = Annotated[
        str, Path(max_length=NAME_MAX, pattern=pattern, description="The document's name.")
    ]

    def fetch(request: Request, name: str, version: int | None) -> DocumentVersion:
        check_name(kind, name)
        doc = store_of(request).documents.get(kind, name, version)
        if doc is None:
            what = f"version {version} of " if version is not None else ""
            raise ApiError(404, "not_found", f"no {what}{kind} named {name!r}", field="name")
        return doc

    async def uploaded(request: Request, name: str | None) -> tuple[str, bytes]:
        content, filename = await read_upload(request, settings_of(request).max_upload_bytes)
        chosen = name or filename
        if not chosen:
            raise ApiError(
                422,
                "invalid_input",
                "name the document: ?name=fleet.yaml, or upload a file that has a name",
                field="name",
            )
        check_name(kind, chosen)
        if not content:
            raise ApiError(
                422, "invalid_input", f"{chosen}: the document is empty", field="content"
            )
        _text(content, chosen)
        return chosen, content

    @router.post(
        f"/{segment}",
        operation_id=f"upload_{kind}",
        summary=f"Upload a {kind}: a new version, unless it equals the newest",
        status_code=201,
        response_model=DocumentOut,
        responses={200: {"model": DocumentOut, "description": "Same as the newest version"}},
        openapi_extra=UPLOAD_BODY,
    )
    async def upload(request: Request, token: Planner, name: NameQuery = None) -> Response:
        chosen, content = await uploaded(request, name)
        store = store_of(request)
        info, added = await run_in_threadpool(store.documents.put, kind, chosen, content, token.id)
        return JSONResponse(
            DocumentOut.of(info).model_dump(mode="json"),
            status_code=201 if added else 200,
            headers={"Location": f"{prefix}/{info.name}?version={info.version}"},
        )

    @router.get(
        f"/{segment}",
        operation_id=f"list_{segment.replace('-', '_')}",
        summary=f"Every {kind} by name, with its newest version",
        response_model=DocumentPage,
    )
    def list_documents(
        request: Request, token: Viewer, limit: Limit = 50, offset: Offset = 0
    ) -> DocumentPage:
        page = store_of(request).documents.list(kind, limit=limit, offset=offset)
        return DocumentPage(
            items=[DocumentSummaryOut.of(s) for s in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    # not under /{segment}/, where GET would reach /{segment}/{name} with name "validate"
    @router.post(
        f"/validate/{segment}",
        operation_id=f"validate_uploaded_{kind}",
        summary=f"Check a {kind} without storing it",
        response_model=ValidationOut,
        openapi_extra=UPLOAD_BODY,
    )
    async def validate_upload(
        request: Request, token: Planner, name: NameQuery = None
    ) -> ValidationOut:
        chosen, content = await uploaded(request, name)
        return await run_in_threadpool(_validate, request, chosen, content, None)

    def _validate(
        request: Request, name: str, content: bytes, version: int | None
    ) -> ValidationOut:
        scratch = settings_of(request).scratch_dir
        error = validate_document(store_of(request), kind, name, content, scratch)
        detail = None if error is None else detail_of(error)
        return ValidationOut(
            valid=error is None, kind=kind, name=name, version=version, error=detail
        )

    @router.get(
        f"/{segment}/{{name}}",
        operation_id=f"get_{kind}",
        summary=f"A {kind} with its content (the newest version, or ?version=)",
        response_model=DocumentWithContent,
        responses={304: {"description": "Not modified (If-None-Match)"}},
    )
    def get_document(request: Request, name: Name, token: Viewer, version: Version = None) -> Any:
        doc = fetch(request, name, version)
        etag = f'"{doc.info.content_hash}.{doc.info.version}"'
        if etag_matches(request, etag):
            return not_modified(etag)
        body = DocumentWithContent(
            **DocumentOut.of(doc.info).model_dump(), content=_text(doc.content, name)
        )
        return JSONResponse(
            body.model_dump(mode="json"), headers={"ETag": etag, "Cache-Control": CACHE_CONTROL}
        )

    @router.get(
        f"/{segment}/{{name}}/raw",
        operation_id=f"get_{kind}_raw",
        summary=f"A {kind} as the file itself",
        response_class=Response,
        responses={
            200: {"content": {"application/yaml": {}, "application/json": {}}},
            304: {"description": "Not modified (If-None-Match)"},
        },
    )
    def get_raw(request: Request, name: Name, token: Viewer, version: Version = None) -> Response:
        doc = fetch(request, name, version)
        etag = f'"{doc.info.content_hash}"'
        if etag_matches(request, etag):
            return not_modified(etag)
        return Response(
            doc.content,
            media_type=doc.info.media_type,
            headers={
                "ETag": etag,
                "Cache-Control": CACHE_CONTROL,
                "Content-Disposition": f'attachment; filename="{doc.info.name}"',
            },
        )

    @router.get(
        f"/{segment}/{{name}}/versions",
        operation_id=f"list_{kind}_versions",
        summary=f"Every version of a {kind}, newest first",
        response_model=VersionPage,
    )
    def versions(
        request: Request, name: Name, token: Viewer, limit: Limit = 50, offset: Offset = 0
    ) -> VersionPage:
        check_name(kind, name)
        page = store_of(request).documents.versions(kind, name, limit=limit, offset=offset)
        if page.total == 0:
            raise ApiError(404, "not_found", f"no {kind} named {name!r}", field="name")
        return VersionPage(
            items=[DocumentOut.of(i) for i in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.post(
        f"/{segment}/{{name}}/validate",
        operation_id=f"validate_{kind}",
        summary=f"Check a stored {kind} as the command line would",
        response_model=ValidationOut,
    )
    def validate_stored(
        request: Request, name: Name, token: Viewer, version: Version = None
    ) -> ValidationOut:
        doc = fetch(request, name, version)
        return _validate(request, name, doc.content, doc.info.version)

    return router
