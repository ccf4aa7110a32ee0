"""Who is calling: the bearer token of every request but /health, and the role it needs.

Roles are ranked: a viewer reads; a planner also uploads and runs; an admin also manages tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from polyfleet.service.errors import ApiError
from polyfleet.service.store import Store, TokenInfo

__all__ = ["RANK", "Admin", "Planner", "Viewer", "caller", "require", "store_of"]

RANK = {"viewer": 0, "planner": 1, "admin": 2}
_bearer = HTTPBearer(auto_error=False, description="A token from `polyfleet serve token create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenInfo:
    """The active token the request carries; 401 without one, or with an unknown or revoked one."""
    if credentials is None:
        raise ApiError(
            401,
            "unauthorized",
            "this needs a bearer token: Authorization: Bearer <token>",
            headers=_CHALLENGE,
        )
    token = store_of(request).tokens.authenticate(credentials.credentials)
    if token is None:
        raise ApiError(401, "unauthorized", "the token is unknown or revoked", headers=_CHALLENGE)
    return token


def require(role: str) -> Callable[[TokenInfo], TokenInfo]:
    """A dependency that lets through tokens of `role` or a higher one; 403 for the others."""

    def check(token: Annotated[TokenInfo, Depends(caller)]) -> TokenInfo:
        if RANK[token.role] < RANK[role]:
            raise ApiError(
                403, "forbidden", f"this needs the {role} role; the token's role is {token.role}"
            )
        return token

    return check


Viewer = Annotated[TokenInfo, Depends(require("viewer"))]
Planner = Annotated[TokenInfo, Depends(require("planner"))]
Admin = Annotated[TokenInfo, Depends(require("admin"))]
