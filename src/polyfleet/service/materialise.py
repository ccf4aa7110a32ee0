"""Stored documents as files in the store's scratch folder, where the command line's loaders (and
the application layer) can read them.

A scenario or procurement file names deal and profile files by path; stored, it names them by
their stored names (the last path component). `references` resolves each such entry to one
stored version, and `materialise` writes the document and those versions into a fresh folder at
the relative paths the document names them by. A reference that could leave the folder
(absolute, `..`, backslashes) is an InputError before anything is written, so nothing a request
sends can make a loader read outside the scratch folder. Paths in errors are made relative to
that folder again (`relative_error`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from polyfleet.errors import InputError, PolyfleetError
from polyfleet.service.store import DocumentInfo, Store, check_name

__all__ = [
    "REFERENCES",
    "Reference",
    "materialise",
    "references",
    "relative_error",
    "scratch_folder",
]

# the keys of a document that name other files, and the kind of document each names
REFERENCES: dict[str, dict[str, str]] = {
    "scenario": {"deals": "deal", "profiles": "profile"},
    "procurement": {"deals": "deal"},
}


@dataclass(frozen=True, slots=True)
class Reference:
    """A stored version that a document reads, at the relative path it names it by; `via` says
    what named it (`deals[0]`, `options.profiles[1]`)."""

    kind: str
    name: str
    version: int
    id: int
    path: str
    via: str

    @classmethod
    def of(cls, info: DocumentInfo, path: str, via: str) -> Reference:
        return cls(info.kind, info.name, info.version, info.id, path, via)

    def as_input(self) -> dict[str, Any]:
        """As a run records it (`RunInfo.inputs`)."""
        return asdict(self)

    @classmethod
    def from_input(cls, data: dict[str, Any]) -> Reference:
        return cls(**{f: data[f] for f in cls.__dataclass_fields__})


def references(store: Store, kind: str, name: str, content: bytes) -> list[Reference]:
    """The newest stored version of every file `content` names under REFERENCES. A name the
    store lacks is left out: the loader then reports the missing file as the command line does.
    A document that does not parse names nothing (its loader reports why)."""
    refs = REFERENCES.get(kind)
    if not refs:
        return []
    from polyfleet.inputs.reader import line_of, read_document

    try:
        data, text = read_document(content, file=name)
    except PolyfleetError:
        return []
    if not isinstance(data, dict):
        return []
    out: list[Reference] = []
    for key, ref_kind in refs.items():
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue
            rel = safe_relative(entry)
            if rel is None:
                raise InputError(
                    "a file named in a stored document is a relative path inside the store: "
                    "no absolute path, '..', '.' or backslash",
                    file=name,
                    field=f"{key}[{i}]",
                    value=entry,
                    line=line_of(text, [key, i]),
                )
            stored = store.documents.get(ref_kind, rel.name)
            if stored is not None:
                out.append(Reference.of(stored.info, str(rel), f"{key}[{i}]"))
    return out


def safe_relative(entry: str) -> PurePosixPath | None:
    """`entry` as a relative path of plain names, or None if it could leave its folder."""
    if not entry or "\\" in entry or "\x00" in entry or entry.startswith("/"):
        return None
    parts = entry.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return PurePosixPath(*parts)


@contextmanager
def scratch_folder(scratch: Path, prefix: str) -> Iterator[Path]:
    """A fresh folder inside `scratch`, removed afterwards."""
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=scratch))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def materialise(
    store: Store, folder: Path, kind: str, name: str, content: bytes, refs: list[Reference]
) -> Path:
    """Write the document as `folder/name` and each reference's stored version at its path;
    the document's path."""
    check_name(kind, name)
    path = folder / name
    path.write_bytes(content)
    for ref in refs:
        rel = safe_relative(ref.path)
        stored = store.documents.get(ref.kind, ref.name, ref.version)
        if rel is None or stored is None:
            continue
        target = folder.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stored.content)
    return path


def relative_error(exc: PolyfleetError, folder: Path) -> PolyfleetError:
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
