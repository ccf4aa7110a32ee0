"""The base of every result record: a typed pydantic model with its `format` and `schema_version`,
built from a command's computed result, written by one dump, read back by one loader.

A record is the contract between polyfleet and whatever reads its answers (a file `--out` wrote,
`polyfleet run`, the team service, a user's own tools), so:

- every record says what it is (`format`, e.g. "polyfleet.plan") and which version of that
  shape it has (`schema_version`, an integer that grows when a field changes meaning or goes);
- reading one back refuses another format or version before anything else, naming the field;
- every number is finite: a NaN or infinity in a computed result is a SolverError naming its
  JSON path (exit 3), never printed or written, and a file that holds one is refused on reading;
- the JSON is written by one function (`dump_record`), so every command prints the same way.

Nothing here imports the planner: dispatch reads plans through these models without numpy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polyfleet.errors import InputError, SolverError
from polyfleet.finite import check_finite
from polyfleet.inputs.convert import input_error
from polyfleet.inputs.reader import line_of, read_document

__all__ = ["Part", "Record", "dump_record", "omitted"]


def _is_none(value: Any) -> bool:
    return value is None


def omitted(description: str | None = None) -> Any:
    """A field that is left out of the JSON when it has no value (a plan's diagnosis, a deal's
    warrant), as the commands have always printed them, rather than written as null."""
    return Field(None, exclude_if=_is_none, description=description)


class Part(BaseModel):
    """A nested part of a record: known fields only, finite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, ser_json_inf_nan="constants")


class Record(Part):
    """A versioned result record. Subclasses declare `format` and `schema_version` as Literal
    fields with their value as default, and `NAME` (what `polyfleet schema` calls it)."""

    NAME: ClassVar[str]
    #: How a command describes the record in errors ("the plan result has ...").
    WHAT: ClassVar[str] = ""

    format: str = Field(description="What the record is, e.g. 'polyfleet.plan'.")
    schema_version: int = Field(description="The version of this format's shape.")

    @classmethod
    def format_name(cls) -> str:
        return str(cls.model_fields["format"].default)

    @classmethod
    def version(cls) -> int:
        return int(cls.model_fields["schema_version"].default)

    @classmethod
    def build(cls, data: dict[str, Any]) -> Self:
        """The record of a computed result, validated in one call (pydantic-core, not one Python
        object at a time). A non-finite number is the SolverError the finite check raises."""
        data = {"format": cls.format_name(), "schema_version": cls.version(), **data}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = next((e for e in exc.errors() if e["type"] == "finite_number"), None)
            if err is None:
                raise  # the computation produced a shape the record does not have: a bug
            path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            raise SolverError(
                f"the {cls.WHAT or cls.NAME} result has a non-finite number at {path} "
                f"({err['input']}); nothing was printed or written",
                status="non-finite result",
                seconds=0.0,
            ) from None

    @classmethod
    def parse(cls, data: Any, *, file: str = "<record>", text: str | None = None) -> Self:
        """Validate record data read from `file`; another format or schema version is refused
        first, naming the field (`text`, the source, lets errors give a line)."""
        fmt, version = cls.format_name(), cls.version()
        if not isinstance(data, dict):
            raise InputError(
                f"a {fmt} record must be a JSON object, as `polyfleet {cls.NAME} --json` writes",
                file=file,
                value=data if isinstance(data, str | int | float | bool) else type(data).__name__,
            )
        found = data.get("format")
        if found != fmt:
            raise InputError(
                f"not a {fmt} record",
                file=file,
                field="format",
                value=found,
                line=line_of(text, ["format"]),
                hint=f"A {cls.NAME} record has format '{fmt}'",
            )
        found = data.get("schema_version")
        if type(found) is not int or found != version:
            raise InputError(
                f"unsupported {fmt} schema version",
                file=file,
                field="schema_version",
                value=found,
                line=line_of(text, ["schema_version"]),
                hint=f"This polyfleet reads version {version}; write the record again with it",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise input_error(exc, file=file, text=text, model=cls) from None

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read and validate a record file (JSON whatever its name)."""
        data, text = read_document(Path(path), syntax="json", fast=True)
        return cls.parse(data, file=str(path), text=text)

    def dump(self) -> str:
        return dump_record(self)


def dump_record(record: BaseModel, *, what: str | None = None) -> str:
    """The record as compact JSON text (no indentation: a 100k-workload plan is a third smaller),
    ending in a newline, after the finite check: the one way every command prints `--json` and
    writes `--out`.

    pydantic-core writes the JSON (no Python object per value; at 100k workloads faster than
    orjson, which needs the record as Python objects first: BENCHMARKS.md); a NaN or infinity
    would come out as a `NaN` / `Infinity` token (the records' `ser_json_inf_nan`), never as a
    silent null, so the check is a scan of the bytes, and only a hit (a token, or those letters
    in a text) walks the record to name the path of the first non-finite number."""
    text = record.model_dump_json()
    if "NaN" in text or "Infinity" in text:
        name = what or getattr(record, "WHAT", "") or getattr(record, "NAME", "result")
        check_finite(record.model_dump(), name)
    return text + "\n"
