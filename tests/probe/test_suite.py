"""The suite on the CPU at the tiny preset: every workload runs and reports usable figures."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from polyfleet.catalog import load_catalog
from polyfleet.errors import InputError
from polyfleet.inputs.profile import Profile
from polyfleet.probe.device import discover
from polyfleet.probe.suite import PRESETS, WORKLOADS, run_suite
from polyfleet.probe.timing import count_flops, time_calls


def test_every_workload_reports_positive_finite_figures(tiny_profile: Profile):
    assert {r.workload for r in tiny_profile.results} == set(WORKLOADS)
    for r in tiny_profile.results:
        assert r.units_per_s > 0 and math.isfinite(r.units_per_s), r
        assert r.repeats >= PRESETS["tiny"].repeats or r.latency is not None
        for figure in (r.tflops, r.gbps, r.flop_per_unit, r.bytes_per_unit):
            assert figure is None or (figure > 0 and math.isfinite(figure)), r
        if r.latency is not None:
            assert 0 < r.latency.p50_ms <= r.latency.p99_ms
    # the models' rates come with both a FLOP and a byte model
    for r in tiny_profile.results:
        if r.workload not in ("gemm", "copy"):
            assert r.tflops and r.gbps, r


def test_each_kind_has_exactly_one_calibrating_case_with_a_shape(tiny_profile: Profile):
    kinds = [r.calibrates for r in tiny_profile.results if r.calibrates]
    assert sorted(kinds) == ["infer", "recsys", "serve", "train"]
    for kind in kinds:
        case = tiny_profile.headline(kind)
        assert case is not None and case.shape and case.shape["params_b"] > 0


def test_decode_and_small_infer_report_latency_percentiles(tiny_profile: Profile):
    decode = [r for r in tiny_profile.results if r.workload == "llm-decode"]
    assert [r.case for r in decode] == [f"batch {b}" for b in PRESETS["tiny"].decode_batches]
    assert all(r.latency is not None for r in decode)
    # a bigger batch shares each step's weight reads among more tokens
    assert decode[-1].bytes_per_unit < decode[0].bytes_per_unit
    latency = next(r for r in tiny_profile.results if r.case.endswith("(latency)"))
    assert latency.latency is not None and latency.repeats == PRESETS["tiny"].enc_latency_calls


def test_cpu_profile_is_unmatched_and_says_why_energy_is_missing(tiny_profile: Profile):
    assert tiny_profile.device.kind == "cpu"
    assert tiny_profile.device.accelerator is None
    assert tiny_profile.device.matched_by == "none"
    assert tiny_profile.energy.source is None and tiny_profile.energy.note
    assert all(r.peak_compute_fraction is None for r in tiny_profile.results)
    assert any(s.case == "fp8" for s in tiny_profile.skipped)


def test_as_gives_the_catalog_id_and_peak_fractions():
    profile = run_suite(
        discover(force_cpu=True), load_catalog(), preset="tiny", only=["gemm"], accelerator="h100"
    )
    assert profile.device.accelerator == "h100-sxm" and profile.device.matched_by == "user"
    bf16 = next(r for r in profile.results if r.case == "bf16")
    assert bf16.peak_compute_fraction == pytest.approx(bf16.tflops / 989.0)
    fp32 = next(r for r in profile.results if r.case == "fp32")
    assert fp32.peak_compute_fraction is None  # the catalog has no fp32 rate


def test_only_runs_the_named_workloads_in_order():
    profile = run_suite(discover(force_cpu=True), load_catalog(), only=["copy", "gemm"])
    assert profile.results[0].workload == "copy"
    assert {r.workload for r in profile.results} == {"copy", "gemm"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"only": ["gemm", "bogus"]}, "--only"), ({"preset": "huge"}, "--preset")],
)
def test_unknown_workload_or_preset_is_refused_before_running(kwargs, field):
    with pytest.raises(InputError) as err:
        run_suite(discover(force_cpu=True), load_catalog(), **kwargs)
    assert err.value.field == field


def test_gemm_flops_match_the_hand_count():
    a, b = torch.randn(48, 64), torch.randn(64, 80)
    assert count_flops(lambda: a @ b) == 2 * 48 * 64 * 80


def test_mlp_training_flops_match_the_hand_count():
    batch, d_in, d_hid, d_out = 16, 64, 128, 32
    mlp = nn.Sequential(nn.Linear(d_in, d_hid), nn.ReLU(), nn.Linear(d_hid, d_out))
    x = torch.randn(batch, d_in)
    f1, f2 = 2 * batch * d_in * d_hid, 2 * batch * d_hid * d_out
    assert count_flops(lambda: mlp(x)) == f1 + f2
    # backward: layer 2 needs grad of input and of weight, layer 1 only of weight (x has no grad)
    assert count_flops(lambda: mlp(x).sum().backward()) == (f1 + f2) + (2 * f2 + f1)


def test_time_calls_runs_warmup_then_repeats_of_inner_calls():
    calls, syncs = [], []
    joules = iter([10.0, 14.0])
    timed = time_calls(
        lambda: calls.append(1),
        lambda: syncs.append(1),
        warmup=2,
        repeats=3,
        inner=4,
        energy=lambda: next(joules),
    )
    assert len(calls) == 2 + 3 * 4
    assert len(syncs) == 1 + 3  # after warm-up, then after each repeat
    assert timed.per_call.shape == (3,) and (timed.per_call >= 0).all()
    assert timed.energy_j == pytest.approx(4.0) and timed.calls == 12
