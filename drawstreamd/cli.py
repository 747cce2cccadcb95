"""``drawstreamd``: the daemon and its tools.

    drawstreamd [--demo] [--headless] [--no-window]
                [--config PATH] [--state-dir DIR] [--socket PATH]
    drawstreamd check-config   print the effective configuration (secrets masked)
    drawstreamd schema         print the Canvas-DSL JSON Schema
    drawstreamd render PLAN.json -o OUT.png [--at-ms T] [--scale N]
    drawstreamd plan "MESSAGE" [--backend openai|builtin]
    drawstreamd library [--sheet OUT.png]  list the builtin pictures, or draw them
    drawstreamd gatekeeper     classify stdin lines as JSON lines
    drawstreamd auth           authorise with Donation Alerts and store the tokens
    drawstreamd doctor         check the set-up: one line per check, the fix for each failure
    drawstreamd auth twitch    sign in to Twitch (device code flow) and store the tokens

Exit status: 0 success, 1 a runtime error, 2 bad configuration or usage.
Heavy imports happen only in the subcommand that needs them, so the tools start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drawstreamd.config import Settings

TOOLS = (
    "check-config", "schema", "render", "plan", "library", "gatekeeper", "auth", "doctor", "run",
)  # fmt: skip


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drawstreamd")
    except PackageNotFoundError:
        return "0+unknown"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML config file (default: $XDG_CONFIG_HOME/drawstreamd/config.toml)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="journal, gallery, tokens (default: $XDG_STATE_HOME/drawstreamd)",
    )
    parser.add_argument(
        "--socket",
        type=Path,
        metavar="PATH",
        help="control socket (default: $XDG_RUNTIME_DIR/drawstreamd/control.sock)",
    )


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drawstreamd",
        description="Donation-driven live-drawing daemon. Tools: " + ", ".join(TOOLS[:-1]) + ".",
    )
    _common(p)
    p.add_argument("--demo", action="store_true", help="feed a scripted demo donation source")
    p.add_argument(
        "--headless", action="store_true", help="no real window: SDL's dummy video driver"
    )
    p.add_argument(
        "--no-window", action="store_true", help="no pygame window at all (browser overlay only)"
    )
    p.add_argument("--version", action="version", version=f"drawstreamd {_version()}")
    return p


def load_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from env/.env/TOML with the command line on top; exits 2 on bad config."""
    from drawstreamd import config

    try:
        return config.load(getattr(args, "config", None), **_overrides(args, **extra))
    except config.ConfigError as exc:
        for line in exc.lines:
            print(f"drawstreamd: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _overrides(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    return {
        "STATE_DIR": getattr(args, "state_dir", None),
        "CONTROL_SOCKET": getattr(args, "socket", None),
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tool = argv[0] if argv and argv[0] in TOOLS else "run"
    if tool != "run" or (argv and argv[0] == "run"):
        argv = argv[1:]
    try:
        if tool == "gatekeeper":
            from drawstreamd.gatekeeper.cli import main as gatekeeper_main

            return gatekeeper_main(argv)
        if tool == "schema":
            from drawstreamd.render.cli import schema_main

            return schema_main(argv)
        if tool == "render":
            from drawstreamd.render.cli import render_main

            return render_main(argv)
        if tool == "library":
            from drawstreamd.plan.library.cli import main as library_main

            return library_main(argv)
        if tool == "check-config":
            return _check_config(argv)
        if tool == "plan":
            return _plan(argv)
        if tool == "auth":
            return _auth(argv)
        if tool == "doctor":
            return _doctor(argv)
        return _run(argv)
    except KeyboardInterrupt:
        return 130


def _check_config(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="drawstreamd check-config",
        description="Print the effective configuration, secrets masked.",
    )
    _common(p)
    args = p.parse_args(argv)
    settings = load_settings(args)
    from drawstreamd.config import effective

    for key, value in effective(settings).items():
        print(f"{key}={value}")
    return 0


def _plan(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="drawstreamd plan", add_help=False)  # -h: the planner's
    _common(p)
    args, rest = p.parse_known_args(argv)
    settings = load_settings(args)
    from drawstreamd.plan.cli import main as plan_main

    _mask_secrets(settings)
    return plan_main(settings, rest)


def _auth(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="drawstreamd auth", add_help=False)
    _common(p)
    args, rest = p.parse_known_args(argv)
    settings = load_settings(args)
    _mask_secrets(settings)
    if rest and rest[0] == "twitch":
        from drawstreamd.sources.twitch.auth_cli import main as twitch_main

        return twitch_main(settings, rest[1:])
    if rest and rest[0] == "donationalerts":
        rest = rest[1:]
    from drawstreamd.sources.donationalerts.auth_cli import main as auth_main

    return auth_main(settings, rest)


def _doctor(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="drawstreamd doctor",
        description="Check the set-up the daemon would start with: one line per check, and "
        "the fix for each problem. Exit status 1 when a check fails.",
    )
    _common(p)
    p.add_argument("--headless", action="store_true", help="check as for drawstreamd --headless")
    p.add_argument("--no-window", action="store_true", help="check as for drawstreamd --no-window")
    args = p.parse_args(argv)
    from drawstreamd import config

    loaded: Settings | config.ConfigError
    try:
        loaded = config.load(args.config, **_overrides(args))
    except config.ConfigError as exc:
        loaded = exc
    else:
        _mask_secrets(loaded)
    from drawstreamd.doctor.run import main as doctor_main

    return doctor_main(
        loaded, config_path=args.config, headless=args.headless, window=not args.no_window
    )


def _run(argv: list[str]) -> int:
    import os

    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    args = _run_parser().parse_args(argv)
    settings = load_settings(args)
    from drawstreamd import logs

    logs.setup(settings.LOG_LEVEL, settings.LOG_FORMAT, secrets=_secrets(settings))
    import logging

    log = logging.getLogger("drawstreamd")
    from drawstreamd.daemon import Options, StartupError, lock_state_dir, prepare_state_dir
    from drawstreamd.journal import Journal, JournalError
    from drawstreamd.render.window import prepare_sdl

    try:
        prepare_state_dir(settings.STATE_DIR)
        lock_state_dir(settings.STATE_DIR)
        journal = Journal.open(settings.STATE_DIR / "journal.sqlite3")
    except (StartupError, JournalError) as exc:
        log.error("%s", exc)
        return 1
    headless = prepare_sdl(args.headless) if not args.no_window else True
    options = Options(
        config_path=args.config,
        overrides={"STATE_DIR": args.state_dir, "CONTROL_SOCKET": args.socket},
        demo=args.demo,
        headless=headless,
        window=not args.no_window,
    )
    import trio

    from drawstreamd.daemon import main as daemon_main

    try:
        trio.run(daemon_main, settings, journal, options)
    except StartupError as exc:
        log.error("%s", exc)
        return 1
    except BaseExceptionGroup as group:
        startup, _ = group.split(StartupError)
        if startup is None:
            raise
        log.error("%s", _first_leaf(startup))
        return 1
    finally:
        journal.close()
    return 0


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _mask_secrets(settings: Settings) -> None:
    """Tools print servers' error text: mask configured secrets in all they print, as the
    daemon's log does."""
    from drawstreamd import logs

    logs.add_secrets(_secrets(settings))
    logs.protect_stdio()


def _secrets(settings: Settings) -> list[str]:
    from drawstreamd.config import SECRET_KEYS

    out = []
    for key in SECRET_KEYS:
        value = getattr(settings, key).get_secret_value()
        if value:
            out.append(value)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
