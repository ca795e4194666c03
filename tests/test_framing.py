"""The loader frames a face the same way at any resolution, and loading its own output is a no-op."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.functional.image import structural_similarity_index_measure as ssim

from tests.helpers import write_good_faces
from vae.data.folder import content_box, load_image, preprocess


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(ssim(a[None], b[None], data_range=1.0))


def _tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255


def _copies(original: Image.Image, folder) -> dict[str, object]:
    """Files a user may hold of the same face: the loader's own outputs and downscaled copies."""
    rgba = original.convert("RGBA")
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    images = {
        "loaded at 128": preprocess(rgba, 128),
        "loaded at 256": preprocess(rgba, 256),
        "downscaled to 250, RGBA": rgba.resize((250, 250), Image.LANCZOS),
        "downscaled to 250, on white": on_white.resize((250, 250), Image.LANCZOS),
        "downscaled to 180, on white": on_white.resize((180, 180), Image.BICUBIC),
    }
    paths = {}
    for name, image in images.items():
        paths[name] = folder / (name.replace(" ", "_").replace(",", "") + ".png")
        image.save(paths[name])
    return paths


def _check_same_framing(originals, tmp_path, sizes=(64, 128)):
    worst = {}
    for k, path in enumerate(originals):
        folder = tmp_path / f"copies{k}"
        folder.mkdir()
        copies = _copies(Image.open(path), folder)
        for size in sizes:
            reference = load_image(path, size)
            for name, copy in copies.items():
                if size == 128 and name == "downscaled to 180, on white":
                    continue  # its face is about 120 px wide: too little to rebuild at 128 px
                score = _ssim(reference, load_image(copy, size))
                worst[(name, size)] = min(worst.get((name, size), 1.0), score)
    low = {key: round(score, 4) for key, score in worst.items() if score < 0.99}
    assert not low, f"framed differently from the original (SSIM < 0.99): {low}"


def test_real_originals_and_their_copies_load_to_the_same_pixels(sample_dir, tmp_path):
    _check_same_framing(sorted(sample_dir.glob("*.png")), tmp_path)


def test_generated_faces_and_their_copies_load_to_the_same_pixels(tmp_path):
    write_good_faces(tmp_path / "faces", 4, size=500)
    _check_same_framing(sorted((tmp_path / "faces").glob("*.png")), tmp_path)


@pytest.mark.parametrize("size", [64, 128])
def test_loading_the_loaders_output_again_changes_nothing(sample_dir, tmp_path, size):
    for path in sorted(sample_dir.glob("*.png")):
        once = load_image(path, size)
        Image.fromarray((once.permute(1, 2, 0) * 255).round().byte().numpy()).save(tmp_path / "once.png")
        twice = load_image(tmp_path / "once.png", size)
        assert _ssim(once, twice) > 0.998, path.name
        assert (once - twice).abs().mean() < 0.01, path.name


def test_box_is_measured_to_a_fraction_of_a_pixel():
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    image.paste((20, 20, 20), (50, 30, 150, 71))
    left, top, right, bottom = content_box(image.convert("RGBA"))
    assert abs(left - 50) < 0.3 and abs(right - 150) < 0.3 and abs(top - 30) < 0.3 and abs(bottom - 71) < 0.3
    small = image.resize((100, 50), Image.LANCZOS)
    box = np.array(content_box(small.convert("RGBA")))
    assert np.abs(box * 2 - np.array([50, 30, 150, 71])).max() < 0.5


def test_blank_image_is_padded_to_a_square():
    x = _tensor(preprocess(Image.new("RGBA", (40, 20), (0, 0, 0, 0)), 32))
    assert x.shape == (3, 32, 32) and x.min() > 0.99


def test_an_edge_stays_between_the_pixels_that_hold_it():
    from vae.data.folder import _edge

    profile = np.array([0, 0, 24, 25, 24, 0, 0, 0, 0, 200, 255], dtype=np.uint8)  # a faint speck, then content
    assert 1.5 <= _edge(profile, 4) <= 3.0
    assert _edge(np.array([0, 0, 255, 255], dtype=np.uint8), 4) == 2.0
