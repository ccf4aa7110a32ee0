"""The roofline estimates on cases worked out by hand (numbers restated, not recomputed by the code)."""

import numpy as np
import pytest

from polyfleet.perfmodel import Origin, Reason, build_matrix, roofline

from ..conftest import load


def _wl(kind, model, unit="tokens/s", **extra):
    return {
        "name": "w",
        "kind": kind,
        "model": model,
        "demand": {"value": 1, "unit": unit},
        **extra,
    }


def _one(base, workload, accelerators):
    base["workloads"] = [workload]
    loaded = load(base)
    return build_matrix(loaded.scenario, loaded.catalog, accelerators)


def test_training_tokens_per_second_and_gang(base):
    m = _one(
        base,
        _wl("train", {"params_b": 10}),
        ["h100-sxm"],
    )
    # the H100's matmuls reach its MAMF, 794 TFLOP/s: 794e12 * 0.55 / (6 * 10e9)
    assert m.value[0, 0] == pytest.approx(7278.333, rel=1e-6)
    # 10e9 params * 16 B = 160 GB over 80 GB * 0.8 usable = 2.5 -> 3
    assert m.gang[0, 0] == 3
    assert m.origin[0, 0] == Origin.ESTIMATED


def test_training_uses_fp8_where_allowed_and_present(base):
    m = _one(
        base,
        _wl("train", {"params_b": 10, "precision": "fp8"}),
        ["h100-sxm", "a100-80gb"],
    )
    # H100: fp8 peak x its MAMF / bf16 peak; A100 (no fp8, no published MAMF): bf16 x 0.70
    assert m.value[0, 0] == pytest.approx(1979e12 * (794 / 989) * 0.55 / 6e10)
    assert m.value[0, 1] == pytest.approx(312e12 * 0.70 * 0.55 / 6e10)


def test_training_gang_above_limit_is_ineligible(base):
    m = _one(
        base,
        _wl("train", {"params_b": 400}, needs={"max_gang": 64}),
        ["h100-sxm", "mi355x"],
    )
    # 400e9 * 16 B = 6.4 TB; H100: 6.4e12 / 64e9 = 100 > 64; MI355X: 6.4e12 / 230.4e9 = 28
    assert m.origin[0, 0] == Origin.INELIGIBLE
    assert m.reason[0, 0] == Reason.GANG_TOO_LARGE
    assert "gang of 100" in m.reason_text(0, 0)
    assert m.origin[0, 1] == Origin.ESTIMATED and m.gang[0, 1] == 28


# -- serving, on a chip of round numbers: R = 1000 x 0.7 = 700 TFLOP/s, 1 TB/s, 100 GB ------------
# A 10B bf16 model (W = 20 GB), 10 layers x kv_dim 1000 in bf16: kv = 2 * 10 * 1000 * 2 = 40 kB/token.
CHIP = {"rate": 700.0, "bw": 1.0, "mem": 100.0}
KV = 40_000.0
W = 20e9


def _serve(prompt, output, context, batch_cap=np.inf, slo_ms=np.inf, n=1, factor=1.0):
    shape = roofline.ServeShape(
        active_b=np.full(n, 10.0),
        params_b=np.full(n, 10.0),
        weight_bytes=np.full(n, 2.0),
        kv_tok=np.full(n, KV),
        prompt=np.asarray(prompt, float) * np.ones(n),
        output=np.asarray(output, float) * np.ones(n),
        context=np.asarray(context, float) * np.ones(n),
        batch_cap=np.asarray(batch_cap, float) * np.ones(n),
        slo_ms=np.asarray(slo_ms, float) * np.ones(n),
        scope=np.full(n, 8.0),
    )
    return roofline.serve(shape, CHIP["rate"], CHIP["bw"], CHIP["mem"], factor)


