"""Coupling rows on keys: a second power row (a site's cap) is solved, priced, diagnosed and
reported under its own label, and nothing depends on the order the rows were built in.

Site east has a power cap of its own, a second power row ("power", "east"). The fleet:
nv = H100 ($2/h, 2 jobs/s, 1.275 kW) and amd = MI300X ($0.8/h, 1 job/s, 1.35 kW) at site east,
amd-w = MI300X ($0.9/h) in the west; 150,000 jobs/s; fleet cap 180 MW, east cap 120 MW.

    west    w = (180 − 120) MW / 1.35 kW = 44,444 MI300X (the fleet cap binds)
    east    2n + a = 150,000 − w,  1.275n + 1.35a = 120 MW (the east cap binds)
    duals   a vs amd-w: 1.35·π_east = 0.9 − 0.8            → π_east = 0.1 / 1.35 $/h per kW
            n vs 2a:   1.425·(π_fleet + π_east) = 2 − 1.6 → π_fleet = 0.4 / 1.425 − π_east
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest
from rich.console import Console
from scipy.optimize import linprog

from polyfleet.plan import diagnose, placement, problem
from polyfleet.plan.decompose import WarmStart, solve_decomposed
from polyfleet.plan.keys import CouplingKey, row_name
from polyfleet.plan.leverage import _never_reason, leverage
from polyfleet.plan.placement import make_plan, solve_problem
from polyfleet.plan.problem import CouplingRows, PlacementProblem, ShareBound
from polyfleet.plan.solution import Solution
from polyfleet.report.html import render_html
from polyfleet.report.terminal import print_plan
from polyfleet.results.plan import PlanRecord

from ..conftest import load

FLEET, EAST = CouplingKey("power", None), CouplingKey("power", "east")
PI_EAST = 0.1 / 1.35 * 1000  # $/h per MW
PI_FLEET = 0.4 / 1.425 * 1000 - PI_EAST


@dataclass(frozen=True)
class Reversed(PlacementProblem):
    """The same rows in the opposite order: every answer read by key must stay the same."""

    def coupling(self) -> CouplingRows:
        rows = super().coupling()
        return CouplingRows(rows.G[::-1].copy(), rows.b[::-1].copy(), rows.keys[::-1])


def _scenario(base, west_count=100_000, east_cap_mw=120.0):
    """The fleet of the module docstring: nv and amd at site east (its own power cap), amd-w in
    the west (no site), under the fleet's 180 MW cap."""
    base = copy.deepcopy(base)
    base["sites"] = [{"name": "east", "power_cap_mw": east_cap_mw}]
    base["pools"][0].update(count=100_000, site="east")
    base["pools"][1].update(count=100_000, cost={"per_gpu_hour": 0.8}, site="east")
    base["pools"].append(
        {
            "name": "amd-w",
            "accelerator": "mi300x",
            "count": west_count,
            "pue": 1.0,
            "cost": {"per_gpu_hour": 0.9},
        }
    )
    base["workloads"][0]["demand"]["value"] = 150_000.0
    base["limits"] = {"power_cap_mw": 180.0}
    return load(base)


def _sited_plan(monkeypatch, base, kind=PlacementProblem, method="auto", **kw):
    """make_plan on the scenario with site east; `kind` Reversed builds its rows backwards."""
    if kind is not PlacementProblem:
        built = problem.problem_from_scenario

        def rebuilt(*args, **kwargs):
            p = built(*args, **kwargs)
            return kind(**{f.name: getattr(p, f.name) for f in dataclasses.fields(p)})

        monkeypatch.setattr(placement, "problem_from_scenario", rebuilt)
    return make_plan(_scenario(base, **kw), method=method)


