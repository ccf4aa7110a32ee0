"""The shared reader and error converter, table-driven over every file kind: each kind gets the same
defences (size, depth, aliases, duplicate keys, bad values, empty files) and the same error shape
(file, line, field path, bounded value) without code of its own."""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from polyfleet.errors import InputError, preview
from polyfleet.inputs import reader as documents
from polyfleet.inputs.convert import input_error
from polyfleet.inputs.deal import load_deal
from polyfleet.inputs.jobs import load_jobs
from polyfleet.inputs.procurement import load_procurement
from polyfleet.inputs.profile import load_profile
from polyfleet.inputs.reader import MAX_DEPTH, line_of, read_document
from polyfleet.inputs.scenario import load_scenario

from .conftest import BASE

ROOT = Path(__file__).parents[1]


def _procurement() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "examples" / "buildout-2027-2030.yaml").read_text())
    del data["deals"]
    del data["tiers"]  # integer keys: JSON cannot write them back as integers
    data["offers"] = [o for o in data["offers"] if "deal" not in o]
    return data


@dataclass(frozen=True)
class Kind:
    """A file kind: its loader, a valid document, and where a misspelt key goes."""

    name: str
    load: Callable[[Path], Any]
    data: Callable[[], dict[str, Any]]
    misspelt: tuple[tuple[str | int, ...], str, str]  # (parent path, wrong key, right key)
    yaml: bool = True  # a profile is always JSON

    def write(self, tmp_path: Path, text: str | bytes, suffix: str = ".yaml") -> Path:
        path = tmp_path / f"{self.name}{suffix}"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, "utf-8")
        return path


KINDS = [
    Kind(
        "scenario",
        load_scenario,
        lambda: copy.deepcopy(BASE),
        (("pools", 0), "acelerator", "accelerator"),
    ),
    Kind(
        "procurement", load_procurement, _procurement, (("offers", 0), "acelerator", "accelerator")
    ),
    Kind(
        "deal",
        load_deal,
        lambda: yaml.safe_load((ROOT / "examples" / "deals" / "amd-6gw.yaml").read_text()),
        ((), "valuaton_date", "valuation_date"),
    ),
    Kind(
        "profile",
        load_profile,
        lambda: json.loads((ROOT / "examples" / "profiles" / "h200-sxm-full.json").read_text()),
        (("results", 0), "units_per_sec", "units_per_s"),
        yaml=False,
    ),
    Kind(
        "jobs",
        load_jobs,
        lambda: yaml.safe_load((ROOT / "examples" / "jobs.yaml").read_text()),
        (("jobs", 1), "workoad", "workload"),
    ),
]
YAML_KINDS = [k for k in KINDS if k.yaml]
SYNTAXES = [(k, s) for k in KINDS for s in ((".json", ".yaml") if k.yaml else (".json",))]


def _ids(value: Any) -> str:
    if isinstance(value, Kind):
        return value.name
    return str(value)


