"""``drawstreamd library [--sheet OUT.png]``: what the builtin library can draw.

Without ``--sheet``: one line per subject, ``name  category  keywords``. With it: a contact
sheet of the finished pictures (``--category`` picks one category). Exit status 2 for bad
arguments, 1 when the sheet cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from drawstreamd.plan.library import CATEGORIES, SUBJECTS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drawstreamd library",
        description="List the builtin library's subjects and keywords, or draw a contact sheet.",
    )
    parser.add_argument("--sheet", metavar="OUT.png", help="write a contact sheet PNG instead")
    parser.add_argument("--category", choices=CATEGORIES, help="only this category")
    parser.add_argument("--scale", type=int, default=2, choices=range(1, 9), metavar="N",
                        help="sheet pixels per canvas pixel (1-8, default 2)")  # fmt: skip
    return parser


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    entries = [e for e in SUBJECTS.values() if args.category in (None, e.category)]
    if args.sheet is None:
        width = max((len(e.name) for e in entries), default=0)
        for e in entries:
            out.write(f"{e.name:<{width}}  {e.category:<8}  {' '.join(e.keywords)}\n")
        categories = len({e.category for e in entries})
        err.write(f"{len(entries)} subjects in {categories} categories\n")
        return 0
    from drawstreamd.render.sheet import write_sheet

    try:
        size = write_sheet(args.sheet, [(e.name, e.plan) for e in entries], scale=args.scale,
                           cols=8)  # fmt: skip
    except OSError as exc:
        err.write(f"drawstreamd library: cannot write {args.sheet}: {exc.strerror or exc}\n")
        return 1
    err.write(f"wrote {args.sheet} ({size}, {len(entries)} subjects)\n")
    return 0
