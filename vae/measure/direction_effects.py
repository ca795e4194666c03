"""Do attribute directions change their attribute, and little else? Measured with real-label classifiers.

Directions are computed from the real labels of the labelled folders (``labels.tsv``, see
:mod:`vae.measure.fidelity`): for each class, the mean latent (μ) of the training faces of that class minus that
of the others. Each direction is then applied at a strength (in latent units, as the Arithmetic tab applies
it) to the held-out faces that do not yet show the class; a classifier trained on the real labels reads the
edited faces: how many now show the target class, and how many changed each other attribute of the
same folder (the largest of those is the side effect). The model's own stored directions are measured the
same way where :data:`CARTOONSET_KEYS` names the real class they aim at.

    python -m vae.measure.direction_effects CHECKPOINT --classifier real_attr.pt --data FOLDER [--data …] [--strength 2]
        [--stored-only] [--no-controls] [--hold-with resources/hold_classifier.pt]

With ``--hold-with``, each edit holds every other attribute as another classifier reads it, as the Arithmetic tab
holds the rest of a face (:mod:`vae.explore.attribute_hold`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import torch

from ..data.folder import DataError
from ..data.label_table import CARTOONSET_KEYS
from ..explore.attribute_hold import attribute_of_head, heads_without
from ..model.attribute_loss import fit_direction, hold_attributes
from ..model.latent import attribute_direction, conditional_direction
from ..model.metrics import encode_all
from . import attribute_classifier as ac
from .fidelity import HELD_OUT, at_model_size, class_names, head_name, open_labelled, predicted

STRENGTH = 2.0
MIN_FACES = 20  # a class with fewer training faces gets no direction
# attributes learnt only from faces without another one: eye colour from faces without glasses (glasses hide
# the eyes, and directions learnt from all faces draw glasses instead of eyes)
LEARNT_WITHOUT = {"eye_color": "glasses"}
# attributes whose real-label directions are measured but not packaged: eye-colour directions still draw glasses
# or dark eye holes in this model's latent space (docs/model.md, "Directions from real labels")
NOT_PACKAGED = ("eye_color",)
# attributes whose directions stay unfitted (:func:`fitted_directions`): glasses cover the eyes, so a glasses direction
# fitted to keep the eyes' colour turns away from drawing frames (docs/model.md, "Directions fitted to keep the rest
# of the face")
NOT_FITTED = ("glasses",)


@dataclass
class Effect:
    """What one direction does at one strength to the held-out faces that lacked its class."""

    direction: str
    head: str
    target: str
    faces: int
    reached: float  # share of edited faces read as the target class
    side: dict[str, float]  # other head → share of faces whose class changed

    @property
    def largest_side(self) -> tuple[str, float]:
        return max(self.side.items(), key=lambda item: item[1]) if self.side else ("–", 0.0)


def folder_of(head: str) -> str:
    return head.split(":", 1)[0]


attribute_of = attribute_of_head


@torch.no_grad()
def _decode(vae_model, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Faces of latents ``z`` as the classifier reads them (a model of another size: brought to 64 px)."""
    faces = torch.cat(
        [vae_model.decode(z[i : i + batch_size]).float().clamp(0, 1) for i in range(0, len(z), batch_size)]
    )
    return faces if vae_model.image_size == ac.IMAGE_SIZE else ac.classifier_sized(faces)


def real_directions(mu: torch.Tensor, heads: dict[str, int], targets: dict[str, torch.Tensor], names) -> dict:
    """``{head=class: (head, class id, unit direction)}`` from latents ``mu`` (N, D) and per-head targets (N,).

    Presence attributes (glasses) get one direction, towards "with"; every other class one versus the rest, learnt
    from the faces without the attribute :data:`LEARNT_WITHOUT` names where the folder labels it.
    """
    directions = {}
    for head, n in heads.items():
        labels = targets[head]
        known = labels >= 0
        hiding = f"{folder_of(head)}:{LEARNT_WITHOUT.get(attribute_of(head))}"
        if hiding in targets:
            known &= targets[hiding] == names[hiding].index("without")
        classes = [1] if names[head] == ["without", "with"] else range(n)
        for k in classes:
            positive = labels[known] == k
            if MIN_FACES <= int(positive.sum()) <= len(positive) - MIN_FACES:
                directions[f"{head}={names[head][k]}"] = (head, k, attribute_direction(mu[known], positive))
    return directions


