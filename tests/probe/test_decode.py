"""llm-decode on the CPU: the fixed-shape step, and both ways of timing it (graph replay, eager).

The CPU cannot capture graphs, so the graph path is checked here through fakes of `Device.capture`:
a capture that works (it runs the step), one that fails, and one whose replays do nothing.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from polyfleet.catalog import load_catalog
from polyfleet.inputs.profile import CaseResult, Profile
from polyfleet.probe import device as device_mod
from polyfleet.probe import models
from polyfleet.probe.context import Context, NoProgress
from polyfleet.probe.decode import CACHE_ALIGN, GRAPH_WARMUP, cache_length, run_llm_decode
from polyfleet.probe.device import Device, GraphCaptureError, discover
from polyfleet.probe.suite import PRESETS

#: The tiny preset cut to two batches of a few tokens: enough to see every path, quickly.
SMALL = dataclasses.replace(PRESETS["tiny"], decode_tokens=3, decode_batches=(1, 3))


def _context(device: Device) -> Context:
    catalog = load_catalog()
    return Context(device, SMALL, catalog["h100-sxm"], device.energy_meter(), NoProgress())


def _by_mode(results: list[CaseResult]) -> dict[tuple[str, str | None], CaseResult]:
    return {(r.case, r.mode): r for r in results}


def test_fixed_shape_step_matches_the_step_over_a_growing_cache():
    torch.manual_seed(0)
    model = models.DecoderLM(dim=64, layers=2, heads=8, kv_heads=2, hidden=96, vocab=50).eval()
    with torch.inference_mode():
        grow, fixed = model.new_cache(3, 40), model.new_cache(3, 40)
        prompt = torch.randint(50, (3, 7))
        tokens = model.step(prompt, grow, 0).argmax(-1, keepdim=True)
        model.step(prompt, fixed, 0)
        at = torch.tensor([7])
        for i in range(4):
            want = model.step(tokens, grow, 7 + i)
            got = model.decode_step(tokens, fixed, at)
            torch.testing.assert_close(got, want)
            at.add_(1)
            tokens = want.argmax(-1, keepdim=True)
        for a, b in zip(grow[0] + grow[1], fixed[0] + fixed[1], strict=True):
            torch.testing.assert_close(a, b)  # the same keys and values at the same positions


def test_the_step_never_writes_past_the_cache():
    model = models.DecoderLM(dim=32, layers=1, heads=4, kv_heads=2, hidden=48, vocab=20).eval()
    with torch.inference_mode():
        cache = model.new_cache(2, 8)
        logits = model.decode_step(torch.zeros(2, 1, dtype=torch.long), cache, torch.tensor([50]))
    assert logits.shape == (2, 20) and bool(torch.isfinite(logits).all())
    assert cache[0][0][:, :, :-1].abs().sum() == 0 and cache[0][0][:, :, -1].abs().sum() > 0


def test_cache_holds_every_step_and_is_aligned():
    for prompt, steps in ((16, 7), (512, 131), (5, 0)):
        length = cache_length(prompt, steps)
        assert length % CACHE_ALIGN == 0
        assert length > prompt + max(steps, GRAPH_WARMUP + 1)


def test_cpu_decode_is_eager_and_says_why_there_is_no_graph(tiny_profile: Profile):
    decode = [r for r in tiny_profile.results if r.workload == "llm-decode"]
    assert [(r.case, r.mode) for r in decode] == [
        (f"batch {b}", "eager") for b in PRESETS["tiny"].decode_batches
    ]
    (skip,) = [s for s in tiny_profile.skipped if s.workload == "llm-decode"]
    assert skip.case == "graph" and "cpu" in skip.reason
    assert tiny_profile.headline("serve") is decode[-1]
    for r in decode:
        assert r.latency is not None and 0 < r.latency.p50_ms <= r.latency.p99_ms


def test_flops_per_token_match_the_hand_count(tiny_profile: Profile):
    """Every weight matrix once per token, plus attention over the whole fixed-length cache,
    whatever attention kernel the device runs."""
    p = PRESETS["tiny"]
    model = models.DecoderLM(
        dim=p.lm_dim,
        layers=p.lm_layers,
        heads=p.lm_heads,
        kv_heads=p.lm_kv_heads,
        hidden=p.lm_hidden,
        vocab=p.lm_vocab,
    )
    norms = (2 * p.lm_layers + 1) * p.lm_dim
    matrices = models.count_params(model) - model.embed.weight.numel() - norms
    length = cache_length(p.lm_prompt, p.warmup + p.decode_tokens)
    attention = 4 * p.lm_layers * p.lm_dim * length  # q·k and p·v, every head
    for r in tiny_profile.results:
        if r.workload == "llm-decode":
            assert r.flop_per_unit == 2 * matrices + attention, r.case


def test_a_captured_graph_is_timed_beside_eager_and_calibrates_serve(
    monkeypatch: pytest.MonkeyPatch,
):
    dev = discover(force_cpu=True)
    captured = []

    def capture(step, *, warmup: int = 3):  # a "graph" whose replay is the step itself
        captured.append(step)
        for _ in range(warmup + 1):
            step()
        return step

    monkeypatch.setattr(dev, "graph_support", lambda: None)
    monkeypatch.setattr(dev, "capture", capture)
    ctx = _context(dev)
    results = run_llm_decode(ctx)
    assert [(r.case, r.mode) for r in results] == [
        ("batch 1", "graph"),
        ("batch 1", "eager"),
        ("batch 3", "graph"),
        ("batch 3", "eager"),
    ]
    assert len(captured) == 2 and ctx.skipped == []  # one capture per batch
    assert [r.calibrates for r in results] == [None, None, "serve", None]
    cases = _by_mode(results)
    for batch in ("batch 1", "batch 3"):
        graph, eager = cases[batch, "graph"], cases[batch, "eager"]
        # the same work is counted for both: only the time differs
        assert graph.flop_per_unit == eager.flop_per_unit
        assert graph.bytes_per_unit == eager.bytes_per_unit and graph.shape == eager.shape
        assert graph.peak_bandwidth_fraction and eager.peak_bandwidth_fraction
        assert graph.latency is not None and eager.latency is not None


def test_a_failed_capture_falls_back_to_eager_with_the_reason(monkeypatch: pytest.MonkeyPatch):
    dev = discover(force_cpu=True)
    calls = []

    def refuse(index: int):  # an op fails inside the capture, then so does the capture's end
        try:
            raise RuntimeError("operation not permitted when stream is capturing\nmore detail")
        except RuntimeError:
            raise RuntimeError("operation failed due to a previous error during capture") from None

    monkeypatch.setattr(dev, "graph_support", lambda: None)
    monkeypatch.setattr(device_mod.torch.cuda, "device", refuse)
    with pytest.raises(GraphCaptureError, match="RuntimeError: operation not permitted") as err:
        dev.capture(lambda: calls.append(1))
    assert "more detail" not in str(err.value) and calls == []
    ctx = _context(dev)
    results = run_llm_decode(ctx)
    assert [(r.case, r.mode) for r in results] == [("batch 1", "eager"), ("batch 3", "eager")]
    assert results[-1].calibrates == "serve"
    assert [(s.workload, s.case) for s in ctx.skipped] == [
        ("llm-decode", "batch 1 graph"),
        ("llm-decode", "batch 3 graph"),
    ]
    assert all("graph capture failed (RuntimeError" in s.reason for s in ctx.skipped)


def test_a_graph_whose_replays_do_not_step_is_discarded(monkeypatch: pytest.MonkeyPatch):
    dev = discover(force_cpu=True)
    monkeypatch.setattr(dev, "graph_support", lambda: None)
    monkeypatch.setattr(dev, "capture", lambda step, *, warmup=3: lambda: None)
    ctx = _context(dev)
    results = run_llm_decode(ctx)
    assert {r.mode for r in results} == {"eager"} and results[-1].calibrates == "serve"
    steps = SMALL.warmup + SMALL.decode_tokens
    assert [s.reason for s in ctx.skipped] == [
        f"graph steps advanced the position 0 times, not {steps}"
    ] * 2


def test_the_cpu_device_refuses_to_capture_and_says_why():
    dev = discover(force_cpu=True)
    assert "cpu" in (dev.graph_support() or "")
    with pytest.raises(GraphCaptureError, match="CUDA or ROCm"):
        dev.capture(lambda: None)


def test_rocm_and_cuda_devices_take_the_graph_path():
    assert Device("cuda", "cuda", 0).graph_support() is None
    assert Device("rocm", "cuda", 0).graph_support() is None
    assert Device("xpu", "xpu", 0).graph_support() is not None