def test_keys_render_display_names_and_equal_plain_tuples():
    assert [str(k) for k in (CouplingKey("capacity", "nv"), FLEET, EAST)] == [
        "capacity:nv",
        "power_cap",
        "power_cap:east",
    ]
    assert str(CouplingKey("share_min", "amd")) == "share_min:amd"
    assert EAST == ("power", "east") and hash(EAST) == hash(("power", "east"))
    assert [k.family for k in (EAST, CouplingKey("share_max", "amd"))] == ["power", "share"]
    assert EAST.describe() == "the power cap of east" and FLEET.describe() == "the power cap"
    assert row_name(("share_max", "amd", 2027)) == "share_max:amd:2027"
    with pytest.raises(ValueError, match="appears twice"):
        CouplingRows(np.zeros((2, 1)), np.zeros(2), (FLEET, FLEET))


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_two_power_rows_priced_reported_under_their_own_labels(monkeypatch, base, method):
    plan = _sited_plan(monkeypatch, base, method=method)
    assert plan.status == "optimal"
    assert plan.solution.dual(FLEET) == pytest.approx(PI_FLEET, rel=1e-6)
    assert plan.solution.dual(EAST) == pytest.approx(PI_EAST, rel=1e-6)
    binding = {b["constraint"]: b for b in plan.binding()}
    assert set(binding) == {"power_cap", "power_cap:east"}
    assert binding["power_cap:east"]["key"] == {"kind": "power", "subject": "east"}
    assert binding["power_cap:east"]["saving_per_hour"] == pytest.approx(PI_EAST, rel=1e-6)
    assert binding["power_cap"]["saving_per_hour"] == pytest.approx(PI_FLEET, rel=1e-6)
    assert binding["power_cap:east"]["limit"] == 120.0 and binding["power_cap"]["limit"] == 180.0
    power = plan.power()
    # the fleet's figures stay the fleet's; each cap is listed by key with what it draws
    assert power["cap_mw"] == 180.0
    assert power["cap_shadow_price_per_mw_hour"] == pytest.approx(PI_FLEET, rel=1e-6)
    caps = {c["limit"]: c for c in power["caps"]}
    assert caps["power_cap:east"]["mw"] == pytest.approx(120.0, rel=1e-6)
    assert caps["power_cap"]["mw"] == pytest.approx(180.0, rel=1e-6)
    assert caps["power_cap:east"]["shadow_price_per_mw_hour"] == pytest.approx(PI_EAST, rel=1e-6)

    data = PlanRecord.build(plan.to_dict(matrix_cells=False))
    console = Console(record=True, width=400)
    print_plan(data, console)
    text = console.export_text()
    assert "of 180 MW cap (binding: $" + f"{PI_FLEET:,.0f}/h per extra MW)" in text
    assert f"east 120.0 MW of 120 MW cap (binding: ${PI_EAST:,.0f}/h per extra MW)" in text
    page = render_html(data)
    assert "<tr><td>power_cap:east</td>" in page and "<tr><td>power_cap</td>" in page
    assert f"<tr><td>east</td><td>120.0</td><td>120.0</td><td>{PI_EAST:,.2f}</td></tr>" in page
    assert f"<tr><td>fleet</td><td>180.0</td><td>180.0</td><td>{PI_FLEET:,.2f}</td></tr>" in page


@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_a_sites_cap_that_cannot_hold_is_diagnosed_as_that_sites(monkeypatch, base, method):
    """Only 10,000 MI300X in the west: the east must serve 140,000 jobs/s, at least 140,000 ×
    0.6375 kW = 89.25 MW (on H100s) against a 50 MW cap; the fleet's 180 MW cap holds."""
    plan = _sited_plan(monkeypatch, base, method=method, east_cap_mw=50.0, west_count=10_000)
    assert plan.status == "infeasible"
    (limit,) = plan.diagnosis["limits"]
    assert limit["limit"] == "power_cap:east" and limit["key"] == EAST.to_dict()
    assert limit["kind"] == "power" and limit["unit"] == "MW"
    assert limit["by"] == pytest.approx(89.25 - 50.0, rel=1e-6)
    assert plan.solution.violation(EAST) == pytest.approx(39.25, rel=1e-6)
    assert plan.solution.violation(FLEET) == pytest.approx(0.0, abs=1e-6)
    assert limit["message"].startswith("power cap of east short by 39.")
    console = Console(record=True, width=400)
    print_plan(PlanRecord.build(plan.to_dict(matrix_cells=False)), console)
    assert "limit power cap of east short by 39." in console.export_text()


def _independent_duals(p: PlacementProblem, rows: dict[CouplingKey, tuple[np.ndarray, float]]):
    """Row duals of the min-cost LP built here from the raw arrays (x per eligible cell, idle
    per pool), with the coupling rows in the order given, solved by scipy's HiGHS."""
    a = p.a
    w_of, p_of = np.nonzero(a > 0)
    n_x, n_p = len(w_of), len(p.pools)
    demand = np.zeros((len(p.workloads), n_x + n_p))
    demand[w_of, np.arange(n_x)] = -a[w_of, p_of]
    use = np.zeros((n_p, n_x + n_p))  # accelerators used per pool, assigned + idle
    use[p_of, np.arange(n_x)] = 1.0
    use[np.arange(n_p), n_x + np.arange(n_p)] = 1.0
    keys = list(rows)
    A = np.vstack([demand, *[rows[k][0] @ use for k in keys]])
    b = np.concatenate([-np.ones(len(p.workloads)), [rows[k][1] for k in keys]])
    res = linprog(np.concatenate([p.cost[p_of], p.cost]), A_ub=A, b_ub=b, method="highs")
    assert res.status == 0
    duals = -res.ineqlin.marginals[len(p.workloads) :]
    return dict(zip(keys, duals, strict=True))


