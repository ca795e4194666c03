"""Procedural cartoon faces in the Cartoon Set format (the built-in dataset).

``python -m vae.data.synth --out DIR --count N --seed S [--size 500]`` writes ``cs<digits>.png``
(RGBA, transparent background, face centred with a margin) and ``cs<digits>.csv`` with all 18
Cartoon Set attributes. Faces are drawn at 3× in flat colours with dark outlines and
downsampled, which anti-aliases every edge. The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from ..common.atomic import write_error
from ..common.cli_args import SEED_MAX, int_range
from ..common.control import QUIET, Cancelled, Control, TerminalControl
from ..common.interrupts import (
    TERMINATING,
    Terminated,
    ended_by_sigterm,
    handle,
    own_signal_handlers,
    raise_terminated,
    stop_between_chunks,
)
from ..common.parallel import Throttle, ordered_map
from .cartoonset import ATTRIBUTES, NO_FACIAL_HAIR, NO_GLASSES, format_csv

SYNTH_VERSION = 2  # bump when the drawing changes: the built-in dataset is regenerated
SUPERSAMPLE = 3
LINE_SCALE = 1.35  # all outline widths are multiplied by this
CANVAS = 500  # the drawing is laid out in a 500×500 space, like the real set
REGION = (40, 28, 460, 472)  # the part of that space faces are drawn in

OUTLINE = (28, 24, 24)
SKIN = [
    (255, 231, 214),
    (250, 217, 193),
    (244, 202, 170),
    (236, 188, 150),
    (224, 172, 128),
    (212, 156, 110),
    (190, 134, 92),
    (164, 110, 74),
    (138, 90, 60),
    (110, 70, 48),
    (84, 54, 38),
]
HAIR = [
    (38, 32, 30),
    (84, 52, 34),
    (132, 82, 48),
    (168, 78, 42),
    (232, 118, 52),
    (222, 168, 84),
    (246, 214, 140),
    (158, 168, 180),
    (232, 232, 230),
    (120, 140, 168),
]
EYES = [(120, 74, 42), (86, 140, 196), (104, 156, 78), (138, 148, 158), (58, 42, 34)]
GLASSES = [(30, 30, 34), (232, 96, 120), (246, 204, 64), (64, 112, 200), (246, 240, 226), (136, 84, 48), (72, 150, 96)]
DARK_LENS = (40, 34, 44)
DARK_LENS_KINDS = {3, 7, 8, 9}
FACIAL_HAIR_NONE_P = 0.55
FACIAL_HAIR_BENEATH_MOUTH = {0, 7, 8, 13}  # stubble, chin strap, mutton chops, beard without moustache
GLASSES_NONE_P = 0.45


def _shade(color, factor):
    return tuple(max(0, min(255, int(c * factor))) for c in color)


def _mix(a, b, t):
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


class Pen:
    """Draws in the 500×500 layout space onto a supersampled RGBA canvas."""

    def __init__(self):
        x0, y0, x1, y1 = REGION
        # premultiplied RGBa: opaque drawing is the same, and downsampling needs no conversion
        self.image = Image.new("RGBa", ((x1 - x0) * SUPERSAMPLE, (y1 - y0) * SUPERSAMPLE), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def _xy(self, points):
        x0, y0 = REGION[0], REGION[1]
        return [((x - x0) * SUPERSAMPLE, (y - y0) * SUPERSAMPLE) for x, y in points]

    def poly(self, points, fill=None, outline=OUTLINE, width=2.5):
        """Filled polygon with an outline ``width`` layout pixels wide."""
        xy = self._xy(points)
        if fill is not None:
            self.draw.polygon(xy, fill=fill)
        if outline is not None and width > 0:
            self._stroke(xy + xy[:2], outline, width)

    def line(self, points, color=OUTLINE, width=2.5):
        self._stroke(self._xy(points), color, width)

    def _stroke(self, xy, color, width):
        """A thick polyline; round joints only where it turns sharply (cheap, and gap-free)."""
        w = max(1, round(width * LINE_SCALE * SUPERSAMPLE))
        self.draw.line(xy, fill=color, width=w)
        if w < 3:
            return
        r = w / 2
        for (ax, ay), (bx, by), (cx, cy) in zip(xy, xy[1:], xy[2:]):
            ux, uy, vx, vy = bx - ax, by - ay, cx - bx, cy - by
            if ux * vx + uy * vy < 0.94 * math.hypot(ux, uy) * math.hypot(vx, vy):
                self.draw.ellipse((bx - r, by - r, bx + r, by + r), fill=color)

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=OUTLINE, width=2.5, angle=0.0):
        self.poly(ellipse_points(cx, cy, rx, ry, angle), fill, outline, width)

    def dot(self, cx, cy, r, fill):
        ((x, y),) = self._xy([(cx, cy)])
        r *= SUPERSAMPLE
        self.draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)

    def finish(self, size: int) -> Image.Image:
        """The drawing, downsampled and placed on a transparent ``size``×``size`` canvas."""
        small = self.image.reduce(SUPERSAMPLE).convert("RGBA")
        canvas = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
        canvas.paste(small, REGION[:2])
        return canvas if size == CANVAS else canvas.resize((size, size), Image.LANCZOS)


def ellipse_points(cx, cy, rx, ry, angle=0.0, steps=48, start=0.0, end=2 * math.pi):
    ca, sa = math.cos(angle), math.sin(angle)
    pts = []
    for k in range(steps):
        t = start + (end - start) * k / (steps - 1 if end - start < 2 * math.pi else steps)
        x, y = rx * math.cos(t), ry * math.sin(t)
        pts.append((cx + x * ca - y * sa, cy + x * sa + y * ca))
    return pts


def _spow(v, p):
    return math.copysign(abs(v) ** p, v)


def _smooth_curve(points, steps=12):
    """Catmull-Rom spline through ``points`` (open curve)."""
    pts = [points[0]] + list(points) + [points[-1]]
    out = []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(steps):
            t = k / steps
            t2, t3 = t * t, t * t * t
            out.append(
                tuple(
                    0.5
                    * (
                        2 * p1[j]
                        + (-p0[j] + p2[j]) * t
                        + (2 * p0[j] - 5 * p1[j] + 4 * p2[j] - p3[j]) * t2
                        + (-p0[j] + 3 * p1[j] - 3 * p2[j] + p3[j]) * t3
                    )
                    for j in range(2)
                )
            )
    out.append(points[-1])
    return out


# ----------------------------------------------------------------------------- face geometry

# face_shape → (half width, upper exponent, lower exponent, chin taper)
FACE_SHAPES = [
    (96, 2.2, 2.0, 0.18),
    (102, 2.4, 2.5, 0.06),
    (88, 2.2, 1.9, 0.14),
    (98, 2.6, 3.4, 0.08),
    (100, 2.3, 1.6, 0.30),
    (92, 2.0, 2.8, 0.02),
    (94, 1.8, 1.7, 0.16),
]
CHIN = [116, 128, 140]


@dataclass
class Face:
    cx: float
    cy: float
    rx: float
    ry_top: float
    ry_bottom: float
    n_top: float
    n_bottom: float
    taper: float

    def point(self, t: float) -> tuple[float, float]:
        """Outline point at angle ``t`` (0 = right, π/2 = chin, 3π/2 = top)."""
        c, s = math.cos(t), math.sin(t)
        if s < 0:
            x, y = self.rx * _spow(c, 2 / self.n_top), self.ry_top * _spow(s, 2 / self.n_top)
        else:
            x, y = self.rx * _spow(c, 2 / self.n_bottom), self.ry_bottom * _spow(s, 2 / self.n_bottom)
            x *= 1 - self.taper * s * s
        return self.cx + x, self.cy + y

    def outline(self, steps=120):
        return [self.point(2 * math.pi * k / steps) for k in range(steps)]

    @property
    def top(self):
        return self.cy - self.ry_top

    @property
    def chin(self):
        return self.cy + self.ry_bottom


def make_face(attrs) -> Face:
    rx, n_top, n_bottom, taper = FACE_SHAPES[attrs["face_shape"]]
    return Face(250, 268, rx, 120, CHIN[attrs["chin_length"]], n_top, n_bottom, taper)


# ----------------------------------------------------------------------------- hair


@dataclass
class HairStyle:
    """Parameters of one of the 111 hair values: a family plus variations."""

    family: int
    volume: float
    side: int
    length: float
    fringe: float


HAIR_FAMILIES = 25


def hair_style(value: int) -> HairStyle:
    variant = value // HAIR_FAMILIES
    return HairStyle(
        family=value % HAIR_FAMILIES,
        volume=1.0 + 0.12 * (variant % 3),
        side=1 if variant % 2 else -1,
        length=1.0 + 0.18 * variant,
        fringe=(variant * 7 % 5) / 4,
    )


def _cap_outer(face: Face, grow: float, grow_top: float, below: float = 0.0, steps=60, bump=0.0, bumps=0, spikes=0.0):
    """Points over the skull from the left side to the right side, ``grow`` outside the face."""
    a0 = math.pi - below
    a1 = 2 * math.pi + below
    pts = []
    for k in range(steps):
        t = a0 + (a1 - a0) * k / (steps - 1)
        c, s = math.cos(t), math.sin(t)
        up = max(0.0, -s)
        r_extra = grow + (grow_top - grow) * up
        if bumps:
            phase = abs(math.sin(bumps * (t - a0) / 2))
            r_extra += bump * (phase**0.6)
        if spikes:
            r_extra += spikes * (1 if k % 4 == 0 else 0) * up
        x = (face.rx + r_extra) * _spow(c, 2 / face.n_top)
        y = (face.ry_top + r_extra) * _spow(s, 2 / face.n_top) if s < 0 else (face.rx + r_extra) * s * 0.9
        pts.append((face.cx + x, face.cy + y))
    return pts


def _hairline(face: Face, kind: str, style: HairStyle, steps=30):
    """The hair's lower edge across the forehead, from the right side back to the left side."""
    cx, top = face.cx, face.top
    left, right = face.cx - face.rx - 2, face.cx + face.rx + 2
    side_y = face.cy - 12
    pts = []
    for k in range(steps):
        u = k / (steps - 1)
        x = right + (left - right) * u
        d = (x - cx) / face.rx  # -1 … 1
        if kind == "fringe":
            y = top + 56 + 22 * style.fringe - 10 * d * d
            y = max(y, top + 40) if abs(d) < 0.95 else side_y
        elif kind == "side":
            s = style.side
            y = top + 30 + 38 * max(0.0, min(1.0, 0.5 - s * d * 0.8)) ** 1.2
        elif kind == "center":
            y = top + 18 + 46 * abs(d) ** 0.7
        elif kind == "receding":
            y = top + 40 + 10 * math.cos(d * math.pi * 1.5)
        elif kind == "high":
            y = top + 22 + 18 * d * d
        else:  # "swoop": a deep fringe falling to one side
            s = style.side
            y = top + 38 + 42 * max(0.0, min(1.0, 0.5 + s * d * 0.6))
        if abs(d) > 0.82:
            y = max(y, side_y - (1 - abs(d)) * 80)
        pts.append((x, y))
    return pts


