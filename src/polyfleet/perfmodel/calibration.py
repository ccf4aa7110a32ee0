"""The calibration factors the throughput matrix applies: one per (accelerator, workload kind),
each with the probe case it came from. Records only: calibrate.py computes them, matrix.py applies
them, and neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Calibration", "CalibrationSet"]


@dataclass(frozen=True)
class Calibration:
    """One factor: measured / estimated for `kind` on `accelerator`, and where it was measured."""

    accelerator: str
    kind: str
    factor: float
    measured: float  # units/s the probe case reached
    estimated: float  # units/s the roofline gives the same shape on the catalog figures
    file: str
    workload: str
    case: str
    preset: str
    device: str
    created: str
    mode: str | None = None  # how the probe's decode ran (graph or eager); None for other kinds

    def to_dict(self) -> dict[str, object]:
        return {
            "accelerator": self.accelerator,
            "kind": self.kind,
            "factor": self.factor,
            "measured_units_per_s": self.measured,
            "estimated_units_per_s": self.estimated,
            "profile": self.file,
            "probe_case": f"{self.workload} {self.case}" + (f" ({self.mode})" if self.mode else ""),
            "probe_mode": self.mode,
            "preset": self.preset,
            "device": self.device,
            "created": self.created,
        }


@dataclass(frozen=True)
class CalibrationSet:
    """The factor in use for each (accelerator, kind), plus notes on what was read: what could not
    be used, and serve factors that had only an eager decode to go on."""

    used: tuple[Calibration, ...] = ()
    notes: tuple[str, ...] = ()

    def lookup(self) -> dict[tuple[str, str], int]:
        """(accelerator, kind) -> index into `used`."""
        return {(c.accelerator, c.kind): i for i, c in enumerate(self.used)}

    def __bool__(self) -> bool:
        return bool(self.used) or bool(self.notes)
