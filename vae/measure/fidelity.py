"""Attribute fidelity on real labelled faces: does a reconstruction keep the face's eye colour, glasses, …?

Two public copies of the Cartoon Set publish real labels beside their faces, in a ``labels.tsv``:
class ids per column (``file eye_color face_shape``) or one-hot groups (``hair_blonde … hair_white``,
``eye_*``, ``face_*`` for skin, ``with_glasses without_glasses``). A classifier trained on those faces
(minus each folder's hash hold-out) reads the attributes off any 64×64 face; on the held-out faces it
tells how often a model's reconstruction keeps each attribute, next to the classifier's own accuracy.

    python -m vae.measure.fidelity train --data FOLDER [--data FOLDER …] --out classifier.pt [--epochs 8]
    python -m vae.measure.fidelity measure CHECKPOINT --classifier classifier.pt --data FOLDER [--data …] \
        [--held-out 500] [--refine-steps 50] [--confusion] [--training-faces] [--split-by HEAD]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ..data.folder import DataError
from ..data.label_table import class_names, read_labels
from ..model import pixel_weights
from ..model.latent import REFINE_LR, REFINE_STEPS, fit_latents
from . import attribute_classifier as ac

HELD_OUT = 500


def head_name(folder: str | Path, attribute: str) -> str:
    """A classifier head: the attribute as one folder's labels number it (two copies number eye colour differently)."""
    return f"{Path(folder).resolve().name}:{attribute}"


def label_targets(folders: list[str | Path], cache) -> tuple[dict[str, int], dict[str, torch.Tensor]]:
    """Heads (name → classes) and per-head targets (N,) for the faces of ``cache`` (−1 where unknown).

    ``cache`` holds the folders' faces in order (a :class:`~vae.data.collection.FaceCollection`, or one cache).
    """
    parts = getattr(cache, "parts", [cache])
    offsets = getattr(cache, "offsets", [0])
    heads: dict[str, int] = {}
    targets: dict[str, torch.Tensor] = {}
    for folder, part, offset in zip(folders, parts, offsets):
        classes, labels = read_labels(folder)
        for attribute, n in classes.items():
            name = head_name(folder, attribute)
            heads[name] = n
            values = torch.full((len(cache),), -1, dtype=torch.long)
            values[offset : offset + len(part)] = torch.tensor(
                [labels.get(Path(f).name, {}).get(attribute, -1) for f in part.files], dtype=torch.long
            )
            targets[name] = values
    return heads, targets


def open_labelled(folders: list[str | Path], held_out: int = HELD_OUT):
    """The faces of ``folders`` at 64 px, their heads and targets, and (train, held-out) indices (each folder's
    hash hold-out, as ``train_cli.py --holdout`` leaves out)."""
    from ..data.collection import open_datasets

    cache = open_datasets([str(f) for f in folders], ac.IMAGE_SIZE)
    heads, targets = label_targets(folders, cache)
    train_idx, held_idx = cache.holdout(held_out)
    return cache, heads, targets, train_idx, held_idx


def train(
    folders: list[str | Path],
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    held_out: int = HELD_OUT,
    log=print,
    augmented: bool = False,
) -> tuple[ac.AttributeNet, dict[str, float]]:
    """A classifier for every labelled attribute of ``folders``, trained on all but their held-out faces.

    The faces are not augmented unless ``augmented``: the classifier reads the same real faces it learns
    from, and the shifts, scales and blur of :func:`~vae.measure.attribute_classifier.augment` (made to
    carry a classifier from generated faces to real ones) cost face shape most (held-out accuracy 0.53
    with them, 0.88 without, after 6 epochs; ``docs/model.md``).

    Returns the model (eval mode) and its accuracy per head on the held-out faces.
    """
    cache, heads, targets, train_idx, held_idx = open_labelled(folders, held_out)
    torch.manual_seed(seed)
    model = ac.AttributeNet(heads)
    held = {k: v[held_idx] for k, v in targets.items()}
    accuracy: dict[str, float] = {}

    def report(epoch: int, mean_loss: float, images_per_s: float) -> None:
        accuracy.update(accuracy_on(model, cache.batch(held_idx), held))
        log(
            f"epoch {epoch + 1}/{epochs}: loss {mean_loss:.3f}, {images_per_s:.0f} images/s; held-out accuracy "
            + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
        )

    ac.fit(model, cache, train_idx, targets, epochs, batch_size, lr, seed, report, augmented)
    return model, accuracy


