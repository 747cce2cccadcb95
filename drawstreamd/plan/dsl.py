"""Canvas-DSL v1: the drawing program a planner (LLM or the builtin library) writes.

A plan is ``{"v":1,"seed":7,"bg":"dark_blue","steps":[...]}``; every step is one shape with
its own colour ``c``, animation ``a``, duration ``ms`` and delay ``d``, so a renderer can draw
a step the moment it has been parsed out of a token stream.

Why these choices (the writer is a 14B model emitting one token at a time):

* **Coordinates are integer canvas pixels**, origin top-left, ``x`` right, ``y`` down (0..95
  on the default 96x96 canvas). The canvas itself is already the coarse grid that SketchAgent
  found models handle well: ~1 % of the picture per unit, no fractions, no scaling to get
  wrong, and every value a short token. Values outside the canvas are accepted and clipped
  while drawing (a model that overshoots loses the overshoot, not the step); only values
  beyond +-1024 are rejected as nonsense.
* **Semantic shapes plus symmetry**, as pixelsrc does for sprites: circles, ellipses, rects,
  polygons and lines cover most subjects in a few numbers each, and a ``group`` with a mirror
  (``"m":"x"``) draws the left half once and gets the right half for free.
* **Compact keys** (``x y w h r rx ry p c f a ms d t s``) and defaults for everything
  optional: a typical step is ~15 tokens. Points are ``[x,y]`` pairs, which models write
  reliably (flat lists lose their pairing).
* **Salvage over rejection**: :func:`validate` drops only the broken steps, each with a
  reason, rounds stray floats, clamps durations, and normalises colour spellings.
* ``v`` versions the format so a v2 can arrive without breaking stored plans.
* **Composition**: a ``use`` step draws a library subject (a whole plan of its own) into a
  box, optionally mirrored and recoloured, so "a cat in a crown" costs two short steps.
  Validation expands it into the subject's own steps, transformed (:func:`expand`): the
  renderer, the journal and the gallery only ever see ordinary steps, a stored plan keeps its
  picture when the library changes, and ``use`` draws exactly what the spelled-out shapes draw.

This module imports nothing else of drawstreamd at import time (it is reused by the planner,
the renderer, the API and a future browser overlay); only when a caller passes no subjects of
its own does ``use`` read the builtin library, :mod:`drawstreamd.plan.library`, lazily.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, Protocol

import msgspec
from msgspec import Meta

VERSION: Final = 1


class LIMITS:
    """Hard limits enforced by validation (and by the timeline for streamed steps)."""

    STEPS: Final = 200
    POINTS: Final = 256
    GROUP_CHILDREN: Final = 32
    TEXT_CHARS: Final = 120
    COORD: Final = 1024
    LINE_WIDTH: Final = 16
    TEXT_SCALE: Final = 4
    STEP_MS: Final = 10_000
    DELAY_MS: Final = 5_000
    TOTAL_MS: Final = 60_000
    SEED: Final = 2**31 - 1
    USE_SIZE: Final = 384
    """Largest box a ``use`` step may draw a subject into (4x its designed size)."""


SUBJECT_SIZE: Final = 96
"""Library subjects are drawn on a 96x96 canvas; ``use`` scales that square into its box."""

PALETTE: Final[dict[str, tuple[int, int, int]]] = {
    "black": (0x00, 0x00, 0x00),
    "dark_blue": (0x1D, 0x2B, 0x53),
    "dark_purple": (0x7E, 0x25, 0x53),
    "dark_green": (0x00, 0x87, 0x51),
    "brown": (0xAB, 0x52, 0x36),
    "dark_grey": (0x5F, 0x57, 0x4F),
    "light_grey": (0xC2, 0xC3, 0xC7),
    "white": (0xFF, 0xF1, 0xE8),
    "red": (0xFF, 0x00, 0x4D),
    "orange": (0xFF, 0xA3, 0x00),
    "yellow": (0xFF, 0xEC, 0x27),
    "green": (0x00, 0xE4, 0x36),
    "blue": (0x29, 0xAD, 0xFF),
    "lavender": (0x83, 0x76, 0x9C),
    "pink": (0xFF, 0x77, 0xA8),
    "peach": (0xFF, 0xCC, 0xAA),
}
"""The 16 named colours (PICO-8's palette); the prompt lists these names."""

DEFAULT_BG: Final = "white"

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Common colour words mapped onto the palette (keys without "_"; "gray" is read as "grey").
_ALIASES: Final = {
    "grey": "light_grey", "silver": "light_grey", "darkgrey": "dark_grey",
    "lightgrey": "light_grey", "purple": "dark_purple", "violet": "lavender",
    "magenta": "pink", "fuchsia": "pink", "cyan": "blue", "lightblue": "blue",
    "skyblue": "blue", "sky": "blue", "navy": "dark_blue", "darkgreen": "dark_green",
    "lime": "green", "lightgreen": "green", "teal": "dark_green", "gold": "yellow",
    "beige": "peach", "skin": "peach", "tan": "peach", "darkbrown": "brown",
    "maroon": "dark_purple", "crimson": "red", "darkred": "dark_purple",
}  # fmt: skip
ANIMATIONS: Final = ("stroke", "fill", "pixel_reveal", "instant")

Coord = Annotated[int, Meta(ge=-LIMITS.COORD, le=LIMITS.COORD)]
Size = Annotated[int, Meta(ge=0, le=2 * LIMITS.COORD)]
Point = tuple[Coord, Coord]
Points = Annotated[list[Point], Meta(min_length=1, max_length=LIMITS.POINTS)]
Ms = Annotated[int, Meta(ge=0, le=LIMITS.STEP_MS)]
Delay = Annotated[int, Meta(ge=0, le=LIMITS.DELAY_MS)]
Anim = Literal["stroke", "fill", "pixel_reveal", "instant"]
Color = str


class StepError(ValueError):
    """One step is invalid; the message is the reason (operator-facing)."""


def parse_color(value: str) -> tuple[int, int, int]:
    """``#rgb`` / ``#rrggbb`` / a palette name (tolerant of case, ``-``/space, grey/gray and
    common colour words such as purple or gold, mapped to the nearest palette name)."""
    if _HEX.fullmatch(value):
        h = value[1:]
        if len(h) == 3:
            h = "".join(ch * 2 for ch in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    name = _color_name(value)
    if name in PALETTE:
        return PALETTE[name]
    raise StepError(f"unknown colour {value!r} (use #rgb, #rrggbb or one of the 16 names)")


def _color_name(value: str) -> str:
    name = value.strip().lower().replace("-", "_").replace(" ", "_").replace("gray", "grey")
    if name in PALETTE:
        return name
    return _ALIASES.get(name.replace("_", ""), name)


def normalize_color(value: str) -> str:
    """The canonical spelling of a valid colour: palette name or lowercase ``#rrggbb``."""
    if _HEX.fullmatch(value):
        return "#{:02x}{:02x}{:02x}".format(*parse_color(value))
    name = _color_name(value)
    if name not in PALETTE:
        parse_color(value)  # raises with the reason
    return name


# Every step struct lists its fields explicitly so the JSON property order is: op, geometry,
# colour, then the optional animation fields -- what a streaming model should write first.
class Rect(msgspec.Struct, tag="rect", tag_field="op", omit_defaults=True):
    """Rectangle: top-left (x, y), size w x h; filled unless ``f`` is false (1-px outline)."""

    x: Coord
    y: Coord
    w: Size
    h: Size
    c: Color
    f: bool = True
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Circle(msgspec.Struct, tag="circle", tag_field="op", omit_defaults=True):
    """Circle: centre (x, y), radius r; filled unless ``f`` is false."""

    x: Coord
    y: Coord
    r: Size
    c: Color
    f: bool = True
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Ellipse(msgspec.Struct, tag="ellipse", tag_field="op", omit_defaults=True):
    """Ellipse: centre (x, y), radii rx (across) and ry (down); filled unless ``f`` is false."""

    x: Coord
    y: Coord
    rx: Size
    ry: Size
    c: Color
    f: bool = True
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Line(msgspec.Struct, tag="line", tag_field="op", omit_defaults=True):
    """Line through the points ``p`` (a list of [x,y]; one point: a dot), ``w`` pixels wide."""

    p: Points
    c: Color
    w: Annotated[int, Meta(ge=1, le=LIMITS.LINE_WIDTH)] = 1
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Polygon(msgspec.Struct, tag="polygon", tag_field="op", omit_defaults=True):
    """Closed polygon through the points ``p`` (3 or more [x,y]); filled unless ``f`` is false."""

    p: Annotated[list[Point], Meta(min_length=3, max_length=LIMITS.POINTS)]
    c: Color
    f: bool = True
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Pixels(msgspec.Struct, tag="pixels", tag_field="op", omit_defaults=True):
    """Single pixels at the points ``p`` (a list of [x,y]), all in colour ``c``."""

    p: Points
    c: Color
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Fill(msgspec.Struct, tag="fill", tag_field="op", omit_defaults=True):
    """Flood fill from (x, y): repaints the same-coloured area drawn so far around that point."""

    x: Coord
    y: Coord
    c: Color
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


class Text(msgspec.Struct, tag="text", tag_field="op", omit_defaults=True):
    """Text in the built-in pixel font (Latin, Cyrillic, digits; letters drawn as capitals).

    ``s`` scales the 7-px-high font; ``w`` wraps at that width (default: as wide as fits on
    the canvas from x, or around x when centred);
    ``al``: ``left`` (x, y is the top-left), ``center`` (x is each line's centre), ``middle``
    (the whole block is centred on x, y).
    """

    x: Coord
    y: Coord
    t: Annotated[str, Meta(min_length=1, max_length=LIMITS.TEXT_CHARS)]
    c: Color
    s: Annotated[int, Meta(ge=1, le=LIMITS.TEXT_SCALE)] = 1
    w: Annotated[int, Meta(ge=1, le=2 * LIMITS.COORD)] | None = None
    al: Literal["left", "center", "middle"] = "left"
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


Shape = Rect | Circle | Ellipse | Line | Polygon | Pixels | Fill | Text


class Group(msgspec.Struct, tag="group", tag_field="op", omit_defaults=True):
    """Shapes ``s`` (a list of steps, not groups) drawn as one step, optionally mirrored.

    ``m``: ``x`` (left-right), ``y`` (top-bottom) or ``xy``. The axes default to the canvas
    centre (48 on a 96-px canvas: x -> 96-x), so draw the left half and centre middle shapes
    on x=48; ``ax``/``ay`` move the axes. The group animates as a whole (its children's
    ``a``/``ms``/``d`` are ignored); with ``stroke`` both halves are drawn at the same time.
    """

    s: Annotated[list[Shape], Meta(min_length=1, max_length=LIMITS.GROUP_CHILDREN)]
    m: Literal["x", "y", "xy"] | None = None
    ax: float | None = None
    ay: float | None = None
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


Step = Rect | Circle | Ellipse | Line | Polygon | Pixels | Fill | Text | Group
"""One drawing step (a tagged union on ``op``)."""


class Use(msgspec.Struct, tag="use", tag_field="op", omit_defaults=True):
    """A library subject n drawn into the square box with top-left (x, y) and side sz
    (96: its own size); mx: mirrored left-right; rc: recoloured, {"old":"new"} ("main": its
    main colour). Its own steps are drawn one by one; ms is the whole subject's time."""

    n: str
    x: Coord = 0
    y: Coord = 0
    sz: Annotated[int, Meta(ge=1, le=LIMITS.USE_SIZE)] = SUBJECT_SIZE
    mx: bool = False
    rc: dict[str, Color] = msgspec.field(default_factory=dict)
    a: Anim | None = None
    ms: Ms | None = None
    d: Delay = 0


OPS: Final = (
    "rect", "circle", "ellipse", "line", "polygon", "pixels", "fill", "text", "group", "use"
)  # fmt: skip

DEFAULT_ANIMATION: Final[dict[str, Anim]] = {
    "rect": "fill",
    "circle": "fill",
    "ellipse": "fill",
    "line": "stroke",
    "polygon": "fill",
    "pixels": "pixel_reveal",
    "fill": "fill",
    "text": "stroke",
    "group": "stroke",
}
"""The animation a step gets when it names none (outlines default to ``stroke``)."""


def animation_of(step: Step) -> Anim:
    if step.a is not None:
        return step.a
    if isinstance(step, (Rect, Circle, Ellipse, Polygon)) and not step.f:
        return "stroke"
    return DEFAULT_ANIMATION[_op(step)]


def _op(step: Step) -> str:
    tag = step.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


class Plan(msgspec.Struct):
    """A whole drawing: header first, steps last (so a streamed plan ends with its steps)."""

    v: int = VERSION
    seed: int = 0
    bg: Color | None = None
    steps: list[Step] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------------------- validation
_FLOAT_OK: Final = frozenset({"ax", "ay"})


_MAX_DEPTH: Final = 8
"""A valid step nests 5 deep (group, children, shape, points, point); deeper is garbage."""


def _tidy(value: Any, key: str = "", depth: int = 0) -> Any:
    """Round stray floats to ints (models write 10.0 or 10.5) except where floats belong."""
    if depth > _MAX_DEPTH:
        raise StepError("nested too deeply")
    if isinstance(value, float) and key not in _FLOAT_OK and math.isfinite(value):
        if abs(value) < 1e9:
            return round(value)
        return value
    if isinstance(value, list):
        return [_tidy(v, key, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _tidy(v, k, depth + 1) if isinstance(k, str) else v for k, v in value.items()}
    return value


def _clamp_times(obj: dict[str, Any]) -> None:
    for key, cap in (("ms", LIMITS.STEP_MS), ("d", LIMITS.DELAY_MS)):
        v = obj.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > cap:
            obj[key] = cap


# Spellings a model writes when it is not held to the grammar (plain JSON mode): mapped, not
# rejected. Key aliases apply only when the real key is absent.
_OP_ALIASES: Final = {
    "rectangle": "rect", "square": "rect", "box": "rect", "oval": "ellipse", "polyline": "line",
    "path": "line", "poly": "polygon", "triangle": "polygon", "pixel": "pixels", "dot": "pixels",
    "dots": "pixels", "flood": "fill", "floodfill": "fill", "flood_fill": "fill",
    "label": "text", "mirror": "group",
}  # fmt: skip
_KEY_ALIASES: Final = {
    "color": "c", "colour": "c", "points": "p", "radius": "r", "width": "w", "height": "h",
    "text": "t", "filled": "f", "anim": "a", "animation": "a", "duration": "ms",
    "delay": "d", "scale": "s", "align": "al", "shapes": "s", "children": "s", "mirror": "m",
}  # fmt: skip


def _unalias(obj: dict[str, Any]) -> dict[str, Any]:
    op = obj.get("op")
    if isinstance(op, str) and op not in OPS:
        op = _OP_ALIASES.get(op.strip().lower(), op)
    out = {"op": op}
    for k, v in obj.items():
        if k == "op":
            continue
        real = _KEY_ALIASES.get(k, k) if isinstance(k, str) else k
        if real == "s" and k == "scale" and op == "group":
            real = k  # "scale" is never a group's shapes
        if real not in obj or real == k:
            out.setdefault(real, v)
    return out


def parse_step(obj: object) -> Step:
    """Validate and normalise one drawing step from decoded JSON; raises :class:`StepError`.

    A ``use`` step is several steps once expanded: read those with :func:`parse_steps`.
    """
    if not isinstance(obj, dict):
        raise StepError(f"a step must be an object, got {type(obj).__name__}")
    obj = _unalias(obj)
    op = obj["op"]
    if op not in OPS:
        raise StepError(f"unknown op {op!r} (one of: {', '.join(OPS)})")
    if op == "use":
        raise StepError("use: a library subject is several steps (read it with parse_steps)")
    obj = dict(_tidy(obj))
    _clamp_times(obj)
    if op == "group":
        kids = obj.get("s")
        if isinstance(kids, list):
            obj["s"] = kids = [_unalias(k) if isinstance(k, dict) else k for k in kids]
            for kid in kids:
                if isinstance(kid, dict):
                    if kid.get("op") in ("group", "use"):
                        raise StepError(f"groups cannot contain {kid['op']}s")
                    _clamp_times(kid)
    try:
        step: Step = msgspec.convert(obj, Step)
    except msgspec.ValidationError as exc:
        raise StepError(f"{op}: {exc}") from None
    return _normalise(step)


def _normalise(step: Step) -> Step:
    if isinstance(step, Group):
        for i, kid in enumerate(step.s):
            try:
                _normalise(kid)
            except StepError as exc:
                raise StepError(f"group child {i}: {exc}") from None
        if step.ax is not None and not (abs(step.ax) <= LIMITS.COORD):
            raise StepError("group: ax out of range")
        if step.ay is not None and not (abs(step.ay) <= LIMITS.COORD):
            raise StepError("group: ay out of range")
        return step
    try:
        step.c = normalize_color(step.c)
    except StepError as exc:
        raise StepError(f"{_op(step)}: {exc}") from None
    if isinstance(step, Text):
        step.t = " ".join(step.t.split()) if "\n" not in step.t else step.t
        if not step.t.strip():
            raise StepError("text: empty text")
    return step


# ---------------------------------------------------------------------------- composition
class Subject(Protocol):
    """What ``use`` needs of a library subject: its plan (already free of ``use`` steps) and
    its main colour, the one ``"rc":{"main":...}`` replaces."""

    @property
    def plan(self) -> Plan: ...

    @property
    def main(self) -> str | None: ...


Subjects = Mapping[str, Subject]
"""Library subjects by name (the builtin library, or any other a caller hands in)."""

_USE_ALIASES: Final = {
    "name": "n", "subject": "n", "size": "sz", "m": "mx", "flip": "mx", "mirrored": "mx",
    "recolor": "rc", "recolour": "rc", "colors": "rc", "colours": "rc",
}  # fmt: skip


def _builtin_subjects() -> Subjects:
    from drawstreamd.plan import library  # data validated by this module: imported late

    return library.SUBJECTS


def parse_use(obj: object) -> Use:
    """Validate a ``use`` step from decoded JSON (the subject is not looked up yet)."""
    if not isinstance(obj, dict):
        raise StepError(f"a step must be an object, got {type(obj).__name__}")
    src = _tidy(_unalias(obj))
    fixed: dict[Any, Any] = {}
    for k, v in src.items():
        real = _USE_ALIASES.get(k, k) if isinstance(k, str) else k
        if real == "mx" and isinstance(v, str):
            v = "x" in v.lower()  # a group's "m":"x" written on a use step
        if real not in src or real == k:
            fixed.setdefault(real, v)
    _clamp_times(fixed)
    try:
        use = msgspec.convert(fixed, Use)
    except msgspec.ValidationError as exc:
        raise StepError(f"use: {exc}") from None
    return use


def parse_steps(obj: object, subjects: Subjects | None = None) -> list[Step]:
    """The drawing steps of one step from decoded JSON: a ``use`` step expanded (see
    :func:`expand`), any other step as :func:`parse_step` reads it. ``subjects`` defaults to
    the builtin library. Raises :class:`StepError`."""
    if isinstance(obj, dict) and _unalias(obj).get("op") == "use":
        use = parse_use(obj)
        pool = _builtin_subjects() if subjects is None else subjects
        subject = pool.get(use.n)
        if subject is None:
            raise StepError(f"use: unknown subject {use.n!r}")
        return expand(use, subject)
    return [parse_step(obj)]


def _r(v: float) -> int:
    """Round half up (Python's round() goes to even: 0.5 -> 0, 1.5 -> 2)."""
    return math.floor(v + 0.5)


class _Box:
    """Subject coordinates (a 96x96 canvas) -> the target box, mirrored first if asked.

    Continuous coordinates scale by k = sz/96: a pixel centre u+0.5 goes to (u+0.5)*k, a
    pixel edge e to e*k; mirroring maps c -> 97-c (pixel u -> 96-u, as a group's "m":"x" on
    the 96-px canvas does).
    """

    def __init__(self, use: Use) -> None:
        self.k = use.sz / SUBJECT_SIZE
        self.x, self.y, self.mx = use.x, use.y, use.mx

    def _cx(self, c: float) -> float:
        return (SUBJECT_SIZE + 1 - c if self.mx else c) * self.k

    def px(self, u: int) -> int:
        return self.x + _r(self._cx(u + 0.5) - 0.5)

    def py(self, v: int) -> int:
        return self.y + _r((v + 0.5) * self.k - 0.5)

    def point(self, p: list[int]) -> list[int]:
        return [self.px(p[0]), self.py(p[1])]

    def span_x(self, x: int, w: int) -> tuple[int, int]:
        """A run of w pixels from x -> (first pixel, width); never thinner than 1 if w was not."""
        a, b = sorted((self._cx(x), self._cx(x + w)))
        lo, hi = _r(a), _r(b)
        return self.x + lo, max(hi - lo, 1 if w > 0 else 0)

    def span_y(self, y: int, h: int) -> tuple[int, int]:
        lo, hi = _r(y * self.k), _r((y + h) * self.k)
        return self.y + lo, max(hi - lo, 1 if h > 0 else 0)

    def length(self, r: int) -> int:
        return _r(r * self.k)

    def axis_x(self, ax: float) -> float:
        return (2 * self.x + _r(2 * self._cx(ax + 0.5) - 1)) / 2

    def axis_y(self, ay: float) -> float:
        return (2 * self.y + _r(2 * (ay + 0.5) * self.k - 1)) / 2


def _shape_in(d: dict[str, Any], box: _Box, rc: Mapping[str, str]) -> dict[str, Any]:
    """One shape (decoded, as :func:`msgspec.to_builtins` gives it) moved into the box."""
    op = d["op"]
    if "c" in d:
        d["c"] = rc.get(d["c"], d["c"])
    if op in ("circle", "ellipse", "fill"):
        d["x"], d["y"] = box.px(d["x"]), box.py(d["y"])
        for key in ("r", "rx", "ry"):
            if key in d:
                d[key] = box.length(d[key])
    elif op == "rect":
        d["x"], d["w"] = box.span_x(d["x"], d["w"])
        d["y"], d["h"] = box.span_y(d["y"], d["h"])
    elif op in ("line", "polygon", "pixels"):
        d["p"] = [box.point(p) for p in d["p"]]
        if op == "line":
            d["w"] = max(1, min(LIMITS.LINE_WIDTH, box.length(d.get("w", 1))))
    elif op == "text":
        # Text is moved and sized, never written backwards; it keeps the subject's wrapping.
        al = d.get("al", "left")
        least = 8 * d.get("s", 1)  # as the renderer wraps a text without "w"
        half = min(d["x"], SUBJECT_SIZE - d["x"])
        wrap = d.get("w") or max(SUBJECT_SIZE - d["x"] if al == "left" else 2 * half, least)
        if al == "left":
            d["x"], d["w"] = box.span_x(d["x"], wrap)
        else:
            d["x"], d["w"] = box.px(d["x"]), max(1, box.length(wrap))
        d["y"] = box.py(d["y"])
        d["s"] = max(1, min(LIMITS.TEXT_SCALE, box.length(d.get("s", 1))))
    return d


def expand(use: Use, subject: Subject) -> list[Step]:
    """The subject's steps drawn as ``use`` asks: each shape scaled into the box (coordinates
    and sizes rounded to whole pixels; a line at least 1 px wide, text at least scale 1),
    mirrored, recoloured; groups keep their mirror with the axis moved along. ``a`` replaces
    every step's animation, ``ms`` is shared evenly by the steps, ``d`` delays the first one.
    Raises :class:`StepError` when a colour is unknown or a moved shape leaves the limits."""
    rc: dict[str, str] = {}
    for old, new in use.rc.items():
        key = subject.main if old.strip().lower() == "main" else old
        if key is None:
            continue  # the subject names no main colour: nothing to replace
        try:
            rc[normalize_color(key)] = normalize_color(new)
        except StepError as exc:
            raise StepError(f"use {use.n!r}: rc: {exc}") from None
    box = _Box(use)
    steps = subject.plan.steps
    out: list[Step] = []
    for i, step in enumerate(steps):
        d = msgspec.to_builtins(step)
        if d["op"] == "group":
            d["s"] = [_shape_in(kid, box, rc) for kid in d["s"]]
            if d.get("m") in ("x", "xy"):
                d["ax"] = box.axis_x(d.get("ax", SUBJECT_SIZE // 2))
            if d.get("m") in ("y", "xy"):
                d["ay"] = box.axis_y(d.get("ay", SUBJECT_SIZE // 2))
        else:
            d = _shape_in(d, box, rc)
        if use.a is not None:
            d["a"] = use.a
        if use.ms is not None:
            d["ms"] = use.ms // len(steps)
        if i == 0:
            d["d"] = min(LIMITS.DELAY_MS, d.get("d", 0) + use.d)
        try:
            out.append(parse_step(d))
        except StepError as exc:
            raise StepError(f"use {use.n!r}, its step {i}: {exc}") from None
    return out


# ---------------------------------------------------------------------------- plans
class Written(msgspec.Struct):
    """A plan as written, ``use`` steps and all (what the schema describes)."""

    v: Literal[1] = VERSION
    seed: Annotated[int, Meta(ge=0, le=LIMITS.SEED)] = 0
    bg: Color | None = None
    steps: Annotated[list[Step | Use], Meta(min_length=1)] = msgspec.field(default_factory=list)


def resolve(written: Written, subjects: Subjects | None = None) -> Plan:
    """The plan of a strictly decoded one (no salvage: for files we ship, which must be right):
    colours normalised, ``use`` steps expanded. Raises :class:`StepError` at the first fault.
    """
    pool = _builtin_subjects() if subjects is None else subjects
    steps: list[Step] = []
    for i, step in enumerate(written.steps):
        try:
            if isinstance(step, Use):
                subject = pool.get(step.n)
                if subject is None:
                    raise StepError(f"use: unknown subject {step.n!r}")
                steps += expand(step, subject)
            else:
                steps.append(_normalise(step))
        except StepError as exc:
            raise StepError(f"step {i}: {exc}") from None
    if len(steps) > LIMITS.STEPS:
        raise StepError(f"{len(steps)} steps, over the {LIMITS.STEPS}-step limit")
    bg = normalize_color(written.bg) if written.bg is not None else None
    return Plan(v=VERSION, seed=written.seed, bg=bg, steps=steps)


def validate(
    raw: bytes | str | object, subjects: Subjects | None = None
) -> tuple[Plan | None, list[str]]:
    """Parse a whole plan, salvaging what is valid.

    Returns the plan (``None`` when no step survived) and one reason per dropped or repaired
    thing. Accepts JSON text/bytes or already decoded JSON; a bare list is taken as the steps.
    ``use`` steps are expanded with ``subjects`` (default: the builtin library); each counts
    its subject's steps against the step limit, and one that would pass it is dropped whole.
    """
    reasons: list[str] = []
    obj: object = raw
    if isinstance(raw, (bytes, str)):
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            return None, [f"invalid JSON: {exc}"]
        except RecursionError:
            return None, ["invalid JSON: nested too deeply"]
    if isinstance(obj, list):
        obj = {"steps": obj}
    if not isinstance(obj, dict):
        return None, [f"a plan must be a JSON object, got {type(obj).__name__}"]
    v = obj.get("v", VERSION)
    if v != VERSION:
        return None, [f"unsupported plan version {v!r} (this renderer reads v{VERSION})"]
    seed = obj.get("seed", 0)
    if isinstance(seed, float) and math.isfinite(seed):
        seed = round(seed)
    if not isinstance(seed, int) or isinstance(seed, bool):
        reasons.append(f"seed must be an integer, got {seed!r}; using 0")
        seed = 0
    seed %= LIMITS.SEED + 1
    bg = obj.get("bg")
    if bg is not None:
        try:
            if not isinstance(bg, str):
                raise StepError(f"bg must be a colour string, got {bg!r}")
            bg = normalize_color(bg)
        except StepError as exc:
            reasons.append(f"bg: {exc}; using the default")
            bg = None
    raw_steps = obj.get("steps")
    if not isinstance(raw_steps, list):
        return None, [*reasons, "the plan has no steps list"]
    steps: list[Step] = []
    for i, raw_step in enumerate(raw_steps):
        if len(steps) >= LIMITS.STEPS:
            reasons.append(f"steps {i}..{len(raw_steps) - 1}: over the {LIMITS.STEPS}-step limit")
            break
        try:
            new = parse_steps(raw_step, subjects)
        except StepError as exc:
            reasons.append(f"step {i}: {exc}")
            continue
        if len(steps) + len(new) > LIMITS.STEPS:
            reasons.append(
                f"step {i}: its {len(new)} steps would pass the {LIMITS.STEPS}-step limit"
            )
            continue
        steps += new
    if not steps:
        return None, [*reasons, "no valid step"]
    return Plan(v=VERSION, seed=seed, bg=bg, steps=steps), reasons


_encoder = msgspec.json.Encoder()


def encode(plan: Plan) -> bytes:
    """Compact JSON (optional step fields at their defaults are left out)."""
    return _encoder.encode(plan)


# ---------------------------------------------------------------------------- JSON Schema
def _color_schema() -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "enum": list(PALETTE)},
            {"type": "string", "pattern": "^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"},
        ]
    }


def _inline(node: Any, defs: dict[str, Any], key: str = "") -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k in ("title", "discriminator", "$defs", "maxItems", "maxLength"):
                continue  # (maxItems/maxLength unroll into huge grammars; validation caps them)
            if k == "properties":
                props = {}
                for pk, pv in v.items():
                    if pk == "c":
                        props[pk] = _color_schema()
                    elif pk == "bg":
                        props[pk] = {"anyOf": [*_color_schema()["anyOf"], {"type": "null"}]}
                    else:
                        props[pk] = _inline(pv, defs, pk)
                out[k] = props
            else:
                out[k] = _inline(v, defs, k)
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_inline(v, defs, key) for v in node]
    return node


def json_schema(subjects: Iterable[str] | None = None) -> dict[str, Any]:
    """The JSON Schema the LLM is asked to follow; ``use`` names one of ``subjects``
    (default: the builtin library's names; none: no ``use`` step).

    Plain objects, arrays, enums and ``anyOf`` only (no ``$ref``), all plan keys required in
    the order v, seed, bg, steps: llama.cpp's schema-to-grammar converter (and so Ollama's
    ``format``) writes required keys first in the listed order, so a streamed plan ends with
    its steps and each step starts with ``op``. Length caps (``maxItems``/``maxLength``) are
    left to :func:`validate`: the converter unrolls them into grammars hundreds of rules deep.
    """
    raw = msgspec.json.schema(Written)
    defs = raw.get("$defs", {})
    schema: dict[str, Any] = _inline(raw, defs)
    names = sorted(_builtin_subjects() if subjects is None else subjects)
    items = schema["properties"]["steps"]["items"]
    for variant in items["anyOf"]:
        props = variant["properties"]
        if "rc" in props:
            props["n"] = {"type": "string", "enum": names}
            props["rc"] = {"type": "object", "additionalProperties": _color_schema()}
    if not names:  # nothing to use: no use step
        items["anyOf"] = [v for v in items["anyOf"] if "rc" not in v["properties"]]
    schema["required"] = ["v", "seed", "bg", "steps"]
    props = schema["properties"]
    props["v"] = {"type": "integer", "enum": [VERSION]}
    props["seed"] = {"type": "integer", "minimum": 0, "maximum": LIMITS.SEED}
    props["steps"]["minItems"] = 1
    schema["title"] = "drawstreamd Canvas-DSL plan v1"
    return schema
