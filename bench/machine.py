"""What machine a benchmark ran on: every benchmark prints this line first (the CPU model varies between
machines, and bf16 speed depends on its features)."""

from vae.common.machine import cpu_features, cpu_flags, cpu_name, describe

__all__ = ["cpu_features", "cpu_flags", "cpu_name", "describe"]
