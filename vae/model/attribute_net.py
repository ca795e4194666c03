"""The attribute classifier's network and file: a small CNN reading Cartoon Set attributes off a 64 px face.

Trained and used by :mod:`vae.measure.attribute_classifier` (generated-face pseudo-labels) and
:mod:`vae.measure.fidelity` (real labels); a trained one can also steer training
(:mod:`vae.model.attribute_loss`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..common.atomic import atomic_write
from .network import brought_down

FORMAT = "face-explorer attribute classifier"
ENSEMBLE_FORMAT = "face-explorer attribute classifier ensemble"
IMAGE_SIZE = 64


class ClassifierError(ValueError):
    """A classifier file cannot be used; the message names the file."""


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AttributeNet(nn.Module):
    """A small CNN (four strided convolutions, 64 → 4 px), 64×64 RGB in [0, 1] → logits per attribute in ``heads``."""

    def __init__(self, heads: dict[str, int], width: int = 16):
        super().__init__()
        self.heads = dict(heads)
        self.width = width
        chans = [3, width, 2 * width, 4 * width, 6 * width]
        self.features = nn.Sequential(
            *[_down(a, b) for a, b in zip(chans, chans[1:])],
            nn.Flatten(),
            nn.Linear(chans[-1] * 16, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
        )
        self.out = nn.ModuleDict({name: nn.Linear(128, n) for name, n in self.heads.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(x)
        return {name: layer(h) for name, layer in self.out.items()}


class AttributeEnsemble(nn.Module):
    """Several classifiers of the same heads read as one: the mean of their logits, head by head.

    What one classifier reads off a face can be moved by changes no other classifier sees; the mean of
    classifiers trained from different seeds follows what the faces show (docs/model.md, "Holding what a
    classifier reads through an edit").
    """

    def __init__(self, members: list[AttributeNet]):
        super().__init__()
        if not members or any(m.heads != members[0].heads for m in members):
            raise ClassifierError("an ensemble needs one or more classifiers with the same heads")
        self.members = nn.ModuleList(members)
        self.heads = dict(members[0].heads)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        reads = [member(x) for member in self.members]
        return {name: torch.stack([r[name] for r in reads]).mean(0) for name in self.heads}


def classifier_sized(images: torch.Tensor) -> torch.Tensor:
    """``images`` (N, 3, S, S) as the classifier reads them: :func:`~vae.model.network.brought_down` to IMAGE_SIZE,
    close to the Lanczos resize of the 64 px data caches the classifiers learn from."""
    return brought_down(images, IMAGE_SIZE)


def _payload(model: AttributeNet, accuracy: dict[str, float] | None = None) -> dict:
    return {
        "format": FORMAT,
        "version": 1,
        "heads": model.heads,
        "width": model.width,
        "image_size": IMAGE_SIZE,
        "validation_accuracy": accuracy or {},
        "state_dict": {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()},
    }


def save(path: str | os.PathLike, model: AttributeNet | AttributeEnsemble, accuracy: dict[str, float] | None = None):
    """Write the classifier (float16 weights), or each classifier of an ensemble, atomically."""
    if isinstance(model, AttributeEnsemble):
        payload = {"format": ENSEMBLE_FORMAT, "version": 1, "members": [_payload(m) for m in model.members]}
    else:
        payload = _payload(model, accuracy)
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)


def load(path: str | os.PathLike, device="cpu") -> AttributeNet | AttributeEnsemble:
    """Read a classifier or an ensemble written by :func:`save`; :class:`ClassifierError` names the file if it is
    neither."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ClassifierError(f"{path}: no such file") from exc
    except Exception as exc:  # torch.load raises many types on foreign or damaged bytes
        raise ClassifierError(f"{path}: not a readable attribute classifier ({exc.__class__.__name__})") from exc
    try:
        if isinstance(payload, dict) and payload.get("format") == ENSEMBLE_FORMAT:
            model = AttributeEnsemble([_from_payload(member) for member in payload["members"]])
        else:
            model = _from_payload(payload)
    except ClassifierError as exc:
        raise ClassifierError(f"{path}: {exc}") from exc
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
        raise ClassifierError(f"{path}: damaged attribute classifier ({exc})") from exc
    return model.to(device).eval()


def _from_payload(payload: dict) -> AttributeNet:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ClassifierError("not an attribute classifier file")
    model = AttributeNet(payload["heads"], payload["width"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    return model