def _cap(pen, face, color, style, kind="fringe", grow=8, grow_top=14, bump=0.0, bumps=0, spikes=0.0, below=0.15):
    outer = _cap_outer(face, grow * style.volume, grow_top * style.volume, below, bump=bump, bumps=bumps, spikes=spikes)
    inner = _hairline(face, kind, style)
    pen.poly(outer + inner, fill=color, outline=_shade(color, 0.55), width=2.2)


def _long_back(pen, face, color, style, length, width=34, wave=0.0, curls=0):
    """Hair hanging behind the face down to ``length`` below the eyes."""
    bottom = face.cy + length * style.length
    pts = _cap_outer(face, width * style.volume, 18 * style.volume, 0.0, steps=40)
    left_x, right_x = pts[0][0], pts[-1][0]
    side = []
    n = 14
    for k in range(1, n + 1):
        y = face.cy + (bottom - face.cy) * k / n
        off = wave * math.sin(k * 1.3) + (curls and 6 * abs(math.sin(k * 1.6)))
        side.append((right_x + 6 * k / n + off, y))
    bottom_edge = [(right_x - 20, bottom + 6), (face.cx, bottom - 10), (left_x + 20, bottom + 6)]
    left_side = [
        (
            left_x - 6 * k / n - (wave * math.sin(k * 1.3) + (curls and 6 * abs(math.sin(k * 1.6)))),
            face.cy + (bottom - face.cy) * k / n,
        )
        for k in range(n, 0, -1)
    ]
    pen.poly(pts + side + bottom_edge + left_side, fill=color, outline=_shade(color, 0.55), width=2.2)


