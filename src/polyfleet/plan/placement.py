"""From a loaded scenario to a plan: matrix → problem → solve → results on the scenario's names.

plan = f(scenario, matrix, costs): pure, so it can be re-run for what-if analysis.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyfleet.economics import HOURS_PER_YEAR
from polyfleet.economics.cost import CostBreakdown
from polyfleet.economics.deal import DealValuation, value_deal
from polyfleet.errors import SolverError
from polyfleet.inputs.benchmarks import PACKAGED
from polyfleet.inputs.scenario import LoadedScenario
from polyfleet.perfmodel import ThroughputMatrix, build_matrix
from polyfleet.perfmodel.calibrate import calibrate
from polyfleet.perfmodel.calibration import CalibrationSet
from polyfleet.perfmodel.fit import factors_from
from polyfleet.perfmodel.stacks import StackFactors
from polyfleet.plan import diagnose
from polyfleet.plan.decompose import solve_decomposed
from polyfleet.plan.fairness import lexicographic_lp, solve_lexicographic
from polyfleet.plan.lp import solve_lp
from polyfleet.plan.pricing import cost_assumptions, priced_pools
from polyfleet.plan.problem import PlacementProblem, problem_from_scenario
from polyfleet.plan.served import solve_max_min, solve_max_served
from polyfleet.plan.shares import share_point, vendor_shares
from polyfleet.plan.solution import Solution

__all__ = ["Plan", "make_plan", "solve_problem"]

BINDING_TOL = 1e-9
MEASURES = ("count", "power", "spend")
#: What one unit of each family of coupling row is, as the binding list names it.
UNITS = {"capacity": "accelerator", "power": "MW", "share": "share point"}


@dataclass
class Plan:
    """A solved placement on the scenario's own names, ready to report."""

    name: str
    objective: str
    status: str
    problem: PlacementProblem  # collapsed classes
    classes: np.ndarray  # class of each original workload
    solution: Solution
    matrix: ThroughputMatrix
    pool_accelerators: list[str]
    workload_units: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    diagnosis: dict[str, Any] | None = None
    calibration: CalibrationSet | None = None
    costs: list[CostBreakdown] = field(default_factory=list)  # per pool, deal credits netted
    deals: dict[str, DealValuation] = field(default_factory=dict)
    stacks: StackFactors | None = None  # factors from published results, as fitted
    pessimistic: bool = False  # solved with every estimated cell at the low end of its interval
    fairness: str = "max_min"  # max_min_served: "max_min" or "lexicographic"
    pool_sites: list[str | None] = field(default_factory=list)  # each pool's site, if any
    missing: list[dict[str, Any]] = field(default_factory=list)  # figures the catalog lacks

    # ---- derived figures -------------------------------------------------------------------
    @property
    def cost_per_hour(self) -> float:
        return float(self.problem.cost @ self.solution.usage)

    @property
    def power_mw(self) -> float:
        return float(self.problem.mw @ self.solution.usage)

    def vendor_shares(self) -> dict[str, dict[str, float]]:
        """Each vendor's share of the accelerators used, by count, power and spend."""
        p, use = self.problem, self.solution.usage
        by_measure = {
            m: vendor_shares(use, p.pool_vendor, p.vendors, p.measure_weight(m)) for m in MEASURES
        }
        return {v: {m: by_measure[m][v] for m in MEASURES} for v in p.vendors}

    def power(self) -> dict[str, Any]:
        """Power drawn in MW and GW; every power cap (the fleet's first, then each site's) with
        what it draws and its shadow price ($/h per extra MW); `cap_mw` and its price are the
        fleet's cap."""
        p, sol = self.problem, self.solution
        rows = p.coupling()
        drawn = rows.G @ sol.usage
        caps = [
            {
                "limit": str(key),
                "key": key.to_dict(),
                "cap_mw": float(rows.b[rows.row(key)]),
                "mw": float(drawn[rows.row(key)]),
                "shadow_price_per_mw_hour": sol.dual(key),
            }
            for key in sorted(rows.of_kind("power"), key=lambda k: (k.subject is not None, str(k)))
        ]
        fleet = next((c for c in caps if c["key"]["subject"] is None), None)
        return {
            "mw": self.power_mw,
            "gw": self.power_mw / 1000.0,
            "cap_mw": fleet["cap_mw"] if fleet else None,
            "cap_shadow_price_per_mw_hour": fleet["shadow_price_per_mw_hour"] if fleet else 0.0,
            "caps": caps,
        }

    def binding(self) -> list[dict[str, Any]]:
        """Coupling rows at their limit, with what one more unit of each would save per hour."""
        p, sol = self.problem, self.solution
        rows = p.coupling()
        lhs = rows.G @ sol.usage
        point = share_point(sol.usage, p.share_weight)
        out = []
        for key in rows.keys:
            k = rows.row(key)
            limit = float(rows.b[k])
            slack = float(limit - lhs[k])
            dual = sol.dual(key)
            at_limit = bool(np.isfinite(slack)) and slack <= 1e-7 * max(abs(limit), 1.0)
            if abs(slack) <= 1e-7 * max(abs(limit), 1.0):
                slack = 0.0  # solver round-off, not a real margin
            if dual <= BINDING_TOL * max(self.cost_per_hour, 1.0) and not at_limit:
                continue
            # a share row's dual is per unit of share-weighted measure; one point is 1% of it all
            share = key.family == "share"
            out.append(
                {
                    "constraint": str(key),
                    "key": key.to_dict(),
                    "kind": key.family,
                    "limit": None if share else limit,
                    "slack": slack,
                    "unit": UNITS[key.family],
                    "saving_per_hour": dual * point if share else dual,
                }
            )
        return sorted(out, key=lambda e: -e["saving_per_hour"])

    def assignments(self) -> list[dict[str, Any]]:
        """One record per (workload, pool) with accelerators > 0, by class then pool; a class's
        accelerators split evenly over its members. Columns are numpy arrays, so a plan of
        150,000 assignments builds in well under a second."""
        x = self.solution.x.tocoo()
        p, m = self.problem, self.matrix
        order = np.lexsort((x.col, x.row))
        rows, cols, acc = x.row[order], x.col[order], x.data[order]
        keep = acc > 1e-9
        rows, cols, acc = rows[keep], cols[keep], acc[keep]
        groups = p.members.take(rows.astype(np.intp))
        sizes, member = groups.sizes, groups.index
        pool = np.repeat(cols, sizes)
        share = np.repeat(acc / np.maximum(sizes, 1), sizes)
        served = share * np.repeat(p.T[rows, cols], sizes)
        col_of = {a: i for i, a in enumerate(m.accelerators)}
        acc_col = np.array([col_of[a] for a in self.pool_accelerators], dtype=np.intp)
        vendors = [p.vendors[int(v)] for v in p.pool_vendor]
        return [
            {
                "workload": m.workloads[w],
                "pool": p.pools[j],
                "accelerator": self.pool_accelerators[j],
                "vendor": vendors[j],
                "accelerators": n,
                "served": s,
                **prov,
            }
            for w, j, n, s, prov in zip(
                member.tolist(),
                pool.tolist(),
                share.tolist(),
                served.tolist(),
                m.provenances(member, acc_col[pool]),
                strict=True,
            )
        ]

    def workloads(self) -> list[dict[str, Any]]:
        """One record per workload; a class's figures split evenly over its members."""
        p, sol = self.problem, self.solution
        x = sol.x
        k = p.members.sizes.astype(float)[self.classes]
        cost_h = (np.asarray(x @ p.cost).ravel()[self.classes] / k).tolist()
        served = (np.asarray(x.multiply(p.T).sum(axis=1)).ravel()[self.classes] / k).tolist()
        accel = (np.asarray(x.sum(axis=1)).ravel()[self.classes] / k).tolist()
        demand = (p.demand[self.classes] / k).tolist()
        # water-filling's level of each workload (nan: none, it had nothing to serve)
        levels = sol.levels[self.classes].tolist() if sol.levels.size else None
        out = []
        for i, (name, unit, d, s, a, c) in enumerate(
            zip(
                self.matrix.workloads,
                self.workload_units,
                demand,
                served,
                accel,
                cost_h,
                strict=True,
            )
        ):
            per_unit = c / (s * 3600.0) if s > 0 else None
            row = {
                "name": name,
                "unit": unit,
                "demand": d,
                "served": s,
                "served_fraction": s / d if d > 0 else 1.0,
                "accelerators": a,
                "cost_per_hour": c,
                "cost_per_unit": per_unit,
                "cost_per_million_units": per_unit * 1e6 if per_unit is not None else None,
            }
            if levels is not None and np.isfinite(levels[i]):
                row["level"] = levels[i]
            out.append(row)
        return out

    def gaps(self) -> dict[str, float]:
        """The gap each objective of the solve was proved to: min_cost's cost; a served
        objective's served measure and then its least cost with that held."""
        sol = self.solution
        if self.objective == "min_cost":
            return {"cost": sol.gap}
        out = {"served": sol.serve_gap, "cost": sol.cost_gap}
        return {k: v for k, v in out.items() if np.isfinite(v)}

    def levels(self) -> list[dict[str, Any]]:
        """Water-filling's levels, lowest first: the served fraction the workloads fixed at each
        share, how many they are, and the gap the level was proved to."""
        sol = self.solution
        if not sol.levels.size:
            return []
        per_workload = sol.levels[self.classes]
        values, counts = np.unique(per_workload[np.isfinite(per_workload)], return_counts=True)
        gap_of: dict[float, float] = {}
        for value, gap in sol.level_gaps:  # two steps may end at one value: the worse gap
            gap_of[value] = max(gap, gap_of.get(value, 0.0))
        return [
            {"level": v, "workloads": n, "gap": gap_of[v]}
            for v, n in zip(values.tolist(), counts.tolist(), strict=True)
        ]

    def pools(self) -> list[dict[str, Any]]:
        p, sol = self.problem, self.solution
        return [
            {
                "pool": name,
                **({"site": self.pool_sites[j]} if self.pool_sites and self.pool_sites[j] else {}),
                "accelerator": self.pool_accelerators[j],
                "vendor": p.vendors[int(p.pool_vendor[j])],
                "capacity": float(p.capacity[j]),
                "used": float(sol.usage[j]),
                "idle_held": float(sol.idle[j]) if sol.idle.size else 0.0,
                "utilisation": float(sol.usage[j] / p.capacity[j]) if p.capacity[j] > 0 else 0.0,
                "cost_per_gpu_hour": float(p.cost[j]),
                "gross_cost_per_gpu_hour": self.costs[j].gross if self.costs else float(p.cost[j]),
                "deal": self.costs[j].deal if self.costs else None,
                "deal_credit_per_gpu_hour": self.costs[j].credit_per_hour if self.costs else 0.0,
                "cost_breakdown": self.costs[j].per_hour if self.costs else None,
                "mw_per_gpu": float(p.mw[j]),
            }
            for j, name in enumerate(p.pools)
        ]

    def ineligible(self, limit: int = 1000) -> list[dict[str, str]]:
        """Why each pool accelerator cannot serve each workload (first `limit` cells)."""
        m = self.matrix
        cols = [m.accelerators.index(a) for a in dict.fromkeys(self.pool_accelerators)]
        w_idx, c_idx = np.nonzero(m.origin[:, cols] == 0)
        return [
            {
                "workload": m.workloads[w],
                "accelerator": m.accelerators[cols[c]],
                "reason": m.reason_text(int(w), cols[c]),
            }
            for w, c in zip(w_idx[:limit], c_idx[:limit], strict=True)
        ]

    def stack_factors(self) -> dict[str, Any]:
        """The factors from published results behind this plan's cells, with their results."""
        assert self.stacks is not None
        m = self.matrix
        refs = np.unique(m.stack_ref[m.stack_ref >= 0])
        return {
            "files": list(self.stacks.files),
            "used": [m.stack_factors[int(k)].to_dict() for k in refs],
        }

    def to_dict(self, *, matrix_cells: bool = True) -> dict[str, Any]:
        sol = self.solution
        feasible = self.status == "optimal"
        out: dict[str, Any] = {
            "scenario": self.name,
            "status": self.status,
            "objective": self.objective,
            **({"fairness": self.fairness} if self.objective == "max_min_served" else {}),
            "objective_value": sol.objective if feasible else None,
            "cost_per_hour": self.cost_per_hour if feasible else None,
            "cost_per_year": self.cost_per_hour * HOURS_PER_YEAR if feasible else None,
            "power_mw": self.power_mw if feasible else None,
            "optimality_gap": sol.gap,
            "lower_bound_per_hour": sol.lower_bound if feasible else None,
            **(
                {"objective_bound": sol.objective_bound}
                if feasible and np.isfinite(sol.objective_bound)
                else {}
            ),
            **({"gaps": self.gaps()} if feasible else {}),
            **({"levels": self.levels()} if feasible and sol.levels.size else {}),
            "solver": {
                "method": sol.method,
                "iterations": sol.iterations,
                "classes": len(self.problem.workloads),
                "workloads": len(self.matrix.workloads),
            },
        }
        if feasible:
            out.update(
                assignments=self.assignments(),
                workloads=self.workloads(),
                pools=self.pools(),
                vendor_shares=self.vendor_shares(),
                power=self.power(),
                binding=self.binding(),
                ineligible=self.ineligible(),
            )
        out["assumptions"] = cost_assumptions(self.problem.pools, self.costs) if self.costs else []
        if self.missing:
            out["missing_figures"] = list(self.missing)
        if self.diagnosis is not None:
            out["diagnosis"] = self.diagnosis
        if self.deals:
            out["deals"] = [v.to_dict() for v in self.deals.values()]
        if self.calibration:
            out["calibration"] = {
                "used": [c.to_dict() for c in self.calibration.used],
                "notes": list(self.calibration.notes),
            }
        if self.stacks is not None:
            out["stack_factors"] = self.stack_factors()
        out["throughput_bound"] = "low" if self.pessimistic else "point"
        if matrix_cells:
            out["matrix"] = self.matrix.cells()
        out["timings"] = dict(self.timings)
        return out


