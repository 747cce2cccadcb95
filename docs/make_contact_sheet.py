"""Write the contact sheets in docs/: the whole library by category, and what the builtin
planner composes.

    .venv/bin/python docs/make_contact_sheet.py [--scale N] [--out DIR]

* ``docs/library-<category>.png``: every subject of the category, finished, labelled;
* ``docs/contact-sheet.png``: pictures composed from requests (two subjects, a colour, an
  accessory, a setting, many) and the cards (text, "too small", error).

Run it after the library changes and look at the sheets before committing them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from drawstreamd.plan import builtin
from drawstreamd.plan.library import CATEGORIES
from drawstreamd.render.sheet import write_sheet

if TYPE_CHECKING:
    from drawstreamd.plan.dsl import Plan

COMPOSED = (
    "нарисуй кота и собаку",
    "a red car",
    "кот в короне",
    "собака ночью",
    "a cat on the grass",
    "много сердечек",
    "ёжик в шляпе в снегу",
    "draw a penguin in a scarf",
    "два пингвина на море",
    "синий кот в очках",
    "rocket and moon",
    "a few fish in the sea",
)


def composed_plans() -> list[tuple[str, Plan]]:
    plans = []
    for message in COMPOSED:
        plan = builtin.picture(message)
        if plan is not None:  # some need subjects the library may not have yet
            plans.append((message, plan))
    plans.append(("text card", builtin.text_card("Нарисуй единорога на радуге, пожалуйста!")))
    plans.append(("too small", builtin.too_small_card()))
    plans.append(("error card", builtin.error_card()))
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    for category in CATEGORIES:
        items = [(e.name, e.plan) for e in builtin.LIBRARY.values() if e.category == category]
        if items:
            path = args.out / f"library-{category}.png"
            print(f"wrote {path} ({write_sheet(str(path), items, scale=args.scale, cols=8)})")
    path = args.out / "contact-sheet.png"
    print(f"wrote {path} ({write_sheet(str(path), composed_plans(), scale=args.scale)})")


if __name__ == "__main__":
    main()
