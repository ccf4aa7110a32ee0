"""Command-line options are finite and in range, like the same numbers in a file: one error
naming the option and the value, exit code 1, nothing computed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from polyfleet.cli import app
from polyfleet.errors import InputError
from polyfleet.inputs.options import PlanOptions, TcoOptions, parse_options

runner = CliRunner()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--capex", "nan", "finite"),
        ("--capex", "inf", "finite"),
        ("--capex", "0", "≥ 1"),
        ("--power-price", "-70", "≥ 0 and ≤ 10,000 USD per MWh"),
        ("--power-price", "inf", "finite"),
        ("--pue", "0.5", "PUE must be ≥ 1 and ≤ 3"),
        ("--pue", "nan", "finite"),
        ("--years", "0", "≥ 0.1"),
        ("--years", "1e308", "≤ 50"),
        ("--rate", "-0.1", "≥ 0"),
        ("--rate", "nan", "finite"),
        ("--maintenance", "2", "≤ 1"),
        ("--utilisation", "0", "> 0"),
        ("--node", "-1", "≥ 0"),
        ("--network", "inf", "finite"),
        ("--facility-per-mw", "-inf", "finite"),
        ("--facility-years", "1e308", "≤ 50"),
    ],
)
def test_tco_options_are_finite_and_in_range(option, value, message):
    args = ["tco", "mi355x", "--capex", "25000", option, value]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    err = " ".join(result.stderr.split())
    assert option in err and message in err and f"(got {float(value)!r})" in err
    assert result.stdout == ""


def test_plan_method_is_one_of_three():
    result = runner.invoke(app, ["plan", "no-such-file.yaml", "--method", "fastest"])
    assert result.exit_code == 1 and "--method" in result.stderr and "'fastest'" in result.stderr


def test_parse_options_names_the_option_and_keeps_good_values():
    assert parse_options(TcoOptions, power_price=80.0).power_price == 80.0
    with pytest.raises(InputError) as err:
        parse_options(TcoOptions, power_price=80.0, facility_per_mw=float("nan"))
    assert err.value.field == "--facility-per-mw" and str(err.value.value) == "nan"


def test_flag_options_take_true_or_false_only():
    assert parse_options(PlanOptions, matrix=True).matrix is True
    with pytest.raises(InputError, match="must be true or false") as err:
        parse_options(PlanOptions, matrix=1)
    assert err.value.field == "--matrix"