def solve_problem(
    problem: PlacementProblem, objective: str, method: str = "auto", fairness: str = "max_min"
) -> Solution:
    """Every objective by decomposition (method 'auto' or 'decomposition'), each with its proved
    gap, or by the whole LP (method 'lp'); `fairness` 'lexicographic' water-fills
    max_min_served."""
    lexicographic = objective == "max_min_served" and fairness == "lexicographic"
    if method == "lp":
        return lexicographic_lp(problem) if lexicographic else solve_lp(problem, objective)
    if objective == "min_cost":
        try:
            return solve_decomposed(problem)
        except SolverError as e:
            # near the edge of feasibility the decomposition's phase 1 can stall; the whole LP
            # (with its least-violation stage) settles it exactly
            if method != "auto" or e.status != "iteration limit":
                raise
            return solve_lp(problem, objective)
    if objective == "max_served":
        return solve_max_served(problem)
    return solve_lexicographic(problem) if lexicographic else solve_max_min(problem)


#: Dates at which the fan chart of a deal's stock price is drawn.
FAN_POINTS = 60


@dataclass
class Prepared:
    """A scenario turned into solver input: the matrix, priced pools, deals and the problem."""

    matrix: ThroughputMatrix
    costs: list[CostBreakdown]
    valuations: dict[str, DealValuation]
    calibration: CalibrationSet | None
    problem: PlacementProblem  # identical workloads merged
    classes: np.ndarray
    pool_accelerators: list[str]
    timings: dict[str, float]
    stacks: StackFactors | None = None
    missing: list[dict[str, Any]] = field(default_factory=list)