def test_serve_compute_bound_prefill():
    # one request at a time, 10,000 prompt tokens, one token out: prefill is the time
    est = _serve(prompt=10_000, output=1, context=10_001, batch_cap=1)
    t_pf = 2 * 10e9 * 10_000 / (700e12 * 0.70)  # 0.408 s: compute-bound, at R
    t_mem = (W + 1 * 10_000.5 * KV) / (1e12 * 0.65)  # 31.4 ms: one weight read per step
    t_comp = 2 * 10e9 * 1 / (700e12 * 0.60)  # 48 us
    step = max(t_mem, t_comp) + 1e-3
    assert est.batch[0] == 1 and est.gang[0] == 1
    assert est.value[0] == pytest.approx(1 / (step + t_pf), rel=1e-12)
    assert t_pf / (step + t_pf) > 0.9  # prefill dominates


def test_serve_memory_bound_decode():
    # 8 sequences, one-token prompts, 1,000 tokens out: each step reads the weights and the cache
    est = _serve(prompt=1, output=1_000, context=1_001, batch_cap=8)
    t_mem = (W + 8 * (1 + 500) * KV) / (1e12 * 0.65)  # 31.0 ms
    t_comp = 2 * 10e9 * 8 / (700e12 * 0.60)  # 0.38 ms
    t_pf = 2 * 10e9 * 1 / (700e12 * 0.70)
    assert t_mem > 50 * t_comp
    latency = t_mem + 1e-3 + 8 * t_pf / 1_000
    assert est.latency_ms[0] == pytest.approx(latency * 1e3, rel=1e-12)
    assert est.value[0] == pytest.approx(8 / latency, rel=1e-12)


