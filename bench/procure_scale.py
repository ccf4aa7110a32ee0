"""Procurement at scale: 5 years x all 12 catalog accelerator kinds x 50 workload classes, with
budgets, a growing power envelope, vendor-share bounds, an installed base and a six-tranche
warrant deal, solved to a 0.1 % MIP gap. polyfleet solves one MILP per monotone vesting pattern
of the tranches (7 here), each with a tight relaxation. The baseline, in the same run, is the
plain MILP with the tranche binaries left free for branch and bound, entered coefficient by
coefficient through HiGHS's addVar/addRow, solved to the same gap.

    python bench/procure_scale.py            # appends a section to BENCHMARKS.md
    python bench/procure_scale.py --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def random_procurement(n_w: int, years: int, seed: int = 0) -> dict:
    from polyfleet.catalog import load_catalog

    rng = np.random.default_rng(seed)
    cat = load_catalog()
    accs = list(cat)
    speed = {a: (cat[a].tflops.bf16 or 300.0) / 1000.0 for a in accs}
    workloads = []
    for i in range(n_w):
        eligible = [a for a in accs if rng.random() < 0.7] or accs[:1]
        workloads.append(
            {
                "name": f"w{i}",
                "kind": "custom",
                "demand": {"value": float(rng.uniform(1e3, 2e4)), "unit": "jobs/s"},
                "throughput": {a: float(speed[a] * rng.uniform(0.6, 1.4)) for a in eligible},
            }
        )
    return {
        "name": "procure-scale",
        "years": list(range(2027, 2027 + years)),
        "mip_gap": 1e-3,
        "time_limit_s": 600,
        "limits": {
            "budget_per_year": [float(x) for x in np.linspace(60e9, 90e9, years)],
            "power_cap_gw": [float(x) for x in np.linspace(3.0, 8.0, years)],
            "vendor_share": {"measure": "power", "max": {"nvidia": 0.75}, "min": {"amd": 0.15}},
        },
        "deals": [str(ROOT / "examples" / "deals" / "amd-6gw.yaml")],
        "offers": [
            {
                "accelerator": a,
                "price_per_gpu": float(cat[a].price.purchase or rng.uniform(15e3, 60e3)),
                "life_years": 4,
                **({"deal": "amd-6gw-2026"} if a == "mi455x" else {}),
            }
            for a in accs
        ],
        "installed": [
            {"accelerator": "h100-sxm", "count": 200_000, "retire_year": 2029},
            {"accelerator": "mi300x", "count": 100_000, "retire_year": 2029},
        ],
        "growth": {f"w{i}": float(rng.uniform(1.0, 1.5)) for i in range(n_w)},
        "workloads": workloads,
    }


def solve_baseline(model, gap: float) -> tuple[float, float]:
    """The same MILP entered one coefficient at a time through HiGHS's row and column calls."""
    import highspy

    from polyfleet.plan.lp import new_highs

    h = new_highs()
    h.setOptionValue("mip_rel_gap", gap)
    A = model.A.tocsc()
    for j in range(A.shape[1]):
        h.addVar(float(model.lo[j]), float(model.hi[j]))
        h.changeColCost(j, float(model.cost[j]))
        if model.integer[j]:
            h.changeColIntegrality(j, highspy.HighsVarType.kInteger)
    Ar = model.A.tocsr()
    for r in range(Ar.shape[0]):
        cols, vals = [], []
        for k in range(Ar.indptr[r], Ar.indptr[r + 1]):
            cols.append(int(Ar.indices[k]))
            vals.append(float(Ar.data[k]))
        h.addRow(float(model.row_lo[r]), float(model.row_hi[r]), len(cols), cols, vals)
    t0 = time.perf_counter()
    h.run()
    return time.perf_counter() - t0, float(h.getInfo().objective_function_value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=50)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    from polyfleet.inputs.procurement import parse_procurement
    from polyfleet.plan.procure import build_model, procure

    t0 = time.perf_counter()
    loaded = parse_procurement(random_procurement(args.workloads, args.years))
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = procure(loaded, limit_costs=False)
    t_solve = time.perf_counter() - t0
    out = result.to_dict()
    peak_polyfleet = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0 = time.perf_counter()
    model = build_model(loaded)
    t_build = time.perf_counter() - t0
    t1 = time.perf_counter()
    base_solve, base_obj = solve_baseline(model, 1e-3)
    t_base = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    n_int = int(model.integer.sum())
    section = "\n".join(
        [
            f"\n## procure_scale — {date.today()} — {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}\n",
            f"{args.years} years x {len(model.kinds)} accelerator kinds x {args.workloads} workload "
            f"classes: {model.A.shape[1]:,} columns ({n_int} integer), {model.A.shape[0]:,} rows, "
            f"{model.A.nnz:,} non-zeros; budgets, power envelope, share cap and floor, installed "
            "base, the six-tranche AMD deal. Target (issue 5): 0.1 % MIP gap in <= 60 s. Reproduce: "
            "`python bench/procure_scale.py`.\n",
            "| step | seconds |",
            "|---|---|",
            f"| read and validate the file, resolve the catalog | {t_load:.2f} |",
            f"| polyfleet: build (numpy/scipy.sparse) and solve, incl. the warrant Monte Carlo | "
            f"{t_solve:.2f} |",
            f"| of which building the model alone | {t_build:.2f} |",
            f"| baseline: the plain MILP (tranche binaries free), entered coefficient by "
            f"coefficient, then solved | {t_base:.2f} (solve {base_solve:.2f}) |",
            f"\nStatus {out['status']} ({out['solver_status']}; {len(out['shortfalls'])} "
            f"shortfalls, {len(out['violations'])} violated limits), MIP gap achieved "
            f"{out['mip_gap']:.3%}, objective ${result.objective / 1e9:,.2f}B (baseline "
            f"${base_obj / 1e9:,.2f}B). Peak memory: {peak_polyfleet:.2f} GiB for polyfleet, "
            f"{peak:.2f} GiB once the baseline's branch and bound has run. polyfleet is "
            f"{t_base / t_solve:.0f}x faster: the free binaries' relaxation vests tranches in "
            "proportion to the GW bought, a bound so weak that branch and bound must close it "
            "node by node; fixing each monotone pattern removes it.",
        ]
    )
    print(section)
    if not args.no_write:
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
            fh.write(section + "\n")


if __name__ == "__main__":
    main()
