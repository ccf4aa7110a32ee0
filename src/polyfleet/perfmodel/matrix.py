"""The throughput matrix: units/s that one accelerator of each kind delivers on each workload.

A cell is `measured` when the scenario gives it; `calibrated` when a probe profile of that
accelerator measured that kind of workload, or when published results set a factor for the
accelerator's software stack and the workload's kind (the roofline estimate scaled by it); else
`estimated` by the roofline model alone. A cell a workload may not use is `ineligible` with a reason
code and a detail figure. Every cell has an interval, `low` to `high`: a measured cell's is its
value; an estimated or calibrated one's comes from the residuals of the calibration behind it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from polyfleet.catalog import Accelerator, Catalog
from polyfleet.inputs.columns import WorkloadColumns
from polyfleet.inputs.model_shape import ModelShape
from polyfleet.inputs.scenario import Scenario, TierPolicy, Workload
from polyfleet.perfmodel import roofline
from polyfleet.perfmodel.stacks import StackFactor, StackFactors

if TYPE_CHECKING:
    from polyfleet.perfmodel.calibration import Calibration, CalibrationSet

__all__ = ["Origin", "Reason", "ThroughputMatrix", "build_matrix", "estimate_one", "matrix_for"]


class Origin(enum.IntEnum):
    INELIGIBLE = 0
    MEASURED = 1
    ESTIMATED = 2
    CALIBRATED = 3


class Reason(enum.IntEnum):
    OK = 0
    VENDOR_NOT_ALLOWED = 1
    ACCELERATOR_NOT_ALLOWED = 2
    TIER_POLICY = 3
    SCALEUP_TOO_LOW = 4
    DOMAIN_TOO_SMALL = 10
    REPLICA_DOES_NOT_FIT = 5
    GANG_TOO_LARGE = 6
    SLO_MISSED = 7
    NO_RATES = 8
    NOT_MEASURED = 9
    NOT_RATED = 11


_REASON_TEXT = {
    Reason.OK: "",
    Reason.VENDOR_NOT_ALLOWED: "vendor not in the workload's needs.vendors",
    Reason.ACCELERATOR_NOT_ALLOWED: "accelerator not in the workload's needs.accelerators",
    Reason.TIER_POLICY: "tier policy excludes it",
    Reason.SCALEUP_TOO_LOW: "scale-up bandwidth {detail:g} GB/s below the workload's need",
    Reason.DOMAIN_TOO_SMALL: "scale-up domain {detail:g} < {need:g} needed",
    Reason.REPLICA_DOES_NOT_FIT: "a replica needs {detail:,.0f} GB, more than one node/domain holds",
    Reason.GANG_TOO_LARGE: "training state needs a gang of {detail:,.0f}, above the workload's limit",
    Reason.SLO_MISSED: "latency {detail:.1f} ms misses the SLO",
    Reason.NO_RATES: "the catalog lacks the rates an estimate needs",
    Reason.NOT_MEASURED: "custom workload with no measured throughput here",
    Reason.NOT_RATED: "the in-house part has no performance figure for this kind of work",
}


@dataclass(frozen=True)
class ThroughputMatrix:
    """Arrays of shape (workloads, accelerators). `value` is 0 where the cell is ineligible."""

    workloads: list[str]
    accelerators: list[str]
    value: NDArray[np.float64]
    origin: NDArray[np.int8]
    reason: NDArray[np.int8]
    detail: NDArray[np.float64]
    gang: NDArray[np.float64]
    precision: NDArray[np.int8]  # index into roofline.BYTES order, -1 for none
    source: NDArray[np.int16]  # index into `calibrations` for profile-calibrated cells, else -1
    calibrations: tuple[Calibration, ...] = ()
    low: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    high: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    stack_ref: NDArray[np.int16] = field(default_factory=lambda: np.zeros((0, 0), np.int16))
    stack_factors: tuple[StackFactor, ...] = ()  # what `stack_ref` indexes (-1: none)
    domain_need: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # per workload

    def __post_init__(self) -> None:
        shape = self.value.shape
        if self.domain_need.shape != (shape[0],):
            object.__setattr__(self, "domain_need", np.zeros(shape[0]))
        if self.low.shape != shape:
            object.__setattr__(self, "low", self.value.copy())
        if self.high.shape != shape:
            object.__setattr__(self, "high", self.value.copy())
        if self.stack_ref.shape != shape:
            object.__setattr__(self, "stack_ref", np.full(shape, -1, dtype=np.int16))

    def profile_of(self, w: int, a: int) -> str | None:
        """The profile file a calibrated cell came from."""
        k = int(self.source[w, a])
        return self.calibrations[k].file if k >= 0 else None

    def stack_factor_of(self, w: int, a: int) -> StackFactor | None:
        """The stack factor behind a cell calibrated from published results (None otherwise)."""
        k = int(self.stack_ref[w, a])
        return self.stack_factors[k] if k >= 0 and self.profile_of(w, a) is None else None

    def provenance(self, w: int, a: int) -> dict[str, object]:
        """Where a cell's figure came from: origin, source, and the results or profile behind it."""
        origin = Origin(int(self.origin[w, a]))
        out: dict[str, object] = {"origin": origin.name.lower()}
        if origin == Origin.MEASURED:
            out["source"] = "scenario"
        elif origin == Origin.CALIBRATED and self.profile_of(w, a) is not None:
            cal = self.calibrations[int(self.source[w, a])]
            out.update(source=cal.file, calibration="profile", factor=cal.factor)
        elif origin in (Origin.CALIBRATED, Origin.ESTIMATED):
            sf = self.stack_factor_of(w, a)
            if sf is not None and sf.calibrated:
                out.update(
                    source=f"published results: {sf.label()}",
                    calibration="benchmarks",
                    factor=sf.factor,
                    basis=sf.basis,
                    results=list(sf.results),
                )
            else:
                out["source"] = "roofline"
                if self.stack_factors:
                    out["note"] = "stack factor 1.0 assumed: no published results of this kind"
        if origin != Origin.INELIGIBLE:
            out["throughput_low"] = float(self.low[w, a])
            out["throughput_high"] = float(self.high[w, a])
        return out

    def provenances(self, w: NDArray[np.intp], a: NDArray[np.intp]) -> list[dict[str, object]]:
        """`provenance` of the cells (w[i], a[i]), built once per kind of cell (origin, profile,
        stack factor) and completed with each estimated cell's interval (a measured cell's is
        its value: left out): no per-cell lookups."""
        keys = zip(
            self.origin[w, a].tolist(),
            self.source[w, a].tolist(),
            self.stack_ref[w, a].tolist(),
            strict=True,
        )
        low, high = self.low[w, a].tolist(), self.high[w, a].tolist()
        shared: dict[tuple[int, int, int], dict[str, object]] = {}
        out: list[dict[str, object]] = []
        for i, key in enumerate(keys):
            base = shared.get(key)
            if base is None:
                base = self.provenance(int(w[i]), int(a[i]))
                base.pop("throughput_low", None)
                base.pop("throughput_high", None)
                shared[key] = base
            if key[0] == Origin.INELIGIBLE or key[0] == Origin.MEASURED:
                out.append(dict(base))
            else:
                out.append({**base, "throughput_low": low[i], "throughput_high": high[i]})
        return out

    def at_low(self) -> ThroughputMatrix:
        """The same matrix with every cell at the low end of its interval (for pessimistic plans)."""
        return replace(self, value=self.low.copy(), high=self.low.copy())

    @property
    def eligible(self) -> NDArray[np.bool_]:
        return self.origin != Origin.INELIGIBLE

    def reason_text(self, w: int, a: int) -> str:
        code = Reason(int(self.reason[w, a]))
        return _REASON_TEXT[code].format(
            detail=float(self.detail[w, a]), need=float(self.domain_need[w])
        )

    def cells(self, limit: int | None = None) -> list[dict[str, object]]:
        """Cells as records for JSON: value, origin and, for ineligible ones, the reason."""
        precisions = list(roofline.BYTES)
        out: list[dict[str, object]] = []
        for w, wname in enumerate(self.workloads):
            for a, aname in enumerate(self.accelerators):
                origin = Origin(int(self.origin[w, a]))
                cell: dict[str, object] = {
                    "workload": wname,
                    "accelerator": aname,
                    "throughput": float(self.value[w, a]),
                    "origin": origin.name.lower(),
                }
                if origin == Origin.INELIGIBLE:
                    cell["reason"] = self.reason_text(w, a)
                else:
                    info = self.provenance(w, a)
                    if info.get("calibration") == "profile":
                        cell["profile"] = info["source"]
                    for key in ("calibration", "factor", "basis", "results", "note"):
                        if key in info:
                            cell[key] = info[key]
                    cell["throughput_low"] = info["throughput_low"]
                    cell["throughput_high"] = info["throughput_high"]
                    cell["gang"] = int(self.gang[w, a])
                    p = int(self.precision[w, a])
                    cell["precision"] = precisions[p] if p >= 0 else None
                out.append(cell)
                if limit is not None and len(out) >= limit:
                    return out
        return out


