"""Which pool gets each job: the plan's split of each workload, weighted by free capacity.

Pure numpy, no cluster: given, per workload, the accelerators the plan gives each pool, and each
pool's free share of its slots, a batch of jobs of one workload is apportioned over the pools by
largest remainders and interleaved (stride order), so any prefix of the batch follows the same
proportions. A rerouted job goes to the next pool the plan gives its workload, by weight, that it
has not tried and that is still in the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Router"]


@dataclass
class Router:
    """`split[workload][pool]` = accelerators the plan assigns; `pools` = pools in the cluster."""

    split: Mapping[str, Mapping[str, float]]
    pools: Sequence[str]

    def __post_init__(self) -> None:
        self._index = {p: i for i, p in enumerate(self.pools)}
        self._weights: dict[str, np.ndarray] = {}
        for workload, by_pool in self.split.items():
            w = np.zeros(len(self.pools))
            for pool, acc in by_pool.items():
                if pool in self._index:
                    w[self._index[pool]] = max(acc, 0.0)
            self._weights[workload] = w
        self.free = np.ones(len(self.pools))

    def set_free(self, free: Mapping[str, float]) -> None:
        """Free fraction (0..1) of each pool's slots; pools not named keep theirs."""
        for pool, f in free.items():
            if pool in self._index:
                self.free[self._index[pool]] = min(max(f, 0.0), 1.0)

    def weights(self, workload: str) -> np.ndarray:
        base = self._weights[workload]
        w = base * self.free
        return w if w.sum() > 0 else base  # every pool busy: queue by the plan alone

    def route(self, workload: str, n: int) -> np.ndarray:
        """Pool indices for `n` jobs of `workload`, in submission order."""
        w = self.weights(workload)
        total = w.sum()
        if total <= 0:
            raise KeyError(f"the plan gives workload {workload!r} no pool in this cluster")
        share = w / total * n
        counts = np.floor(share).astype(np.int64)
        rest = n - int(counts.sum())
        if rest:
            counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
        # stride order: pool p's k-th job sits at (k + 0.5) / counts[p]
        pools = np.repeat(np.arange(len(w)), counts)
        ranks = np.concatenate([(np.arange(c) + 0.5) / c for c in counts if c]) if n else []
        return pools[np.argsort(ranks, kind="stable")]

    def route_names(self, workload: str, n: int) -> list[str]:
        return [self.pools[i] for i in self.route(workload, n)]

    def next_pool(self, workload: str, tried: Sequence[str], alive: Sequence[str]) -> str | None:
        """The heaviest pool the plan gives `workload` that is alive and not yet tried."""
        base = self._weights.get(workload)
        if base is None:
            return None
        skip = set(tried)
        live = set(alive)
        for i in np.argsort(-base, kind="stable"):
            pool = self.pools[i]
            if base[i] > 0 and pool not in skip and pool in live:
                return pool
        return None
