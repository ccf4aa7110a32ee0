"""Errors as drawn: each class carries its exit code: 1 bad input (or a missing extra, named),
2 infeasible, 3 the solver failed."""

from __future__ import annotations

from polyfleet.errors import (
    CatalogError,
    InfeasibleError,
    InputError,
    MissingExtraError,
    PolyfleetError,
    SolverError,
)


def test_each_error_class_carries_its_exit_code():
    assert PolyfleetError("x").exit_code == 1
    assert InputError("x").exit_code == CatalogError("x").exit_code == 1
    missing = MissingExtraError("polyfleet run", extra="run", missing="ray")
    assert isinstance(missing, InputError) and missing.exit_code == 1
    assert str(missing) == (
        "polyfleet run needs the `run` extra (ray is not installed). "
        "Install it: pip install 'polyfleet[run]'"
    )
    assert InfeasibleError("x", {"limits": []}, record={"status": "infeasible"}).exit_code == 2
    assert SolverError("x", status="time limit", seconds=1.0).exit_code == 3