def _arrays(workloads: Sequence[Workload]) -> dict[str, NDArray[np.float64]]:
    n = len(workloads)
    keys = (
        "params",
        "active",
        "wbytes",
        "seq",
        "prompt",
        "output",
        "batch",
        "batch_cap",
        "layers",
        "kv_dim",
        "emb_gb",
        "lookups",
        "emb_dim",
        "gflops",
        "scaleup",
        "domain_need",
        "max_gang",
        "tier",
        "lat_tok",
        "lat",
    )
    cols = {k: np.empty(n) for k in keys}
    for i, w in enumerate(workloads):
        m = w.model
        cols["params"][i] = m.params_b
        cols["active"][i] = m.active_b
        cols["wbytes"][i] = roofline.BYTES[m.precision]
        cols["seq"][i] = m.seq_len
        # serve: a request's prompt and generated tokens, by default half of seq_len each
        prompt, output = m.prompt_tokens, m.output_tokens
        if prompt is None and output is None:
            prompt = output = max(m.seq_len // 2, 1)
        elif prompt is None:
            prompt = max(m.seq_len - (output or 0), 1)
        elif output is None:
            output = max(m.seq_len - prompt, 1)
        cols["prompt"][i], cols["output"][i] = prompt, output
        cols["batch"][i] = m.batch
        cols["batch_cap"][i] = m.batch if m.batch_given else np.inf
        cols["layers"][i] = m.layers or 0
        cols["kv_dim"][i] = m.kv_dim
        cols["emb_gb"][i] = m.embedding_gb
        cols["lookups"][i] = m.lookups_per_sample
        cols["emb_dim"][i] = m.embedding_dim
        cols["gflops"][i] = m.gflops_per_sample or 0.0
        cols["scaleup"][i] = w.needs.min_scaleup_gbps or 0.0
        cols["domain_need"][i] = w.needs.domain_need
        limit = min(w.needs.max_gang or np.inf, w.max_accelerators or np.inf)
        cols["max_gang"][i] = limit
        cols["tier"][i] = w.effective_tier
        cols["lat_tok"][i] = w.slo.max_token_latency_ms or np.inf
        cols["lat"][i] = w.slo.max_latency_ms or np.inf
    return cols


def _estimate(
    kind: str,
    idx: NDArray[np.intp],
    c: dict[str, NDArray[np.float64]],
    acc: Accelerator,
    prec_of: NDArray[np.int8],
    scope: NDArray[np.float64],
    factor: float = 1.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8], NDArray[np.float64]]:
    """Estimate the cells of workloads `idx` (all of one kind) on `acc`: value, gang, reason, detail.

    `factor` (a stack's or a profile's) scales every rate before any SLO is checked.
    """
    n = len(idx)
    value = np.zeros(n)
    gang = np.ones(n)
    reason = np.zeros(n, dtype=np.int8)
    detail = np.zeros(n)
    precisions = list(roofline.BYTES)
    peak = np.array(
        [acc.tflops.at(precisions[p]) or np.nan if p >= 0 else np.nan for p in prec_of[idx]],
        dtype=float,
    )
    no_rate = ~np.isfinite(peak)
    if kind in ("serve", "recsys", "infer") and acc.bandwidth_tbps is None:
        no_rate[:] = True
    reason[no_rate] = Reason.NO_RATES
    ok = ~no_rate
    if not ok.any():
        return value, gang, reason, detail
    sel = idx[ok]
    matmul = acc.matmul_fraction or roofline.MATMUL_FRACTION
    pk = peak[ok]
    bw = acc.bandwidth_tbps or 0.0
    # roofline functions take one scalar rate; precision is uniform per (kind, accelerator, prec)
    out_v = np.zeros(len(sel))
    out_g = np.ones(len(sel))
    out_r = np.zeros(len(sel), dtype=np.int8)
    out_d = np.zeros(len(sel))
    for p_val in np.unique(pk):
        m = pk == p_val
        s = sel[m]
        rate = float(p_val) * matmul  # achievable dense matmul TFLOP/s at this precision
        chip_bytes = np.array([roofline.BYTES[precisions[p]] for p in prec_of[s]])
        unit = np.maximum(c["domain_need"][s], 1.0)  # gangs of whole needed domains
        if kind == "train":
            v, g, _ = roofline.train(c["active"][s], c["params"][s], rate, acc.memory_gb, factor)
            g = roofline.whole_units(g, unit)
            too_big = g > c["max_gang"][s]
            r = np.where(too_big, Reason.GANG_TOO_LARGE, Reason.OK)
            d = np.where(too_big, g, 0.0)
        elif kind == "serve":
            layers = np.where(
                c["layers"][s] > 0, c["layers"][s], roofline.default_layers(c["params"][s])
            )
            kv_tok = roofline.kv_bytes_per_token(
                layers, c["kv_dim"][s], roofline.kv_element_bytes(chip_bytes)
            )
            shape = roofline.ServeShape(
                active_b=c["active"][s],
                params_b=c["params"][s],
                weight_bytes=chip_bytes,
                kv_tok=kv_tok,
                prompt=c["prompt"][s],
                output=c["output"][s],
                context=np.maximum(c["seq"][s], c["prompt"][s] + c["output"][s]),
                batch_cap=c["batch_cap"][s],
                slo_ms=c["lat_tok"][s],
                scope=scope[s],
                unit=unit,
            )
            est = roofline.serve(shape, rate, bw, acc.memory_gb, factor)
            v, g = est.value, est.gang
            r = np.where(
                ~est.fits,
                Reason.REPLICA_DOES_NOT_FIT,
                np.where(~est.meets_slo, Reason.SLO_MISSED, Reason.OK),
            )
            d = np.where(~est.fits, est.replica_gb, np.where(~est.meets_slo, est.latency_ms, 0.0))
        elif kind == "recsys":
            gfl = np.where(c["gflops"][s] > 0, c["gflops"][s], 2.0 * c["params"][s])
            v = roofline.recsys(c["lookups"][s], c["emb_dim"][s], chip_bytes, gfl, rate, bw)
            v = v * factor
            need_gb = c["emb_gb"][s] + c["params"][s] * chip_bytes
            g = np.maximum(1.0, np.ceil(need_gb / (acc.memory_gb * roofline.SERVE_MEMORY_USABLE)))
            g = roofline.whole_units(g, unit)
            too_big = g > scope[s]
            r = np.where(too_big, Reason.REPLICA_DOES_NOT_FIT, Reason.OK)
            d = np.where(too_big, need_gb, 0.0)
        else:  # infer
            gfl = np.where(c["gflops"][s] > 0, c["gflops"][s], 2.0 * c["active"][s] * c["seq"][s])
            wgb = c["params"][s] * chip_bytes
            v, lat = roofline.infer(gfl, wgb, c["batch"][s], rate, bw)
            v, lat = v * factor, lat / factor
            g = np.maximum(1.0, np.ceil(wgb / (acc.memory_gb * roofline.SERVE_MEMORY_USABLE)))
            g = roofline.whole_units(g, unit)
            too_big = g > scope[s]
            slow = lat > c["lat"][s]
            r = np.where(
                too_big, Reason.REPLICA_DOES_NOT_FIT, np.where(slow, Reason.SLO_MISSED, Reason.OK)
            )
            d = np.where(too_big, wgb, np.where(slow, lat, 0.0))
        out_v[m], out_g[m], out_r[m], out_d[m] = v, g, r, d
    value[ok], gang[ok], reason[ok], detail[ok] = out_v, out_g, out_r, out_d
    return value, gang, reason, detail