def missing_power(loaded: LoadedScenario) -> list[dict[str, Any]]:
    """Pools whose accelerator has no published power figure: counted as drawing nothing, which
    the scenario's checks allow only where no power cap or power share counts them."""
    by_acc: dict[str, list[str]] = {}
    for pool in loaded.scenario.pools:
        if not loaded.catalog[pool.accelerator].power_known:
            by_acc.setdefault(pool.accelerator, []).append(pool.name)
    return [
        {
            "accelerator": acc,
            "figure": "power",
            "pools": pools,
            "effect": "not published: these pools' power is not counted (no power cap or "
            "power share applies to them); give node_power_kw or tdp_w under catalog: to count it",
        }
        for acc, pools in by_acc.items()
    ]


def prepare(
    loaded: LoadedScenario,
    *,
    benchmarks: Sequence[str | Path] = (PACKAGED,),
    pessimistic: bool = False,
) -> Prepared:
    """Matrix (calibrated by the published results in `benchmarks` and the scenario's profiles),
    pool costs net of deals, merged problem. `pessimistic`: every cell at its interval's low end."""
    scn, catalog = loaded.scenario, loaded.catalog
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    pool_accs = [p.accelerator for p in scn.pools]
    calibration = calibrate(loaded.profiles, catalog) if loaded.profiles else None
    stacks = factors_from(benchmarks, catalog)
    matrix = build_matrix(
        scn,
        catalog,
        list(dict.fromkeys([*catalog, *pool_accs])),
        calibration=calibration,
        stacks=stacks,
        columns=loaded.columns,
    )
    if pessimistic:
        matrix = matrix.at_low()
    t1 = time.perf_counter()
    timings["matrix"] = t1 - t0
    used_deals = {p.deal for p in scn.pools if p.deal is not None}
    valuations = {
        name: value_deal(deal, catalog, fan_points=FAN_POINTS)
        for name, deal in loaded.deals.items()
        if name in used_deals
    }
    costs = priced_pools(scn.pools, catalog, valuations)
    t2 = time.perf_counter()
    timings["deals"] = t2 - t1
    problem, classes = problem_from_scenario(loaded, matrix, costs).collapse()
    timings["build"] = time.perf_counter() - t2
    return Prepared(
        matrix,
        costs,
        valuations,
        calibration,
        problem,
        classes,
        pool_accs,
        timings,
        stacks,
        missing_power(loaded),
    )


