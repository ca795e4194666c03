"""Attribute classifier: reads Cartoon Set attributes off a face, to pseudo-label folders without CSVs.

It is trained on the labelled built-in generated faces (which imitate the Cartoon Set's format),
with small shifts and scales, mild colour jitter and blur, so that it carries over to real faces.
Colour attributes are predicted as the nearest value of the built-in palettes (``vae.data.synth``).

    python -m vae.measure.attribute_classifier train --out ~/runs/attr_clf.pt [--count 6000] [--epochs 6]
    python -m vae.measure.attribute_classifier label CLASSIFIER.pt DATA [--threshold 0.9]
    python -m vae.measure.attribute_classifier check CLASSIFIER.pt SAMPLE_DIR LABELS.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..common.control import TerminalControl
from ..data.cartoonset import ATTRIBUTE_NAMES, NO_FACIAL_HAIR, NO_GLASSES
from ..data.synth import DARK_LENS_KINDS
from ..model.attribute_net import (  # noqa: F401 (this module's API)
    IMAGE_SIZE,
    AttributeEnsemble,
    AttributeNet,
    ClassifierError,
    classifier_sized,
    load,
    save,
)

HEADS: dict[str, int] = {"glasses": 2, "facial_hair": 2, "hair_color": 10, "face_color": 11, "eye_color": 5}
PRESENCE = {"glasses": NO_GLASSES, "facial_hair": NO_FACIAL_HAIR}  # predicted as present/absent
PRESENT = 0  # the value a pseudo-label gives glasses or facial hair that is present (its kind is not predicted)
# Right often enough on the 10 hand-labelled real faces (tests/data/cartoonset_sample_labels.json) to name
# directions by; facial hair and eye colour were not, and are predicted but not used.
RELIABLE = ("glasses", "hair_color", "face_color")
PRESENCE_FRACTION = 0.25
LOSS_WEIGHT = {"glasses": 2.0, "facial_hair": 2.0}  # shapes are learnt more slowly than colours
COLUMN = {name: i for i, name in enumerate(ATTRIBUTE_NAMES)}


def targets(labels: torch.Tensor, heads: dict[str, int] = HEADS) -> dict[str, torch.Tensor]:
    """Per-head class targets from Cartoon Set labels (N, 18); −1 where unknown or not visible.

    Presence heads are 1 for "has one"; the eye colour behind dark lenses is not visible, so unknown.
    """
    result = {}
    for name in heads:
        values = labels[:, COLUMN[name]].long()
        if name in PRESENCE:
            values = torch.where(values < 0, values, (values != PRESENCE[name]).long())
        result[name] = values
    if "eye_color" in result:
        glasses = labels[:, COLUMN["glasses"]]
        hidden = torch.zeros_like(glasses, dtype=torch.bool)
        for kind in DARK_LENS_KINDS:
            hidden |= glasses == kind
        result["eye_color"] = torch.where(hidden, -1, result["eye_color"])
    return result


def augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random small shifts and scales, mild brightness/contrast/saturation jitter and blur, batched."""
    n = x.shape[0]

    def uniform(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(n, *shape, generator=generator)

    scale = uniform(0.92, 1.08)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = uniform(-0.06, 0.06, 2)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * uniform(0.9, 1.1, 1, 1, 1).to(x.device)  # saturation
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + (x - mean) * uniform(0.93, 1.07, 1, 1, 1).to(x.device)  # contrast
    x = x * uniform(0.96, 1.04, 1, 1, 1).to(x.device)  # brightness
    sigma = float(0.3 + 0.8 * torch.rand(1, generator=generator))
    blur = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    taps = torch.arange(-2, 3, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
    blurred = F.conv2d(padded, kernel.view(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
    blurred = F.conv2d(blurred, kernel.view(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)
    x = torch.where(blur.view(n, 1, 1, 1), blurred, x)
    return x.clamp(0, 1)


def loss_and_hits(logits: dict[str, torch.Tensor], target: dict[str, torch.Tensor]):
    """Summed cross-entropy over the heads, and per head (correct, counted) among known targets."""
    total = 0.0
    hits = {}
    for name, out in logits.items():
        t = target[name].to(out.device)
        known = t >= 0
        if known.any():
            total = total + LOSS_WEIGHT.get(name, 1.0) * F.cross_entropy(out[known], t[known])
        hits[name] = (int((out.argmax(1)[known] == t[known]).sum()), int(known.sum()))
    return total, hits


def train(
    cache,
    epochs: int = 6,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    device="cpu",
    log=print,
    model: AttributeNet | None = None,
    on_epoch=None,
) -> tuple[AttributeNet, dict[str, float]]:
    """Train on a labelled :class:`~vae.data.cache.FaceCache` (validation split held out); ``model`` to continue one.

    ``on_epoch(model, accuracy)`` is called after each epoch (the CLI saves the classifier there).

    Returns the model (eval mode) and its accuracy per attribute on the validation split.
    """
    if not cache.has_labels:
        raise ValueError(f"{cache.meta.get('source', cache.path)} has no labels to train an attribute classifier on")
    device = torch.device(device)
    torch.manual_seed(seed)
    model = (model or AttributeNet(HEADS)).to(device)
    train_idx, val_idx = cache.split()

    def report(epoch: int, mean_loss: float, images_per_s: float) -> None:
        accuracy = evaluate(model, cache, val_idx, device)
        log(
            f"epoch {epoch + 1}/{epochs}: loss {mean_loss:.3f}, {images_per_s:.0f} images/s; validation accuracy "
            + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
        )
        if on_epoch is not None:
            on_epoch(model, accuracy)

    fit(model, cache, train_idx, targets(cache.label_tensor()), epochs, batch_size, lr, seed, report)
    return model, evaluate(model, cache, val_idx, device)


def fit(
    model: AttributeNet,
    cache,
    train_idx,
    all_targets: dict[str, torch.Tensor],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    after_epoch,
    augmented: bool = True,
) -> None:
    """The training loop of every attribute classifier: AdamW on a one-cycle schedule, batches of the faces
    at ``train_idx`` (through :func:`augment` when ``augmented``) against ``all_targets`` (per head, indexed like
    ``cache``; −1 unknown); after each epoch ``after_epoch(epoch, mean_loss, images_per_s)``. The model ends in
    eval mode."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(train_idx) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.train()
        start, seen, loss_sum = time.perf_counter(), 0, 0.0
        order = train_idx[rng.permutation(len(train_idx))]
        for first in range(0, len(order), batch_size):
            idx = order[first : first + batch_size]
            x = cache.batch(idx).to(device)
            x = augment(x, generator) if augmented else x
            loss, _ = loss_and_hits(model(x), {k: v[idx] for k, v in all_targets.items()})
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
        after_epoch(epoch, loss_sum / max(seen, 1), seen / (time.perf_counter() - start))
    model.eval()


@torch.no_grad()
def predict(model: AttributeNet, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Class probabilities per attribute for images (N, 3, 64, 64) in [0, 1]: name → (N, K)."""
    model.eval()
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in model.heads}
    for start in range(0, len(images), batch_size):
        logits = model(images[start : start + batch_size].to(device))
        for name, out in logits.items():
            parts[name].append(out.float().softmax(1).cpu())
    return {name: torch.cat(p) if p else torch.zeros(0, model.heads[name]) for name, p in parts.items()}


@torch.no_grad()
def evaluate(model: AttributeNet, cache, indices, device="cpu") -> dict[str, float]:
    """Accuracy per attribute on the labelled faces at ``indices`` (faces whose value is not visible left out)."""
    was_training = model.training
    probs = predict(model, cache.batch(indices))
    model.train(was_training)
    truth = targets(cache.label_tensor(indices), model.heads)
    result = {}
    for name, p in probs.items():
        known = truth[name] >= 0
        result[name] = float((p.argmax(1)[known] == truth[name][known]).float().mean()) if known.any() else float("nan")
    return result


def pseudo_labels(
    probs: dict[str, torch.Tensor],
    threshold: float = 0.9,
    attributes=RELIABLE,
    presence_fraction: float = PRESENCE_FRACTION,
) -> torch.Tensor:
    """Cartoon Set-shaped labels (N, 18) from :func:`predict` output, −1 where not in ``attributes`` or unsure.

    Colours are labelled where the classifier's confidence reaches ``threshold``. Presence attributes
    are ranked instead, since the classifier's confidence shifts from generated to real faces: the
    ``presence_fraction`` of faces most likely to have one get :data:`PRESENT`, the same fraction
    least likely get the "none" value.
    """
    n = len(next(iter(probs.values())))
    labels = torch.full((n, len(ATTRIBUTE_NAMES)), -1, dtype=torch.int64)
    for name in attributes:
        if name not in probs:
            continue
        if name in PRESENCE:
            k = min(round(presence_fraction * n), n // 2)
            order = torch.argsort(probs[name][:, 1], descending=True, stable=True)
            labels[order[:k], COLUMN[name]] = PRESENT
            labels[order[n - k :], COLUMN[name]] = PRESENCE[name]
            continue
        confidence, value = probs[name].max(1)
        labels[:, COLUMN[name]] = torch.where(confidence >= threshold, value, -1)
    return labels


def label_cache(
    model: AttributeNet,
    cache,
    indices=None,
    threshold: float = 0.9,
    attributes=RELIABLE,
    presence_fraction: float = PRESENCE_FRACTION,
) -> torch.Tensor:
    """Pseudo-labels (N, 18) of a :class:`~vae.data.cache.FaceCache` (all faces, or ``indices``); see
    :func:`pseudo_labels`."""
    if cache.image_size != IMAGE_SIZE:
        raise ValueError(f"the attribute classifier reads {IMAGE_SIZE}px faces; this cache is {cache.image_size}px")
    indices = np.arange(len(cache)) if indices is None else np.asarray(indices)
    probs = {name: [] for name in model.heads}
    for start in range(0, len(indices), 1024):
        for name, p in predict(model, cache.batch(indices[start : start + 1024])).items():
            probs[name].append(p)
    return pseudo_labels({k: torch.cat(v) for k, v in probs.items()}, threshold, attributes, presence_fraction)


def classifier_directions(
    vae_model, cache, indices, classifier: AttributeNet, threshold: float = 0.9, faces64=None, device="cpu"
) -> dict[str, torch.Tensor]:
    """Named attribute directions of ``vae_model`` from ``classifier``'s pseudo-labels of the faces at ``indices``.

    ``faces64`` is the same folder cached at 64 px when ``cache`` is not (the classifier reads 64-px
    faces); faces are matched by file name. See :func:`vae.explore.directions.compute_directions`.
    """
    from ..explore.directions import compute_directions
    from ..model.metrics import encode_all

    faces64 = cache if faces64 is None else faces64
    position = {name: i for i, name in enumerate(faces64.files)}
    indices = np.array([i for i in np.asarray(indices) if cache.files[i] in position], dtype=np.int64)
    labels = label_cache(classifier, faces64, [position[cache.files[i]] for i in indices], threshold)
    mu, _ = encode_all(vae_model, cache, indices, device=device)
    return compute_directions(mu, labels)


def check(model: AttributeNet, folder: str | os.PathLike, labels_path: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """(correct, labelled) per attribute on hand-labelled images (a JSON written like tests/data's).

    Presence attributes and colours must match; face colour (a by-eye estimate) within one step;
    ``hair_group`` scores hair colour as dark, red, blonde or grey; ``glasses (ranked)`` etc. score the
    faces :func:`pseudo_labels` labels by rank.
    """
    from ..data.folder import load_image

    faces = json.loads(Path(labels_path).read_text())["faces"]
    names = sorted(faces)
    probs = predict(model, torch.stack([load_image(Path(folder) / name, IMAGE_SIZE) for name in names]))
    ranked = pseudo_labels(probs, attributes=tuple(PRESENCE))
    groups = [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]  # black/dark brown/brown, auburn/ginger, blondes, grey/white/blue-grey
    score: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        for attr, truth in faces[name].items():
            if truth is None or attr not in probs:
                continue
            guess = int(probs[attr][i].argmax())
            if attr in PRESENCE:
                hits = [(attr, guess == int(truth))]
                if ranked[i, COLUMN[attr]] >= 0:
                    hits.append((f"{attr} (ranked)", (ranked[i, COLUMN[attr]] != PRESENCE[attr]) == truth))
            elif attr == "face_color":
                hits = [(attr, abs(guess - truth) <= 1)]
            elif attr == "hair_color":
                hits = [(attr, guess == truth), ("hair_group", groups[guess] == groups[truth])]
            else:
                hits = [(attr, guess == truth)]
            for key, ok in hits:
                score.setdefault(key, [0, 0])
                score[key][0] += int(ok)
                score[key][1] += 1
    return {k: (v[0], v[1]) for k, v in score.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae.measure.attribute_classifier", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train on the labelled built-in faces (or a labelled folder)")
    p_train.add_argument("--out", required=True, type=Path)
    p_train.add_argument("--data", default="builtin", help="'builtin' or a folder with Cartoon Set CSVs")
    p_train.add_argument("--count", type=int, default=6000, help="built-in faces to train on (default 6000)")
    p_train.add_argument("--epochs", type=int, default=6)
    p_train.add_argument("--batch-size", type=int, default=32)
    p_train.add_argument("--lr", type=float, default=2e-3)
    p_train.add_argument("--init", type=Path, default=None, help="continue training this classifier")
    p_train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p_label = sub.add_parser("label", help="pseudo-label a folder and print how many faces get each value")
    p_label.add_argument("classifier", type=Path)
    p_label.add_argument("data")
    p_label.add_argument("--threshold", type=float, default=0.9, help="confidence a colour label needs")
    p_check = sub.add_parser("check", help="accuracy per attribute on hand-labelled images")
    p_check.add_argument("classifier", type=Path)
    p_check.add_argument("folder", type=Path)
    p_check.add_argument("labels", type=Path)
    args = parser.parse_args(argv)

    from ..data.cache import open_dataset
    from ..data.folder import DataError

    try:
        if args.command == "train":
            from ..train.trainer import pick_device

            with TerminalControl() as control:
                cache = open_dataset(args.data, IMAGE_SIZE, builtin_count=args.count, control=control)
            model, accuracy = train(
                cache,
                args.epochs,
                args.batch_size,
                args.lr,
                device=pick_device(args.device),
                model=load(args.init) if args.init else None,
                on_epoch=lambda m, accuracy: save(args.out, m, accuracy),
            )
            print(f"wrote {args.out}; validation accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items()))
        elif args.command == "label":
            model = load(args.classifier)
            with TerminalControl() as control:
                cache = open_dataset(args.data, IMAGE_SIZE, control=control)
            labels = label_cache(model, cache, threshold=args.threshold)
            for name in RELIABLE:
                values = labels[:, COLUMN[name]]
                known = values[values >= 0]
                counts = {int(v): int(c) for v, c in zip(*torch.unique(known, return_counts=True))}
                print(f"{name}: {len(known)}/{len(values)} faces labelled; value → faces {counts}")
        else:
            model = load(args.classifier)
            for name, (correct, total) in check(model, args.folder, args.labels).items():
                print(f"{name}: {correct}/{total} right ({correct / total:.0%})")
    except (ClassifierError, DataError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
