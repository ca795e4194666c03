"""Export enlargement (vae.explore.upscale): sizes, methods, and crisper outlines than Lanczos without stairs."""

import random

import pytest
import torch
from PIL import Image, ImageDraw
from torchmetrics.functional.image import structural_similarity_index_measure as ssim

from vae.data.synth import random_attributes, render_face
from vae.explore import export
from vae.explore.upscale import UPSCALE_METHODS, upscale
from vae.measure.quality import laplacian_energy


def as_tensor(image: Image.Image) -> torch.Tensor:
    return (
        torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        .view(image.height, image.width, 3)
        .permute(2, 0, 1)
        .float()
        .unsqueeze(0)
        / 255
    )


def flat_face(size: int) -> Image.Image:
    """Flat colours with dark outlines, as Cartoon Set art is drawn."""
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    s = size / 64
    draw.ellipse([8 * s, 6 * s, 56 * s, 60 * s], fill=(241, 200, 170), outline=(40, 30, 30), width=max(1, round(s)))
    draw.ellipse([20 * s, 24 * s, 28 * s, 32 * s], fill=(30, 90, 160), outline=(0, 0, 0), width=max(1, round(s)))
    draw.rectangle([30 * s, 44 * s, 40 * s, 46 * s], fill=(150, 40, 40))
    return image


@pytest.mark.parametrize("method", UPSCALE_METHODS)
def test_every_method_gives_the_size_asked_for_and_keeps_the_colours(method):
    small = flat_face(64)
    big = upscale(small, 512, method)
    assert big.size == (512, 512)
    assert big.getpixel((2, 2)) == (255, 255, 255)
    assert upscale(small, 64, method) is small


def test_nearest_repeats_each_pixel():
    small = flat_face(16)
    big = as_tensor(upscale(small, 64, "nearest"))
    assert torch.equal(big, as_tensor(small).repeat_interleave(4, 2).repeat_interleave(4, 3))


def test_crisp_keeps_outlines_sharper_than_lanczos_and_as_close_to_the_true_drawing():
    truths, smalls = [], []
    for seed in range(4):  # generated cartoon faces drawn at 256 px, reduced 4× and enlarged back
        drawing = render_face(random_attributes(random.Random(seed)), 256).convert("RGB")
        truths.append(as_tensor(drawing))
        smalls.append(drawing.resize((64, 64), Image.LANCZOS))
    truth = torch.cat(truths)
    crisp = torch.cat([as_tensor(upscale(small, 256, "crisp")) for small in smalls])
    lanczos = torch.cat([as_tensor(upscale(small, 256, "lanczos")) for small in smalls])
    assert laplacian_energy(crisp).mean() > 1.5 * laplacian_energy(lanczos).mean()
    # on real faces crisp also scores the higher SSIM (bench/upscale_quality.py); here it may not lose more than 0.01
    assert ssim(crisp, truth, data_range=1.0) >= ssim(lanczos, truth, data_range=1.0) - 0.01


def test_an_unknown_method_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown upscale method 'bicubic'"):
        upscale(flat_face(16), 64, "bicubic")


def test_exports_are_enlarged_crisply_by_default(tmp_path):
    image = as_tensor(flat_face(64))[0]
    export.save_face(tmp_path / "face.png", image, size=512)
    with Image.open(tmp_path / "face.png") as written:
        assert written.size == (512, 512)
        assert as_tensor(written.convert("RGB")).equal(as_tensor(upscale(flat_face(64), 512, "crisp")))
