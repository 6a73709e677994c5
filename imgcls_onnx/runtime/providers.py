"""Device selection: which onnxruntime execution providers to ask for, and checking what we got."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .errors import ProviderError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

GPU_FIX = (
    "install the GPU runtime with `pip uninstall -y onnxruntime && pip install 'imgcls-onnx[gpu]'` "
    "(onnxruntime-gpu, CUDA 12 and cuDNN 9 on the library path), or run on the CPU with device='cpu' / --device cpu"
)


class Device(enum.Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "gpu"


@dataclass(frozen=True)
class DeviceRequest:
    kind: Device
    device_id: int = 0

    def __str__(self) -> str:
        return "cpu" if self.kind is Device.CPU else ("auto" if self.kind is Device.AUTO else f"gpu:{self.device_id}")


_DEVICE_RE = re.compile(r"^(auto|cpu|gpu|cuda)(?::(\d+))?$")


def parse_device(device: "str | Device | DeviceRequest | None") -> DeviceRequest:
    """Accept 'auto', 'cpu', 'gpu', 'gpu:N', 'cuda', 'cuda:N' (PaddleX spells GPUs 'gpu:0')."""
    if isinstance(device, DeviceRequest):
        return device
    if device is None:
        return DeviceRequest(Device.AUTO)
    if isinstance(device, Device):
        return DeviceRequest(device)
    m = _DEVICE_RE.match(str(device).strip().lower())
    if not m:
        raise ProviderError(f"unknown device {device!r}; use 'auto', 'cpu', 'gpu' or 'gpu:N'")
    kind = {"auto": Device.AUTO, "cpu": Device.CPU, "gpu": Device.CUDA, "cuda": Device.CUDA}[m.group(1)]
    if kind is not Device.CUDA and m.group(2) is not None:
        raise ProviderError(f"device {device!r}: only gpu takes an index (gpu:N)")
    return DeviceRequest(kind, int(m.group(2) or 0))


def providers_for(request: DeviceRequest, available: list[str]) -> list:
    """The provider list to pass to InferenceSession for this request."""
    if request.kind is Device.CPU:
        return [CPU]
    if request.kind is Device.CUDA:
        if CUDA not in available:
            raise ProviderError(
                f"device {request} was requested but this onnxruntime has no CUDA execution provider "
                f"(available: {', '.join(available)}); {GPU_FIX}"
            )
        return [(CUDA, {"device_id": request.device_id}), CPU]
    return [(CUDA, {"device_id": request.device_id}), CPU] if CUDA in available else [CPU]
