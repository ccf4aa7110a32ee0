"""A small builder for linear and mixed-integer models on labels: named column blocks, named row
blocks with one key per row, and the sparse matrix assembled once from them.

A constraint family registers its rows as one block: a name, one key per row (a tuple such as
("power", 2027)), bounds, and one sparse coefficient matrix per column block it touches, indexed
within that block. Rows that may have to give way get a slack column each, registered with the
rows and carrying the same keys, so a slack is found by its block and paired to its row by key.
`ModelBuilder.build` stacks every block's triplets into one matrix; results are read back by
block name and row key, never by hand-computed offsets.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from polyfleet.plan.keys import RowKey, row_name
from polyfleet.plan.lp import INF

__all__ = ["ColumnBlock", "LinearModel", "ModelBuilder", "RowBlock", "RowKey", "Slack", "row_name"]

F = NDArray[np.float64]


@dataclass(frozen=True)
class ColumnBlock:
    """Columns `start … start + size` of the model, indexed within the block by `shape` (C order).

    A slack block carries the keys of the rows it relaxes (`relaxes` names that row block); any
    other block may carry keys too (one per column)."""

    name: str
    start: int
    shape: tuple[int, ...]
    keys: tuple[RowKey, ...] | None = None
    relaxes: str | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def cols(self) -> slice:
        return slice(self.start, self.start + self.size)


@dataclass(frozen=True)
class RowBlock:
    """Rows `start … start + len(keys)` of the model: one constraint family, one key per row."""

    name: str
    start: int
    keys: tuple[RowKey, ...]
    slack: str | None = None  # the column block that relaxes these rows, one column per row

    @property
    def size(self) -> int:
        return len(self.keys)

    @property
    def rows(self) -> slice:
        return slice(self.start, self.start + self.size)


@dataclass(frozen=True)
class Slack:
    """A slack column per row of a block, priced at `cost` (per row or one for all), ≤ `hi`.

    Its sign follows the rows' sense: +1 on a ≥ row, −1 on a ≤ row, so a positive slack always
    says by how much the row's limit is missed."""

    name: str
    cost: ArrayLike
    hi: float = INF


@dataclass(frozen=True)
class LinearModel:
    """min cost·x  s.t.  row_lo ≤ A x ≤ row_hi,  lo ≤ x ≤ hi,  x integer where `integer`."""

    cost: F
    lo: F
    hi: F
    integer: NDArray[np.bool_]
    A: sp.csr_matrix
    row_lo: F
    row_hi: F
    columns: dict[str, ColumnBlock]
    rows: dict[str, RowBlock]
    _row_index: dict[RowKey, int] = field(repr=False, compare=False)

    @property
    def cols(self) -> dict[str, slice]:
        """Column slices by block name."""
        return {name: block.cols for name, block in self.columns.items()}

    @property
    def keys(self) -> list[RowKey]:
        """Every row's key, in row order."""
        return [key for block in self.rows.values() for key in block.keys]

    def row(self, key: RowKey) -> int:
        """The position of the row with this key."""
        try:
            return self._row_index[key]
        except KeyError:
            raise KeyError(f"no row {key!r} in the model") from None

    def family(self, key: RowKey) -> str:
        """The name of the row block that holds the row with this key."""
        r = self.row(key)
        return next(b.name for b in self.rows.values() if b.start <= r < b.start + b.size)

    def col(self, block: str, *index: int) -> int:
        """The position of column `index` (within the block's shape) of a column block."""
        b = self.columns[block]
        return b.start + int(np.ravel_multi_index(index, b.shape))

    def terms(self, key: RowKey) -> dict[tuple[str, Hashable], float]:
        """A row's non-zero coefficients by (column block, the column's key in a keyed block or
        its index within the block's shape otherwise): for reading and checking a row."""
        r = self.row(key)
        lo, hi = self.A.indptr[r], self.A.indptr[r + 1]
        blocks = sorted(self.columns.values(), key=lambda b: b.start)
        starts = np.array([b.start for b in blocks])
        out: dict[tuple[str, Hashable], float] = {}
        for c, v in zip(self.A.indices[lo:hi], self.A.data[lo:hi], strict=True):
            b = blocks[int(np.searchsorted(starts, c, side="right")) - 1]
            i = int(c) - b.start
            index = b.keys[i] if b.keys is not None else np.unravel_index(i, b.shape)
            out[b.name, tuple(int(k) for k in index) if b.keys is None else index] = float(v)
        return out

    def values(self, x: F, block: str) -> F:
        """A column block's values in its own shape; empty when the block was not registered."""
        b = self.columns.get(block)
        if b is None:
            return np.zeros(0)
        return np.asarray(x[b.cols]).reshape(b.shape)

    def slacks(self, x: F, block: str) -> Iterator[tuple[RowKey, float]]:
        """(row key, value) of each column of a keyed block (a slack: the row it relaxes)."""
        b = self.columns.get(block)
        if b is None:
            return iter(())
        assert b.keys is not None, f"column block {block!r} has no keys"
        return zip(b.keys, (float(v) for v in x[b.cols]), strict=True)


