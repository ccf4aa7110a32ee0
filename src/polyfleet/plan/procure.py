"""Procurement: what to buy, year by year, as a mixed-integer program solved by HiGHS.

    indices   t year, j accelerator kind, w workload, d deal, i tranche of d
    variables n[j,t] ∈ Z≥0   nodes of kind j bought in year t (0 before it is offered)
              x[w,j,t] ≥ 0   accelerators of j serving w in year t (eligible cells only)
              z[d,i] ∈ {0,1} tranche i of deal d vests
              slacks ≥ 0     unmet demand, power, share and commitment (penalised: an answer
                             exists even when the limits cannot all hold, and says by how much)
    installed I[j,t] = E[j,t] + g_j · Σ_{τ ≤ t < τ + life_j} n[j,τ]     (E: installed base)
    demand    Σ_j (T[w,j] / D[w,t]) · x[w,j,t] + short[w,t] ≥ 1
    capacity  Σ_w x[w,j,t] ≤ I[j,t]
    budget    Σ_j capital_j · g_j · n[j,t] ≤ B[t]                       (capex, USD)
    power     Σ_j MW_j · I[j,t] ≤ P[t]                                   (facility GW)
    shares    Σ_j (1[vendor j = v] − s) · m_j · I[j,t] ≤ 0  (max; min reversed), m = 1 or MW
    deals     Σ_{j of d} Σ_{τ ≤ t} GW_j · n[j,τ] + E_d ≥ committed_d(t)   (binding periods)
              milestone_i · z[d,i] ≤ Σ_{j of d} Σ_{year τ ≤ expiry} GW_j · n[j,τ] + E_d
    objective Σ_t δ^t (capital bought − salvage of life left at the horizon + opex of I)
              + penalties − Σ value[d,i] · z[d,i],   δ = 1 / (1 + discount rate)

A tranche's value is its Monte Carlo value with the milestone met (economics.warrant), so the
solver weighs buying more of a deal's parts against what reaching the milestone is worth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from polyfleet.economics.cost import HOURS_PER_YEAR, OwnedTerms, facility_kw, owned_cost
from polyfleet.economics.deal import Deal, simulate_deal
from polyfleet.errors import SolverError
from polyfleet.perfmodel.matrix import matrix_for
from polyfleet.plan.lp import INF, new_highs, pass_lp
from polyfleet.procurement import LoadedProcurement

__all__ = ["Model", "ProcurementResult", "build_model", "procure"]

PENALTY = 100.0  # slack price, as a multiple of the dearest way to do without it
SLACK_TOL = 1e-6
TIGHT = 1e-3  # relative slack under which a limit counts as binding


@dataclass
class Kind:
    accelerator: str
    vendor: str
    gpus_per_node: int
    mw_per_gpu: float
    capital_per_gpu: float  # GPU + node + network + facility share
    opex_per_gpu_year: float  # power + maintenance
    life: int
    first_year: int  # index of the first year it can be bought; len(years) if never
    max_nodes: float
    deal: str | None


@dataclass
class Model:
    """The MILP as arrays, with the labels needed to read a solution back."""

    cost: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    integer: np.ndarray  # bool per column
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    row_names: list[str]
    row_kind: list[str]  # demand | capacity | budget | power | share | commitment | tranche
    cols: dict[str, slice]
    kinds: list[Kind]
    years: list[int]
    workloads: list[str]
    cells: np.ndarray  # (n_cells, 2): w, j of x columns per year
    tranches: list[tuple[str, int, float, float]]  # deal, index, milestone GW, value
    # (solved by enumerating vesting patterns when few: see _patterns)
    existing: np.ndarray  # E[j, t]
    discount: np.ndarray  # δ^t
    demand: np.ndarray  # D[w, t]
    unservable: dict[str, str] = field(default_factory=dict)  # workload -> why no kind serves it


def _tranche_values(deal: Deal) -> list[float]:
    """Each tranche's value with its milestone met (hurdle and price risk still priced)."""
    if deal.warrant is None or deal.stock is None:
        return []
    result = simulate_deal(deal, [True] * len(deal.warrant.tranches))
    return [float(v) for v in result.tranche_values]