def _dump(data: Any, suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(data, indent=1, default=str)
    return yaml.safe_dump(data, sort_keys=False)


def _refused(kind: Kind, path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        kind.load(path)
    assert info.value.file == str(path)
    return info.value


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
def test_every_kind_loads_its_valid_document_in_either_syntax(kind, suffix, tmp_path):
    kind.load(kind.write(tmp_path, _dump(kind.data(), suffix), suffix))


# --- the document: empty, not text, too big, too deep ------------------------------------------


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_an_empty_file_is_empty_not_a_wrong_type(kind, suffix, text, tmp_path):
    err = _refused(kind, kind.write(tmp_path, text, suffix))
    assert err.message == "the file is empty"


@pytest.mark.parametrize("kind", YAML_KINDS, ids=_ids)
@pytest.mark.parametrize("text", ["# only a comment\n", "null\n", "~\n"])
def test_a_yaml_document_with_no_data_is_empty(kind, text, tmp_path):
    err = _refused(kind, kind.write(tmp_path, text))
    assert "the file is empty" in err.message


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
def test_non_utf8_bytes_give_their_line_and_column(kind, suffix, tmp_path):
    text = _dump(kind.data(), suffix).encode()
    cut = text.index(b"\n", text.index(b"\n") + 1) + 1  # the start of line 3
    err = _refused(kind, kind.write(tmp_path, text[:cut] + b"  \xff\xfe" + text[cut:], suffix))
    assert err.line == 3
    assert "not UTF-8 text: byte 0xff at column 3" in err.message


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(
    kind, suffix, tmp_path, monkeypatch
):
    text = _dump(kind.data(), suffix)
    monkeypatch.setattr(documents, "MAX_JSON_BYTES", len(text) - 1)
    monkeypatch.setattr(documents, "MAX_YAML_BYTES", len(text) - 1)
    err = _refused(kind, kind.write(tmp_path, text, suffix))
    assert "the file is larger than" in err.message


def _nested(depth: int, suffix: str) -> str:
    """A valid-looking top-level mapping whose first key holds lists nested `depth` deep."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return '{"name": ' + inner + "}" if suffix == ".json" else "name: " + inner + "\n"


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 200_000])
def test_deep_nesting_is_refused_without_recursion_error(kind, suffix, depth, tmp_path):
    err = _refused(kind, kind.write(tmp_path, _nested(depth, suffix), suffix))
    assert f"nest deeper than {MAX_DEPTH} levels" in err.message
    assert err.line == 1
    assert err.field is None or err.field.startswith("name")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_nesting_at_the_limit_is_read(suffix, tmp_path):
    path = tmp_path / f"d{suffix}"
    path.write_text(_nested(MAX_DEPTH, suffix))
    data, _ = read_document(path)
    depth, node = 1, data["name"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0] if node else None
    assert depth == MAX_DEPTH


def test_a_deep_yaml_read_deep_in_a_stack_is_an_input_error(tmp_path):
    """Within the depth limit, but called with little stack left: an InputError, not a crash."""
    path = tmp_path / "d.yaml"
    path.write_text(_nested(MAX_DEPTH, ".yaml"))
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 150)
    try:
        with pytest.raises(InputError, match="nest too deeply to be read here"):
            read_document(path)
    finally:
        sys.setrecursionlimit(old)


# --- YAML aliases -------------------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    """The classic "billion laughs": 9 levels of 9 aliases each, 9**9 values, under 1 KB."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in itertools.pairwise("abcdefghij"[:levels]):
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", YAML_KINDS, ids=_ids)
def test_an_alias_bomb_is_refused_before_anything_is_built(kind, tmp_path, monkeypatch):
    built: list[Any] = []
    real = documents._Loader.construct_document
    monkeypatch.setattr(
        documents._Loader, "construct_document", lambda self, n: built.append(n) or real(self, n)
    )
    text = _bomb()
    assert len(text) < 1024
    err = _refused(kind, kind.write(tmp_path, text))
    assert "aliases expand the document to more than 1,000,000 values" in err.message
    assert err.line == 7 and err.field == "g[0]" and err.value == "*f"
    assert built == []


def test_aliases_that_stay_small_are_read_and_shared(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(
        "base: &b {pue: 1.2, count: 4}\n"
        "pools:\n  - <<: *b\n    name: x\n  - <<: *b\n    count: 8\n"  # an override, not a dup
    )
    data, _ = read_document(path)
    assert data["pools"] == [{"pue": 1.2, "count": 4, "name": "x"}, {"pue": 1.2, "count": 8}]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: &a [1, *a]\n", "an alias inside the value it names", 1),
        ("a: 1\nb: *nowhere\n", "an alias to no anchor defined before it", 2),
    ],
)
def test_alias_loops_and_dangling_aliases_are_refused(text, message, line, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_document(path)
    assert info.value.line == line


# --- duplicate keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
def test_a_key_given_twice_is_refused_naming_both_lines(kind, suffix, tmp_path):
    data = kind.data()
    key = next(iter(data))
    text = _dump(data, suffix)
    again = (
        text.replace("{\n", "{\n " + json.dumps(key) + ": " + json.dumps(data[key]) + ",\n", 1)
        if suffix == ".json"
        else text + _dump({key: data[key]}, suffix)
    )
    path = kind.write(tmp_path, again, suffix)
    err = _refused(kind, path)
    lines = path.read_text().splitlines()
    top = rf'^ "{key}":' if suffix == ".json" else rf"^{key}:"
    first, second = (i + 1 for i, s in enumerate(lines) if re.match(top, s))
    assert f"key '{key}' is given twice in one mapping (lines {min(first, second)} and " in (
        err.message
    )
    assert err.field == key and err.line == max(first, second)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_nested_duplicate_names_its_field_path(suffix, tmp_path):
    path = tmp_path / f"s{suffix}"
    if suffix == ".json":
        path.write_text('{"pools": [\n {"name": "a"},\n {"name": "b",\n  "name": "c"}]}')
    else:
        path.write_text("pools:\n  - name: a\n  - name: b\n    name: c\n")
    with pytest.raises(InputError, match=r"lines 3 and 4") as info:
        read_document(path)
    assert info.value.field == "pools[1].name" and info.value.line == 4


# --- values YAML (or JSON) cannot build ----------------------------------------------------------


@pytest.mark.parametrize("kind", YAML_KINDS, ids=_ids)
def test_an_impossible_date_gives_its_line_and_field(kind, tmp_path):
    data = kind.data()
    key = next(iter(data))
    text = _dump(data, ".yaml") + "extra_date: 2026-13-45\n"
    path = kind.write(tmp_path, text)
    err = _refused(kind, path)
    if kind.name == "jobs":  # job files hold JSON data: no dates at all
        assert err.message.startswith("a date or time (quote it to pass the text) is not JSON")
    else:
        assert err.message == "not a valid date: month must be in 1..12"
    assert err.field == "extra_date" and err.value == "2026-13-45"
    assert err.line == len(path.read_text().splitlines())
    assert key  # the date is refused before any schema sees the extra key


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_number_too_long_to_convert_is_an_input_error(suffix, tmp_path):
    path = tmp_path / f"n{suffix}"
    digits = "7" * 5000
    path.write_text('{"a": [1,\n ' + digits + "]}" if suffix == ".json" else f"a: [1,\n {digits}]")
    with pytest.raises(InputError, match="a number of 5000 digits") as info:
        read_document(path)
    assert info.value.field == "a[1]" and info.value.line == 2
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-01-01", "a date or time"),
        ("!!binary aGVsbG8=", "binary data"),
        ("!!set {a, b}", "a set"),
        ("!!omap [{a: 1}]", "an ordered map"),
        ("!!pairs [{a: 1}]", "a list of pairs"),
        (".nan", "not a finite number"),
        ("-.inf", "not a finite number"),
        ("{1: one}", "a key that is not text"),
        ("!!python/name:os.system", "could not determine a constructor"),
    ],
)
def test_job_args_refuse_what_json_cannot_hold(value, message, tmp_path):
    path = tmp_path / "jobs.yaml"
    path.write_text(
        "jobs:\n  - workload: w\n    run:\n      entry: polyfleet.dispatch.demo:noop\n"
        f"      args:\n        x: {value}\n"
    )
    with pytest.raises(InputError, match=re.escape(message)) as info:
        load_jobs(path)
    assert info.value.line == 6
    assert info.value.field is not None and info.value.field.startswith("jobs[0].run.args.x")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_job_args_in_json_refuse_non_finite_numbers(constant, tmp_path):
    path = tmp_path / "jobs.json"
    path.write_text(
        '{"jobs": [{"workload": "w", "run": {"entry": "m:f",\n "args": {"x": ' + constant + "}}}]}"
    )
    with pytest.raises(InputError, match="not a finite number") as info:
        load_jobs(path)
    assert info.value.field == "jobs[0].run.args.x" and info.value.line == 2