def effects(
    vae_model,
    classifier: ac.AttributeNet,
    mu: torch.Tensor,
    truth: dict[str, torch.Tensor],
    directions: dict,
    strength: float = STRENGTH,
    hold: ac.AttributeNet | ac.AttributeEnsemble | None = None,
) -> list[Effect]:
    """Each direction's :class:`Effect` on held-out faces (latents ``mu``, per-head ``truth``, −1 unknown); with a
    frozen ``hold`` classifier, each edit holds every other attribute it reads (:func:`held_edit`)."""
    base = predicted(classifier, _decode(vae_model, mu))
    results = []
    for name, (head, k, direction) in directions.items():
        mine = (truth[head] >= 0) & (base[head] != k)
        if not mine.any():
            continue
        z = mu[mine] + strength * direction
        if hold is not None:
            z = held_edit(vae_model, hold, mu[mine], z, attribute_of(head))
        edited = predicted(classifier, _decode(vae_model, z))
        side = {
            other: float((edited[other] != base[other][mine]).float().mean())
            for other in truth
            if other != head and folder_of(other) == folder_of(head) and other in edited
        }
        reached = float((edited[head] == k).float().mean())
        results.append(Effect(name, head, str(k), int(mine.sum()), reached, side))
    return results


def held_edit(vae_model, judge, before, edited, attribute: str, batch_size: int = 256) -> torch.Tensor:
    """``edited`` latents with every head of ``judge`` but ``attribute``'s held as it reads ``before``
    (:func:`~vae.model.attribute_loss.hold_attributes`), in batches."""
    heads = heads_without(judge.heads, {attribute})
    return torch.cat(
        [
            hold_attributes(vae_model, judge, before[i : i + batch_size], edited[i : i + batch_size], heads)
            for i in range(0, len(edited), batch_size)
        ]
    )


def random_directions(heads: dict[str, int], latent_dim: int, count: int = 4, seed: int = 0) -> dict:
    """Random unit directions, one per head and draw, "aimed" at class 0: the control for side effects (how much
    any step of the same length changes each attribute)."""
    generator = torch.Generator().manual_seed(seed)
    directions = {}
    for head in heads:
        for draw in range(count):
            direction = torch.randn(latent_dim, generator=generator)
            directions[f"random {draw + 1} ({head})"] = (head, 0, direction / direction.norm())
    return directions


def stored_directions(stored: dict[str, torch.Tensor], heads: dict[str, int], names) -> dict:
    """The model's stored directions whose key :data:`CARTOONSET_KEYS` maps to a class of one of ``heads``."""
    chosen = {}
    for (attribute, class_name), key in CARTOONSET_KEYS.items():
        for head in heads:
            if key in stored and head.endswith(":" + attribute) and class_name in names[head]:
                chosen[f"{key} (stored)"] = (head, names[head].index(class_name), stored[key] / stored[key].norm())
    return chosen


def cartoonset_key(name: str, head: str) -> str | None:
    """The Cartoon Set direction key of the real-label direction ``name`` (``head=class``), or None."""
    return CARTOONSET_KEYS.get((attribute_of(head), name.rsplit("=", 1)[1]))


def cartoonset_directions(directions: dict) -> dict[str, torch.Tensor]:
    """Real-label directions that each have a Cartoon Set key (:func:`packaged`), under that key."""
    return {cartoonset_key(name, head): direction for name, (head, _, direction) in directions.items()}


