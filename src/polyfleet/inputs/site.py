"""Sites: the data centres pools and purchases belong to. A site has its own power cap, the PUE of
its building, and a cooling limit: how hot a rack it can take (kW) and whether it brings liquid to
the racks. A rack-scale part above that limit cannot go there.

A scenario's sites cap power in MW (`Site`); a procurement file's cap the installed fleet's power
in GW, year by year (`polyfleet.inputs.procurement.ProcurementSite`). Both share the fields and
the rack rule here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field

from polyfleet.catalog import Accelerator, Cooling
from polyfleet.inputs.base import InputModel, PowerCapMw, Pue, RackKw

__all__ = ["Site", "SiteBase", "check_pool_sites", "check_site_names", "rack_refusal"]


class SiteBase(InputModel):
    """What every site says: its name, PUE and cooling. `cooling: liquid` means the site brings
    a liquid loop to the racks (facility water, or sidecar CDUs); `max_rack_kw` is the most one
    rack may draw there."""

    name: str = Field(min_length=1)
    pue: Pue | None = None  # None: each pool's own, else the documented default
    cooling: Cooling | None = None
    max_rack_kw: RackKw | None = None


class Site(SiteBase):
    """A scenario's site: its power cap in MW at the facility meter (None: only the fleet's)."""

    power_cap_mw: PowerCapMw | None = None


def rack_refusal(acc: Accelerator, site: SiteBase) -> str | None:
    """Why a rack of `acc` cannot go to `site` (None: it can, or `acc` is not sold as a rack)."""
    rack = acc.rack
    if rack is None:
        return None
    cooled = f" ({site.cooling}-cooled)" if site.cooling else ""
    if site.max_rack_kw is not None and rack.kw > site.max_rack_kw:
        unconfirmed = " (an unconfirmed figure)" if acc.is_unconfirmed("rack.kw") else ""
        return (
            f"a {rack.name} rack draws {rack.kw:g} kW{unconfirmed}, above the "
            f"{site.max_rack_kw:g} kW per rack that site {site.name}{cooled} takes"
        )
    if rack.cooling == "liquid" and site.cooling == "air":
        return f"a {rack.name} rack is liquid-cooled and site {site.name} is air-cooled"
    return None


def check_site_names(
    sites: Sequence[SiteBase], fail: Callable[[str, list[str | int], Any], Exception]
) -> dict[str, SiteBase]:
    """The sites by name; a name given twice is refused at its second place."""
    out: dict[str, SiteBase] = {}
    for i, site in enumerate(sites):
        if site.name in out:
            raise fail(f"duplicate site name '{site.name}'", ["sites", i, "name"], site.name)
        out[site.name] = site
    return out


def check_pool_sites(scn: Any, catalog: Any, fail: Callable[..., Exception]) -> None:
    """Pools at sites: the site exists, a rack fits its cooling, the pool takes the site's PUE
    when it gives none; and every pool a power limit counts has a power figure. `scn` is a
    scenario (pools, sites, limits); `fail(msg, loc, value, hint)` makes the error to raise."""
    sites = check_site_names(scn.sites, fail)
    for i, pool in enumerate(scn.pools):
        if pool.site is None or not sites:
            continue
        site = sites.get(pool.site)
        if site is None:
            raise fail(f"unknown site; sites: {', '.join(sites)}", ["pools", i, "site"], pool.site)
        acc = catalog[pool.accelerator]
        refusal = rack_refusal(acc, site)
        if refusal:
            raise fail(
                f"pool {pool.name} cannot be at site {site.name}: {refusal}",
                ["pools", i, "site"],
                pool.site,
                "Put it at a site that can cool the rack, or raise the site's max_rack_kw",
            )
        if "pue" not in pool.model_fields_set and site.pue is not None:
            pool.pue = site.pue
    capped = {s.name for s in scn.sites if s.power_cap_mw is not None}
    share = scn.limits.vendor_share
    for i, pool in enumerate(scn.pools):
        acc = catalog[pool.accelerator]
        if acc.power_known:
            continue
        limits = []
        if scn.limits.power_cap_mw is not None:
            limits.append("the fleet's power cap")
        if sites and pool.site in capped:
            limits.append(f"the power cap of site {pool.site}")
        if share is not None and share.measure == "power":
            limits.append("the vendor shares by power")
        if limits:
            raise fail(
                f"the catalog has no power figure for {acc.id} (none is published), and "
                f"{' and '.join(limits)} {'count' if len(limits) > 1 else 'counts'} every "
                "pool's power",
                ["pools", i, "accelerator"],
                pool.accelerator,
                f"Give one in the scenario: catalog: [{{id: {acc.id}, node_power_kw: ...}}] "
                "(kW per node) or tdp_w",
            )
