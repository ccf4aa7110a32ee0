"""The one place that knows about device vendors: discovery, synchronisation, memory, energy and
graph capture.

Everything else in the probe speaks `torch.device` and calls the methods of `Device`; a test fails
if any other module calls `torch.cuda` directly. Discovery goes through `torch.accelerator`
(PyTorch ≥ 2.6) and falls back to the older per-backend modules. A ROCm build of PyTorch addresses
AMD GPUs as "cuda" devices; `torch.version.hip` tells the two apart.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from collections.abc import Callable
from typing import Any

import torch

from polyfleet.catalog import Catalog
from polyfleet.inputs.profile import DeviceRecord, EnergyRecord

__all__ = ["Device", "EnergyMeter", "GraphCaptureError", "discover", "hostname"]

_VENDOR_OF_KIND = {"cuda": "nvidia", "rocm": "amd", "xpu": "intel", "mps": "apple"}


class GraphCaptureError(RuntimeError):
    """A step could not be captured as a device graph on this device; the message says why."""


def _root_cause(exc: BaseException) -> str:
    """The first line of the exception that started it all: a capture that fails inside makes
    the capture's end fail too, and that second error names no cause."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def hostname() -> str:
    return socket.gethostname()


def _accelerator_type() -> str:
    """The device type PyTorch would use: "cuda", "xpu", "mps", ... or "cpu" when none."""
    acc_api = getattr(torch, "accelerator", None)
    if acc_api is not None and acc_api.is_available():
        current = acc_api.current_accelerator()
        if current is not None:
            return current.type
    if torch.cuda.is_available():
        return "cuda"
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        return "xpu"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _cpu_name() -> tuple[str, str]:
    """(vendor, model name) of the host CPU, from /proc/cpuinfo where there is one."""
    vendor, name = "unknown", platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "vendor_id":
                vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(value, value)
            elif key == "model name":
                name = value
            if key == "" and name:
                break
    return vendor, name


class EnergyMeter:
    """Cumulative device energy in joules from NVML or AMD SMI, or nothing (with the reason)."""

    def __init__(self, source: str | None, read: Callable[[], float] | None, note: str) -> None:
        self.source = source
        self._read = read
        self.note = note

    def joules(self) -> float | None:
        if self._read is None:
            return None
        try:
            return self._read()
        except Exception:  # a counter that stops answering mid-run is reported as no figure
            return None

    def record(self) -> EnergyRecord:
        return EnergyRecord(source=self.source, note=self.note)  # type: ignore[arg-type]


def _nvml_meter(uuid: str | None, index: int) -> EnergyMeter:
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        return EnergyMeter(None, None, "nvidia-ml-py is not installed: no energy figures")
    try:
        pynvml.nvmlInit()
        handle = None
        if uuid:
            with contextlib.suppress(pynvml.NVMLError):
                handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
        if handle is None:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises where unsupported
    except pynvml.NVMLError as exc:
        return EnergyMeter(None, None, f"NVML has no energy counter here ({exc})")
    return EnergyMeter(
        "nvml",
        lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0,  # mJ -> J
        "NVML total energy counter, read before and after each timed loop",
    )


def _amdsmi_meter(index: int) -> EnergyMeter:
    try:
        import amdsmi
    except ImportError:
        return EnergyMeter(None, None, "amdsmi is not installed: no energy figures")
    try:
        amdsmi.amdsmi_init()
        handle = amdsmi.amdsmi_get_processor_handles()[index]

        def read() -> float:
            info = amdsmi.amdsmi_get_energy_count(handle)
            counter = info.get("energy_accumulator", info.get("power"))
            return float(counter) * float(info["counter_resolution"]) / 1e6  # µJ -> J

        read()
    except Exception as exc:
        return EnergyMeter(None, None, f"AMD SMI has no energy counter here ({exc})")
    return EnergyMeter("amdsmi", read, "AMD SMI energy accumulator, read around each timed loop")


