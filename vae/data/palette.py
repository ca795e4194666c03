"""Palette recolouring: Cartoon Set faces with their hair or skin colour swapped for another of the set's colours.

Cartoon Set art is drawn in flat palette colours, and one hair colour paints the head hair, the eyebrows and the
beard. Replacing every pixel of one palette colour with another (and the anti-aliased pixels at its edges in
proportion) gives a real-looking face in a combination of colours the data may lack: a training augmentation.

The palettes were read off the real faces: the colours that fill flat regions (3×3 neighbourhoods of one colour) in
many of 2,000 cartoonset10k faces, grouped by where they lie (hair above the eyes, skin at the face's centre).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

HAIR = ("1e1514", "5b331c", "a15332", "c04a2a", "ed6f2f", "d89a32", "ffbb4d", "ffde8a", "e0e0e0", "90a4ae")
SKIN = ("fbdbd1", "f6d8c1", "fbcdb6", "f0c092", "eeaf94", "e3b47e", "d9a16e", "c78b5d", "aa7454", "88594b", "603d30")

MATCH_DISTANCE = 8 / 255  # which palette colour a face has: pixels this close to it (two skin tones lie 16 apart)
CORE_DISTANCE = 22 / 255  # a pixel this close to the palette colour (RGB distance) is that colour, lighter or darker
TINT_DISTANCE = 12 / 255  # how far off the line from a colour to white or black a lighter or darker stroke may lie
TINTS = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])  # white and black
BLEND_DISTANCE = 24 / 255  # how far off the line between two colours a pixel may lie and count as their blend
MAX_SHARE = 1.5  # resizing overshoots an edge (a halo lighter or darker than both sides): moved in proportion
MIN_CHROMA = 24 / 255  # grey palette colours (black, white hair) stay: the outlines' edges pass through them
MIN_PIXELS = 20  # fewer pixels of every palette colour than this (at 64×64): the face has none, leave it


def palette_tensor(hex_colours: tuple[str, ...]) -> torch.Tensor:
    """(P, 3) float tensor in [0, 1] of ``hex_colours`` ("rrggbb")."""
    return torch.tensor([[int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)] for h in hex_colours])


def _length(vectors: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """Euclidean length along ``dim`` (faster on the CPU than ``Tensor.norm`` across a strided dimension)."""
    return vectors.square().sum(dim, keepdim=keepdim).sqrt()


def palette_colour(images: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """For each of ``images`` (B, 3, H, W), the index of the palette colour that covers most of it (counted on every
    other row and column), or −1 where none covers enough."""
    sample = images[..., ::2, ::2]
    distance = _length(sample.unsqueeze(1) - palette.view(1, -1, 3, 1, 1), 2)
    counts = (distance <= MATCH_DISTANCE).flatten(2).sum(2)
    enough = MIN_PIXELS * sample.shape[-1] * sample.shape[-2] / (64 * 64)
    best = counts.argmax(1)
    return torch.where(counts.gather(1, best[:, None])[:, 0] >= enough, best, torch.full_like(best, -1))


def _blend_share(
    pixels: torch.Tensor, source: torch.Tensor, partners: torch.Tensor, tolerance: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each of ``pixels`` (N, 3) read as a blend of its ``source`` (N, 3) and one of its ``partners`` (N, K, 3): the
    source's share, and whether some partner explains the pixel within ``tolerance``. A partner must lie clearly
    farther from the source than the pixel: a pixel next to one a shade darker than itself is no blend.

    Of the partners that do, the one farthest from the source is taken: a pure colour rather than another blend.
    """
    axis = source.unsqueeze(1) - partners
    length = _length(axis, 2)
    offset = pixels.unsqueeze(1) - partners
    share = ((offset * axis).sum(2) / length.square().clamp_min(1e-6)).clamp(0, MAX_SHARE)
    off_line = _length(offset - share.unsqueeze(2) * axis, 2)
    fits = (off_line <= tolerance) & (length > _length(pixels - source, 1, keepdim=True) + CORE_DISTANCE)
    best = torch.where(fits, length, torch.full_like(length, -1.0)).argmax(1, keepdim=True)
    return share.gather(1, best)[:, 0], fits.any(1)


