"""`polyfleet run`'s inputs, refused before the cluster or the ledger is touched: the plan JSON,
job ids that would name files outside their folder, --profiles-out, --retries and --timeout.
No cluster is needed: every one of these fails before `run` connects."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.dispatch.jobs import execute
from polyfleet.errors import InputError
from polyfleet.inputs.jobs import load_jobs

from .test_ledger_files import JOBS, PLAN, flat, inputs

runner = CliRunner()


def _plan(**change: Any) -> dict[str, Any]:
    plan = json.loads(json.dumps(PLAN))
    for path, value in change.items():
        *parents, last = path.split("__")
        node = plan
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is KeyError:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return plan


# (name, the plan file's bytes, field path, text in the message)
PLANS: list[tuple[str, bytes, str | None, str]] = [
    ("zero", json.dumps(_plan(assignments__0__accelerators=0)).encode(), "accelerators", "greater"),
    ("negative", json.dumps(_plan(assignments__0__accelerators=-8)).encode(), "accelerators", ""),
    (  # json.dumps writes the token NaN, which JSON does not have but Python reads
        "nan",
        json.dumps(_plan(assignments__0__accelerators=float("nan"))).encode(),
        "accelerators",
        "finite",
    ),
    (
        "infinite",
        json.dumps(_plan(assignments__0__accelerators=float("inf"))).encode(),
        "accelerators",
        "finite",
    ),
    ("huge", json.dumps(_plan(assignments__0__accelerators=1e308)).encode(), "accelerators", ""),
    (
        "a string count",
        json.dumps(_plan(assignments__0__accelerators="8")).encode(),
        "accelerators",
        "",
    ),
    (
        "a true count",
        json.dumps(_plan(assignments__0__accelerators=True)).encode(),
        "accelerators",
        "",
    ),
    ("not a list", json.dumps(_plan(assignments={"workload": "w"})).encode(), "assignments", ""),
    ("no workloads", json.dumps(_plan(workloads=KeyError)).encode(), "workloads", "required"),
    ("no pool", json.dumps(_plan(assignments__0__pool=KeyError)).encode(), "pool", "required"),
    ("a top-level string", b'"optimal"', None, "JSON object"),
    ("a top-level list", b"[1, 2]", None, "JSON object"),
    ("not UTF-8", b'{"status": "\xff\xfe"}', None, "not UTF-8 text"),
    ("not JSON", b"{status: [", None, "syntax error"),
    (
        "an unlisted workload",
        json.dumps(_plan(assignments__0__workload="x")).encode(),
        "assignments[0].workload",
        "does not list",
    ),
    ("infeasible", json.dumps(_plan(status="infeasible")).encode(), "status", "optimal plan"),
    (
        "an earlier plan without a format",
        json.dumps(_plan(format=KeyError, schema_version=KeyError)).encode(),
        "format",
        "not a polyfleet.plan record",
    ),
    (
        "another record",
        json.dumps(_plan(format="polyfleet.leverage")).encode(),
        "format",
        "not a polyfleet.plan record",
    ),
    (
        "another schema version",
        json.dumps(_plan(schema_version=2)).encode(),
        "schema_version",
        "unsupported polyfleet.plan schema version",
    ),
]


@pytest.mark.parametrize(("name", "content", "field", "message"), PLANS, ids=[p[0] for p in PLANS])
def test_a_bad_plan_is_refused_naming_file_and_field(
    tmp_path, monkeypatch, name, content, field, message
):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    Path("plan.json").write_bytes(content)
    result = runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json"])
    err = flat(result.stderr)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert err.startswith("error:plan.json") and flat(message) in err
    if field is not None:
        assert field in err
    assert not Path(".polyfleet").exists()  # no ledger, no lock: nothing was touched


def test_run_errors_name_the_job_file(tmp_path, monkeypatch):
    from polyfleet.dispatch.runner import validate

    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    jobs = load_jobs("jobs.yaml")
    bad = [j.model_copy(update={"workload": "nope"}) for j in jobs]
    with pytest.raises(
        InputError,
        match=r"^jobs.yaml: job j0: unknown workload 'nope'; the plan "
        r"plan.json has w",
    ):
        validate(bad, PLAN, {"p": {"alive": True}}, jobs_file="jobs.yaml", plan_file="plan.json")


@pytest.mark.parametrize(
    "job_id", ["../../escape", "a/../../b", "/etc/passwd", "..", ".hidden", "a b", "x" * 101, ""]
)
def test_job_ids_are_safe_file_names(tmp_path, job_id):
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml.safe_dump({"jobs": [{**JOBS["jobs"][0], "id": job_id}]}))
    with pytest.raises(InputError, match="a job id is 1 to 100 letters") as err:
        load_jobs(path)
    assert err.value.field == "jobs[0].id" and err.value.line == 2  # "- id: ..."


def test_generated_ids_are_safe_whatever_the_workload_is_called(tmp_path):
    from polyfleet.inputs.jobs import SAFE_ID

    path = tmp_path / "jobs.yaml"
    spec = {"workload": "../team a/../x", "run": {"entry": "m:f"}, "count": 3}
    path.write_text(yaml.safe_dump({"jobs": [spec, {**spec, "id": "ok.1_a-b"}]}))
    ids = [j.id for j in load_jobs(path)]
    assert len(set(ids)) == 6 and all(SAFE_ID.fullmatch(i) for i in ids), ids


def test_profiles_stay_in_their_folder_whatever_the_pool_is_called(tmp_path, tiny_profile):
    from polyfleet.dispatch.runner import _write_profile

    written = Path(_write_profile(tmp_path, "job-1", "../../evil", tiny_profile.model_dump()))
    assert written.parent == tmp_path and written.exists()


def test_a_value_json_cannot_hold_is_kept_as_a_marked_repr():
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    out = execute({"entry": "uuid:UUID", "args": {"hex": value.hex}})
    json.dumps(out, allow_nan=False)  # storable as it is
    assert out["value"] == {"not_json": "uuid.UUID", "repr": repr(value)}
    nested = execute({"entry": "builtins:dict", "args": {"a": [1.5, float("nan")], "b": "x"}})
    assert nested["value"]["a"][0] == 1.5 and nested["value"]["a"][1]["repr"] == "nan"


def test_a_bad_profiles_folder_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    probe = {"id": "probe", "workload": "w", "run": {"probe": "copy", "preset": "tiny"}}
    Path("jobs.yaml").write_text(yaml.safe_dump({"jobs": [probe]}))
    Path("profiles").write_text("a file")
    result = runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert flat("--profiles-out: profiles is a file, not a folder") in flat(result.stderr)
    assert not Path(".polyfleet").exists()
    # jobs that write no profile do not care where profiles would go
    inputs(tmp_path)
    result = runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json"])
    assert result.exit_code == 1 and "no cluster" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--retries", "-1"),
        ("--retries", "1000"),
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--timeout", "0"),
        ("--timeout", "-5"),
    ],
)
def test_run_options_out_of_range_are_refused(tmp_path, monkeypatch, option, value):
    monkeypatch.chdir(tmp_path)
    inputs(tmp_path)
    result = runner.invoke(app, ["run", "jobs.yaml", "--plan", "plan.json", option, value])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    err = flat(result.stderr)  # the range of the option's quantity, as a file's field gets it
    assert err.startswith(flat(f"error: {option}: ")) and ("mustbe" in err or "finite" in err)
    assert not Path(".polyfleet").exists()
