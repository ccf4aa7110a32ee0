"""The versioned result records: what `--json` and `--out` print is the record (the computed
figures plus `format` and `schema_version`, nothing renamed); every record reads back equal to
itself; another format or schema version is refused naming the field; `polyfleet schema`
prints each record's JSON Schema, which its JSON satisfies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polyfleet import app as api
from polyfleet.cli import app
from polyfleet.errors import InputError
from polyfleet.inputs.options import (
    CalibrateOptions,
    DealOptions,
    PlanOptions,
    ProcureOptions,
    StatusOptions,
    TcoOptions,
)
from polyfleet.inputs.profile import Profile, load_profile
from polyfleet.results import RECORDS, record_class
from polyfleet.results.base import Record, dump_record
from polyfleet.results.run import ClusterRecord, RunRecord

from .conftest import BASE, write

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One record of each kind, computed once (small inputs: the test is of the records)."""
    tmp = tmp_path_factory.mktemp("records")
    scenario = write(tmp, BASE)
    infeasible = write(
        tmp, {**BASE, "workloads": [{**BASE["workloads"][0], "demand": {"value": 1e4}}]}, "i.yaml"
    )
    return {
        "catalog": api.catalog(),
        "plan": api.plan(scenario, PlanOptions(frontier=True)),
        "plan (infeasible)": api.plan(infeasible),
        "plan (example)": api.plan(EXAMPLES / "hyperscaler-2026.yaml", PlanOptions(matrix=False)),
        "leverage": api.leverage(scenario),
        "frontier": api.frontier(scenario),
        "procurement": api.procure(
            EXAMPLES / "buildout-2027-2030.yaml", ProcureOptions(limit_costs=False)
        ),
        "deal": api.deal(EXAMPLES / "deals" / "amd-6gw.yaml", DealOptions(paths=4000)),
        "tco": api.tco("h200", TcoOptions(power_price=70)),
        "build-vs-buy": api.build_vs_buy(EXAMPLES / "build-tier2.yaml"),
        "calibration": api.calibrate(CalibrateOptions(holdout=True)),
        "probe": load_profile(EXAMPLES / "profiles" / "h200-sxm-full.json"),
        "status": api.status(StatusOptions(state_dir=tmp / "state")),
        "run": RunRecord.build(
            {
                "ledger": "state/ledger.sqlite",
                "counts": {"succeeded": 3, "failed": 1},
                "seconds": 2.5,
                "submitted": 5,
                "rerouted": 1,
                "profiles": [],
                "missing_pools": {"ghost": "not in the cluster"},
                "leftovers": {},
                "unknown_states": {},
            }
        ),
        "cluster": ClusterRecord.build(
            {
                "address": "127.0.0.1:6379",
                "pid": 42,
                "nodes": [
                    {
                        "pool": "nv",
                        "accelerator": "h100-sxm",
                        "vendor": "nvidia",
                        "slots": 8,
                        "num_gpus": 0,
                    },
                ],
            }
        ),
    }


def _kind(name: str) -> str:
    return name.split(" ")[0]


def test_every_record_kind_is_covered(records):
    assert {_kind(n) for n in records} == set(RECORDS)


@pytest.mark.parametrize("name", list(RECORDS))
def test_a_record_reads_back_equal_to_itself(records, tmp_path, name):
    for key, record in records.items():
        if _kind(key) != name:
            continue
        cls = record_class(name)
        path = tmp_path / f"{name}.json"
        text = record.to_json() if isinstance(record, Profile) else dump_record(record)
        path.write_text(text)
        back = load_profile(path) if cls is Profile else cls.load(path)
        assert back == record, key
        data = json.loads(text)
        assert data["format"] == cls.model_fields["format"].default
        assert data["schema_version"] == 1


@pytest.mark.parametrize("name", [n for n in RECORDS if n != "probe"])
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"format": "polyfleet.other"}, "format", "not a polyfleet."),
        ({"format": None}, "format", "not a polyfleet."),
        ({"schema_version": 2}, "schema_version", "unsupported polyfleet."),
        ({"schema_version": True}, "schema_version", "unsupported polyfleet."),
        ({"schema_version": "1"}, "schema_version", "unsupported polyfleet."),
    ],
)
def test_another_format_or_version_is_refused_naming_the_field(
    records, tmp_path, name, change, field, message
):
    record = next(r for k, r in records.items() if _kind(k) == name)
    data = {**json.loads(dump_record(record)), **change}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(InputError, match=message) as err:
        record_class(name).load(path)
    assert err.value.field == field and err.value.file == str(path)
    assert err.value.line is not None  # the line the field is on
    assert err.value.value == change[field]