def _by_hand_rows(p: PlacementProblem, east: tuple[str, ...]):
    """Every coupling row written out from its definition, in an order of its own."""
    out: dict[CouplingKey, tuple[np.ndarray, float]] = {}
    for sb in p.shares:
        in_v = np.array([p.vendors[v] == sb.vendor for v in p.pool_vendor], float)
        m = p.share_weight
        sign = 1.0 if sb.bound == "max" else -1.0
        out[CouplingKey(f"share_{sb.bound}", sb.vendor)] = (sign * (in_v - sb.value) * m, 0.0)
    if east:
        out[EAST] = (p.mw * np.isin(p.pools, east), 120.0)
    if p.power_cap_mw is not None:
        out[FLEET] = (p.mw, p.power_cap_mw)
    for j in reversed(range(len(p.pools))):
        out[CouplingKey("capacity", p.pools[j])] = (np.eye(len(p.pools))[j], p.capacity[j])
    return out


@pytest.mark.parametrize("case", ["two power rows", "share cap"])
@pytest.mark.parametrize("method", ["decomposition", "lp"])
def test_duals_by_key_agree_with_an_independent_lp(monkeypatch, base, case, method):
    if case == "two power rows":
        plan = _sited_plan(monkeypatch, base, method=method)
        east = ("nv", "amd")
    else:  # amd ≤ 50 % by count: n = a = 50 (test_solver), both pools slack
        base["pools"][1]["cost"]["per_gpu_hour"] = 0.8
        base["workloads"][0]["demand"]["value"] = 150.0
        base["limits"] = {"vendor_share": {"measure": "count", "max": {"amd": 0.5}}}
        plan = make_plan(load(base), method=method)
        east = ()
    p, sol = plan.problem, plan.solution
    expected = _independent_duals(p, _by_hand_rows(p, east))
    assert set(expected) == set(sol.keys)
    for key, dual in expected.items():
        assert sol.dual(key) == pytest.approx(dual, rel=1e-6, abs=1e-9), key
    point = 0.01 * float(p.share_weight @ sol.usage)
    for b in plan.binding():
        key = CouplingKey(b["key"]["kind"], b["key"]["subject"])
        per_unit = point if key.family == "share" else 1.0
        assert b["saving_per_hour"] == pytest.approx(expected[key] * per_unit, rel=1e-6)
    assert {b["constraint"] for b in plan.binding()} == {
        str(k) for k, d in expected.items() if d > 1e-9
    }


def test_nothing_depends_on_the_order_of_the_rows(monkeypatch, base):
    """The same problem with its rows reversed: the same binding list, power caps, duals by key,
    and diagnosis; a warm start from one order restarts the other on the right prices."""
    plans = [_sited_plan(monkeypatch, base, kind=k) for k in (PlacementProblem, Reversed)]
    assert plans[1].problem.coupling().keys == plans[0].problem.coupling().keys[::-1]
    sited, rev = (p.to_dict(matrix_cells=False) for p in plans)
    for field in ("binding", "power", "vendor_shares"):
        _assert_close(rev[field], sited[field], field)
    warm = plans[0].solution.warm_start
    assert isinstance(warm, WarmStart)
    rev_keys = plans[1].problem.coupling().keys
    assert warm.prices_for(rev_keys).tolist() == [plans[0].solution.dual(k) for k in rev_keys]
    restarted = solve_decomposed(plans[1].problem, warm=warm)
    for key in rev_keys:
        assert restarted.dual(key) == pytest.approx(plans[0].solution.dual(key), rel=1e-6)
    assert restarted.cost_per_hour == pytest.approx(plans[0].cost_per_hour, rel=1e-6)

    infeasible = [
        _sited_plan(monkeypatch, base, kind=k, east_cap_mw=50.0, west_count=10_000)
        for k in (PlacementProblem, Reversed)
    ]
    limits = [p.to_dict(matrix_cells=False)["diagnosis"]["limits"] for p in infeasible]
    _assert_close(limits[1], limits[0], "limits")


