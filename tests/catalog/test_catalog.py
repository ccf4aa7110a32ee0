import pytest

from polyfleet.catalog import load_catalog
from polyfleet.catalog._catalog import SOURCED_FIELDS, references
from polyfleet.errors import CatalogError

REQUIRED = [
    "a100-80gb",
    "h100-sxm",
    "h200-sxm",
    "b200",
    "b300",
    "gb200",
    "mi250x",
    "mi300x",
    "mi325x",
    "mi355x",
]


def test_required_accelerators_present():
    cat = load_catalog()
    assert set(REQUIRED) <= set(cat)
    assert {cat[a].vendor for a in REQUIRED} == {"nvidia", "amd"}


def test_every_figure_names_a_source():
    cat = load_catalog()
    for acc in cat.values():
        data = acc.model_dump()
        for field in SOURCED_FIELDS:
            value = data.get(field)
            if isinstance(value, dict):
                subs = [f"{field}.{k}" for k, v in value.items() if v is not None]
            else:
                subs = [field] if value is not None else []
            for sub in subs:
                assert acc.source_of(sub), f"{acc.id}: {sub} has no source"


def test_unconfirmed_fields_are_marked():
    cat = load_catalog()
    assert cat["mi455x"].is_unconfirmed("bandwidth_tbps")
    assert cat["h100-sxm"].is_unconfirmed("price.purchase")
    assert not cat["h100-sxm"].is_unconfirmed("memory_gb")


def test_reference_keys_are_defined():
    refs = references()
    assert "ML-ENG" in refs and "SKY-RUNPOD" in refs


def test_sparse_figures_are_not_in_the_dense_columns():
    cat = load_catalog()
    assert cat["h100-sxm"].tflops.fp8 == 1979  # 3,958 is the sparse figure
    assert cat["a100-80gb"].tflops.fp8 is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA H200", "h200-sxm"),
        ("AMD Instinct MI300X", "mi300x"),
        ("H100", "h100-sxm"),
        ("b200", "b200"),
    ],
)
def test_resolve_names(name, expected):
    assert load_catalog().resolve(name) == expected


def test_unknown_name_suggests():
    with pytest.raises(CatalogError, match=r"Did you mean .*h200-sxm") as info:
        load_catalog().resolve("h2000", file="f.yaml", field="pools[0].accelerator")
    assert "f.yaml" in str(info.value)
    assert "pools[0].accelerator" in str(info.value)


def test_minimal_user_entry_and_override():
    cat = load_catalog(
        [
            {"id": "x1", "vendor": "acme", "memory_gb": 64, "tdp_w": 300},
            {"id": "mi355x", "price": {"per_gpu_hour": 2.5}},
        ]
    )
    assert cat["x1"].vendor == "acme" and cat["x1"].tflops.bf16 is None
    assert cat["mi355x"].price.per_gpu_hour == 2.5
    assert cat["mi355x"].memory_gb == 288  # untouched fields kept
    assert load_catalog()["mi355x"].price.per_gpu_hour is None  # packaged one not mutated


def test_bad_user_entry_names_field():
    with pytest.raises(CatalogError, match=r"catalog\[0\]\.memory_gb"):
        load_catalog([{"id": "x1", "vendor": "acme", "memory_gb": -1, "tdp_w": 300}])
    with pytest.raises(CatalogError, match=r"catalog\[0\]"):
        load_catalog([{"id": "x2", "vendor": "acme"}])


def test_best_precision_falls_back_to_what_the_chip_has():
    cat = load_catalog()
    assert cat["a100-80gb"].best_precision("fp4") == "bf16"
    assert cat["h100-sxm"].best_precision("fp4") == "fp8"
    assert cat["b200"].best_precision("fp4") == "fp4"
    assert cat["b200"].best_precision("bf16") == "bf16"


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("NVIDIA H200", "h200-sxm"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
        ("NVIDIA B200", "b200"),
        ("AMD Instinct MI300X", "mi300x"),
        ("AMD Instinct MI300X VF", "mi300x"),
        ("AMD Instinct MI355X", "mi355x"),
        # other form factors have other figures: no match rather than a wrong one
        ("NVIDIA H100 PCIe", None),
        ("NVIDIA H200 NVL", None),
        ("AMD EPYC 9654 96-Core Processor", None),
    ],
)
def test_device_names_match_catalog_ids(reported, expected):
    assert load_catalog().match_device(reported) == expected


def test_every_accelerator_names_its_software_stack_and_matmul_rate():
    cat = load_catalog()
    for acc in cat.values():
        assert acc.stack == {"nvidia": "cuda", "amd": "rocm", "google": "xla"}[acc.vendor]
        assert acc.source_of("stack")
    # MAMF / BF16 peak: how much of its peak a chip's matmuls reach (ML-ENG)
    assert cat["mi300x"].matmul_fraction == pytest.approx(668 / 1307.4)
    assert cat["h100-sxm"].matmul_fraction == pytest.approx(794 / 989)
    assert cat["a100-80gb"].matmul_fraction is None  # none published: the model assumes one
    assert cat["h200-sxm"].is_unconfirmed("mamf_tflops")  # derived from the H100's


def test_a_user_entry_may_name_a_stack_but_not_an_unknown_one():
    cat = load_catalog(
        [{"id": "t1", "vendor": "google", "stack": "xla", "memory_gb": 32, "tdp_w": 300}]
    )
    assert cat["t1"].stack == "xla"
    assert (
        load_catalog([{"id": "x1", "vendor": "acme", "memory_gb": 64, "tdp_w": 300}])["x1"].stack
        is None
    )
    with pytest.raises(CatalogError, match=r"catalog\[0\]\.stack"):
        load_catalog(
            [{"id": "x2", "vendor": "acme", "stack": "opencl", "memory_gb": 8, "tdp_w": 9}]
        )
