"""``drawstreamd gatekeeper``: classify messages from stdin, one JSON verdict per line.

Reads UTF-8 lines as they arrive (nothing is read ahead), writes
``{"nsfw": true|false, "rule": "<rule>"|null}`` for each and flushes after every line, so a
caller can write one message and read its answer before sending the next.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from drawstreamd.gatekeeper.filter import Gatekeeper


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drawstreamd gatekeeper",
        description="Read messages (one per line) on stdin; print one JSON verdict per line.",
    )
    parser.add_argument(
        "--block",
        action="append",
        default=[],
        metavar="WORD",
        help="extra word (or stem*) to block; repeatable",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="WORD",
        help="extra word (or stem*) never to block; repeatable",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the stdin→stdout loop until end of input; returns the exit status."""
    args = _parser().parse_args(argv)
    gate = Gatekeeper(extra_block=args.block, extra_allow=args.allow)
    source = sys.stdin.buffer
    out = sys.stdout
    try:
        while True:
            raw = source.readline()
            if not raw:
                return 0
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            verdict = gate.check(line)
            out.write(json.dumps({"nsfw": verdict.nsfw, "rule": verdict.rule}) + "\n")
            out.flush()
    except BrokenPipeError:
        # The reader went away: nothing left to answer, and nothing to flush at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
