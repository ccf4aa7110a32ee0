"""Roofline estimates of units of work per second per accelerator, vectorised over workloads.

Each function takes arrays describing many workloads of one kind and the rates of one accelerator,
and returns (throughput per accelerator, accelerators per replica or gang, latency in ms). The rates
are dense peaks; `EFFICIENCY` turns them into what real software reaches. The model is simple on
purpose: it is a prior that probe measurements calibrate (see `polyfleet probe`).

  train   tokens/s = peak_flops · eff / (6 · active_params)                    (fwd + bwd)
          memory: params · 16 B (bf16 weights and grads, fp32 master and Adam moments) sharded
          over the gang: gang = ceil(state / (0.8 · memory)); activations are not counted.
  serve   one decode step of a replica of g accelerators produces `batch` tokens and reads the
          weights it touches (min(params, active · batch)) plus the KV cache of every sequence
          (batch · seq_len/2 · kv_bytes_per_token), and does 2 · active · batch FLOPs:
          step = max(bytes / (g · bw · eff_bw), flops / (g · peak · eff_compute));
          tokens/s per accelerator = batch / step / g; token latency = step.
          memory: weights + batch · seq_len · kv_bytes_per_token, +10 %, over 90 % of each
          accelerator's memory; g is the next power of two, at most a node (or the scale-up domain).
  recsys  per sample: embedding bytes = lookups · dim · bytes, MLP FLOPs = gflops_per_sample
          (default 2 · params); samples/s = 1 / max(bytes / (bw · eff), flops / (peak · eff)).
          memory: embedding tables + weights over the accelerators of one node (or domain).
  infer   per sample: FLOPs = gflops_per_sample (default 2 · active · seq_len), weights read once
          per batch; samples/s = 1 / max(flops / (peak · eff), weights / batch / (bw · eff));
          latency = batch / samples/s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]

#: Fraction of the dense peak that well-tuned software reaches, by regime. Sources: MLPerf training
#: MFU of 35-45 % for large LLMs; decode kernels reach 60-80 % of HBM bandwidth; ML-ENG's MAMF shows
#: 67-80 % of peak for large BF16 matmuls. Override per scenario by calibrating from probe profiles.
EFFICIENCY: dict[str, float] = {
    "train": 0.40,
    "decode_bandwidth": 0.65,
    "decode_compute": 0.50,
    "recsys_bandwidth": 0.35,
    "recsys_compute": 0.35,
    "infer_compute": 0.45,
    "infer_bandwidth": 0.60,
}
#: Bytes per training parameter: bf16 weights (2) + bf16 grads (2) + fp32 master, m, v (12).
TRAIN_STATE_BYTES = 16.0
TRAIN_MEMORY_USABLE = 0.8
SERVE_MEMORY_USABLE = 0.9
SERVE_OVERHEAD = 1.10
BYTES = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5}


def default_layers(params_b: F) -> F:
    """Transformer depth from size when not given: 19 · params_b^(1/3) (70B → 78, 405B → 140)."""
    return np.maximum(8.0, np.round(19.0 * np.cbrt(np.maximum(params_b, 1e-3))))


def kv_bytes_per_token(layers: F, kv_dim: F, kv_bytes: F) -> F:
    """Keys and values of every layer: 2 · layers · kv_dim · bytes (kv_dim = kv heads · head dim)."""
    return 2.0 * layers * kv_dim * kv_bytes


def next_pow2(n: F) -> F:
    return np.exp2(np.ceil(np.log2(np.maximum(n, 1.0))))


def train(active_b: F, params_b: F, peak_tflops: float, memory_gb: float) -> tuple[F, F, F]:
    flops_per_token = 6.0 * active_b * 1e9
    tput = peak_tflops * 1e12 * EFFICIENCY["train"] / flops_per_token
    gang = np.ceil(params_b * 1e9 * TRAIN_STATE_BYTES / (memory_gb * 1e9 * TRAIN_MEMORY_USABLE))
    gang = np.maximum(gang, 1.0)
    return tput, gang, np.full_like(tput, np.nan)


def serve(
    active_b: F,
    params_b: F,
    weight_bytes: F,
    kv_tok: F,
    seq_len: F,
    batch: F,
    peak_tflops: float,
    bandwidth_tbps: float,
    memory_gb: float,
) -> tuple[F, F, F, F]:
    """Returns throughput, replica size g, token latency (ms) and replica memory (GB)."""
    kv_total = batch * seq_len * kv_tok
    replica_gb = (params_b * 1e9 * weight_bytes + kv_total) * SERVE_OVERHEAD / 1e9
    g = next_pow2(np.ceil(replica_gb / (memory_gb * SERVE_MEMORY_USABLE)))
    weights_read = np.minimum(params_b, active_b * batch) * 1e9 * weight_bytes
    step_bytes = weights_read + batch * (seq_len / 2.0) * kv_tok
    step_flops = 2.0 * active_b * 1e9 * batch
    t_bw = step_bytes / (g * bandwidth_tbps * 1e12 * EFFICIENCY["decode_bandwidth"])
    t_fl = step_flops / (g * peak_tflops * 1e12 * EFFICIENCY["decode_compute"])
    step = np.maximum(t_bw, t_fl)
    return batch / step / g, g, step * 1e3, replica_gb


def recsys(
    lookups: F, dim: F, emb_bytes: F, gflops: F, peak_tflops: float, bandwidth_tbps: float
) -> F:
    t_bw = lookups * dim * emb_bytes / (bandwidth_tbps * 1e12 * EFFICIENCY["recsys_bandwidth"])
    t_fl = gflops * 1e9 / (peak_tflops * 1e12 * EFFICIENCY["recsys_compute"])
    return 1.0 / np.maximum(np.maximum(t_bw, t_fl), 1e-15)


def infer(
    gflops: F, weight_gb: F, batch: F, peak_tflops: float, bandwidth_tbps: float
) -> tuple[F, F]:
    t_fl = gflops * 1e9 / (peak_tflops * 1e12 * EFFICIENCY["infer_compute"])
    t_bw = weight_gb * 1e9 / batch / (bandwidth_tbps * 1e12 * EFFICIENCY["infer_bandwidth"])
    per_sample = np.maximum(np.maximum(t_fl, t_bw), 1e-15)
    return 1.0 / per_sample, batch * per_sample * 1e3