def predicted(model: ac.AttributeNet, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The class each head reads off ``images`` (N, 3, 64, 64)."""
    return {name: p.argmax(1) for name, p in ac.predict(model, images).items()}


def accuracy_on(model: ac.AttributeNet, images: torch.Tensor, truth: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per head, the fraction of the labelled ``images`` read right."""
    guess = predicted(model, images)
    return {name: agreement(guess[name], truth[name]) for name in model.heads}


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """How often ``a`` equals ``b`` where ``b`` is known (≥ 0); NaN where none is."""
    known = b >= 0
    return float((a[known] == b[known]).float().mean()) if known.any() else float("nan")


def reconstruct(
    vae_model,
    images: torch.Tensor,
    batch_size: int = 256,
    refine_steps: int = 0,
    refine_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reconstructions from μ of ``images`` (at the model's size), brought to the classifier's 64 px; with
    ``refine_steps``, from μ refined as the app encodes an image (:func:`~vae.model.latent.fit_latents`), its
    squared error weighed by ``refine_weights`` when given."""
    vae_model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        with torch.no_grad():
            z = vae_model.encode(x)[0]
        if refine_steps:
            z = fit_latents(vae_model, x, z, refine_steps, REFINE_LR, weights=refine_weights)
        with torch.no_grad():
            out.append(ac.classifier_sized(vae_model.decode(z).float().clamp(0, 1)))
    return torch.cat(out)


def at_model_size(folders: list[str | Path], cache, vae_model):
    """``cache`` (the folders at 64 px), or the same faces at ``vae_model``'s size when it draws another."""
    from ..data.collection import open_datasets

    if vae_model.image_size == cache.image_size:
        return cache
    larger = open_datasets([str(f) for f in folders], vae_model.image_size)
    if larger.files != cache.files:
        raise DataError(
            f"the folders' faces differ between {cache.image_size}px and {vae_model.image_size}px; rebuild their caches"
        )
    return larger


def training_like(train_idx, held_idx, cache) -> np.ndarray:
    """As many training faces of each of ``cache``'s folders as it holds out (its first, by index)."""
    bounds = list(cache.offsets) if hasattr(cache, "offsets") else [0, len(cache)]
    train, held = np.asarray(train_idx), np.asarray(held_idx)
    inside = lambda idx, lo, hi: idx[(idx >= lo) & (idx < hi)]  # noqa: E731
    return np.concatenate([inside(train, lo, hi)[: len(inside(held, lo, hi))] for lo, hi in zip(bounds, bounds[1:])])


def measure(
    vae_model,
    classifier: ac.AttributeNet,
    folders: list[str | Path],
    held_out: int = HELD_OUT,
    refine_steps: int = 0,
    refine_weights: str | Path | None = None,
    on_training: bool = False,
    split_by: str | None = None,
) -> dict[str, dict]:
    """Per head, on the held-out labelled faces: ``accuracy`` of the classifier on the originals, ``recon_accuracy``
    on the reconstructions (against the real labels), ``kept`` (same class read off both), ``faces``, and
    ``confusion`` (counts, the class read off the original → the class read off the reconstruction).

    With ``on_training``, as many training faces as there are held-out ones are measured instead (what the model
    learnt to keep, against what it keeps on faces it has not seen).

    A model of another size encodes the faces at its own size; its reconstructions are brought to 64 px, and
    ``kept`` compares them with the originals brought down the same way (so the resize itself loses nothing). With
    ``refine_steps``, each encoding is refined as the app refines an image's, with the squared error weighed by
    the map ``refine_weights`` (:mod:`vae.model.pixel_weights`) when given.

    With ``split_by`` (one of the classifier's heads), each head also gets ``kept_by``: class of ``split_by`` read
    off the original → (faces, kept) among them (eye colour kept behind glasses and without, say)."""
    if split_by is not None and split_by not in classifier.heads:
        raise DataError(f"the classifier has no head {split_by!r}; it has {', '.join(classifier.heads)}")
    cache, heads, targets, train_idx, held_idx = open_labelled(folders, held_out)
    if on_training:
        held_idx = training_like(train_idx, held_idx, cache)
    missing = sorted(set(heads) - set(classifier.heads))
    if missing:
        raise DataError(f"the classifier has no head for {', '.join(missing)}: train it on these folders")
    x = cache.batch(held_idx)
    own_size = at_model_size(folders, cache, vae_model)
    weights = pixel_weights.load(refine_weights, vae_model.image_size) if refine_weights else None
    faces = x if own_size is cache else own_size.batch(held_idx)
    recon = reconstruct(vae_model, faces, refine_steps=refine_steps, refine_weights=weights)
    on_original, on_recon = predicted(classifier, x), predicted(classifier, recon)
    on_resized = on_original if faces is x else predicted(classifier, ac.classifier_sized(faces))
    result = {}
    for name in heads:
        truth = targets[name][held_idx]
        known = truth >= 0
        result[name] = {
            "accuracy": agreement(on_original[name], truth),
            "recon_accuracy": agreement(on_recon[name], truth),
            "kept": agreement(on_recon[name][known], on_resized[name][known]),
            "faces": int(known.sum()),
            "confusion": confusion(on_resized[name][known], on_recon[name][known], classifier.heads[name]),
        }
        if split_by is not None:
            read = on_resized[split_by][known]
            before, after = on_resized[name][known], on_recon[name][known]
            result[name]["kept_by"] = {
                int(c): (int((read == c).sum()), agreement(after[read == c], before[read == c])) for c in read.unique()
            }
    return result


def confusion(read_before: torch.Tensor, read_after: torch.Tensor, classes: int) -> list[list[int]]:
    """Counts of (class read before, class read after): row ``i``, column ``j`` is how many faces went ``i`` → ``j``."""
    pairs = read_before * classes + read_after
    return torch.bincount(pairs, minlength=classes * classes).view(classes, classes).tolist()


def confusion_table(name: str, counts: list[list[int]], names: list[str] | None = None) -> str:
    """A Markdown table of one head's :func:`confusion`: rows the original's class, columns the reconstruction's."""
    names = names or [str(k) for k in range(len(counts))]
    lines = [f"| {name}: original → reconstruction | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    lines += [f"| {names[i]} | " + " | ".join(str(c) for c in row) + " |" for i, row in enumerate(counts)]
    return "\n".join(lines)


def table(figures: dict[str, dict[str, float]]) -> str:
    """A Markdown table of :func:`measure`'s figures."""
    lines = ["| attribute | faces | classifier accuracy | on reconstructions | kept |", "|---|---|---|---|---|"]
    for name, f in figures.items():
        lines.append(f"| {name} | {f['faces']} | {f['accuracy']:.3f} | {f['recon_accuracy']:.3f} | {f['kept']:.3f} |")
    return "\n".join(lines)


def split_table(figures: dict[str, dict], split_by: str, names: list[str] | None = None) -> str:
    """A Markdown table of :func:`measure`'s ``kept_by``: each head's faces and kept, per class of ``split_by``."""
    lines = [f"| attribute | {split_by} (read off the original) | faces | kept |", "|---|---|---|---|"]
    for name, f in figures.items():
        for c, (faces, kept) in f["kept_by"].items():
            label = names[c] if names and c < len(names) else str(c)
            lines.append(f"| {name} | {label} | {faces} | {kept:.3f} |")
    return "\n".join(lines)


def head_class_names(folders: list[str | Path]) -> dict[str, list[str]]:
    """Each head's class names, from the folders' labels."""
    return {head_name(folder, a): values for folder in folders for a, values in class_names(folder).items()}


def print_confusions(figures: dict[str, dict], folders: list[str | Path]) -> None:
    """Print each head's confusion table, its classes named from the folders' labels."""
    names = head_class_names(folders)
    for name, f in figures.items():
        print()
        print(confusion_table(name, f["confusion"], names.get(name)))


def main(argv: list[str] | None = None) -> int:
    from ..common.cli_args import int_range

    parser = argparse.ArgumentParser(prog="python -m vae.measure.fidelity", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("train", help="train a classifier on labelled folders (their held-out faces left out)")
    fit.add_argument("--data", action="append", required=True, metavar="FOLDER", help="a folder with a labels.tsv")
    fit.add_argument("--out", required=True, help="where to write the classifier")
    fit.add_argument("--epochs", type=int_range(1, 1000), default=8)
    fit.add_argument("--held-out", type=int_range(1, 1_000_000), default=HELD_OUT)
    fit.add_argument("--seed", type=int_range(0, 2**31 - 1), default=0, help="initial weights and batch order")
    fit.add_argument("--augment", action="store_true", help="shift, scale, recolour and blur the training faces")
    join = sub.add_parser("join", help="join classifiers of the same heads into one ensemble file (mean of logits)")
    join.add_argument("classifiers", nargs="+", metavar="CLASSIFIER")
    join.add_argument("--out", required=True, help="where to write the ensemble")
    check = sub.add_parser("measure", help="how often a model's reconstructions keep each attribute")
    check.add_argument("checkpoint")
    check.add_argument("--classifier", required=True)
    check.add_argument("--data", action="append", required=True, metavar="FOLDER")
    check.add_argument("--held-out", type=int_range(1, 1_000_000), default=HELD_OUT)
    check.add_argument(
        "--refine-steps",
        type=int_range(0, 10_000),
        default=0,
        help=f"refine each encoding as the app encodes an image (it takes {REFINE_STEPS}; default 0: μ)",
    )
    check.add_argument(
        "--refine-weights", metavar="MAP", help="weigh the refinement's squared error with this pixel-weight map"
    )
    check.add_argument("--confusion", action="store_true", help="also print each attribute's confusion table")
    check.add_argument(
        "--training-faces",
        action="store_true",
        help="measure as many training faces as held-out ones instead (what the model learnt to keep)",
    )
    check.add_argument(
        "--split-by",
        metavar="HEAD",
        help="also print kept per class of this head read off the original (e.g. cartoonset100k_adl_128:glasses)",
    )
    args = parser.parse_args(argv)
    from ..model import checkpoint

    try:
        if args.command == "train":
            model, accuracy = train(
                args.data,
                args.epochs,
                seed=args.seed,
                held_out=args.held_out,
                log=lambda m: print(m, file=sys.stderr),
                augmented=args.augment,
            )
            ac.save(args.out, model, accuracy)
            print(f"wrote {args.out}; held-out accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items()))
        elif args.command == "join":
            members = [ac.load(path) for path in args.classifiers]
            if any(not isinstance(m, ac.AttributeNet) for m in members):
                raise ValueError("join single classifiers, not ensembles")
            ac.save(args.out, ac.AttributeEnsemble(members))
            print(f"wrote {args.out}: {len(members)} classifiers, heads {', '.join(members[0].heads)}")
        else:
            model = checkpoint.load(args.checkpoint).model
            figures = measure(
                model,
                ac.load(args.classifier),
                args.data,
                args.held_out,
                args.refine_steps,
                args.refine_weights,
                args.training_faces,
                args.split_by,
            )
            print(table(figures))
            if args.confusion:
                print_confusions(figures, args.data)
            if args.split_by:
                print()
                print(split_table(figures, args.split_by, head_class_names(args.data).get(args.split_by)))
    except (DataError, ValueError, checkpoint.CheckpointError, ac.ClassifierError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
