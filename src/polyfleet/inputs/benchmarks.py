"""Tables of published results (MLPerf and the like) that calibrate the performance model.

A table names the models its results ran (in the terms the estimate needs) and one row per result:
which system, how many of which accelerator, at what precision, which model and scenario, the
throughput (or the time to train), the round and the source. The packaged table
(`perfmodel/benchmarks.yaml`, read by `perfmodel.fit`) transcribes the MLPerf figures polyfleet
ships with; users add their own in a file of the same shape. Bad rows are refused with the file,
the row (its id), the field and value. The catalog is passed in, never imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    ActiveParamsB,
    FlopPerParam,
    InputModel,
    KvDim,
    LatencyMs,
    Layers,
    MeasuredRate,
    ParamsB,
    SeqLen,
    SystemSize,
    TokenCount,
    TrainMinutes,
    one_of,
)
from polyfleet.inputs.convert import FieldError, Names, resolve_name, validate
from polyfleet.inputs.model_shape import Precision
from polyfleet.inputs.reader import dotted, line_of, read_document

__all__ = [
    "KIND_OF_SCENARIO",
    "PACKAGED",
    "BenchmarkModel",
    "BenchmarkResult",
    "BenchmarkTable",
    "LoadedBenchmarks",
    "load_benchmarks",
    "merge",
    "parse_benchmarks",
    "table_specs",
]

#: The spec that names the packaged table on the command line (`--benchmarks packaged`).
PACKAGED = "packaged"
FORMAT = "polyfleet-benchmarks"
Scenario = Literal["offline", "server", "training"]
#: The workload kind each scenario calibrates.
KIND_OF_SCENARIO: dict[str, str] = {"offline": "serve", "server": "serve", "training": "train"}


class BenchmarkModel(InputModel):
    """A model results ran, in the terms the estimate needs (as a scenario's `model:`)."""

    params_b: ParamsB
    active_params_b: ActiveParamsB | None = None
    layers: Layers | None = None
    kv_dim: KvDim = 1024
    seq_len: SeqLen = 4096
    prompt_tokens: SeqLen | None = None
    output_tokens: SeqLen | None = None
    #: tokens read to reach the quality target, for results given as a time to train
    train_tokens: TokenCount | None = None
    #: FLOPs per parameter per token of the training step: 6, or 4 for LoRA (frozen weights)
    train_flop_per_param: FlopPerParam = 6.0
    source: str = Field(min_length=1)
    assumptions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _active(self) -> BenchmarkModel:
        if self.active_params_b is not None and self.active_params_b > self.params_b:
            raise ValueError("active_params_b exceeds params_b")
        return self


class BenchmarkResult(InputModel):
    """One published result of one system."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    round: str = Field(min_length=1)
    system: str = Field(min_length=1)
    submitter: str = Field(min_length=1)
    accelerator: str = Field(min_length=1)
    count: SystemSize
    precision: Precision
    model: str = Field(min_length=1)
    scenario: Scenario
    throughput: MeasuredRate | None = None  # tokens/s of the whole system
    minutes: TrainMinutes | None = None  # time to train, training only
    token_latency_ms: LatencyMs | None = None  # the per-token latency the scenario enforced
    source: str = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _one_figure(self) -> BenchmarkResult:
        if self.scenario == "training":
            if (self.throughput is None) == (self.minutes is None):
                raise FieldError(
                    "a training result gives either minutes or throughput (tokens/s)", "minutes"
                )
        elif self.minutes is not None:
            raise FieldError(
                f"an {self.scenario} result gives throughput (tokens/s), not minutes", "minutes"
            )
        elif self.throughput is None:
            raise FieldError(
                f"an {self.scenario} result needs its throughput (tokens/s)", "throughput"
            )
        return self

    @property
    def kind(self) -> str:
        return KIND_OF_SCENARIO[self.scenario]


class BenchmarkTable(InputModel):
    """A file of published results: `format`, `schema_version`, `models`, `results`."""

    format: Literal["polyfleet-benchmarks"]
    schema_version: one_of(1)  # type: ignore[valid-type]
    references: dict[str, str] = Field(default_factory=dict)
    models: dict[str, BenchmarkModel] = Field(min_length=1)
    results: list[BenchmarkResult] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedBenchmarks:
    """Validated tables, their results' accelerators resolved to catalog ids."""

    files: tuple[str, ...]
    models: dict[str, BenchmarkModel]
    results: tuple[BenchmarkResult, ...]


def _row(data: Any, loc: Sequence[str | int]) -> str:
    """`results[3] (v4.1-x-offline).throughput`: the row's index and id, then the field."""
    path = dotted(loc)
    if len(loc) >= 2 and loc[0] == "results" and isinstance(loc[1], int):
        try:
            row_id = data["results"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            row_id = None
        if row_id:
            head = f"results[{loc[1]}]"
            path = f"{head} ({row_id})" + path[len(head) :]
    return path


def parse_benchmarks(
    data: Any, catalog: Names, *, file: str, text: str | None = None
) -> LoadedBenchmarks:
    """Validate a table's data and resolve its accelerators against `catalog`."""

    def name(loc: Sequence[str | int]) -> str:
        return _row(data, loc)

    table = validate(
        BenchmarkTable, data, file=file, text=text, what="a benchmark table", name=name
    )

    def fail(msg: str, loc: list[str | int], value: Any) -> InputError:
        return InputError(msg, file=file, field=name(loc), value=value, line=line_of(text, loc))

    seen: set[str] = set()
    results = []
    for i, row in enumerate(table.results):
        if row.id in seen:
            raise fail("duplicate result id", ["results", i, "id"], row.id)
        seen.add(row.id)
        model = table.models.get(row.model)
        if model is None:
            known = ", ".join(table.models)
            raise fail(
                f"unknown model; the table's models: {known}", ["results", i, "model"], row.model
            )
        if row.minutes is not None and model.train_tokens is None:
            raise fail(
                f"a time to train needs the model's train_tokens (models.{row.model})",
                ["results", i, "minutes"],
                row.minutes,
            )
        loc: list[str | int] = ["results", i, "accelerator"]
        acc_id = resolve_name(catalog, row.accelerator, loc, file=file, text=text, name=name)
        results.append(row.model_copy(update={"accelerator": acc_id}))
    return LoadedBenchmarks(files=(file,), models=dict(table.models), results=tuple(results))


def load_benchmarks(
    source: str | Path | bytes, catalog: Names, *, file: str | None = None
) -> LoadedBenchmarks:
    """Read and validate one table: a file (YAML, or JSON by its suffix), or the bytes of one
    (`file` names it in errors)."""
    if file is None:
        file = "<benchmarks>" if isinstance(source, bytes) else str(source)
    data, text = read_document(source, file=file)
    return parse_benchmarks(data, catalog, file=file, text=text)


def merge(tables: Sequence[LoadedBenchmarks]) -> LoadedBenchmarks:
    """Several tables as one; a model or result id defined twice is refused, naming both files."""
    models: dict[str, BenchmarkModel] = {}
    model_file: dict[str, str] = {}
    results: list[BenchmarkResult] = []
    result_file: dict[str, str] = {}
    for t in tables:
        file = t.files[0] if t.files else "<table>"
        for name, model in t.models.items():
            if name in models and models[name] != model:
                raise InputError(
                    f"model defined differently in {model_file[name]}",
                    file=file,
                    field=f"models.{name}",
                )
            models[name], model_file[name] = model, file
        for row in t.results:
            if row.id in result_file:
                raise InputError(
                    f"result id already used in {result_file[row.id]}",
                    file=file,
                    field="results",
                    value=row.id,
                )
            result_file[row.id] = file
            results.append(row)
    return LoadedBenchmarks(
        files=tuple(f for t in tables for f in t.files), models=models, results=tuple(results)
    )


def table_specs(values: Sequence[str | Path] | None) -> tuple[str, ...]:
    """Command-line `--benchmarks` values as table specs: none given means the packaged table;
    `none` means no table (the bare roofline)."""
    if not values:
        return (PACKAGED,)
    specs = tuple(str(v) for v in values)
    if "none" in specs:
        if len(specs) > 1:
            raise InputError("`none` cannot be combined with tables", field="--benchmarks")
        return ()
    return specs