def test_a_record_of_another_kind_is_refused(records, tmp_path):
    path = tmp_path / "lev.json"
    path.write_text(dump_record(records["leverage"]))
    with pytest.raises(InputError, match=r"not a polyfleet\.plan record") as err:
        record_class("plan").load(path)
    assert err.value.value == "polyfleet.leverage"


def test_a_non_finite_number_is_refused_on_reading(records, tmp_path):
    data = json.loads(dump_record(records["plan"]))
    data["workloads"][0]["served"] = float("inf")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="finite") as err:
        record_class("plan").load(path)
    assert err.value.field == "workloads[0].served"


def test_the_json_is_the_computed_figures_plus_format_and_version():
    """What `plan --json` prints for the bundled example is the plan's own figures, with the two
    record fields added and nothing renamed or dropped."""
    from polyfleet.inputs.scenario import load_scenario
    from polyfleet.plan.placement import make_plan

    result = runner.invoke(app, ["plan", str(EXAMPLES / "hyperscaler-2026.yaml"), "--json"])
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    figures = make_plan(load_scenario(EXAMPLES / "hyperscaler-2026.yaml")).to_dict(
        matrix_cells=False
    )
    assert printed.pop("format") == "polyfleet.plan" and printed.pop("schema_version") == 1
    for data in (printed, figures):
        data.pop("timings")
        for deal in data["deals"]:
            deal["warrant"].pop("seconds")
    assert printed == json.loads(json.dumps(figures))


def test_deal_tco_and_catalog_json_are_their_figures_plus_the_listed_fields():
    from polyfleet.catalog import load_catalog
    from polyfleet.catalog._catalog import references
    from polyfleet.economics.cost import owned_cost
    from polyfleet.economics.deal import value_deal
    from polyfleet.inputs.deal import load_deal

    def printed(*argv: str) -> dict[str, Any]:
        result = runner.invoke(app, [*argv, "--json"])
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        assert data.pop("schema_version") == 1 and data.pop("format").startswith("polyfleet.")
        return data

    file = EXAMPLES / "deals" / "amd-6gw.yaml"
    deal = printed("deal", str(file), "--paths", "4000")
    figures = value_deal(load_deal(file), paths=4000, fan_points=60, sensitivity=True).to_dict()
    for data in (deal, figures):
        data["warrant"].pop("seconds")
    assert deal == json.loads(json.dumps(figures))

    tco = printed("tco", "mi355x", "--capex", "25000")
    cat = load_catalog()
    terms = TcoOptions(capex=25000)
    figures = owned_cost(cat["mi355x"], 25000, terms.cost_terms(), terms.pue, pue_assumed=True)
    added = {"accelerator_name": cat["mi355x"].display_name, "amortize_years": 5.0,
             "cost_of_capital": 0.08}  # fmt: skip
    assert {k: tco.pop(k) for k in added} == added
    for key in ("gpu_price_source", "gpu_price_unconfirmed", "catalog_rent_per_gpu_hour",
                "assumptions"):  # fmt: skip
        tco.pop(key)
    assert tco == figures.to_dict()

    listed = printed("catalog")
    assert listed == {
        "accelerators": [a.model_dump(mode="json") for a in cat.table_rows(None)],
        "references": references(),
    }


def test_schema_lists_the_records():
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    listed = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()}
    assert set(listed) == set(RECORDS)
    assert listed["plan"] == "polyfleet.plan" and listed["probe"] == "polyfleet-profile"


@pytest.mark.parametrize("name", list(RECORDS))
def test_schema_prints_each_records_json_schema_which_its_json_satisfies(records, name):
    jsonschema = pytest.importorskip("jsonschema")
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    cls = record_class(name)
    assert schema["title"] == cls.__name__
    assert schema["properties"]["format"]["const"] == cls.model_fields["format"].default
    for key, record in records.items():
        if _kind(key) == name:
            text = record.to_json() if isinstance(record, Profile) else dump_record(record)
            jsonschema.validate(json.loads(text), schema)


def test_schema_of_an_unknown_record_is_refused():
    result = runner.invoke(app, ["schema", "plans"])
    assert result.exit_code == 1 and "no such record" in result.stderr


def test_records_are_records():
    for name in RECORDS:
        cls = record_class(name)
        assert cls is Profile or issubclass(cls, Record)
