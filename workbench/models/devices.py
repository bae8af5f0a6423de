"""Device detection: NVIDIA CUDA, AMD ROCm, Intel XPU, Huawei Ascend NPU, Apple MPS, and the CPU.

Each kind has a small probe function that reads one torch-like object (``torch`` itself by default). Tests
pass small fakes of those objects to exercise code paths for hardware this machine lacks, so the probes only
touch a narrow, documented surface:

* CUDA / ROCm: ``torch.cuda.is_available / device_count / get_device_name / mem_get_info /
  get_device_properties / is_bf16_supported`` and ``torch.version.hip`` (set on ROCm builds, which reuse the
  ``cuda`` device type);
* XPU: the same functions on ``torch.xpu``;
* NPU: the same functions on ``torch.npu``, which exists once ``torch_npu`` is imported;
* MPS: ``torch.backends.mps.is_available`` and ``torch.mps.recommended_max_memory /
  driver_allocated_memory`` (unified memory, so the system's memory when those are missing);
* CPU: ``psutil.virtual_memory()``.

A probe that raises (a broken driver, a half-installed plugin) is skipped and reported in
:func:`probe_failures`, never fatal: the CPU is always there.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from workbench.errors import ModelError

#: Device kinds in order of preference.
KINDS = ("cuda", "rocm", "xpu", "npu", "mps", "cpu")

_failures: dict[str, str] = {}


@dataclass(frozen=True)
class DeviceInfo:
    """One device a model can run on.

    Attributes:
        kind: ``cuda``, ``rocm``, ``xpu``, ``npu``, ``mps`` or ``cpu``.
        name: The hardware's name (``NVIDIA H100 80GB HBM3``, ``Apple MPS``, the CPU model).
        index: Device ordinal for multi-device kinds; ``None`` for ``mps`` and ``cpu``.
        total_memory: Bytes of memory the device has (system memory for ``cpu``; unified for ``mps``).
        free_memory: Bytes free now, when the driver says; ``None`` when unknown.
        bf16: Whether bfloat16 compute is supported.
        torch_device: The string torch uses (``cuda:0`` also for ROCm, ``xpu:0``, ``npu:0``, ``mps``, ``cpu``).
    """

    kind: str
    name: str
    index: int | None
    total_memory: int | None
    free_memory: int | None
    bf16: bool
    torch_device: str

    @property
    def is_accelerator(self) -> bool:
        """Whether this is anything but the CPU."""
        return self.kind != "cpu"

    @property
    def label(self) -> str:
        """A one-line human description, e.g. ``cuda:0 NVIDIA A100 (80.0 GiB)``."""
        memory = f" ({self.total_memory / 2**30:.1f} GiB)" if self.total_memory else ""
        kind = f"{self.kind} " if self.kind == "rocm" else ""
        return f"{kind}{self.torch_device} {self.name}{memory}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``workbench doctor --json``)."""
        return {**asdict(self), "label": self.label}


def _call(obj: Any, name: str, *args: Any) -> Any:
    """``obj.name(*args)``, or ``None`` when the function is missing or fails."""
    fn = getattr(obj, name, None)
    if fn is None:
        return None
    try:
        return fn(*args)
    except Exception:
        return None


def _indexed_devices(module: Any, kind: str, device_type: str) -> list[DeviceInfo]:
    """Devices of a ``torch.cuda``-shaped module (``cuda``, ``xpu``, ``npu``)."""
    if module is None or not _call(module, "is_available"):
        return []
    devices = []
    for index in range(int(_call(module, "device_count") or 0)):
        props = _call(module, "get_device_properties", index)
        name = _call(module, "get_device_name", index) or getattr(props, "name", None) or kind.upper()
        total = getattr(props, "total_memory", None)
        free = None
        mem = _call(module, "mem_get_info", index)
        if mem is not None:
            free, total_from_driver = (int(x) for x in mem)
            total = total or total_from_driver
        bf16 = bool(_call(module, "is_bf16_supported"))
        devices.append(
            DeviceInfo(
                kind=kind,
                name=str(name),
                index=index,
                total_memory=int(total) if total is not None else None,
                free_memory=free,
                bf16=bf16,
                torch_device=f"{device_type}:{index}",
            )
        )
    return devices


def probe_cuda(torch: Any) -> list[DeviceInfo]:
    """NVIDIA CUDA devices, or AMD ROCm ones when torch is a HIP build (``torch.version.hip`` set)."""
    hip = getattr(getattr(torch, "version", None), "hip", None)
    return _indexed_devices(getattr(torch, "cuda", None), "rocm" if hip else "cuda", "cuda")


def probe_xpu(torch: Any) -> list[DeviceInfo]:
    """Intel GPUs through ``torch.xpu``."""
    return _indexed_devices(getattr(torch, "xpu", None), "xpu", "xpu")


def probe_npu(torch: Any) -> list[DeviceInfo]:
    """Huawei Ascend NPUs through ``torch.npu`` (present once ``torch_npu`` has been imported)."""
    return _indexed_devices(getattr(torch, "npu", None), "npu", "npu")


