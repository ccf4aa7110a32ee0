"""Procurement: what to buy, year by year, as a mixed-integer program solved by HiGHS.

The model is built family by family in `polyfleet.plan.procure_model` (its docstring states the
formulation); here it is solved — once per monotone vesting pattern of the warrant tranches when
there are few — and read back by block and row key into the procurement result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyfleet.errors import SolverError
from polyfleet.inputs.procurement import LoadedProcurement
from polyfleet.plan.blocks import RowKey, row_name
from polyfleet.plan.lp import INF, new_highs, pass_lp
from polyfleet.plan.procure_model import Model, build_model
from polyfleet.plan.shares import vendor_totals

__all__ = ["Model", "ProcurementResult", "build_model", "procure"]

SLACK_TOL = 1e-6
TIGHT = 1e-3  # relative slack under which a limit counts as binding
#: Row families priced by lifting them: the fleet's power cap and each site's among them.
LIMITS = ("budget", "power", "site_power", "supply", "share", "commitment")
VIOLATION_UNITS = {
    "power": "MW",
    "site_power": "MW",
    "share": "share-weighted units",
    "commitment": "GW",
}


def _solve(
    model: Model,
    gap: float,
    time_limit: float,
    drop_row: RowKey | None = None,
    fix: tuple[tuple[str, np.ndarray], ...] = (),
) -> dict[str, Any]:
    """One HiGHS run; `drop_row` lifts that row's limits, each `fix` (block, values) fixes a
    block."""
    lp = model.lp
    h = new_highs()
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("time_limit", time_limit)
    row_lo, row_hi = lp.row_lo.copy(), lp.row_hi.copy()
    if drop_row is not None:
        r = lp.row(drop_row)
        row_lo[r], row_hi[r] = -INF, INF
    lo, hi = lp.lo, lp.hi
    if fix:
        lo, hi = lo.copy(), hi.copy()
        for block, values in fix:
            lo[lp.cols[block]] = hi[lp.cols[block]] = values
    pass_lp(h, lp.cost, lo, hi, lp.A.tocsc(), row_lo, row_hi, lp.integer)
    t0 = time.perf_counter()
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    if info.primal_solution_status < 2:  # no feasible point found
        raise SolverError(
            "procurement MIP found no solution", status=status, seconds=time.perf_counter() - t0
        )
    return {
        "x": np.asarray(h.getSolution().col_value),
        "objective": float(info.objective_function_value),
        "bound": float(info.mip_dual_bound),
        "gap": float(info.mip_gap),
        "status": status,
        "seconds": time.perf_counter() - t0,
        "nodes": int(info.mip_node_count),
    }


MAX_PATTERNS = 64


def _patterns(model: Model) -> list[np.ndarray] | None:
    """Every monotone vesting pattern: per deal, its first k tranches (by milestone) vest.

    With positive tranche values an optimum always vests every tranche whose milestone the
    purchases reach, so it is one of these; fixing z to each leaves a MILP whose relaxation is
    tight, where the free binaries' relaxation (z fractional in proportion to GW) is very weak.
    """
    by_deal: dict[str, list[int]] = {}
    for k, (deal, _i, _gw, _v) in enumerate(model.tranches):
        by_deal.setdefault(deal, []).append(k)
    count = int(np.prod([len(v) + 1 for v in by_deal.values()])) if by_deal else 1
    if count > MAX_PATTERNS:
        return None
    orders = [sorted(ks, key=lambda k: model.tranches[k][2]) for ks in by_deal.values()]
    patterns = [np.zeros(len(model.tranches))]
    for order in orders:
        grown = []
        for base in patterns:
            for upto in range(len(order) + 1):
                z = base.copy()
                z[order[:upto]] = 1.0
                grown.append(z)
        patterns = grown
    return patterns


def _solve_best(
    model: Model,
    gap: float,
    time_limit: float,
    drop_row: RowKey | None = None,
    fix: tuple[tuple[str, np.ndarray], ...] = (),
) -> dict[str, Any]:
    """The MILP, solved once per vesting pattern when there are few (see `_patterns`)."""
    patterns = _patterns(model)
    if not model.tranches or patterns is None:
        return _solve(model, gap, time_limit, drop_row, fix)
    t0 = time.perf_counter()
    best: dict[str, Any] | None = None
    bound = np.inf
    for pattern in patterns:
        left = max(time_limit - (time.perf_counter() - t0), 1.0)
        try:
            res = _solve(model, gap, left, drop_row, fix=(*fix, ("z", pattern)))
        except SolverError:
            continue  # this pattern has no solution (cannot happen with the slacks, but be safe)
        bound = min(bound, res["bound"])
        if best is None or res["objective"] < best["objective"]:
            best = res
    if best is None:
        raise SolverError(
            "procurement MIP found no solution",
            status="infeasible",
            seconds=time.perf_counter() - t0,
        )
    best = dict(best)
    best["bound"] = bound
    best["gap"] = max(0.0, (best["objective"] - bound) / max(abs(best["objective"]), 1e-9))
    best["seconds"] = time.perf_counter() - t0
    return best


@dataclass
class ProcurementResult:
    name: str
    status: str
    objective: float
    mip_gap: float
    seconds: float
    model: Model
    solution: np.ndarray
    limit_costs: list[dict[str, Any]] = field(default_factory=list)

    def _n(self) -> np.ndarray:
        m = self.model
        return np.round(m.lp.values(self.solution, "n"))

    def installed(self) -> np.ndarray:
        m = self.model
        n = self._n()
        life = np.array([k.life for k in m.kinds])
        tau = np.arange(len(m.years))
        alive = (tau[None, :, None] <= tau[None, None, :]) & (
            tau[None, None, :] < tau[None, :, None] + life[:, None, None]
        )
        g = np.array([k.gpus_per_node for k in m.kinds], float)
        return m.existing + g[:, None] * np.einsum("ja,jat->jt", n, alive)

    def shortfalls(self) -> list[dict[str, Any]]:
        """Unmet demand: the demand rows' slack, read by row key ("demand", workload, year)."""
        m = self.model
        w_of = {w: i for i, w in enumerate(m.workloads)}
        t_of = {y: t for t, y in enumerate(m.years)}
        out = []
        for (_, workload, year), short in m.lp.slacks(self.solution, m.lp.rows["demand"].slack):
            if short <= SLACK_TOL:
                continue
            entry = {
                "workload": workload,
                "year": year,
                "short_fraction": short,
                "short_units": float(short * m.demand[w_of[workload], t_of[year]]),
            }
            if workload in m.unservable:
                entry["why"] = (
                    "no offered or installed kind can serve it: " + m.unservable[workload]
                )
            out.append(entry)
        return out

    def violations(self) -> list[dict[str, Any]]:
        """Limits missed: each limit family's slack, paired with its row by key."""
        lp = self.model.lp
        out = []
        for family, unit in VIOLATION_UNITS.items():
            block = lp.rows.get(family)
            if block is None or block.slack is None:
                continue
            for key, by in lp.slacks(self.solution, block.slack):
                if by > SLACK_TOL:
                    out.append({"limit": row_name(key), "by": by, "unit": unit})
        return out

    def mw_by_site(self) -> dict[str, list[float]]:
        """Facility MW each site's installed fleet draws, year by year (sites with kinds only)."""
        m = self.model
        inst = self.installed()
        mw = np.array([k.mw_per_gpu for k in m.kinds])
        out: dict[str, list[float]] = {}
        for site in dict.fromkeys(k.site for k in m.kinds if k.site is not None):
            at = np.array([k.site == site for k in m.kinds])
            out[site] = [float(v) for v in (mw * at) @ inst]
        return out

    def to_dict(self) -> dict[str, Any]:
        m = self.model
        n = self._n()
        inst = self.installed()
        g = np.array([k.gpus_per_node for k in m.kinds], float)
        cap = np.array([k.capital_per_gpu for k in m.kinds])
        opex = np.array([k.opex_per_gpu_year for k in m.kinds])
        mw = np.array([k.mw_per_gpu for k in m.kinds])
        schedule = []
        for j, k in enumerate(m.kinds):
            for t, y in enumerate(m.years):
                if n[j, t] > 0:
                    schedule.append(
                        {
                            "year": y,
                            "accelerator": k.accelerator,
                            "site": k.site,
                            "vendor": k.vendor,
                            "nodes": int(n[j, t]),  # units bought: nodes, or racks
                            "unit": k.unit,
                            "gpus": int(n[j, t] * g[j]),
                            "capex": float(n[j, t] * g[j] * cap[j]),
                            "deal": k.deal,
                        }
                    )
        capex_t = (n * (g * cap)[:, None]).sum(axis=0)
        opex_t = (inst * opex[:, None]).sum(axis=0)
        paid = m.lp.values(self.solution, "nre_paid") > 0.5
        nre_t = np.zeros(len(m.years))
        nre_t[0] = sum(nre for (_, nre), p in zip(m.builds, paid, strict=True) if p)
        owned_mw = mw * np.array([not k.rented for k in m.kinds])
        vendors = sorted({k.vendor for k in m.kinds})
        kind_vendor = [vendors.index(k.vendor) for k in m.kinds]
        gw = {
            v: [float(t) / 1000 for t in mw_t]
            for v, mw_t in vendor_totals(inst, kind_vendor, vendors, owned_mw).items()
        }
        z = m.lp.values(self.solution, "z")
        shortfalls, violations = self.shortfalls(), self.violations()
        feasible = not shortfalls and not violations
        return {
            "name": self.name,
            "status": ("optimal" if feasible else "infeasible")
            if self.status in ("Optimal", "Time limit reached")
            else self.status,
            "solver_status": self.status,
            "objective": self.objective,
            "mip_gap": self.mip_gap,
            "seconds": self.seconds,
            "years": m.years,
            "schedule": schedule,
            "cost_by_year": [
                {
                    "year": y,
                    "capex": float(capex_t[t]),
                    "opex": float(opex_t[t]),
                    **({"nre": float(nre_t[t])} if m.builds else {}),
                    "total": float(capex_t[t] + opex_t[t] + nre_t[t]),
                    "discounted": float((capex_t[t] + opex_t[t] + nre_t[t]) * m.discount[t]),
                }
                for t, y in enumerate(m.years)
            ],
            "gw_by_vendor": gw,
            "installed": {k.name: [float(v) for v in inst[j]] for j, k in enumerate(m.kinds)},
            "tranches": [
                {
                    "deal": d,
                    "tranche": i + 1,
                    "vests_at_gw": gw_,
                    "value": val,
                    "vested": bool(z[k] > 0.5),
                }
                for k, (d, i, gw_, val) in enumerate(m.tranches)
            ],
            "shortfalls": shortfalls,
            "violations": violations,
            "binding_limits": self.limit_costs,
            **({"mw_by_site": self.mw_by_site()} if any(k.site for k in m.kinds) else {}),
            **({"not_offered": list(m.not_offered)} if m.not_offered else {}),
            **(
                {
                    "builds": [
                        {"build": name, "nre": nre, "paid": bool(p)}
                        for (name, nre), p in zip(m.builds, paid, strict=True)
                    ]
                }
                if m.builds
                else {}
            ),
        }


