"""Validation over HTTP reports what the command line reports, to the character: the same
loaders run on a copy in the store's scratch folder, and no request path reaches the disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app as cli
from polyfleet.errors import InputError
from polyfleet.inputs.jobs import load_jobs
from polyfleet.inputs.profile import load_profile

from .conftest import EXAMPLES, Api

SCENARIO = (EXAMPLES / "hyperscaler-2026.yaml").read_text()
PROCUREMENT = (EXAMPLES / "buildout-2027-2030.yaml").read_text()
DEAL = (EXAMPLES / "deals" / "amd-6gw.yaml").read_text()
JOBS = (EXAMPLES / "jobs.yaml").read_text()
PROFILE = (EXAMPLES / "profiles" / "h200-sxm-full.json").read_text()
runner = CliRunner()


def _cli(command: str) -> Callable[[str], str]:
    """The error line `polyfleet <command> FILE` prints, joined back from rich's wrapping."""

    def message(name: str) -> str:
        result = runner.invoke(cli, [command, name])
        assert result.exit_code == 1, result.output
        return " ".join(result.stderr.split()).removeprefix("error: ")

    return message


def _loader(load: Callable[[str], object]) -> Callable[[str], str]:
    def message(name: str) -> str:
        with pytest.raises(InputError) as caught:
            load(name)
        return str(caught.value)

    return message


# (kind segment, document name, bad content, stored deals, what the command line says)
CASES = {
    "scenario field": (
        "scenarios",
        "fleet.yaml",
        SCENARIO.replace("count: 400000", "count: -5"),
        {"amd-6gw.yaml": DEAL},
        _cli("plan"),
    ),
    "scenario missing deal file": ("scenarios", "fleet.yaml", SCENARIO, {}, _cli("plan")),
    "scenario's deal is bad": (
        "scenarios",
        "fleet.yaml",
        SCENARIO,
        {"amd-6gw.yaml": DEAL.replace("shares: 160000000", "shares: -1")},
        _cli("plan"),
    ),
    "scenario YAML syntax": ("scenarios", "fleet.yaml", "pools: [\n  a: 1\n", {}, _cli("plan")),
    "scenario JSON syntax": ("scenarios", "fleet.json", '{"pools": [1,\n}', {}, _cli("plan")),
    "procurement": (
        "procurements",
        "build.yaml",
        PROCUREMENT.replace("years: [2027, 2028, 2029, 2030]", "years: [2027, 2029, 2030, 2031]"),
        {"amd-6gw.yaml": DEAL},
        _cli("procure"),
    ),
    "deal": (
        "deals",
        "amd.yaml",
        DEAL.replace("accelerator: mi455x", "accelerator: mi999"),
        {},
        _cli("deal"),
    ),
    "profile": (
        "profiles",
        "p.json",
        PROFILE.replace('"schema_version": 1', '"schema_version": 7'),
        {},
        _loader(load_profile),
    ),
    "jobs": (
        "job-files",
        "jobs.yaml",
        JOBS.replace("preset: tiny", "preset: huge"),
        {},
        _loader(load_jobs),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_errors_read_exactly_as_on_the_command_line(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
):
    segment, name, content, deals, expected_of = CASES[case]
    # the command line, run where the file and its deals lie side by side
    here = tmp_path / "cli"
    (here / "deals").mkdir(parents=True)
    (here / name).write_text(content)
    for deal_name, deal_text in deals.items():
        (here / "deals" / deal_name).write_text(deal_text)
    monkeypatch.chdir(here)
    expected = expected_of(name)
    monkeypatch.undo()

    for deal_name, deal_text in deals.items():
        stored = api.client.post(
            f"/api/v1/deals?name={deal_name}",
            content=deal_text.encode(),
            headers={**api.auth("planner"), "content-type": "application/yaml"},
        )
        assert stored.status_code == 201
    unstored = api.client.post(
        f"/api/v1/validate/{segment}?name={name}",
        content=content.encode(),
        headers={**api.auth("planner"), "content-type": "application/yaml"},
    )
    assert (
        api.client.post(
            f"/api/v1/{segment}?name={name}", content=content.encode(), headers=api.auth("planner")
        ).status_code
        == 201
    )
    stored = api.client.post(f"/api/v1/{segment}/{name}/validate", headers=api.auth("viewer"))
    for response in (unstored, stored):
        assert response.status_code == 200
        body = response.json()
        assert body["valid"] is False and body["name"] == name
        assert body["error"]["message"] == expected
        assert body["error"]["code"] == "invalid_input"
        assert str(tmp_path) not in response.text  # no server path leaks into the answer
    assert stored.json()["version"] == 1 and unstored.json()["version"] is None
    error = stored.json()["error"]
    if error["line"] is not None:
        assert f"{error['file']}:{error['line']}:" in expected
    if error["field"] is not None:
        assert error["field"] in expected


def test_valid_documents_and_the_bundled_examples(api: Api):
    auth = api.auth("planner")
    for segment, name, content in (
        ("deals", "amd-6gw.yaml", DEAL),
        ("scenarios", "hyperscaler-2026.yaml", SCENARIO),
        ("procurements", "buildout.yaml", PROCUREMENT),
        ("job-files", "jobs.yaml", JOBS),
        ("profiles", "h200.json", PROFILE),
    ):
        assert (
            api.client.post(
                f"/api/v1/{segment}?name={name}", content=content.encode(), headers=auth
            ).status_code
            == 201
        )
        checked = api.client.post(f"/api/v1/{segment}/{name}/validate", headers=auth).json()
        assert checked == {
            "valid": True,
            "kind": checked["kind"],
            "name": name,
            "version": 1,
            "error": None,
        }


@pytest.mark.parametrize(
    "entry",
    ["../../secret.yaml", "/etc/secret.yaml", "deals/../../secret.yaml", "./x.yaml", "a\\b.yaml"],
)
def test_references_outside_the_store_are_refused(api: Api, tmp_path: Path, entry: str):
    # a readable file where a traversal from the scratch folder would land
    (tmp_path / "secret.yaml").write_text("name: stolen\n")
    content = SCENARIO.replace("deals: [deals/amd-6gw.yaml]", f"deals: [{entry!r}]")
    response = api.client.post(
        "/api/v1/validate/scenarios?name=fleet.yaml",
        content=content.encode(),
        headers={**api.auth("planner"), "content-type": "application/yaml"},
    )
    error = response.json()["error"]
    assert error["field"] == "deals[0]" and "relative path inside the store" in error["message"]
    assert error["line"] == 26 and "stolen" not in response.text


def test_the_scratch_folder_is_left_empty(api: Api, tmp_path: Path):
    auth = {**api.auth("planner"), "content-type": "application/yaml"}
    api.client.post("/api/v1/validate/scenarios?name=a.yaml", content=b"pools: 1\n", headers=auth)
    api.client.post(
        "/api/v1/validate/scenarios?name=b.yaml", content=SCENARIO.encode(), headers=auth
    )
    scratch = tmp_path / "state" / "scratch"
    assert scratch.is_dir() and list(scratch.iterdir()) == []