def packaged(directions: dict, skip=NOT_PACKAGED) -> dict:
    """The real-label directions that have a Cartoon Set key, but for those of the attributes in ``skip``."""
    return {
        name: entry
        for name, entry in directions.items()
        if cartoonset_key(name, entry[0]) is not None and attribute_of(entry[0]) not in skip
    }


def labelled_directions(
    vae_model, folders, held_out: int = HELD_OUT, skip=NOT_PACKAGED, fit_with=None, report=None
) -> dict[str, torch.Tensor]:
    """Cartoon Set-keyed directions of ``vae_model`` from the real labels of ``folders`` (training faces only), but
    for the attributes in ``skip``; with a frozen classifier ``fit_with``, each fitted to it
    (:func:`fitted_directions`), ``report(line)`` told as each is done."""
    cache, heads, targets, train_idx, _ = open_labelled(folders, held_out)
    faces = at_model_size(folders, cache, vae_model)
    mu, truth = training_latents(vae_model, faces, targets, train_idx)
    directions = packaged(real_directions(mu, heads, truth, folder_class_names(folders)), skip)
    if fit_with is not None:
        directions = fitted_directions(vae_model, fit_with, mu, truth, directions, report=report)
    return cartoonset_directions(directions)


def fitted_directions(vae_model, judge, mu, truth, directions: dict, strength: float = STRENGTH, report=None) -> dict:
    """``directions`` (:func:`real_directions`), each fitted (:func:`~vae.model.attribute_loss.fit_direction`) on the
    training latents ``mu`` that lack its class, so that a step of ``strength`` makes ``judge`` read the class and
    every other attribute as before; a direction of a head the judge lacks, or of an attribute in :data:`NOT_FITTED`,
    stays as it was."""
    fitted = {}
    for name, (head, k, direction) in directions.items():
        lacking = (truth[head] >= 0) & (truth[head] != k)
        if head in judge.heads and attribute_of(head) not in NOT_FITTED and lacking.any():
            held = heads_without(judge.heads, {attribute_of(head)})
            direction = fit_direction(vae_model, judge, mu[lacking], head, k, direction, held, strength)
            if report:
                report(f"fitted {name} on {int(lacking.sum())} faces")
        fitted[name] = (head, k, direction)
    return fitted