def _period_year(period: str) -> int:
    digits = "".join(ch for ch in period[:4] if ch.isdigit())
    return int(digits) if len(digits) == 4 else 0


def build_model(loaded: LoadedProcurement) -> Model:
    """Arrays of the procurement MILP (columns n, x, slacks, z), built with numpy/scipy.sparse."""
    proc, catalog = loaded.procurement, loaded.catalog
    years = proc.years
    Y = len(years)
    delta = (1.0 / (1.0 + proc.discount_rate)) ** np.arange(Y)
    # kinds: offered ones first, then installed-only ones
    kinds: list[Kind] = []
    index: dict[str, int] = {}
    offered = {o.accelerator: o for o in proc.offers}
    for acc_id in [*offered, *(i.accelerator for i in proc.installed)]:
        if acc_id in index:
            continue
        acc = catalog[acc_id]
        offer = offered.get(acc_id)
        price = None
        if offer is not None:
            price = offer.price_per_gpu
            if price is None and offer.deal is not None:
                price = loaded.deals[offer.deal].price_per_gpu(acc)
            if price is None:
                price = acc.price.purchase
        breakdown = owned_cost(
            acc,
            OwnedTerms(
                gpu_price=price or 1.0,
                pue=proc.pue,
                power_price_per_mwh=proc.power_price_per_mwh,
                utilisation=proc.utilisation,
                maintenance_frac_per_year=proc.maintenance_frac_per_year,
            ),
        )
        first = 0
        if offer is not None and offer.available_from is not None:
            first = int(np.searchsorted(years, offer.available_from))
        index[acc_id] = len(kinds)
        kinds.append(
            Kind(
                accelerator=acc_id,
                vendor=acc.vendor,
                gpus_per_node=acc.gpus_per_node,
                mw_per_gpu=facility_kw(acc, proc.pue) / 1000.0,
                capital_per_gpu=sum(breakdown.capital.values()) if price else 0.0,
                opex_per_gpu_year=(breakdown.per_hour["power"] + breakdown.per_hour["maintenance"])
                * HOURS_PER_YEAR,
                life=offer.life_years if offer else 1,
                first_year=first if offer is not None else Y,
                max_nodes=float(offer.max_nodes_per_year)
                if offer and offer.max_nodes_per_year is not None
                else INF,
                deal=offer.deal if offer else None,
            )
        )
    J = len(kinds)
    g = np.array([k.gpus_per_node for k in kinds], float)
    mw = np.array([k.mw_per_gpu for k in kinds])
    cap_gpu = np.array([k.capital_per_gpu for k in kinds])
    opex = np.array([k.opex_per_gpu_year for k in kinds])
    life = np.array([k.life for k in kinds])
    existing = np.zeros((J, Y))
    deal_base: dict[str, float] = {}
    for inst in proc.installed:
        j = index[inst.accelerator]
        existing[j] += inst.count * (np.array(years) < inst.retire_year)
        if inst.deal is not None:
            deal_base[inst.deal] = deal_base.get(inst.deal, 0.0) + inst.count * mw[j] / 1000.0
    # alive[j, tau, t]: a node of j bought in year tau serves in year t
    tau = np.arange(Y)
    alive = (tau[None, :, None] <= tau[None, None, :]) & (
        tau[None, None, :] < tau[None, :, None] + life[:, None, None]
    )

    matrix = matrix_for(proc.workloads, proc.tiers, catalog, [k.accelerator for k in kinds])
    T = matrix.value  # (W, J)
    W = len(proc.workloads)
    growth = np.array([proc.growth.get(w.name, 1.0) for w in proc.workloads])
    D = (
        np.array([w.demand.value for w in proc.workloads])[:, None]
        * growth[:, None] ** tau[None, :]
    )
    cells = np.argwhere(T > 0)  # (n_cells, 2)
    n_cells = len(cells)

    # ---- columns
    n_n = J * Y  # n[j, t] at j * Y + t
    off_x = n_n
    n_x = n_cells * Y  # x[c, t] at off_x + t * n_cells + c
    off_short = off_x + n_x
    n_short = W * Y  # short[w, t] at off_short + t * W + w
    share = proc.limits.vendor_share
    share_rows = [] if share is None else [*(("max", v, s) for v, s in share.max.items() if s < 1)]
    if share is not None:
        share_rows += [("min", v, s) for v, s in share.min.items() if s > 0]
    off_power_slack = off_short + n_short
    off_share_slack = off_power_slack + Y
    n_share_slack = len(share_rows) * Y
    deal_names = sorted({k.deal for k in kinds if k.deal} | set(deal_base))
    commit: dict[str, np.ndarray] = {}
    for name in deal_names:
        deal = loaded.deals[name]
        c = np.zeros(Y)
        for period in deal.capacity:
            if period.binding:
                c[max(0, int(np.searchsorted(years, _period_year(period.period))))] += period.gw
        commit[name] = np.cumsum(c)
    commit_names = [d for d in deal_names if commit[d][-1] > 0]
    off_commit_slack = off_share_slack + n_share_slack
    n_commit = len(commit_names) * Y
    tranches: list[tuple[str, int, float, float]] = []
    for name in deal_names:
        deal = loaded.deals[name]
        if deal.warrant is None:
            continue
        for i, (tr, value) in enumerate(
            zip(deal.warrant.tranches, _tranche_values(deal), strict=True)
        ):
            tranches.append((name, i, tr.vests_at_gw, value))
    off_z = off_commit_slack + n_commit
    n_cols = off_z + len(tranches)

    # ---- objective: capital less salvage, opex of what is bought, penalties, tranche values
    cost = np.zeros(n_cols)
    served_years = np.minimum(life[:, None], Y - tau[None, :])  # years of the horizon served
    salvage = np.clip((life[:, None] - served_years) / life[:, None], 0, 1)
    capital = (cap_gpu * g)[:, None] * (
        delta[None, :] - delta[-1] / (1 + proc.discount_rate) * salvage
    )
    opex_bought = np.einsum("jat,t->ja", alive, delta) * (opex * g)[:, None]
    cost[:n_n] = (capital + opex_bought).ravel()
    # penalties: the dearest new capacity that could have done the job, times PENALTY
    unit_cost = cap_gpu + opex * life  # per GPU over its life
    per_w = np.where(T > 0, unit_cost[None, :] / np.where(T > 0, T, 1.0), -np.inf)
    dearest = per_w.max(axis=1, initial=-np.inf)
    # a workload no kind can serve: priced like the dearest GPU per unit (it stays short)
    fallback = float(np.max(per_w, initial=float(unit_cost.max(initial=1.0))))
    dearest = np.where(np.isfinite(dearest), dearest, max(fallback, 1.0))
    cost[off_short:off_power_slack] = PENALTY * (D * dearest[:, None]).T.ravel()
    per_mw = float((unit_cost / np.maximum(mw, 1e-12)).max(initial=1.0))
    cost[off_power_slack:off_share_slack] = PENALTY * per_mw
    cost[off_share_slack:off_commit_slack] = PENALTY * per_mw
    cost[off_commit_slack:off_z] = PENALTY * per_mw * 1000.0
    cost[off_z:] = -np.array([t[3] for t in tranches])

    lo = np.zeros(n_cols)
    hi = np.full(n_cols, INF)
    integer = np.zeros(n_cols, dtype=bool)
    integer[:n_n] = True
    first = np.array([k.first_year for k in kinds])
    max_nodes = np.array([k.max_nodes for k in kinds])
    hi_n = np.where(tau[None, :] >= first[:, None], max_nodes[:, None], 0.0)
    hi[:n_n] = hi_n.ravel()
    hi[off_short:off_power_slack] = 1.0
    hi[off_z:] = 1.0
    integer[off_z:] = True

    rows: list[sp.coo_matrix] = []
    row_lo: list[np.ndarray] = []
    row_hi: list[np.ndarray] = []
    names: list[str] = []
    kinds_of_rows: list[str] = []

    def add(
        block: sp.coo_matrix, low: np.ndarray, high: np.ndarray, labels: list[str], kind: str
    ) -> None:
        rows.append(block)
        row_lo.append(low)
        row_hi.append(high)
        names.extend(labels)
        kinds_of_rows.extend([kind] * len(labels))

    # installed-by-purchase operator: (J*Y rows: j,t) x (J*Y cols: j,tau) with g_j where alive
    jj, aa, tt = np.nonzero(alive)
    inst_op = sp.coo_matrix((g[jj], (jj * Y + tt, jj * Y + aa)), shape=(J * Y, n_n)).tocsr()

    # demand rows (w, t): a[w,j,t] x + short >= 1
    w_idx, j_idx = cells[:, 0], cells[:, 1]
    r_d = (tau[:, None] * W + w_idx[None, :]).ravel()
    c_d = (off_x + tau[:, None] * n_cells + np.arange(n_cells)[None, :]).ravel()
    v_d = (T[w_idx, j_idx][None, :] / D[w_idx][:, :].T).ravel() if n_cells else np.zeros(0)
    r_s = np.arange(W * Y)
    block = sp.coo_matrix(
        (
            np.concatenate([v_d, np.ones(W * Y)]),
            (np.concatenate([r_d, r_s]), np.concatenate([c_d, off_short + r_s])),
        ),
        shape=(W * Y, n_cols),
    )
    add(
        block,
        np.ones(W * Y),
        np.full(W * Y, INF),
        [f"demand:{w.name}:{y}" for y in years for w in proc.workloads],
        "demand",
    )

    # capacity rows (j, t): sum_w x - inst_op n <= E
    r_c = (j_idx[None, :] * Y + tau[:, None]).ravel()
    x_part = sp.coo_matrix((np.ones(n_x), (r_c, c_d)), shape=(J * Y, n_cols))
    n_part = sp.hstack([-inst_op, sp.csr_matrix((J * Y, n_cols - n_n))])
    add(
        (x_part + n_part).tocoo(),
        np.full(J * Y, -INF),
        existing.ravel(),
        [f"capacity:{k.accelerator}:{y}" for k in kinds for y in years],
        "capacity",
    )

    # budget rows (t)
    jn, tn = np.divmod(np.arange(n_n), Y)
    budget = np.array(proc.per_year(proc.limits.budget_per_year))
    add(
        sp.coo_matrix(((cap_gpu * g)[jn], (tn, np.arange(n_n))), shape=(Y, n_cols)),
        np.full(Y, -INF),
        budget,
        [f"budget:{y}" for y in years],
        "budget",
    )

    # power rows (t): MW of purchases alive - slack <= cap - MW of installed base
    power_cap = np.array(proc.per_year(proc.limits.power_cap_gw)) * 1000.0
    coef = sp.diags(np.repeat(mw, Y)) @ inst_op  # rows (j, t) in MW
    agg_t = sp.coo_matrix(
        (np.ones(J * Y), (np.tile(np.arange(Y), J), np.arange(J * Y))), shape=(Y, J * Y)
    )
    power_n = (agg_t @ coef).tocsr()
    block = sp.hstack(
        [
            power_n,
            sp.csr_matrix((Y, off_power_slack - n_n)),
            -sp.eye(Y),
            sp.csr_matrix((Y, n_cols - off_power_slack - Y)),
        ]
    ).tocoo()
    add(block, np.full(Y, -INF), power_cap - mw @ existing, [f"power:{y}" for y in years], "power")

    # vendor share rows (bound, vendor, t)
    vendor_of = np.array([k.vendor for k in kinds])
    measure = mw if share is not None and share.measure == "power" else np.ones(J)
    for s_i, (bound, vendor, s) in enumerate(share_rows):
        is_v = (vendor_of == vendor).astype(float)
        c = (is_v - s) * measure if bound == "max" else (s - is_v) * measure
        block_n = (agg_t @ sp.diags(np.repeat(c, Y)) @ inst_op).tocsr()
        slack = sp.coo_matrix(
            (-np.ones(Y), (np.arange(Y), off_share_slack + s_i * Y + np.arange(Y))),
            shape=(Y, n_cols),
        )
        block = (sp.hstack([block_n, sp.csr_matrix((Y, n_cols - n_n))]) + slack).tocoo()
        add(
            block,
            np.full(Y, -INF),
            -(c @ existing),
            [f"share_{bound}:{vendor}:{y}" for y in years],
            "share",
        )

    # deal commitments (d, t): cumulative GW bought + slack >= committed - base
    gw_node = g * mw / 1000.0
    cum = (tau[:, None] >= tau[None, :]).astype(float)  # (t, tau)
    for d_i, name in enumerate(commit_names):
        in_d = np.array([k.deal == name for k in kinds], float) * gw_node
        block_n = sp.csr_matrix(np.kron(in_d[None, :], cum))  # (t, j*Y+tau)
        slack = sp.coo_matrix(
            (np.ones(Y), (np.arange(Y), off_commit_slack + d_i * Y + np.arange(Y))),
            shape=(Y, n_cols),
        )
        block = (sp.hstack([block_n, sp.csr_matrix((Y, n_cols - n_n))]) + slack).tocoo()
        add(
            block,
            commit[name] - deal_base.get(name, 0.0),
            np.full(Y, INF),
            [f"commitment:{name}:{y}" for y in years],
            "commitment",
        )

    # tranche rows: milestone * z - GW bought by expiry <= base
    for z_i, (name, i, milestone, _value) in enumerate(tranches):
        deal = loaded.deals[name]
        assert deal.warrant is not None
        by_expiry = (np.array(years) <= deal.warrant.expiry.year).astype(float)
        in_d = np.array([k.deal == name for k in kinds], float) * gw_node
        vals = -np.kron(in_d, by_expiry)
        nz = np.flatnonzero(vals)
        block = sp.coo_matrix(
            (
                np.append(vals[nz], milestone),
                (np.zeros(len(nz) + 1, int), np.append(nz, off_z + z_i)),
            ),
            shape=(1, n_cols),
        )
        add(
            block,
            np.array([-INF]),
            np.array([deal_base.get(name, 0.0)]),
            [f"tranche:{name}:{i + 1}"],
            "tranche",
        )

    A = sp.vstack(rows).tocsr()
    return Model(
        cost=cost,
        lo=lo,
        hi=hi,
        integer=integer,
        A=A,
        row_lo=np.concatenate(row_lo),
        row_hi=np.concatenate(row_hi),
        row_names=names,
        row_kind=kinds_of_rows,
        cols={
            "n": slice(0, n_n),
            "x": slice(off_x, off_short),
            "short": slice(off_short, off_power_slack),
            "power_slack": slice(off_power_slack, off_share_slack),
            "share_slack": slice(off_share_slack, off_commit_slack),
            "commit_slack": slice(off_commit_slack, off_z),
            "z": slice(off_z, n_cols),
        },
        kinds=kinds,
        years=years,
        workloads=[w.name for w in proc.workloads],
        cells=cells,
        tranches=tranches,
        existing=existing,
        discount=delta,
        demand=D,
        unservable={
            w.name: "; ".join(
                f"{matrix.accelerators[j]}: {matrix.reason_text(i, j)}" for j in range(J)
            )
            for i, w in enumerate(proc.workloads)
            if not (T[i] > 0).any()
        },
    )