def test_dates_stay_dates_where_the_schema_wants_them(tmp_path):
    """Only data handed on as JSON refuses dates: a deal's dates are read as dates."""
    path = tmp_path / "d.yaml"
    path.write_text("valuation_date: 2026-02-24\n")
    data, _ = read_document(path)
    assert str(data["valuation_date"]) == "2026-02-24"


# --- the schema: wrong top level, misspelt keys, cross-field checks ------------------------------


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
@pytest.mark.parametrize("top", [["a", "list"], "a string", 42])
def test_a_top_level_that_is_not_a_mapping_is_named(kind, suffix, top, tmp_path):
    err = _refused(kind, kind.write(tmp_path, _dump(top, suffix), suffix))
    assert "must be a mapping" in err.message or "not a polyfleet profile" in err.message


@pytest.mark.parametrize(("kind", "suffix"), SYNTAXES, ids=_ids)
def test_a_misspelt_key_is_reported_with_a_suggestion(kind, suffix, tmp_path):
    data = kind.data()
    parent_path, wrong, right = kind.misspelt
    parent = data
    for part in parent_path:
        parent = parent[part]
    parent[wrong] = parent.pop(right)
    path = kind.write(tmp_path, _dump(data, suffix), suffix)
    err = _refused(kind, path)
    assert err.message == f"unknown field '{wrong}' — did you mean '{right}'?"
    assert err.field is not None and err.field.split(" ")[0].endswith(wrong)
    assert wrong in path.read_text().splitlines()[err.line - 1]


