"""Pure, batched operations on latent vectors: sampling, interpolation, arithmetic, directions."""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import torch

from .loss import kl_per_dimension

# The app refines an image's encoding: from the encoder's μ, this many Adam steps at this rate against the fixed
# decoder (:func:`fit_latents`; docs/model.md, "Eye colour: weighing the irises, and refining an encoding").
REFINE_STEPS, REFINE_LR = 50, 0.05
APP_TEMPERATURE = 0.8  # the explorer's default Random temperature
ACTIVE_UNIT_THRESHOLD = 0.01  # nats: a dimension whose average KL is above this is "in use"


def sample_prior(n: int, latent_dim: int, temperature: float = 1.0, generator: torch.Generator | None = None):
    """``n`` draws from N(0, temperature²·I): shape (n, latent_dim)."""
    return torch.randn(n, latent_dim, generator=generator) * temperature


def _frames(n: int, like: torch.Tensor) -> torch.Tensor:
    if n < 2:
        raise ValueError(f"need at least 2 frames to include both ends, got {n}")
    return torch.linspace(0.0, 1.0, n, dtype=like.dtype, device=like.device).unsqueeze(1)


def fit_gaussian(latents: torch.Tensor, jitter: float = 1e-5) -> dict[str, torch.Tensor]:
    """A full-covariance Gaussian fitted to (N, D) latents, as a one-component :func:`fit_mixture` prior."""
    mean = latents.mean(0)
    eye = torch.eye(latents.shape[1], dtype=torch.float64)
    if latents.shape[0] < 2:  # one encoding says nothing of the spread: unit covariance around it
        return {"weights": torch.ones(1), "mean": mean.float().unsqueeze(0), "scale_tril": eye.float().unsqueeze(0)}
    cov = torch.cov(latents.T.double()) + jitter * eye
    return {
        "weights": torch.ones(1),
        "mean": mean.float().unsqueeze(0),
        "scale_tril": torch.linalg.cholesky(cov).float().unsqueeze(0),
    }