def _puff(pen, cx, cy, r, color, lobes=9, depth=0.16):
    pts = []
    for k in range(lobes * 8):
        t = 2 * math.pi * k / (lobes * 8)
        rr = r * (1 + depth * abs(math.sin(lobes * t / 2)) ** 0.5)
        pts.append((cx + rr * math.cos(t), cy + rr * math.sin(t)))
    pen.poly(pts, fill=color, outline=_shade(color, 0.55), width=2.2)


def _braid(pen, x, y0, segments, color, lean=0.0):
    for k in range(segments):
        pen.ellipse(x + lean * k, y0 + k * 22, 13, 14, fill=color, outline=_shade(color, 0.55), width=2)


def _curl_marks(pen, face, color, n=3):
    c = _shade(color, 1.35) if sum(color) < 400 else _shade(color, 0.8)
    for k in range(n):
        x = face.cx - 20 + 18 * k
        y = face.top - 2 + 4 * (k % 2)
        pen.line(ellipse_points(x, y, 7, 5, steps=14, start=0.5, end=5.6), color=c, width=1.6)


def draw_hair_back(pen, face, style: HairStyle, color):
    f = style.family
    if f == 7:  # afro
        _puff(pen, face.cx, face.cy - 40, (face.rx + 58) * style.volume**0.5, color, lobes=16, depth=0.10)
    elif f == 8:  # bob
        _long_back(pen, face, color, style, 70, width=30)
    elif f == 9:  # long straight
        _long_back(pen, face, color, style, 150, width=30)
    elif f == 10:  # long wavy
        _long_back(pen, face, color, style, 130, width=34, wave=7)
    elif f == 11:  # top bun
        _puff(pen, face.cx, face.top - 30 * style.volume, 34 * style.volume, color, lobes=7, depth=0.08)
    elif f == 12:  # two buns
        for s in (-1, 1):
            _puff(pen, face.cx + s * 78, face.top + 6, 32 * style.volume, color, lobes=7, depth=0.1)
    elif f == 13:  # pigtails
        for s in (-1, 1):
            _puff(pen, face.cx + s * (face.rx + 36), face.cy + 10 * style.length, 32, color, lobes=8)
    elif f == 14:  # braids
        for s in (-1, 1):
            _braid(pen, face.cx + s * (face.rx + 14), face.cy - 20, 5 + round(style.length), color, lean=s * 2)
    elif f == 15:  # ponytail
        s = style.side
        pts = _smooth_curve(
            [
                (face.cx + s * 60, face.top + 10),
                (face.cx + s * 150, face.top + 40),
                (face.cx + s * 160, face.cy + 60 * style.length),
                (face.cx + s * 130, face.cy + 110 * style.length),
                (face.cx + s * 118, face.cy + 40),
                (face.cx + s * 90, face.top + 60),
            ],
            steps=8,
        )
        pen.poly(pts, fill=color, outline=_shade(color, 0.55), width=2.2)
    elif f == 20:  # shoulder length, centre part
        _long_back(pen, face, color, style, 105, width=26)
    elif f == 24:  # long curly
        _long_back(pen, face, color, style, 125, width=44, curls=1)
        for k in range(6):
            for s in (-1, 1):
                _puff(pen, face.cx + s * (face.rx + 30), face.cy - 40 + 30 * k, 18, color, lobes=5)


