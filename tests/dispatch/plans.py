"""Small plan records for the dispatch tests: complete, as `polyfleet plan --out` writes them,
with only the split (workload -> pool -> accelerators) chosen by the test."""

from __future__ import annotations

from typing import Any

from polyfleet.results.plan import PlanRecord


def plan_record(split: dict[str, dict[str, float]], *, status: str = "optimal") -> dict[str, Any]:
    """The JSON data of a plan that gives each workload the pools and accelerators of `split`."""
    pools = sorted({p for by_pool in split.values() for p in by_pool})
    used = {p: sum(by_pool.get(p, 0.0) for by_pool in split.values()) for p in pools}
    record = PlanRecord.build(
        {
            "scenario": "test",
            "status": status,
            "objective": "min_cost",
            "objective_value": 1.0,
            "cost_per_hour": 1.0,
            "cost_per_year": 8760.0,
            "power_mw": 1.0,
            "optimality_gap": 0.0,
            "lower_bound_per_hour": 1.0,
            "solver": {"method": "decomposition", "iterations": 1, "classes": 1, "workloads": 1},
            "assignments": [
                {
                    "workload": w,
                    "pool": p,
                    "accelerator": "h100-sxm",
                    "vendor": "nvidia",
                    "accelerators": n,
                    "served": n,
                    "origin": "measured",
                    "source": "scenario",
                }
                for w, by_pool in split.items()
                for p, n in by_pool.items()
            ],
            "workloads": [
                {
                    "name": w,
                    "unit": "jobs/s",
                    "demand": sum(by_pool.values()),
                    "served": sum(by_pool.values()),
                    "served_fraction": 1.0,
                    "accelerators": sum(by_pool.values()),
                    "cost_per_hour": 1.0,
                    "cost_per_unit": 1.0,
                    "cost_per_million_units": 1e6,
                }
                for w, by_pool in split.items()
            ],
            "pools": [
                {
                    "pool": p,
                    "accelerator": "h100-sxm",
                    "vendor": "nvidia",
                    "capacity": used[p],
                    "used": used[p],
                    "idle_held": 0.0,
                    "utilisation": 1.0,
                    "cost_per_gpu_hour": 1.0,
                    "gross_cost_per_gpu_hour": 1.0,
                    "deal": None,
                    "deal_credit_per_gpu_hour": 0.0,
                    "cost_breakdown": {"rent": 1.0},
                    "mw_per_gpu": 0.001,
                }
                for p in pools
            ],
            "vendor_shares": {"nvidia": {"count": 1.0, "power": 1.0, "spend": 1.0}},
            "power": {
                "mw": 1.0,
                "gw": 0.001,
                "cap_mw": None,
                "cap_shadow_price_per_mw_hour": 0.0,
                "caps": [],
            },
            "binding": [],
            "ineligible": [],
            "assumptions": [],
            "throughput_bound": "point",
            "timings": {"load": 0.0, "matrix": 0.0, "deals": 0.0, "build": 0.0, "solve": 0.0},
        }
    )
    return record.model_dump(mode="json")
