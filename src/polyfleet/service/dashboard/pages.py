"""The dashboard's shared parts and its sign-in, overview, document and static routes.

Pages are rendered on the server from Jinja2 templates (autoescaped: every name a scenario holds
is text, never markup) with charts drawn by plotly.js, served from the installed plotly package;
no page loads anything from another site, and no script is inline (the Content-Security-Policy
says so). A page needs a signed-in session (session.py); without one it sends you to sign in.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

import polyfleet
from polyfleet.errors import InputError
from polyfleet.service.auth import RANK
from polyfleet.service.dashboard.session import (
    check_csrf,
    check_origin,
    clear_session,
    csrf_token,
    session_secret,
    set_session,
    signed_in,
)
from polyfleet.service.dashboard.views import FILTERS, overview_view
from polyfleet.service.errors import ApiError, detail_of
from polyfleet.service.routes_documents import SEGMENTS
from polyfleet.service.store import Store, TokenInfo, check_name
from polyfleet.service.submit import read_record
from polyfleet.service.validate import validate_document

__all__ = ["CSP", "NotSignedInError", "page", "router", "templates", "user_of"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(FILTERS)
router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
KIND_OF_SEGMENT = {segment: kind for kind, segment in SEGMENTS.items()}
RUNS_OF_KIND = {
    "scenario": ("plan", "leverage", "frontier"),
    "procurement": ("procure",),
    "deal": ("deal",),
}


class NotSignedInError(Exception):
    """The page needs a signed-in session (or a session whose token may do this)."""


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def user_of(request: Request, role: str = "viewer") -> TokenInfo:
    """The signed-in token; NotSignedInError if there is none (or it is revoked), 403 below `role`."""
    token = signed_in(request, store_of(request))
    if token is None:
        raise NotSignedInError
    if RANK[token.role] < RANK[role]:
        raise ApiError(403, "forbidden", f"this needs the {role} role; yours is {token.role}")
    return token


def page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A rendered page, with the session's CSRF field and the headers every page carries."""
    secret = session_secret(request) or ""
    ctx = {
        "csrf": csrf_token(secret) if secret else "",
        "version": polyfleet.__version__,
        **context,
    }
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    # forms send their Origin (under no-referrer a browser sends "null"), checked on POST
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


async def form_of(request: Request, *, csrf: bool = True) -> dict[str, Any]:
    """The fields of a form from this site (Origin, CSRF field); a file's bytes up to the upload
    limit and one more (so that a larger one is known as such)."""
    check_origin(request)
    limit = request.app.state.settings.max_upload_bytes
    form = await request.form(max_files=1, max_fields=16, max_part_size=limit + 1)
    try:
        if csrf:
            check_csrf(request, form.get("csrf"))
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                out[key] = Upload(value.filename or "", await value.read(limit + 1))
            else:
                out[key] = value
        return out
    finally:
        await form.close()


# ---- static files -------------------------------------------------------------------------

STATIC = {
    "dashboard.js": (HERE / "static" / "dashboard.js", "text/javascript"),
    "dashboard.css": (HERE / "static" / "dashboard.css", "text/css"),
}


def _plotly_js() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The dashboard's script and style, and plotly.js from the installed plotly package."""
    if name == "plotly.min.js":
        path, media = _plotly_js(), "text/javascript"
    elif name in STATIC:
        path, media = STATIC[name]
    else:
        raise ApiError(404, "not_found", "no such file")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


# ---- sign-in --------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_of(request, csrf=False)
    secret = form.get("token")
    target = safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
    token = None
    if isinstance(secret, str) and secret.strip():
        token = await run_in_threadpool(store_of(request).tokens.authenticate, secret.strip())
    if token is None:
        context = {"next": target, "error": "That token is unknown or revoked."}
        return page(request, "login.html", context, status_code=401)
    response = redirect(target)
    set_session(request, response, secret.strip())  # type: ignore[union-attr]
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await form_of(request)
    response = redirect("/login")
    clear_session(response)
    return response


# ---- overview and documents ------------------------------------------------------------------


@router.get("/")
def overview(request: Request, run: str | None = None) -> Response:
    user = user_of(request)
    store = store_of(request)
    plans = store.runs.list(status="succeeded", kind="plan", limit=1).items
    chosen = store.runs.get(run) if run else (plans[0] if plans else None)
    charts: list[Any] = []
    plan = None
    if chosen is not None and chosen.kind == "plan":
        plan = read_record(store, chosen)
        if plan is not None and plan.status == "optimal":  # type: ignore[attr-defined]
            from polyfleet.inputs.reader import read_document

            doc = store.documents.get("scenario", chosen.document.name, chosen.document.version)
            data = read_document(doc.content, file=doc.info.name)[0] if doc else None
            charts = overview_view(plan, data)  # type: ignore[arg-type]
    context = {
        "user": user,
        "run": chosen,
        "plan": plan,
        "charts": charts,
        "runs": store.runs.list(limit=10).items,
        "documents": {kind: store.documents.list(kind, limit=20) for kind in SEGMENTS},
        "segments": SEGMENTS,
    }
    return page(request, "overview.html", context)


