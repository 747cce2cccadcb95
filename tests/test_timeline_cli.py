"""``drawstreamd render`` and ``drawstreamd schema`` on real files."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from drawstreamd.plan import builtin, dsl
from drawstreamd.render import png
from drawstreamd.render.cli import render_main
from drawstreamd.render.timeline import render_at

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _write_plan(tmp_path: Path, name: str = "cat") -> Path:
    path = tmp_path / "plan.json"
    path.write_bytes(dsl.encode(builtin.LIBRARY[name].plan))
    return path


def test_render_writes_the_finished_picture_upscaled(tmp_path: Path) -> None:
    out = tmp_path / "cat.png"
    assert render_main([str(_write_plan(tmp_path)), "-o", str(out), "--scale", "3"]) == 0
    width, height, rgb = png.decode(out.read_bytes())
    assert (width, height) == (288, 288)
    expected = render_at(builtin.LIBRARY["cat"].plan, None)
    assert rgb == png.upscale(96, 96, expected, 3)


def test_render_at_a_time_writes_that_frame(tmp_path: Path) -> None:
    out = tmp_path / "frame.png"
    assert render_main([str(_write_plan(tmp_path)), "-o", str(out), "--at-ms", "700"]) == 0
    _, _, rgb = png.decode(out.read_bytes())
    plan = builtin.LIBRARY["cat"].plan
    assert rgb == render_at(plan, 700)
    assert rgb != render_at(plan, None)


def test_render_reports_dropped_steps_but_draws_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "p.json"
    plan.write_text(
        '{"v":1,"steps":[{"op":"star"},{"op":"rect","x":0,"y":0,"w":9,"h":9,"c":"red"}]}'
    )
    out = tmp_path / "p.png"
    assert render_main([str(plan), "-o", str(out)]) == 0
    assert "step 0: unknown op 'star'" in capsys.readouterr().err
    assert out.exists()


def test_render_refuses_bad_json_and_empty_plans_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    empty = tmp_path / "empty.json"
    empty.write_text('{"v":1,"steps":[{"op":"circle","r":3}]}')
    out = tmp_path / "x.png"
    assert render_main([str(bad), "-o", str(out)]) == 1
    assert "invalid JSON" in capsys.readouterr().err
    assert render_main([str(empty), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "step 0: circle:" in err
    assert "no valid step" in err
    assert render_main([str(tmp_path / "missing.json"), "-o", str(out)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert not out.exists()


def test_render_and_schema_run_as_commands(tmp_path: Path) -> None:
    code = "import sys; from drawstreamd.render.cli import {0}; sys.exit({0}(sys.argv[1:]))"
    out = tmp_path / "sun.png"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code.format("render_main"),
            str(_write_plan(tmp_path, "sun")),
            "-o",
            str(out),
            "--scale",
            "2",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert png.decode(out.read_bytes())[:2] == (192, 192)
    schema = subprocess.run(
        [sys.executable, "-c", code.format("schema_main")],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert schema.returncode == 0
    assert dsl.json_schema() == __import__("json").loads(schema.stdout)
