"""Package a trained checkpoint as the app's default model: float16 weights, no optimiser state.

    python -m vae.measure.package_default runs/default/best.pt resources/default_model.pt [--data builtin]

``--data`` names the training data ('builtin' or a folder); the fitted latent prior and attribute
directions are then computed afresh on its training split (for 'builtin', the built-in set of the
size the checkpoint was trained on). Without it they are copied from the source checkpoint.
``--directions-from CLASSIFIER.pt`` computes the directions from that attribute classifier's
pseudo-labels of the ``--data`` faces instead (for folders without CSVs, such as the real faces).
``--directions-from-labels FOLDER`` (repeatable) then replaces every direction that a folder's real labels
(``labels.tsv``) name with one computed from those labels (``vae.measure.direction_effects.CARTOONSET_KEYS``).
With ``--data`` the packaged weights are also measured on the data's held-out faces: the newest history row's
validation SSIM and PSNR (what the app shows) and the per-dimension KL (the sliders' order) describe what ships,
also when the weights are a blend (``vae.measure.blend``) that no training epoch validated.
``--norm-random-share S`` (with ``--data``) first measures the decoder's batch-norm statistics afresh on training
encodings with a share ``S`` of each batch drawn from the fitted prior as the app's *Random* draws them
(:mod:`vae.model.norm_statistics`); ``--norm-data FOLDER`` (repeatable) encodes those folders' training faces instead
of ``--data``'s (say the folders the last training pass ran on). ``--fit-directions-with CLASSIFIER`` fits each
real-label direction so that a step along it makes that classifier read its class and every other attribute as
before (:func:`vae.measure.direction_effects.fitted_directions`). ``--directions-like MODEL`` copies the directions
of a model that encodes with the same encoder (:func:`vae.model.network.shares_latent_space`) instead of computing
them: for a decoder trained further on the same encodings.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import numpy as np
import torch

from ..common.atomic import WriteError
from ..common.cli_args import float_range
from ..data.cache import BUILTIN, BUILTIN_COUNT
from ..data.collection import open_datasets
from ..data.folder import DataError
from ..model import checkpoint
from ..model.attribute_loss import frozen_judge
from ..model.latent import APP_TEMPERATURE
from ..model.metrics import encode_all, evaluate
from ..model.network import shares_latent_space
from ..model.norm_statistics import recalibrate_decoder_norms
from ..train.trainer import latent_statistics, training_split
from . import attribute_classifier
from .quality import random_latents

NORM_FACES = 8192  # training faces whose latents the decoder's statistics are measured on
NORM_BATCH = 128  # latents per batch, as many as in a training batch of reconstructions and random faces
NORM_SEED = 10_000  # the prior draws' first seed: apart from the seeds evaluate's Random sets use


def norm_latent_batches(
    model, cache, train_idx, prior: dict | None, random_share: float
) -> tuple[list[torch.Tensor], int]:
    """Batches of NORM_BATCH latents, one per NORM_BATCH of up to NORM_FACES training faces: their encodings, with
    ``random_share`` of each batch replaced by draws from ``prior`` as the app's *Random* draws them (seeded, so every
    run agrees); and how many latents in all are such draws."""
    model.eval()
    chosen = np.random.default_rng(0).permutation(train_idx)[:NORM_FACES]
    mu, _ = encode_all(model, cache, chosen)
    batches, draws = [], 0
    for i, start in enumerate(range(0, len(mu), NORM_BATCH)):
        z = mu[start : start + NORM_BATCH]
        drawn = round(len(z) * random_share)
        if drawn:
            z = torch.cat([z[drawn:], random_latents(drawn, model.latent_dim, prior, seed=NORM_SEED + i)])
        batches.append(z)
        draws += drawn
    return batches, draws


def _directions_to_copy(like: str, model, source: str) -> dict:
    """The directions of the model in ``like``, refused unless it encodes with ``model``'s encoder as the packaged
    file will (weights rounded to float16 as :func:`package` stores them) and holds directions."""
    other = checkpoint.load(like)
    stored = copy.deepcopy(model).half().float()
    if not (shares_latent_space(other.model, model) or shares_latent_space(other.model, stored)):
        raise ValueError(f"{like} encodes with another encoder than {source}: its directions would mean other faces")
    if not other.directions:
        raise ValueError(f"{like} holds no attribute directions to copy")
    return other.directions


def package(
    source: str,
    target: str,
    data: str | list[str] | None = None,
    directions_from: str | None = None,
    threshold: float = 0.9,
    dataset_name: str | None = None,
    labelled: list[str] | None = None,
    norm_random_share: float | None = None,
    norm_data: list[str] | None = None,
    fit_directions_with: str | None = None,
    directions_like: str | None = None,
) -> dict:
    """Copy ``source`` to ``target`` without training state, weights in float16; returns its directions.

    ``data`` lists the training folders (or ``["builtin"]``); ``dataset_name`` names the training data for people
    (the app shows it instead of the folder's path); ``labelled`` lists folders with real labels whose directions
    replace the pseudo-label ones they name; ``norm_random_share`` (needs ``data``, for the fitted prior), when given,
    measures the decoder's batch-norm statistics afresh with that share of prior draws (:func:`norm_latent_batches`),
    on the training faces of ``norm_data`` if given, else of ``data``; ``fit_directions_with`` (needs ``labelled``)
    names the classifier the real-label directions are fitted to; ``directions_like`` names a model that shares
    ``source``'s latent space whose directions are copied instead.
    """
    if directions_like and (directions_from or labelled):
        raise ValueError("directions are either copied from another model or computed, not both")
    ckpt = checkpoint.load(source)
    copied = _directions_to_copy(directions_like, ckpt.model, source) if directions_like else None
    data = [data] if isinstance(data, (str, os.PathLike)) else data
    if norm_random_share is None and norm_data:
        raise ValueError("norm_data is only read with norm_random_share")
    if fit_directions_with and not labelled:
        raise ValueError("fitting the directions needs the folders with real labels they are computed from")
    if norm_random_share is not None and not data:
        raise ValueError("measuring the decoder's statistics needs the training data (for the fitted prior)")
    if norm_random_share is not None and ckpt.training is None:
        raise ValueError(
            f"{source} holds no training record, so which faces were held out is unknown: measure the decoder's "
            "statistics when packaging the run's best.pt"
        )
    norm_statistics = ckpt.extra.get("norm_statistics")
    classifier = attribute_classifier.load(directions_from) if directions_from is not None else None
    judge = frozen_judge(fit_directions_with) if fit_directions_with else None
    extras = {"directions": ckpt.directions, "latent_prior": ckpt.latent_prior}
    history, latent_kl = ckpt.history, ckpt.latent_kl
    if data:
        count = BUILTIN_COUNT
        if data == [BUILTIN] and isinstance(ckpt.dataset.get("count"), int):
            count = ckpt.dataset["count"]  # the built-in set the model was trained on
        cache = open_datasets(data, ckpt.model.image_size, builtin_count=count)
        holdout = ((ckpt.training or {}).get("config") or {}).get("holdout", 0)
        holdout = holdout if isinstance(holdout, int) else 0
        train_idx, held_idx = training_split(cache, holdout)
        extras = latent_statistics(ckpt.model, cache, train_idx)
        if norm_random_share is not None:
            faces, faces_idx = cache, train_idx
            if norm_data:
                faces = open_datasets(norm_data, ckpt.model.image_size, builtin_count=count)
                faces_idx = training_split(faces, holdout)[0]
            batches, draws = norm_latent_batches(
                ckpt.model, faces, faces_idx, extras["latent_prior"], norm_random_share
            )
            recalibrate_decoder_norms(ckpt.model, batches)
            norm_statistics = {
                "random_share": norm_random_share,
                "encodings": sum(len(z) for z in batches) - draws,
                "draws": draws,
                "temperature": APP_TEMPERATURE,
                "folders": [Path(folder).name for folder in norm_data or data],
            }
        if len(held_idx):
            measured = evaluate(ckpt.model, cache, held_idx)
            latent_kl = measured["kl_per_dim"]
            if history:
                latest = {**history[-1], "val_ssim": measured["ssim"], "val_psnr": measured["psnr"]}
                history = [*history[:-1], latest]
        if classifier is not None:
            faces64 = (
                cache
                if cache.image_size == attribute_classifier.IMAGE_SIZE
                else open_datasets(data, attribute_classifier.IMAGE_SIZE, builtin_count=count)
            )
            extras["directions"] = attribute_classifier.classifier_directions(
                ckpt.model, cache, train_idx, classifier, threshold, faces64
            )
    if labelled:
        from ..explore.directions import direction_names
        from .direction_effects import labelled_directions

        real = labelled_directions(
            ckpt.model.float(), labelled, fit_with=judge, report=lambda line: print(line, file=sys.stderr)
        )
        merged = {**(extras["directions"] or {}), **real}
        order = {name: i for i, name in enumerate(direction_names())}
        extras["directions"] = dict(sorted(merged.items(), key=lambda item: order.get(item[0], len(order))))
    if copied is not None:
        extras["directions"] = copied
    dataset = {**ckpt.dataset, "name": dataset_name} if dataset_name else ckpt.dataset
    if norm_statistics is not None:
        extras["norm_statistics"] = norm_statistics
    checkpoint.save(target, ckpt.model, half=True, history=history, dataset=dataset, latent_kl=latent_kl, **extras)
    return extras["directions"] or {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.measure.package_default", description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument(
        "--data",
        action="append",
        default=None,
        metavar="FOLDER",
        help="training data ('builtin' or a folder; repeat it for several) to compute the latent prior "
        "and directions on",
    )
    parser.add_argument(
        "--directions-from",
        default=None,
        metavar="CLASSIFIER.pt",
        help="compute the directions from this attribute classifier's pseudo-labels of --data "
        "(e.g. resources/attribute_classifier.pt for the unlabelled real faces)",
    )
    parser.add_argument(
        "--threshold",
        type=float_range(0.0, 1.0),
        default=0.9,
        help="with --directions-from: the confidence a colour pseudo-label needs (default 0.9)",
    )
    parser.add_argument(
        "--directions-from-labels",
        action="append",
        default=None,
        metavar="FOLDER",
        help="a folder with real labels (labels.tsv): the directions its labels name are computed from them "
        "(repeat for several folders)",
    )
    parser.add_argument(
        "--norm-random-share",
        type=float_range(0.0, 1.0),
        default=None,
        metavar="S",
        help="with --data: measure the decoder's batch-norm statistics afresh on training encodings, a share S of "
        "each batch drawn from the fitted prior as the app's Random draws them (0.25 for the shipped 64x64 model; "
        "default: keep the statistics training left)",
    )
    parser.add_argument(
        "--norm-data",
        action="append",
        default=None,
        metavar="FOLDER",
        help="with --norm-random-share: encode this folder's training faces (repeat for several) instead of --data's",
    )
    parser.add_argument(
        "--fit-directions-with",
        default=None,
        metavar="CLASSIFIER.pt",
        help="with --directions-from-labels: fit each real-label direction so that a step of +2 makes this classifier "
        "read its class and every other attribute as before (resources/hold_classifier.pt; minutes per model)",
    )
    parser.add_argument(
        "--directions-like",
        default=None,
        metavar="MODEL.pt",
        help="copy the attribute directions of this model, which must encode with the same encoder (a decoder "
        "trained further on its encodings), instead of computing them",
    )
    parser.add_argument(
        "--dataset-name", default=None, help="what the app calls the training data (default: the data folder's path)"
    )
    args = parser.parse_args(argv)
    if args.directions_from and args.data is None:
        parser.error("--directions-from needs --data (the faces to pseudo-label)")
    if args.norm_random_share is not None and args.data is None:
        parser.error("--norm-random-share needs --data (the training data, for the fitted prior)")
    if args.norm_data and args.norm_random_share is None:
        parser.error("--norm-data needs --norm-random-share")
    if args.fit_directions_with and not args.directions_from_labels:
        parser.error("--fit-directions-with needs --directions-from-labels (the labelled folders)")
    try:
        directions = package(
            args.source,
            args.target,
            args.data,
            args.directions_from,
            args.threshold,
            args.dataset_name,
            args.directions_from_labels,
            args.norm_random_share,
            args.norm_data,
            args.fit_directions_with,
            args.directions_like,
        )
    except (checkpoint.CheckpointError, attribute_classifier.ClassifierError, DataError, WriteError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.target} with {len(directions)} attribute directions: {', '.join(directions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
