"""Small fakes of the accelerator driver objects that the device probes read (torch.cuda-shaped modules,
torch.backends.mps, psutil)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

GiB = 2**30

# --- fake device drivers (the narrow surface the probes read) ----------------------------------------------


@dataclass
class FakeAccelerator:
    """Stands in for ``torch.cuda`` / ``torch.xpu`` / ``torch.npu``: a list of (name, total, free) devices."""

    devices: list[tuple[str, int, int]] = field(default_factory=list)
    bf16: bool = True

    def is_available(self) -> bool:
        return bool(self.devices)

    def device_count(self) -> int:
        return len(self.devices)

    def get_device_name(self, index: int) -> str:
        return self.devices[index][0]

    def get_device_properties(self, index: int) -> SimpleNamespace:
        name, total, _ = self.devices[index]
        return SimpleNamespace(name=name, total_memory=total)

    def mem_get_info(self, index: int) -> tuple[int, int]:
        _, total, free = self.devices[index]
        return free, total

    def is_bf16_supported(self) -> bool:
        return self.bf16


@dataclass
class FakeMpsBackend:
    available: bool = True
    macos: tuple[int, int] = (14, 2)

    def is_available(self) -> bool:
        return self.available

    def is_macos_or_newer(self, major: int, minor: int) -> bool:
        return self.macos >= (major, minor)


@dataclass
class FakeMps:
    recommended: int = 24 * GiB
    allocated: int = 2 * GiB

    def recommended_max_memory(self) -> int:
        return self.recommended

    def driver_allocated_memory(self) -> int:
        return self.allocated


class FakeMemory:
    """Stands in for psutil."""

    def __init__(self, total: int = 32 * GiB, available: int = 20 * GiB) -> None:
        self.total, self.available = total, available

    def virtual_memory(self) -> SimpleNamespace:
        return SimpleNamespace(total=self.total, available=self.available)


def fake_torch(
    *,
    cuda: FakeAccelerator | None = None,
    hip: str | None = None,
    xpu: FakeAccelerator | None = None,
    npu: FakeAccelerator | None = None,
    mps: bool = False,
    mps_macos: tuple[int, int] = (14, 2),
) -> SimpleNamespace:
    """A torch-shaped object with only the given accelerators."""
    torch = SimpleNamespace(
        cuda=cuda or FakeAccelerator(),
        version=SimpleNamespace(hip=hip, cuda=None if hip else "12.4"),
        xpu=xpu or FakeAccelerator(),
        backends=SimpleNamespace(mps=FakeMpsBackend(available=mps, macos=mps_macos)),
        mps=FakeMps(),
    )
    if npu is not None:
        torch.npu = npu
    return torch
