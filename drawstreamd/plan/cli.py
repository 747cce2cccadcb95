"""``drawstreamd plan "MESSAGE" [--backend openai|builtin]``: try a request without going live.

Prints the validated plan JSON on stdout (ready for ``drawstreamd render``); on stderr, when
the first step arrived and when the plan was complete, and every dropped step's reason. The
exit status is 0 for a complete plan, 1 when the planner failed (a partial plan, if any steps
arrived, is still printed), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

import httpx
import msgspec
import trio

from drawstreamd.plan import dsl
from drawstreamd.plan.base import PlanBuffer, PlannerError
from drawstreamd.plan.builtin import BuiltinPlanner
from drawstreamd.plan.llm import OpenAIPlanner

if TYPE_CHECKING:
    from drawstreamd.config import Settings
    from drawstreamd.plan.base import Planner


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drawstreamd plan",
        description="Plan a drawing for MESSAGE and print the plan JSON (nothing is drawn).",
    )
    parser.add_argument("message", metavar="MESSAGE", help="the donor's message")
    parser.add_argument(
        "--backend",
        choices=["openai", "builtin"],
        default=None,
        help="planner to use (default: LLM_BACKEND); openai = LLM_ENDPOINT, LLM_MODEL_ID",
    )
    parser.add_argument("--compact", action="store_true", help="one line of JSON")
    return parser


def main(settings: Settings, argv: list[str]) -> int:
    """Run ``drawstreamd plan``; ``argv`` are the words after ``plan``. Returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    backend: str = args.backend or settings.LLM_BACKEND
    return trio.run(_run, settings, backend, args.message, args.compact, sys.stdout, sys.stderr)


async def _run(
    settings: Settings, backend: str, message: str, compact: bool, out: TextIO, err: TextIO
) -> int:
    buffer = PlanBuffer()
    start = trio.current_time()
    first: list[float] = []
    status = 0

    async def watch() -> None:
        while not buffer.steps and not buffer.closed:
            await buffer.wait_changed()
        if buffer.steps:
            first.append(trio.current_time() - start)

    async with httpx.AsyncClient() as http:
        planner: Planner
        if backend == "builtin":
            planner = BuiltinPlanner()
        else:
            planner = OpenAIPlanner(settings, http)
            err.write(f"asking {settings.LLM_MODEL_ID} at {settings.LLM_ENDPOINT}\n")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            try:
                await planner.plan(message, buffer)
            except PlannerError as exc:
                err.write(f"planning failed: {exc}\n")
                status = 1
            nursery.cancel_scope.cancel()
    total = trio.current_time() - start
    for reason in buffer.errors:
        err.write(f"dropped: {reason}\n")
    if not buffer.steps:
        err.write("no plan\n")
        return 1
    plan, errors = dsl.validate(
        dsl.encode(dsl.Plan(seed=buffer.seed, bg=buffer.bg, steps=buffer.steps))
    )
    for reason in errors:
        err.write(f"dropped: {reason}\n")
    if plan is None:  # pragma: no cover - every step in the buffer was validated already
        return 1
    text = dsl.encode(plan) if compact else msgspec.json.format(dsl.encode(plan), indent=2)
    out.write(text.decode() + "\n")
    origin = buffer.origin or backend
    when = f"first step after {first[0]:.2f} s, " if first else ""
    err.write(f"{origin}: {len(plan.steps)} step(s); {when}done after {total:.2f} s\n")
    return status
