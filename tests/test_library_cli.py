"""``drawstreamd library``: the subjects and their keywords, or a contact sheet (real process)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from drawstreamd.plan import builtin
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at

if TYPE_CHECKING:
    from pathlib import Path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drawstreamd.cli", "library", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_library_lists_every_subject_with_its_keywords() -> None:
    done = _run()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(builtin.LIBRARY)
    cat = next(line for line in lines if line.startswith("cat "))
    assert cat.split()[1] == "animals"
    assert "котик*" in cat.split()
    assert "kitty" in cat.split()
    assert done.stderr == f"{len(builtin.LIBRARY)} subjects in 9 categories\n"


def test_library_sheet_draws_the_finished_pictures(tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    done = _run("--sheet", str(out), "--category", "animals", "--scale", "1")
    assert done.returncode == 0, done.stderr
    animals = [e for e in builtin.LIBRARY.values() if e.category == "animals"]
    assert f"{len(animals)} subjects" in done.stderr
    width, height, rgb = png.decode(out.read_bytes())
    rows = (len(animals) + 7) // 8  # eight to a row
    assert (width, height) == (min(8, len(animals)) * 104 + 8, rows * (96 + 14 + 8) + 8)
    first = render_at(animals[0].plan, None)
    for y in range(96):  # the first picture sits at (8, 8), pixel for pixel
        row = rgb[((8 + y) * width + 8) * 3 : ((8 + y) * width + 8 + 96) * 3]
        assert row == first[y * 96 * 3 : (y + 1) * 96 * 3]


def test_library_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    done = _run("--sheet", str(tmp_path / "missing" / "sheet.png"))
    assert done.returncode == 1
    assert done.stderr.startswith("drawstreamd library: cannot write ")
    assert len(done.stderr.splitlines()) == 1
    bad = _run("--category", "pets")
    assert bad.returncode == 2
    assert "invalid choice: 'pets'" in bad.stderr
