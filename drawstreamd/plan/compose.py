"""Pictures composed of library subjects: what the builtin planner draws for a request that
names two subjects, a colour, an accessory, a setting or "many".

The result is an ordinary plan written with ``use`` steps (:func:`compose`), so it is drawn
exactly as a model's plan with the same steps would be. Layout, in canvas pixels:

* the subjects stand side by side in equal square boxes, copies ("many") in rows, every
  other copy mirrored; a setting with ground (grass, snow, sea) puts them on it;
* an accessory goes to its wearer's ``head`` ([x, y, width]): a hat or crown on top, glasses
  across the eyes, a scarf under the head; the accessory's size follows the head's width, and
  the wearer shrinks in its box when a hat would stick out of it;
* a colour word replaces the subject's ``main`` colour; the picture takes the setting's
  background, else the first subject's (another one if a new colour would vanish in it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from drawstreamd.plan import dsl
from drawstreamd.plan.request import ACCESSORIES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from drawstreamd.plan.library import Entry
    from drawstreamd.plan.request import Request

S: Final = dsl.SUBJECT_SIZE
GROUND: Final = 93
"""Where a box's bottom goes in a setting with ground (the subjects stand on it)."""
COPY_MS: Final = 1500
"""Drawing time of every copy after the first ("many"): the picture stays short."""


# ---------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Setting:
    bg: str
    back: tuple[dict[str, Any], ...]
    """Drawn before the subjects."""
    front: tuple[dict[str, Any], ...] = ()
    """Drawn over them (falling snow, waves)."""
    ground: bool = False


def _scatter(c: str, points: list[tuple[int, int]], a: str = "pixel_reveal") -> dict[str, Any]:
    return {"op": "pixels", "p": [list(p) for p in points], "c": c, "a": a}


_STARS: Final = [
    (6, 8), (20, 22), (34, 6), (52, 14), (64, 4), (8, 40), (90, 36), (26, 34), (46, 28),
    (72, 24), (4, 70), (92, 62), (14, 90), (86, 90),
]  # fmt: skip
SETTING: Final[dict[str, Setting]] = {
    "night": Setting(
        "dark_blue",
        (
            _scatter("white", _STARS),
            {"op": "circle", "x": 82, "y": 13, "r": 8, "c": "yellow"},
            {"op": "circle", "x": 86, "y": 10, "r": 7, "c": "dark_blue", "a": "instant"},
        ),
    ),
    "space": Setting(
        "black",
        (
            _scatter("white", [*_STARS, (40, 60), (60, 84), (80, 50), (30, 78)]),
            {"op": "circle", "x": 13, "y": 14, "r": 7, "c": "orange"},
            {"op": "line", "p": [[1, 18], [25, 10]], "c": "peach", "w": 2},
            {"op": "circle", "x": 86, "y": 84, "r": 4, "c": "blue"},
        ),
    ),
    "sea": Setting(
        "#9fdcff",
        (
            {"op": "circle", "x": 84, "y": 12, "r": 7, "c": "yellow"},
            {"op": "rect", "x": 0, "y": 70, "w": 96, "h": 26, "c": "blue"},
        ),
        (
            {
                "op": "group",
                "s": [
                    {"op": "line", "p": [[2, 86], [8, 83], [14, 86]], "c": "white"},
                    {"op": "line", "p": [[26, 91], [32, 88], [38, 91]], "c": "white"},
                    {"op": "line", "p": [[56, 87], [62, 84], [68, 87]], "c": "white"},
                    {"op": "line", "p": [[80, 92], [86, 89], [92, 92]], "c": "white"},
                ],
            },
        ),
        ground=True,
    ),
    "snow": Setting(
        "#5f6f8f",
        (
            {"op": "rect", "x": 0, "y": 82, "w": 96, "h": 14, "c": "white"},
            {"op": "ellipse", "x": 14, "y": 82, "rx": 22, "ry": 5, "c": "white"},
            {"op": "ellipse", "x": 76, "y": 82, "rx": 26, "ry": 6, "c": "white"},
        ),
        (_scatter("white", [(x, (x * 37) % 78) for x in range(3, 96, 7)]),),
        ground=True,
    ),
    "grass": Setting(
        "blue",
        ({"op": "rect", "x": 0, "y": 82, "w": 96, "h": 14, "c": "green"},),
        (
            {
                "op": "group",
                "s": [
                    {"op": "line", "p": [[x, 95], [x + 1, 89]], "c": "dark_green"}
                    for x in range(3, 96, 9)
                ],
            },
        ),
        ground=True,
    ),
}


