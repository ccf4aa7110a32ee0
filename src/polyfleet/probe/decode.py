"""The llm-decode workload: one new token per sequence per step, replayed from a graph and eager.

Run eagerly, a decode step is a few hundred small kernels, each launched from Python; on a model
that a data-centre GPU reads in a millisecond, the launches and not the chip set the pace (an H200
reached 8 % of its memory bandwidth on a 0.9B model at batch 64). So the step is also captured as
a device graph (`Device.capture`) and replayed, which launches all its kernels in one call. The step
has fixed shapes and keeps its position in a device tensor, so one capture serves every token.
Both ways run the same kernels over the same cache positions, and both are reported; the graph
figure calibrates `serve` where there is one, the eager one where capture is not possible (the
CPU, MPS, XPU) or failed, with the reason in the profile's `skipped`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from polyfleet.inputs.profile import CaseResult, Skipped
from polyfleet.probe import models
from polyfleet.probe.context import Context, case_result
from polyfleet.probe.device import GraphCaptureError
from polyfleet.probe.timing import Timed, count_flops

__all__ = [
    "CACHE_ALIGN",
    "DECODE_ATTENTION",
    "GRAPH_WARMUP",
    "Decoder",
    "build_model",
    "cache_length",
    "prefill",
    "run_llm_decode",
]

#: Attention kernels for decoding. cuDNN's builds a plan per shape: when the key length grew by one
#: every step it planned at every token (43 ms a step on an H200, against 1.1 ms with these). The
#: step now has fixed shapes, but a plan built inside a graph capture is a risk with no gain. With
#: the step's mask, flash attention declines and the memory-efficient kernel runs; the prefill
#: (causal, no mask) takes flash attention; the math kernel is the last resort.
DECODE_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
#: Eager calls before a capture, on the capture's stream, so lazily made handles and workspaces
#: exist before the graph is recorded (what the CUDA graph rules ask for).
GRAPH_WARMUP = 3
#: The cache's length is rounded up to a multiple of this (the extra positions are masked), so that
#: the attention kernels see rows of aligned length.
CACHE_ALIGN = 16
WORKLOAD = "llm-decode"


@dataclass
class Decoder:
    """One batch's decode state, all on the device: cache, next tokens and write position."""

    model: models.DecoderLM
    cache: tuple[list[torch.Tensor], list[torch.Tensor]]
    tokens: torch.Tensor  # (batch, 1) long: the token each sequence feeds next
    at: torch.Tensor  # (1,) long: the cache position the next step writes
    start: int  # the first position after the prompt

    def step(self) -> None:
        """One token for every sequence: the same kernels whether run eagerly or replayed."""
        logits = self.model.decode_step(self.tokens, self.cache, self.at)
        self.tokens.copy_(logits.argmax(-1, keepdim=True))
        self.at.add_(1)

    def rewind(self) -> None:
        """Back to the first position after the prompt, so every timing sees the same lengths."""
        self.at.fill_(self.start)

    def steps_taken(self) -> int:
        return int(self.at.item()) - self.start


def build_model(ctx: Context) -> models.DecoderLM:
    """The model, made directly in 16 bits on the device (no 32-bit copy of a large model)."""
    p = ctx.preset
    default = torch.get_default_dtype()
    torch.set_default_dtype(ctx.half)
    try:
        with ctx.dev:
            model = models.DecoderLM(
                dim=p.lm_dim,
                layers=p.lm_layers,
                heads=p.lm_heads,
                kv_heads=p.lm_kv_heads,
                hidden=p.lm_hidden,
                vocab=p.lm_vocab,
            )
    finally:
        torch.set_default_dtype(default)
    return model.eval()


