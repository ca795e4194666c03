"""The Arithmetic tab's state: weighted faces, applied attribute directions, attributes kept fixed (no Qt)."""

from __future__ import annotations

import torch

from ..common.event import Event
from ..data.attribute_names import describe_direction
from ..model.latent import compose, weighted_sum
from .session import ExplorerSession


class ArithmeticModel:
    """z = Σ wᵢ·faceᵢ (snapped to faces when asked) + Σ sⱼ·directionⱼ, with chosen attributes kept fixed.

    A term's latent may be None (its face is still being encoded): it is left out of the sum. An applied
    direction is never kept fixed, though a choice to keep it holds for when it is no longer applied. With
    ``hold`` on, the result is then moved so that the rest of the face reads as it did before the directions
    (:meth:`hold_inputs`, computed off the GUI thread by the view).
    Events, one per edit: ``terms_changed()``, ``applied_changed()``, ``kept_changed()``, ``snap_changed(on)``
    and ``hold_changed(on)``.
    """

    def __init__(self, session: ExplorerSession):
        self.session = session
        self._terms: list[tuple[float, torch.Tensor | None]] = []
        self._applied: list[tuple[str, float]] = []
        self._kept: set[str] = set()
        self.snap = False
        self.hold = False
        self.terms_changed = Event("terms_changed")
        self.applied_changed = Event("applied_changed")
        self.kept_changed = Event("kept_changed")
        self.snap_changed = Event("snap_changed")
        self.hold_changed = Event("hold_changed")

    # ------------------------------------------------------------ terms
    @property
    def terms(self) -> list[tuple[float, torch.Tensor | None]]:
        return list(self._terms)

    def set_terms(self, terms) -> None:
        """Replace every term by ``(weight, latent)`` pairs."""
        self._terms = [(float(w), _latent(z)) for w, z in terms]
        self.terms_changed.emit()

    def add_term(self, weight: float = 1.0, latent: torch.Tensor | None = None) -> int:
        """Append a term; returns its index."""
        self._terms.append((float(weight), _latent(latent)))
        self.terms_changed.emit()
        return len(self._terms) - 1

    def remove_term(self, index: int) -> None:
        del self._terms[index]
        self.terms_changed.emit()

    def set_weight(self, index: int, weight: float) -> None:
        self._set_term(index, float(weight), self._terms[index][1])

    def set_latent(self, index: int, latent: torch.Tensor | None) -> None:
        self._set_term(index, self._terms[index][0], _latent(latent))

    def _set_term(self, index: int, weight: float, latent: torch.Tensor | None) -> None:
        old_weight, old_latent = self._terms[index]
        same_latent = (old_latent is None and latent is None) or (
            old_latent is not None
            and latent is not None
            and old_latent.shape == latent.shape
            and torch.equal(old_latent, latent)
        )
        if weight != old_weight or not same_latent:
            self._terms[index] = (weight, latent)
            self.terms_changed.emit()

    # ------------------------------------------------------------ applied directions
    @property
    def applied(self) -> list[tuple[str, float]]:
        """The applied directions as ``(name, strength)``, in the order they were added."""
        return list(self._applied)

    def apply(self, name: str, strength: float = 1.0) -> bool:
        """Apply the session's direction ``name`` at ``strength``; False (and no change) for an unknown name."""
        if not name or name not in self.session.directions:
            return False
        self._applied.append((name, float(strength)))
        self.applied_changed.emit()
        return True

    def set_strength(self, index: int, strength: float) -> None:
        name, old = self._applied[index]
        if float(strength) != old:
            self._applied[index] = (name, float(strength))
            self.applied_changed.emit()

    def unapply(self, index: int) -> None:
        del self._applied[index]
        self.applied_changed.emit()

    # ------------------------------------------------------------ kept fixed
    @property
    def kept(self) -> list[str]:
        """The attributes chosen to stay fixed, in the session's order (applied ones included)."""
        return [name for name in self.session.directions if name in self._kept]

    @property
    def kept_fixed(self) -> list[str]:
        """The attributes that do stay fixed: chosen, and not applied themselves."""
        return [name for name in self.kept if self.can_keep(name)]

    def can_keep(self, name: str) -> bool:
        """An applied direction cannot also stay fixed."""
        return all(name != applied for applied, _ in self._applied)

    def set_kept(self, names) -> None:
        """Choose the attributes to keep fixed (names the session has no direction for are ignored)."""
        kept = set(names) & set(self.session.directions)
        if kept != self._kept:
            self._kept = kept
            self.kept_changed.emit()

    def set_keep(self, name: str, keep: bool) -> None:
        self.set_kept(self._kept | {name} if keep else self._kept - {name})

    # ------------------------------------------------------------ the rest
    def set_snap(self, on: bool) -> None:
        if bool(on) != self.snap:
            self.snap = bool(on)
            self.snap_changed.emit(self.snap)

    def set_hold(self, on: bool) -> None:
        if bool(on) != self.hold:
            self.hold = bool(on)
            self.hold_changed.emit(self.hold)

    @property
    def snapped(self) -> bool:
        """Whether the faces' sum is snapped: asked for, and the model has a fitted prior to snap to."""
        return self.snap and self.session.can_snap

    def forget_missing_directions(self) -> None:
        """Drop applied and kept directions the session no longer has (one event for each list that changed)."""
        names = self.session.directions
        applied = [(name, s) for name, s in self._applied if name in names]
        if applied != self._applied:
            self._applied = applied
            self.applied_changed.emit()
        self.set_kept(self._kept)

    def clear(self) -> None:
        """No terms and no applied directions (a new model); the kept attributes it also has stay kept.

        One event for each list that changed.
        """
        for items, event in ((self._terms, self.terms_changed), (self._applied, self.applied_changed)):
            if items:
                items.clear()
                event.emit()
        self.set_kept(self._kept)

    def faces(self) -> list[tuple[float, torch.Tensor]]:
        """The terms whose face is known, as ``(weight, latent)``."""
        return [(w, z) for w, z in self._terms if z is not None]

    def result(self) -> torch.Tensor | None:
        """The composed latent; None without a known face. Raises ValueError for faces of different sizes."""
        total = self._faces_sum()
        return None if total is None else self._with_directions(total)

    def _with_directions(self, total: torch.Tensor) -> torch.Tensor:
        """The faces' sum with the applied directions, Keep fixed honoured."""
        directions = self.session.directions
        applied = [(strength, directions[name]) for name, strength in self._applied]
        return compose([(1.0, total)], applied, [directions[name] for name in self.kept_fixed])

    def _faces_sum(self) -> torch.Tensor | None:
        """Σ wᵢ·faceᵢ, snapped when asked (the directions then apply in full, with Keep fixed honoured)."""
        faces = self.faces()
        if not faces:
            return None
        if len({z.numel() for _, z in faces}) > 1:
            raise ValueError("the faces' latents differ in size: pick every face again for this model")
        total = weighted_sum(faces)
        return self.session.snap_to_faces(total) if self.snapped else total

    @property
    def holding(self) -> bool:
        """Whether the result is to be held: asked for, the app can hold, and a direction is applied."""
        return self.hold and self.session.can_hold and bool(self._applied)

    def hold_inputs(self) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
        """What holding the result takes, ``(faces' sum, result, applied direction names)``
        (:meth:`~vae.explore.session.ExplorerSession.hold_edit`); None when nothing is to be held."""
        if not self.holding:
            return None
        total = self._faces_sum()
        return None if total is None else (total, self._with_directions(total), [name for name, _ in self._applied])

    def formula(self, hold_note: str = "the rest held") -> str:
        """The result as people read it, e.g. ``result = A + 0.6·B − 0.6·C + 2·[glasses]``, with ``hold_note``
        when the result is to be held (the view says "holding…" while it is computed)."""
        terms = [(w, chr(ord("A") + i)) for i, (w, _) in enumerate(self.faces())]
        named = [(s, describe_direction(name).removeprefix("+")) for name, s in self._applied]  # not "+ [+glasses]"
        terms += [(s, f"[{name}]") for s, name in named]
        notes = [note for note, on in (("snapped to the nearest faces", self.snapped), (hold_note, self.holding)) if on]
        return "result = " + _signed_sum(terms) + "".join(f", {note}" for note in notes)

    def recipe(self, held: bool | None = None) -> dict:
        """How the result was made, for an export's latent file: its formula, each face's weight and latent
        (A, B, …), the applied directions with their strengths and names, what was kept fixed, snap and hold;
        ``held=False`` when the result written was not held after all (the hold still running, or failed)."""
        held = self.holding if held is None else held and self.holding
        return {
            "formula": self.formula() if held or not self.holding else self.formula("the rest not held"),
            "faces": [
                {"name": chr(ord("A") + i), "weight": w, "latent": z.double().tolist()}
                for i, (w, z) in enumerate(self.faces())
            ],
            "directions": [{"key": name, "name": describe_direction(name), "strength": s} for name, s in self._applied],
            "kept_fixed": self.kept_fixed,
            "snapped": self.snapped,
            "held": held,
        }


def _signed_sum(terms: list[tuple[float, str]]) -> str:
    """``[(1, "A"), (-0.5, "B")]`` as "A − 0.5·B": weights to two decimals, a weight of 1 left out."""
    text = ""
    for weight, name in terms:
        size = f"{abs(weight):.2f}".rstrip("0").rstrip(".")
        term = name if size == "1" else f"{size}·{name}"
        sign = "−" if weight < 0 and size != "0" else "+"
        text += (f"{sign} " if text else ("−" if sign == "−" else "")) + term + " "
    return text.strip()


def _latent(z) -> torch.Tensor | None:
    return None if z is None else torch.as_tensor(z, dtype=torch.float32).reshape(-1).clone()
