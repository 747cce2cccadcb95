"""Every library subject draws exactly its golden image (tests/golden/library/<name>.png).

The test is parametrised over whatever the library holds: a new subject is tested the moment
its file exists, and fails until its golden image is made (and looked at) with
``.venv/bin/python tests/make_library_goldens.py --only missing``.
"""

from __future__ import annotations

import pytest
from make_library_goldens import GOLDEN, golden_path

from drawstreamd.plan.library import SUBJECTS
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_subject_matches_its_golden_image(name: str) -> None:
    path = golden_path(name)
    if not path.exists():
        pytest.fail(
            f"{SUBJECTS[name].source} has no golden image: run "
            f"'.venv/bin/python tests/make_library_goldens.py {name}', look at {path}, commit it"
        )
    width, height, expected = png.decode(path.read_bytes())
    assert (width, height) == (96, 96)
    actual = render_at(SUBJECTS[name].plan, None)
    if actual != expected:
        wrong = sum(1 for i in range(0, len(actual), 3) if actual[i : i + 3] != expected[i : i + 3])
        pytest.fail(f"{wrong} pixels of {name} differ from {path.name}")


def test_every_golden_image_belongs_to_a_subject() -> None:
    stale = sorted(p.stem for p in GOLDEN.glob("*.png") if p.stem not in SUBJECTS)
    assert stale == [], "golden images of subjects that are gone"
