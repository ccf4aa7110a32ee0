"""Output files: refused up front when they would clobber an input or cannot be written, written
whole, with the permissions any file the user creates gets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from polyfleet.errors import InputError
from polyfleet.report.files import check_outputs, child_path, write_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_get_the_umask_default_mode(tmp_path: Path, umask_022):
    path = tmp_path / "sub" / "plan.json"
    write_atomic(path, "{}")
    assert path.read_text() == "{}"
    assert path.stat().st_mode & 0o777 == 0o644
    write_atomic(path, "[]")  # replacing keeps it whole and ordinary
    assert path.read_text() == "[]" and path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]  # no temporary left


def test_outputs_that_clobber_inputs_or_each_other_are_refused(tmp_path: Path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(scenario)
    hard = tmp_path / "hard.yaml"
    os.link(scenario, hard)
    for out in (scenario, tmp_path / "." / "s.yaml", link, hard):
        with pytest.raises(InputError, match="is also SCENARIO") as err:
            check_outputs({"--out": out}, inputs={"SCENARIO": scenario})
        assert err.value.field == "--out"
    with pytest.raises(InputError, match=r"is also the path of --out") as err:
        check_outputs({"--out": tmp_path / "x", "--html": tmp_path / "x"})
    assert err.value.field == "--html"
    # a folder output may hold the other outputs' folder (distinct names inside): only files clash
    check_outputs(folders={"--profiles-out": tmp_path / "p", "--state-dir": tmp_path / "p"})
    assert scenario.read_text() == "name: x\n"


def test_outputs_that_cannot_be_written_are_refused(tmp_path: Path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        ({"--out": tmp_path}, "is a folder"),
        ({"--out": afile / "plan.json"}, "which is a file, not a folder"),
        ({"--out": afile / "deeper" / "plan.json"}, "which is a file, not a folder"),
    ]
    if Path("/proc/self").is_dir():  # a place no one can create files in, root included
        cases.append(({"--html": Path("/proc/polyfleet-nowhere/r.html")}, "cannot create files"))
    for outputs, message in cases:
        with pytest.raises(InputError, match=message):
            check_outputs(outputs)
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_outputs(folders={"--profiles-out": afile})
    check_outputs({"--out": tmp_path / "new" / "deeper" / "plan.json"})  # made when written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # the checks wrote nothing


def test_a_dash_is_refused_not_written_as_a_file(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for outputs, folders in [({"--out": Path("-")}, None), (None, {"--profiles-out": "-"})]:
        with pytest.raises(InputError, match="standard output") as err:
            check_outputs(outputs, folders=folders)
        assert err.value.value == "-"
    check_outputs({"--out": Path("./-x")})  # a name that only starts with one is a name
    assert list(tmp_path.iterdir()) == []


def test_child_paths_stay_in_their_folder(tmp_path: Path):
    assert child_path(tmp_path, "nv--job-1.json") == tmp_path / "nv--job-1.json"
    for name in ("../x.json", "a/../../x.json", "..", "", "/etc/passwd", "a\\b"):
        with pytest.raises(InputError):
            child_path(tmp_path, name)
    (tmp_path / "out").symlink_to("/tmp")
    with pytest.raises(InputError, match="outside"):
        child_path(tmp_path, "out")