def test_an_unknown_key_with_no_close_match_lists_the_fields(tmp_path):
    data = copy.deepcopy(BASE)
    data["pools"][0]["colour"] = "green"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError, match="unknown field 'colour'; the fields here are name, acc"):
        load_scenario(path)


def test_a_duplicate_pool_name_points_at_the_second_name(tmp_path):
    data = copy.deepcopy(BASE)
    data["pools"][1]["name"] = "nv"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError, match="duplicate pool name 'nv'") as info:
        load_scenario(path)
    assert info.value.field == "pools[1].name (nv)"
    assert path.read_text().splitlines()[info.value.line - 1].strip() == "- name: nv"
    assert info.value.line > 2  # not the file's first line


def test_a_json_error_gives_the_line_of_its_field(tmp_path):
    data = copy.deepcopy(BASE)
    data["pools"][1]["count"] = -5
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert path.read_text().splitlines()[info.value.line - 1].strip() == '"count": -5,'


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (["b"], 2),
        (["b", 1], 5),
        (["b", 1, "y"], 5),
        (["b", 9], 2),  # no such item: the deepest part that exists
        (["missing"], 1),
        (["a", "x"], 1),
    ],
)
@pytest.mark.parametrize("flow_yaml", [False, True])
def test_line_of_walks_json_and_yaml_alike(loc, expected, flow_yaml):
    text = '{"a": 1,\n "b": [\n\n  {"x": 1},\n  {"y": 2}]}'
    if flow_yaml:  # YAML in flow style: not JSON, so read by the YAML composer
        text = text.replace('"', "")
    assert line_of(text, loc) == expected


def test_the_profile_error_carries_its_line(tmp_path):
    data = json.loads((ROOT / "examples" / "profiles" / "h200-sxm-full.json").read_text())
    data["results"][1]["repeats"] = 0
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(InputError) as info:
        load_profile(path)
    assert info.value.field == "results[1].repeats"
    assert path.read_text().splitlines()[info.value.line - 1].strip() == '"repeats": 0,'


# --- bounded messages ----------------------------------------------------------------------------


def test_the_converter_never_reprs_a_whole_value():
    """A value built from shared parts (what YAML aliases build) is tiny in memory but huge as
    text: the error must show a preview of it, not format it whole first."""
    node: list[Any] = ["lol"] * 9
    for _ in range(30):  # 9**31 strings if written out
        node = [node] * 9

    class Counted(BaseModel):
        count: int

    with pytest.raises(ValidationError) as info:
        Counted.model_validate({"count": node})
    err = input_error(info.value, file="f.yaml", text="count: 1\n", model=Counted)
    assert err.field == "count" and err.line == 1
    assert "(got [[[[" in str(err) and len(str(err)) < 300


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("abc", "'abc'", id="str"),
        pytest.param(10**5000, "<an integer of 16610 bits>", id="int"),
        pytest.param(b"\x00" * 10**6, "(1000000 bytes)", id="bytes"),
        pytest.param({"k": [1, 2, 3]}, "{'k': [1, 2, 3]}", id="dict"),
        pytest.param(set(range(100)), "{0, 1, 2, 3, 4, 5, ...}", id="set"),
        pytest.param(object(), "<object>", id="object"),
    ],
)
def test_preview_is_bounded_whatever_the_value(value, shown):
    text = preview(value)
    assert shown in text and len(text) <= 80


def test_preview_of_a_self_similar_structure_does_not_expand_it():
    node: list[Any] = ["lol"] * 9
    for _ in range(30):  # 9**30 leaves if expanded
        node = [node] * 9
    assert len(preview(node)) <= 80
