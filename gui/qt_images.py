"""Conversions from image tensors to Qt images."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: torch.Tensor) -> QImage:
    """A (3, H, W) tensor in [0, 1] as an RGB888 QImage (owns its pixels)."""
    array = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    array = np.ascontiguousarray(array)
    h, w, _ = array.shape
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(image: torch.Tensor, size: int | None = None) -> QPixmap:
    """A QPixmap of ``image``, scaled smoothly to ``size``×``size`` when given."""
    pixmap = QPixmap.fromImage(to_qimage(image))
    if size:
        pixmap = pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return pixmap
