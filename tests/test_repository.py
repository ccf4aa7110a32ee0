"""Checks on the repository's own files that no other test would catch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKERS = ("<<<<<<< ", ">>>>>>> ", "=======\n")


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.fail("git ls-files failed: the tests run from a git checkout")
    return [ROOT / p for p in out.decode().split("\0") if p]


def test_no_merge_conflict_markers_are_committed():
    """A merge resolved by hand can leave its markers in a file nobody runs (a README, a
    benchmark table); they must never reach main."""
    found = []
    for path in _tracked():
        if path.suffix in (".png", ".parquet", ".whl") or not path.is_file():
            continue
        try:
            lines = path.read_text("utf-8").splitlines(keepends=True)
        except UnicodeDecodeError:
            continue
        starts = [i for i, line in enumerate(lines) if line.startswith(MARKERS[0])]
        for i in starts:
            rest = lines[i + 1 :]
            if any(line == MARKERS[2] for line in rest) and any(
                line.startswith(MARKERS[1]) for line in rest
            ):
                found.append(f"{path.relative_to(ROOT)}:{i + 1}")
    assert not found, f"merge conflict markers committed: {', '.join(found)}"