class Device:
    """A torch device plus the vendor-specific calls the probe needs, behind one interface."""

    def __init__(self, kind: str, torch_type: str, index: int) -> None:
        self.kind = kind  # cuda, rocm, xpu, mps, cpu
        self.type = torch_type  # what torch calls it: rocm devices are "cuda"
        self.index = index
        self.torch_device = torch.device(torch_type, index) if torch_type != "cpu" else None
        if self.torch_device is None:
            self.torch_device = torch.device("cpu")

    # -- identity ------------------------------------------------------------------------------

    def _props(self) -> Any:
        if self.type == "cuda":
            return torch.cuda.get_device_properties(self.index)
        if self.type == "xpu":
            return torch.xpu.get_device_properties(self.index)
        return None

    def name(self) -> str:
        props = self._props()
        if props is not None:
            return str(props.name)
        if self.type == "mps":
            return f"Apple {platform.machine()} GPU (MPS)"
        return _cpu_name()[1]

    def vendor(self) -> str:
        return _VENDOR_OF_KIND.get(self.kind) or _cpu_name()[0]

    def memory_bytes(self) -> int | None:
        acc_api = getattr(torch, "accelerator", None)
        if self.type != "cpu" and acc_api is not None and hasattr(acc_api, "get_memory_info"):
            with contextlib.suppress(Exception):
                return int(acc_api.get_memory_info(self.index)[1])
        props = self._props()
        if props is not None and hasattr(props, "total_memory"):
            return int(props.total_memory)
        if self.type == "cpu":
            with contextlib.suppress(ValueError, OSError, AttributeError):
                return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        return None

    def count(self) -> int:
        acc_api = getattr(torch, "accelerator", None)
        if self.type == "cpu":
            return 1
        if acc_api is not None:
            return int(acc_api.device_count())
        return int(torch.cuda.device_count()) if self.type == "cuda" else 1

    def runtime(self) -> str | None:
        if self.kind == "rocm":
            return f"hip {torch.version.hip}"
        if self.kind == "cuda":
            return f"cuda {torch.version.cuda}"
        if self.kind == "xpu":
            return f"xpu {getattr(torch.version, 'xpu', None)}"
        return None

    def driver(self) -> str | None:
        if self.kind == "cuda":
            with contextlib.suppress(Exception):
                import pynvml

                pynvml.nvmlInit()
                version = pynvml.nvmlSystemGetDriverVersion()
                return version.decode() if isinstance(version, bytes) else str(version)
        if self.kind == "rocm":
            with contextlib.suppress(Exception):
                import amdsmi

                amdsmi.amdsmi_init()
                handle = amdsmi.amdsmi_get_processor_handles()[self.index]
                return str(amdsmi.amdsmi_get_gpu_driver_info(handle)["driver_version"])
        return None

    def record(self, catalog: Catalog, accelerator: str | None = None) -> DeviceRecord:
        """The device as a profile records it, matched to a catalog id (or the one given)."""
        name = self.name()
        if accelerator is not None:
            acc_id, how = catalog.resolve(accelerator, field="--as"), "user"
        else:
            acc_id = catalog.match_device(name) if self.type != "cpu" else None
            how = "name" if acc_id else "none"
        mem = self.memory_bytes()
        return DeviceRecord(
            kind=self.kind,  # type: ignore[arg-type]
            vendor=self.vendor(),
            name=name,
            index=self.index,
            count=self.count(),
            memory_gb=mem / 1e9 if mem else None,
            driver=self.driver(),
            runtime=self.runtime(),
            torch=torch.__version__,
            accelerator=acc_id,
            matched_by=how,  # type: ignore[arg-type]
        )

    # -- running -------------------------------------------------------------------------------

    def synchronize(self) -> None:
        """Wait for queued work, so wall-clock timers measure the device and not the launch."""
        if self.type == "cpu":
            return
        acc_api = getattr(torch, "accelerator", None)
        if acc_api is not None and hasattr(acc_api, "synchronize"):
            acc_api.synchronize(self.torch_device)
        elif self.type == "cuda":
            torch.cuda.synchronize(self.index)
        elif self.type == "mps":
            torch.mps.synchronize()

    def reset_peak_memory(self) -> None:
        if self.type == "cpu":
            return
        acc_api = getattr(torch, "accelerator", None)
        if acc_api is not None and hasattr(acc_api, "reset_peak_memory_stats"):
            acc_api.reset_peak_memory_stats(self.torch_device)
        elif self.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.index)

    def peak_memory_bytes(self) -> int | None:
        """Peak bytes allocated by PyTorch since the last reset; None where the runtime has no
        allocator statistics (the CPU)."""
        if self.type == "cpu":
            return None
        acc_api = getattr(torch, "accelerator", None)
        with contextlib.suppress(Exception):
            if acc_api is not None and hasattr(acc_api, "max_memory_allocated"):
                return int(acc_api.max_memory_allocated(self.torch_device))
            if self.type == "cuda":
                return int(torch.cuda.max_memory_allocated(self.index))
        return None

    def empty_cache(self) -> None:
        acc_api = getattr(torch, "accelerator", None)
        if self.type != "cpu" and acc_api is not None and hasattr(acc_api, "empty_cache"):
            acc_api.empty_cache()

    def supports_bf16(self) -> bool:
        if self.type == "cuda" and self.kind == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        return True

    def fp8_dtype(self) -> torch.dtype | None:
        """The fp8 format this device multiplies in (e4m3fn, or e4m3fnuz on MI300), found by
        trying a small scaled matrix product; None where neither runs."""
        if self.type == "cpu":
            return None  # CPU fp8 kernels are emulated; they say nothing about a tensor core
        for name in ("float8_e4m3fn", "float8_e4m3fnuz"):
            dtype = getattr(torch, name, None)
            if dtype is None:
                continue
            try:
                a = torch.ones(32, 32, device=self.torch_device).to(dtype)
                b = torch.ones(32, 32, device=self.torch_device).to(dtype).t()
                one = torch.ones((), device=self.torch_device)
                torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
                self.synchronize()
            except Exception:
                continue
            return dtype
        return None

    # -- graphs --------------------------------------------------------------------------------

    def graph_support(self) -> str | None:
        """None where this device can capture a step as a graph, else why it cannot."""
        if self.type == "cuda":  # CUDA graphs, and HIP graphs under the same API on ROCm
            return None
        return f"device graphs need a CUDA or ROCm device; this is a {self.kind} device"

    def capture(self, step: Callable[[], object], *, warmup: int = 3) -> Callable[[], None]:
        """Capture one call of `step` as a device graph and return its replay.

        A replay launches every kernel of the step in one call, so a timed replay measures the
        chip rather than Python's launches. `step` must keep its shapes and take everything that
        changes between calls from device tensors it updates itself. As the CUDA graph rules ask,
        it is first run `warmup` times on a side stream (lazy handles and workspaces are made
        outside the capture) and captured on that same stream; one check replay follows, so a graph
        that cannot run fails here. The warm-up and check calls change whatever `step` changes:
        callers reset that state before timing. Any failure raises `GraphCaptureError`.
        """
        reason = self.graph_support()
        if reason is not None:
            raise GraphCaptureError(reason)
        try:
            with torch.cuda.device(self.index):
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                graph = torch.cuda.CUDAGraph()
                # the outer context restores the caller's stream even when a failed capture
                # leaves the inner one unexited
                with torch.cuda.stream(side):
                    for _ in range(warmup):
                        step()
                    side.synchronize()
                    with torch.cuda.graph(graph, stream=side, capture_error_mode="thread_local"):
                        step()
                torch.cuda.current_stream().wait_stream(side)
                graph.replay()
                self.synchronize()
        except Exception as exc:  # the eager figure stands; the reason goes in the profile
            with contextlib.suppress(Exception):
                self.synchronize()
            raise GraphCaptureError(f"graph capture failed ({_root_cause(exc)})") from exc
        return graph.replay

    def energy_meter(self) -> EnergyMeter:
        if self.kind == "cuda":
            props = self._props()
            uuid = getattr(props, "uuid", None)
            text = str(uuid) if uuid is not None else None
            if text and not text.startswith("GPU-"):
                text = "GPU-" + text
            return _nvml_meter(text, self.index)
        if self.kind == "rocm":
            return _amdsmi_meter(self.index)
        return EnergyMeter(None, None, f"no energy counter for a {self.kind} device")


def discover(index: int = 0, *, force_cpu: bool = False) -> Device:
    """The accelerator PyTorch sees (device `index` of it), or the CPU when there is none."""
    torch_type = "cpu" if force_cpu else _accelerator_type()
    kind = torch_type
    if torch_type == "cuda" and getattr(torch.version, "hip", None):
        kind = "rocm"
    if torch_type not in ("cuda", "xpu", "mps", "cpu"):
        kind = "other"
    if torch_type == "cpu":
        index = 0
    return Device(kind, torch_type, index)
