"""``drawstreamd gatekeeper``: classify messages from stdin, one JSON verdict per line.

Reads UTF-8 lines as they arrive (nothing is read ahead), writes
``{"nsfw": true|false, "rule": "<rule>"|null}`` for each and flushes after every line, so a
caller can write one message and read its answer before sending the next. Imports only what
it needs so that it starts about as fast as Python itself.
"""

from __future__ import annotations

import os
import sys

from drawstreamd.gatekeeper.filter import Gatekeeper

USAGE = """\
usage: drawstreamd gatekeeper [--block WORD]... [--allow WORD]...

Read messages (one per line, UTF-8) on stdin; print one JSON verdict per line:
{"nsfw": true|false, "rule": "<rule name>"|null}

  --block WORD   also block this word (or stem*, or a phrase in quotes); repeatable
  --allow WORD   never block this word (or stem*); repeatable
"""


def _parse(argv: list[str]) -> tuple[list[str], list[str]] | str:
    """The --block and --allow words, or an error message."""
    lists: dict[str, list[str]] = {"--block": [], "--allow": []}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name not in lists:
            return f"unknown argument: {arg}"
        if not eq:
            value = next(args, "")
            if not value:
                return f"{name} needs a word"
        lists[name].append(value)
    return lists["--block"], lists["--allow"]


def _json(nsfw: bool, rule: str | None) -> str:
    # Rule names are fixed ASCII identifiers ("sexual:genitals", "config:block").
    shown = "null" if rule is None else '"' + rule.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return '{"nsfw": ' + ("true" if nsfw else "false") + ', "rule": ' + shown + "}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the stdin→stdout loop until end of input; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE)
        return 0
    parsed = _parse(args)
    if isinstance(parsed, str):
        sys.stderr.write(f"drawstreamd gatekeeper: {parsed}\n{USAGE}")
        return 2
    gate = Gatekeeper(extra_block=parsed[0], extra_allow=parsed[1])
    source = sys.stdin.buffer
    out = sys.stdout
    try:
        while True:
            raw = source.readline()
            if not raw:
                return 0
            verdict = gate.check(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            # The line is the refusal verdict: a doubtful rule is for moderators, not here.
            out.write(_json(verdict.nsfw, verdict.rule if verdict.nsfw else None))
            out.flush()
    except BrokenPipeError:
        # The reader went away: nothing left to answer, and nothing to flush at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
