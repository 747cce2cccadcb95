"""Contact sheets: finished pictures side by side, each labelled (for people to look at).

Pure: plans in, RGB bytes out (``png.encode`` writes them). Used by ``drawstreamd library
--sheet``, ``docs/make_contact_sheet.py`` and ``bench/coverage.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from drawstreamd.render import font, png
from drawstreamd.render.timeline import render_at

if TYPE_CHECKING:
    from collections.abc import Sequence

    from drawstreamd.plan.dsl import Plan

CANVAS: Final = 96
LABEL_H: Final = 14
GAP: Final = 8
PAPER: Final = (0x10, 0x12, 0x20)
INK: Final = (0xFF, 0xF1, 0xE8)


def _fit(label: str, width: int) -> str:
    """The label, shortened with ".." until it fits ``width`` pixels."""
    if font.text_width(label) <= width:
        return label
    while label and font.text_width(label + "..") > width:
        label = label[:-1]
    return label.rstrip() + ".."


def contact_sheet(
    items: Sequence[tuple[str, Plan]], *, scale: int = 2, cols: int = 6
) -> tuple[int, int, bytes]:
    """(width, height, RGB) of the finished pictures in rows of ``cols``, labels under them."""
    side = CANVAS * scale
    cell_w, cell_h = side + GAP, side + LABEL_H + GAP
    cols = max(1, min(cols, len(items)))
    rows = max(1, (len(items) + cols - 1) // cols)
    width, height = cols * cell_w + GAP, rows * cell_h + GAP
    img = bytearray(bytes(PAPER) * (width * height))
    stride = side * 3
    for i, (label, plan) in enumerate(items):
        ox, oy = GAP + (i % cols) * cell_w, GAP + (i // cols) * cell_h
        rgb = png.upscale(CANVAS, CANVAS, render_at(plan, None), scale)
        for y in range(side):
            start = ((oy + y) * width + ox) * 3
            img[start : start + stride] = rgb[y * stride : (y + 1) * stride]
        text = _fit(label, side)
        left = ox + (side - font.text_width(text)) // 2
        for x, y in font.pen_order(text):
            at = ((oy + side + 4 + y) * width + left + x) * 3
            img[at : at + 3] = bytes(INK)
    return width, height, bytes(img)


def write_sheet(
    path: str, items: Sequence[tuple[str, Plan]], *, scale: int = 2, cols: int = 6
) -> str:
    """Write a contact sheet PNG; returns its size as ``WxH``."""
    width, height, rgb = contact_sheet(items, scale=scale, cols=cols)
    with open(path, "wb") as out:
        out.write(png.encode(width, height, rgb))
    return f"{width}x{height}"
