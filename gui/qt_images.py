"""Conversions from image tensors to Qt images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from vae.explore.export import to_pil
from vae.explore.upscale import upscale


def _qimage(pil: Image.Image) -> QImage:
    array = np.asarray(pil)
    h, w, _ = array.shape
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_qimage(image: torch.Tensor) -> QImage:
    """A (3, H, W) tensor in [0, 1] as an RGB888 QImage (owns its pixels)."""
    return _qimage(to_pil(image))


def to_pixmap(image: torch.Tensor, size: int | None = None, method: str = "lanczos") -> QPixmap:
    """A QPixmap of ``image``, scaled to fit ``size``×``size`` when given.

    Enlarged by ``method`` (vae.explore.upscale: "lanczos", or "crisp" as exports are; Qt's smooth scaling is
    bilinear, which turns a 64 px face shown at 400 px into visible blocks); shrunk with Qt's smooth scaling.
    """
    pil = to_pil(image)
    longest = max(pil.size)
    if size and size > longest:
        if pil.width == pil.height:
            return QPixmap.fromImage(_qimage(upscale(pil, size, method)))
        scaled = pil.resize((round(pil.width * size / longest), round(pil.height * size / longest)), Image.LANCZOS)
        return QPixmap.fromImage(_qimage(scaled))
    pixmap = QPixmap.fromImage(_qimage(pil))
    if size:
        pixmap = pixmap.scaled(
            size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return pixmap
