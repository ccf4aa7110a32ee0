"""Roofline estimates of units of work per second per accelerator, vectorised over workloads.

Each function takes arrays describing many workloads of one kind and the rates of one accelerator.
The model is simple on purpose: it is a prior that published results (`polyfleet calibrate`) and
probe measurements (`polyfleet probe`) correct, by a factor per software stack and workload kind.

Rates. `R` is the chip's achievable dense matmul rate at the precision a workload runs at:
R = peak(precision) · m, where m = MAMF / BF16 peak (the measured maximum achievable matmul rate,
catalog field `mamf_tflops`) or, where none is published, `MATMUL_FRACTION` (an assumption).
`BW` is the memory bandwidth. `EFFICIENCY` says what fraction of R (or BW) each regime reaches.

  train   tokens/s = R · eff_train / (6 · active)            (forward + backward FLOPs per token)
          memory: params · 16 B (bf16 weights and grads, fp32 master and Adam moments) sharded
          over the gang: gang = ceil(state / (0.8 · memory)); activations are not counted.
  serve   a replica of g accelerators holds the weights W = params · bytes and a KV cache
          (kv = 2 · layers · kv_dim · bytes per token, FP8 at the least); everything +10 %, within
          90 % of each accelerator's memory. g is the smallest power of two with room for one
          sequence at its longest, S = max(seq_len, prompt + output) tokens, at most a node (or
          domain); a workload that needs a scale-up domain of N runs replicas of whole domains:
          g is then rounded up to a multiple of N (the replica's memory and bandwidth grow with
          it). The cache is paged: a sequence holds only the tokens it has, on average over
          its life C = prompt + output/2, so the batch (sequences in flight) memory allows is
              B_mem = floor((g · 0.9 · memory − 1.1 · W) / (1.1 · C · kv)),
          capped by the workload's `batch` where it gives one.
          prefill, per request, compute-bound:  t_pf = 2 · active · prompt / (g · R · eff_prefill)
          decode step at batch B: the matmuls take the larger of reading the weights and their
          compute; attention then reads every sequence's cache, a kernel of its own that no matmul
          hides; plus an overhead:
              t_w(B)    = min(params, active · B) · bytes / (g · BW · eff_decode_bw)
              t_comp(B) = 2 · active · B / (g · R · eff_decode_compute)
              t_kv(B)   = B · C · kv / (g · BW · eff_decode_bw)
              step(B)   = max(t_w, t_comp) + t_kv + STEP_OVERHEAD
          each step also carries the prefill of the B / output requests that its tokens finish, so
          a sequence sees one token every  l(B) = step(B) + B · t_pf / output  (the token latency),
          and offline throughput per accelerator = B / (g · l(B)).
          interactive serving, with a token-latency SLO: the largest B <= B_max with l(B) <= SLO
          (l grows with B and throughput never falls with it, so the largest is the best).
  recsys  per sample: embedding bytes = lookups · dim · bytes, MLP FLOPs = gflops_per_sample
          (default 2 · params); samples/s = 1 / max(bytes / (BW · eff), flops / (R · eff)).
          memory: embedding tables + weights over the accelerators of one node (or domain).
  infer   per sample: FLOPs = gflops_per_sample (default 2 · active · seq_len), weights read once
          per batch; samples/s = 1 / max(flops / (R · eff), weights / batch / (BW · eff));
          latency = batch / samples/s.

A factor f (a stack's, or a probe profile's) multiplies every rate: throughput × f, every time
(the serve step's overhead included) ÷ f, before any SLO is checked.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]

#: Fraction of the achievable rate (R, or the memory bandwidth) each regime reaches. Priors only:
#: published results calibrate them per stack and kind. Sources: MLPerf-scale training reaches
#: 35-45 % of dense peak, about 0.55 of R on a chip whose matmuls reach 0.75 of peak; graph-replayed
#: decode reached 69 % of an H100's bandwidth (BENCHMARKS.md); large prefill GEMMs run near R.
EFFICIENCY: dict[str, float] = {
    "train": 0.55,
    "prefill": 0.70,
    "decode_bandwidth": 0.65,
    "decode_compute": 0.60,
    "recsys_bandwidth": 0.35,
    "recsys_compute": 0.45,
    "infer_compute": 0.60,
    "infer_bandwidth": 0.60,
}
#: MAMF / BF16 peak where a chip has no published MAMF. Assumption: about the middle of the
#: published ratios (AMD MI300X 0.51 ... NVIDIA H100 0.80; reference/accelerators.md §1).
MATMUL_FRACTION = 0.70
#: Per decode step: scheduling, sampling and the gaps between kernels. Assumption: a graph-replayed
#: step left 80 us idle on an H100 (BENCHMARKS.md); serving engines add batching and sampling.
STEP_OVERHEAD_S = 1.0e-3
#: Bytes per training parameter: bf16 weights (2) + bf16 grads (2) + fp32 master, m, v (12).
TRAIN_STATE_BYTES = 16.0
TRAIN_MEMORY_USABLE = 0.8
SERVE_MEMORY_USABLE = 0.9
SERVE_OVERHEAD = 1.10
BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5}
_MAX_BATCH = 1_000_000.0  # the range of a scenario's `batch`
_BISECTIONS = int(np.ceil(np.log2(_MAX_BATCH))) + 1


def default_layers(params_b: F) -> F:
    """Transformer depth from size when not given: 19 · params_b^(1/3) (70B → 78, 405B → 140)."""
    return np.maximum(8.0, np.round(19.0 * np.cbrt(np.maximum(params_b, 1e-3))))


def kv_bytes_per_token(layers: F, kv_dim: F, kv_bytes: F) -> F:
    """Keys and values of every layer: 2 · layers · kv_dim · bytes (kv_dim = kv heads · head dim)."""
    return 2.0 * layers * kv_dim * kv_bytes


def kv_element_bytes(weight_bytes: F) -> F:
    """The KV cache runs at the weights' precision, but never below FP8 nor above BF16: serving
    stacks quantize the cache to FP8 at most (NVIDIA's MLPerf Llama 2 70B notes, v4.1 and v5.0:
    FP8 on every part; on FP4 parts only "selected" matmul layers go to FP4), so FP4 weights
    still read an FP8 cache."""
    return np.clip(weight_bytes, 1.0, 2.0)


def next_pow2(n: F) -> F:
    return np.exp2(np.ceil(np.log2(np.maximum(n, 1.0))))


def whole_units(gang: F, unit: F | float) -> F:
    """A gang rounded up to a whole number of `unit`s (a needed scale-up domain; 1: as is)."""
    unit = np.maximum(unit, 1.0)
    return np.ceil(gang / unit) * unit


def train(
    active_b: F, params_b: F, rate_tflops: float, memory_gb: float, factor: float = 1.0
) -> tuple[F, F, F]:
    flops_per_token = 6.0 * active_b * 1e9
    tput = rate_tflops * 1e12 * EFFICIENCY["train"] * factor / flops_per_token
    gang = np.ceil(params_b * 1e9 * TRAIN_STATE_BYTES / (memory_gb * 1e9 * TRAIN_MEMORY_USABLE))
    gang = np.maximum(gang, 1.0)
    return tput, gang, np.full_like(tput, np.nan)


class ServeShape(NamedTuple):
    """What `serve` needs of each workload (arrays of equal length)."""

    active_b: F
    params_b: F
    weight_bytes: F  # per parameter, at the precision the chip runs
    kv_tok: F  # KV-cache bytes per token
    prompt: F  # mean prompt tokens per request
    output: F  # mean tokens generated per request
    context: F  # the most tokens one sequence may hold (a replica must have room for one)
    batch_cap: F  # most sequences a replica runs (inf: memory decides)
    slo_ms: F  # token-latency SLO (inf: offline)
    scope: F  # most accelerators a replica may span (a node, or the scale-up domain)
    unit: F | float = 1.0  # a replica is a whole number of these (a needed domain of N)


class ServeEstimate(NamedTuple):
    value: F  # tokens/s per accelerator (0 where the replica does not fit)
    gang: F  # accelerators per replica
    latency_ms: F  # token latency at the chosen batch (at batch 1 where the SLO is missed)
    replica_gb: F  # memory a replica with one sequence needs
    batch: F  # sequences in flight per replica (0 where none fits or the SLO is missed)
    fits: NDArray[np.bool_]
    meets_slo: NDArray[np.bool_]


def serve(
    shape: ServeShape,
    rate_tflops: float,
    bandwidth_tbps: float,
    memory_gb: float,
    factor: float = 1.0,
) -> ServeEstimate:
    """Offline or SLO-bound serving throughput per accelerator (formulas in the module docstring)."""
    s = shape
    w_bytes = s.params_b * 1e9 * s.weight_bytes
    one_seq = (w_bytes + s.context * s.kv_tok) * SERVE_OVERHEAD
    replica_gb = one_seq / 1e9
    usable = memory_gb * 1e9 * SERVE_MEMORY_USABLE
    g = whole_units(next_pow2(np.ceil(one_seq / usable)), s.unit)
    fits = g <= s.scope
    held = (s.prompt + s.output / 2.0) * s.kv_tok  # a sequence's cache, on average over its life
    b_mem = np.floor((g * usable - w_bytes * SERVE_OVERHEAD) / (held * SERVE_OVERHEAD))
    b_max = np.clip(np.minimum(b_mem, s.batch_cap), 1.0, _MAX_BATCH)
    rate = rate_tflops * 1e12 * factor
    bw = g * bandwidth_tbps * 1e12 * factor * EFFICIENCY["decode_bandwidth"]
    t_pf = 2.0 * s.active_b * 1e9 * s.prompt / (g * rate * EFFICIENCY["prefill"])

    def latency(b: F) -> F:
        t_w = np.minimum(s.params_b, s.active_b * b) * 1e9 * s.weight_bytes / bw
        t_comp = 2.0 * s.active_b * 1e9 * b / (g * rate * EFFICIENCY["decode_compute"])
        step = np.maximum(t_w, t_comp) + b * held / bw + STEP_OVERHEAD_S / factor
        return step + b * t_pf / s.output

    slo_s = s.slo_ms / 1e3
    meets = latency(np.ones_like(b_max)) <= slo_s
    # the largest whole batch in [1, B_max] with l(b) <= SLO, by bisection (l grows with b)
    lo, hi = np.ones_like(b_max), b_max
    for _ in range(_BISECTIONS):
        mid = np.floor((lo + hi + 1.0) / 2.0)
        ok = latency(mid) <= slo_s
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid - 1.0)
    batch = np.where(fits & meets, lo, 0.0)
    lat = latency(np.maximum(batch, 1.0))
    value = np.where(batch > 0, batch / (g * lat), 0.0)
    return ServeEstimate(value, g, lat * 1e3, replica_gb, batch, fits, meets)


def recsys(
    lookups: F, dim: F, emb_bytes: F, gflops: F, rate_tflops: float, bandwidth_tbps: float
) -> F:
    t_bw = lookups * dim * emb_bytes / (bandwidth_tbps * 1e12 * EFFICIENCY["recsys_bandwidth"])
    t_fl = gflops * 1e9 / (rate_tflops * 1e12 * EFFICIENCY["recsys_compute"])
    return 1.0 / np.maximum(np.maximum(t_bw, t_fl), 1e-15)


def infer(
    gflops: F, weight_gb: F, batch: F, rate_tflops: float, bandwidth_tbps: float
) -> tuple[F, F]:
    t_fl = gflops * 1e9 / (rate_tflops * 1e12 * EFFICIENCY["infer_compute"])
    t_bw = weight_gb * 1e9 / batch / (bandwidth_tbps * 1e12 * EFFICIENCY["infer_bandwidth"])
    per_sample = np.maximum(np.maximum(t_fl, t_bw), 1e-15)
    return 1.0 / per_sample, batch * per_sample * 1e3
