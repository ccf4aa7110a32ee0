import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app

from .conftest import write

EXAMPLE = Path(__file__).parent.parent / "examples" / "hyperscaler-2026.yaml"
runner = CliRunner()


def test_catalog_json_and_vendor_filter():
    result = runner.invoke(app, ["catalog", "--vendor", "amd", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ids = {a["id"] for a in data["accelerators"]}
    assert {"mi300x", "mi355x"} <= ids and "h100-sxm" not in ids
    assert all(a["sources"] for a in data["accelerators"])


def test_catalog_table_marks_unconfirmed():
    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 0
    assert "h200-sxm" in result.stdout and "*" in result.stdout


def test_catalog_unknown_vendor():
    result = runner.invoke(app, ["catalog", "--vendor", "acme"])
    assert result.exit_code == 1
    assert "unknown vendor" in result.stderr


def test_plan_example_json_has_the_documented_keys():
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--json", "--matrix"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    for key in (
        "status",
        "objective",
        "cost_per_hour",
        "power_mw",
        "assignments",
        "workloads",
        "vendor_shares",
        "binding",
        "matrix",
        "timings",
    ):
        assert key in data
    assert data["status"] == "optimal"
    a = data["assignments"][0]
    assert set(a) >= {"workload", "pool", "accelerator", "vendor", "accelerators", "served"}
    assert set(data["workloads"][0]) >= {"name", "demand", "served", "cost_per_unit"}
    assert set(data["vendor_shares"]["amd"]) == {"count", "power", "spend"}
    assert {c["origin"] for c in data["matrix"]} >= {"measured", "estimated", "ineligible"}
    assert all("reason" in c for c in data["matrix"] if c["origin"] == "ineligible")
    # tier 1 may not use pre-2024 parts: the H100 pool is ineligible for pretraining, and says so
    why = {(r["workload"], r["accelerator"]): r["reason"] for r in data["ineligible"]}
    assert why["frontier-multimodal-pretrain", "h100-sxm"] == "tier policy excludes it"
    # the example's limits hold
    assert data["power_mw"] <= 3000 * (1 + 1e-9)
    assert data["vendor_shares"]["nvidia"]["power"] <= 0.65 + 1e-6
    assert data["vendor_shares"]["amd"]["power"] >= 0.2 - 1e-6
    assert set(data["timings"]) >= {"load", "matrix", "build", "solve"}


def test_plan_tables_and_html(tmp_path):
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--html", str(html)])
    assert result.exit_code == 0, result.stderr
    assert "Vendor shares" in result.stdout and "Binding constraints" in result.stdout
    page = html.read_text()
    assert "chart-shares" in page and "chart-cost" in page and "chart-pools" in page
    assert '<script src="http' not in page  # plotly is inlined: opens without network
    assert "Plotly" in page
    assert "fan-0" in page  # the AMD deal's fan chart
    assert 'id="frontier"' not in page
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--html", str(html), "--frontier"])
    assert result.exit_code == 0 and 'id="frontier"' in html.read_text()


def test_bad_input_exits_1_and_writes_nothing(base, tmp_path):
    base["pools"][0]["count"] = -1
    path = write(tmp_path, base)
    out, html = tmp_path / "plan.json", tmp_path / "r.html"
    result = runner.invoke(app, ["plan", str(path), "--out", str(out), "--html", str(html)])
    assert result.exit_code == 1
    assert "pools[0].count (nv)" in result.stderr
    assert not out.exists() and not html.exists()


def test_infeasible_exits_2_and_still_writes_the_diagnosis(base, tmp_path):
    base["workloads"][0]["demand"]["value"] = 1000.0
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(write(tmp_path, base)), "--out", str(out)])
    assert result.exit_code == 2
    assert "short by" in result.stdout
    data = json.loads(out.read_text())
    assert data["status"] == "infeasible"
    assert data["diagnosis"]["shortfalls"][0]["short_by"] == pytest.approx(700.0, rel=1e-6)


def test_json_stdout_is_clean_json_without_the_matrix_by_default(base, tmp_path):
    result = runner.invoke(app, ["plan", str(write(tmp_path, base)), "--json"])
    assert result.exit_code == 0
    assert "matrix" not in json.loads(result.stdout)
    assert result.stdout.count("\n") == 1  # compact: one line


def test_methods_agree_on_the_example():
    costs = []
    for method in ("decomposition", "lp"):
        result = runner.invoke(
            app, ["plan", str(EXAMPLE), "--json", "--no-matrix", "--method", method]
        )
        costs.append(json.loads(result.stdout)["cost_per_hour"])
    assert costs[0] == pytest.approx(costs[1], rel=1e-6)