def build_matrix(
    scenario: Scenario,
    catalog: Catalog,
    accelerators: Sequence[str] | None = None,
    calibration: CalibrationSet | None = None,
    stacks: StackFactors | None = None,
    columns: WorkloadColumns | None = None,
) -> ThroughputMatrix:
    """Every workload of `scenario` on every accelerator in `accelerators` (default: the catalog).
    `columns`: the scenario's workloads as columns (`LoadedScenario.columns`), which also hold
    the workloads given in bulk.

    With `calibration` (probe profiles), estimated cells of a profiled (accelerator, kind) are
    scaled by its factor and marked `calibrated`; with `stacks` (published results), the other
    estimated cells are scaled by their stack's factor for the kind. Measured cells stay as the
    scenario gives them. Without either, cells are the bare roofline.
    """
    acc_ids = list(accelerators) if accelerators is not None else list(catalog)
    return matrix_for(
        scenario.workloads, scenario.tiers, catalog, acc_ids, calibration, stacks, columns
    )


def estimate_one(workload: Workload, catalog: Catalog, accelerator: str) -> float:
    """The uncalibrated estimate of one workload on one accelerator (0 where ineligible)."""
    return float(matrix_for([workload], {}, catalog, [accelerator]).value[0, 0])


def matrix_for(
    wls: Sequence[Workload],
    tier_rules: Mapping[int, TierPolicy],
    catalog: Catalog,
    acc_ids: list[str],
    calibration: CalibrationSet | None = None,
    stacks: StackFactors | None = None,
    columns: WorkloadColumns | None = None,
) -> ThroughputMatrix:
    """The matrix of any workloads (a scenario's, a procurement file's) under tier rules.
    `columns` (default: made from `wls`) give every row; `wls` are its objects, or none when
    the workloads came in bulk (measured `custom` ones: nothing to estimate, no needs).

    A profile's factor for (accelerator, kind) wins over the stack's: it measured that chip."""
    cal_index = calibration.lookup() if calibration else {}
    cols = columns if columns is not None else WorkloadColumns.of(wls)
    if not cols.objects:
        wls = []
    n_w, n_a = len(cols), len(acc_ids)
    c = _arrays(wls) if wls else {"scaleup": np.zeros(n_w), "domain_need": np.zeros(n_w)}
    kinds = cols.kind
    measured_all = cols.measured(acc_ids)
    value = np.zeros((n_w, n_a))
    origin = np.zeros((n_w, n_a), dtype=np.int8)
    reason = np.zeros((n_w, n_a), dtype=np.int8)
    detail = np.zeros((n_w, n_a))
    gang = np.ones((n_w, n_a))
    precision = np.full((n_w, n_a), -1, dtype=np.int8)
    source = np.full((n_w, n_a), -1, dtype=np.int16)
    stack_ref = np.full((n_w, n_a), -1, dtype=np.int16)
    spread = np.zeros((n_w, n_a))
    precisions = list(roofline.BYTES)
    if wls:
        allowed_prec = np.array([precisions.index(w.model.precision) for w in wls], np.int8)
        # a replica may span the scale-up domain (needs.scaleup_domain true, or a size N)
        domain_ok = np.array([w.needs.scaleup_domain is not False for w in wls], dtype=bool)
        vendor_lists = [w.needs.vendors for w in wls]
    else:  # bulk workloads: the defaults of a workload object
        allowed_prec = np.full(n_w, precisions.index(ModelShape().precision), np.int8)
        domain_ok = np.zeros(n_w, dtype=bool)
        vendor_lists = []
    tiers = cols.tier
    # needs.vendors and needs.accelerators as masks, so the loop below is over accelerators only
    vendor_ok = {
        v: np.array([vs is None or v in vs for vs in vendor_lists], dtype=bool)
        if wls
        else np.ones(n_w, dtype=bool)
        for v in {catalog[a].vendor for a in acc_ids}
    }
    no_vendor = (
        np.array([vs is None for vs in vendor_lists], dtype=bool) if wls else np.ones(n_w, bool)
    )
    acc_rows = np.array([i for i, w in enumerate(wls) if w.needs.accelerators is not None], int)
    acc_sets = [set(wls[i].needs.accelerators or ()) for i in acc_rows]

    for a, acc_id in enumerate(acc_ids):
        acc = catalog[acc_id]
        # policy: needs.vendors, needs.accelerators, tier policy, scale-up bandwidth
        policy = np.zeros(n_w, dtype=np.int8)
        pdetail = np.zeros(n_w)
        tier_ok = np.ones(n_w, dtype=bool)
        for t, rule in tier_rules.items():
            allowed = (
                (rule.vendors is None or acc.vendor in rule.vendors)
                and (rule.accelerators is None or acc.id in rule.accelerators)
                and (rule.min_year is None or (acc.year or 0) >= rule.min_year)
            )
            if not allowed:
                tier_ok &= tiers != t
        policy[~tier_ok] = Reason.TIER_POLICY
        acc_ok = np.array([acc.id in s for s in acc_sets]) if acc_sets else np.ones(0, bool)
        policy[acc_rows[~acc_ok]] = Reason.ACCELERATOR_NOT_ALLOWED
        policy[~vendor_ok.get(acc.vendor, no_vendor)] = Reason.VENDOR_NOT_ALLOWED
        low_bw = (policy == 0) & (c["scaleup"] > (acc.scaleup_gbps or 0.0))
        policy[low_bw] = Reason.SCALEUP_TOO_LOW
        pdetail[low_bw] = acc.scaleup_gbps or 0.0
        small = (policy == 0) & (c["domain_need"] > acc.domain_size)
        policy[small] = Reason.DOMAIN_TOO_SMALL
        pdetail[small] = acc.domain_size
        # precision the chip runs each workload at: fastest it has that the workload allows
        best = [acc.best_precision(p) for p in precisions]
        prec_idx = np.array([precisions.index(b) if b else -1 for b in best], dtype=np.int8)
        prec_of = prec_idx[allowed_prec]
        scope = np.where(domain_ok, acc.domain_size, acc.gpus_per_node).astype(float)

        col_v = np.zeros(n_w)
        col_o = np.zeros(n_w, dtype=np.int8)
        col_r = policy.copy()
        col_d = pdetail
        col_g = np.ones(n_w)
        measured = measured_all[:, a]
        has_m = measured > 0
        # an in-house part runs as its reference part is estimated, times its ratio per kind
        rel = acc.relative
        for kind in ("train", "serve", "recsys", "infer"):
            idx = np.flatnonzero((kinds == kind) & ~has_m & (policy == 0))
            if len(idx) and rel is not None and kind not in rel.performance:
                col_r[idx] = Reason.NOT_RATED
            elif len(idx):
                k = cal_index.get((rel.to if rel is not None else acc_id, kind), -1)
                sf = stacks.get(acc.stack, kind) if stacks is not None else None
                if calibration and k >= 0:
                    factor = calibration.used[k].factor
                elif sf is not None:
                    factor = sf.factor
                else:
                    factor = 1.0
                if rel is not None:
                    factor *= rel.performance[kind]  # type: ignore[index]
                v, g, r, d = _estimate(kind, idx, c, acc, prec_of, scope, factor)
                col_v[idx], col_g[idx], col_r[idx], col_d[idx] = v, g, r, d
                calibrated = k >= 0 or (sf is not None and sf.calibrated)
                done = Origin.CALIBRATED if calibrated else Origin.ESTIMATED
                col_o[idx] = np.where(r == 0, done, Origin.INELIGIBLE)
                source[idx, a] = np.where(r == 0, k, -1)
                if stacks is not None:
                    stack_ref[idx, a] = stacks.index(acc.stack, kind)
                    spread[idx, a] = sf.spread if sf is not None else stacks.uncalibrated_spread
        custom_missing = (kinds == "custom") & ~has_m & (policy == 0)
        col_r[custom_missing] = Reason.NOT_MEASURED
        m_ok = has_m & (policy == 0)
        col_v[m_ok] = measured[m_ok]
        col_o[m_ok] = Origin.MEASURED
        col_v[col_o == Origin.INELIGIBLE] = 0.0
        col_r[col_o != Origin.INELIGIBLE] = Reason.OK
        value[:, a], origin[:, a], reason[:, a], detail[:, a] = col_v, col_o, col_r, col_d
        gang[:, a] = col_g
        precision[:, a] = np.where(col_o != Origin.INELIGIBLE, prec_of, -1)
    estimated = (origin == Origin.ESTIMATED) | (origin == Origin.CALIBRATED)
    spread = np.where(estimated, spread, 0.0)
    return ThroughputMatrix(
        workloads=list(cols.names),
        accelerators=acc_ids,
        value=value,
        origin=origin,
        reason=reason,
        detail=detail,
        gang=gang,
        precision=precision,
        source=source,
        calibrations=calibration.used if calibration else (),
        low=value * np.exp(-spread),
        high=value * np.exp(spread),
        stack_ref=stack_ref,
        stack_factors=stacks.entries if stacks is not None else (),
        domain_need=c["domain_need"],
    )
