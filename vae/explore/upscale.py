"""Enlarging a decoded face for export: the model draws 64 (or 128) px, people export 512 or 1024.

Cartoon Set art is flat colour with sharp outlines. Lanczos alone spreads each outline over a band
as wide as the scale factor (a soft, blurred look at 8×); nearest neighbour keeps edges hard but
shows the pixel staircase. ``crisp`` doubles the size with Lanczos and restores the outline contrast
with a one-pixel unsharp mask, again until the size is reached (a last Lanczos step covers the rest),
so outlines stay about two pixels wide at any size, without stairs.
``bench/upscale_quality.py`` measures the methods against real faces (SSIM and sharpness).
"""

from __future__ import annotations

from PIL import Image, ImageFilter

UPSCALE_METHODS = ("crisp", "lanczos", "nearest")
DEFAULT_UPSCALE = "crisp"
CRISP_PERCENT = 80  # unsharp-mask strength per doubling; bench/upscale_quality.py chose it on real faces
CRISP_RADIUS = 1.0  # unsharp-mask radius in pixels of each doubled image


def upscale(image: Image.Image, size: int, method: str = DEFAULT_UPSCALE) -> Image.Image:
    """``image`` resized to ``size``×``size`` by ``method`` (one of :data:`UPSCALE_METHODS`)."""
    if method not in UPSCALE_METHODS:
        raise ValueError(f"unknown upscale method {method!r}; choose one of {', '.join(UPSCALE_METHODS)}")
    if size == image.width and size == image.height:
        return image
    if method == "nearest":
        return image.resize((size, size), Image.NEAREST)
    if method == "crisp":
        sharpen = ImageFilter.UnsharpMask(radius=CRISP_RADIUS, percent=CRISP_PERCENT, threshold=0)
        while image.width * 2 <= size and image.height * 2 <= size:
            image = image.resize((image.width * 2, image.height * 2), Image.LANCZOS).filter(sharpen)
    return image if image.size == (size, size) else image.resize((size, size), Image.LANCZOS)