def make_plan(
    loaded: LoadedScenario,
    *,
    method: str = "auto",
    load_seconds: float = 0.0,
    benchmarks: Sequence[str | Path] = (PACKAGED,),
    pessimistic: bool = False,
) -> Plan:
    """Plan the scenario. Infeasibility is an answer: status 'infeasible' with a diagnosis.

    `benchmarks`: the tables of published results that calibrate the stack factors (`packaged`
    names the shipped one; none: the bare roofline). `pessimistic`: solve with every estimated
    cell at the low end of its interval."""
    scn = loaded.scenario
    prep = prepare(loaded, benchmarks=benchmarks, pessimistic=pessimistic)
    timings = {"load": load_seconds, **prep.timings}
    matrix, problem, classes, pool_accs = (
        prep.matrix,
        prep.problem,
        prep.classes,
        prep.pool_accelerators,
    )
    calibration, costs, valuations = prep.calibration, prep.costs, prep.valuations
    t2 = time.perf_counter()
    units = loaded.columns.unit

    # min_cost must serve every workload in full; the served objectives serve a workload its
    # max_accelerators caps as far as the cap allows
    bad, why = diagnose.unservable(problem, partial=scn.objective != "min_cost")
    diagnosis: dict[str, Any] | None = None
    if bad.any():
        diagnosis = {
            "unservable": [
                {
                    "workload": matrix.workloads[m],
                    "reason": reason,
                    "pools": diagnose.pool_reasons(matrix, m, pool_accs),
                }
                for c, reason in zip(np.flatnonzero(bad), why, strict=True)
                for m in problem.members[c]
            ]
        }
    # solve what can be served and has demand; the rest gets nothing
    to_solve = ~bad & (problem.demand > 0)
    if to_solve.all():
        solution = solve_problem(problem, scn.objective, method, scn.fairness)
    else:
        sub = (
            solve_problem(problem.subset(to_solve), scn.objective, method, scn.fairness)
            if to_solve.any()
            else None
        )
        solution = _expand(sub, problem, to_solve)
    status = "infeasible" if bad.any() else solution.status
    if status == "infeasible" and diagnosis is None:
        diagnosis = {}
    t3 = time.perf_counter()
    timings["solve"] = t3 - t2
    plan = Plan(
        name=scn.name,
        objective=scn.objective,
        fairness=scn.fairness,
        status=status,
        problem=problem,
        classes=classes,
        solution=solution,
        matrix=matrix,
        pool_accelerators=pool_accs,
        workload_units=units,
        timings=timings,
        diagnosis=diagnosis,
        calibration=calibration,
        costs=costs,
        deals=valuations,
        stacks=prep.stacks,
        pessimistic=pessimistic,
        pool_sites=[p.site for p in scn.pools],
        missing=prep.missing,
    )
    if status == "infeasible":
        assert diagnosis is not None
        if solution.violations.any():
            diagnosis["limits"] = diagnose.violated_limits(problem, solution)
        short = diagnose.shortfalls(problem, to_solve)
        diagnosis["shortfalls"] = [
            {
                "workload": matrix.workloads[m],
                "unit": units[m],
                "served_fraction": s["served_fraction"],
                "short_by": s["short_by"] / len(problem.members[s["class"]]),
            }
            for s in short
            for m in problem.members[s["class"]]
        ]
        timings["diagnose"] = time.perf_counter() - t3
    return plan


def _expand(sol: Solution | None, problem: PlacementProblem, keep: np.ndarray) -> Solution:
    """A solution of the servable subset, re-indexed onto all classes (others get nothing)."""
    import scipy.sparse as sp

    n_w, n_p = problem.shape
    idx = np.flatnonzero(keep)
    if sol is None:  # nothing to solve: no workload both servable and with demand
        keys = problem.coupling().keys
        return Solution(
            x=sp.csr_matrix((n_w, n_p)),
            status="optimal",
            objective=0.0,
            cost_per_hour=0.0,
            served=np.zeros(n_w),
            duals=np.zeros(len(keys)),
            usage=np.zeros(n_p),
            idle=np.zeros(n_p),
            method="none",
            keys=keys,
        )
    x = sol.x.tocoo()
    full_x = sp.csr_matrix((x.data, (idx[x.row], x.col)), shape=(n_w, n_p))
    served = np.zeros(n_w)
    served[idx] = sol.served
    sol.x, sol.served = full_x, served
    if sol.levels.size:  # the workloads left out had no demand: they have no level
        levels = np.full(n_w, np.nan)
        levels[idx] = sol.levels
        sol.levels = levels
    return sol