def draw_hair_front(pen, face, style: HairStyle, color):
    f = style.family
    if f == 0:  # bald: a little shine
        pen.line(
            ellipse_points(face.cx - 30, face.top + 30, 26, 14, steps=12, start=3.6, end=4.6), color=color, width=0
        )
        return
    if f == 1:  # buzz cut
        _cap(pen, face, color, style, "high", grow=2, grow_top=4)
    elif f == 2:  # short crop
        _cap(pen, face, color, style, "fringe", grow=6, grow_top=16)
    elif f == 3:  # side part
        _cap(pen, face, color, style, "side", grow=8, grow_top=20)
        x = face.cx + style.side * 38
        pen.line([(x, face.top - 8), (x - style.side * 6, face.top + 26)], color=_shade(color, 0.55), width=2)
    elif f == 4:  # quiff
        _cap(pen, face, color, style, "high", grow=6, grow_top=14)
        pts = _smooth_curve(
            [
                (face.cx - 60, face.top + 12),
                (face.cx - 40, face.top - 40 * style.volume),
                (face.cx + 30, face.top - 52 * style.volume),
                (face.cx + 70, face.top - 20),
                (face.cx + 50, face.top + 14),
            ],
            steps=8,
        )
        pen.poly(pts, fill=color, outline=_shade(color, 0.55), width=2.2)
    elif f == 5:  # spiky
        _cap(pen, face, color, style, "fringe", grow=8, grow_top=18, spikes=22 * style.volume)
    elif f == 6:  # short curls
        _cap(pen, face, color, style, "high", grow=10, grow_top=18, bump=12, bumps=18)
        _curl_marks(pen, face, color)
    elif f == 7:  # afro front
        _cap(pen, face, color, style, "high", grow=10, grow_top=18, bump=10, bumps=16)
        _curl_marks(pen, face, color)
    elif f in (8, 19):  # bob / bowl: straight fringe
        _cap(pen, face, color, style, "fringe", grow=14 if f == 8 else 10, grow_top=20, below=0.35 if f == 8 else 0.2)
    elif f in (9, 20):  # long straight / centre part
        _cap(pen, face, color, style, "center", grow=12, grow_top=16, below=0.3)
    elif f == 10:
        _cap(pen, face, color, style, "side", grow=14, grow_top=18, below=0.3)
    elif f in (11, 12, 15):  # pulled back
        _cap(pen, face, color, style, "high", grow=5, grow_top=10)
    elif f in (13, 14):
        _cap(pen, face, color, style, "center", grow=6, grow_top=10)
    elif f == 16:  # mohawk
        pts = _smooth_curve(
            [
                (face.cx - 16, face.top + 30),
                (face.cx - 20, face.top - 30 * style.volume),
                (face.cx, face.top - 56 * style.volume),
                (face.cx + 20, face.top - 30 * style.volume),
                (face.cx + 16, face.top + 30),
            ],
            steps=8,
        )
        pen.poly(pts, fill=color, outline=_shade(color, 0.55), width=2.2)
    elif f == 17:  # long swept fringe
        _cap(pen, face, color, style, "swoop", grow=10, grow_top=18, below=0.25)
    elif f == 18:  # receding
        for s in (-1, 1):
            x_out = face.cx + s * (face.rx + 8)
            pts = _smooth_curve(
                [
                    (x_out - s * 4, face.cy + 10),
                    (x_out, face.cy - 50),
                    (x_out - s * 18, face.top + 30),
                    (x_out - s * 26, face.cy - 40),
                    (x_out - s * 12, face.cy + 10),
                ],
                steps=6,
            )
            pen.poly(pts, fill=color, outline=_shade(color, 0.55), width=2.2)
    elif f == 21:  # pixie
        _cap(pen, face, color, style, "swoop", grow=6, grow_top=14, spikes=8)
    elif f == 22:  # flat top
        _cap(pen, face, color, style, "high", grow=6, grow_top=10)
        w = face.rx * 0.8
        pen.poly(
            [
                (face.cx - w, face.top + 10),
                (face.cx - w, face.top - 36 * style.volume),
                (face.cx + w, face.top - 36 * style.volume),
                (face.cx + w, face.top + 10),
            ],
            fill=color,
            outline=_shade(color, 0.55),
            width=2.2,
        )
    elif f == 23:  # undercut, long top swept to one side
        _cap(pen, face, _shade(color, 0.8), style, "high", grow=2, grow_top=4)
        s = style.side
        pts = _smooth_curve(
            [
                (face.cx - s * 70, face.top + 30),
                (face.cx - s * 40, face.top - 28 * style.volume),
                (face.cx + s * 60, face.top - 24 * style.volume),
                (face.cx + s * 118, face.top + 50),
                (face.cx + s * 40, face.top + 34),
            ],
            steps=8,
        )
        pen.poly(pts, fill=color, outline=_shade(color, 0.55), width=2.2)
    elif f == 24:
        _cap(pen, face, color, style, "center", grow=16, grow_top=20, bump=8, bumps=14, below=0.3)