def _slack_blocks(model: Model) -> list[str]:
    """The column blocks that relax a limit or the demand (penalised: the answer's shortfalls)."""
    return [b.slack for b in model.lp.rows.values() if b.slack is not None]


def _uses_slack(model: Model, x: np.ndarray) -> bool:
    """Whether a solution leaves demand unmet or a limit missed (beyond SLACK_TOL)."""
    lp = model.lp
    return any(float(np.max(x[lp.cols[b]], initial=0.0)) > SLACK_TOL for b in _slack_blocks(model))


def _cost_without_slack(model: Model, x: np.ndarray) -> float:
    """A solution's objective less its penalties: summed without them, since the penalties can
    be 1e15 times the cost and a difference would keep only rounding."""
    cost = model.lp.cost.copy()
    for b in _slack_blocks(model):
        cost[model.lp.cols[b]] = 0.0
    return float(cost @ x)


def _confirm(model: Model, res: dict[str, Any], gap: float, time_limit: float) -> dict[str, Any]:
    """Re-solve with every slack held at zero when the solution uses one, and keep that.

    Within a MIP gap the solver may stop at a point that leaves a sliver of demand unmet or a
    limit missed by a hair, although a point that meets everything exists: calling that plan
    infeasible would be a wrong answer. Only when the hard problem has no solution (or none is
    found in the time) do the slacks stand, and they are then the diagnosis."""
    lp = model.lp
    blocks = _slack_blocks(model)
    if not _uses_slack(model, res["x"]):
        return res
    zero = tuple((b, np.zeros(lp.cols[b].stop - lp.cols[b].start)) for b in blocks)
    try:
        return _solve_best(model, gap, time_limit, fix=zero)
    except SolverError:
        return res  # no point meets every limit: the slacks are the answer