def cache_length(prompt: int, steps: int) -> int:
    """Positions the cache holds: the prompt, every step any timing or capture takes, one spare,
    rounded up to `CACHE_ALIGN`."""
    needed = prompt + max(steps, GRAPH_WARMUP + 1) + 1
    return -(-needed // CACHE_ALIGN) * CACHE_ALIGN


def prefill(ctx: Context, model: models.DecoderLM, batch: int, length: int) -> Decoder:
    """A random prompt through the model (untimed), leaving the state for the first new token."""
    p = ctx.preset
    with ctx.dev:
        cache = model.new_cache(batch, length)
        prompt = torch.randint(p.lm_vocab, (batch, p.lm_prompt))
        at = torch.full((1,), p.lm_prompt, dtype=torch.long)
    tokens = model.step(prompt, cache, 0).argmax(-1, keepdim=True)
    return Decoder(model, cache, tokens, at, p.lm_prompt)


def _graph_replay(ctx: Context, dec: Decoder, case: str) -> Callable[[], None] | None:
    """The step captured as a graph, or None with the reason recorded in the profile."""
    try:
        return ctx.device.capture(dec.step, warmup=GRAPH_WARMUP)
    except GraphCaptureError as exc:
        ctx.skipped.append(Skipped(workload=WORKLOAD, case=f"{case} graph", reason=str(exc)))
        return None


def _time_mode(ctx: Context, dec: Decoder, mode: str, case: str) -> Timed | None:
    """Time `decode_tokens` steps from the end of the prompt, eagerly or replayed from a graph
    captured for the purpose; None, with the reason recorded, where there is no figure."""
    p = ctx.preset
    dec.rewind()
    ctx.device.reset_peak_memory()  # a graph's memory pool counts in its peak
    run = dec.step if mode == "eager" else _graph_replay(ctx, dec, case)
    if run is None:
        return None
    dec.rewind()
    timed = ctx.time(run, repeats=p.decode_tokens)
    taken, steps = dec.steps_taken(), p.warmup + p.decode_tokens
    if taken != steps:  # a replay that did not run the step would have timed nothing
        reason = f"{mode} steps advanced the position {taken} times, not {steps}"
        ctx.skipped.append(Skipped(workload=WORKLOAD, case=f"{case} {mode}", reason=reason))
        return None
    return timed


def run_llm_decode(ctx: Context) -> list[CaseResult]:
    p = ctx.preset
    model = build_model(ctx)
    half = ctx.half
    elem = half.itemsize
    params = models.count_params(model)
    embed_params = model.embed.weight.numel()
    head_dim = p.lm_dim // p.lm_heads
    steps = p.warmup + p.decode_tokens
    length = cache_length(p.lm_prompt, steps)
    no_graph = ctx.device.graph_support()
    if no_graph is not None:
        ctx.skipped.append(Skipped(workload=WORKLOAD, case="graph", reason=no_graph))
    out: list[CaseResult] = []
    for batch in p.decode_batches:
        case = f"batch {batch}"
        # bytes a step must read: every weight but the embedding table (a row per sequence), and
        # the keys and values up to the position, at its mean over the timed steps
        mean_ctx = p.lm_prompt + steps / 2.0
        kv_read = 2.0 * p.lm_layers * batch * p.lm_kv_heads * head_dim * mean_ctx * elem
        weights = (params - embed_params) * elem + batch * p.lm_dim * elem
        shape = {
            "params_b": params / 1e9,
            "seq_len": round(2 * mean_ctx),  # the estimate reads half of seq_len on average
            "batch": batch,
            "layers": p.lm_layers,
            "kv_dim": p.lm_kv_heads * head_dim,
            "precision": "bf16",
        }
        timed_cases: list[CaseResult] = []
        with torch.inference_mode(), sdpa_kernel(DECODE_ATTENTION):
            dec = prefill(ctx, model, batch, length)
            # the math kernel's products are what the FLOP counter sees on every device
            with sdpa_kernel([SDPBackend.MATH]):
                flops = count_flops(dec.step)
            # eager first: its steps also warm up whatever the capture needs made beforehand
            for mode in ("eager", "graph") if no_graph is None else ("eager",):
                timed = _time_mode(ctx, dec, mode, case)
                if timed is None:
                    continue
                timed_cases.append(
                    case_result(
                        ctx,
                        WORKLOAD,
                        case,
                        unit="tokens",
                        units_per_call=batch,
                        timed=timed,
                        flop_per_unit=flops / batch,
                        bytes_per_unit=(weights + kv_read) / batch,
                        latency=True,
                        shape=shape,
                        mode=mode,
                    )
                )
        del dec
        ctx.device.empty_cache()
        timed_cases.sort(key=lambda r: r.mode != "graph")  # the graph figure first
        if batch == max(p.decode_batches) and timed_cases:
            # the graph figure where there is one: it is the chip's, not Python's launches
            timed_cases[0] = timed_cases[0].model_copy(update={"calibrates": "serve"})
        out.extend(timed_cases)
    return out