class ModelBuilder:
    """Collects column and row blocks in order; `build` assembles the model once."""

    def __init__(self) -> None:
        self._columns: dict[str, ColumnBlock] = {}
        self._rows: dict[str, RowBlock] = {}
        self._col_parts: list[tuple[F, F, F, NDArray[np.bool_]]] = []  # cost, lo, hi, integer
        self._row_parts: list[tuple[F, F]] = []
        self._triplets: list[tuple[NDArray[np.intp], NDArray[np.intp], F]] = []
        self._n_cols = 0
        self._n_rows = 0

    def add_columns(
        self,
        name: str,
        shape: Sequence[int],
        *,
        cost: ArrayLike = 0.0,
        lo: ArrayLike = 0.0,
        hi: ArrayLike = INF,
        integer: bool = False,
        keys: Sequence[RowKey] | None = None,
        relaxes: str | None = None,
    ) -> ColumnBlock:
        """Register a block of columns; cost and bounds are scalars or arrays of `shape`."""
        if name in self._columns:
            raise ValueError(f"column block {name!r} registered twice")
        block = ColumnBlock(name, self._n_cols, tuple(int(s) for s in shape), _keys(keys), relaxes)
        if block.keys is not None and len(block.keys) != block.size:
            raise ValueError(f"column block {name!r}: {len(block.keys)} keys for {block.size}")
        size = block.size
        self._col_parts.append(
            (
                _flat(cost, size, name, "cost"),
                _flat(lo, size, name, "lo"),
                _flat(hi, size, name, "hi"),
                np.full(size, integer, dtype=bool),
            )
        )
        self._columns[name] = block
        self._n_cols += size
        return block

    def add_rows(
        self,
        name: str,
        keys: Sequence[RowKey],
        *,
        lo: ArrayLike = -INF,
        hi: ArrayLike = INF,
        terms: Mapping[str, sp.spmatrix | sp.sparray | NDArray[np.float64]],
        slack: Slack | None = None,
    ) -> RowBlock:
        """Register a block of rows `lo ≤ Σ_blocks terms[block] · x[block] ≤ hi`.

        Each term is a (rows × block size) matrix on a registered column block, indexed within
        it. With `slack`, one slack column per row is registered under `slack.name`, keyed by
        the same keys."""
        if name in self._rows:
            raise ValueError(f"row block {name!r} registered twice")
        n = len(keys)
        row_lo, row_hi = _flat(lo, n, name, "lo"), _flat(hi, n, name, "hi")
        for block_name, term in terms.items():
            block = self._columns[block_name]
            coo = sp.coo_matrix(term)
            if coo.shape != (n, block.size):
                raise ValueError(
                    f"row block {name!r}: term on {block_name!r} is {coo.shape}, "
                    f"expected {(n, block.size)}"
                )
            self._add_triplets(coo.row, block.start + coo.col, coo.data)
        slack_name = None
        if slack is not None:
            sign = _relaxing_sign(row_lo, row_hi, name)
            block = self.add_columns(
                slack.name, (n,), cost=slack.cost, hi=slack.hi, keys=keys, relaxes=name
            )
            self._add_triplets(np.arange(n), block.start + np.arange(n), np.full(n, sign))
            slack_name = slack.name
        self._rows[name] = RowBlock(name, self._n_rows, _keys(keys) or (), slack_name)
        self._row_parts.append((row_lo, row_hi))
        self._n_rows += n
        return self._rows[name]

    def _add_triplets(self, rows: ArrayLike, cols: ArrayLike, vals: ArrayLike) -> None:
        self._triplets.append(
            (
                self._n_rows + np.asarray(rows, dtype=np.intp),
                np.asarray(cols, dtype=np.intp),
                np.asarray(vals, dtype=float),
            )
        )

    def build(self) -> LinearModel:
        """Stack the blocks into one model; the matrix is assembled here, once."""
        index: dict[RowKey, int] = {}
        for block in self._rows.values():
            for i, key in enumerate(block.keys):
                if index.setdefault(key, block.start + i) != block.start + i:
                    raise ValueError(f"row key {key!r} registered twice")
        none_i, none_f = np.zeros(0, dtype=np.intp), np.zeros(0)
        rows = np.concatenate([none_i, *(t[0] for t in self._triplets)])
        cols = np.concatenate([none_i, *(t[1] for t in self._triplets)])
        vals = np.concatenate([none_f, *(t[2] for t in self._triplets)])
        A = sp.csr_matrix((vals, (rows, cols)), shape=(self._n_rows, self._n_cols))
        A.eliminate_zeros()
        return LinearModel(
            cost=np.concatenate([none_f, *(p[0] for p in self._col_parts)]),
            lo=np.concatenate([none_f, *(p[1] for p in self._col_parts)]),
            hi=np.concatenate([none_f, *(p[2] for p in self._col_parts)]),
            integer=np.concatenate([np.zeros(0, bool), *(p[3] for p in self._col_parts)]),
            A=A,
            row_lo=np.concatenate([none_f, *(p[0] for p in self._row_parts)]),
            row_hi=np.concatenate([none_f, *(p[1] for p in self._row_parts)]),
            columns=dict(self._columns),
            rows=dict(self._rows),
            _row_index=index,
        )


def _keys(keys: Sequence[RowKey] | None) -> tuple[RowKey, ...] | None:
    return None if keys is None else tuple(tuple(k) for k in keys)


def _flat(value: ArrayLike, size: int, block: str, what: str) -> F:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(size, float(arr))
    if arr.size != size:
        raise ValueError(f"block {block!r}: {what} has {arr.size} values for {size}")
    return arr.ravel().copy()


def _relaxing_sign(lo: F, hi: F, block: str) -> float:
    """+1 for ≥ rows, −1 for ≤ rows; a slack on a ranged or mixed block would be ambiguous."""
    if np.all(lo > -INF) and np.all(hi >= INF):
        return 1.0
    if np.all(hi < INF) and np.all(lo <= -INF):
        return -1.0
    raise ValueError(f"row block {block!r}: a slack needs every row one-sided the same way")