# ----------------------------------------------------------------------------- features

EYE_X = 39
EYE_Y_OFFSET = 0  # relative to face.cy


def draw_ears(pen, face, skin):
    for s in (-1, 1):
        x = face.cx + s * (face.rx * (1 - 0.02) - 2)
        pen.ellipse(x + s * 6, face.cy + 4, 15, 24, fill=skin, width=2.4)
        pen.line(
            ellipse_points(
                x + s * 6, face.cy + 4, 7, 13, steps=10, start=(-1.2 if s > 0 else 1.9), end=(1.2 if s > 0 else 4.4)
            ),
            color=_shade(skin, 0.7),
            width=1.8,
        )


def draw_eyes(pen, face, attrs, skin):
    angle = (-0.16, 0.0, 0.16)[attrs["eye_angle"]]
    height = (12.0, 14.0, 16.0)[attrs["eye_slant"]]
    width = 21.0
    iris = EYES[attrs["eye_color"]]
    y = face.cy + EYE_Y_OFFSET
    for s in (-1, 1):
        x = face.cx + s * EYE_X
        a = angle * s
        pen.ellipse(x, y, width, height, fill=(255, 255, 255), width=2.2, angle=a)
        r = min(height - 1.5, 10.5)
        pen.dot(x, y + 0.5, r, iris)
        pen.dot(x, y + 0.5, r * 0.5, (20, 16, 16))
        pen.dot(x + 3, y - 3, 2.2, (255, 255, 255))
        if attrs["eye_lid"]:
            lid = ellipse_points(x, y, width + 1.5, height + 1.5, a, steps=20, start=math.pi, end=2 * math.pi)
            cut = ellipse_points(x, y - height * 0.35, width + 1.5, height * 0.35, a, steps=20, start=0, end=math.pi)
            pen.poly(lid + cut, fill=skin, outline=None)
            pen.line(cut[::-1], width=2.0)
            pen.line(lid, width=2.2)
        if attrs["eye_lashes"]:
            for k in range(3):
                t = 3 * math.pi / 2 + s * (0.5 + 0.32 * k)
                px, py = (
                    x + width * math.cos(t) * math.cos(a) - height * math.sin(t) * math.sin(a),
                    y + width * math.cos(t) * math.sin(a) + height * math.sin(t) * math.cos(a),
                )
                pen.line([(px, py), (px + s * 5 + s * 2 * k, py - 7 + k)], width=2.0)


def draw_eyebrows(pen, face, attrs, color):
    shape = attrs["eyebrow_shape"]
    thickness = (2.4, 4.0, 5.6, 7.4)[attrs["eyebrow_thickness"]]
    half = (15, 19, 23)[attrs["eyebrow_width"]]
    gap = (22, 27, 33)[attrs["eye_eyebrow_distance"]]
    heavy = attrs["eyebrow_weight"] == 1
    arch = (0, 3, 6, 9)[shape % 4]
    tilt = (-6, 0, 6, -3, 3)[shape % 5] / 1.0
    kink = shape >= 10
    y0 = face.cy + EYE_Y_OFFSET - gap
    for s in (-1, 1):
        x0 = face.cx + s * EYE_X
        pts = []
        n = 9
        for k in range(n):
            u = k / (n - 1) * 2 - 1  # inner (-1) … outer (+1)
            bump = -arch * (1 - u * u) if not kink else -arch * (1 - abs(u - 0.3)) - 3
            pts.append((x0 + s * u * half, y0 + bump + tilt * u * 0.5 * (1 if shape % 2 else -1)))
        top, bottom = [], []
        for k, (px, py) in enumerate(pts):
            u = k / (n - 1)
            w = thickness * ((1.9 - 0.9 * u) if heavy else (0.7 + 0.4 * math.sin(math.pi * u)))
            top.append((px, py - w / 2))
            bottom.append((px, py + w / 2))
        pen.poly(top + bottom[::-1], fill=color, outline=_shade(color, 0.6), width=1.0)


def draw_nose(pen, face, skin):
    y = face.cy + 34
    pen.line(
        _smooth_curve(
            [(face.cx - 4, y - 12), (face.cx - 9, y + 4), (face.cx - 2, y + 9), (face.cx + 7, y + 5)], steps=6
        ),
        color=_shade(skin, 0.55),
        width=2.4,
    )


