"""The roofline estimates on cases worked out by hand (numbers restated, not recomputed by the code)."""

import pytest

from polyfleet.perfmodel import Origin, Reason, build_matrix

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
    # 989e12 * 0.40 / (6 * 10e9)
    assert m.value[0, 0] == pytest.approx(6593.333, rel=1e-6)
    # 10e9 params * 16 B = 160 GB over 80 GB * 0.8 usable = 2.5 -> 3
    assert m.gang[0, 0] == 3
    assert m.origin[0, 0] == Origin.ESTIMATED


def test_training_uses_fp8_where_allowed_and_present(base):
    m = _one(
        base,
        _wl("train", {"params_b": 10, "precision": "fp8"}),
        ["h100-sxm", "a100-80gb"],
    )
    assert m.value[0, 0] == pytest.approx(1979e12 * 0.4 / 6e10)
    assert m.value[0, 1] == pytest.approx(312e12 * 0.4 / 6e10)  # A100 has no fp8: bf16


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


def test_decode_bandwidth_bound(base):
    m = _one(
        base,
        _wl("serve", {"params_b": 7, "seq_len": 2048, "batch": 8, "layers": 32}),
        ["a100-80gb"],
    )
    # kv/token = 2*32*1024*2 = 131072 B; step bytes = 14e9 + 8*1024*131072 = 15.0737e9
    # t = 15.0737e9 / (2.039e12 * 0.65) = 11.373 ms (compute: 1.12e11/(312e12*0.5) = 0.72 ms)
    assert m.value[0, 0] == pytest.approx(8 / 0.0113734, rel=1e-4)
    assert m.gang[0, 0] == 1


def test_decode_replica_must_fit_a_node_or_named_domain(base):
    wl = _wl("serve", {"params_b": 400, "seq_len": 4096, "batch": 8})
    m = _one(base, wl, ["h100-sxm", "gb200"])
    # 800 GB of bf16 weights + KV, x1.1, over 72 GB per H100 -> 16 > 8 per node
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
    assert m.reason[0, 0] == Reason.SLO_MISSED  # 11.4 ms
    assert m.origin[0, 1] == Origin.ESTIMATED  # 15.07e9 / (3.35e12 * 0.65) = 6.9 ms


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
    # bytes 100*128*2 over 3.35e12*0.35 = 21.8 ns; flops 1e7 over 989e12*0.35 = 28.9 ns
    assert m.value[0, 0] == pytest.approx(1 / (1e7 / (989e12 * 0.35)), rel=1e-9)


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
    # compute 1e10 / (989e12 * 0.45) = 22.47 us; weights 0.2 GB / 16 / (3.35e12*0.6) = 6.2 us
    assert m.value[0, 0] == pytest.approx(1 / 2.24694e-5, rel=1e-4)


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
