"""Every error the API answers with has one JSON shape, `{"error": {code, message, field, line}}`,
and a 4xx status for anything the request got wrong; a 500 means a defect in polyfleet."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from polyfleet.errors import InputError, PolyfleetError
from polyfleet.inputs.reader import dotted

__all__ = ["ApiError", "detail_of", "error_response", "install_error_handlers"]

log = logging.getLogger("polyfleet.service")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


class ApiError(Exception):
    """An answer with a 4xx status and the error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.line = line
        self.headers = headers


def detail_of(exc: PolyfleetError, code: str = "invalid_input") -> dict[str, Any]:
    """The error body's inner object for a polyfleet error: the message is the command line's."""
    if isinstance(exc, InputError):
        return {
            "code": code,
            "message": str(exc),
            "field": exc.field,
            "line": exc.line,
            "file": exc.file,
        }
    return {"code": code, "message": str(exc), "field": None, "line": None, "file": None}


def error_response(
    status: int, detail: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"code": detail["code"], "message": detail["message"], "field": None, "line": None}
    body.update(detail)
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    detail = {"code": exc.code, "message": exc.message, "field": exc.field, "line": exc.line}
    return error_response(exc.status, detail, exc.headers)


async def _input_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PolyfleetError)
    return error_response(422, detail_of(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, {"code": code, "message": message}, headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _request_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    # the location names the parameter or body field; its first part (query, path, body) does not
    loc = [p for p in first.get("loc", ())[1:] if isinstance(p, str | int)]
    field = dotted(loc) or None
    message = f"{field}: {first['msg']}" if field else str(first["msg"])
    return error_response(422, {"code": "invalid_request", "message": message, "field": field})


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, {"code": "internal", "message": "internal error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PolyfleetError, _input_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(Exception, _internal_error)
