"""The throughput matrix as a Parquet side file (`polyfleet plan --matrix-out FILE.parquet`).

At 100,000 workloads the matrix has millions of cells, too many for the plan's JSON (where
`--matrix` still puts them, one object each). The side file has one row per (workload,
accelerator) cell, built from the matrix arrays by pyarrow, with no Python object per cell:

    workload, accelerator   names (dictionary-encoded)
    throughput              units/s per accelerator (0 where ineligible)
    origin                  measured | estimated | calibrated | ineligible
    throughput_low/high     the cell's interval (a measured cell's is its value)
    gang                    accelerators one replica needs
    precision               the precision an estimate assumed (empty for none)
    reason, reason_detail   why an ineligible cell is (a code, and the figure behind it)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from polyfleet.errors import InputError
from polyfleet.extras import require
from polyfleet.perfmodel import roofline
from polyfleet.perfmodel.matrix import Origin, Reason, ThroughputMatrix
from polyfleet.report.files import write_atomic

__all__ = ["matrix_table", "parquet_path", "write_matrix"]


def parquet_path(path: Path, option: str) -> Path:
    """`path`, once it is known the matrix can be written there: a `.parquet` name, and pyarrow
    installed (checked before any work)."""
    if path.suffix.lower() != ".parquet":
        raise InputError(
            "the matrix is written as Parquet: name a .parquet file", field=option, value=str(path)
        )
    require("pyarrow", extra="tables", what="writing the matrix as Parquet (--matrix-out)")
    return path


def matrix_table(matrix: ThroughputMatrix) -> Any:
    """The matrix as a pyarrow Table, one row per cell, workload-major."""
    pa = require("pyarrow", extra="tables", what="writing the matrix as Parquet (--matrix-out)")
    n_w, n_a = matrix.value.shape

    def coded(codes: np.ndarray, names: list[str], valid: np.ndarray | None = None) -> Any:
        mask = None if valid is None else ~valid.ravel()
        return pa.DictionaryArray.from_arrays(
            pa.array(np.ascontiguousarray(codes).ravel().astype(np.int32), mask=mask),
            pa.array(names, pa.string()),
        )

    eligible = matrix.origin != Origin.INELIGIBLE
    rows = np.broadcast_to(np.arange(n_w, dtype=np.int32)[:, None], (n_w, n_a))
    cols = np.broadcast_to(np.arange(n_a, dtype=np.int32)[None, :], (n_w, n_a))
    return pa.table(
        {
            "workload": coded(rows, list(matrix.workloads)),
            "accelerator": coded(cols, list(matrix.accelerators)),
            "throughput": matrix.value.ravel(),
            "origin": coded(matrix.origin, [o.name.lower() for o in Origin]),
            "throughput_low": matrix.low.ravel(),
            "throughput_high": matrix.high.ravel(),
            "gang": matrix.gang.ravel(),
            "precision": coded(
                np.maximum(matrix.precision, 0), list(roofline.BYTES), matrix.precision >= 0
            ),
            "reason": coded(matrix.reason, [r.name.lower() for r in Reason], ~eligible),
            "reason_detail": pa.array(matrix.detail.ravel(), mask=eligible.ravel()),
        }
    )


def write_matrix(matrix: ThroughputMatrix, path: str | Path) -> None:
    """Write the matrix to `path` as Parquet, whole or not at all."""
    pa = require("pyarrow", extra="tables", what="writing the matrix as Parquet (--matrix-out)")
    from pyarrow import parquet

    sink = pa.BufferOutputStream()
    parquet.write_table(matrix_table(matrix), sink)
    write_atomic(path, sink.getvalue().to_pybytes())