def recolour(images: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``images`` (B, 3, H, W) in [0, 1] with colour ``source`` (B, 3) replaced by ``target`` (B, 3), image by image.

    Pixels of the source colour move to the target colour, in proportion to how light they are. Two kinds of
    pixel move by the source's share: one next to them that lies between the source and one of its neighbours (the
    anti-aliased edge against an outline, the skin, the background), and one inside the source's region that lies
    between the source and white or black (the lighter and darker strokes drawn into hair and skin).
    """
    b, _, h, w = images.shape
    core = _length(images - source.view(b, 3, 1, 1), 1, keepdim=True) <= CORE_DISTANCE
    core_map = core.float()
    ring = F.max_pool2d(core_map, 3, stride=1, padding=1).bool() & ~core
    inside = (F.avg_pool2d(core_map, 5, stride=1, padding=2, count_include_pad=False) >= 0.5) & ~core
    brightness = (images * source.view(b, 3, 1, 1)).sum(1) / source.square().sum(1).clamp_min(1e-6).view(b, 1, 1)
    share = torch.where(core[:, 0], brightness.clamp(1 / MAX_SHARE, MAX_SHARE), torch.zeros_like(brightness))

    n, y, x = torch.nonzero((ring | inside)[:, 0], as_tuple=True)
    pixels, pixel_source = images[n, :, y, x], source[n]
    padded = F.pad(images, (1, 1, 1, 1), mode="replicate")
    neighbours = torch.stack([padded[n, :, y + dy, x + dx] for dy in range(3) for dx in range(3)], 1)
    edge_share, edge = _blend_share(pixels, pixel_source, neighbours, BLEND_DISTANCE)
    tints = TINTS.to(images).unsqueeze(0).expand(len(n), 2, 3)
    tint_share, tint = _blend_share(pixels, pixel_source, tints, TINT_DISTANCE)
    on_ring, inner = ring[n, 0, y, x] & edge, inside[n, 0, y, x] & tint
    moved = torch.where(on_ring, edge_share, torch.zeros_like(edge_share))
    share[n, y, x] = torch.where(inner, torch.maximum(moved, tint_share), moved)
    return (images + share.unsqueeze(1) * (target - source).view(b, 3, 1, 1)).clamp(0, 1)


PALETTES = {"hair": palette_tensor(HAIR), "skin": palette_tensor(SKIN)}


def recolour_batch(x: torch.Tensor, rng: np.random.Generator, probability: float = 0.5) -> torch.Tensor:
    """``x`` (B, 3, H, W) with, for each face and each palette (hair, skin) independently, the colour swapped for
    another of the palette's at random with ``probability``. Faces without a palette colour stay as they are, and so
    do black- and white-haired ones: the anti-aliased edges of the black outlines pass through those greys.

    The result keeps ``x``'s memory layout: a channels-last batch comes back channels-last (a training step whose
    SSIM term compares a channels-last reconstruction with a plain-layout batch takes 1.4× as long).
    """
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    x = x.contiguous()
    for palette in PALETTES.values():
        palette = palette.to(x.device, x.dtype)
        drawn = torch.from_numpy(rng.random(x.shape[0]) < probability).to(x.device)
        steps = torch.from_numpy(rng.integers(1, len(palette), x.shape[0])).to(x.device)
        found = palette_colour(x, palette)
        chosen = torch.nonzero(drawn & (found >= 0), as_tuple=True)[0]
        if len(chosen) == 0:
            continue
        source = palette[found[chosen]]
        coloured = source.amax(1) - source.amin(1) >= MIN_CHROMA
        chosen, source = chosen[coloured], source[coloured]
        target = palette[(found[chosen] + steps[chosen]) % len(palette)]
        x = x.index_copy(0, chosen, recolour(x[chosen], source, target))
    return x.contiguous(memory_format=layout)
