"""Device detection, with small fakes of the driver objects for hardware this machine lacks."""

from __future__ import annotations

import pytest
from model_fakes import FakeAccelerator, FakeMemory, GiB, fake_torch

from workbench.errors import ModelError
from workbench.models.devices import (
    DeviceInfo,
    detect_device,
    detect_devices,
    probe_cpu,
    probe_cuda,
    probe_failures,
    probe_mps,
    probe_npu,
    probe_xpu,
)


def test_cuda_devices_are_listed_with_memory_and_bf16() -> None:
    torch = fake_torch(
        cuda=FakeAccelerator([("NVIDIA H100", 80 * GiB, 70 * GiB), ("NVIDIA T4", 16 * GiB, 15 * GiB)])
    )
    devices = probe_cuda(torch)
    assert [d.torch_device for d in devices] == ["cuda:0", "cuda:1"]
    first = devices[0]
    assert (first.kind, first.name, first.index) == ("cuda", "NVIDIA H100", 0)
    assert (first.total_memory, first.free_memory, first.bf16) == (80 * GiB, 70 * GiB, True)
    assert first.is_accelerator
    assert first.label == "cuda:0 NVIDIA H100 (80.0 GiB)"


def test_rocm_is_reported_as_rocm_but_addressed_as_cuda() -> None:
    torch = fake_torch(cuda=FakeAccelerator([("AMD Instinct MI300X", 192 * GiB, 190 * GiB)]), hip="6.2.41133")
    (device,) = probe_cuda(torch)
    assert device.kind == "rocm"
    assert device.torch_device == "cuda:0"
    assert device.label.startswith("rocm cuda:0 AMD Instinct")


def test_intel_xpu() -> None:
    torch = fake_torch(
        xpu=FakeAccelerator([("Intel Data Center GPU Max 1550", 64 * GiB, 60 * GiB)], bf16=True)
    )
    (device,) = probe_xpu(torch)
    assert (device.kind, device.torch_device, device.bf16) == ("xpu", "xpu:0", True)


def test_ascend_npu_through_torch_npu_attribute() -> None:
    torch = fake_torch(npu=FakeAccelerator([("Ascend910B", 64 * GiB, 62 * GiB)], bf16=True))
    (device,) = probe_npu(torch)
    assert (device.kind, device.name, device.torch_device) == ("npu", "Ascend910B", "npu:0")
    assert probe_npu(fake_torch()) == []  # no torch_npu imported -> no torch.npu


def test_apple_mps_uses_unified_memory_and_macos_version_for_bf16() -> None:
    (device,) = probe_mps(fake_torch(mps=True), FakeMemory())
    assert (device.kind, device.torch_device, device.index) == ("mps", "mps", None)
    assert device.total_memory == 24 * GiB and device.free_memory == 22 * GiB
    assert device.bf16 is True
    (old,) = probe_mps(fake_torch(mps=True, mps_macos=(13, 5)), FakeMemory())
    assert old.bf16 is False
    assert probe_mps(fake_torch(mps=False), FakeMemory()) == []


def test_cpu_memory_comes_from_psutil() -> None:
    (cpu,) = probe_cpu(None, FakeMemory(total=8 * GiB, available=3 * GiB))
    assert (cpu.kind, cpu.torch_device, cpu.total_memory, cpu.free_memory) == ("cpu", "cpu", 8 * GiB, 3 * GiB)
    assert not cpu.is_accelerator


def test_detect_devices_orders_accelerators_first_and_cpu_last() -> None:
    torch = fake_torch(
        cuda=FakeAccelerator([("NVIDIA L4", 24 * GiB, 20 * GiB)]),
        xpu=FakeAccelerator([("Intel Arc", 16 * GiB, 15 * GiB)]),
        npu=FakeAccelerator([("Ascend910B", 64 * GiB, 60 * GiB)]),
        mps=True,
    )
    kinds = [d.kind for d in detect_devices(torch, memory=FakeMemory())]
    assert kinds == ["cuda", "xpu", "npu", "mps", "cpu"]
    assert detect_device(None, devices=detect_devices(torch, memory=FakeMemory())).kind == "cuda"


def test_a_broken_driver_does_not_hide_the_cpu() -> None:
    class BrokenCuda(FakeAccelerator):
        def device_count(self) -> int:
            raise RuntimeError("CUDA driver initialization failed")

        def is_available(self) -> bool:
            return True

    torch = fake_torch(cuda=BrokenCuda())
    devices = detect_devices(torch, memory=FakeMemory())
    assert [d.kind for d in devices] == ["cpu"] or devices[-1].kind == "cpu"


def test_a_probe_that_raises_is_recorded() -> None:
    class Exploding:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("driver exploded")

    torch = fake_torch()
    torch.backends = Exploding()
    devices = detect_devices(torch, memory=FakeMemory())
    assert devices[-1].kind == "cpu"
    assert "driver exploded" in probe_failures()["mps"]


def test_detect_device_by_name() -> None:
    devices = detect_devices(
        fake_torch(cuda=FakeAccelerator([("A", GiB, GiB), ("B", GiB, GiB)]), hip="6.0"), memory=FakeMemory()
    )
    assert detect_device("cuda:1", devices=devices).name == "B"  # ROCm answers to "cuda"
    assert detect_device("rocm", devices=devices).name == "A"
    assert detect_device("auto", devices=devices).name == "A"
    assert detect_device("cpu", devices=devices).kind == "cpu"
    info = devices[0]
    assert detect_device(info) is info


def test_missing_device_names_what_is_available() -> None:
    devices = detect_devices(fake_torch(), memory=FakeMemory())
    with pytest.raises(ModelError) as err:
        detect_device("cuda", devices=devices)
    assert err.value.field == "device"
    assert "not available" in err.value.message and "cpu" in (err.value.hint or "")
    with pytest.raises(ModelError, match="unknown device kind 'tpu'"):
        detect_device("tpu", devices=devices)
    with pytest.raises(ModelError, match="cannot read the device"):
        detect_device("cuda:x", devices=devices)


def test_real_detection_on_this_machine_finds_the_cpu() -> None:
    devices = detect_devices()
    assert devices[-1].kind == "cpu"
    assert devices[-1].total_memory and devices[-1].total_memory > 0
    assert isinstance(detect_device(), DeviceInfo)
    assert detect_device("cpu").to_dict()["label"].startswith("cpu ")
