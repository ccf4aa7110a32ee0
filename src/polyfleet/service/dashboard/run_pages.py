"""The dashboard's run, compare and jobs pages. A running run's page follows its progress by
polling its status (a small JSON answer) and shows its result when it ends, without reloading
by hand."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from polyfleet.service.compare import Comparison
from polyfleet.service.dashboard.pages import (
    SEGMENTS,
    form_of,
    page,
    redirect,
    router,
    store_of,
    user_of,
)
from polyfleet.service.dashboard.views import Chart, record_view
from polyfleet.service.errors import ApiError
from polyfleet.service.routes_fleet import ledger_path, read_jobs, read_pools
from polyfleet.service.routes_runs import comparison, fetch_run, wake_executor
from polyfleet.service.run_kinds import KINDS
from polyfleet.service.schemas_runs import RunOut
from polyfleet.service.submit import read_record, submit_run

__all__ = ["router"]

RUN_STATUSES = ("queued", "running", "succeeded", "infeasible", "failed", "cancelled")
PAGE = 50


@router.get("/runs")
def runs(
    request: Request,
    status: str | None = None,
    kind: str | None = None,
    document: str | None = None,
    offset: int = 0,
) -> Response:
    user = user_of(request)
    status = status if status in RUN_STATUSES else None
    kind = kind if kind in KINDS else None
    offset = max(0, min(offset, 2**31 - 1))
    listed = store_of(request).runs.list(
        status=status, kind=kind, document=document or None, limit=PAGE, offset=offset
    )
    context = {
        "user": user,
        "page": listed,
        "status": status,
        "kind": kind,
        "document": document or "",
        "statuses": RUN_STATUSES,
        "kinds": list(KINDS),
        "step": PAGE,
    }
    return page(request, "runs.html", context)


@router.post("/runs")
async def submit(request: Request) -> Response:
    user = user_of(request, "planner")
    form = await form_of(request)
    kind, doc_kind, name = form.get("kind"), form.get("document_kind"), form.get("name")
    if kind not in KINDS or not isinstance(doc_kind, str) or not isinstance(name, str):
        raise ApiError(422, "invalid_input", "choose a run kind and a document", field="kind")
    raw_version = form.get("version")
    version = int(raw_version) if isinstance(raw_version, str) and raw_version.isdigit() else None
    options: dict[str, Any] = {}
    if kind == "plan" and form.get("frontier") == "on":
        options["frontier"] = True
    run = await run_in_threadpool(
        submit_run, store_of(request), kind, doc_kind, name, version, options, user.id
    )
    wake_executor(request)
    return redirect(f"/runs/{run.id}")


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: str) -> Response:
    user_of(request, "planner")
    await form_of(request)
    store = store_of(request)
    fetch_run(store, run_id)
    store.runs.cancel(run_id)
    wake_executor(request)
    return redirect(f"/runs/{run_id}")


@router.get("/runs/{run_id}/status.json")
def run_status(request: Request, run_id: str) -> Response:
    """What a running run's page polls: status, progress and what it is doing."""
    user_of(request)
    run = fetch_run(store_of(request), run_id)
    body = {"status": run.status, "progress": run.progress, "message": run.message}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str) -> Response:
    user = user_of(request)
    store = store_of(request)
    run = fetch_run(store, run_id)
    context: dict[str, Any] = {
        "user": user,
        "run": RunOut.of(run),
        "segment": SEGMENTS[run.document.kind],
        "done": run.done,
        "view": None,
    }
    if run.result_hash is not None:
        record = read_record(store, run)
        if record is not None:
            view = record_view(record)
            context["view"] = view
            return page(request, view.template, context)
    return page(request, "run.html", context)


def _compare_charts(cmp: Comparison) -> list[Chart]:
    names = [w.workload for w in cmp.workloads]
    fig = go.Figure()
    fig.add_bar(name="a", x=names, y=[w.accelerators.a for w in cmp.workloads])
    fig.add_bar(name="b", x=names, y=[w.accelerators.b for w in cmp.workloads])
    fig.update_layout(barmode="group", title="Accelerators by workload", yaxis_title="accelerators")
    pools = [p.pool for p in cmp.pools]
    used = go.Figure()
    used.add_bar(name="a", x=pools, y=[p.used.a for p in cmp.pools])
    used.add_bar(name="b", x=pools, y=[p.used.b for p in cmp.pools])
    used.update_layout(barmode="group", title="Accelerators used by pool")
    return [Chart.of("compare-workloads", fig), Chart.of("compare-pools", used)]


@router.get("/compare")
def compare_page(request: Request, a: str | None = None, b: str | None = None) -> Response:
    user = user_of(request)
    store = store_of(request)
    plans = [
        r
        for status in ("succeeded", "infeasible")
        for r in store.runs.list(status=status, kind="plan", limit=100).items
    ]
    plans.sort(key=lambda r: r.created_at, reverse=True)
    context: dict[str, Any] = {"user": user, "plans": plans, "a": a, "b": b, "cmp": None}
    context["charts"] = []
    if a and b:
        cmp = comparison(store, a, b)
        context["cmp"] = cmp
        context["charts"] = _compare_charts(cmp)
    return page(request, "compare.html", context)


@router.get("/jobs")
def jobs_page(request: Request, state: str | None = None) -> Response:
    from polyfleet.report.figures import jobs_by_pool_figure, jobs_by_state_figure

    user = user_of(request)
    path = ledger_path(request)
    counts, by_pool = read_pools(path)
    jobs = read_jobs(path, state or None)
    charts = [
        Chart.of("jobs-by-state", jobs_by_state_figure(counts)),
        Chart.of("jobs-by-pool", jobs_by_pool_figure(by_pool)),
    ]
    context = {
        "user": user,
        "counts": counts,
        "by_pool": by_pool,
        "jobs": jobs[:500],
        "total": len(jobs),
        "state": state or "",
        "charts": charts,
        "has_ledger": path.exists(),
    }
    return page(request, "jobs.html", context)
