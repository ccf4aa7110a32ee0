"""Calibration: probe results scale the roofline by measured / estimated at the probe's size."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.catalog import load_catalog
from polyfleet.cli import app
from polyfleet.errors import InputError
from polyfleet.inputs.profile import CaseResult, DeviceRecord, Profile
from polyfleet.inputs.scenario import load_scenario
from polyfleet.perfmodel import Origin, Reason, build_matrix
from polyfleet.perfmodel.calibrate import calibrate
from polyfleet.perfmodel.matrix import estimate_one

from ..conftest import load, write

DECODE_SHAPE = {"params_b": 0.9, "seq_len": 1100, "batch": 64, "layers": 16, "kv_dim": 1024}
SERVE = {
    "name": "chat",
    "kind": "serve",
    "model": {"params_b": 70, "seq_len": 4096, "batch": 32},
    "demand": {"value": 1e5, "unit": "tokens/s"},
}


def profile(
    accelerator: str | None,
    rate: float,
    *,
    preset: str = "full",
    created: str = "2026-11-01T00:00:00+00:00",
    shape: dict[str, Any] | None = None,
) -> Profile:
    case = CaseResult(
        workload="llm-decode",
        case="batch 64",
        unit="tokens",
        units_per_s=rate,
        repeats=10,
        calibrates="serve",
        shape=shape or DECODE_SHAPE,
    )
    device = DeviceRecord(
        kind="cuda",
        vendor="nvidia",
        name="NVIDIA H100 80GB HBM3",
        count=8,
        torch="2.13.0",
        accelerator=accelerator,
        matched_by="name" if accelerator else "none",
    )
    return Profile(
        created=created, polyfleet="0", host="h", preset=preset, device=device, results=[case]
    )


def probe_estimate(accelerator: str = "h100-sxm") -> float:
    from polyfleet.perfmodel.calibrate import _probe_workload

    return estimate_one(_probe_workload("serve", DECODE_SHAPE), load_catalog(), accelerator)


def scenario(base: dict[str, Any], **workload: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    data["workloads"] = [{**SERVE, **workload}]
    return data


def test_factor_is_measured_over_estimated_at_probe_size():
    est = probe_estimate()
    cal = calibrate([("p.json", profile("h100-sxm", 0.25 * est))], load_catalog())
    (only,) = cal.used
    assert (only.accelerator, only.kind) == ("h100-sxm", "serve")
    assert only.factor == pytest.approx(0.25) and only.estimated == pytest.approx(est)


def test_calibrated_cells_scale_the_estimate_and_name_their_profile(base):
    loaded = load(scenario(base))
    cat = loaded.catalog
    plain = build_matrix(loaded.scenario, cat, ["h100-sxm", "mi300x"])
    cal = calibrate([("h100.json", profile("h100-sxm", 0.5 * probe_estimate()))], cat)
    m = build_matrix(loaded.scenario, cat, ["h100-sxm", "mi300x"], calibration=cal)
    assert m.origin[0, 0] == Origin.CALIBRATED and m.profile_of(0, 0) == "h100.json"
    assert m.value[0, 0] == pytest.approx(0.5 * plain.value[0, 0])
    # another accelerator, and the same accelerator for another kind, are untouched
    assert m.origin[0, 1] == Origin.ESTIMATED and m.value[0, 1] == plain.value[0, 1]
    cells = m.cells()
    assert cells[0]["origin"] == "calibrated" and cells[0]["profile"] == "h100.json"
    assert "profile" not in cells[1]


def test_measured_throughput_in_the_scenario_wins_over_calibration(base):
    loaded = load(scenario(base, throughput={"h100-sxm": 123.0}))
    cal = calibrate([("p.json", profile("h100-sxm", probe_estimate()))], loaded.catalog)
    m = build_matrix(loaded.scenario, loaded.catalog, ["h100-sxm"], calibration=cal)
    assert m.origin[0, 0] == Origin.MEASURED and m.value[0, 0] == 123.0


def test_slower_measured_decode_can_miss_the_latency_slo(base):
    loaded = load(scenario(base))
    plain = build_matrix(loaded.scenario, loaded.catalog, ["h100-sxm"])
    # latency of the plain estimate, read back from an SLO that it just misses
    tight = load(scenario(base, slo={"max_token_latency_ms": 1e-6}))
    latency = float(build_matrix(tight.scenario, tight.catalog, ["h100-sxm"]).detail[0, 0])
    slo = load(scenario(base, slo={"max_token_latency_ms": 1.5 * latency}))
    assert build_matrix(slo.scenario, slo.catalog, ["h100-sxm"]).origin[0, 0] != 0
    half = calibrate([("p.json", profile("h100-sxm", 0.5 * probe_estimate()))], slo.catalog)
    m = build_matrix(slo.scenario, slo.catalog, ["h100-sxm"], calibration=half)
    assert m.origin[0, 0] == Origin.INELIGIBLE and m.reason[0, 0] == Reason.SLO_MISSED
    assert m.detail[0, 0] == pytest.approx(2 * latency)
    assert plain.value[0, 0] > 0


def test_full_preset_wins_then_newest():
    cat = load_catalog()
    est = probe_estimate()
    tiny_new = profile("h100-sxm", 0.1 * est, preset="tiny", created="2026-12-01T00:00:00+00:00")
    full_old = profile("h100-sxm", 0.6 * est, created="2026-10-01T00:00:00+00:00")
    full_new = profile("h100-sxm", 0.7 * est, created="2026-11-01T00:00:00+00:00")
    pairs = [("tiny.json", tiny_new), ("old.json", full_old), ("new.json", full_new)]
    (chosen,) = calibrate(pairs, cat).used
    assert chosen.file == "new.json" and chosen.factor == pytest.approx(0.7)


def test_unmatched_profile_calibrates_nothing_and_says_so():
    cal = calibrate([("cpu.json", profile(None, 100.0))], load_catalog())
    assert cal.used == () and "matches no catalog accelerator" in cal.notes[0]


def test_tiny_cpu_profile_run_as_an_accelerator_calibrates_every_kind(tiny_profile):
    record = tiny_profile.device.model_copy(update={"accelerator": "mi300x"})
    as_mi300x = tiny_profile.model_copy(update={"device": record})
    cal = calibrate([("cpu-as-mi300x.json", as_mi300x)], load_catalog())
    assert sorted(c.kind for c in cal.used) == ["infer", "recsys", "serve", "train"]
    for c in cal.used:
        assert c.factor > 0 and c.measured == tiny_profile.headline(c.kind).units_per_s


# -- through the scenario and the CLI --------------------------------------------------------


def _h100_only(base: dict[str, Any]) -> dict[str, Any]:
    data = scenario(base)
    data["pools"] = [base["pools"][0]]
    data["pools"][0]["count"] = 100_000
    return data


def test_plan_profiles_option_marks_assignments_calibrated(base, tmp_path: Path):
    path = write(tmp_path, _h100_only(base))
    prof = tmp_path / "profiles" / "h100.json"
    prof.parent.mkdir()
    prof.write_text(profile("h100-sxm", 0.5 * probe_estimate()).to_json())
    runner = CliRunner()
    # the bare roofline: a profile's factor replaces the stack's, which it measured on the chip
    bare = ["plan", str(path), "--json", "--benchmarks", "none"]
    plain = json.loads(runner.invoke(app, bare).stdout)
    result = runner.invoke(app, ["plan", str(path), "--json", "--profiles", str(prof.parent)])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    (row,) = data["assignments"]
    assert row["origin"] == "calibrated" and row["source"] == str(prof)
    assert data["calibration"]["used"][0]["factor"] == pytest.approx(0.5)
    # half the throughput per accelerator: twice the accelerators for the same demand
    assert row["accelerators"] == pytest.approx(2 * plain["assignments"][0]["accelerators"])
    table = runner.invoke(app, ["plan", str(path), "--profiles", str(prof)])
    assert "calibrated" in table.stdout and "Calibration from probe profiles" in table.stdout


def test_scenario_profiles_resolve_against_the_scenario_file(base, tmp_path: Path):
    (tmp_path / "h100.json").write_text(profile("h100-sxm", probe_estimate()).to_json())
    data = _h100_only(base)
    data["profiles"] = ["h100.json"]
    loaded = load_scenario(write(tmp_path, data))
    assert [f for f, _ in loaded.profiles] == [str(tmp_path / "h100.json")]


def test_missing_scenario_profile_names_the_field_and_line(base, tmp_path: Path):
    data = _h100_only(base)
    data["profiles"] = ["nope/"]
    path = write(tmp_path, data)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert err.value.field == "profiles[0]" and err.value.value == "nope/"
    assert err.value.line == yaml.safe_dump(data, sort_keys=False).splitlines().index("- nope/") + 1
