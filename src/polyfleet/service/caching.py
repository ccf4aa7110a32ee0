"""Conditional GETs: an ETag on every stored object's representation, 304 when the client's
If-None-Match already names it. Stored versions never change, so their ETags never go stale."""

from __future__ import annotations

from fastapi import Request, Response

__all__ = ["CACHE_CONTROL", "etag_matches", "not_modified"]

# a client may keep a copy but must ask again (cheaply, with If-None-Match) before using it
CACHE_CONTROL = "private, no-cache"


def etag_matches(request: Request, etag: str) -> bool:
    """Whether If-None-Match names `etag` (weak comparison, as RFC 9110 asks for GET) or is `*`."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def not_modified(etag: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})
