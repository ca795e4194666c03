"""What the machine can do: the CPU's model, its instruction-set flags and bf16 features, a GPU's name."""

from __future__ import annotations

import os
import platform
from pathlib import Path

BF16_FEATURES = ("avx512_bf16", "amx_bf16", "amx_tile")
CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags from /proc/cpuinfo (empty where it cannot be read)."""
    return set((_cpuinfo_field("flags") or "").split())


def cpu_features() -> list[str]:
    """The CPU's bf16 features (none on CPUs that emulate bf16 slowly)."""
    flags = cpu_flags()
    return [f for f in BF16_FEATURES if f in flags]


def native_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX): bf16 autocast then trains faster than fp32."""
    return bool(cpu_features())


def describe_cpu() -> str:
    """The CPU in a few words: model, cores, bf16 features."""
    return f"{cpu_name()}, {os.cpu_count()} cores, {', '.join(cpu_features()) or 'no native bf16'}"


def describe() -> str:
    """One line for a benchmark's first: the CPU, and the GPU if torch sees one."""
    line = f"machine: {describe_cpu()}"
    try:
        import torch

        if torch.cuda.is_available():
            line += f"; GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return line


def describe_device(device) -> str:
    """A torch device in a few words: the GPU's name, or :func:`describe_cpu`."""
    import torch

    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else describe_cpu()
