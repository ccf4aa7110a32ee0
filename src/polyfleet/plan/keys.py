"""Row labels: every constraint row of a model is found by its key, never by position or name.

A key is a tuple — what the row limits and for what: ("demand", workload, year) in procurement,
("capacity", pool) in placement. Its display name is rendered from it (`row_name`, or `str` of a
`CouplingKey`) and is never parsed back.

Placement's coupling rows carry a `CouplingKey(kind, subject)`:

    ("capacity", pool)       accelerators of one pool
    ("power", None)          the fleet's power cap, in MW; ("power", site) for a site's own cap
    ("share_max", vendor)    a vendor's largest share of the share measure
    ("share_min", vendor)    its smallest share
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple

__all__ = ["CouplingKey", "RowKey", "row_name"]

RowKey = tuple[Hashable, ...]

#: Display prefixes that differ from the kind ("power_cap", as plans have always named it).
_PREFIX = {"power": "power_cap"}


def row_name(key: RowKey) -> str:
    """A row's display name, rendered from its key: ("share_max", "amd", 2027) → share_max:amd:2027."""
    return ":".join(str(part) for part in key)


class CouplingKey(NamedTuple):
    """The key of one placement coupling row; a `RowKey` of two parts, equal to the plain tuple."""

    kind: str  # "capacity" | "power" | "share_max" | "share_min"
    subject: str | None = None  # the pool, the site (None: the whole fleet) or the vendor

    def __str__(self) -> str:
        """The display name: capacity:nv, power_cap, power_cap:east, share_max:amd."""
        prefix = _PREFIX.get(self.kind, self.kind)
        return prefix if self.subject is None else f"{prefix}:{self.subject}"

    def to_dict(self) -> dict[str, str | None]:
        """The key as a plan prints it, beside the display name: {"kind": ..., "subject": ...}."""
        return {"kind": self.kind, "subject": self.subject}

    @property
    def family(self) -> str:
        """What kind of limit the row is: "capacity", "power" or "share" (either bound)."""
        return "share" if self.kind in ("share_max", "share_min") else self.kind

    def describe(self) -> str:
        """The limit in words, for messages: "the power cap of east", "the maximum share of amd"."""
        if self.kind == "capacity":
            return f"the capacity of pool {self.subject}"
        if self.kind == "power":
            return "the power cap" + ("" if self.subject is None else f" of {self.subject}")
        bound = {"share_max": "maximum", "share_min": "minimum"}.get(self.kind, self.kind)
        return f"the {bound} share of {self.subject}"