def _assert_close(got, want, where: str) -> None:
    """Equal structure and text; numbers equal to solver round-off."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for k in want:
            _assert_close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9), where
    else:
        assert got == want, where


def test_warm_start_maps_prices_by_key_and_zero_for_new_rows():
    share = CouplingKey("share_max", "amd")
    warm = WarmStart([], np.array([3.0, 5.0, 7.0]), (FLEET, EAST, share))
    assert warm.prices_for((share, CouplingKey("capacity", "nv"), FLEET)).tolist() == [7, 0, 3]


def test_solution_reads_by_key_and_refuses_a_missing_one():
    keys = (CouplingKey("capacity", "nv"), FLEET)
    sol = Solution(
        x=np.zeros((1, 1)),
        status="infeasible",
        objective=np.nan,
        cost_per_hour=np.nan,
        served=np.zeros(1),
        duals=np.zeros(2),
        usage=np.zeros(1),
        idle=np.zeros(1),
        method="lp",
        keys=keys,
        violations=np.array([0.0, 2.5]),
    )
    assert sol.violation(("power", None)) == 2.5 and sol.dual(FLEET) == 0.0
    with pytest.raises(KeyError, match="power"):
        sol.violation(EAST)
    with pytest.raises(ValueError, match="1 duals for 2 coupling rows"):
        dataclasses.replace(sol, duals=np.zeros(1))


def _two_amds(shares: tuple[ShareBound, ...]) -> PlacementProblem:
    """Vendors "amd" and "lab:amd" (a name whose display row, share_max:lab:amd, ends in
    ":amd"): amd at $1/h, lab:amd at $0.5/h, 100 each, 100 jobs/s at 1 job/s."""
    return PlacementProblem(
        workloads=["job"],
        pools=["a", "lab"],
        T=np.ones((1, 2)),
        demand=np.array([100.0]),
        cap=np.array([np.inf]),
        cost=np.array([1.0, 0.5]),
        mw=np.array([0.001, 0.001]),
        capacity=np.array([100.0, 100.0]),
        pool_vendor=np.array([0, 1]),
        vendors=["amd", "lab:amd"],
        shares=shares,
    )


def test_share_duals_belong_to_their_own_vendor():
    """lab:amd ≤ 40 %: 40 lab + 60 amd; one more point of lab's share saves 1 accelerator ×
    ($1 − $0.5) per hour. Its dual is lab:amd's, never amd's."""
    report = leverage(_two_amds((ShareBound("lab:amd", "max", 0.4),)), precision=0.05)
    by_vendor = {v.vendor: v.share_duals for v in report.vendors}
    assert by_vendor["amd"] == {}
    assert by_vendor["lab:amd"] == {"share_max": pytest.approx(0.5, rel=1e-6)}


def test_never_reasons_name_the_limits_by_key():
    p = dataclasses.replace(
        _two_amds(()),
        power_cap_mw=1.0,
        sites=("east",),
        site_cap_mw=np.array([1.0]),
        pool_site=np.array([0, -1]),
    )
    mask = np.array([True, False])
    assert _never_reason(p, mask, "amd", "no work moves").endswith(
        "the other vendors' capacity, the power cap or the power cap of east cannot take all "
        "its work"
    )
    floors = dataclasses.replace(
        p, shares=(ShareBound("amd", "min", 0.3), ShareBound("lab:amd", "max", 0.9))
    )
    assert _never_reason(floors, mask, "amd", "no work moves").endswith(
        "the minimum share of amd; the maximum share of lab:amd"
    )
    # a floor on lab:amd is not amd's floor
    other = dataclasses.replace(p, shares=(ShareBound("lab:amd", "min", 0.3),))
    assert "minimum share" not in _never_reason(other, mask, "amd", "no work moves")


def test_share_points_in_the_diagnosis_use_the_plans_measure():
    """lab:amd ≥ 70 % with 10 lab accelerators: the least violation uses all 10 and 90 amd (a
    share row gives more cheaply than a pool 10 accelerators small): lab's share is 10 %, so the
    floor gives by 60 points (of 100 accelerators)."""
    p = dataclasses.replace(
        _two_amds((ShareBound("lab:amd", "min", 0.7),)), capacity=np.array([100.0, 10.0])
    )
    sol = solve_problem(p, "min_cost", "lp")
    assert sol.status == "infeasible"
    (limit,) = diagnose.violated_limits(p, sol)
    assert limit["limit"] == "share_min:lab:amd" and limit["unit"] == "share points"
    assert limit["key"] == {"kind": "share_min", "subject": "lab:amd"}
    assert limit["by"] == pytest.approx(60.0, rel=1e-6)
    assert limit["message"] == "lab:amd share floor must give by 60.00 points (count)"
