"""Two plan records side by side: cost, power, vendor shares, and per workload and per pool the
figures of each and how the second differs from the first (b - a).

A workload or pool only one plan has is listed with the other side empty (None), so nothing is
left out of the comparison; an infeasible plan has no placement, and compares by its headline
figures only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from polyfleet.results.plan import PlanRecord

__all__ = ["Comparison", "Delta", "compare_plans", "delta"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Delta(_Out):
    """One figure in both plans and b - a (None when either side lacks it)."""

    a: float | None
    b: float | None
    delta: float | None


class PlanSide(_Out):
    run: str
    scenario: str
    status: str


class VendorDelta(_Out):
    vendor: str
    count: Delta
    power: Delta
    spend: Delta


class WorkloadDelta(_Out):
    workload: str
    accelerators: Delta
    cost_per_hour: Delta
    served_fraction: Delta


class PoolDelta(_Out):
    pool: str
    vendor: str
    used: Delta
    utilisation: Delta
    cost_per_gpu_hour: Delta


class Comparison(_Out):
    a: PlanSide
    b: PlanSide
    cost_per_hour: Delta
    cost_per_year: Delta
    power_mw: Delta
    vendor_shares: list[VendorDelta]
    workloads: list[WorkloadDelta]
    pools: list[PoolDelta]


def delta(a: float | None, b: float | None) -> Delta:
    return Delta(a=a, b=b, delta=None if a is None or b is None else b - a)


def _union(first: list[str], second: list[str]) -> list[str]:
    """Names of both, in the first's order, then the second's new ones."""
    seen = dict.fromkeys(first)
    seen.update(dict.fromkeys(second))
    return list(seen)


def _deltas(a: dict[str, Any], b: dict[str, Any], key: str, fields: tuple[str, ...]) -> dict:
    """Each field's delta for one row `key` of two plans (None on the side that lacks the row)."""
    return {
        f: delta(
            getattr(a[key], f) if key in a else None,
            getattr(b[key], f) if key in b else None,
        )
        for f in fields
    }


def compare_plans(a: PlanRecord, b: PlanRecord, run_a: str, run_b: str) -> Comparison:
    sa, sb = a.vendor_shares or {}, b.vendor_shares or {}
    vendors = [
        VendorDelta(vendor=v, **_deltas(sa, sb, v, ("count", "power", "spend")))
        for v in _union(list(sa), list(sb))
    ]
    wa = {w.name: w for w in a.workloads or ()}
    wb = {w.name: w for w in b.workloads or ()}
    workloads = [
        WorkloadDelta(
            workload=name,
            **_deltas(wa, wb, name, ("accelerators", "cost_per_hour", "served_fraction")),
        )
        for name in _union(list(wa), list(wb))
    ]
    pa = {p.pool: p for p in a.pools or ()}
    pb = {p.pool: p for p in b.pools or ()}
    pools = [
        PoolDelta(
            pool=name,
            vendor=(pa.get(name) or pb[name]).vendor,
            **_deltas(pa, pb, name, ("used", "utilisation", "cost_per_gpu_hour")),
        )
        for name in _union(list(pa), list(pb))
    ]
    return Comparison(
        a=PlanSide(run=run_a, scenario=a.scenario, status=a.status),
        b=PlanSide(run=run_b, scenario=b.scenario, status=b.status),
        cost_per_hour=delta(a.cost_per_hour, b.cost_per_hour),
        cost_per_year=delta(a.cost_per_year, b.cost_per_year),
        power_mw=delta(a.power_mw, b.power_mw),
        vendor_shares=vendors,
        workloads=workloads,
        pools=pools,
    )
