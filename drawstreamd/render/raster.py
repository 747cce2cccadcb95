"""Rasterise DSL steps into ordered pixel writes (pure: no pygame, no clock).

Each shape yields two pixel lists: its *path* (outline or pen path, in drawing order) and its
*interior* (row order). The step's animation decides the reveal order from those:

* ``stroke``: the path in order, then the interior row by row;
* ``fill``: a top-to-bottom sweep (a flood fill spreads outwards from its seed instead);
* ``pixel_reveal``: a seeded shuffle (seed from the plan seed and the step index);
* ``instant``: everything at the step's start.

Flood fills are resolved here against a shadow canvas holding the picture as it will be after
the previous steps, so compilation is sequential and deterministic.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import pairwise
from typing import TYPE_CHECKING

from drawstreamd.plan.dsl import (
    Circle,
    Ellipse,
    Fill,
    Group,
    Line,
    Pixels,
    Polygon,
    Rect,
    Shape,
    Step,
    Text,
    animation_of,
    parse_color,
)
from drawstreamd.render import font

if TYPE_CHECKING:
    from collections.abc import Iterable

Write = tuple[int, int, int]
"""(x, y, packed 0xRRGGBB)."""
XY = tuple[int, int]
Clip = tuple[int, int, int, int]
"""Inclusive x0, y0, x1, y1."""


def pack(rgb: tuple[int, int, int]) -> int:
    return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]


def color(value: str) -> int:
    return pack(parse_color(value))


class Shadow:
    """The picture as packed colours, updated as steps are compiled (for flood fill)."""

    def __init__(self, width: int, height: int, background: int) -> None:
        self.width = width
        self.height = height
        self.px = [background] * (width * height)

    def apply(self, writes: Iterable[Write]) -> None:
        w = self.width
        px = self.px
        for x, y, c in writes:
            px[y * w + x] = c


# ---------------------------------------------------------------------------- shapes
def _rect(s: Rect, clip: Clip) -> tuple[list[XY], list[XY]]:
    if s.w <= 0 or s.h <= 0:
        return [], []
    x0, y0, x1, y1 = s.x, s.y, s.x + s.w - 1, s.y + s.h - 1
    cx0, cy0, cx1, cy1 = clip
    path: list[XY] = []
    if cy0 <= y0 <= cy1:
        path += [(x, y0) for x in range(max(x0, cx0), min(x1, cx1) + 1)]
    if cx0 <= x1 <= cx1:
        path += [(x1, y) for y in range(max(y0 + 1, cy0), min(y1, cy1) + 1)]
    if y1 > y0 and cy0 <= y1 <= cy1:
        path += [(x, y1) for x in range(min(x1 - 1, cx1), max(x0, cx0) - 1, -1)]
    if x1 > x0 and cx0 <= x0 <= cx1:
        path += [(x0, y) for y in range(min(y1 - 1, cy1), max(y0 + 1, cy0) - 1, -1)]
    inner: list[XY] = []
    if s.f:
        xs = range(max(x0 + 1, cx0), min(x1 - 1, cx1) + 1)
        for y in range(max(y0 + 1, cy0), min(y1 - 1, cy1) + 1):
            inner += [(x, y) for x in xs]
    return path, inner


def _oval(
    cx: int, cy: int, rx: int, ry: int, filled: bool, clip: Clip
) -> tuple[list[XY], list[XY]]:
    ex, ey = rx + 0.5, ry + 0.5

    def half(dy: int) -> int:
        """Half-width of the row ``dy`` rows from the centre (-1: the row is empty)."""
        t = 1.0 - (dy / ey) ** 2
        if t < 0:
            return -1
        return math.floor(ex * math.sqrt(t))

    cx0, cy0, cx1, cy1 = clip
    edge: list[XY] = []
    inner: list[XY] = []
    for y in range(max(cy - ry, cy0), min(cy + ry, cy1) + 1):
        dy = y - cy
        hw = half(dy)
        if hw < 0:
            continue
        up, down = half(dy - 1), half(dy + 1)
        narrow = min(up, down)  # pixels beyond this half-width touch an empty row
        for x in range(max(cx - hw, cx0), min(cx + hw, cx1) + 1):
            dx = abs(x - cx)
            if dx == hw or dx > narrow:
                edge.append((x, y))
            elif filled:
                inner.append((x, y))

    def angle(p: XY) -> float:
        return (math.atan2((p[1] - cy) / ey, (p[0] - cx) / ex) + math.pi / 2) % math.tau

    edge.sort(key=angle)
    return edge, inner


def _bresenham(x0: int, y0: int, x1: int, y1: int) -> list[XY]:
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    out: list[XY] = []
    while True:
        out.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return out
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


def _brush(width: int) -> list[XY]:
    if width <= 1:
        return [(0, 0)]
    lo, hi = -((width - 1) // 2), width // 2
    c = (width - 1) / 2 - (width - 1) // 2
    r2 = (width / 2) ** 2
    return [
        (dx, dy)
        for dy in range(lo, hi + 1)
        for dx in range(lo, hi + 1)
        if (dx - c) ** 2 + (dy - c) ** 2 <= r2
    ]


def _inside(p: XY, clip: Clip) -> bool:
    return clip[0] <= p[0] <= clip[2] and clip[1] <= p[1] <= clip[3]


def _polyline(points: list[tuple[int, int]], width: int, closed: bool, clip: Clip) -> list[XY]:
    pts = list(points) + ([points[0]] if closed and len(points) > 2 else [])
    brush = _brush(width)
    seen: dict[XY, None] = {}
    centres: list[XY] = [pts[0]]
    for (x0, y0), (x1, y1) in pairwise(pts):
        centres += _bresenham(x0, y0, x1, y1)[1:]
    for x, y in centres:
        for dx, dy in brush:
            p = (x + dx, y + dy)
            if _inside(p, clip):
                seen[p] = None
    return list(seen)


def _polygon(s: Polygon, clip: Clip) -> tuple[list[XY], list[XY]]:
    path = _polyline(s.p, 1, True, clip)
    if not s.f:
        return path, []
    on_path = set(path)
    inner: list[XY] = []
    pts = s.p
    n = len(pts)
    ys = [p[1] for p in pts]
    cx0, cy0, cx1, cy1 = clip
    for y in range(max(min(ys), cy0), min(max(ys), cy1) + 1):
        yc = y + 0.5
        xs: list[float] = []
        for i in range(n):
            (xa, ya), (xb, yb) = pts[i], pts[(i + 1) % n]
            if (ya <= yc < yb) or (yb <= yc < ya):
                xs.append(xa + (yc - ya) * (xb - xa) / (yb - ya))
        xs.sort()
        for a, b in zip(xs[::2], xs[1::2], strict=False):
            for x in range(max(math.ceil(a - 0.5), cx0), min(math.floor(b - 0.5), cx1) + 1):
                if (x, y) not in on_path:
                    inner.append((x, y))
    return path, inner


def _text(s: Text, clip: Clip, width: int, height: int) -> list[XY]:
    scale = s.s
    wrap = s.w if s.w is not None else max(width - s.x, 8 * scale)
    lines = font.wrap(s.t, wrap, scale)
    line_h = font.LINE_HEIGHT * scale
    top = s.y
    if s.al == "middle":
        top = s.y - (len(lines) * line_h - (font.LINE_HEIGHT - font.HEIGHT) * scale) // 2
    out: list[XY] = []
    for n, text in enumerate(lines):
        lw = font.text_width(text, scale)
        left = s.x if s.al == "left" else s.x - lw // 2
        for x, y in font.pen_order(text, scale):
            p = (left + x, top + n * line_h + y)
            if _inside(p, clip):
                out.append(p)
    return out


def _flood(s: Fill, shadow: Shadow, clip: Clip) -> list[XY]:
    w, h = shadow.width, shadow.height
    if not (0 <= s.x < w and 0 <= s.y < h):
        return []
    px = shadow.px
    target = px[s.y * w + s.x]
    if target == color(s.c):
        return []
    seen = {(s.x, s.y)}
    order: list[XY] = []
    queue = deque([(s.x, s.y)])
    while queue:
        x, y = queue.popleft()
        order.append((x, y))
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in seen and px[ny * w + nx] == target:
                seen.add((nx, ny))
                queue.append((nx, ny))
    return order


def shape_pixels(s: Shape, shadow: Shadow, clip: Clip) -> tuple[list[XY], list[XY]]:
    """(path, interior) of one shape, limited to ``clip``."""
    if isinstance(s, Rect):
        return _rect(s, clip)
    if isinstance(s, Circle):
        return _oval(s.x, s.y, s.r, s.r, s.f, clip)
    if isinstance(s, Ellipse):
        return _oval(s.x, s.y, s.rx, s.ry, s.f, clip)
    if isinstance(s, Line):
        return _polyline(s.p, s.w, False, clip), []
    if isinstance(s, Polygon):
        return _polygon(s, clip)
    if isinstance(s, Pixels):
        return [p for p in dict.fromkeys(s.p) if _inside(p, clip)], []
    if isinstance(s, Fill):
        return _flood(s, shadow, clip), []
    return _text(s, clip, shadow.width, shadow.height), []


# ---------------------------------------------------------------------------- ordering
def shuffle(items: list[Write], seed: int) -> None:
    """In-place Fisher-Yates with a 32-bit xorshift (easy to port to a browser overlay)."""
    state = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1
    for i in range(len(items) - 1, 0, -1):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        j = state % (i + 1)
        items[i], items[j] = items[j], items[i]


def _mirror_fn(step: Group, width: int, height: int) -> list[tuple[bool, bool]]:
    flips = [(False, False)]
    if step.m in ("x", "xy"):
        flips.append((True, False))
    if step.m in ("y", "xy"):
        flips.append((False, True))
    if step.m == "xy":
        flips.append((True, True))
    return flips


def compile_step(step: Step, shadow: Shadow, seed: int, index: int) -> list[Write]:
    """The ordered pixel writes of one step; ``shadow`` is updated with them."""
    w, h = shadow.width, shadow.height
    canvas: Clip = (0, 0, w - 1, h - 1)
    mode = animation_of(step)
    if isinstance(step, Group):
        ax2 = round(2 * step.ax) if step.ax is not None else 2 * (w // 2)
        ay2 = round(2 * step.ay) if step.ay is not None else 2 * (h // 2)
        flips = _mirror_fn(step, w, h)
        # The children are rasterised over the canvas and its mirror images.
        xs = [0, w - 1] + ([ax2 - (w - 1), ax2] if len(flips) > 1 else [])
        ys = [0, h - 1] + ([ay2 - (h - 1), ay2] if step.m in ("y", "xy") else [])
        clip: Clip = (min(xs), min(ys), max(xs), max(ys))
        writes: dict[int, int] = {}
        for kid in step.s:
            col = color(kid.c)
            path, inner = shape_pixels(kid, shadow, clip)
            pixels = path + (sorted(inner, key=_row) if mode == "stroke" else inner)
            copies = []
            for fx, fy in flips:
                copies.append([(ax2 - x if fx else x, ay2 - y if fy else y) for x, y in pixels])
            kid_writes: list[Write] = []
            for group in zip(*copies, strict=True):
                for x, y in group:
                    if 0 <= x < w and 0 <= y < h:
                        kid_writes.append((x, y, col))
                        writes[y * w + x] = col
            shadow.apply(kid_writes)  # later children (flood fills) see earlier ones
        ordered = [(i % w, i // w, c) for i, c in writes.items()]
    else:
        col = color(step.c)
        path, inner = shape_pixels(step, shadow, canvas)
        ordered = [(x, y, col) for x, y in dict.fromkeys(path + inner)]
        shadow.apply(ordered)
    if mode in ("fill", "instant") and not isinstance(step, Fill):
        ordered.sort(key=_row3)
    elif mode == "pixel_reveal":
        ordered.sort(key=_row3)
        shuffle(ordered, seed * 1009 + index)
    return ordered


def _row(p: XY) -> tuple[int, int]:
    return (p[1], p[0])


def _row3(p: Write) -> tuple[int, int]:
    return (p[1], p[0])
