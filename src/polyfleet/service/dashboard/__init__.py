"""The team dashboard: server-rendered pages over the same store and application layer as the
API (pages.py: sign-in, overview, documents; run_pages.py: runs, compare, jobs)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from polyfleet.service.dashboard import run_pages  # noqa: F401  (registers its routes)
from polyfleet.service.dashboard.pages import NotSignedInError, page, router
from polyfleet.service.errors import ApiError, error_response

__all__ = ["install_dashboard"]


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/health" or path.endswith("/status.json")


async def _sign_in(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _api_error(request: Request, exc: Exception) -> Response:
    """API errors keep their JSON body; a page shows the same error as a page."""
    assert isinstance(exc, ApiError)
    detail = {"code": exc.code, "message": exc.message, "field": exc.field, "line": exc.line}
    if _is_api(request):
        return error_response(exc.status, detail, exc.headers)
    return page(request, "error.html", {"error": detail, "status": exc.status}, exc.status)


def install_dashboard(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(NotSignedInError, _sign_in)
    app.add_exception_handler(ApiError, _api_error)
