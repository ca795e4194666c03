"""The machine's description and the training precision "auto" picks from it."""

import torch

from vae.common import machine
from vae.model.metrics import training_precision

CPUINFO = """processor\t: 0
model name\t: Example CPU 9000
flags\t\t: fpu sse2 avx2 avx512f {extra}
"""


def fake_cpu(monkeypatch, tmp_path, extra: str) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO.format(extra=extra))
    monkeypatch.setattr(machine, "CPUINFO", info)


def test_cpu_with_native_bf16_is_described_and_trains_in_bf16(monkeypatch, tmp_path):
    fake_cpu(monkeypatch, tmp_path, "avx512_bf16 amx_tile")
    assert machine.cpu_features() == ["avx512_bf16", "amx_tile"]
    assert "Example CPU 9000" in machine.describe_cpu() and "avx512_bf16, amx_tile" in machine.describe_cpu()
    assert training_precision(torch.device("cpu")) == "bf16"
    assert training_precision(torch.device("cpu"), "fp32") == "fp32"


def test_cpu_without_native_bf16_trains_in_fp32(monkeypatch, tmp_path):
    fake_cpu(monkeypatch, tmp_path, "")
    assert machine.cpu_features() == [] and not machine.native_bf16()
    assert {"avx2", "avx512f"} <= machine.cpu_flags()
    assert machine.describe_cpu().endswith("no native bf16")
    assert training_precision(torch.device("cpu")) == "fp32"
    assert training_precision(torch.device("cpu"), "bf16") == "bf16"
    assert training_precision(torch.device("cuda")) == "bf16"


def test_unreadable_cpuinfo_is_no_error(monkeypatch, tmp_path):
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "missing")
    assert machine.cpu_features() == [] and machine.cpu_flags() == set() and machine.cpu_name()
