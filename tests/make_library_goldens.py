"""Write the golden image of every library subject: tests/golden/library/<name>.png.

    .venv/bin/python tests/make_library_goldens.py                 # every subject
    .venv/bin/python tests/make_library_goldens.py --only missing  # subjects without one
    .venv/bin/python tests/make_library_goldens.py cat dog         # these subjects

The image is the finished picture (96x96) as the renderer draws it; tests/test_library_golden.py
compares the renderer's output with it pixel for pixel. Look at every image this writes
before committing it (the file viewer shows PNGs): a golden freezes what is there, right or
wrong. It also names golden images whose subject no longer exists (delete those).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drawstreamd.plan.library import SUBJECTS
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at

GOLDEN = Path(__file__).parent / "golden" / "library"


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.png"


def picture(name: str) -> bytes:
    """The finished picture of a subject, as PNG bytes."""
    return png.encode(96, 96, render_at(SUBJECTS[name].plan, None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these subjects")
    parser.add_argument("--only", choices=["missing"], help="only subjects without a golden")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SUBJECTS]
    if unknown:
        print(f"not in the library: {', '.join(unknown)}", file=sys.stderr)
        return 2
    names = args.names or sorted(SUBJECTS)
    if args.only == "missing":
        names = [n for n in names if not golden_path(n).exists()]
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in names:
        golden_path(name).write_bytes(picture(name))
        print(f"wrote {golden_path(name)}")
    for stale in sorted(set(p.stem for p in GOLDEN.glob("*.png")) - set(SUBJECTS)):
        print(f"no subject {stale!r} any more: delete {golden_path(stale)}", file=sys.stderr)
    print(f"{len(names)} golden image(s) written; look at them before committing", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
