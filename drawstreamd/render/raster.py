"""Which pixels a DSL shape covers (pure: no pygame, no clock).

Each shape yields two lists of pixel indices: its *path* (outline or pen path, in drawing
order) and its *interior* (row order); the timeline orders them by the step's animation.

Shapes are rasterised inside a *window*: the canvas itself, or for a mirror copy in a group
the mirror image of the canvas. Indices are ``(y - wy0) * stride + (x - wx0)``; for the canvas
window they are canvas indices. Interiors are built from ``range`` runs, so a full-canvas fill
costs little Python work. Flood fills are resolved against a :class:`Shadow` canvas holding
the picture as it will be after the previous steps, so compilation is sequential and
deterministic. A :class:`Budget` bounds the work a hostile plan can cause.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise, zip_longest

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
    Text,
    parse_color,
)
from drawstreamd.render import font

Write = tuple[int, int, int]
"""(x, y, packed 0xRRGGBB)."""
XY = tuple[int, int]
Win = tuple[int, int, int, int]
"""Inclusive x0, y0, x1, y1 of the rasterisation window."""
Pixels_ = tuple[list[int], list[int]]


def pack(rgb: tuple[int, int, int]) -> int:
    return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]


def color(value: str) -> int:
    return pack(parse_color(value))


class Budget:
    """Rasterisation work units left for one plan (roughly: pixels considered)."""

    def __init__(self, units: int) -> None:
        self.left = units

    def spend(self, units: int) -> bool:
        self.left -= units
        return self.left >= 0

    @property
    def exhausted(self) -> bool:
        return self.left < 0


class Shadow:
    """The picture as packed colours, updated as steps are compiled (for flood fill)."""

    def __init__(self, width: int, height: int, background: int) -> None:
        self.width = width
        self.height = height
        self.px = [background] * (width * height)

    def apply(self, idx: list[int], colours: int | list[int]) -> None:
        px = self.px
        if isinstance(colours, int):
            for i in idx:
                px[i] = colours
        else:
            for i, c in zip(idx, colours, strict=True):
                px[i] = c


# ---------------------------------------------------------------------------- shapes
def _rect(s: Rect, win: Win) -> Pixels_:
    if s.w <= 0 or s.h <= 0:
        return [], []
    x0, y0, x1, y1 = s.x, s.y, s.x + s.w - 1, s.y + s.h - 1
    wx0, wy0, wx1, wy1 = win
    st = wx1 - wx0 + 1
    path: list[int] = []
    if wy0 <= y0 <= wy1:
        b = (y0 - wy0) * st - wx0
        path += range(b + max(x0, wx0), b + min(x1, wx1) + 1)
    if wx0 <= x1 <= wx1:
        ya, yb = max(y0 + 1, wy0), min(y1, wy1)
        path += range((ya - wy0) * st + x1 - wx0, (yb - wy0) * st + x1 - wx0 + 1, st)
    if y1 > y0 and wy0 <= y1 <= wy1:
        b = (y1 - wy0) * st - wx0
        path += range(b + min(x1 - 1, wx1), b + max(x0, wx0) - 1, -1)
    if x1 > x0 and wx0 <= x0 <= wx1:
        ya, yb = min(y1 - 1, wy1), max(y0 + 1, wy0)
        path += range((ya - wy0) * st + x0 - wx0, (yb - wy0) * st + x0 - wx0 - 1, -st)
    inner: list[int] = []
    xa, xb = max(x0 + 1, wx0), min(x1 - 1, wx1)
    if s.f and xa <= xb:
        for y in range(max(y0 + 1, wy0), min(y1 - 1, wy1) + 1):
            b = (y - wy0) * st - wx0
            inner += range(b + xa, b + xb + 1)
    return path, inner


def _oval(cx: int, cy: int, rx: int, ry: int, filled: bool, win: Win) -> Pixels_:
    ex, ey = rx + 0.5, ry + 0.5
    wx0, wy0, wx1, wy1 = win
    st = wx1 - wx0 + 1
    rows = range(max(cy - ry, wy0), min(cy + ry, wy1) + 1)
    # Half-width of each row from one above the first to one below the last (-1: empty row).
    half = []
    for y in range(rows.start - 1, rows.stop + 1):
        t = 1.0 - ((y - cy) / ey) ** 2
        half.append(-1 if t < 0 else math.floor(ex * math.sqrt(t)))
    edge: list[XY] = []
    inner: list[int] = []
    for k, y in enumerate(rows, start=1):
        hw = half[k]
        if hw < 0:
            continue
        lo = min(hw, min(half[k - 1], half[k + 1]) + 1)  # |dx| >= lo touches the outside
        edge += [(x, y) for x in range(max(cx - hw, wx0), min(cx - lo, wx1) + 1)]
        edge += [(x, y) for x in range(max(cx + lo, cx - lo + 1, wx0), min(cx + hw, wx1) + 1)]
        if filled and lo >= 1:
            b = (y - wy0) * st - wx0
            inner += range(b + max(cx - lo + 1, wx0), b + min(cx + lo - 1, wx1) + 1)

    def angle(p: XY) -> float:
        return (math.atan2((p[1] - cy) / ey, (p[0] - cx) / ex) + math.pi / 2) % math.tau

    edge.sort(key=angle)
    return [(y - wy0) * st + x - wx0 for x, y in edge], inner


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


@lru_cache(maxsize=32)
def _brush(width: int) -> tuple[XY, ...]:
    if width <= 1:
        return ((0, 0),)
    lo, hi = -((width - 1) // 2), width // 2
    c = (width - 1) / 2 - (width - 1) // 2
    r2 = (width / 2) ** 2
    return tuple(
        (dx, dy)
        for dy in range(lo, hi + 1)
        for dx in range(lo, hi + 1)
        if (dx - c) ** 2 + (dy - c) ** 2 <= r2
    )


@lru_cache(maxsize=32)
def _leading_edge(width: int, sx: int, sy: int) -> tuple[XY, ...]:
    """Brush offsets not covered by the brush at the previous centre (one step (sx, sy) back)."""
    brush = _brush(width)
    cover = set(brush)
    return tuple((dx, dy) for dx, dy in brush if (dx + sx, dy + sy) not in cover)


def _clip_segment(a: XY, b: XY, box: Win) -> tuple[XY, XY] | None:
    """Liang-Barsky; segments already inside the box are returned unchanged."""
    x0, y0, x1, y1 = box
    if all(x0 <= p[0] <= x1 and y0 <= p[1] <= y1 for p in (a, b)):
        return a, b
    dx, dy = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return (
        (round(a[0] + t0 * dx), round(a[1] + t0 * dy)),
        (round(a[0] + t1 * dx), round(a[1] + t1 * dy)),
    )


def _polyline(points: list[XY], width: int, closed: bool, win: Win, budget: Budget) -> list[int]:
    pts = list(points) + ([points[0]] if closed and len(points) > 2 else [])
    segments = list(pairwise(pts)) or [(pts[0], pts[0])]
    wx0, wy0, wx1, wy1 = win
    st = wx1 - wx0 + 1
    margin = width + max(wx1 - wx0, wy1 - wy0)
    box = (wx0 - margin, wy0 - margin, wx1 + margin, wy1 + margin)
    brush = _brush(width)
    seen: dict[int, None] = {}
    prev: XY | None = None
    for a, b in segments:
        clipped = _clip_segment(a, b, box)
        if clipped is None:
            prev = None
            continue
        for x, y in _bresenham(*clipped[0], *clipped[1]):
            if prev == (x, y):
                continue
            if prev is not None and abs(x - prev[0]) <= 1 and abs(y - prev[1]) <= 1:
                offsets = _leading_edge(width, x - prev[0], y - prev[1])
            else:
                offsets = brush
            if not budget.spend(2 * (1 + len(offsets))):  # Python work per pixel
                return list(seen)
            for dx, dy in offsets:
                px, py = x + dx, y + dy
                if wx0 <= px <= wx1 and wy0 <= py <= wy1:
                    seen[(py - wy0) * st + px - wx0] = None
            prev = (x, y)
    return list(seen)


def _polygon(s: Polygon, win: Win, budget: Budget) -> Pixels_:
    path = _polyline(s.p, 1, True, win, budget)
    if not s.f:
        return path, []
    on_path = set(path)
    inner: list[int] = []
    pts = s.p
    edges = list(zip(pts, pts[1:] + pts[:1], strict=True))
    ys = [p[1] for p in pts]
    wx0, wy0, wx1, wy1 = win
    st = wx1 - wx0 + 1
    for y in range(max(min(ys), wy0), min(max(ys), wy1) + 1):
        yc = y + 0.5
        xs = sorted(
            xa + (yc - ya) * (xb - xa) / (yb - ya)
            for (xa, ya), (xb, yb) in edges
            if (ya <= yc < yb) or (yb <= yc < ya)
        )
        b = (y - wy0) * st - wx0
        for left, right in zip(xs[::2], xs[1::2], strict=False):
            run = range(
                b + max(math.ceil(left - 0.5), wx0), b + min(math.floor(right - 0.5), wx1) + 1
            )
            inner += [i for i in run if i not in on_path]
    return path, inner


def _text(s: Text, win: Win, canvas_w: int) -> list[int]:
    scale = s.s
    if s.w is not None:
        wrap = s.w
    elif s.al == "left":
        wrap = max(canvas_w - s.x, 8 * scale)
    else:  # centred on x: as wide as fits on both sides
        wrap = max(2 * min(s.x, canvas_w - s.x), 8 * scale)
    lines = font.wrap(s.t, wrap, scale)
    line_h = font.LINE_HEIGHT * scale
    top = s.y
    if s.al == "middle":
        top = s.y - (len(lines) * line_h - (font.LINE_HEIGHT - font.HEIGHT) * scale) // 2
    wx0, wy0, wx1, wy1 = win
    st = wx1 - wx0 + 1
    out: list[int] = []
    for n, text in enumerate(lines):
        left = s.x if s.al == "left" else s.x - font.text_width(text, scale) // 2
        y0 = top + n * line_h
        for x, y in font.pen_order(text, scale):
            px, py = left + x, y0 + y
            if wx0 <= px <= wx1 and wy0 <= py <= wy1:
                out.append((py - wy0) * st + px - wx0)
    return out


def _flood(s: Fill, shadow: Shadow) -> list[int]:
    """Canvas indices of the 4-connected same-colour region at (x, y), breadth first."""
    w, n = shadow.width, shadow.width * shadow.height
    if not (0 <= s.x < w and 0 <= s.y < shadow.height):
        return []
    px = shadow.px
    start = s.y * w + s.x
    target = px[start]
    if target == color(s.c):
        return []
    seen = bytearray(n)
    seen[start] = 1
    order = [start]
    for p in order:  # the list grows while we walk it: a queue without popping
        x = p % w
        for q in (p + 1 if x + 1 < w else -1, p - 1 if x else -1, p + w, p - w):
            if 0 <= q < n and not seen[q] and px[q] == target:
                seen[q] = 1
                order.append(q)
    return order


def shape_pixels(s: Shape, shadow: Shadow, win: Win, budget: Budget) -> Pixels_:
    """(path, interior) window indices of one shape."""
    if isinstance(s, Rect):
        return _rect(s, win)
    if isinstance(s, Circle):
        return _oval(s.x, s.y, s.r, s.r, s.f, win)
    if isinstance(s, Ellipse):
        return _oval(s.x, s.y, s.rx, s.ry, s.f, win)
    if isinstance(s, Line):
        return _polyline(s.p, s.w, False, win, budget), []
    if isinstance(s, Polygon):
        return _polygon(s, win, budget)
    wx0, wy0, wx1, wy1 = win
    st = wx1 - wx0 + 1
    if isinstance(s, Pixels):
        return [
            (y - wy0) * st + x - wx0
            for x, y in dict.fromkeys(s.p)
            if wx0 <= x <= wx1 and wy0 <= y <= wy1
        ], []
    if isinstance(s, Fill):
        w = shadow.width
        return [(i // w - wy0) * st + i % w - wx0 for i in _flood(s, shadow)], []
    return _text(s, win, shadow.width), []


# ---------------------------------------------------------------------------- groups
def group_pixels(step: Group, shadow: Shadow, budget: Budget) -> dict[int, int]:
    """Canvas index -> colour of a group, in stroke order (mirror copies drawn together).

    Each mirror copy rasterises the child inside the mirror image of the canvas and maps the
    result back, so a copy is exact (pixel for pixel the mirror of the original, whatever the
    axis) and costs no more than the canvas.
    """
    w, h = shadow.width, shadow.height
    ax2 = round(2 * step.ax) if step.ax is not None else 2 * (w // 2)
    ay2 = round(2 * step.ay) if step.ay is not None else 2 * (h // 2)
    flips = [(False, False)]
    if step.m in ("x", "xy"):
        flips.append((True, False))
    if step.m in ("y", "xy"):
        flips.append((False, True))
    if step.m == "xy":
        flips.append((True, True))
    writes: dict[int, int] = {}
    for kid in step.s:
        col = color(kid.c)
        copies: list[list[int]] = []
        for fx, fy in flips:
            if budget.exhausted:
                break
            if isinstance(kid, Fill):
                seed = Fill(x=ax2 - kid.x if fx else kid.x, y=ay2 - kid.y if fy else kid.y, c=kid.c)
                pix = _flood(seed, shadow)
                budget.spend(len(pix))
                copies.append(pix)
                continue
            wx0 = ax2 - (w - 1) if fx else 0
            wy0 = ay2 - (h - 1) if fy else 0
            path, inner = shape_pixels(kid, shadow, (wx0, wy0, wx0 + w - 1, wy0 + h - 1), budget)
            pix = path + inner
            budget.spend(3 * len(pix))  # mapped, de-duplicated and applied one by one
            if fx and fy:
                pix = [w * h - 1 - j for j in pix]
            elif fx:
                pix = [j + w - 1 - 2 * (j % w) for j in pix]
            elif fy:
                pix = [(h - 1 - j // w) * w + j % w for j in pix]
            copies.append(pix)
        kid_idx = [i for grp in zip_longest(*copies) for i in grp if i is not None]
        for i in kid_idx:
            writes[i] = col
        shadow.apply(kid_idx, col)  # later children (flood fills) see earlier ones
    return writes