def fit_mixture(
    latents: torch.Tensor, components: int = 128, seed: int = 0, max_points: int = 8000
) -> dict[str, torch.Tensor]:
    """A full-covariance Gaussian mixture fitted to (N, D) latents (ex-post density estimation).

    Encodings of faces made of discrete parts cluster; sampling a mixture fitted to them instead
    of N(0, I) or one Gaussian lands on faces rather than on blends between clusters; the more
    components, the crisper the draws (capped so that each has about 2·D points). Fits
    scikit-learn's EM to at most ``max_points`` latents (a seeded subset) and returns ``weights``
    (K,), ``mean`` (K, D) and ``scale_tril`` (K, D, D).
    """
    from sklearn.mixture import GaussianMixture

    if latents.shape[0] > max_points:
        keep = torch.randperm(latents.shape[0], generator=torch.Generator().manual_seed(seed))[:max_points]
        latents = latents[keep]
    components = max(1, min(components, latents.shape[0] // (2 * latents.shape[1])))
    if components == 1:
        return fit_gaussian(latents)
    gm = GaussianMixture(components, covariance_type="full", reg_covar=1e-5, random_state=seed)
    gm.fit(latents.double().numpy())
    return {
        "weights": torch.from_numpy(gm.weights_).float(),
        "mean": torch.from_numpy(gm.means_).float(),
        "scale_tril": torch.linalg.cholesky(torch.from_numpy(gm.covariances_)).float(),
    }


def sample_fitted(
    n: int, prior: dict[str, torch.Tensor], temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` draws from a :func:`fit_mixture` prior; ``temperature`` scales each component's spread."""
    component = torch.multinomial(prior["weights"], n, replacement=True, generator=generator)
    eps = torch.randn(n, prior["mean"].shape[1], generator=generator) * temperature
    return prior["mean"][component] + (prior["scale_tril"][component] @ eps.unsqueeze(-1)).squeeze(-1)


def standard_prior(latent_dim: int) -> dict[str, torch.Tensor]:
    """N(0, I) in the mixture form of :func:`fit_mixture` (one component)."""
    return {
        "weights": torch.ones(1),
        "mean": torch.zeros(1, latent_dim),
        "scale_tril": torch.eye(latent_dim).unsqueeze(0),
    }


LOG_PROB_CHUNK = 1 << 21  # latent × component × dimension values per step of mixture_log_prob (16 MB in float64)


def mixture_log_prob(prior: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Log-density of (N, D) latents under a :func:`fit_mixture` prior: shape (N,)."""
    z = z.reshape(-1, prior["mean"].shape[1]).double()
    tril, mean = prior["scale_tril"].double(), prior["mean"].double()
    log_det = torch.log(torch.diagonal(tril, dim1=-2, dim2=-1)).sum(-1)
    log_weights = torch.log(prior["weights"].double())
    k, d = mean.shape
    inverse = torch.linalg.solve_triangular(tril, torch.eye(d, dtype=torch.float64).expand(k, d, d), upper=False)
    rows = max(1, LOG_PROB_CHUNK // (k * d))  # (rows, K, D) at a time: bounded memory for many components
    out = []
    for chunk in z.split(rows):
        white = torch.einsum("kij,nkj->nki", inverse, chunk.unsqueeze(1) - mean.unsqueeze(0))  # L⁻¹(z − μ)
        log_comp = -0.5 * (white**2).sum(-1) - log_det - 0.5 * d * math.log(2 * math.pi)
        out.append(torch.logsumexp(log_weights + log_comp, dim=1))
    return torch.cat(out).float() if out else torch.zeros(0)


def typical_latent(prior: dict[str, torch.Tensor]) -> torch.Tensor:
    """The prior's most likely component mean: the component mean where the mixture density is highest."""
    return prior["mean"][int(torch.argmax(mixture_log_prob(prior, prior["mean"])))].clone()


def condition_mixture(
    prior: dict[str, torch.Tensor], dims: Sequence[int], values: torch.Tensor, jitter: float = 1e-6
) -> dict[str, torch.Tensor]:
    """The mixture ``prior`` conditioned on ``z[dims] = values``: a mixture over the other dimensions.

    Each component's conditional is the closed-form Gaussian conditional
    μ_f + Σ_fl Σ_ll⁻¹ (x − μ_l), Σ_ff − Σ_fl Σ_ll⁻¹ Σ_lf, and each component's weight is
    re-weighted by how likely it makes the locked values: w_k ∝ π_k N(x; μ_l, Σ_ll). Returns a
    prior dict over the free dimensions plus ``free`` (their indices, ascending).
    """
    d = prior["mean"].shape[1]
    dims = [int(i) for i in dims]
    x = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if x.numel() != len(dims) or len(set(dims)) != len(dims):
        raise ValueError(f"need one value per distinct locked dimension, got dims {dims} and {x.numel()} values")
    order = sorted(range(len(dims)), key=dims.__getitem__)
    locked = torch.tensor([dims[i] for i in order], dtype=torch.long)
    x = x[order] if dims else x
    free = torch.tensor([i for i in range(d) if i not in set(dims)], dtype=torch.long)
    if len(locked) == 0:
        return {**prior, "free": free}
    tril = prior["scale_tril"].double()
    cov = tril @ tril.mT
    mean = prior["mean"].double()
    s_ll = cov[:, locked][:, :, locked] + jitter * torch.eye(len(locked), dtype=torch.float64)
    s_fl = cov[:, free][:, :, locked]
    s_ff = cov[:, free][:, :, free]
    chol = torch.linalg.cholesky(s_ll)
    diff = (x.unsqueeze(0) - mean[:, locked]).unsqueeze(-1)  # (K, l, 1)
    white = torch.linalg.solve_triangular(chol, diff, upper=False)  # C⁻¹(x − μ_l)
    proj = torch.linalg.solve_triangular(chol, s_fl.mT, upper=False)  # C⁻¹ Σ_lf
    cond_mean = mean[:, free] + (proj.mT @ white).squeeze(-1)
    cond_cov = s_ff - proj.mT @ proj + jitter * torch.eye(len(free), dtype=torch.float64)
    log_lik = -0.5 * (white.squeeze(-1) ** 2).sum(-1) - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    weights = torch.softmax(torch.log(prior["weights"].double()) + log_lik, dim=0)
    return {
        "weights": weights.float(),
        "mean": cond_mean.float(),
        "scale_tril": torch.linalg.cholesky(cond_cov).float(),
        "free": free,
    }


def sample_conditional(
    n: int,
    prior: dict[str, torch.Tensor],
    dims: Sequence[int],
    values: torch.Tensor,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n`` draws (n, D) from ``prior`` given ``z[dims] = values``: locked dimensions keep their values
    exactly, the others come from :func:`condition_mixture`."""
    d = prior["mean"].shape[1]
    dims = list(dims)
    values = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
    out = torch.empty(n, d)
    if dims:
        out[:, dims] = values
    if len(dims) == d:
        return out
    cond = condition_mixture(prior, dims, values)
    out[:, cond["free"]] = sample_fitted(n, cond, temperature, generator)
    return out


SNAP_NOISE = 0.6  # the app's snap: how far (in latent units) a result may lie from the faces and still be drawn to them


def denoise_to_prior(
    z: torch.Tensor, prior: dict[str, torch.Tensor], noise: float = 0.5, nearest: bool = False
) -> torch.Tensor:
    """Move (N, D) latents to where faces are: E[x | z] for z = x + N(0, noise²·I), x ~ the mixture ``prior``
    (with ``nearest``, E[x | z, the most likely component]).

    The closed-form posterior mean under a Gaussian mixture: each component k pulls z to
    μ_k + Σ_k (Σ_k + noise²·I)⁻¹ (z − μ_k), weighted by how likely it makes z. A latent that already
    encodes a face barely moves; a blend between faces (a morph middle, an A + (B − C)) is drawn
    toward the nearest faces the model knows, which decode crisp instead of ghosted. With ``nearest`` only the
    most likely component pulls: a blend that lies between two kinds of face (most do) becomes one of them,
    where the weighted mean of the pulls would still be a blend of the two.
    """
    shape = z.shape
    y = z.reshape(-1, prior["mean"].shape[1]).double()
    tril = prior["scale_tril"].double()
    cov = tril @ tril.mT
    noisy = cov + noise**2 * torch.eye(cov.shape[-1], dtype=torch.float64)
    chol = torch.linalg.cholesky(noisy)  # (K, D, D)
    diff = (y.unsqueeze(1) - prior["mean"].double().unsqueeze(0)).unsqueeze(-1)  # (N, K, D, 1)
    white = torch.linalg.solve_triangular(chol.unsqueeze(0), diff, upper=False)
    log_lik = -0.5 * (white.squeeze(-1) ** 2).sum(-1) - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    resp = torch.softmax(torch.log(prior["weights"].double()) + log_lik, dim=1)  # (N, K)
    pulled = prior["mean"].double().unsqueeze(0) + (
        cov.unsqueeze(0) @ torch.cholesky_solve(diff, chol.unsqueeze(0))
    ).squeeze(-1)
    if nearest:
        moved = pulled[torch.arange(len(y)), resp.argmax(1)]
    else:
        moved = (resp.unsqueeze(-1) * pulled).sum(1)
    return moved.to(z.dtype).reshape(shape)


def snap_path(
    frames: torch.Tensor, prior: dict[str, torch.Tensor], noise: float = SNAP_NOISE, nearest: bool = False
) -> torch.Tensor:
    """A morph's (n, D) frames drawn toward faces, fully in the middle and not at all at either end.

    Frame k moves by sin(π·k/(n − 1)) of the way to :func:`denoise_to_prior` (``nearest``: to the nearest kind
    of face, as the app snaps): the two chosen faces stay exactly as they are, and the blends between them, which
    decode ghosted, become faces the model knows.
    """
    weight = torch.sin(torch.pi * _frames(frames.shape[0], frames))
    weight[[0, -1]] = 0.0  # sin(π) is not exactly 0 in floating point
    return frames + weight * (denoise_to_prior(frames, prior, noise, nearest) - frames)


def fit_latents(
    model,
    images: torch.Tensor,
    start: torch.Tensor,
    steps: int = 100,
    lr: float = 0.02,
    between_steps: Callable[[int], None] | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Latents the fixed decoder turns into ``images`` as closely as it can (Adam on the squared error from ``start``).

    How well their decodings match ``images`` bounds what any encoder could reach with this decoder; from the
    encoder's μ, a few dozen steps give a face closer to the image than μ does. ``between_steps(done)`` is called
    after each step (a progress report, or a check that raises to stop). ``weights`` (broadcastable to the images,
    e.g. :func:`vae.model.pixel_weights.load`) weigh the squared error pixel by pixel. The model's weights are left
    as they were.
    """

    def squared_error(z: torch.Tensor) -> torch.Tensor:
        error = (model.decode(z) - images).pow(2)
        return (error if weights is None else error * weights).sum()

    return optimise_latents(model, start, squared_error, steps, lr, between_steps)


def optimise_latents(
    model,
    start: torch.Tensor,
    objective: Callable[[torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
    between_steps: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Adam on latents from ``start`` to lower ``objective(z)`` (a scalar), ``model`` in eval mode.

    ``between_steps(done)`` is called after each step. Gradients flow to the latents only: the model's weights and
    their ``requires_grad`` flags are left as they were, so several of these may run on one model at once.
    """
    model.eval()
    with torch.enable_grad():
        z = start.detach().clone().requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=lr)
        for step in range(steps):
            optimiser.zero_grad()
            objective(z).backward(inputs=[z])
            optimiser.step()
            if between_steps:
                between_steps(step + 1)
    return z.detach()


def lerp(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` evenly spaced points on the line from ``a`` to ``b`` (both included): (n, D)."""
    t = _frames(n, a)
    return (1 - t) * a.reshape(1, -1) + t * b.reshape(1, -1)


def slerp(a: torch.Tensor, b: torch.Tensor, n: int, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation from ``a`` to ``b`` in ``n`` frames (both included): (n, D).

    Angle and norm are interpolated separately, so every frame's norm lies between the
    endpoints' norms. Identical (or zero) endpoints fall back to :func:`lerp`; opposite
    endpoints take a path through a fixed perpendicular direction.
    """
    a = a.reshape(-1)
    b = b.reshape(-1)
    t = _frames(n, a)
    na, nb = a.norm(), b.norm()
    if na < eps or nb < eps:
        return lerp(a, b, n)
    ua, ub = a / na, b / nb
    cos = torch.clamp(ua.double() @ ub.double(), -1.0, 1.0)
    omega = torch.arccos(cos).to(a.dtype)
    if cos > 1 - 1e-7:
        return lerp(a, b, n)
    if cos < -1 + 1e-6:
        perp = torch.zeros_like(ua)
        perp[int(torch.argmin(ua.abs()))] = 1.0
        perp = perp - (perp @ ua) * ua
        ub_half = perp / perp.norm()
        half = n // 2 + 1
        first = slerp(ua, ub_half, half)
        second = slerp(ub_half, ub, n - half + 1)[1:]
        directions = torch.cat([first, second])
    else:
        so = torch.sin(omega)
        directions = (torch.sin((1 - t) * omega) / so) * ua + (torch.sin(t * omega) / so) * ub
    norms = (1 - t) * na + t * nb
    return directions * norms


def weighted_sum(terms: Iterable[tuple[float, torch.Tensor]]) -> torch.Tensor:
    """Σ wᵢ·zᵢ over (weight, latent) pairs: the general form of latent arithmetic."""
    total = None
    for weight, z in terms:
        total = weight * z if total is None else total + weight * z
    if total is None:
        raise ValueError("latent arithmetic needs at least one term")
    return total


def analogy(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """A + w·(B − C)."""
    return weighted_sum([(1.0, a), (weight, b), (-weight, c)])


def traversal_grid(z: torch.Tensor, dims: Sequence[int], values: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Rows of ``z`` with one dimension swept: shape (len(dims)·len(values), D), row-major by dim."""
    values = torch.as_tensor(values, dtype=z.dtype)
    base = z.reshape(1, -1).repeat(len(dims) * len(values), 1)
    for i, dim in enumerate(dims):
        base[i * len(values) : (i + 1) * len(values), dim] = values
    return base


def average_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average KL per latent dimension over a set of encodings: shape (D,)."""
    return kl_per_dimension(mu, logvar).mean(0)


def rank_dimensions(kl: torch.Tensor) -> torch.Tensor:
    """Dimension indices ordered by average KL, most used first."""
    return torch.argsort(kl, descending=True)


def active_units(kl: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> torch.Tensor:
    """Boolean mask of dimensions whose average KL exceeds ``threshold`` nats."""
    return kl > threshold


def attribute_direction(latents: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Unit vector from the mean latent of label-0 samples to that of label-1 samples."""
    labels = torch.as_tensor(labels).bool().reshape(-1)
    if labels.all() or not labels.any():
        raise ValueError("attribute direction needs examples with and without the attribute")
    diff = latents[labels].mean(0) - latents[~labels].mean(0)
    norm = diff.norm()
    if norm == 0:
        raise ValueError("both classes have the same mean latent")
    return diff / norm


def conditional_direction(direction: torch.Tensor, keep_fixed: Sequence[torch.Tensor]) -> torch.Tensor:
    """``direction`` with its components along the span of ``keep_fixed`` removed, renormalised.

    Moving along the result leaves the projections onto every kept direction unchanged, so
    "add glasses" need not change the hair.
    """
    if not keep_fixed:
        return direction / direction.norm()
    basis, _ = torch.linalg.qr(torch.stack([d.reshape(-1) for d in keep_fixed], dim=1))
    residual = direction - basis @ (basis.T @ direction)
    norm = residual.norm()
    if norm < 1e-8:
        raise ValueError("the direction lies in the span of the directions kept fixed")
    return residual / norm


def compose(
    terms: Sequence[tuple[float, torch.Tensor]],
    directions: Sequence[tuple[float, torch.Tensor]] = (),
    keep_fixed: Sequence[torch.Tensor] = (),
) -> torch.Tensor:
    """Latent arithmetic with attribute edits: Σ wᵢ·zᵢ + Σ sⱼ·dⱼ.

    Each direction dⱼ is first made conditional on ``keep_fixed`` (see
    :func:`conditional_direction`), so the kept attributes do not change.
    """
    z = weighted_sum(terms)
    for strength, direction in directions:
        d = conditional_direction(direction, list(keep_fixed)) if keep_fixed else direction / direction.norm()
        z = z + strength * d
    return z


def project_2d(latents: torch.Tensor) -> torch.Tensor:
    """PCA of (N, D) latents onto their two main axes: (N, 2)."""
    centred = latents - latents.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return centred @ v[:2].T


def morph(a: torch.Tensor, b: torch.Tensor, n: int, mode: str = "slerp") -> torch.Tensor:
    """``n`` latents from ``a`` to ``b`` by ``"slerp"`` or ``"lerp"``."""
    if mode not in ("slerp", "lerp"):
        raise ValueError(f"morph mode must be 'slerp' or 'lerp', got {mode!r}")
    return slerp(a, b, n) if mode == "slerp" else lerp(a, b, n)


def ping_pong(n: int) -> list[int]:
    """Frame order that plays forward then back without repeating the ends: 0…n−1…1."""
    return list(range(n)) + list(range(n - 2, 0, -1))