# ---------------------------------------------------------------------------- geometry
Box = tuple[float, float, float, float]
"""x0, y0, x1, y1 (continuous canvas coordinates, x1/y1 exclusive)."""


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _shape_box(shape: dsl.Shape) -> Box | None:
    if isinstance(shape, dsl.Rect):
        return (shape.x, shape.y, shape.x + shape.w, shape.y + shape.h)
    if isinstance(shape, dsl.Circle):
        return (shape.x - shape.r, shape.y - shape.r, shape.x + shape.r + 1, shape.y + shape.r + 1)
    if isinstance(shape, dsl.Ellipse):
        return (
            shape.x - shape.rx, shape.y - shape.ry, shape.x + shape.rx + 1, shape.y + shape.ry + 1
        )  # fmt: skip
    if isinstance(shape, (dsl.Line, dsl.Polygon)):
        half = shape.w // 2 if isinstance(shape, dsl.Line) else 0
        xs, ys = [p[0] for p in shape.p], [p[1] for p in shape.p]
        return (min(xs) - half, min(ys) - half, max(xs) + half + 1, max(ys) + half + 1)
    if isinstance(shape, dsl.Pixels) and len(shape.p) <= 4:  # more: scattered sparkles
        xs, ys = [p[0] for p in shape.p], [p[1] for p in shape.p]
        return (min(xs), min(ys), max(xs) + 1, max(ys) + 1)
    return None


def figure(plan: dsl.Plan) -> Box:
    """Where a subject's figure is on its canvas: every shape but sparkles, fills and text,
    and not the strips as wide as the canvas (ground, road, sea)."""
    found: Box | None = None
    for step in plan.steps:
        shapes = step.s if isinstance(step, dsl.Group) else [step]
        for shape in shapes:
            box = _shape_box(shape)
            if box is None or box[2] - box[0] >= S - 4:
                continue
            boxes = [box]
            if isinstance(step, dsl.Group) and step.m in ("x", "xy"):
                ax2 = 2 * step.ax if step.ax is not None else S
                boxes.append((ax2 + 1 - box[2], box[1], ax2 + 1 - box[0], box[3]))
            for b in boxes:
                found = b if found is None else _union(found, b)
    if found is None:
        return (0.0, 0.0, float(S), float(S))
    return (max(found[0], 0.0), max(found[1], 0.0), min(found[2], S), min(found[3], S))


# ---------------------------------------------------------------------------- layout
Slot = tuple[float, float, float]
"""x, y, size of a square box on the canvas."""

_SIDE_BY_SIDE: Final[dict[int, list[Slot]]] = {
    1: [(0, 0, 96)],
    2: [(-4, 36, 56), (44, 36, 56)],
    3: [(-2, 54, 38), (29, 54, 38), (60, 54, 38)],
}
_COPIES: Final[dict[int, list[Slot]]] = {
    3: [(2, 4, 46), (48, 4, 46), (25, 48, 46)],
    4: [(0, 2, 46), (50, 2, 46), (0, 48, 46), (50, 48, 46)],
    5: [(0, 8, 36), (30, 8, 36), (60, 8, 36), (14, 52, 36), (46, 52, 36)],
    6: [(0, 8, 32), (32, 8, 32), (64, 8, 32), (0, 54, 32), (32, 54, 32), (64, 54, 32)],
}


def _slots(n: int, copies: bool, setting: Setting | None) -> list[Slot]:
    if setting is not None and setting.ground:
        if n == 1:
            return [(6, GROUND - 84, 84)]
        size = min(50.0, 2 * S / (n + 1))
        step = (S - size) / (n - 1)
        return [(i * step, GROUND - size, size) for i in range(n)]
    if n == 1 and setting is not None:
        return [(8, 10, 80)]
    table = _COPIES if copies and n >= 3 else _SIDE_BY_SIDE
    return table[n]


@dataclass
class _Piece:
    """One ``use`` step in the coordinates of its wearer's own 96-px canvas."""

    name: str
    x: float
    y: float
    size: float
    mirrored: bool
    body: Box