def training_latents(vae_model, faces, targets, train_idx) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The encodings (μ) of the labelled training faces and their per-head targets."""
    vae_model.eval()
    mu, _ = encode_all(vae_model, faces, train_idx)
    return mu, {h: t[train_idx] for h, t in targets.items()}


def training_directions(vae_model, faces, heads, targets, train_idx, folders) -> dict:
    """:func:`real_directions` of ``vae_model`` from the labelled training faces of ``folders`` (``faces``: their
    cache at the model's size, :func:`~vae.measure.fidelity.at_model_size`)."""
    mu, truth = training_latents(vae_model, faces, targets, train_idx)
    return real_directions(mu, heads, truth, folder_class_names(folders))


def conditional_on(directions: dict, attribute: str) -> dict:
    """``directions`` with every one of another attribute made conditional on the directions of ``attribute``'s
    classes in its folder (:func:`~vae.model.latent.conditional_direction`: the InterFaceGAN projection), so that a
    step along it leaves ``attribute``'s directions' projections unchanged."""
    fixed: dict[str, list[torch.Tensor]] = {}
    for head, _, direction in directions.values():
        if attribute_of(head) == attribute:
            fixed.setdefault(folder_of(head), []).append(direction)
    if not fixed:
        known = sorted({attribute_of(head) for head, _, _ in directions.values()})
        raise ValueError(f"no directions of {attribute!r} to keep fixed; the labels name {', '.join(known)}")
    return {
        name: (head, k, direction)
        if attribute_of(head) == attribute or folder_of(head) not in fixed
        else (head, k, conditional_direction(direction, fixed[folder_of(head)]))
        for name, (head, k, direction) in directions.items()
    }


def folder_class_names(folders) -> dict[str, list[str]]:
    """Class names per classifier head (``folder:attribute``) of the labelled ``folders``."""
    names = {}
    for folder in folders:
        for attribute, values in class_names(folder).items():
            names[head_name(folder, attribute)] = values
    return names


def measure(
    vae_model,
    classifier,
    folders,
    stored=None,
    strength: float = STRENGTH,
    held_out: int = HELD_OUT,
    controls=True,
    keep: str | None = None,
    hold: ac.AttributeNet | ac.AttributeEnsemble | None = None,
    stored_only: bool = False,
):
    """Effects of the real-label directions (and of ``stored`` ones, where mapped, and of random ``controls``) on
    each folder's held-out faces; with ``keep``, the real-label directions are made conditional on that attribute's
    (:func:`conditional_on`); with a ``hold`` classifier, each edit holds the other attributes it reads; with
    ``stored_only``, the ``stored`` directions alone (what the app applies)."""
    cache, heads, targets, train_idx, held_idx = open_labelled(folders, held_out)
    missing = sorted(set(heads) - set(classifier.heads))
    if missing:
        raise DataError(f"the classifier has no head for {', '.join(missing)}: train it on these folders")
    faces = at_model_size(folders, cache, vae_model)
    directions = {} if stored_only else training_directions(vae_model, faces, heads, targets, train_idx, folders)
    if keep:
        directions = conditional_on(directions, keep)
    if stored:
        directions.update(stored_directions(stored, heads, folder_class_names(folders)))
    if controls:
        directions.update(random_directions(heads, vae_model.latent_dim))
    held_mu, _ = encode_all(vae_model, faces, held_idx)
    results = effects(
        vae_model, classifier, held_mu, {h: t[held_idx] for h, t in targets.items()}, directions, strength, hold
    )
    return results, directions


def table(results: list[Effect], strength: float) -> str:
    """A Markdown table of the effects."""
    lines = [
        f"| direction (+{strength:g}) | faces | reach the class | largest side effect |",
        "|---|---|---|---|",
    ]
    for r in results:
        other, share = r.largest_side
        lines.append(f"| {r.direction} | {r.faces} | {r.reached:.2f} | {other.split(':', 1)[-1]} {share:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ..common.cli_args import int_range

    parser = argparse.ArgumentParser(
        prog="python -m vae.measure.direction_effects", description=__doc__.splitlines()[0]
    )
    parser.add_argument("checkpoint")
    parser.add_argument(
        "--classifier", required=True, help="a real-label classifier (python -m vae.measure.fidelity train)"
    )
    parser.add_argument("--data", action="append", required=True, metavar="FOLDER", help="a folder with a labels.tsv")
    parser.add_argument("--strength", type=float, default=STRENGTH)
    parser.add_argument("--held-out", type=int_range(1, 1_000_000), default=HELD_OUT)
    parser.add_argument(
        "--conditional-on",
        metavar="ATTRIBUTE",
        help="make every other real-label direction conditional on this attribute's directions (e.g. eye_color)",
    )
    parser.add_argument(
        "--hold-with",
        metavar="CLASSIFIER",
        help="hold every other attribute through each edit, as this classifier reads it (another one than "
        "--classifier, e.g. one trained with --seed 1)",
    )
    parser.add_argument("--no-controls", action="store_true", help="leave out the random directions")
    parser.add_argument(
        "--stored-only", action="store_true", help="measure the model's stored directions only (what the app applies)"
    )
    args = parser.parse_args(argv)
    from ..model import checkpoint
    from ..model.attribute_loss import frozen_judge

    try:
        ckpt = checkpoint.load(args.checkpoint)
        results, _ = measure(
            ckpt.model,
            ac.load(args.classifier),
            args.data,
            ckpt.directions,
            args.strength,
            args.held_out,
            controls=not args.no_controls,
            keep=args.conditional_on,
            hold=frozen_judge(args.hold_with) if args.hold_with else None,
            stored_only=args.stored_only,
        )
    except (DataError, ValueError, checkpoint.CheckpointError, ac.ClassifierError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(results, args.strength))
    return 0


if __name__ == "__main__":
    sys.exit(main())
