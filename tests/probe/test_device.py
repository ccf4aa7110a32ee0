"""Device discovery and the rule that only the device module talks to a vendor's API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from polyfleet.catalog import load_catalog
from polyfleet.probe import device as device_mod

SRC = Path(device_mod.__file__).parents[1]  # src/polyfleet
DEVICE_MODULE = Path(device_mod.__file__)
VENDOR_MODULES = {"cuda", "xpu", "mps", "hip"}


def vendor_calls(source: str) -> list[str]:
    """`torch.cuda...` (and xpu/mps) references and `.cuda()` calls in Python source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in VENDOR_MODULES
            and isinstance(node.value, ast.Name)
            and node.value.id == "torch"
        ):
            found.append(f"line {node.lineno}: torch.{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "cuda"
        ):
            found.append(f"line {node.lineno}: .cuda()")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch.cuda"):
            found.append(f"line {node.lineno}: from {node.module} import")
    return found


def test_the_checker_sees_vendor_calls():
    assert vendor_calls("import torch\ntorch.cuda.synchronize()\n") == ["line 2: torch.cuda"]
    assert vendor_calls("x = model.cuda()\n") == ["line 1: .cuda()"]
    assert vendor_calls("from torch.cuda import amp\n") == ["line 1: from torch.cuda import"]
    assert vendor_calls("torch.accelerator.synchronize()\nx.to(device)\n") == []


def test_no_module_but_the_device_module_calls_a_vendor_api():
    offenders = {
        str(path.relative_to(SRC)): calls
        for path in SRC.rglob("*.py")
        if path != DEVICE_MODULE and (calls := vendor_calls(path.read_text("utf-8")))
    }
    assert offenders == {}
    assert vendor_calls(DEVICE_MODULE.read_text("utf-8"))  # the checker does look at it


def test_cpu_discovery():
    dev = device_mod.discover(force_cpu=True)
    assert (dev.kind, dev.type, dev.torch_device) == ("cpu", "cpu", torch.device("cpu"))
    record = dev.record(load_catalog())
    assert record.kind == "cpu" and record.count == 1 and record.accelerator is None
    assert record.torch == torch.__version__ and record.memory_gb and record.memory_gb > 0
    assert dev.peak_memory_bytes() is None and dev.fp8_dtype() is None
    dev.synchronize()  # a no-op that must not fail


def test_a_cuda_device_under_a_hip_build_is_rocm(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(device_mod, "_accelerator_type", lambda: "cuda")
    monkeypatch.setattr(torch.version, "hip", "7.1.0", raising=False)
    dev = device_mod.discover()
    assert (dev.kind, dev.type) == ("rocm", "cuda")
    assert dev.vendor() == "amd" and dev.runtime() == "hip 7.1.0"
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    dev = device_mod.discover()
    assert (dev.kind, dev.vendor()) == ("cuda", "nvidia")


def test_energy_meter_reports_why_it_has_no_figures():
    meter = device_mod.discover(force_cpu=True).energy_meter()
    assert meter.source is None and meter.joules() is None and "cpu" in meter.note
    broken = device_mod.EnergyMeter("nvml", lambda: 1 / 0, "test")
    assert broken.joules() is None
