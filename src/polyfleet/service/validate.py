"""Validating a document with the same loaders the command line uses, so that its errors (file,
line, field path, value) read exactly as `polyfleet plan fleet.yaml` would print them.

The loaders read files, so the document is written under its stored name into a fresh folder
inside the store's scratch folder, with the deal and profile files it names taken from the store
(by their last path component) at the relative paths it names them by; the loader then reads that
copy. Paths in errors are made relative to that folder again. A reference that could leave the
folder (absolute, `..`, backslashes) is refused before any loader runs, so nothing a request sends
can make a loader read outside the scratch folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from polyfleet.errors import InputError, PolyfleetError
from polyfleet.service.store import Store, check_name

__all__ = ["LOADERS", "REFERENCES", "validate_document"]


def _load_scenario(path: Path) -> Any:
    from polyfleet.inputs.scenario import load_scenario

    return load_scenario(path)


def _load_procurement(path: Path) -> Any:
    from polyfleet.inputs.procurement import load_procurement

    return load_procurement(path)


def _load_deal(path: Path) -> Any:
    from polyfleet.inputs.deal import load_deal

    return load_deal(path)


def _load_profile(path: Path) -> Any:
    from polyfleet.inputs.profile import load_profile

    return load_profile(path)


def _load_jobs(path: Path) -> Any:
    from polyfleet.inputs.jobs import load_jobs

    return load_jobs(path)


LOADERS: dict[str, Callable[[Path], Any]] = {
    "scenario": _load_scenario,
    "procurement": _load_procurement,
    "deal": _load_deal,
    "profile": _load_profile,
    "jobs": _load_jobs,
}
# the keys of a document that name other files, and the kind of document each names
REFERENCES: dict[str, dict[str, str]] = {
    "scenario": {"deals": "deal", "profiles": "profile"},
    "procurement": {"deals": "deal"},
}


def validate_document(
    store: Store, kind: str, name: str, content: bytes, scratch: Path
) -> PolyfleetError | None:
    """The error the command line would report for this document, or None when it is valid."""
    check_name(kind, name)
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="validate-", dir=scratch))
    try:
        path = folder / name
        path.write_bytes(content)
        try:
            _materialise(store, kind, path)
            LOADERS[kind](path)
        except PolyfleetError as exc:
            return _relative(exc, folder)
        except RecursionError:
            return InputError("the document is nested too deeply", file=name)
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _materialise(store: Store, kind: str, path: Path) -> None:
    """Write the stored documents that `path` names under REFERENCES next to it."""
    refs = REFERENCES.get(kind)
    if not refs:
        return
    from polyfleet.inputs.reader import line_of, read_document

    data, text = read_document(path)
    if not isinstance(data, dict):
        return  # the loader reports it
    for key, ref_kind in refs.items():
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue
            rel = _safe_relative(entry)
            if rel is None:
                raise InputError(
                    "a file named in a stored document is a relative path inside the store: "
                    "no absolute path, '..', '.' or backslash",
                    file=path.name,
                    field=f"{key}[{i}]",
                    value=entry,
                    line=line_of(text, [key, i]),
                )
            stored = store.documents.get(ref_kind, rel.name)
            if stored is None:
                continue  # the loader reports the missing file as the command line does
            target = path.parent.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(stored.content)


def _safe_relative(entry: str) -> PurePosixPath | None:
    """`entry` as a relative path of plain names, or None if it could leave its folder."""
    if not entry or "\\" in entry or "\x00" in entry or entry.startswith("/"):
        return None
    parts = entry.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return PurePosixPath(*parts)


def _relative(exc: PolyfleetError, folder: Path) -> PolyfleetError:
    """`exc` with the scratch folder taken out of every path it mentions."""
    prefix = str(folder) + "/"
    if isinstance(exc, InputError):
        for attr in ("file", "hint", "message", "value"):
            value = getattr(exc, attr)
            if isinstance(value, str) and prefix in value:
                setattr(exc, attr, value.replace(prefix, ""))
        exc.args = (str(exc),)
        return exc
    text = str(exc)
    if prefix in text:
        exc.args = (text.replace(prefix, ""),)
    return exc
