"""Errors polyfleet raises, each carrying the context a user needs to fix the cause.

PolyfleetError
├── InputError          a file, field path and value that are wrong, and how to fix them
│   └── CatalogError    an accelerator id or entry the catalog cannot resolve
├── InfeasibleError     no plan meets every constraint; carries the diagnosis
└── SolverError         the solver stopped without an optimal answer
"""

from __future__ import annotations

from typing import Any

__all__ = ["CatalogError", "InfeasibleError", "InputError", "PolyfleetError", "SolverError"]


class PolyfleetError(Exception):
    """Base of every error polyfleet raises on purpose."""


class InputError(PolyfleetError):
    """Bad input: names the file, the field path (and line when known) and the offending value."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        value: Any = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.field = field
        self.value = value
        self.line = line
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.file is not None or self.line is not None:
            where = self.file or "<input>"
            parts.append(where if self.line is None else f"{where}:{self.line}")
        if self.field:
            parts.append(f"field '{self.field}'" if not self.field.startswith("-") else self.field)
        text = ": ".join(parts) + f": {self.message}"
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            text += f" (got {shown})"
        if self.hint:
            text += f". {self.hint}"
        return text


class CatalogError(InputError):
    """An accelerator id that the catalog does not know, or a malformed catalog entry."""


class InfeasibleError(PolyfleetError):
    """No plan meets every constraint. `diagnosis` says which limits fail and by how much."""

    def __init__(self, message: str, diagnosis: dict[str, Any]) -> None:
        self.diagnosis = diagnosis
        super().__init__(message)


class SolverError(PolyfleetError):
    """The solver ended without an optimal answer (status and time say why)."""

    def __init__(self, message: str, *, status: str, seconds: float) -> None:
        self.status = status
        self.seconds = seconds
        super().__init__(f"{message} (solver status: {status}, after {seconds:.2f} s)")