@router.get("/documents")
def documents(request: Request) -> Response:
    user = user_of(request)
    store = store_of(request)
    context = {
        "user": user,
        "documents": {kind: store.documents.list(kind, limit=200) for kind in SEGMENTS},
        "segments": SEGMENTS,
    }
    return page(request, "documents.html", context)


@router.post("/documents")
async def upload(request: Request) -> Response:
    user = user_of(request, "planner")
    form = await form_of(request)
    kind, part = form.get("kind"), form.get("file")
    if kind not in SEGMENTS or not isinstance(part, Upload):
        raise ApiError(422, "invalid_input", "choose a kind and a file", field="file")
    limit = request.app.state.settings.max_upload_bytes
    content = part.content
    if len(content) > limit:
        raise ApiError(413, "too_large", f"the document is over the limit of {limit} bytes")
    name = part.filename or ""
    try:
        check_name(kind, name)
        content.decode("utf-8")
    except (InputError, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, InputError) else "not UTF-8 text"
        raise ApiError(422, "invalid_input", message, field="file") from None
    if not content.strip():
        raise ApiError(422, "invalid_input", "the document is empty", field="file")
    info, _ = await run_in_threadpool(store_of(request).documents.put, kind, name, content, user.id)
    return redirect(f"/documents/{SEGMENTS[kind]}/{quote(info.name)}")


def _editor(
    request: Request,
    user: TokenInfo,
    kind: str,
    name: str,
    content: bytes,
    version: int | None,
    error: dict[str, Any] | None,
    checked: bool,
    status_code: int = 200,
) -> Response:
    store = store_of(request)
    text = content.decode("utf-8", errors="replace")
    context = {
        "user": user,
        "kind": kind,
        "segment": SEGMENTS[kind],
        "name": name,
        "version": version,
        "lines": text.splitlines() or [""],
        "content": text,
        "error": error,
        "checked": checked,
        "versions": store.documents.versions(kind, name, limit=50).items,
        "run_kinds": RUNS_OF_KIND.get(kind, ()),
        "runs": store.runs.list(document=name, limit=20).items,
    }
    return page(request, "editor.html", context, status_code=status_code)


def _check(request: Request, kind: str, name: str, content: bytes) -> dict[str, Any] | None:
    scratch = request.app.state.settings.scratch_dir
    error = validate_document(store_of(request), kind, name, content, scratch)
    return None if error is None else detail_of(error)


def _stored_kind(segment: str, name: str) -> str:
    kind = KIND_OF_SEGMENT.get(segment)
    if kind is None:
        raise ApiError(404, "not_found", f"no kind {segment!r}")
    try:
        check_name(kind, name)
    except InputError as exc:
        raise ApiError(404, "not_found", exc.message, field="name") from None
    return kind


@router.get("/documents/{segment}/{name}")
def editor(request: Request, segment: str, name: str, version: int | None = None) -> Response:
    """A stored document, checked as the command line would, its error at its line."""
    user = user_of(request)
    kind = _stored_kind(segment, name)
    doc = store_of(request).documents.get(kind, name, version)
    if doc is None:
        raise ApiError(404, "not_found", f"no {kind} named {name!r}")
    error = _check(request, kind, name, doc.content)
    return _editor(request, user, kind, name, doc.content, doc.info.version, error, True)


@router.post("/documents/{segment}/{name}")
async def save_or_check(request: Request, segment: str, name: str) -> Response:
    """`action=check`: validate the edited text without storing it; `action=save`: store it as a
    new version (an invalid one too, as the API does: its errors are shown)."""
    user = user_of(request, "planner")
    kind = _stored_kind(segment, name)
    form = await form_of(request)
    text = form.get("content")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(422, "invalid_input", "the document is empty", field="content")
    content = text.replace("\r\n", "\n").encode()
    if len(content) > request.app.state.settings.max_upload_bytes:
        raise ApiError(413, "too_large", "the document is over the upload limit")
    if form.get("action") == "save":
        store = store_of(request)
        info, _ = await run_in_threadpool(store.documents.put, kind, name, content, user.id)
        return redirect(f"/documents/{segment}/{quote(name)}?version={info.version}")
    error = await run_in_threadpool(_check, request, kind, name, content)
    status = 200 if error is None else 422
    return _editor(request, user, kind, name, content, None, error, True, status)


@router.get("/catalog")
def catalog_page(request: Request) -> Response:
    user = user_of(request)
    from polyfleet import app

    record = app.catalog()
    return page(request, "catalog.html", {"user": user, "catalog": record})