def _solve(
    model: Model, gap: float, time_limit: float, drop_row: int | None = None
) -> dict[str, Any]:
    h = new_highs()
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("time_limit", time_limit)
    row_lo, row_hi = model.row_lo.copy(), model.row_hi.copy()
    if drop_row is not None:
        row_lo[drop_row], row_hi[drop_row] = -INF, INF
    pass_lp(h, model.cost, model.lo, model.hi, model.A.tocsc(), row_lo, row_hi, model.integer)
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
    model: Model, gap: float, time_limit: float, drop_row: int | None = None
) -> dict[str, Any]:
    """The MILP, solved once per vesting pattern when there are few (see `_patterns`)."""
    patterns = _patterns(model)
    if not model.tranches or patterns is None:
        return _solve(model, gap, time_limit, drop_row)
    t0 = time.perf_counter()
    z = model.cols["z"]
    best: dict[str, Any] | None = None
    bound = np.inf
    for pattern in patterns:
        lo, hi = model.lo.copy(), model.hi.copy()
        lo[z] = hi[z] = pattern
        fixed = replace(model, lo=lo, hi=hi)
        left = max(time_limit - (time.perf_counter() - t0), 1.0)
        try:
            res = _solve(fixed, gap, left, drop_row)
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
        return np.round(self.solution[m.cols["n"]].reshape(len(m.kinds), len(m.years)))

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
        m = self.model
        short = self.solution[m.cols["short"]].reshape(len(m.years), len(m.workloads))
        out = []
        for t, w in np.argwhere(short > SLACK_TOL):
            entry = {
                "workload": m.workloads[w],
                "year": m.years[t],
                "short_fraction": float(short[t, w]),
                "short_units": float(short[t, w] * m.demand[w, t]),
            }
            if m.workloads[w] in m.unservable:
                entry["why"] = (
                    "no offered or installed kind can serve it: " + m.unservable[m.workloads[w]]
                )
            out.append(entry)
        return out

    def violations(self) -> list[dict[str, Any]]:
        m = self.model
        out = []
        for key, label, unit in (
            ("power_slack", "power", "MW"),
            ("share_slack", "share", "share-weighted units"),
            ("commit_slack", "commitment", "GW"),
        ):
            vals = self.solution[m.cols[key]]
            rows = [i for i, k in enumerate(m.row_kind) if k == label]
            for r, v in zip(rows, vals, strict=False):
                if v > SLACK_TOL:
                    out.append({"limit": m.row_names[r], "by": float(v), "unit": unit})
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
                            "vendor": k.vendor,
                            "nodes": int(n[j, t]),
                            "gpus": int(n[j, t] * g[j]),
                            "capex": float(n[j, t] * g[j] * cap[j]),
                            "deal": k.deal,
                        }
                    )
        capex_t = (n * (g * cap)[:, None]).sum(axis=0)
        opex_t = (inst * opex[:, None]).sum(axis=0)
        vendors = sorted({k.vendor for k in m.kinds})
        gw = {
            v: [
                float((inst[:, t] * mw * np.array([k.vendor == v for k in m.kinds])).sum() / 1000)
                for t in range(len(m.years))
            ]
            for v in vendors
        }
        z = self.solution[m.cols["z"]]
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
                    "total": float(capex_t[t] + opex_t[t]),
                    "discounted": float((capex_t[t] + opex_t[t]) * m.discount[t]),
                }
                for t, y in enumerate(m.years)
            ],
            "gw_by_vendor": gw,
            "installed": {
                k.accelerator: [float(v) for v in inst[j]] for j, k in enumerate(m.kinds)
            },
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
        }


