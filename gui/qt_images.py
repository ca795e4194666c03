"""Conversions from image tensors to Qt images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def _array(image: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())


def _qimage(array: np.ndarray) -> QImage:
    h, w, _ = array.shape
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_qimage(image: torch.Tensor) -> QImage:
    """A (3, H, W) tensor in [0, 1] as an RGB888 QImage (owns its pixels)."""
    return _qimage(_array(image))


def to_pixmap(image: torch.Tensor, size: int | None = None) -> QPixmap:
    """A QPixmap of ``image``, scaled to fit ``size``×``size`` when given.

    Enlarged with Lanczos, as PNG exports are (Qt's smooth scaling is bilinear, which turns a 64 px
    face shown at 400 px into visible blocks); shrunk with Qt's smooth scaling.
    """
    array = _array(image)
    h, w, _ = array.shape
    if size and size > max(h, w):
        scaled = Image.fromarray(array, "RGB").resize((round(w * size / max(h, w)), round(h * size / max(h, w))), Image.LANCZOS)
        return QPixmap.fromImage(_qimage(np.asarray(scaled)))
    pixmap = QPixmap.fromImage(_qimage(array))
    if size:
        pixmap = pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return pixmap
