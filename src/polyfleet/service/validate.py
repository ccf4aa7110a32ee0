"""Validating a document with the same loaders the command line uses, so that its errors (file,
line, field path, value) read exactly as `polyfleet plan fleet.yaml` would print them.

The loaders read files, so the document and the deal and profile files it names are written
into a fresh folder inside the store's scratch folder (materialise.py) and the loader reads that
copy; paths in errors are made relative to that folder again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyfleet.errors import InputError, PolyfleetError
from polyfleet.service.materialise import materialise, references, relative_error, scratch_folder
from polyfleet.service.store import Store, check_name

__all__ = ["LOADERS", "validate_document"]


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


def validate_document(
    store: Store, kind: str, name: str, content: bytes, scratch: Path
) -> PolyfleetError | None:
    """The error the command line would report for this document, or None when it is valid."""
    check_name(kind, name)
    with scratch_folder(scratch, "validate-") as folder:
        try:
            refs = references(store, kind, name, content)
            path = materialise(store, folder, kind, name, content, refs)
            LOADERS[kind](path)
        except PolyfleetError as exc:
            return relative_error(exc, folder)
        except RecursionError:
            return InputError("the document is nested too deeply", file=name)
        return None
