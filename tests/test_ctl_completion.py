"""The bash completion in contrib/ completes what drawstreamctl really accepts."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import trio
from test_control_harness import open_stack
from test_control_unix import serve_stack

from drawstreamd import ctl
from drawstreamd.model import EVENT_KINDS

SCRIPT = Path(__file__).resolve().parent.parent / "contrib" / "bash-completion" / "drawstreamctl"

# bash-completion's helpers, reduced to what the script uses
SHIM = r"""
_init_completion() {
    words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
}
_filedir() { COMPREPLY=(FILES); }
"""


def complete(*words: str) -> list[str]:
    bash = shutil.which("bash")
    assert bash is not None
    array = " ".join(f"'{w}'" for w in ("drawstreamctl", *words))
    script = (
        f"{SHIM}\nsource '{SCRIPT}'\nCOMP_WORDS=({array}); COMP_CWORD={len(words)}\n"
        '_drawstreamctl; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    out = subprocess.run([bash, "-c", script], capture_output=True, text=True, check=True, env=env)
    return sorted(line for line in out.stdout.splitlines() if line)


def subcommands() -> set[str]:
    parser = ctl.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("no subcommands")


def test_every_subcommand_is_completed() -> None:
    assert set(complete("")) == subcommands()
    assert complete("re") == ["remove", "replay", "resume"]


def test_options_per_subcommand() -> None:
    assert complete("donate", "--") == ["--amount", "--currency", "--help", "--json", "--name",
                                        "--socket"]  # fmt: skip
    assert "--offset" in complete("history", "--")
    assert complete("token", "--") == ["--help", "--json", "--rotate", "--socket", "--state-dir"]
    assert complete("mod-url", "--") == ["--help", "--host", "--json", "--socket"]
    assert complete("mod-url", "--host", "") == []  # a name the user knows, not a file
    assert complete("--socket", "") == ["FILES"]
    assert complete("--socket", "/x.sock", "sta") == ["stats", "status"]


def test_event_kinds_are_the_daemons() -> None:
    assert set(complete("events", "")) == set(EVENT_KINDS)


async def test_ids_come_from_the_running_daemon(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_stack(tmp_path) as st, serve_stack(st) as sock:
            await st.commands.pause()
            for word in ("кот", "дом", "лес"):
                await st.commands.donate(word)
            await st.commands.remove(2)
            got = await trio.to_thread.run_sync(complete, "--socket", str(sock), "remove", "")
            assert got == ["1", "3"]
            got = await trio.to_thread.run_sync(complete, "--socket", str(sock), "replay", "")
            assert got == ["1", "2", "3"]
    nothing = await trio.to_thread.run_sync(complete, "--socket", str(sock), "remove", "")
    assert nothing == []  # no daemon: no ids and no error text
