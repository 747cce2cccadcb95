"""``drawstreamd doctor``: every check at once, one line each, and the fixes.

The checks run concurrently under Trio with short timeouts, so the doctor answers within a
few seconds even when every server it asks is down. Output: ``✓`` passed, ``!`` a warning
(passes), ``✗`` failed, each ``✗`` and ``!`` followed by an indented ``fix:`` line. Exit status
1 when any check failed, else 0.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import httpx
import trio

from drawstreamd.config import ConfigError, default_config_path
from drawstreamd.doctor import llm, screen, sources, state, surfaces
from drawstreamd.doctor.result import Check, Context, Result, Status, fail, ok, warn

if TYPE_CHECKING:
    from drawstreamd.config import Settings

CHECK_DEADLINE_SEC = 6.0
"""A check still running by then is reported as failed (each one has shorter timeouts)."""
MARKS = {Status.OK: "✓", Status.WARN: "!", Status.FAIL: "✗"}
ASCII_MARKS = {Status.OK: "+", Status.WARN: "!", Status.FAIL: "x"}


def checks() -> list[Check]:
    """Every check in the order its lines are printed; the sources' come from
    :data:`drawstreamd.doctor.sources.SOURCE_CHECKS`."""
    return [
        Check("state dir", state.state_dir),
        Check("journal", state.journal),
        Check("token files", state.token_files),
        Check("control socket", surfaces.control_socket),
        Check("HTTP port", surfaces.http_port),
        Check("network exposure", surfaces.exposure),
        Check("LLM", llm.llm),
        *sources.SOURCE_CHECKS,
        Check("display", screen.display, needs_settings=False),
        Check("fonts", screen.fonts, needs_settings=False),
    ]


def config_result(loaded: Settings | ConfigError, config_path: Path | None) -> Result:
    """The configuration line: the bad keys one per line, exactly as the daemon reports them."""
    path = config_path or default_config_path()
    if isinstance(loaded, ConfigError):
        lines = loaded.lines
        plural = "s" if len(lines) > 1 else ""
        return fail(
            "configuration",
            f"{len(lines)} problem{plural}:\n" + "\n".join(lines),
            f"correct the value{plural} (set in the environment, .env or {path}); "
            "`drawstreamd check-config` then prints every value in effect",
        )
    read = [str(path)] if path.exists() else [f"no file at {path}"]
    if Path(".env").is_file():
        read.append(str(Path(".env").resolve()))
    return ok("configuration", f"loads ({', '.join(read)}, the environment, the defaults)")


async def _run_one(ctx: Context, check: Check, slot: list[Result]) -> None:
    with trio.move_on_after(CHECK_DEADLINE_SEC):
        try:
            slot.extend(await check.run(ctx))
        except Exception as exc:
            slot.append(
                fail(
                    check.name,
                    f"the check itself failed ({type(exc).__name__}: {exc})",
                    "this is a bug in drawstreamd doctor; please report it with this line",
                )
            )
        return
    slot.append(
        fail(
            check.name,
            f"did not finish within {CHECK_DEADLINE_SEC:g} s",
            "run `drawstreamd doctor` again; if this line stays, report it",
        )
    )


async def run_checks(ctx: Context, todo: list[Check]) -> list[Result]:
    """Run ``todo`` concurrently; the results come back in ``todo``'s order."""
    slots: list[list[Result]] = [[] for _ in todo]
    async with trio.open_nursery() as nursery:
        for check, slot in zip(todo, slots, strict=True):
            nursery.start_soon(_run_one, ctx, check, slot)
    return [r for slot in slots for r in slot]


async def diagnose(
    loaded: Settings | ConfigError,
    *,
    config_path: Path | None = None,
    headless: bool = False,
    window: bool = True,
    todo: list[Check] | None = None,
) -> list[Result]:
    """Every result line, the configuration's first."""
    settings = None if isinstance(loaded, ConfigError) else loaded
    todo = checks() if todo is None else todo
    runnable = [c for c in todo if settings is not None or not c.needs_settings]
    skipped = [c.name for c in todo if c not in runnable]
    pid = state.daemon_pid(settings.STATE_DIR) if settings is not None else None
    async with httpx.AsyncClient(timeout=surfaces.PROBE_TIMEOUT_SEC) as http:
        ctx = Context(settings, http, pid, headless=headless, window=window)
        results = await run_checks(ctx, runnable)
    head = [config_result(loaded, config_path)]
    if skipped:
        head.append(
            warn(
                "not checked",
                ", ".join(skipped),
                "these need a configuration that loads: fix it, then run `drawstreamd doctor` "
                "again",
            )
        )
    return head + results


def _marks(stream: TextIO) -> dict[Status, str]:
    try:
        "".join(MARKS.values()).encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return ASCII_MARKS
    return MARKS


def report(results: list[Result], stream: TextIO) -> None:
    marks = _marks(stream)
    for r in results:
        first, *more = r.detail.splitlines() or [""]
        print(f"{marks[r.status]} {r.name}: {first}", file=stream)
        for line in more:
            print(f"    {line}", file=stream)
        if r.fix and r.status is not Status.OK:
            print(f"    fix: {r.fix}", file=stream)
    failed = sum(r.status is Status.FAIL for r in results)
    warned = sum(r.status is Status.WARN for r in results)
    also = f"; {warned} warning{'s' if warned > 1 else ''} ({marks[Status.WARN]})" if warned else ""
    if failed:
        plural = "s" if failed > 1 else ""
        print(f"\n{failed} problem{plural} to fix ({marks[Status.FAIL]} above){also}.", file=stream)
    else:
        print(f"\nNothing stands in the daemon's way{also}.", file=stream)


def main(
    loaded: Settings | ConfigError,
    *,
    config_path: Path | None = None,
    headless: bool = False,
    window: bool = True,
) -> int:
    """Run the doctor and print its report; 1 when a check failed, else 0."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    results = trio.run(
        partial(diagnose, loaded, config_path=config_path, headless=headless, window=window)
    )
    report(results, sys.stdout)
    sys.stdout.flush()
    return 1 if any(r.status is Status.FAIL for r in results) else 0
