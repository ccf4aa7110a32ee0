"""The dispatch ledger's jobs and pools (read-only) and the accelerator catalog:

    GET /api/v1/jobs      jobs of the ledger under the state folder (state, pool; limit, offset)
    GET /api/v1/pools     jobs by state, and by pool and state
    GET /api/v1/catalog   the packaged catalog with the source of every figure (ETag)

The ledger is the one `polyfleet run` writes (`<state folder>/ledger.sqlite`), opened read-only
through the dispatch package; a server whose state folder has none answers with no jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from polyfleet.errors import InputError
from polyfleet.service.auth import Viewer
from polyfleet.service.caching import CACHE_CONTROL, etag_matches, not_modified
from polyfleet.service.errors import ApiError
from polyfleet.service.schemas import ERROR_RESPONSES
from polyfleet.service.schemas_runs import JobOut, JobPage, PoolsOut

__all__ = ["LEDGER_FILE", "ledger_path", "read_jobs", "read_pools", "router"]

router = APIRouter(prefix="/api/v1", tags=["fleet"], responses=ERROR_RESPONSES)
LEDGER_FILE = "ledger.sqlite"
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip.")]
Name = Annotated[str | None, Query(max_length=128)]


def _vendors() -> list[str]:
    from polyfleet.catalog import load_catalog

    return sorted(load_catalog().vendors)


VENDORS = _vendors()


def ledger_path(request: Request) -> Path:
    state_dir: Path = request.app.state.settings.state_dir
    return state_dir / LEDGER_FILE


def read_jobs(
    path: Path, state: str | None = None, pool: str | None = None
) -> list[dict[str, Any]]:
    """The ledger's jobs (oldest first), or none when there is no ledger."""
    from polyfleet.dispatch.ledger import Ledger

    if not path.exists():
        return []
    with Ledger(path, readonly=True) as ledger:
        jobs = ledger.jobs(state)
    return [j for j in jobs if pool is None or j["pool"] == pool]


def read_pools(path: Path) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Jobs by state, and pool -> state -> jobs."""
    from polyfleet.dispatch.ledger import STATES, Ledger

    if not path.exists():
        return dict.fromkeys(STATES, 0), {}
    with Ledger(path, readonly=True) as ledger:
        return ledger.counts(), ledger.by_pool()


@router.get("/jobs", operation_id="list_jobs", summary="The dispatch ledger's jobs (read-only)")
def list_jobs(
    request: Request,
    token: Viewer,
    state: Name = None,
    pool: Name = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JobPage:
    path = ledger_path(request)
    jobs = read_jobs(path, state, pool)
    page = jobs[offset : offset + limit]
    return JobPage(
        ledger=LEDGER_FILE,
        items=[JobOut(**{k: j[k] for k in JobOut.model_fields}) for j in page],
        total=len(jobs),
        limit=limit,
        offset=offset,
    )


@router.get("/pools", operation_id="list_pools", summary="Jobs by state and by pool")
def list_pools(request: Request, token: Viewer) -> PoolsOut:
    counts, by_pool = read_pools(ledger_path(request))
    return PoolsOut(ledger=LEDGER_FILE, jobs=counts, pools=by_pool)


@router.get(
    "/catalog",
    operation_id="get_catalog",
    summary="The accelerator catalog with the source of every figure (`polyfleet catalog --json`)",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The catalog record"},
        304: {"description": "Not modified (If-None-Match)"},
    },
)
def catalog(
    request: Request,
    token: Viewer,
    vendor: Annotated[
        str | None,
        Query(max_length=64, description="Only this vendor.", json_schema_extra={"enum": VENDORS}),
    ] = None,
) -> Response:
    import hashlib

    from polyfleet import app
    from polyfleet.results.base import dump_record

    try:
        record = app.catalog(vendor)
    except InputError as exc:
        raise ApiError(422, "invalid_input", exc.message, field="vendor") from None
    text = dump_record(record)
    etag = f'"{hashlib.sha256(text.encode()).hexdigest()}"'
    if etag_matches(request, etag):
        return not_modified(etag)
    return Response(
        text, media_type="application/json", headers={"ETag": etag, "Cache-Control": CACHE_CONTROL}
    )