def _accessory(wearer: Entry, mirrored: bool, thing: Entry) -> _Piece:
    assert wearer.head is not None
    hx, hy, hw = wearer.head
    centre = (S - hx if mirrored else hx) + 0.5
    bx0, by0, bx1, by1 = figure(thing.plan)
    kind = next(k for k, names in ACCESSORIES.items() if thing.name in names)
    width = hw * {"hat": 1.15, "party_hat": 0.8, "crown": 0.9, "glasses": 0.95, "scarf": 0.85}[kind]
    k = width / (bx1 - bx0)
    x = centre - (bx0 + bx1) / 2 * k
    if kind in ("hat", "party_hat", "crown"):
        y = hy + 0.08 * (by1 - by0) * k - by1 * k  # sits a little into the head
    elif kind == "glasses":
        y = hy + 0.45 * hw - (by0 + by1) / 2 * k
    else:
        y = hy + 0.95 * hw - by0 * k
    body = (x + bx0 * k, y + by0 * k, x + bx1 * k, y + by1 * k)
    return _Piece(thing.name, x, y, S * k, False, body)


def _place(
    pieces: list[_Piece], slot: Slot, *, bottom: bool
) -> list[tuple[str, int, int, int, bool]]:
    """Scale a wearer and its accessories together into a slot: (name, x, y, size, mirrored)."""
    box = pieces[0].body
    for p in pieces[1:]:
        box = _union(box, p.body)
    sx, sy, size = slot
    f = min(1.0, S / (box[2] - box[0]), S / (box[3] - box[1])) * size / S
    width, height = (box[2] - box[0]) * f, (box[3] - box[1]) * f
    ox = sx + (size - width) / 2 - box[0] * f
    oy = sy + (size - height if bottom else (size - height) / 2) - box[1] * f
    return [
        (p.name, round(ox + p.x * f), round(oy + p.y * f), max(1, round(p.size * f)), p.mirrored)
        for p in pieces
    ]


# ---------------------------------------------------------------------------- plans
_CONTRAST: Final = ("dark_blue", "white", "black", "light_grey")


def _background(req: Request, entries: Mapping[str, Entry], setting: Setting | None) -> str:
    first = entries[req.subjects[0]].plan.bg or dsl.DEFAULT_BG
    bg = setting.bg if setting is not None else first
    clashing = {dsl.normalize_color(c) for c in req.colours.values()}
    if bg in clashing:
        bg = next(c for c in _CONTRAST if c not in clashing)
    return bg


def _use(
    entry: Entry, where: tuple[str, int, int, int, bool], colour: str | None, ms: int
) -> dict[str, Any]:
    name, x, y, size, mirrored = where
    step: dict[str, Any] = {"op": "use", "n": name, "x": x, "y": y, "sz": size}
    if mirrored:
        step["mx"] = True
    if colour is not None and entry.main is not None and entry.main != colour:
        step["rc"] = {entry.main: colour}
    if ms:
        step["ms"] = ms
    return step


def compose(req: Request, entries: Mapping[str, Entry]) -> dict[str, Any]:
    """The plan (decoded JSON, written with ``use`` steps) for a request that names at least
    one subject; validate it with ``entries`` as the subjects to draw it."""
    setting = SETTING[req.setting] if req.setting is not None else None
    bg = _background(req, entries, setting)
    copies = req.count > 1 and len(req.subjects) == 1
    names = req.subjects * req.count if copies else req.subjects
    longest = max(len(entries[n].plan.steps) for n in names) + sum(
        len(entries[t].plan.steps) for _, t in req.accessories
    )
    names = names[: max(1, (dsl.LIMITS.STEPS - 12) // longest)]
    steps: list[dict[str, Any]] = list(setting.back) if setting else []
    bottom = setting is not None and setting.ground
    for i, (name, slot) in enumerate(zip(names, _slots(len(names), copies, setting), strict=True)):
        wearer = entries[name]
        mirrored = copies and i % 2 == 1
        pieces = [_Piece(name, 0, 0, S, mirrored, (0, 0, S, S))]
        pieces += [
            _accessory(wearer, mirrored, entries[thing])
            for who, thing in req.accessories
            if who == name
        ]
        ms = COPY_MS if copies and i > 0 else 0
        for piece, where in zip(pieces, _place(pieces, slot, bottom=bottom), strict=True):
            colour = req.colours.get(name) if piece.name == name else None
            steps.append(_use(entries[piece.name], where, colour, ms))
    if setting is not None:
        steps += setting.front
    seed = entries[req.subjects[0]].plan.seed
    return {"v": dsl.VERSION, "seed": seed, "bg": bg, "steps": steps}