def test_serve_batch_is_what_memory_allows_with_a_paged_cache():
    # a sequence holds 1 + 1,000 / 2 = 501 tokens on average over its life, not its 1,001 at most:
    # floor((0.9 * 100 GB - 1.1 * 20 GB) / (1.1 * 501 * 40 kB)) = 3,084 sequences (1,543 if each
    # reserved its longest)
    est = _serve(prompt=1, output=1_000, context=1_001)
    assert est.batch[0] == 3084 == int((90e9 - 22e9) // (1.1 * 501 * KV))
    assert est.gang[0] == 1


def test_serve_replica_has_room_for_one_sequence_at_its_longest():
    # 2,000,000 tokens x 40 kB = 80 GB of cache for one sequence at its longest: (20 + 80) x 1.1 =
    # 110 GB > 90 GB usable, so a replica spans 2; its batch still comes from the 501 tokens held
    # on average: floor((2 x 90 GB - 22 GB) / (1.1 x 501 x 40 kB)) = 7,167
    est = _serve(prompt=1, output=1_000, context=2_000_000)
    assert est.gang[0] == 2
    assert est.replica_gb[0] == pytest.approx(110.0)
    assert est.batch[0] == 7167 == int((180e9 - 22e9) // (1.1 * 501 * KV))


def test_serve_attention_reads_are_not_hidden_by_compute_bound_matmuls():
    # 4,096 sequences, 100-token prompts, 100 out: each holds 150 tokens on average
    est = _serve(prompt=100, output=100, context=200, batch_cap=4096)
    t_w = W / (1e12 * 0.65)  # 30.8 ms: the weights, read once per step
    t_comp = 2 * 10e9 * 4096 / (700e12 * 0.60)  # 195 ms: the matmuls are compute-bound
    t_kv = 4096 * 150 * KV / (1e12 * 0.65)  # 37.8 ms: attention reads every sequence's cache
    t_pf = 2 * 10e9 * 100 / (700e12 * 0.70)  # 4.08 ms per prompt
    assert t_comp > t_w + t_kv  # a max over all memory traffic would hide the cache reads
    latency = t_comp + t_kv + 1e-3 + 4096 * t_pf / 100
    assert est.batch[0] == 4096
    assert est.latency_ms[0] == pytest.approx(latency * 1e3, rel=1e-12)
    assert est.value[0] == pytest.approx(4096 / latency, rel=1e-12)


def test_kv_cache_is_never_below_fp8():
    # FP4 weights still read an FP8 cache; BF16 weights a BF16 one
    assert list(roofline.kv_element_bytes(np.array([0.5, 1.0, 2.0]))) == [1.0, 1.0, 2.0]


def test_serve_slo_caps_the_batch():
    # l(B) = (W + B * 501 * kv) / 0.65 TB/s + 1 ms + B * t_pf / 1000, memory-bound: linear in B
    t_pf = 2 * 10e9 / (700e12 * 0.70)

    def latency(b):
        return (W + b * 501 * KV) / 0.65e12 + 1e-3 + b * t_pf / 1000

    slo = 0.040  # 40 ms per token
    b_star = int((slo - latency(0)) // (501 * KV / 0.65e12 + t_pf / 1000))  # 266
    assert latency(b_star) <= slo < latency(b_star + 1)
    est = _serve(prompt=1, output=1_000, context=1_001, slo_ms=[40.0, np.inf], n=2)
    assert est.batch[0] == b_star < est.batch[1] == 3084  # the SLO, not memory, sets it
    assert est.value[0] == pytest.approx(b_star / latency(b_star), rel=1e-12)
    # an SLO below the batch-1 latency is missed outright
    missed = _serve(prompt=1, output=1_000, context=1_001, slo_ms=latency(1) * 1e3 * 0.99)
    assert not missed.meets_slo[0] and missed.value[0] == 0


def test_serve_factor_scales_every_rate_and_the_overhead():
    shape = {"prompt": 512, "output": 256, "context": 1024, "batch_cap": 64}
    plain, faster = _serve(**shape), _serve(**shape, factor=1.5)
    assert faster.value[0] == pytest.approx(1.5 * plain.value[0], rel=1e-12)
    assert faster.latency_ms[0] == pytest.approx(plain.latency_ms[0] / 1.5, rel=1e-12)


def test_serve_through_the_matrix_uses_the_chip_and_the_workload(base):
    base["catalog"] = [
        {
            "id": "round",
            "vendor": "acme",
            "memory_gb": 100,
            "bandwidth_tbps": 1.0,
            "tflops": {"bf16": 1000},
            "mamf_tflops": 700,
            "tdp_w": 500,
        }
    ]
    model = {"params_b": 10, "layers": 10, "kv_dim": 1000, "seq_len": 1001}
    model |= {"prompt_tokens": 1, "output_tokens": 1000, "batch": 8}
    m = _one(base, _wl("serve", model), ["round"])
    assert m.value[0, 0] == pytest.approx(_serve(1, 1000, 1001, batch_cap=8).value[0], rel=1e-12)


def test_decode_replica_must_fit_a_node_or_named_domain(base):
    wl = _wl("serve", {"params_b": 400, "seq_len": 4096, "batch": 8})
    m = _one(base, wl, ["h100-sxm", "gb200"])
    # 800 GB of bf16 weights + one sequence's KV, x1.1, over 72 GB per H100 -> 16 > 8 per node
    assert m.reason[0, 0] == Reason.REPLICA_DOES_NOT_FIT
    assert m.reason[0, 1] == Reason.REPLICA_DOES_NOT_FIT  # GB200: 4 per tray
    wl["needs"] = {"scaleup_domain": True}
    m = _one(base, wl, ["h100-sxm", "gb200"])
    assert m.reason[0, 0] == Reason.REPLICA_DOES_NOT_FIT
    assert m.origin[0, 1] == Origin.ESTIMATED  # the NVL72 domain holds it


def test_decode_slo(base):
    wl = _wl(
        "serve",
        {"params_b": 7, "seq_len": 2048, "batch": 8, "layers": 32},
        slo={"max_token_latency_ms": 10},
    )
    m = _one(base, wl, ["a100-80gb", "h100-sxm"])
    # even one sequence: 14.2 GB read per step / (2.039 TB/s * 0.65) + 1 ms = 11.7 ms
    assert m.reason[0, 0] == Reason.SLO_MISSED
    assert m.detail[0, 0] == pytest.approx(11.8, abs=0.05)
    assert m.origin[0, 1] == Origin.ESTIMATED  # 14.2 GB / (3.35 TB/s * 0.65) + 1 ms = 7.5 ms


def test_recsys(base):
    m = _one(
        base,
        _wl(
            "recsys",
            {
                "params_b": 0.1,
                "lookups_per_sample": 100,
                "embedding_dim": 128,
                "gflops_per_sample": 0.01,
                "embedding_gb": 100,
            },
            "samples/s",
        ),
        ["h100-sxm"],
    )
    # bytes 100*128*2 over 3.35e12*0.35 = 21.8 ns; flops 1e7 over 794e12*0.45 = 28.0 ns
    assert m.value[0, 0] == pytest.approx(1 / (1e7 / (794e12 * 0.45)), rel=1e-9)


def test_recsys_tables_larger_than_a_node(base):
    m = _one(
        base,
        _wl("recsys", {"lookups_per_sample": 10, "embedding_gb": 5000}, "samples/s"),
        ["h100-sxm"],
    )
    assert m.reason[0, 0] == Reason.REPLICA_DOES_NOT_FIT


def test_infer(base):
    m = _one(
        base,
        _wl("infer", {"params_b": 0.1, "gflops_per_sample": 10, "batch": 16}, "samples/s"),
        ["h100-sxm"],
    )
    # compute 1e10 / (794e12 * 0.6) = 20.99 us; weights 0.2 GB / 16 / (3.35e12*0.6) = 6.2 us
    assert m.value[0, 0] == pytest.approx(794e12 * 0.6 / 1e10, rel=1e-9)


def test_measured_overrides_estimate_and_policy_still_applies(base):
    base["tiers"] = {2: {"vendors": ["amd"]}}
    m = _one(
        base,
        _wl("train", {"params_b": 1}, throughput={"mi300x": 1234.0, "h100-sxm": 99.0}, tier=2),
        ["mi300x", "h100-sxm", "mi325x"],
    )
    assert m.value[0, 0] == 1234.0 and m.origin[0, 0] == Origin.MEASURED
    assert m.reason[0, 1] == Reason.TIER_POLICY and m.value[0, 1] == 0
    assert m.origin[0, 2] == Origin.ESTIMATED


def test_needs_and_missing_rates(base):
    base["catalog"] = [{"id": "x1", "vendor": "acme", "memory_gb": 64, "tdp_w": 300}]
    m = _one(
        base,
        _wl("train", {"params_b": 1}, needs={"min_scaleup_gbps": 900}),
        ["x1", "a100-80gb", "h100-sxm"],
    )
    assert m.reason[0, 0] == Reason.SCALEUP_TOO_LOW  # x1 has no scale-up figure
    assert m.reason[0, 1] == Reason.SCALEUP_TOO_LOW  # 600 < 900
    assert m.origin[0, 2] == Origin.ESTIMATED
    m = _one(
        base,
        _wl("train", {"params_b": 1}),
        ["x1"],
    )
    assert m.reason[0, 0] == Reason.NO_RATES


def test_custom_without_a_measurement_here(base):
    m = _one(base, base["workloads"][0], ["h100-sxm", "b200"])
    assert m.origin[0, 0] == Origin.MEASURED
    assert m.reason[0, 1] == Reason.NOT_MEASURED


def test_serve_prompt_and_output_default_to_halves_of_seq_len_and_batch_to_memory(base):
    shape = {"params_b": 8, "precision": "fp8", "seq_len": 2048}
    halves = {**shape, "prompt_tokens": 1024, "output_tokens": 1024}
    capped = {**shape, "batch": 8}
    base["workloads"] = [_wl("serve", shape), _wl("serve", halves), _wl("serve", capped)]
    for i, w in enumerate(base["workloads"]):
        w["name"] = f"w{i}"
    loaded = load(base)
    m = build_matrix(loaded.scenario, loaded.catalog, ["h100-sxm"])
    assert m.value[0, 0] == m.value[1, 0]
    # a batch given caps the sequences in flight; left out, memory decides (here, hundreds)
    assert m.value[2, 0] < m.value[0, 0] / 5
