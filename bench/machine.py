"""What machine a benchmark ran on: every benchmark prints this line first (the CPU model varies between
machines, and bf16 speed depends on its features)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

BF16_FEATURES = ("avx512_bf16", "amx_bf16", "amx_tile")


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_features() -> list[str]:
    """The CPU's bf16 features (none on CPUs that emulate bf16 slowly)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [f for f in BF16_FEATURES if f in flags]
    except OSError:
        pass
    return []


def describe() -> str:
    """One line: CPU model, cores, bf16 features, GPU if torch sees one."""
    features = ", ".join(cpu_features()) or "no native bf16"
    line = f"machine: {cpu_name()}, {os.cpu_count()} cores, {features}"
    try:
        import torch

        if torch.cuda.is_available():
            line += f"; GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return line
