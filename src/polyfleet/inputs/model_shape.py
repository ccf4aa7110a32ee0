"""The shape of the model a workload runs: read from a scenario's `model:` and from the `shape` a
probe profile records for the case it measured, so both are checked by the same ranges."""

from __future__ import annotations

from typing import Literal

from polyfleet.inputs.base import (
    ActiveParamsB,
    Batch,
    EmbeddingDim,
    EmbeddingGb,
    GflopsPerSample,
    InputModel,
    KvDim,
    Layers,
    Lookups,
    ParamsB,
    SeqLen,
)

__all__ = ["ModelShape", "Precision"]

#: The number formats a model may run in (and an accelerator may have dense rates for).
Precision = Literal["bf16", "fp8", "fp4"]


class ModelShape(InputModel):
    """The shape of the model a workload runs; what each kind's estimate needs is documented there."""

    params_b: ParamsB = 0.0
    active_params_b: ActiveParamsB | None = None
    precision: Precision = "bf16"
    seq_len: SeqLen = 4096
    prompt_tokens: SeqLen | None = None
    output_tokens: SeqLen | None = None
    batch: Batch = 64
    layers: Layers | None = None
    kv_dim: KvDim = 1024
    embedding_gb: EmbeddingGb = 0.0
    lookups_per_sample: Lookups = 0
    embedding_dim: EmbeddingDim = 128
    gflops_per_sample: GflopsPerSample | None = None

    @property
    def batch_given(self) -> bool:
        """Whether `batch` was set: for `serve` it then caps the sequences a replica decodes."""
        return "batch" in self.model_fields_set

    @property
    def active_b(self) -> float:
        return self.active_params_b if self.active_params_b is not None else self.params_b
