"""The lock-in premium of a procurement plan: what it would cost to buy from one vendor only.

Per vendor (google's rented parts and in-house builds included): the procurement re-solved with
only that vendor's offers, builds and installed base, minus the procurement with everything,
both without vendor-share limits (a single-vendor fleet cannot meet them) — year by year
(undiscounted cost) and in all (the discounted objective). A vendor that cannot serve the demand
within the budgets and power caps even buying is an answer: its shortfalls and violations say
why.
"""

from __future__ import annotations

from typing import Any

from polyfleet.catalog import Catalog
from polyfleet.inputs.procurement import LoadedProcurement, Procurement
from polyfleet.plan.procure import procure

__all__ = ["LOCK_IN_GAP", "lock_in", "vendors_of"]

#: The premiums are differences of optima: each solve closes its gap to this (relative).
LOCK_IN_GAP = 1e-5


def vendors_of(proc: Procurement, catalog: Catalog) -> list[str]:
    """Every vendor the file can buy, rent or build from, or has installed."""
    found = {catalog[o.accelerator].vendor for o in proc.offers}
    found |= {catalog[i.accelerator].vendor for i in proc.installed}
    found |= {b.vendor for b in proc.builds}
    return sorted(found)


def _only(loaded: LoadedProcurement, vendor: str | None) -> LoadedProcurement:
    """The file without share limits, with only `vendor`'s parts (None: every vendor's)."""
    proc, catalog = loaded.procurement, loaded.catalog

    def keep(acc_id: str) -> bool:
        return vendor is None or catalog[acc_id].vendor == vendor

    limits = proc.limits.model_copy(update={"vendor_share": None})
    narrowed = proc.model_copy(
        update={
            "limits": limits,
            "mip_gap": min(proc.mip_gap, LOCK_IN_GAP),
            "offers": [o for o in proc.offers if keep(o.accelerator)],
            "builds": [b for b in proc.builds if vendor is None or b.vendor == vendor],
            "installed": [i for i in proc.installed if keep(i.accelerator)],
        }
    )
    return loaded.model_copy(update={"procurement": narrowed})


def _why(result: dict[str, Any]) -> list[str]:
    """The shortfalls, one line per workload (its years and worst year), and the violations."""
    short: dict[str, list[dict[str, Any]]] = {}
    for s in result["shortfalls"]:
        short.setdefault(s["workload"], []).append(s)
    lines = []
    for workload, rows in short.items():
        years = sorted(r["year"] for r in rows)
        span = str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
        worst = max(r["short_fraction"] for r in rows)
        why = next((r["why"] for r in rows if r.get("why")), None)
        lines.append(
            f"{workload}: up to {worst:.1%} of its demand unmet ({span})"
            + (f": {why}" if why else "")
        )
    lines += [f"{v['limit']} exceeded by {v['by']:,.4g} {v['unit']}" for v in result["violations"]]
    return lines[:10]


def lock_in(loaded: LoadedProcurement) -> dict[str, Any]:
    """Each vendor's lock-in premium (see the module docstring), as record data."""
    every = procure(_only(loaded, None), limit_costs=False).to_dict()
    if every["status"] != "optimal":
        return {"base_status": every["status"], "base_objective": None, "vendors": []}
    base_years = [c["total"] for c in every["cost_by_year"]]
    out = []
    for vendor in vendors_of(loaded.procurement, loaded.catalog):
        only = _only(loaded, vendor)
        proc = only.procurement
        if not proc.offers and not proc.builds:
            out.append(
                {
                    "vendor": vendor,
                    "status": "infeasible",
                    "premium": None,
                    "premium_by_year": None,
                    "why": [f"nothing of {vendor} can be bought, rented or built"],
                }
            )
            continue
        result = procure(only, limit_costs=False).to_dict()
        ok = result["status"] == "optimal"
        years = [c["total"] for c in result["cost_by_year"]]
        out.append(
            {
                "vendor": vendor,
                "status": result["status"],
                "premium": result["objective"] - every["objective"] if ok else None,
                "premium_by_year": [v - b for v, b in zip(years, base_years, strict=True)]
                if ok
                else None,
                "why": [] if ok else _why(result),
            }
        )
    return {"base_status": "optimal", "base_objective": every["objective"], "vendors": out}
