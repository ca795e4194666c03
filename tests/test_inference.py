import pytest
import torch
from torch import nn

from vae.model import inference
from vae.model.inference import PRECISION_ENV, decode_faces, drawing_dtype, fastest_decode_ms, folded_for_inference
from vae.model.network import ConvVAE, VAEConfig


def _with_running_statistics(model: ConvVAE) -> ConvVAE:
    """Batch norms with statistics far from their initial (0, 1), so folding them changes the weights."""
    gen = torch.Generator().manual_seed(0)
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm2d):
            n = norm.num_features
            norm.running_mean.copy_(torch.randn(n, generator=gen))
            norm.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            norm.weight.data.copy_(torch.randn(n, generator=gen))
            norm.bias.data.copy_(torch.randn(n, generator=gen))
    return model.eval()


@pytest.mark.parametrize(
    "config",
    [
        VAEConfig(base_channels=8, max_channels=32),
        VAEConfig(base_channels=8, max_channels=32, residual_blocks=1, full_res_channels=8, decoder_width=2),
        VAEConfig(base_channels=8, max_channels=32, upsample="resize"),
    ],
    ids=["default", "residual-full-res-wide", "resize"],
)
def test_the_folded_copy_draws_the_same_faces_without_batch_norms(config):
    torch.manual_seed(0)
    model = _with_running_statistics(ConvVAE(config))
    folded = folded_for_inference(model)
    z = torch.randn(4, config.latent_dim)
    x = torch.rand(2, 3, config.image_size, config.image_size)
    with torch.no_grad():
        assert torch.allclose(folded.decode(z), model.decode(z), atol=1e-5)
        assert torch.allclose(folded.encode(x)[0], model.encode(x)[0], atol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0  # the original is left as it was
    assert all(p.requires_grad for p in model.parameters())


def test_the_bf16_copy_draws_faces_within_a_few_levels_of_fp32():
    torch.manual_seed(0)
    model = _with_running_statistics(ConvVAE(VAEConfig(base_channels=8, max_channels=32)))
    z = torch.randn(8, model.latent_dim)
    exact = decode_faces(folded_for_inference(model), z)
    drawn = decode_faces(folded_for_inference(model, torch.bfloat16), z)
    assert drawn.dtype == torch.float32 and drawn.is_contiguous() and drawn.shape == exact.shape
    off = (drawn - exact).abs() * 255
    assert 0 < off.mean() < 1.0 and off.max() < 16  # bf16's 8-bit mantissa: not equal, and close
    assert next(folded_for_inference(model, torch.bfloat16).parameters()).dtype == torch.bfloat16


def test_drawing_dtype_follows_the_environment_and_refuses_a_wrong_name(monkeypatch):
    model = ConvVAE(VAEConfig(latent_dim=4, base_channels=4)).eval()
    monkeypatch.setenv(PRECISION_ENV, "BF16")
    assert drawing_dtype(model) == torch.bfloat16
    monkeypatch.setenv(PRECISION_ENV, "fp32")
    assert drawing_dtype(model) == torch.float32
    monkeypatch.setenv(PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match="FACE_EXPLORER_DRAW must be one of fp32, bf16"):
        drawing_dtype(model)


@pytest.mark.parametrize(
    ("native", "fp32_ms", "bf16_ms", "expected"),
    [
        (False, 9.0, 1.0, torch.float32),  # without native bf16 it is not even timed
        (True, 9.0, 4.0, torch.bfloat16),
        (True, 4.0, 3.9, torch.float32),  # not BF16_GAIN times faster: fp32's exact faces win
    ],
)
def test_drawing_dtype_measures_where_the_cpu_has_native_bf16(monkeypatch, native, fp32_ms, bf16_ms, expected):
    monkeypatch.delenv(PRECISION_ENV)
    monkeypatch.setattr(inference, "native_bf16", lambda: native)
    monkeypatch.setattr(inference, "_measured", {})
    timed = []

    def fake_ms(folded, repeats=7):
        dtype = next(folded.parameters()).dtype
        timed.append(dtype)
        return fp32_ms if dtype == torch.float32 else bf16_ms

    monkeypatch.setattr(inference, "fastest_decode_ms", fake_ms)
    assert drawing_dtype(ConvVAE(VAEConfig(latent_dim=4, base_channels=4)).eval()) == expected
    assert timed == ([torch.float32, torch.bfloat16] if native else [])


def test_drawing_dtype_is_measured_once_per_architecture(monkeypatch):
    monkeypatch.delenv(PRECISION_ENV)
    monkeypatch.setattr(inference, "native_bf16", lambda: True)
    monkeypatch.setattr(inference, "_measured", {})
    timed = []

    def fake_ms(folded, repeats=7):
        timed.append(folded.latent_dim)
        return 9.0 if next(folded.parameters()).dtype == torch.float32 else 3.0

    monkeypatch.setattr(inference, "fastest_decode_ms", fake_ms)
    small = [ConvVAE(VAEConfig(latent_dim=4, base_channels=4)).eval() for _ in range(3)]
    assert {drawing_dtype(model) for model in small} == {torch.bfloat16}
    assert timed == [4, 4]  # fp32 and bf16 timed for the first; the weights of the others change nothing
    drawing_dtype(ConvVAE(VAEConfig(latent_dim=6, base_channels=4)).eval())
    assert timed == [4, 4, 6, 6]


def test_fastest_decode_ms_reports_the_fastest_decode_after_a_warm_up(monkeypatch):
    model = folded_for_inference(ConvVAE(VAEConfig(latent_dim=4, base_channels=4)).eval(), torch.bfloat16)
    clock = iter([0.0, 0.005, 1.0, 1.002, 2.0, 2.003])  # decodes of 5, 2 and 3 ms (the warm-up is not timed)
    monkeypatch.setattr(inference.time, "perf_counter", lambda: next(clock))
    assert fastest_decode_ms(model, repeats=3) == pytest.approx(2.0)
