"""Write docs/contact-sheet.png: every builtin library plan and the cards, finished, labelled.

Usage: .venv/bin/python docs/make_contact_sheet.py [OUT.png] [--scale N]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from drawstreamd.plan import builtin
from drawstreamd.render import font, png
from drawstreamd.render.timeline import render_at

if TYPE_CHECKING:
    from drawstreamd.plan.dsl import Plan

CANVAS = 96
COLS = 6
LABEL_H = 14
GAP = 8
PAPER = (0x10, 0x12, 0x20)
INK = (0xFF, 0xF1, 0xE8)


def sheet_plans() -> list[tuple[str, Plan]]:
    plans = [(name, entry.plan) for name, entry in builtin.LIBRARY.items()]
    plans.append(("text card", builtin.text_card("Нарисуй единорога на радуге, пожалуйста!")))
    plans.append(("too small", builtin.too_small_card()))
    plans.append(("error card", builtin.error_card()))
    return plans


def make_sheet(scale: int) -> tuple[int, int, bytes]:
    plans = sheet_plans()
    cell_w = CANVAS * scale + GAP
    cell_h = CANVAS * scale + LABEL_H + GAP
    rows = (len(plans) + COLS - 1) // COLS
    width, height = COLS * cell_w + GAP, rows * cell_h + GAP
    img = bytearray(bytes(PAPER) * (width * height))
    for i, (name, plan) in enumerate(plans):
        ox = GAP + (i % COLS) * cell_w
        oy = GAP + (i // COLS) * cell_h
        rgb = png.upscale(CANVAS, CANVAS, render_at(plan, None), scale)
        stride = CANVAS * scale * 3
        for y in range(CANVAS * scale):
            start = ((oy + y) * width + ox) * 3
            img[start : start + stride] = rgb[y * stride : (y + 1) * stride]
        label_x = ox + (CANVAS * scale - font.text_width(name)) // 2
        for x, y in font.pen_order(name):
            at = ((oy + CANVAS * scale + 4 + y) * width + label_x + x) * 3
            img[at : at + 3] = bytes(INK)
    return width, height, bytes(img)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/contact-sheet.png"))
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    width, height, rgb = make_sheet(args.scale)
    args.out.write_bytes(png.encode(width, height, rgb))
    print(f"wrote {args.out} ({width}x{height})")


if __name__ == "__main__":
    main()