def draw_mouth(pen, face):
    y = face.cy + 62
    w = 24
    upper = _smooth_curve([(face.cx - w, y - 4), (face.cx, y + 2), (face.cx + w, y - 4)], steps=10)
    lower = _smooth_curve(
        [(face.cx + w, y - 4), (face.cx + 8, y + 14), (face.cx - 8, y + 14), (face.cx - w, y - 4)], steps=8
    )
    pen.poly(upper + lower, fill=(255, 255, 255), width=2.4)
    pen.line([(face.cx - w - 4, y - 7), (face.cx - w + 2, y - 3)], width=2.0)
    pen.line([(face.cx + w + 4, y - 7), (face.cx + w - 2, y - 3)], width=2.0)


def draw_facial_hair(pen, face, kind, color, skin):
    if kind == NO_FACIAL_HAIR:
        return
    edge = _shade(color, 0.55)
    mouth_y = face.cy + 62
    chin = face.chin
    cx = face.cx

    def jaw(t0, t1, steps=24, grow=0.0):
        pts = []
        for k in range(steps):
            t = t0 + (t1 - t0) * k / (steps - 1)
            x, y = face.point(t)
            pts.append((cx + (x - cx) * (1 + grow), face.cy + (y - face.cy) * (1 + grow)))
        return pts

    def moustache(width, droop, thick):
        pts = _smooth_curve(
            [
                (cx - width, mouth_y - 4 + droop),
                (cx - width * 0.5, mouth_y - 16),
                (cx, mouth_y - 12),
                (cx + width * 0.5, mouth_y - 16),
                (cx + width, mouth_y - 4 + droop),
            ],
            steps=6,
        )
        under = _smooth_curve(
            [
                (cx + width, mouth_y - 4 + droop),
                (cx + width * 0.4, mouth_y - 12 + thick * 0.3),
                (cx, mouth_y - 8),
                (cx - width * 0.4, mouth_y - 12 + thick * 0.3),
                (cx - width, mouth_y - 4 + droop),
            ],
            steps=6,
        )
        pen.poly(pts + under, fill=color, outline=edge, width=1.6)

    def goatee(width, depth):
        pts = _smooth_curve(
            [
                (cx - width, mouth_y + 16),
                (cx, mouth_y + 12),
                (cx + width, mouth_y + 16),
                (cx + width * 0.6, chin + depth * 0.6),
                (cx, chin + depth),
                (cx - width * 0.6, chin + depth * 0.6),
            ],
            steps=6,
        )
        pen.poly(pts, fill=color, outline=edge, width=1.6)

    def beard(grow, length, with_mouth_hole=True):
        outer = jaw(0.05, math.pi - 0.05, grow=grow)
        outer = [(x, y + length * max(0.0, (y - face.cy) / face.ry_bottom) ** 2) for x, y in outer]
        inner = _smooth_curve(
            [
                (face.point(math.pi - 0.2)[0] + 4, face.cy + 6),
                (cx - 30, mouth_y - 18),
                (cx, mouth_y - 14),
                (cx + 30, mouth_y - 18),
                (face.point(0.2)[0] - 4, face.cy + 6),
            ],
            steps=6,
        )
        pen.poly(outer + inner, fill=color, outline=edge, width=1.8)
        if with_mouth_hole:
            pen.ellipse(cx, mouth_y + 4, 30, 14, fill=skin, outline=None)

    if kind == 0:  # stubble
        stubble = _mix(skin, color, 0.35)
        outer = jaw(0.1, math.pi - 0.1)
        inner = [(cx - 40, face.cy + 40), (cx, face.cy + 44), (cx + 40, face.cy + 40)][::-1]
        pen.poly(outer + inner, fill=stubble, outline=None)
    elif kind == 1:
        moustache(22, 0, 6)
    elif kind == 2:  # handlebar
        moustache(26, -8, 6)
        for s in (-1, 1):
            pen.line(
                ellipse_points(
                    cx + s * 30,
                    mouth_y - 12,
                    5,
                    5,
                    steps=10,
                    start=0 if s > 0 else math.pi,
                    end=math.pi if s > 0 else 2 * math.pi,
                ),
                color=color,
                width=3,
            )
    elif kind == 3:
        goatee(14, 6)
    elif kind == 4:  # circle beard
        moustache(24, 4, 7)
        goatee(20, 6)
        for s in (-1, 1):
            pen.poly(
                [
                    (cx + s * 22, mouth_y - 2),
                    (cx + s * 27, mouth_y - 2),
                    (cx + s * 21, mouth_y + 18),
                    (cx + s * 16, mouth_y + 18),
                ],
                fill=color,
                outline=None,
            )
    elif kind == 5:
        beard(0.03, 0)
        moustache(26, 4, 7)
    elif kind == 6:
        beard(0.05, 40)
        moustache(28, 6, 8)
    elif kind == 7:  # chin strap
        outer = jaw(0.02, math.pi - 0.02, grow=0.02)
        inner = jaw(math.pi - 0.1, 0.1, grow=-0.08)
        pen.poly(outer + inner, fill=color, outline=edge, width=1.4)
    elif kind == 8:  # mutton chops
        for s in (1, -1):
            t0, t1 = (0.0, 0.8) if s > 0 else (math.pi - 0.8, math.pi)
            outer = jaw(t0, t1, steps=10, grow=0.02)
            pen.poly(
                outer + [(cx + s * 34, mouth_y - 6), (cx + s * 58, face.cy - 10)], fill=color, outline=edge, width=1.6
            )
    elif kind == 9:  # soul patch
        pen.poly(
            [(cx - 6, mouth_y + 19), (cx + 6, mouth_y + 19), (cx, mouth_y + 31)], fill=color, outline=edge, width=1.2
        )
    elif kind == 10:  # pointed beard
        goatee(22, 24)
        moustache(20, 2, 6)
    elif kind == 11:  # walrus
        moustache(30, 10, 12)
    elif kind == 12:  # chin puff
        _puff(pen, cx, chin + 2, 14, color, lobes=6, depth=0.12)
    elif kind == 13:  # beard without moustache
        beard(0.03, 10)


