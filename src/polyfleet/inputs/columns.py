"""A scenario's workloads as columns: what the planner reads of every workload, as arrays.

A scenario's workloads come as objects (`Workload`, read from YAML or from JSON that describes
models, needs or SLOs) or in bulk (a JSON list of measured `custom` workloads, or tables): 100,000
workloads of 50 measured cells each are 5 million cells, too many for one Python object each.
Either way the loader builds one `WorkloadColumns`: names, kinds, demand, units, caps and tiers per
workload, and the measured throughput as long-form cells (row, accelerator, value). The matrix,
the problem and the plan read these columns; only a roofline estimate reads a `Workload` object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["WorkloadColumns"]

F = NDArray[np.float64]
Idx = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class WorkloadColumns:
    """Every workload of a scenario, in its order; the measured cells in long form.

    `cell_acc` indexes `accelerators` (catalog ids); a (row, accelerator) pair appears at most
    once. `objects`: whether row i is `scenario.workloads[i]` (workloads given as objects) or has
    no object (a measured workload given in bulk).
    """

    names: list[str]
    kind: NDArray[np.str_]
    demand: F
    unit: list[str]
    cap: F  # max_accelerators; inf: no cap
    tier: NDArray[np.int8]  # the effective tier
    cell_row: Idx
    cell_acc: Idx
    cell_value: F
    accelerators: tuple[str, ...]
    objects: bool = True

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def of(cls, workloads: Sequence[Any]) -> WorkloadColumns:
        """The columns of validated `Workload` objects (throughput keys already catalog ids)."""
        n = len(workloads)
        tps = [w.throughput for w in workloads]
        sizes = np.fromiter(map(len, tps), np.intp, n)
        accelerators = tuple(dict.fromkeys(chain.from_iterable(tps)))
        code = {a: i for i, a in enumerate(accelerators)}
        total = int(sizes.sum())
        return cls(
            names=[w.name for w in workloads],
            kind=np.array([w.kind for w in workloads], dtype="<U8"),
            demand=np.array([w.demand.value for w in workloads], dtype=float),
            unit=[w.demand.unit for w in workloads],
            cap=np.array([w.max_accelerators or np.inf for w in workloads], dtype=float),
            tier=np.array([w.effective_tier for w in workloads], dtype=np.int8),
            cell_row=np.repeat(np.arange(n, dtype=np.intp), sizes),
            cell_acc=np.fromiter(map(code.__getitem__, chain.from_iterable(tps)), np.intp, total),
            cell_value=np.fromiter(chain.from_iterable(t.values() for t in tps), float, total),
            accelerators=accelerators,
            objects=True,
        )

    def measured(self, acc_ids: Sequence[str]) -> F:
        """Measured throughput as a dense (workloads, acc_ids) array; 0 where not measured."""
        col = {a: j for j, a in enumerate(acc_ids)}
        where = np.array([col.get(a, -1) for a in self.accelerators], dtype=np.intp)
        out = np.zeros((len(self), len(acc_ids)))
        if self.cell_row.size:
            cols = where[self.cell_acc]
            keep = cols >= 0
            out[self.cell_row[keep], cols[keep]] = self.cell_value[keep]
        return out
