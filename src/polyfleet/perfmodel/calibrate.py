"""Calibration: probe measurements turned into per-(accelerator, kind) efficiency factors.

A profile's headline case for a kind (say llm-decode at its largest batch, for `serve`) ran a model
of known shape. The bare roofline estimates that same shape on the matched accelerator; the ratio
measured / estimated is how far real software on that chip sits from the model's assumed
efficiency. Estimates of scenario workloads of that kind on that accelerator are multiplied by it
(and their latencies divided by it), and marked `calibrated` with the profile they came from. It
replaces the factor of the chip's software stack from published results: it measured that chip.

For `serve` the probe's decode may have run two ways: replayed from a captured device graph (the
chip's rate) and eagerly (which adds Python's kernel launches). The graph figure is used where the
profile has one, else the eager one; the calibration says which, and notes why when it is eager.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from polyfleet.catalog import Catalog
from polyfleet.inputs.model_shape import ModelShape
from polyfleet.inputs.profile import CaseResult, Profile
from polyfleet.inputs.scenario import KIND_UNITS, Demand, Workload
from polyfleet.perfmodel.calibration import Calibration, CalibrationSet
from polyfleet.perfmodel.matrix import estimate_one

__all__ = ["CALIBRATED_KINDS", "calibrate"]

CALIBRATED_KINDS = ("train", "serve", "recsys", "infer")
_PRESET_RANK = {"full": 1, "tiny": 0}


def _probe_workload(kind: str, shape: dict[str, float | int | str]) -> Workload:
    """The scenario workload a probe case stands for. The probe times decode alone, at a mean
    context of seq_len / 2: a request with no prompt to speak of that generates seq_len tokens."""
    if kind == "serve" and "prompt_tokens" not in shape:
        seq = int(shape.get("seq_len", 4096))
        shape = {**shape, "prompt_tokens": 1, "output_tokens": max(seq - 2, 1)}
    return Workload(
        name=f"probe-{kind}",
        kind=kind,  # type: ignore[arg-type]
        tier=2,
        model=ModelShape.model_validate(shape),
        demand=Demand(value=1.0, unit=KIND_UNITS[kind][0]),
    )


def _calibrating_case(profile: Profile, kind: str) -> tuple[CaseResult | None, str | None]:
    """The case of `kind` to calibrate from, and its decode mode: a graph-replayed one where the
    profile marks one, else the first marked (profiles from before decode was captured as a graph
    ran it eagerly)."""
    marked = [r for r in profile.results if r.calibrates == kind]
    if not marked:
        return None, None
    case = next((r for r in marked if r.mode == "graph"), marked[0])
    if case.mode is None and case.workload == "llm-decode":
        return case, "eager"
    return case, case.mode


def _eager_note(file: str, profile: Profile, case: CaseResult, acc_id: str) -> str:
    """Why a serve factor comes from an eager decode: the probe's recorded reason, if any."""
    wanted = {"graph", f"{case.case} graph"}  # the probe's skip for every batch, or for this one
    reasons = (
        s.reason for s in profile.skipped if s.workload == case.workload and s.case in wanted
    )
    why = next(reasons, "the profile has no graph-replayed decode")
    return (
        f"{file}: serve on {acc_id} is calibrated from an eager decode, which includes Python's "
        f"kernel launches ({why})"
    )


def calibrate(profiles: Sequence[tuple[str, Profile]], catalog: Catalog) -> CalibrationSet:
    """Factors from `profiles` ((file, profile) pairs). Where several profiles measured the same
    (accelerator, kind), a `full` preset wins over `tiny`, then the newest."""
    best: dict[tuple[str, str], tuple[tuple[int, str], Calibration, str | None]] = {}
    notes: list[str] = []
    for file, profile in profiles:
        dev = profile.device
        if dev.accelerator is None:
            notes.append(
                f"{file}: device '{dev.name}' matches no catalog accelerator, so it calibrates "
                "nothing (re-run `polyfleet probe --as ID`)"
            )
            continue
        acc_id = catalog.find(dev.accelerator)
        if acc_id is None:
            notes.append(f"{file}: accelerator '{dev.accelerator}' is not in this catalog")
            continue
        rank = (_PRESET_RANK.get(profile.preset, 0), profile.created)
        for kind in CALIBRATED_KINDS:
            case, mode = _calibrating_case(profile, kind)
            if case is None or case.shape is None:
                continue
            estimated = estimate_one(_probe_workload(kind, case.shape), catalog, acc_id)
            if not (estimated > 0 and math.isfinite(estimated)):
                notes.append(
                    f"{file}: no roofline estimate of {kind} on {acc_id} to calibrate against"
                )
                continue
            cal = Calibration(
                accelerator=acc_id,
                kind=kind,
                factor=case.units_per_s / estimated,
                measured=case.units_per_s,
                estimated=estimated,
                file=file,
                workload=case.workload,
                case=case.case,
                preset=profile.preset,
                device=dev.name,
                created=profile.created,
                mode=mode,
            )
            note = _eager_note(file, profile, case, acc_id) if mode == "eager" else None
            key = (acc_id, kind)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, cal, note)
    chosen = sorted(best.values(), key=lambda entry: (entry[1].accelerator, entry[1].kind))
    used = tuple(cal for _, cal, _ in chosen)
    notes.extend(note for _, _, note in chosen if note)
    return CalibrationSet(used=used, notes=tuple(notes))