def _heart_points(cx, cy, r):
    pts = []
    for k in range(40):
        t = 2 * math.pi * k / 40
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((cx + x * r / 17, cy + y * r / 17 + r * 0.1))
    return pts


def _rounded_rect(cx, cy, w, h, r, steps=6):
    pts = []
    corners = [
        (cx + w - r, cy - h + r, -math.pi / 2),
        (cx + w - r, cy + h - r, 0.0),
        (cx - w + r, cy + h - r, math.pi / 2),
        (cx - w + r, cy - h + r, math.pi),
    ]
    for x, y, a in corners:
        for k in range(steps):
            t = a + (math.pi / 2) * k / (steps - 1)
            pts.append((x + r * math.cos(t), y + r * math.sin(t)))
    return pts


def _cat_eye(cx, cy, w, h, s):
    pts = _smooth_curve(
        [
            (cx - s * w, cy - h * 0.4),
            (cx, cy - h * 0.9),
            (cx + s * w * 1.25, cy - h * 1.25),
            (cx + s * w * 0.95, cy + h * 0.3),
            (cx, cy + h),
            (cx - s * w, cy + h * 0.3),
            (cx - s * w, cy - h * 0.4),
        ],
        steps=6,
    )
    return pts


def draw_glasses(pen, face, kind, color, skin):
    if kind == NO_GLASSES:
        return
    y = face.cy + EYE_Y_OFFSET
    dark = kind in DARK_LENS_KINDS
    lens_fill = DARK_LENS if dark else None
    frame_w = 3.6 if kind not in (5, 10) else 2.4
    lenses = []
    for s in (-1, 1):
        x = face.cx + s * EYE_X
        if kind in (0, 7):
            pts = ellipse_points(x, y, 24 if kind == 7 else 22, 24 if kind == 7 else 21)
        elif kind == 1:
            pts = _rounded_rect(x, y, 24, 19, 4)
        elif kind in (2, 8):
            pts = _cat_eye(x, y, 22, 18, s)
        elif kind == 3:
            pts = _heart_points(x, y, 22)
        elif kind == 4:
            pts = _smooth_curve(
                [
                    (x - 24, y - 16),
                    (x + 24, y - 16),
                    (x + 22 * 1.0, y + 6),
                    (x + s * 6, y + 22),
                    (x - s * 10, y + 16),
                    (x - 24, y - 16),
                ],
                steps=6,
            )
        elif kind == 5:
            pts = _rounded_rect(x, y + 2, 25, 13, 3)
        elif kind == 6:
            pts = ellipse_points(x, y + 1, 25, 17)
        elif kind == 9:
            pts = _rounded_rect(x, y, 26, 16, 6)
        else:  # 10: browline
            pts = _rounded_rect(x, y + 1, 24, 17, 7)
        lenses.append(pts)
    for s, pts in zip((-1, 1), lenses):
        xs = [p[0] for p in pts]
        outer_x = max(xs) if s > 0 else min(xs)
        pen.line([(outer_x, y - 6), (face.cx + s * (face.rx + 6), y - 10)], color=color, width=3)
    for pts in lenses:
        if kind == 10:
            pen.poly(pts, fill=lens_fill, outline=_shade(color, 0.7), width=1.4)
            top = [p for p in pts if p[1] < y - 4]
            pen.line(sorted(top), color=color, width=6)
        else:
            pen.poly(pts, fill=lens_fill, outline=color, width=frame_w)
        if dark:
            cx = sum(p[0] for p in pts) / len(pts)
            pen.line([(cx + 4, y - 10), (cx + 12, y - 3)], color=(120, 120, 140), width=2.2)
    inner_l = max(p[0] for p in lenses[0])
    inner_r = min(p[0] for p in lenses[1])
    pen.line(
        _smooth_curve([(inner_l - 1, y - 6), (face.cx, y - 10), (inner_r + 1, y - 6)], steps=5), color=color, width=3
    )


# ----------------------------------------------------------------------------- one face


def random_attributes(rng: random.Random) -> dict[str, int]:
    """One face's attributes; glasses and facial hair are absent about half the time."""
    attrs = {name: rng.randrange(variants) for name, variants in ATTRIBUTES}
    if rng.random() < GLASSES_NONE_P:
        attrs["glasses"] = NO_GLASSES
    else:
        attrs["glasses"] = rng.randrange(NO_GLASSES)
    if rng.random() < FACIAL_HAIR_NONE_P:
        attrs["facial_hair"] = NO_FACIAL_HAIR
    else:
        attrs["facial_hair"] = rng.randrange(NO_FACIAL_HAIR)
    return attrs


