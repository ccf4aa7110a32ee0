"""Runs and their comparison:

POST /api/v1/runs                  submit {kind, document: {kind, name, version?}, options};
                                   202 with the run (queued) and its Location
GET  /api/v1/runs                  runs, newest first (status, kind, document; limit, offset)
GET  /api/v1/runs/{id}             status and progress
GET  /api/v1/runs/{id}/result      the record, byte for byte as `--json` prints it (ETag)
POST /api/v1/runs/{id}/cancel      cancel a queued run, or stop a running one
GET  /api/v1/compare?a=&b=         two plan runs side by side
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from polyfleet.results.plan import PlanRecord
from polyfleet.service.auth import Planner, Viewer, store_of
from polyfleet.service.caching import CACHE_CONTROL, etag_matches, not_modified
from polyfleet.service.compare import Comparison, compare_plans
from polyfleet.service.errors import ApiError
from polyfleet.service.schemas import ERROR_RESPONSES
from polyfleet.service.schemas_runs import RunKindName, RunOut, RunPage, RunStatus, RunSubmit
from polyfleet.service.store import RunInfo, Store
from polyfleet.service.store.documents import NAME_MAX
from polyfleet.service.submit import read_record, submit_run

__all__ = ["router", "wake_executor"]

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=ERROR_RESPONSES)
RunId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The run's id.")]
RunIdQuery = Annotated[str, Query(pattern=r"^[0-9a-f]{32}$", description="A plan run's id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip.")]


def wake_executor(request: Request) -> None:
    executor = getattr(request.app.state, "executor", None)
    if executor is not None:
        executor.wake()


def fetch_run(store: Store, run_id: str) -> RunInfo:
    run = store.runs.get(run_id)
    if run is None:
        raise ApiError(404, "not_found", f"no run {run_id!r}", field="run_id")
    return run


@router.post(
    "/runs",
    operation_id="submit_run",
    summary="Submit a run against a stored document; it is stored (queued) before the answer",
    status_code=202,
    response_model=RunOut,
)
async def submit(request: Request, body: RunSubmit, token: Planner) -> JSONResponse:
    store = store_of(request)
    doc = body.document
    run = await run_in_threadpool(
        submit_run, store, body.kind, doc.kind, doc.name, doc.version, body.options, token.id
    )
    wake_executor(request)
    return JSONResponse(
        RunOut.of(run).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/v1/runs/{run.id}"},
    )


@router.get("/runs", operation_id="list_runs", summary="Runs, newest first")
def list_runs(
    request: Request,
    token: Viewer,
    status: RunStatus | None = None,
    kind: RunKindName | None = None,
    document: Annotated[
        str | None, Query(max_length=NAME_MAX, description="Runs against this document name.")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RunPage:
    page = store_of(request).runs.list(
        status=status, kind=kind, document=document, limit=limit, offset=offset
    )
    return RunPage(
        items=[RunOut.of(r) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/runs/{run_id}", operation_id="get_run", summary="A run: status and progress")
def get_run(request: Request, run_id: RunId, token: Viewer) -> RunOut:
    return RunOut.of(fetch_run(store_of(request), run_id))


@router.get(
    "/runs/{run_id}/result",
    operation_id="get_run_result",
    summary="The run's record, as `polyfleet <command> --json` prints it",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The result record"},
        304: {"description": "Not modified (If-None-Match)"},
        409: {"description": "The run has no result (yet, or it failed)"},
    },
)
def get_result(request: Request, run_id: RunId, token: Viewer) -> Response:
    store = store_of(request)
    run = fetch_run(store, run_id)
    if run.result_hash is None:
        why = f"the run is {run.status}"
        if run.error is not None:
            why += f": {run.error.get('message')}"
        raise ApiError(409, "no_result", why, field="run_id")
    etag = f'"{run.result_hash}"'
    if etag_matches(request, etag):
        return not_modified(etag)
    text = store.runs.record(run_id) or ""
    return Response(
        text,
        media_type="application/json",
        headers={"ETag": etag, "Cache-Control": CACHE_CONTROL},
    )


@router.post(
    "/runs/{run_id}/cancel",
    operation_id="cancel_run",
    summary="Cancel a queued run at once, or stop a running one (a finished run is unchanged)",
)
def cancel_run(request: Request, run_id: RunId, token: Planner) -> RunOut:
    store = store_of(request)
    fetch_run(store, run_id)
    run = store.runs.cancel(run_id)
    assert run is not None
    wake_executor(request)
    return RunOut.of(run)


def plan_of(store: Store, run_id: str, side: str) -> PlanRecord:
    run = store.runs.get(run_id)
    if run is None:
        raise ApiError(404, "not_found", f"no run {run_id!r}", field=side)
    if run.kind != "plan":
        raise ApiError(422, "invalid_input", f"run {run_id} is a {run.kind} run", field=side)
    record = read_record(store, run)
    if record is None:
        raise ApiError(409, "no_result", f"run {run_id} is {run.status}: no plan yet", field=side)
    assert isinstance(record, PlanRecord)
    return record


def comparison(store: Store, a: str, b: str) -> Comparison:
    return compare_plans(plan_of(store, a, "a"), plan_of(store, b, "b"), a, b)


@router.get(
    "/compare",
    operation_id="compare_plans",
    summary="Two plan runs side by side: cost, power, shares, per-workload and per-pool deltas",
    responses={409: {"description": "A run has no plan yet"}},
)
def compare(request: Request, a: RunIdQuery, b: RunIdQuery, token: Viewer) -> Comparison:
    return comparison(store_of(request), a, b)
