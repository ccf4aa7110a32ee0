"""The lock-in premium where buying is possible, and what an in-house option does to each
vendor's switching price.

A fixed fleet rarely fits in one vendor's pools, so its lock-in premium is mostly "infeasible".
Where the scenario can buy (pools marked `purchasable`: more of the same part, up to
`max_purchase` more, at the pool's owned terms, or for a rented pool at the catalog's purchase
price; a rent-only part rented more at its pool's rent) or build (`builds:`: up to `count` units
of an in-house part, its NRE a fixed cost per hour over the amortisation at the cost of
capital), the fleet is extended by those pools and:

greenfield premium  least cost with only vendor v's pools (its bought and built ones included)
                    minus least cost with all, both without vendor-share limits; ≥ 0 since
                    removing pools never lowers the optimum. A build's NRE is paid only in the
                    plans that use it: each is the least over the subsets of the builds.
switching with      the multiplier on v's prices at which work first moves away from it when the
in-house            fleet may also build (each price the least over the subsets of the builds):
                    at most the price without the option, since the option only adds plans.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from polyfleet.economics.cost import HOURS_PER_YEAR, annuity_factor
from polyfleet.inputs.benchmarks import PACKAGED
from polyfleet.inputs.build import ScenarioBuild
from polyfleet.inputs.cost import PoolCost
from polyfleet.inputs.scenario import BUY_SUFFIX, LoadedScenario, Pool
from polyfleet.plan import diagnose
from polyfleet.plan.leverage import MOVE_TOL, Search, Solver, search_multiplier, work_share
from polyfleet.plan.placement import prepare
from polyfleet.plan.problem import PlacementProblem
from polyfleet.plan.solution import Solution

__all__ = ["Options", "greenfield", "options_of", "switch_with_builds", "with_greenfield"]

EXACT_GAP = 1e-9  # the premiums are differences of optima: solve them tightly


@dataclass(frozen=True)
class Options:
    """The fleet extended by what can be bought and built: the problem over every pool, which
    pools were bought or built, and each build's pool and NRE per hour."""

    problem: PlacementProblem
    bought: np.ndarray  # per pool: a purchasable pool's bought copy
    build_of: np.ndarray  # per pool: the index of the build it is, -1 for any other
    builds: list[str]
    nre_per_hour: np.ndarray  # per build

    @property
    def can_buy(self) -> bool:
        return bool(self.bought.any() or self.builds)


def _bought_pool(pool: Pool, loaded: LoadedScenario) -> Pool:
    """More of a purchasable pool: bought at its own owned terms, at the catalog's price with
    the documented defaults for a rented pool, or rented at its rent for a rent-only part."""
    acc = loaded.catalog[pool.accelerator]
    count = pool.max_purchase if pool.max_purchase is not None else loaded.scenario.fleet_count
    cost = pool.cost
    if not acc.rent_only and (cost is None or cost.rented):
        cost = PoolCost(capex_per_gpu=acc.price.purchase)
    return pool.model_copy(
        update={"name": pool.name + BUY_SUFFIX, "count": count, "cost": cost, "deal": None}
    )


def _build_pool(build: ScenarioBuild) -> Pool:
    terms = build.cost.model_dump(include=build.cost.model_fields_set)
    return Pool(
        name=build.name,
        accelerator=build.name,
        count=build.count,
        pue=build.pue,
        cost=PoolCost(capex_per_gpu=build.unit_cost, **terms),
    )


def options_of(loaded: LoadedScenario, benchmarks: Sequence[str | Path] = (PACKAGED,)) -> Options:
    """The scenario's fleet extended by its purchasable pools' bought copies and its builds."""
    scn = loaded.scenario
    extra = [_bought_pool(p, loaded) for p in (*scn.pools, *loaded.candidates) if p.purchasable]
    extra += [_build_pool(b) for b in scn.builds]
    wide = loaded.model_copy(
        update={"scenario": scn.model_copy(update={"pools": [*scn.pools, *extra]})}
    )
    problem = prepare(wide, benchmarks=benchmarks).problem
    problem = problem.subset(problem.demand > 0)
    names = [b.name for b in scn.builds]
    build_of = np.array([names.index(p) if p in names else -1 for p in problem.pools])
    nre = np.array(
        [
            b.nre * annuity_factor(b.cost.cost_of_capital, b.cost.amortize_years) / HOURS_PER_YEAR
            for b in scn.builds
        ]
    )
    return Options(
        problem=problem,
        bought=np.array([p.endswith(BUY_SUFFIX) for p in problem.pools]),
        build_of=build_of,
        builds=names,
        nre_per_hour=nre,
    )


def _subsets(n: int) -> list[np.ndarray]:
    return [np.array(c, dtype=bool) for c in itertools.product((False, True), repeat=n)]


