"""Stack factors fitted to published results: a synthetic table gives back the factors it was
made with; too few results fall back to the pooled factor; intervals come from the residuals and
hold the estimate; the held-out errors on the packaged table are no worse than recorded."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from polyfleet.catalog import load_catalog
from polyfleet.cli import app
from polyfleet.inputs.benchmarks import KIND_OF_SCENARIO, LoadedBenchmarks, parse_benchmarks
from polyfleet.perfmodel import Origin, build_matrix
from polyfleet.perfmodel.fit import (
    factors_from,
    fit_factors,
    holdout,
    load_tables,
    observe,
    packaged_benchmarks,
    split_tests,
)

from ..conftest import load

ROOT = Path(__file__).parents[2]
MODELS = {
    "m13": {"params_b": 13, "layers": 40, "kv_dim": 5120, "seq_len": 2048, "source": "s"},
    "lora": {
        "params_b": 13,
        "seq_len": 4096,
        "train_tokens": 1e8,
        "train_flop_per_param": 4,
        "source": "s",
    },
}
# known factors, and a log-noise that averages out within each stack
KNOWN = {("cuda", "serve"): 1.4, ("rocm", "serve"): 0.9}
SERVE = {
    "cuda": [("h100-sxm", 0.1), ("h200-sxm", -0.1), ("b200", 0.0)],
    "rocm": [("mi300x", 0.05), ("mi325x", -0.05), ("mi355x", 0.0)],
}


def _row(i: int, acc: str, scenario: str = "offline", round_: str = "v1", **fig: Any) -> dict:
    return {
        "id": f"{round_}-{acc}-{scenario}-{i}",
        "round": round_,
        "system": f"8x {acc}",
        "submitter": "test",
        "accelerator": acc,
        "count": 8,
        "precision": "fp8",
        "model": "lora" if scenario == "training" else "m13",
        "scenario": scenario,
        "source": "synthetic",
        **fig,
    }


def _table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "polyfleet-benchmarks",
        "schema_version": 1,
        "models": copy.deepcopy(MODELS),
        "results": rows,
    }


def _parse(data: dict[str, Any]) -> LoadedBenchmarks:
    return parse_benchmarks(data, load_catalog(), file="synthetic.yaml")


def _bare(rows: list[dict[str, Any]]) -> list[float]:
    """The bare roofline estimate of each row, per accelerator (in the fit's units)."""
    placeholder = [
        {**r, "throughput": 1.0} if r["scenario"] != "training" else {**r, "minutes": 1.0}
        for r in rows
    ]
    return [o.estimated for o in observe(_parse(_table(placeholder)), load_catalog())]


def _synthetic(rounds: tuple[str, ...] = ("v1",)) -> LoadedBenchmarks:
    rows = [
        _row(i, acc, round_=r)
        for r in rounds
        for stack in SERVE
        for i, (acc, _) in enumerate(SERVE[stack])
    ]
    noise = [n for _ in rounds for stack in SERVE for _, n in SERVE[stack]]
    stacks = [s for _ in rounds for s in SERVE for _ in SERVE[s]]
    for row, est, n, s in zip(rows, _bare(rows), noise, stacks, strict=True):
        row["throughput"] = KNOWN[s, "serve"] * math.exp(n) * est * row["count"]
    return _parse(_table(rows))


def test_packaged_table_loads_every_row_sourced_and_resolved():
    cat = load_catalog()
    table = packaged_benchmarks(cat)
    assert len(table.results) >= 20
    for row in table.results:
        assert row.source and row.accelerator in cat and row.model in table.models
        assert row.kind in set(KIND_OF_SCENARIO.values())
    assert all(m.source for m in table.models.values())
    # the reference's figures, as transcribed
    by_id = {r.id: r for r in table.results}
    assert by_id["v5.0-amd-8xmi325x-offline"].throughput == 33928.1
    assert by_id["t5.0-amd-8xmi300x-lora"].minutes == 28.27


def test_load_tables_merges_the_packaged_table_with_a_users(tmp_path):
    cat = load_catalog()
    path = tmp_path / "ours.json"
    path.write_text(json.dumps(_table([_row(0, "H200", throughput=30000.0)])))
    both = load_tables(["packaged", path], cat)
    assert both.files == ("benchmarks.yaml", str(path))
    assert len(both.results) == len(packaged_benchmarks(cat).results) + 1
    assert both.results[-1].accelerator == "h200-sxm"


def test_a_synthetic_table_gives_back_its_factors():
    bench = _synthetic()
    fit = fit_factors(observe(bench, load_catalog()))
    for (stack, kind), factor in KNOWN.items():
        f = fit.get(stack, kind)
        assert f.basis == "own" and f.factor == pytest.approx(factor, rel=1e-9)
        assert len(f.results) == 3
        assert f.spread > 0  # the noise left residuals
    # a stack with no results of its own takes the pooled factor; a kind with none keeps 1.0
    xla = fit.get("xla", "serve")
    assert xla.basis == "pooled" and xla.factor == pytest.approx(math.sqrt(1.4 * 0.9))
    assert fit.get("cuda", "recsys").basis == "assumed" and fit.get("cuda", "recsys").factor == 1


def test_the_fit_says_how_many_degrees_of_freedom_it_left():
    fit = fit_factors(observe(_synthetic(), load_catalog()))
    (serve,) = fit.fits
    # 6 results, one factor per stack: the residuals are the noise, 0.1, -0.1, 0, 0.05, -0.05, 0
    assert (serve.kind, serve.results, serve.factors, serve.dof) == ("serve", 6, 2, 4)
    assert serve.residual_sd == pytest.approx(math.sqrt(0.025 / 4), rel=1e-9)
    assert fit.to_dict()["fits"][0]["dof"] == 4


def _with_server_rows(factor: float) -> LoadedBenchmarks:
    """The synthetic table plus two cuda server results at `factor` x the cuda offline level,
    with log-noise +-0.02."""
    bench = _synthetic()
    extra = [_row(9, "h100-sxm", "server"), _row(9, "b200", "server")]
    for row, est, n in zip(extra, _bare(extra), (0.02, -0.02), strict=True):
        row["throughput"] = factor * KNOWN["cuda", "serve"] * math.exp(n) * est * row["count"]
    rows = [r.model_dump(exclude_none=True) for r in bench.results] + extra
    return _parse(_table(rows))


def test_a_split_the_data_supports_and_one_it_does_not():
    cat = load_catalog()
    (split,) = split_tests(observe(_with_server_rows(0.7), cat))
    assert (split.stack, split.attribute, split.value) == ("cuda", "scenario", "server")
    assert split.results == ("v1-h100-sxm-server-9", "v1-b200-server-9") and split.systems == 2
    assert split.relative == pytest.approx(0.7, rel=1e-9)
    # by hand: the kind's residuals with one factor per stack, then with the split
    cuda = np.array([0.1, -0.1, 0.0, math.log(0.7) + 0.02, math.log(0.7) - 0.02])
    rocm = np.array([0.05, -0.05, 0.0])
    ss0 = ((cuda - cuda.mean()) ** 2).sum() + (rocm**2).sum()
    ss1 = 0.02 + 0.0008 + 0.005
    assert split.dof == (1, 5)
    assert split.f == pytest.approx((ss0 - ss1) / (ss1 / 5), rel=1e-9)
    assert split.p < 0.05 and split.supported
    (same,) = split_tests(observe(_with_server_rows(1.0), cat))
    assert same.relative == pytest.approx(1.0, rel=1e-9) and not same.supported
    # two results split off from a stack of four would leave it under three: not asked
    assert split_tests(observe(_with_server_rows(0.7), cat), min_results=4) == ()


def test_too_few_results_pool_the_factor():
    rows = [_row(0, "h100-sxm", "training"), _row(1, "b200", "training")]
    for row, est in zip(rows, _bare(rows), strict=True):
        # published tokens/s of LoRA (4 FLOPs per parameter) that is 0.5 x the 6-FLOP estimate
        tokens_per_s = 0.5 * est * 6 / 4 * row["count"]
        row["minutes"] = 1e8 / tokens_per_s / 60
    fit = fit_factors(observe(_parse(_table(rows)), load_catalog()))
    cuda = fit.get("cuda", "train")
    assert cuda.basis == "pooled" and "fewer than 3" in cuda.note
    assert cuda.factor == pytest.approx(0.5, rel=1e-9)


def test_held_out_round_to_round_and_leave_pair_out_are_exact_on_consistent_data():
    bench = _synthetic(rounds=("v1", "v2"))
    ho = holdout(observe(bench, load_catalog()))
    assert ho.methods["serve"] == "fit on v1, predict v2"
    assert len(ho.pairs) == 9  # 3 cuda x 3 rocm results of v2
    for p in ho.pairs:
        assert p.round == "v2" and p.accelerators[0] in {a for a, _ in SERVE["rocm"]}
        assert p.predicted == pytest.approx(p.published * _noise_ratio(p))
    one_round = holdout(observe(_synthetic(), load_catalog()))
    assert "without both its accelerators" in one_round.methods["serve"]
    assert len(one_round.pairs) == 9


def _noise_ratio(p: Any) -> float:
    """predicted / published for a pair: the noise the fit cannot know about."""
    noise = {acc: n for stack in SERVE.values() for acc, n in stack}
    return math.exp(noise[p.accelerators[1]] - noise[p.accelerators[0]])


# -- the stack factors in the matrix -----------------------------------------------------------


def _scenario(base: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["catalog"] = [
        {
            "id": "tpu-x",
            "vendor": "google",
            "stack": "xla",
            "memory_gb": 96,
            "bandwidth_tbps": 2.8,
            "tflops": {"bf16": 459, "fp8": 459},
            "tdp_w": 500,
        }
    ]
    data["workloads"] = [
        {
            "name": "chat",
            "kind": "serve",
            "model": {"params_b": 8, "precision": "fp8", "seq_len": 4096},
            "demand": {"value": 1e5, "unit": "tokens/s"},
        },
        {
            "name": "pretrain",
            "kind": "train",
            "model": {"params_b": 8},
            "demand": {"value": 1e6, "unit": "tokens/s"},
        },
        {
            "name": "rank",
            "kind": "recsys",
            "model": {"params_b": 1, "lookups_per_sample": 100, "embedding_gb": 10},
            "demand": {"value": 1e6, "unit": "samples/s"},
        },
        {
            "name": "measured",
            "kind": "serve",
            "model": {"params_b": 8},
            "demand": {"value": 1e3, "unit": "tokens/s"},
            "throughput": {"h100-sxm": 5000.0},
        },
    ]
    return data


def test_stack_factors_scale_cells_and_name_their_results(base):
    loaded = load(_scenario(base))
    cat = loaded.catalog
    accs = ["h100-sxm", "mi300x", "tpu-x"]
    stacks = factors_from(catalog=cat)
    bare = build_matrix(loaded.scenario, cat, accs)
    m = build_matrix(loaded.scenario, cat, accs, stacks=stacks)
    for a, acc in enumerate(accs):
        stack = cat[acc].stack
        for w, kind in ((0, "serve"), (1, "train")):
            f = stacks.get(stack, kind)
            assert m.value[w, a] == pytest.approx(f.factor * bare.value[w, a], rel=1e-9)
            assert m.origin[w, a] == Origin.CALIBRATED
            info = m.provenance(w, a)
            assert info["results"] == list(f.results) and info["basis"] == f.basis
        # recsys has no published results: the roofline, marked as an assumption
        assert m.origin[2, a] == Origin.ESTIMATED and m.value[2, a] == bare.value[2, a]
        assert "1.0 assumed" in m.provenance(2, a)["note"]
    assert m.provenance(0, 2)["basis"] == "pooled"  # xla has no serve results of its own
    assert m.provenance(0, 0)["basis"] == "own"


def test_intervals_hold_the_estimate_and_come_from_the_residuals(base):
    loaded = load(_scenario(base))
    cat = loaded.catalog
    stacks = factors_from(catalog=cat)
    m = build_matrix(loaded.scenario, cat, list(cat), stacks=stacks)
    ok = m.origin != Origin.INELIGIBLE
    assert ok.sum() > 20
    assert np.all(m.low[ok] <= m.value[ok]) and np.all(m.value[ok] <= m.high[ok])
    estimated = ok & (m.origin != Origin.MEASURED)
    assert np.all(m.low[estimated] < m.value[estimated])
    measured = m.origin == Origin.MEASURED
    assert measured.any() and np.all(m.low[measured] == m.value[measured])
    assert np.all(m.high[measured] == m.value[measured])
    h100 = list(cat).index("h100-sxm")
    spread = stacks.get("cuda", "serve").spread
    assert m.high[0, h100] / m.value[0, h100] == pytest.approx(math.exp(spread))
    assert m.low[2, h100] / m.value[2, h100] == pytest.approx(math.exp(-stacks.uncalibrated_spread))
    low = m.at_low()
    assert np.array_equal(low.value, m.low) and np.array_equal(low.origin, m.origin)
    # the bare roofline has no calibration to take an interval from
    bare = build_matrix(loaded.scenario, cat, list(cat))
    assert np.array_equal(bare.low, bare.value) and np.array_equal(bare.high, bare.value)


# -- the held-out guard ------------------------------------------------------------------------

#: As recorded in BENCHMARKS.md ("calibrate --holdout"): median and worst |error|, in per cent.
RECORDED = {"all": (7.1, 24.0), "serve": (6.1, 24.0), "train": (9.2, 18.9)}


def test_held_out_errors_are_no_worse_than_recorded():
    cat = load_catalog()
    ho = holdout(observe(packaged_benchmarks(cat), cat))
    for name, (median, worst) in RECORDED.items():
        s = ho.summary(None if name == "all" else name)
        assert s["pairs"] >= 6
        assert round(100 * s["median"], 1) <= median, (name, s)
        assert round(100 * s["worst"], 1) <= worst, (name, s)


def test_benchmarks_md_records_the_guarded_figures():
    text = (ROOT / "BENCHMARKS.md").read_text("utf-8")
    section = text[text.index("## calibrate --holdout") :]
    for name, (median, worst) in RECORDED.items():
        row = re.search(rf"^\| {name} \| (\d+) \| ([\d.]+) % \| ([\d.]+) % \|", section, re.M)
        assert row, f"BENCHMARKS.md has no '{name}' row"
        assert (float(row.group(2)), float(row.group(3))) == (median, worst)


def test_calibrate_command_prints_factors_results_and_holdout():
    result = CliRunner().invoke(app, ["calibrate", "--holdout", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    own = {(f["stack"], f["kind"]) for f in data["factors"] if f["basis"] == "own"}
    assert {("cuda", "serve"), ("rocm", "serve")} <= own
    assert len(data["results"]) == len(packaged_benchmarks(load_catalog()).results)
    assert data["holdout"]["summary"]["all"]["pairs"] >= 12
    assert {f["kind"]: f["dof"] for f in data["fits"]}["serve"] == len(data["results"]) - 5 - 2
    # the FP4 split asked of v4.1: the one B200 system's two results
    fp4 = next(sp for sp in data["holdout"]["splits"] if sp["split"] == "precision=fp4")
    assert fp4["fitted_on"] == "round v4.1" and fp4["systems"] == 1 and len(fp4["results"]) == 2
    (v41,) = data["holdout"]["fits"]
    assert (v41["fitted_on"], v41["kind"], v41["results"], v41["dof"]) == (
        "round v4.1",
        "serve",
        10,
        8,
    )
    table = CliRunner().invoke(app, ["calibrate", "--holdout"])
    assert "Held out" in table.stdout and "median |error|" in table.stdout
    assert "degrees of freedom" in table.stdout and "Splits asked of the fit's round v4.1" in (
        table.stdout
    )
