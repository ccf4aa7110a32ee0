"""Signing in to the dashboard: the token, kept in a cookie the page's scripts cannot read, and
forms that another site cannot submit.

- The cookie holds the bearer secret, `HttpOnly` (no script reads it), `SameSite=Strict` (no other
  site's page sends it), `Secure` over HTTPS, and is checked on every page as the API checks its
  header: a revoked token signs the page out.
- Every form carries a CSRF field derived from the secret (HMAC-SHA256), checked in constant time;
  a POST whose `Origin` (or `Referer`) names another site is refused before that.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response

from polyfleet.service.errors import ApiError
from polyfleet.service.store import Store, TokenInfo

__all__ = [
    "COOKIE",
    "check_csrf",
    "check_origin",
    "clear_session",
    "csrf_token",
    "session_secret",
    "set_session",
    "signed_in",
]

COOKIE = "polyfleet_session"
SESSION_S = 12 * 3600


def session_secret(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def signed_in(request: Request, store: Store) -> TokenInfo | None:
    """The token of the page's session, if it is still active."""
    secret = session_secret(request)
    if not secret:
        return None
    return store.tokens.authenticate(secret)


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"polyfleet dashboard form", hashlib.sha256).hexdigest()


def set_session(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=SESSION_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def check_origin(request: Request) -> None:
    """Refuse a form sent from a page of another origin (when the browser says where from)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        if source == "null":
            raise ApiError(403, "forbidden", "the form came from an opaque origin")
        return
    parts = urlsplit(source)
    if parts.netloc != request.url.netloc or parts.scheme != request.url.scheme:
        raise ApiError(403, "forbidden", "the form came from another site")


def check_csrf(request: Request, submitted: object) -> None:
    secret = session_secret(request)
    if not secret or not isinstance(submitted, str):
        raise ApiError(403, "forbidden", "the form has no valid CSRF field; reload the page")
    if not hmac.compare_digest(csrf_token(secret), submitted):
        raise ApiError(403, "forbidden", "the form has no valid CSRF field; reload the page")
