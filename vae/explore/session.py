"""The explorer's model layer: the loaded model, the latent being explored, its prior and directions.

No Qt here. An :class:`ExplorerSession` lives as long as the app; loading another checkpoint swaps
what it holds and emits ``model_changed``. Panels are given the session, subscribe to the specific
:class:`Event` they show (each ``connect`` returns a function that disconnects it) and write edits
back through the session. Several changes applied at once (random, reset, load) are one update:
one undo step and one ``values_changed``, so the face is decoded once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from ..common.control import QUIET, Control
from ..common.event import Event  # noqa: F401 (re-exported: it was defined here)
from ..common.undo import UndoStacks
from ..data.folder import ImageLoadError, load_image
from ..model import checkpoint as checkpoint_mod
from ..model import pixel_weights
from ..model.inference import DTYPE_NAMES, decode_faces, drawing_dtype, folded_for_inference
from ..model.latent import (
    ACTIVE_UNIT_THRESHOLD,
    APP_TEMPERATURE,
    REFINE_LR,
    REFINE_STEPS,
    SNAP_NOISE,
    denoise_to_prior,
    fit_latents,
    rank_dimensions,
    sample_conditional,
    sample_fitted,
    snap_path,
    standard_prior,
    typical_latent,
)
from ..model.network import shares_latent_space
from . import default_choice
from .attribute_hold import hold_edit, load_hold_classifier
from .default_choice import RESOURCES
from .directions import Reliability, direction_from_examples, example_reliability
from .slots import EXAMPLE_KINDS, FaceSlot

if TYPE_CHECKING:
    from .latent_map import LatentMap

SLIDER_RANGE = 3.0  # sliders span ±3 standard deviations of the prior
HISTORY_LIMIT = 500
BLANK_RANGE = 4 / 255  # an image whose pixels all lie this close holds no face to encode
# Where an encoding's refinement weighs the squared error more: the irises and the glasses' bridge, from the real
# labels (python -m vae.measure.pixel_weights; docs/model.md, "Eye colour: weighing the irises…").
REFINE_WEIGHTS = RESOURCES / "refine_weights.pt"
OPENING_SEED = 2  # the first face a model with a fitted prior shows: this draw at the app's Random temperature


class LatentState(UndoStacks):
    """The latent vector being explored, with per-dimension locks and undo/redo.

    Events: ``values_changed(dims)`` (a tuple of the dimensions that changed), ``locks_changed(locks)``
    (a frozenset) and ``history_changed(can_undo, can_redo)``.
    """

    def __init__(
        self,
        latent_dim: int,
        values: torch.Tensor | None = None,
        prior: dict | None = None,
        home: torch.Tensor | None = None,
    ):
        self.latent_dim = latent_dim
        self.prior = prior if prior is not None else standard_prior(latent_dim)
        self.home = torch.zeros(latent_dim) if home is None else self._checked(home)
        self._values = torch.zeros(latent_dim) if values is None else self._checked(values)
        self._locks: frozenset[int] = frozenset()
        self._undo: list[torch.Tensor] = []
        self._redo: list[torch.Tensor] = []
        self._dragging = False
        self.values_changed = Event("values_changed")
        self.locks_changed = Event("locks_changed")
        self.history_changed = Event("history_changed")

    @property
    def values(self) -> torch.Tensor:
        return self._values.clone()

    @property
    def locks(self) -> frozenset[int]:
        return self._locks

    def _checked(self, values) -> torch.Tensor:
        values = torch.as_tensor(values, dtype=torch.float32).reshape(-1).clone()
        if values.numel() != self.latent_dim:
            raise ValueError(f"expected a latent of {self.latent_dim} values, got {values.numel()}")
        if not torch.isfinite(values).all():
            raise ValueError("latent values must be finite")
        return values

    def _changed(self, old: torch.Tensor) -> None:
        dims = tuple(torch.nonzero(old != self._values).flatten().tolist())
        self.values_changed.emit(dims)
        self.history_changed.emit(self.can_undo, self.can_redo)

    # ------------------------------------------------------------ edits
    def _record(self) -> None:
        self._undo.append(self._values.clone())
        del self._undo[:-HISTORY_LIMIT]
        self._redo.clear()

    def set_values(self, values) -> None:
        """Replace the whole latent: one undo step, one notification."""
        new = self._checked(values)
        if torch.equal(new, self._values):
            return
        self._record()
        old, self._values = self._values, new
        self._changed(old)

    def set_dim(self, dim: int, value: float) -> None:
        """Change one dimension. During a drag every move shares the drag's single undo step."""
        value = torch.tensor(float(value), dtype=torch.float32)
        if self._values[dim] == value:
            return
        if not self._dragging:
            self._record()
        old = self._values.clone()
        self._values[dim] = value
        self._changed(old)

    def begin_drag(self) -> None:
        """Start a slider drag: the moves until :meth:`end_drag` collapse into one undo step."""
        if not self._dragging:
            self._record()
            self._dragging = True

    def end_drag(self) -> None:
        if self._dragging:
            self._dragging = False
            if self._undo and torch.equal(self._undo[-1], self._values):
                self._undo.pop()  # the drag ended where it began: nothing to undo
            self.history_changed.emit(self.can_undo, self.can_redo)

    def sample(self, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """One draw from the prior at ``temperature``, ignoring locks."""
        return sample_fitted(1, self.prior, temperature, generator)[0]

    def randomize(self, temperature: float = 1.0, generator: torch.Generator | None = None) -> None:
        """A draw from the prior at ``temperature``; locked dimensions keep their values and the others are
        drawn from the prior conditioned on them (:func:`~vae.model.latent.sample_conditional`)."""
        dims = sorted(self._locks)
        new = sample_conditional(1, self.prior, dims, self._values[dims], temperature, generator)[0]
        self.set_values(new)

    def reset(self) -> None:
        """Back to the model's typical face (the prior's most likely component mean; zero for N(0, I)); locked
        dimensions keep their values, as in :meth:`randomize`."""
        self.set_values(self._keeping_locks(self.home))

    def zero(self) -> None:
        """Every unlocked dimension to zero."""
        self.set_values(self._keeping_locks(torch.zeros(self.latent_dim)))

    def _keeping_locks(self, target: torch.Tensor) -> torch.Tensor:
        dims = sorted(self._locks)
        new = target.clone()
        new[dims] = self._values[dims]
        return new

    # ------------------------------------------------------------ locks
    def set_lock(self, dim: int, locked: bool) -> None:
        if not 0 <= dim < self.latent_dim:
            raise ValueError(f"no dimension {dim} in a latent of {self.latent_dim}")
        new = self._locks | {dim} if locked else self._locks - {dim}
        if new != self._locks:
            self._locks = frozenset(new)
            self.locks_changed.emit(self._locks)

    def toggle_lock(self, dim: int) -> None:
        self.set_lock(dim, dim not in self._locks)

    def clear_locks(self) -> None:
        if self._locks:
            self._locks = frozenset()
            self.locks_changed.emit(self._locks)

    # ------------------------------------------------------------ history
    def carry_from(self, other: "LatentState") -> None:
        """Take ``other``'s locks and undo/redo history (a model of the same latent space took its place)."""
        if other.latent_dim != self.latent_dim:
            raise ValueError(f"a latent of {other.latent_dim} values cannot carry into one of {self.latent_dim}")
        self._locks, self._undo, self._redo = other._locks, list(other._undo), list(other._redo)

    def history(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The undo and redo stacks (oldest first), for saving the work."""
        return [z.clone() for z in self._undo], [z.clone() for z in self._redo]

    def take_up(self, values, locks=(), undo=(), redo=()) -> None:
        """Take up saved work: ``values`` with its ``locks`` and undo/redo stacks (oldest first), as one change
        that adds no undo step of its own."""
        new = self._checked(values)
        undo, redo = [self._checked(z) for z in undo][-HISTORY_LIMIT:], [self._checked(z) for z in redo]
        for dim in locks:
            if not 0 <= dim < self.latent_dim:
                raise ValueError(f"no dimension {dim} in a latent of {self.latent_dim}")
        old, self._values, self._undo, self._redo = self._values, new, undo, redo
        self._locks = frozenset(int(d) for d in locks)
        self.locks_changed.emit(self._locks)
        self._changed(old)

    def recent(self, count: int = 12) -> list[torch.Tensor]:
        """The latest distinct faces of the history, newest first (the current one included)."""
        faces: list[torch.Tensor] = []
        for z in [self._values] + self._undo[::-1]:
            if not any(torch.equal(z, f) for f in faces):
                faces.append(z.clone())
            if len(faces) == count:
                break
        return faces

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self._values)
            old, self._values = self._values, self._undo.pop()
            self._changed(old)

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self._values)
            old, self._values = self._values, self._redo.pop()
            self._changed(old)


class FaceRenderer:
    """Decodes latents, skipping the work when the latent has not changed since the last call.

    It draws with a copy of ``model`` whose batch norms are folded into its convolutions
    (:func:`vae.model.inference.folded_for_inference`): the same faces, decoded sooner; in bf16 where
    this CPU draws faster in it (``dtype`` None: :func:`~vae.model.inference.drawing_dtype`).
    """

    def __init__(self, model, dtype: torch.dtype | None = None):
        self.dtype = drawing_dtype(model) if dtype is None else dtype
        self.model = folded_for_inference(model, self.dtype)
        self._last_z: torch.Tensor | None = None
        self._last_image: torch.Tensor | None = None
        self.decodes = 0

    @torch.inference_mode()
    def render(self, z: torch.Tensor) -> torch.Tensor:
        """(3, S, S) image in [0, 1] for one latent."""
        z = z.reshape(1, -1).float()
        if self._last_z is not None and torch.equal(z, self._last_z):
            return self._last_image
        self._last_image = decode_faces(self.model, z)[0]
        self._last_z = z.clone()
        self.decodes += 1
        return self._last_image

    @torch.inference_mode()
    def render_batch(self, z: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) images for (N, D) latents, decoded as one batch."""
        return decode_faces(self.model, z.reshape(-1, self.model.latent_dim))


def refine_weights_for(image_size: int) -> torch.Tensor | None:
    """The shipped refinement map at ``image_size`` (mean 1), or None (every pixel alike) when it is missing or
    unreadable."""
    try:
        return pixel_weights.load(REFINE_WEIGHTS, image_size)
    except pixel_weights.PixelWeightsError:
        return None


class ExplorerSession:
    """What every panel of the app shares: the loaded checkpoint, the latent being explored, its prior and
    directions, the faces picked as examples of a trait and the Map's encoded faces.

    Events (see :class:`Event`): ``model_changed()``, ``values_changed(dims)``, ``locks_changed(locks)``,
    ``history_changed(can_undo, can_redo)``, ``directions_changed(names)``, ``examples_changed()``,
    ``map_faces_changed()`` and ``status(message)``.
    """

    def __init__(self, ckpt: checkpoint_mod.Checkpoint):
        self.model_changed = Event("model_changed")
        self.values_changed = Event("values_changed")
        self.locks_changed = Event("locks_changed")
        self.history_changed = Event("history_changed")
        self.directions_changed = Event("directions_changed")
        self.examples_changed = Event("examples_changed")
        self.map_faces_changed = Event("map_faces_changed")
        self.status = Event("status")
        self._unlink_state: list[Callable[[], None]] = []
        self.examples: dict[str, list[FaceSlot]] = {kind: [] for kind in EXAMPLE_KINDS}
        self.map_faces: LatentMap | None = None  # encoded in the Map tab: a source for every face picker
        self.hold_classifier = load_hold_classifier()
        self.same_latent_space = False  # whether the last model change kept what every latent means
        self._install(ckpt)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ExplorerSession":
        """Load a checkpoint (raises :class:`~vae.model.checkpoint.CheckpointError`)."""
        return cls(checkpoint_mod.load(path))

    # ------------------------------------------------------------ the model
    def _install(
        self, ckpt: checkpoint_mod.Checkpoint, values: torch.Tensor | None = None, carried: LatentState | None = None
    ) -> None:
        self.checkpoint = ckpt
        self.model = ckpt.model.eval()
        self.renderer = FaceRenderer(self.model)
        self.refine_weights = refine_weights_for(self.model.image_size)
        dim = self.model.latent_dim
        prior = ckpt.latent_prior
        home = typical_latent(prior) if prior is not None else torch.zeros(dim)
        if values is None and prior is not None:
            # z = 0 can lie outside where the encodings live; open on a fixed draw from the fitted prior instead
            values = sample_fitted(1, prior, APP_TEMPERATURE, torch.Generator().manual_seed(OPENING_SEED))[0]
        for unlink in self._unlink_state:
            unlink()
        self.state = LatentState(dim, values, prior, home)
        if carried is not None:
            self.state.carry_from(carried)
        self._unlink_state = [
            self.state.values_changed.connect(self.values_changed.emit),
            self.state.locks_changed.connect(self.locks_changed.emit),
            self.state.history_changed.connect(self.history_changed.emit),
        ]
        kl = ckpt.latent_kl
        self.latent_kl = kl.float() if torch.is_tensor(kl) and kl.numel() == dim else None
        self._directions = dict(ckpt.directions)

    def load(self, path: str | os.PathLike) -> None:
        """Open another checkpoint in place; on :class:`~vae.model.checkpoint.CheckpointError` the current one stays."""
        self.set_checkpoint(checkpoint_mod.load(path))

    def set_checkpoint(self, ckpt: checkpoint_mod.Checkpoint, keep_values: bool = False) -> bool:
        """Show ``ckpt``; emits ``model_changed``. The current latent stays when asked and the sizes match, or when
        ``ckpt`` encodes with this model's encoder (the latent is the same face there: :attr:`same_latent_space`,
        which tells the panels to keep their faces too); returns whether it stayed. A latent that stays keeps its
        locks and undo history."""
        self.same_latent_space = shares_latent_space(self.model, ckpt.model)
        keep = (keep_values and ckpt.model.latent_dim == self.state.latent_dim) or self.same_latent_space
        self._install(ckpt, self.state.values if keep else None, self.state if keep else None)
        if not self.same_latent_space:  # faces picked as examples of a trait, or mapped, are other faces there
            self.examples = {kind: [] for kind in EXAMPLE_KINDS}
            self.map_faces = None
        self.model_changed.emit()
        self.directions_changed.emit(tuple(self._directions))
        self.examples_changed.emit()
        self.map_faces_changed.emit()
        return keep

    def set_map_faces(self, faces: LatentMap | None) -> None:
        """The faces the Map shows (None: none); emits ``map_faces_changed``."""
        self.map_faces = faces
        self.map_faces_changed.emit()

    def reload(self) -> None:
        """Read the model's file again (it changed on disk), keeping the latent being explored."""
        self.set_checkpoint(checkpoint_mod.load(self.checkpoint.path), keep_values=True)

    @property
    def name(self) -> str:
        return Path(self.checkpoint.path).name

    @property
    def path(self) -> Path:
        return Path(self.checkpoint.path)

    @property
    def prior(self) -> dict:
        return self.state.prior

    @property
    def dimension_order(self) -> list[int]:
        """Dimensions, most used first (by KL), or in index order when the KL is unknown."""
        if self.latent_kl is None:
            return list(range(self.model.latent_dim))
        return rank_dimensions(self.latent_kl).tolist()

    def is_active(self, dim: int) -> bool:
        return self.latent_kl is None or bool(self.latent_kl[dim] > ACTIVE_UNIT_THRESHOLD)

    def current_image(self) -> torch.Tensor:
        return self.renderer.render(self.state.values)

    @property
    def can_snap(self) -> bool:
        """Whether the model has a fitted prior to snap latents onto (see :meth:`snap_to_faces`)."""
        return self.checkpoint.latent_prior is not None

    def snap_to_faces(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` drawn toward the nearest kind of face of the fitted prior (:func:`~vae.model.latent.denoise_to_prior`).

        A + (B − C) of real faces often lands between the faces the model knows and decodes to a
        broken, noisy face; snapped, it decodes to a clean one. ``z`` is returned as is without a fitted prior.
        """
        return denoise_to_prior(z, self.prior, SNAP_NOISE, nearest=True) if self.can_snap else z

    def snap_morph(self, frames: torch.Tensor) -> torch.Tensor:
        """A morph's frames with the blends between its ends drawn to faces (:func:`~vae.model.latent.snap_path`).

        The frames are returned as they are without a fitted prior.
        """
        return snap_path(frames, self.prior, SNAP_NOISE, nearest=True) if self.can_snap else frames

    def render(self, z: torch.Tensor) -> torch.Tensor:
        """The (3, S, S) face of one latent (not the explorer's: no caching)."""
        return self.renderer.render_batch(z.reshape(1, -1))[0]

    def encode_file(
        self, path: str | os.PathLike, control: Control = QUIET, refine_steps: int = REFINE_STEPS
    ) -> torch.Tensor:
        """The latent of an image file: μ, refined by ``refine_steps`` steps against the decoder (0: μ itself), its
        squared error weighed by :attr:`refine_weights` (the shipped map, when it is there).

        Raises :class:`~vae.data.folder.ImageLoadError` for an unusable file, and
        :class:`~vae.common.control.Cancelled` when ``control`` stops it between steps.
        """
        model, weights = self.model, self.refine_weights  # one model throughout, should another be opened meanwhile
        if weights is not None and weights.shape[-1] != model.image_size:  # read between the two being set
            weights = refine_weights_for(model.image_size)
        x = load_image(path, model.image_size).unsqueeze(0)
        if float(x.max() - x.min()) < BLANK_RANGE:
            raise ImageLoadError(f"{path}: a blank image (one colour, or fully transparent): no face to encode")
        with torch.no_grad():
            mu, _ = model.encode(x)
        if refine_steps <= 0:
            return mu[0]

        def between_steps(done: int) -> None:
            control.check()
            control.progress(done, refine_steps, "refining the encoding")

        return fit_latents(model, x, mu, refine_steps, REFINE_LR, between_steps, weights)[0]

    # ------------------------------------------------------------ directions
    @property
    def directions(self) -> dict[str, torch.Tensor]:
        """Named unit directions (a copy: change them through :meth:`set_directions`/:meth:`add_direction`)."""
        return dict(self._directions)

    def set_directions(self, directions: dict[str, torch.Tensor], note: str | None = None) -> None:
        """Replace the model's directions; emits ``directions_changed``."""
        self._directions = {name: torch.as_tensor(d, dtype=torch.float32).reshape(-1) for name, d in directions.items()}
        self.checkpoint.directions = dict(self._directions)
        self.directions_changed.emit(tuple(self._directions))
        if note:
            self.report(note)

    def add_direction(self, name: str, direction: torch.Tensor) -> None:
        if direction.numel() != self.model.latent_dim:
            raise ValueError(
                f"direction {name!r} has {direction.numel()} values; this model uses {self.model.latent_dim}"
            )
        self.set_directions({**self._directions, name: direction})

    @property
    def can_hold(self) -> bool:
        """Whether edits can hold the rest of the face (the shipped hold classifier is there)."""
        return self.hold_classifier is not None

    def hold_edit(self, before: torch.Tensor, edited: torch.Tensor, applied) -> torch.Tensor:
        """``edited`` moved so that what the ``applied`` directions do not aim at reads as it does off ``before``
        (:func:`~vae.explore.attribute_hold.hold_edit`); safe off the GUI thread."""
        if self.hold_classifier is None:
            raise ValueError("the hold classifier (resources/hold_classifier.pt) is missing")
        return hold_edit(self.model, self.hold_classifier, before, edited, applied)

    # ------------------------------------------------------------ directions by example
    def add_example(self, kind: str, slot: FaceSlot) -> None:
        """Keep ``slot`` as a face that has (``"with"``) or lacks (``"without"``) the trait being defined.

        Raises ValueError for a face already among the examples: twice in a group it would count double,
        in both groups it would both have and lack the trait.
        """
        if kind not in EXAMPLE_KINDS:
            raise ValueError(f"example kind must be one of {EXAMPLE_KINDS}, got {kind!r}")
        for group in EXAMPLE_KINDS:
            if any(torch.equal(slot.latent, other.latent) for other in self.examples[group]):
                raise ValueError(f"{slot.label} is already among the faces {group} the trait: pick another face")
        self.examples[kind].append(slot)
        self.examples_changed.emit()

    def remove_example(self, kind: str, index: int) -> None:
        del self.examples[kind][index]
        self.examples_changed.emit()

    def take_up_examples(self, kept: dict[str, list[tuple[str, torch.Tensor]]]) -> None:
        """Replace the examples by those kept from an earlier launch: per kind, (label, latent) pairs."""
        self.examples = {kind: [FaceSlot(z, label) for label, z in kept.get(kind, [])] for kind in EXAMPLE_KINDS}
        self.examples_changed.emit()

    def clear_examples(self) -> None:
        self.examples = {kind: [] for kind in EXAMPLE_KINDS}
        self.examples_changed.emit()

    def direction_from_examples(self, name: str) -> torch.Tensor:
        """Store the direction from the faces without the trait to those with it under ``name``.

        Raises ValueError when a group is empty, the name is blank or the two groups' means coincide.
        """
        name = name.strip()
        if not name:
            raise ValueError("give the trait a name")
        with_mu, without_mu = self._example_latents()
        if not len(with_mu) or not len(without_mu):
            raise ValueError("pick at least one face with the trait and one without it")
        direction = direction_from_examples(with_mu, without_mu)
        self.add_direction(name, direction)
        self.report(
            f"direction “{name}” from {len(with_mu)} face(s) with and {len(without_mu)} without the trait; "
            + example_reliability(with_mu, without_mu).describe()
        )
        return direction

    def examples_reliability(self) -> Reliability | None:
        """How far a direction from the examples so far could be trusted; None until each group has a face."""
        with_mu, without_mu = self._example_latents()
        return example_reliability(with_mu, without_mu) if len(with_mu) and len(without_mu) else None

    def _example_latents(self) -> tuple[torch.Tensor, torch.Tensor]:
        groups = ([slot.latent.reshape(-1) for slot in self.examples[kind]] for kind in EXAMPLE_KINDS)
        return tuple(torch.stack(g) if g else torch.zeros(0, self.model.latent_dim) for g in groups)

    # ------------------------------------------------------------ status
    def report(self, message: str) -> None:
        """Tell the user something happened (the window shows it in its status bar)."""
        self.status.emit(message)

    def facts(self) -> dict:
        """What the status bar and the About box show about the model."""
        ckpt = self.checkpoint
        return {
            "checkpoint": self.name,
            "dataset": str(ckpt.dataset.get("name") or ckpt.dataset.get("source", "unknown")),
            "images": ckpt.dataset.get("count"),
            "folders": len(folders) if isinstance(folders := ckpt.dataset.get("folders"), list) else 0,
            "image_size": self.model.image_size,
            "latent_dim": self.model.latent_dim,
            "epochs": ckpt.epochs,
            "val_ssim": ckpt.last_metric("val_ssim"),
            "val_psnr": ckpt.last_metric("val_psnr"),
            "directions": len(self._directions),
            "random faces from": _prior_name(ckpt.latent_prior),
            "faces drawn in": DTYPE_NAMES[self.renderer.dtype],
            "shipped": self.path.resolve() in (default_choice.DEFAULT_64, default_choice.DEFAULT_128),  # in stages
        }


def _prior_name(prior: dict | None) -> str:
    if prior is None:
        return "N(0, I)"
    k = prior["weights"].numel()
    return (
        "Gaussian fitted to training encodings"
        if k == 1
        else f"{k}-component Gaussian mixture fitted to training encodings"
    )
