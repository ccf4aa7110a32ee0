"""Output files: checked before any work, written whole or not at all, with ordinary permissions.

Every command that writes files calls `check_outputs` before it reads or solves anything, so a bad
path is refused up front rather than after a long solve: an output may not be one of the
command's inputs or another of its outputs, `-` (standard output, which cannot be written whole or
not at all: `--json` prints a record), an existing folder (a file output) or file (a folder
output), under a regular file, or in a place this process cannot create files in. `child_path`
keeps a generated file name (a job's profile) inside its folder.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from polyfleet.errors import InputError

__all__ = ["check_outputs", "child_path", "write_atomic"]

Named = Mapping[str, "Path | None"]


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write `text` (or bytes) to `path` through a temporary file and a rename: never a
    half-written file.

    The temporary file is created with mode 0666 less the umask (as `open()` would create the
    file), not mkstemp's 0600, so the output is as readable as any file the user writes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as out:
                out.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _same(a: Path, b: Path) -> bool:
    """One file under two names: equal resolved paths, or the same inode (a hard link)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _creatable(path: Path, option: str) -> None:
    """Refuse `path` unless its nearest existing ancestor is a folder this process can write in."""
    parent = path.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            f"{path} is under {parent}, which is a file, not a folder; choose another path",
            field=option,
        )
    try:  # the one sure test of writability (root, ACLs, read-only mounts): try it
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".polyfleet-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            f"cannot create files in {parent} ({exc.strerror or exc}); choose another path",
            field=option,
        ) from None


def check_outputs(
    outputs: Named | None = None, *, folders: Named | None = None, inputs: Named | None = None
) -> None:
    """Refuse, before any work, output paths that would clobber an input or each other, or that
    cannot be written. Keys are the option names (`--out`) or argument names (`SCENARIO`) the
    user typed, so the message points at what to change; None values are skipped."""
    files = {k: Path(v) for k, v in (outputs or {}).items() if v is not None}
    dirs = {k: Path(v) for k, v in (folders or {}).items() if v is not None}
    for option, path in [*files.items(), *dirs.items()]:
        if str(path) == "-":
            raise InputError(
                "outputs are files, written whole or not at all, and '-' does not mean standard "
                "output here; give a file path (--json prints the result to standard output)",
                field=option,
                value="-",
            )
    sources = {k: Path(v) for k, v in (inputs or {}).items() if v is not None}
    named = [*files.items(), *dirs.items()]
    for i, (option, path) in enumerate(named):
        for what, source in sources.items():
            if _same(path, source):
                raise InputError(
                    f"{path} is also {what}, which writing it would overwrite; choose another path",
                    field=option,
                )
        for other, earlier in named[:i]:
            if (option in files or other in files) and _same(path, earlier):
                raise InputError(
                    f"{path} is also the path of {other}; give each output its own path",
                    field=option,
                )
    for option, path in files.items():
        if path.is_dir():
            raise InputError(
                f"{path} is a folder; give a file path (e.g. {path / 'out'})", field=option
            )
        if path.exists() and not path.is_file():
            raise InputError(f"{path} is not a regular file; choose another path", field=option)
        _creatable(path, option)
    for option, path in dirs.items():
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} is a file, not a folder; give a folder path", field=option)
        _creatable(path / "x", option)


def child_path(folder: str | Path, name: str) -> Path:
    """`folder/name`, refused unless it lands directly inside `folder` (no separator, no `..`,
    no link that leads out)."""
    folder = Path(folder)
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise InputError(f"{name!r} is not a plain file name", field=str(folder))
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise InputError(f"{path} would be written outside {folder}", field=str(folder))
    return path
