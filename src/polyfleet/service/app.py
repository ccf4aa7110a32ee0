"""The FastAPI application: routes, error bodies, body cap, no CORS (same-origin only).

Routes (all under /api/v1 but /health; every one but /health needs a bearer token):

    GET  /health                              liveness and database check, no token
    GET  /api/v1/openapi.json                 this API's OpenAPI schema
    GET  /api/v1/me                           the caller's token
    GET|POST /api/v1/tokens, GET|DELETE /api/v1/tokens/{id}         admins
    POST /api/v1/{kind}                       upload (multipart `file` or raw body + ?name=)
    GET  /api/v1/{kind}                       list by name (limit, offset, total)
    POST /api/v1/validate/{kind}              check an upload without storing it
    GET  /api/v1/{kind}/{name}[?version=]     record with content (ETag, If-None-Match)
    GET  /api/v1/{kind}/{name}/raw            the file itself (ETag)
    GET  /api/v1/{kind}/{name}/versions       every version, newest first
    POST /api/v1/{kind}/{name}/validate       check a stored version as the CLI would

where {kind} is scenarios, procurements, deals, profiles or job-files; and

    POST /api/v1/runs, GET /api/v1/runs[/{id}[/result]], POST /api/v1/runs/{id}/cancel
    GET  /api/v1/compare?a=&b=                two plan runs side by side
    GET  /api/v1/jobs, /api/v1/pools          the dispatch ledger, read-only
    GET  /api/v1/catalog                      the accelerator catalog with sources

The dashboard (server-rendered pages, signed in with a token kept in a cookie) is at `/`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import polyfleet
from polyfleet.service.dashboard import install_dashboard
from polyfleet.service.errors import install_error_handlers
from polyfleet.service.executor import RunExecutor
from polyfleet.service.middleware import BodyLimit, SecurityHeaders
from polyfleet.service.routes_documents import SEGMENTS, document_router
from polyfleet.service.routes_fleet import router as fleet_router
from polyfleet.service.routes_runs import router as run_router
from polyfleet.service.routes_tokens import router as token_router
from polyfleet.service.schemas import Health
from polyfleet.service.settings import Settings
from polyfleet.service.store import Store

__all__ = ["create_app"]

OPENAPI_URL = "/api/v1/openapi.json"


def create_app(store: Store, settings: Settings, executor: RunExecutor | None = None) -> FastAPI:
    """The API and dashboard over `store`. `executor` runs the submitted runs while the app is
    up (without one, runs stay queued for another server). The interactive docs pages are off:
    they load scripts from a CDN."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if executor is not None:
            executor.start()
        try:
            yield
        finally:
            if executor is not None:
                executor.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="polyfleet",
        version=polyfleet.__version__,
        description="Plan, price and run a multi-vendor AI-accelerator fleet, as a team.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.state.executor = executor
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        message=f"the request is too large: a document may have {settings.max_upload_bytes} bytes",
    )
    app.add_middleware(SecurityHeaders)

    @app.get(
        "/health",
        operation_id="health",
        tags=["health"],
        summary="Whether the service and its database answer (no token needed)",
        response_model=Health,
        responses={503: {"model": Health, "description": "The database does not answer"}},
    )
    def health(request: Request) -> JSONResponse:
        ok = request.app.state.store.ping()
        body = Health(status="ok" if ok else "unavailable", version=polyfleet.__version__)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    app.include_router(token_router)
    for kind in SEGMENTS:
        app.include_router(document_router(kind))
    app.include_router(run_router)
    app.include_router(fleet_router)
    install_dashboard(app)
    return app