def probe_mps(torch: Any, memory: Any = None) -> list[DeviceInfo]:
    """Apple silicon GPU through Metal (MPS). Memory is unified, so sizes come from the system when needed."""
    mps_backend = getattr(getattr(torch, "backends", None), "mps", None)
    if mps_backend is None or not _call(mps_backend, "is_available"):
        return []
    mps = getattr(torch, "mps", None)
    total = _call(mps, "recommended_max_memory") if mps is not None else None
    if not total and memory is not None:
        total = memory.virtual_memory().total
    used = _call(mps, "driver_allocated_memory") if mps is not None else None
    free = int(total) - int(used) if total and used is not None else None
    # bfloat16 on MPS needs macOS 14 (Sonoma) or newer.
    bf16 = bool(_call(mps_backend, "is_macos_or_newer", 14, 0))
    return [
        DeviceInfo(
            kind="mps",
            name="Apple MPS",
            index=None,
            total_memory=int(total) if total else None,
            free_memory=free,
            bf16=bf16,
            torch_device="mps",
        )
    ]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def probe_cpu(torch: Any = None, memory: Any = None) -> list[DeviceInfo]:
    """The CPU, with system memory from ``psutil`` (or the ``memory`` object given)."""
    if memory is None:
        import psutil

        memory = psutil
    vm = memory.virtual_memory()
    cores = os.cpu_count() or 1
    return [
        DeviceInfo(
            kind="cpu",
            name=f"{_cpu_name()} ({cores} cores)",
            index=None,
            total_memory=int(vm.total),
            free_memory=int(vm.available),
            # torch computes in bfloat16 on every CPU (fast with AVX512-BF16/AMX, slower elsewhere).
            bf16=True,
            torch_device="cpu",
        )
    ]


def _import_torch_npu() -> None:
    """Import ``torch_npu`` when installed; it attaches ``torch.npu``."""
    from workbench._optional import is_available

    if is_available("torch_npu"):
        import torch_npu  # noqa: F401


def detect_devices(torch_module: Any = None, *, memory: Any = None) -> list[DeviceInfo]:
    """Every device found, best first (CUDA/ROCm, XPU, NPU, MPS), the CPU always last.

    Args:
        torch_module: A torch-like object to probe (default: ``torch``); tests pass fakes.
        memory: A psutil-like object with ``virtual_memory()`` (default: ``psutil``).
    """
    if torch_module is None:
        import torch as torch_module

        try:
            _import_torch_npu()
        except Exception as exc:
            _failures["npu"] = f"torch_npu failed to import: {type(exc).__name__}: {exc}"
    if memory is None:
        import psutil

        memory = psutil
    probes: list[tuple[str, Callable[[], list[DeviceInfo]]]] = [
        ("cuda", lambda: probe_cuda(torch_module)),
        ("xpu", lambda: probe_xpu(torch_module)),
        ("npu", lambda: probe_npu(torch_module)),
        ("mps", lambda: probe_mps(torch_module, memory)),
    ]
    devices: list[DeviceInfo] = []
    for kind, probe in probes:
        try:
            devices.extend(probe())
        except Exception as exc:  # a broken driver must not hide the CPU
            _failures[kind] = f"{type(exc).__name__}: {exc}"
    devices.extend(probe_cpu(torch_module, memory))
    return devices


def probe_failures() -> dict[str, str]:
    """Probes that raised during detection in this process (kind -> error), for ``workbench doctor``."""
    return dict(_failures)


def detect_device(
    device: str | DeviceInfo | None = None, *, devices: list[DeviceInfo] | None = None
) -> DeviceInfo:
    """The device to use: the best one found, or the one ``device`` names.

    Args:
        device: ``None`` or ``"auto"`` for the best device; a kind (``"cuda"``, ``"rocm"``, ``"xpu"``,
            ``"npu"``, ``"mps"``, ``"cpu"``), optionally with an index (``"cuda:1"``); or a
            :class:`DeviceInfo`, returned unchanged.
        devices: The candidates (default: :func:`detect_devices`).

    Raises:
        ModelError: The named device is not present; the message lists the ones that are.
    """
    if isinstance(device, DeviceInfo):
        return device
    found = devices if devices is not None else detect_devices()
    if device is None or str(device).strip().lower() in {"", "auto"}:
        return found[0]
    spec = str(device).strip().lower()
    kind, _, index_text = spec.partition(":")
    index = None
    if index_text:
        if not index_text.isdigit():
            raise ModelError(
                f"cannot read the device '{device}'",
                field="device",
                hint="use a kind with an optional index: auto, cpu, cuda, cuda:1, rocm, xpu, npu, mps",
            )
        index = int(index_text)
    if kind not in KINDS:
        raise ModelError(
            f"unknown device kind '{kind}'",
            field="device",
            hint=f"use one of: auto, {', '.join(KINDS)} (optionally with an index, e.g. cuda:1)",
        )
    for info in found:
        # ROCm devices answer to "cuda" too: torch addresses them as cuda:N.
        same_kind = info.kind == kind or (kind == "cuda" and info.kind == "rocm")
        if same_kind and (index is None or info.index == index or (info.index is None and index == 0)):
            return info
    available = ", ".join(d.torch_device if d.kind != "rocm" else f"rocm ({d.torch_device})" for d in found)
    raise ModelError(
        f"the device '{device}' is not available here",
        field="device",
        hint=f"available devices: {available}; pass device='auto' to pick the best one",
    )
