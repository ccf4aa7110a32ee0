"""The one converter and the one catalog-name resolver: every file kind, catalog overrides
included, gets the same errors (file, line, field, value, did-you-mean)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from polyfleet.errors import CatalogError, InputError
from polyfleet.inputs.deal import load_deal
from polyfleet.inputs.procurement import load_procurement
from polyfleet.inputs.reader import MAX_YAML_BYTES, read_document
from polyfleet.inputs.scenario import load_scenario

from ..conftest import write

ROOT = Path(__file__).parents[2]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_misspelt_catalog_override_gets_a_suggestion_at_its_line(base, tmp_path):
    base["catalog"] = [
        {"id": "mi355x", "price": {"per_gpu_hour": 2.5}},
        {"id": "b200", "tdp_wats": 1},
    ]
    path = write(tmp_path, base)
    with pytest.raises(CatalogError) as err:
        load_scenario(path)
    e = err.value
    assert e.message == "unknown field 'tdp_wats' — did you mean 'tdp_w'?"
    assert e.field == "catalog[1].tdp_wats" and e.file == str(path)
    assert e.line == _line(path.read_text(), "tdp_wats")


def test_a_bad_catalog_override_value_names_its_line(base, tmp_path):
    base["catalog"] = [{"id": "b200", "tdp_w": -5}]
    path = write(tmp_path, base)
    with pytest.raises(CatalogError, match="a TDP must be") as err:
        load_scenario(path)
    assert err.value.field == "catalog[0].tdp_w" and err.value.value == -5
    assert err.value.line == _line(path.read_text(), "tdp_w")


def _unknown_accelerator(path: Path, load: Any, field: str) -> None:
    with pytest.raises(CatalogError) as err:
        load(path)
    e = err.value
    assert e.message == "unknown accelerator" and e.value == "h2000" and e.file == str(path)
    assert e.field == field and e.line == _line(path.read_text(), "h2000")
    assert "Did you mean" in (e.hint or "")


def test_every_file_kind_resolves_names_through_the_one_resolver(base, tmp_path):
    base["workloads"][0]["needs"] = {"accelerators": ["h100-sxm", "h2000"]}
    _unknown_accelerator(
        write(tmp_path, base), load_scenario, "workloads[0].needs.accelerators[1] (job)"
    )
    deal = yaml.safe_load((ROOT / "tests/hostile/files/valid/deal.yaml").read_text())
    deal["accelerator"] = "h2000"
    _unknown_accelerator(write(tmp_path, deal, "deal.yaml"), load_deal, "accelerator")
    proc = yaml.safe_load((ROOT / "tests/hostile/files/valid/procurement.yaml").read_text())
    proc["installed"][0]["accelerator"] = "h2000"
    _unknown_accelerator(
        write(tmp_path, proc, "proc.yaml"), load_procurement, "installed[0].accelerator"
    )


def test_the_reader_reads_bytes_with_the_same_defences(tmp_path):
    text = b"name: x\nname: y\n"
    with pytest.raises(InputError, match="given twice") as err:
        read_document(text, file="upload.yaml")
    assert err.value.file == "upload.yaml" and err.value.line == 2
    data, _ = read_document(b'{"a": [1, 2]}', file="x.json")
    assert data == {"a": [1, 2]}
    with pytest.raises(InputError, match="larger than 8 MiB"):
        read_document(b"a: 1\n" + b" " * MAX_YAML_BYTES)
    path = write(tmp_path, "a: [1, 2]\n", "same.yaml")
    assert read_document(path.read_bytes(), file=str(path)) == read_document(path)
