"""A run request's options are refused like a command line's: at the option, with its value."""

from __future__ import annotations

import pytest

from polyfleet.errors import InputError
from polyfleet.service.run_kinds import parse_run_options


@pytest.mark.parametrize(
    ("kind", "options", "field", "shown"),
    [
        ("frontier", {"points": None}, "options.points", "(got null)"),
        ("plan", {"matrix": None}, "options.matrix", "(got null)"),
        ("plan", {"matrix": 1}, "options.matrix", "(got 1)"),
    ],
)
def test_a_bad_option_is_named_with_its_value(kind, options, field, shown):
    with pytest.raises(InputError) as err:
        parse_run_options(kind, options)
    assert err.value.field == field and str(err.value).endswith(shown)