def render_face(attrs: dict[str, int], size: int = CANVAS) -> Image.Image:
    """Draw one face with the given attributes: a ``size``×``size`` RGBA image."""
    pen = Pen()
    face = make_face(attrs)
    skin = SKIN[attrs["face_color"]]
    hair = HAIR[attrs["hair_color"]]
    style = hair_style(attrs["hair"])
    draw_hair_back(pen, face, style, hair)
    draw_ears(pen, face, skin)
    pen.poly(face.outline(), fill=skin, width=2.8)
    beneath_mouth = attrs["facial_hair"] in FACIAL_HAIR_BENEATH_MOUTH
    if beneath_mouth:
        draw_facial_hair(pen, face, attrs["facial_hair"], hair, skin)
    draw_nose(pen, face, skin)
    draw_mouth(pen, face)
    if not beneath_mouth:
        draw_facial_hair(pen, face, attrs["facial_hair"], hair, skin)
    draw_eyes(pen, face, attrs, skin)
    draw_eyebrows(pen, face, attrs, hair)
    draw_hair_front(pen, face, style, hair)
    draw_glasses(pen, face, attrs["glasses"], GLASSES[attrs["glasses_color"]], skin)
    return pen.finish(size)


def face_name(seed: int, index: int, attrs: dict[str, int]) -> str:
    """``cs<digits>``: a long number hashed from the seed, index and attributes (not fixed width)."""
    key = f"{seed}:{index}:" + ",".join(str(attrs[n]) for n, _ in ATTRIBUTES)
    return "cs" + str(int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big"))


def face_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"face-explorer:{seed}:{index}")


def _write_one(args) -> str:
    out, seed, index, size = args
    attrs = random_attributes(face_rng(seed, index))
    name = face_name(seed, index, attrs)
    image = render_face(attrs, size)
    # each file appears whole or not at all: a stopped worker leaves only a ".~" temporary behind
    image.save(out / f".~{name}.png", format="PNG", compress_level=1)
    os.replace(out / f".~{name}.png", out / f"{name}.png")
    (out / f".~{name}.csv").write_text(format_csv(attrs))
    os.replace(out / f".~{name}.csv", out / f"{name}.csv")
    return name


def remove_partial_files(out: str | os.PathLike) -> None:
    """Remove the temporaries a stopped :func:`generate` may leave in ``out``."""
    for leftover in Path(out).glob(".~*"):
        leftover.unlink(missing_ok=True)


def generate(
    out: str | os.PathLike,
    count: int,
    seed: int = 0,
    size: int = CANVAS,
    workers: int | None = None,
    control: Control = QUIET,
) -> list[str]:
    """Write ``count`` faces into ``out`` using all cores; returns the file stems in index order.

    Raises :class:`~vae.common.control.Cancelled` soon after ``control.should_stop()`` turns true;
    ``control.progress(done, total, "generating faces")`` is called as faces are written. However it
    ends, no worker is left running and no partly written file is left in ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(out, seed, i, size) for i in range(count)]
    workers = workers or os.cpu_count() or 1
    results = ordered_map(_write_one, jobs, workers if count >= 8 else 1, chunk=4, should_stop=control.should_stop)
    report = Throttle(control, count, "generating faces")
    names = []
    try:
        for name in results:
            names.append(name)
            report(len(names))
    except BaseException:
        try:
            results.close()
        finally:  # a second Ctrl-C while the workers wind down still removes the temporaries
            remove_partial_files(out)
        raise
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.data.synth", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write cs<digits>.png/.csv pairs into")
    parser.add_argument("--count", type=int_range(1, 10_000_000), default=1000, help="number of faces (default 1000)")
    parser.add_argument(
        "--seed", type=int_range(0, SEED_MAX), default=0, help="random seed; the same seed gives the same files"
    )
    parser.add_argument(
        "--size", type=int_range(32, 4096), default=CANVAS, help="image side in pixels (default 500, as the real set)"
    )
    parser.add_argument("--workers", type=int_range(1, 256), default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    with own_signal_handlers():
        handle(TERMINATING, raise_terminated)
        return _write(args)


def _write(args: argparse.Namespace) -> int:
    interrupt = None
    try:
        with (
            stop_between_chunks(lambda signum: print("stopping (Ctrl-C again to abort)", file=sys.stderr)) as interrupt,
            TerminalControl(lambda: interrupt.requested) as control,
        ):
            generate(args.out, args.count, args.seed, args.size, args.workers, control=control)
    except (KeyboardInterrupt, Terminated, Cancelled) as exc:
        print(f"interrupted: the faces written so far are in {args.out}", file=sys.stderr)
        return 143 if ended_by_sigterm(exc, interrupt) else 130
    except OSError as exc:
        print(f"error: {write_error(args.out, exc, args.count * args.size * args.size)}", file=sys.stderr)
        return 2
    print(f"wrote {args.count} faces to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
