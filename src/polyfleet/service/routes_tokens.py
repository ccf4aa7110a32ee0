"""Tokens, for admins: list, create (the secret is in this one answer only), revoke. Any token
may ask who it is (`/api/v1/me`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from polyfleet.service.auth import Admin, Viewer, store_of
from polyfleet.service.errors import ApiError
from polyfleet.service.schemas import (
    ERROR_RESPONSES,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["tokens"], responses=ERROR_RESPONSES)
TokenId = Annotated[str, Path(max_length=32)]


@router.get("/me", operation_id="whoami", summary="The token this request carries")
def whoami(token: Viewer) -> TokenOut:
    return TokenOut.of(token)


@router.get("/tokens", operation_id="list_tokens", summary="Every token, revoked ones too")
def list_tokens(request: Request, token: Admin) -> TokenList:
    items = [TokenOut.of(t) for t in store_of(request).tokens.list()]
    return TokenList(items=items, total=len(items))


@router.post(
    "/tokens",
    operation_id="create_token",
    summary="Create a token; its secret is shown in this answer only",
    status_code=201,
)
def create_token(request: Request, body: TokenCreate, token: Admin) -> TokenCreated:
    info, secret = store_of(request).tokens.create(body.role, body.name)
    return TokenCreated(**TokenOut.of(info).model_dump(), secret=secret)


@router.get("/tokens/{token_id}", operation_id="get_token", summary="One token")
def get_token(request: Request, token_id: TokenId, token: Admin) -> TokenOut:
    info = store_of(request).tokens.get(token_id)
    if info is None:
        raise ApiError(404, "not_found", f"no token {token_id!r}", field="token_id")
    return TokenOut.of(info)


@router.delete(
    "/tokens/{token_id}",
    operation_id="revoke_token",
    summary="Revoke a token (it is kept, marked revoked)",
    responses={409: {"description": "The last active admin token"}},
)
def revoke_token(request: Request, token_id: TokenId, token: Admin) -> TokenOut:
    tokens = store_of(request).tokens
    target = tokens.get(token_id)
    if target is None:
        raise ApiError(404, "not_found", f"no token {token_id!r}", field="token_id")
    if (
        target.role == "admin"
        and target.active
        and tokens.count(active_only=True, role="admin") <= 1
    ):
        raise ApiError(
            409,
            "conflict",
            "this is the last active admin token: create another admin token first",
            field="token_id",
        )
    info = tokens.revoke(token_id)
    assert info is not None
    return TokenOut.of(info)
