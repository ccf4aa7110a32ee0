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
    "vr200",
    "mi455x",
    "tpu-v5e",
    "tpu-v5p",
    "tpu-v6e",
    "tpu7x",
]
TPUS = ("tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu7x")
RACKS = {"gb200": "GB200 NVL72", "gb300": "GB300 NVL72", "vr200": "Vera Rubin NVL72"}
RACKS["mi455x"] = "AMD Helios"


def test_required_accelerators_present():
    cat = load_catalog()
    assert set(REQUIRED) <= set(cat)
    assert {cat[a].vendor for a in REQUIRED} == {"nvidia", "amd", "google"}


def _figures(acc) -> list[str]:
    """Every figure an entry gives (a field, or a field of a section: `rack.kw`)."""
    data = acc.model_dump()
    out = []
    for field in SOURCED_FIELDS:
        value = data.get(field)
        if isinstance(value, dict):
            out += [f"{field}.{k}" for k, v in value.items() if v is not None]
        elif value is not None and value is not False:  # rent_only: false is no claim
            out.append(field)
    return out


def test_every_figure_names_a_source():
    cat = load_catalog()
    seen = set()
    for acc in cat.values():
        for sub in _figures(acc):
            assert acc.source_of(sub), f"{acc.id}: {sub} has no source"
            seen.add(sub.split(".")[0])
    # the new sections are covered: racks, rent-only parts, the TPUs' figures
    assert {"rack", "rent_only", "node_power_kw"} <= seen
    for acc_id in (*TPUS, *RACKS):
        figures = _figures(cat[acc_id])
        assert len(figures) >= 8 and all(cat[acc_id].source_of(f) for f in figures)
    for acc_id in RACKS:
        assert {"rack.gpus", "rack.kw", "rack.cooling"} <= set(_figures(cat[acc_id]))


def test_tpus_are_googles_rent_only_xla_parts():
    cat = load_catalog()
    for acc_id in TPUS:
        tpu = cat[acc_id]
        assert (tpu.vendor, tpu.stack, tpu.rent_only) == ("google", "xla", True)
        assert tpu.price.purchase is None
        assert "rent-only" in (tpu.no_purchase_reason() or "")
        assert "Google Cloud only" in tpu.source_of("rent_only")
    assert cat["h100-sxm"].no_purchase_reason() is None
    # published figures, per chip (reference/accelerators.md §6)
    assert [cat[t].tflops.bf16 for t in TPUS] == [197, 459, 918, 2307]
    assert cat["tpu7x"].tflops.fp8 == 4614 and cat["tpu-v5e"].tflops.fp8 is None
    assert [cat[t].scaleup_domain for t in TPUS] == [256, 8960, 256, 9216]
    # Google publishes no chip power: left out where nothing stands in, and said so
    for acc_id in ("tpu-v5e", "tpu-v5p", "tpu-v6e"):
        assert cat[acc_id].tdp_w is None and not cat[acc_id].power_known
        assert "not published" in cat[acc_id].source_of("tdp_w")
    assert cat["tpu7x"].power_known and cat["tpu7x"].is_unconfirmed("node_power_kw")
    assert cat["tpu7x"].facility_watts(1.0, 1.8) == pytest.approx(10e6 / 9216, rel=1e-3)


def test_rack_scale_parts_come_as_racks():
    cat = load_catalog()
    for acc_id, name in RACKS.items():
        acc = cat[acc_id]
        assert acc.rack is not None and acc.rack.name == name
        assert acc.rack.gpus == acc.scaleup_domain == 72 and acc.rack.cooling == "liquid"
        assert acc.purchase_unit == ("rack", 72)
        # the rack's kW is the power of the part: its share per accelerator
        assert acc.facility_watts(1.2, 1.8) == pytest.approx(acc.rack.kw * 1000 / 72 * 1.2)
    assert [cat[a].rack.kw for a in RACKS] == [120, 136, 210, 259.2]
    assert cat["gb200"].rack.scaleup_tbps == 130 and cat["vr200"].rack.scaleup_tbps == 260
    assert cat["mi455x"].is_unconfirmed("rack.kw") and cat["gb200"].is_unconfirmed("rack.kw")
    assert cat["h100-sxm"].rack is None and cat["h100-sxm"].purchase_unit == ("node", 8)
    assert cat.find("AMD Helios") == "mi455x" and cat.find("Vera Rubin NVL72") == "vr200"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"rent_only": True, "price": {"purchase": 1000}}, "rent-only part has no purchase"),
        (
            {"rack": {"name": "r", "gpus": 72, "kw": 100, "cooling": "liquid"}},
            "needs its scale-up domain",
        ),
        (
            {"scaleup_domain": 8, "rack": {"name": "r", "gpus": 36, "kw": 50, "cooling": "air"}},
            "not whole scale-up domains of 8",
        ),
        (
            {"scaleup_domain": 8, "rack": {"name": "r", "gpus": 8, "kw": 9, "cooling": "water"}},
            r"catalog\[0\]\.rack\.cooling",
        ),
    ],
)
def test_inconsistent_rack_or_rent_only_entries_are_refused(entry, message):
    with pytest.raises(CatalogError, match=message):
        load_catalog([{"id": "x1", "vendor": "acme", "memory_gb": 64, **entry}])


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