def test_real_process_prints_only_json(tmp_path):
    """The solver library prints a banner at the C level once per process; it must not leak."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "polyfleet", "plan", str(EXAMPLE), "--json", "--no-matrix"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "optimal"


def test_probe_writes_a_profile_and_prints_the_table(tmp_path: Path):
    out = tmp_path / "prof" / "cpu.json"
    result = runner.invoke(app, ["probe", "--only", "gemm,copy", "--cpu", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["format"] == "polyfleet-profile" and data["preset"] == "tiny"
    assert {r["workload"] for r in data["results"]} == {"gemm", "copy"}
    assert "polyfleet probe (tiny preset)" in result.stdout and "TFLOP/s" in result.stdout
    assert "skipped gemm fp8" in result.stdout and "[cpu, " in result.stdout


def test_probe_json_goes_to_stdout_alone():
    result = runner.invoke(app, ["probe", "--only", "copy", "--cpu", "--json", "--as", "mi300x"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["device"]["accelerator"] == "mi300x"
    assert data["results"][0]["peak_bandwidth_fraction"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "gemm,warp-drive"], "unknown workload"),
        (["--preset", "huge"], "unknown preset"),
        (["--as", "h999"], "unknown accelerator"),
    ],
)
def test_probe_bad_options_fail_before_writing(tmp_path: Path, args, message):
    out = tmp_path / "p.json"
    result = runner.invoke(app, ["probe", "--cpu", "--out", str(out), *args])
    assert result.exit_code == 1
    assert message in result.stderr and not out.exists()


def test_probe_without_torch_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(__import__("sys").modules, "polyfleet.probe.device", None)
    result = runner.invoke(app, ["probe"])
    assert result.exit_code == 1 and "polyfleet[probe]" in result.stderr


def _examples(tmp_path: Path) -> dict[str, Path]:
    """Copies of the bundled inputs (a procurement file names its deal relative to itself)."""
    import shutil

    examples = EXAMPLE.parent
    shutil.copytree(examples / "deals", tmp_path / "deals")
    for name in ("hyperscaler-2026.yaml", "buildout-2027-2030.yaml"):
        shutil.copy(examples / name, tmp_path / name)
    return {
        "scenario": tmp_path / "hyperscaler-2026.yaml",
        "procurement": tmp_path / "buildout-2027-2030.yaml",
        "deal": tmp_path / "deals" / "amd-6gw.yaml",
    }


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["plan", "{scenario}", "--out", "{scenario}"], "--out: {scenario} is also SCENARIO"),
        (["plan", "{scenario}", "--html", "{scenario}"], "--html: {scenario} is also SCENARIO"),
        (["plan", "{scenario}", "--out", "{x}", "--html", "{x}"], "is also the path of --out"),
        (["procure", "{procurement}", "--out", "{procurement}"], "is also FILE"),
        (["deal", "{deal}", "--html", "{deal}"], "is also FILE"),
        (["frontier", "{scenario}", "--html", "{scenario}"], "is also SCENARIO"),
        (["plan", "{scenario}", "--out", "{dir}"], "is a folder"),
        (["plan", "{scenario}", "--html", "{scenario}/r.html"], "which is a file, not a folder"),
        (["procure", "{procurement}", "--out", "{dir}"], "is a folder"),
        (["deal", "{deal}", "--html", "{dir}"], "is a folder"),
        (["frontier", "{scenario}", "--html", "{dir}"], "is a folder"),
        (["probe", "--cpu", "--only", "copy", "--out", "{dir}"], "is a folder"),
        (["probe", "--cpu", "--only", "copy", "--out", "{scenario}/p.json"], "not a folder"),
    ],
)
def test_outputs_are_checked_before_any_work(tmp_path: Path, command, message):
    """An output that would overwrite an input, or that cannot be written, is refused before
    anything is read or solved: exit 1, one message, every input unchanged, nothing written."""
    paths = {k: str(v) for k, v in _examples(tmp_path).items()}
    paths |= {"x": str(tmp_path / "x.out"), "dir": str(tmp_path / "deals")}
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    result = runner.invoke(app, [part.format(**paths) for part in command])
    assert result.exit_code == 1, result.output
    assert "".join(message.format(**paths).split()) in "".join(result.stderr.split())
    assert "Traceback" not in result.output and not isinstance(result.exception, OSError)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_plan_files_get_ordinary_permissions(tmp_path: Path):
    import os

    old = os.umask(0o022)
    try:
        out, html = tmp_path / "plan.json", tmp_path / "plan.html"
        result = runner.invoke(app, ["plan", str(EXAMPLE), "--out", str(out), "--html", str(html)])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o644 and html.stat().st_mode & 0o777 == 0o644
