"""``drawstreamd schema`` and ``drawstreamd render``: the DSL from the command line.

``render PLAN.json -o OUT.png [--at-ms T] [--scale N] [--width W --height H]`` writes the frame
at time T (default: the finished picture), upscaled nearest-neighbour. Bad JSON or a plan with
no valid step prints the validation errors on stderr and exits 1; dropped steps of an
otherwise valid plan are reported on stderr too (exit 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from drawstreamd.plan.dsl import json_schema, validate
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at


def schema_main(argv: list[str]) -> int:
    """Print the JSON Schema of a plan (the one the LLM is asked to follow)."""
    parser = argparse.ArgumentParser(
        prog="drawstreamd schema", description="Print the Canvas-DSL JSON Schema."
    )
    parser.add_argument("--compact", action="store_true", help="one line, no indentation")
    args = parser.parse_args(argv)
    schema = json_schema()
    if args.compact:
        print(json.dumps(schema, ensure_ascii=False, separators=(",", ":")))
    else:
        print(json.dumps(schema, ensure_ascii=False, indent=2))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def render_main(argv: list[str]) -> int:
    """Render a plan file to a PNG; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="drawstreamd render", description="Render a Canvas-DSL plan to a PNG."
    )
    parser.add_argument("plan", type=Path, help="plan JSON file ('-' reads stdin)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    parser.add_argument(
        "--at-ms", type=_non_negative, default=None, help="time in ms (default: finished)"
    )
    parser.add_argument("--scale", type=_positive, default=1, help="nearest-neighbour factor")
    parser.add_argument("--width", type=_positive, default=96, help="canvas width")
    parser.add_argument("--height", type=_positive, default=96, help="canvas height")
    parser.add_argument(
        "--step-ms", type=_non_negative, default=600, help="default step duration in ms"
    )
    args = parser.parse_args(argv)
    if args.scale * max(args.width, args.height) > 8192 or max(args.width, args.height) > 512:
        print("error: image too large (canvas <= 512, scaled <= 8192 px)", file=sys.stderr)
        return 1
    try:
        raw = sys.stdin.buffer.read() if str(args.plan) == "-" else args.plan.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.plan}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    plan, errors = validate(raw)
    for reason in errors:
        print(f"{args.plan}: {reason}", file=sys.stderr)
    if plan is None:
        return 1
    rgb = render_at(plan, args.at_ms, width=args.width, height=args.height, default_ms=args.step_ms)
    w, h = args.width * args.scale, args.height * args.scale
    data = png.encode(w, h, png.upscale(args.width, args.height, rgb, args.scale))
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
