import numpy as np
import torch
from torchvision.transforms.functional import pil_to_tensor

from tests.helpers import draw_palette_face
from vae.data.palette import HAIR, PALETTES, SKIN, palette_colour, recolour, recolour_batch


def face(hair, skin):
    return pil_to_tensor(draw_palette_face(hair, skin)).float().div(255).unsqueeze(0)


def test_recolouring_the_hair_draws_the_face_as_if_it_had_the_other_hair_colour():
    drawn_red = face("c04a2a", "f0c092")
    for target in ("5b331c", "ffde8a", "90a4ae"):
        want = face(target, "f0c092")
        got = recolour(drawn_red, PALETTES["hair"][[HAIR.index("c04a2a")]], PALETTES["hair"][[HAIR.index(target)]])
        error = (got - want).abs()
        unchanged = (drawn_red - want).abs()
        assert error.mean() < 0.1 * unchanged.mean()  # the edges and the lighter stroke move with the hair
        assert error.amax(1).flatten().quantile(0.99) < 0.08  # no speckles of the old colour left behind


def test_recolouring_the_hair_leaves_the_skin_outlines_and_background_alone():
    image = face("ed6f2f", "aa7454")
    hair, other = PALETTES["hair"][[HAIR.index("ed6f2f")]], PALETTES["hair"][[HAIR.index("1e1514")]]
    out = recolour(image, hair, other)
    skin = (image - PALETTES["skin"][SKIN.index("aa7454")].view(1, 3, 1, 1)).norm(dim=1) < 4 / 255
    dark = image.amax(1) < 0.05
    white = image.amin(1) > 0.99
    for region in (skin, dark, white):
        assert region.sum() > 20 and torch.equal(out.permute(0, 2, 3, 1)[region], image.permute(0, 2, 3, 1)[region])


def test_the_face_s_palette_colours_are_found_and_a_face_without_them_has_none():
    images = torch.cat([face("a15332", "fbdbd1"), face("ffbb4d", "603d30"), torch.full((1, 3, 64, 64), 0.3)])
    assert palette_colour(images, PALETTES["hair"]).tolist() == [HAIR.index("a15332"), HAIR.index("ffbb4d"), -1]
    assert palette_colour(images, PALETTES["skin"]).tolist() == [SKIN.index("fbdbd1"), SKIN.index("603d30"), -1]


def test_a_batch_is_recoloured_at_random_reproducibly_and_black_or_white_hair_is_left_alone():
    faces = [("c04a2a", "f0c092"), ("d89a32", "88594b"), ("1e1514", "eeaf94"), ("e0e0e0", "c78b5d")] * 4
    x = torch.cat([face(h, s) for h, s in faces])
    assert torch.equal(recolour_batch(x, np.random.default_rng(0), 0.0), x)
    out = recolour_batch(x, np.random.default_rng(1), 1.0)
    assert torch.equal(out, recolour_batch(x, np.random.default_rng(1), 1.0))
    hair_before, hair_after = palette_colour(x, PALETTES["hair"]), palette_colour(out, PALETTES["hair"])
    skin_before, skin_after = palette_colour(x, PALETTES["skin"]), palette_colour(out, PALETTES["skin"])
    coloured = torch.tensor([h not in ("1e1514", "e0e0e0") for h, _ in faces])
    assert (hair_after[coloured] != hair_before[coloured]).all() and (hair_after[coloured] >= 0).all()
    assert torch.equal(hair_after[~coloured], hair_before[~coloured])
    assert (skin_after != skin_before).all() and (skin_after >= 0).all()
    half = recolour_batch(x, np.random.default_rng(2), 0.5)
    assert 0 < int((palette_colour(half, PALETTES["skin"]) != skin_before).sum()) < len(faces)


def test_a_channels_last_batch_is_recoloured_alike_and_stays_channels_last():
    faces = [("c04a2a", "f0c092"), ("d89a32", "88594b")] * 2
    x = torch.cat([face(h, s) for h, s in faces])
    plain = recolour_batch(x, np.random.default_rng(3), 1.0)
    last = recolour_batch(x.contiguous(memory_format=torch.channels_last), np.random.default_rng(3), 1.0)
    assert last.is_contiguous(memory_format=torch.channels_last) and plain.is_contiguous()
    assert torch.equal(last, plain) and not torch.equal(plain, x)
