"""Build or buy: what an in-house accelerator saves against buying (or renting) a catalogued
part for the same work, year by year, with the risk that it ships a year late.

Every unit in service costs a year of its owned cost (`owned_cost`: capital over its
amortisation at the cost of capital, power, upkeep); a rented alternative costs its rent for
8,760 hours. One build unit does the work of `k` units of the alternative (`instead_per_build`,
the build's performance on the work relative to its reference part over the alternative's).

    buy       cost[t] = u[t] · k · a_alt
    build     cost[t] = NRE·[t = 0] + u[t] · (a_build if year ≥ ship else k · a_alt)
              (before the build ships the work is bought: the bridge)
    expected  (1 − p) · build(ship) + p · build(ship + 1),   p = slip probability
    NPV       Σ_t cost[t] / (1 + r)^t,   r = the file's discount rate, year 0 undiscounted
    break-even  NRE / (k · a_alt − a_build) unit-years (undiscounted); in units, over the
              build's service life (life_years); none when a build unit-year costs no less

`saving` is NPV(buy) − NPV(expected build): positive, building pays in expectation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polyfleet.economics.cost import HOURS_PER_YEAR, owned_cost, rented_cost
from polyfleet.inputs.build import LoadedBuildFile
from polyfleet.inputs.cost import describe

__all__ = ["build_vs_buy"]


def build_vs_buy(loaded: LoadedBuildFile) -> dict[str, Any]:
    """The build-vs-buy figures of a build file (see the module docstring), as record data."""
    spec, catalog = loaded.spec, loaded.catalog
    build = spec.build
    acc = catalog[build.name]
    alt = catalog[loaded.instead]
    own = owned_cost(acc, build.unit_cost, spec.cost, spec.pue)
    other = (
        rented_cost(alt, loaded.price, spec.pue)
        if loaded.rented
        else owned_cost(alt, loaded.price, spec.cost, spec.pue)
    )
    a_build = own.total * HOURS_PER_YEAR
    a_alt = other.total * HOURS_PER_YEAR
    k = loaded.instead_per_build
    years = np.array(spec.years)
    units = np.array(spec.units_by_year(), dtype=float)
    buy = units * k * a_alt
    nre = np.zeros(len(years))
    nre[0] = build.nre

    def built(ship: int) -> np.ndarray:
        return nre + np.where(years >= ship, units * a_build, units * k * a_alt)

    p = build.slip_probability
    on_time, slipped = built(build.first_ship_year), built(build.first_ship_year + 1)
    expected = (1 - p) * on_time + p * slipped
    delta = (1.0 / (1.0 + spec.discount_rate)) ** np.arange(len(years))
    npv = {
        "buy": float(buy @ delta),
        "build_on_time": float(on_time @ delta),
        "build_slipped": float(slipped @ delta),
        "build_expected": float(expected @ delta),
    }
    saving_per_unit_year = k * a_alt - a_build
    if saving_per_unit_year > 0:
        unit_years = build.nre / saving_per_unit_year
        units_even, reason = unit_years / build.life_years, None
    else:
        unit_years = units_even = None
        reason = (
            f"a unit-year of {build.name} costs {a_build:,.0f} USD, the work of it bought "
            f"costs {k * a_alt:,.0f}: no volume pays back the NRE"
        )
    saving = npv["buy"] - npv["build_expected"]
    assumed = sorted(set(own.assumed) | set(other.assumed))
    if "pue" not in spec.model_fields_set:
        assumed.append("pue")
    return {
        "name": spec.name,
        "accelerator": build.name,
        "vendor": build.vendor,
        "reference": build.relative_to,
        "work": spec.kind_of_work,
        "instead": loaded.instead,
        "instead_basis": "rented" if loaded.rented else "owned",
        "instead_per_build": k,
        "nre": build.nre,
        "first_ship_year": build.first_ship_year,
        "slip_probability": p,
        "discount_rate": spec.discount_rate,
        "build_cost_per_unit_year": a_build,
        "instead_cost_per_unit_year": a_alt,
        "bought_cost_per_build_unit_year": k * a_alt,
        "saving_per_unit_year": saving_per_unit_year,
        "break_even_unit_years": unit_years,
        "break_even_units": units_even,
        "break_even_reason": reason,
        "cost_by_year": [
            {
                "year": int(y),
                "units": int(units[t]),
                "buy": float(buy[t]),
                "build_on_time": float(on_time[t]),
                "build_slipped": float(slipped[t]),
                "build_expected": float(expected[t]),
            }
            for t, y in enumerate(years)
        ],
        "npv": npv,
        "expected_saving": saving,
        "decision": "build" if saving > 0 else "buy",
        "assumptions": describe(assumed),
    }
