"""Decode measured both ways, downstream: the profile file, the terminal table and calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from polyfleet.catalog import load_catalog
from polyfleet.errors import InputError
from polyfleet.inputs.profile import CaseResult, DeviceRecord, Profile, Skipped, parse_profile
from polyfleet.perfmodel.calibrate import _probe_workload, calibrate
from polyfleet.perfmodel.matrix import estimate_one
from polyfleet.report.probe_table import graph_speedups, print_profile

EXAMPLE = Path(__file__).parents[2] / "examples" / "profiles" / "h200-sxm-full.json"
SHAPE = {"params_b": 6.9, "seq_len": 1155, "batch": 64, "layers": 8, "kv_dim": 1024}


def _case(mode: str | None, rate: float, *, batch: int = 64, calibrates: str | None = None):
    return CaseResult(
        workload="llm-decode",
        case=f"batch {batch}",
        unit="tokens",
        units_per_s=rate,
        repeats=128,
        calibrates=calibrates,  # type: ignore[arg-type]
        shape={**SHAPE, "batch": batch},
        mode=mode,  # type: ignore[arg-type]
        peak_bandwidth_fraction=rate / 1e5,
    )


def _profile(results: list[CaseResult], skipped: list[Skipped] | None = None) -> Profile:
    device = DeviceRecord(
        kind="cuda",
        vendor="nvidia",
        name="NVIDIA H200",
        count=1,
        torch="2.11.0",
        accelerator="h200-sxm",
        matched_by="name",
    )
    return Profile(
        created="2026-11-27T00:00:00+00:00",
        polyfleet="0",
        host="h",
        preset="full",
        device=device,
        results=results,
        skipped=skipped or [],
    )


def _estimate() -> float:
    return estimate_one(_probe_workload("serve", SHAPE), load_catalog(), "h200-sxm")


def test_the_bundled_eager_profile_still_loads_and_calibrates_as_eager():
    """Profiles written before decode had a graph path are read as they are: eager."""
    data = json.loads(EXAMPLE.read_text())
    profile = parse_profile(data, file=str(EXAMPLE))
    decode = [r for r in profile.results if r.workload == "llm-decode"]
    assert decode and all(r.mode is None for r in decode)
    cal = calibrate([("h200.json", profile)], load_catalog())
    serve = next(c for c in cal.used if c.kind == "serve")
    assert serve.mode == "eager" and serve.measured == profile.headline("serve").units_per_s
    assert serve.to_dict()["probe_case"] == "llm-decode batch 64 (eager)"
    (note,) = cal.notes
    assert "h200.json: serve on h200-sxm" in note and "no graph-replayed decode" in note
    # the other kinds have no decode mode and no note
    assert {c.mode for c in cal.used if c.kind != "serve"} == {None}


def test_an_unknown_mode_is_refused_with_its_field(tiny_profile: Profile):
    data = json.loads(tiny_profile.to_json())
    index = next(i for i, r in enumerate(data["results"]) if r["mode"] == "eager")
    data["results"][index]["mode"] = "turbo"
    with pytest.raises(InputError) as err:
        parse_profile(data, file="p.json")
    assert err.value.field == f"results[{index}].mode"


def test_calibration_takes_the_graph_figure_and_says_so():
    est = _estimate()
    graph = _case("graph", 0.6 * est, calibrates="serve")
    eager = _case("eager", 0.2 * est, calibrates="serve")  # marked too: graph still wins
    for results in ([eager, graph], [graph, eager]):
        cal = calibrate([("p.json", _profile(results))], load_catalog())
        (only,) = cal.used
        assert only.mode == "graph" and only.factor == pytest.approx(0.6)
        assert only.to_dict()["probe_mode"] == "graph" and cal.notes == ()


def test_calibration_from_eager_names_the_reason_there_is_no_graph():
    est = _estimate()
    results = [_case("eager", 0.2 * est, batch=8), _case("eager", 0.3 * est, calibrates="serve")]
    skipped = [
        Skipped(workload="llm-decode", case="batch 8 graph", reason="not this batch"),
        Skipped(workload="llm-decode", case="batch 64 graph", reason="graph capture failed (X)"),
    ]
    cal = calibrate([("p.json", _profile(results, skipped))], load_catalog())
    (only,) = cal.used
    assert only.mode == "eager" and only.factor == pytest.approx(0.3)
    (note,) = cal.notes
    assert note.endswith("(graph capture failed (X))")


def test_the_table_shows_both_modes_and_their_ratio():
    profile = _profile(
        [
            _case("graph", 3000.0, batch=1),
            _case("eager", 1000.0, batch=1),
            _case("graph", 60000.0, calibrates="serve"),
            _case("eager", 40000.0),
        ]
    )
    assert graph_speedups(profile) == [
        ("llm-decode", "batch 1", 3.0),
        ("llm-decode", "batch 64", 1.5),
    ]
    console = Console(record=True, width=250)
    print_profile(profile, console)
    text = console.export_text()
    rows = [line for line in text.splitlines() if "llm-decode" in line and "batch" in line]
    assert [("graph" in r, "eager" in r) for r in rows[:4]] == [
        (True, False),
        (False, True),
        (True, False),
        (False, True),
    ]
    assert "60% " in rows[2] and "40% " in rows[3]  # % of peak bandwidth, each its own
    assert "llm-decode graph replay / eager rate: batch 1 x3.00, batch 64 x1.50" in text


def test_the_table_of_a_profile_without_modes_has_no_mode_column():
    profile = parse_profile(json.loads(EXAMPLE.read_text()))
    console = Console(record=True, width=250)
    print_profile(profile, console)
    header = next(line for line in console.export_text().splitlines() if "workload" in line)
    assert "mode" not in header and "graph replay" not in console.export_text()