def least_cost(
    solver: Solver, opts: Options, keep: np.ndarray, problem: PlacementProblem, chain: str
) -> tuple[float | None, Solution | None, np.ndarray]:
    """The least cost per hour over the subsets of the builds among the pools `keep` (each
    subset's NRE per hour added); (None, the last solution, keep) when no subset has a plan."""
    best: tuple[float | None, Solution | None, np.ndarray] = (None, None, keep)
    kept_builds = np.unique(opts.build_of[keep & (opts.build_of >= 0)])
    for used in _subsets(len(kept_builds)):
        chosen = kept_builds[used]
        mask = keep & ((opts.build_of < 0) | np.isin(opts.build_of, chosen))
        sub = problem.pool_subset(mask)
        if diagnose.unservable(sub)[0].any():
            continue
        sol = solver.solve(sub, chain=f"{chain}:{chosen.tolist()}")
        if sol.status != "optimal":
            best = best if best[0] is not None else (None, sol, mask)
            continue
        cost = sol.cost_per_hour + float(opts.nre_per_hour[chosen].sum())
        if best[0] is None or cost < best[0]:
            best = (cost, sol, mask)
    return best


def _why_not(problem: PlacementProblem, mask: np.ndarray, sol: Solution | None) -> list[str]:
    """Why even buying and building cannot give a plan on these pools of `problem`."""
    only = problem.pool_subset(mask)
    bad, why = diagnose.unservable(only)
    if bad.any():
        return [f"{only.workloads[i]}: {r}" for i, r in zip(np.flatnonzero(bad), why, strict=True)][
            :10
        ]
    if sol is None:
        return ["no plan"]
    return [v["message"] for v in diagnose.violated_limits(only, sol)]


@dataclass(frozen=True)
class Greenfield:
    cost: float | None  # $/h with every pool, bought and built, without share limits
    vendors: dict[str, dict[str, Any]]
    builds_used: list[str]


def greenfield(opts: Options, solver: Solver | None = None) -> Greenfield:
    """Each vendor's greenfield premium (see the module docstring)."""
    solver = solver or Solver(warm=False, gap=EXACT_GAP)
    free = replace(opts.problem, shares=())
    every = np.ones(len(free.pools), dtype=bool)
    base, _, mask = least_cost(solver, opts, every, free, "all")
    used = sorted({opts.builds[i] for i in opts.build_of[mask & (opts.build_of >= 0)]})
    out: dict[str, dict[str, Any]] = {}
    for v, vendor in enumerate(free.vendors):
        keep = free.pool_vendor == v
        if not keep.any():
            continue
        cost, sol, where = least_cost(solver, opts, keep, free, f"only:{vendor}")
        premium = cost - base if cost is not None and base is not None else None
        out[vendor] = {
            "greenfield_cost_per_hour": cost,
            "greenfield_premium_per_hour": premium,
            "greenfield_premium_per_year": premium * HOURS_PER_YEAR
            if premium is not None
            else None,
            "greenfield_status": "optimal" if cost is not None else "infeasible",
            "greenfield_why": [] if cost is not None else _why_not(free, where, sol),
        }
    return Greenfield(cost=base, vendors=out, builds_used=used)


def switch_with_builds(
    opts: Options, vendor: str, share0: float, precision: float, solver: Solver
) -> tuple[Search, str | None]:
    """The multiplier on `vendor`'s prices at which work first moves away from it when the fleet
    may also build (its bought copies left out: today's fleet plus the in-house option);
    `share0`: its share of the work in today's least-cost plan."""
    problem = opts.problem
    today = ~opts.bought
    mask = problem.pool_vendor == problem.vendors.index(vendor)

    def moved(m: float) -> bool:
        priced = replace(problem, cost=problem.cost * np.where(mask, m, 1.0))
        cost, sol, where = least_cost(solver, opts, today, priced, f"switch:{vendor}")
        if cost is None or sol is None:
            return False
        sub = priced.pool_subset(where)
        return work_share(sub, sol, mask[where]) < share0 * (1 - MOVE_TOL)

    if moved(1.0):
        return Search(1.0, 1.0, 1), "the in-house option takes work at today's prices"
    found = search_multiplier(moved, 1.0, precision)
    why = None if found.multiplier is not None else "no work moves even with the in-house option"
    return found, why


def with_greenfield(
    data: dict[str, Any], loaded: LoadedScenario, precision: float
) -> dict[str, Any]:
    """The leverage record's data with the greenfield premiums and, with builds, each vendor's
    switching price with the in-house option."""
    opts = options_of(loaded)
    solver = Solver(warm=False, gap=EXACT_GAP)
    result = greenfield(opts, solver)
    today = {v["vendor"]: v for v in data["vendors"]}
    rows = []
    for vendor, figures in result.vendors.items():
        row = {"vendor": vendor, **figures}
        v = today.get(vendor)
        if (
            opts.builds
            and v is not None
            and vendor not in {b.vendor for b in loaded.scenario.builds}
        ):
            if v["base_work_share"] <= 0:
                row["switch_with_in_house_reason"] = f"{vendor} is not used in the least-cost plan"
            else:
                found, why = switch_with_builds(
                    opts, vendor, v["base_work_share"], precision, solver
                )
                row["switch_multiplier_with_in_house"] = found.multiplier
                row["switch_with_in_house_reason"] = why
        rows.append(row)
    return {
        **data,
        "greenfield_cost_per_hour": result.cost,
        "greenfield_builds_used": result.builds_used,
        "greenfield": rows,
        "solves": data["solves"] + solver.solves,
    }