def procure(loaded: LoadedProcurement, *, limit_costs: bool = True) -> ProcurementResult:
    """Solve the procurement MILP; with `limit_costs`, re-solve with each binding limit lifted."""
    proc = loaded.procurement
    t0 = time.perf_counter()
    model = build_model(loaded)
    res = _solve_best(model, proc.mip_gap, proc.time_limit_s)
    res = _confirm(model, res, proc.mip_gap, proc.time_limit_s)
    # an infeasible plan's cost is what it buys, not the penalties that price its shortfalls;
    # nor do its limits have a price: lifting one mostly saves penalties
    infeasible = _uses_slack(model, res["x"])
    result = ProcurementResult(
        name=proc.name,
        status=res["status"],
        objective=_cost_without_slack(model, res["x"]) if infeasible else res["objective"],
        mip_gap=res["gap"],
        seconds=time.perf_counter() - t0,
        model=model,
        solution=res["x"],
    )
    if limit_costs and not infeasible:
        lp = model.lp
        activity = lp.A @ res["x"]
        for key in [key for f in LIMITS if f in lp.rows for key in lp.rows[f].keys]:
            r = lp.row(key)
            hi, lo = lp.row_hi[r], lp.row_lo[r]
            # integer purchases leave a limit a fraction of a node short of exact: 0.1 % is tight
            tight = (hi < INF and hi - activity[r] <= TIGHT * max(abs(hi), 1.0)) or (
                lo > -INF and activity[r] - lo <= TIGHT * max(abs(lo), 1.0)
            )
            if not tight:
                continue
            lifted = _solve_best(model, proc.mip_gap, proc.time_limit_s, drop_row=key)
            result.limit_costs.append(
                {
                    "limit": row_name(key),
                    "kind": lp.family(key),
                    "saving_if_lifted": res["objective"] - lifted["objective"],
                }
            )
        result.limit_costs.sort(key=lambda e: -e["saving_if_lifted"])
    result.seconds = time.perf_counter() - t0
    return result