def procure(loaded: LoadedProcurement, *, limit_costs: bool = True) -> ProcurementResult:
    """Solve the procurement MILP; with `limit_costs`, re-solve with each binding limit lifted."""
    proc = loaded.procurement
    t0 = time.perf_counter()
    model = build_model(loaded)
    res = _solve_best(model, proc.mip_gap, proc.time_limit_s)
    result = ProcurementResult(
        name=proc.name,
        status=res["status"],
        objective=res["objective"],
        mip_gap=res["gap"],
        seconds=time.perf_counter() - t0,
        model=model,
        solution=res["x"],
    )
    if limit_costs:
        activity = model.A @ res["x"]
        for r, kind in enumerate(model.row_kind):
            if kind not in ("budget", "power", "share", "commitment"):
                continue
            hi, lo = model.row_hi[r], model.row_lo[r]
            # integer purchases leave a limit a fraction of a node short of exact: 0.1 % is tight
            tight = (hi < INF and hi - activity[r] <= TIGHT * max(abs(hi), 1.0)) or (
                lo > -INF and activity[r] - lo <= TIGHT * max(abs(lo), 1.0)
            )
            if not tight:
                continue
            lifted = _solve_best(model, proc.mip_gap, proc.time_limit_s, drop_row=r)
            result.limit_costs.append(
                {
                    "limit": model.row_names[r],
                    "kind": kind,
                    "saving_if_lifted": res["objective"] - lifted["objective"],
                }
            )
        result.limit_costs.sort(key=lambda e: -e["saving_if_lifted"])
    result.seconds = time.perf_counter() - t0
    return result
