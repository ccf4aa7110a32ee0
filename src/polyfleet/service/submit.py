"""Submitting a run and reading its record back: what the API and the dashboard share.

A submission pins every stored version the run will read (its document, the deals and profiles
that document names, the profiles its options name) and writes the run, queued, before it is
acknowledged; the worker then reads exactly those versions, however the documents change after.
"""

from __future__ import annotations

from typing import Any

from polyfleet.errors import InputError
from polyfleet.results.base import Record
from polyfleet.service.errors import ApiError
from polyfleet.service.materialise import Reference, references
from polyfleet.service.run_kinds import KINDS, parse_run_options
from polyfleet.service.store import RunInfo, Store, check_name

__all__ = ["RECORD_OF_KIND", "read_record", "submit_run"]

# the record each kind of run answers with (polyfleet.results.RECORDS names)
RECORD_OF_KIND = {
    "plan": "plan",
    "leverage": "leverage",
    "frontier": "frontier",
    "procure": "procurement",
    "deal": "deal",
}


def submit_run(
    store: Store,
    kind: str,
    document_kind: str,
    name: str,
    version: int | None,
    options: dict[str, Any] | None,
    created_by: str | None,
) -> RunInfo:
    """Check the request, pin the versions it reads, and store the run (queued)."""
    wanted = KINDS[kind].document
    if document_kind != wanted:
        raise ApiError(
            422,
            "invalid_input",
            f"a {kind} run reads a {wanted}, not a {document_kind}",
            field="document.kind",
        )
    try:
        check_name(wanted, name)
    except InputError as exc:
        raise ApiError(422, "invalid_input", exc.message, field="document.name") from None
    parsed = parse_run_options(kind, options)
    doc = store.documents.get(wanted, name, version)
    if doc is None:
        what = f"version {version} of " if version is not None else ""
        raise ApiError(404, "not_found", f"no {what}{wanted} named {name!r}", field="document.name")
    refs = references(store, wanted, name, doc.content)
    for i, profile in enumerate(parsed.get("profiles") or ()):
        stored = store.documents.get("profile", profile)
        if stored is None:
            raise ApiError(
                422,
                "invalid_input",
                f"no stored profile named {profile!r}",
                field=f"options.profiles[{i}]",
            )
        refs.append(
            Reference.of(stored.info, f"options-profiles/{profile}", f"options.profiles[{i}]")
        )
    inputs = [r.as_input() for r in refs]
    return store.runs.create(kind, doc.info.id, parsed, created_by=created_by, inputs=inputs)


def read_record(store: Store, run: RunInfo) -> Record | None:
    """The run's record as its result class (None while it has none)."""
    from polyfleet.results import record_class

    text = store.runs.record(run.id)
    if text is None:
        return None
    cls = record_class(RECORD_OF_KIND[run.kind])
    parsed: Record = cls.model_validate_json(text)
    return parsed
