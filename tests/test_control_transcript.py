"""docs/control-transcript.txt is a real session: this test replays it against a real socket.

Refresh the document after a protocol change with:

    .venv/bin/python tests/test_control_transcript.py

Only values that change from run to run (times, the package version) are ignored when
comparing.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import trio
import trio.testing
from test_control_harness import open_stack
from test_control_unix import serve_stack

DOC = Path(__file__).resolve().parent.parent / "docs" / "control-transcript.txt"
SESSION = (
    "ping",
    "status",
    "pause",
    'donate "нарисуй кота" Маша 150 RUB',
    'donate "a little house with a tree" Kate 10 EUR',
    'donate "draw a swastika flag" troll 50 RUB',
    "queue",
    "remove 2",
    "remove 2",
    "frobnicate",
    "idle queued",
    "history 2",
    "resume",
    "close",
)
HEADER = (
    "# A real session with drawstreamd's control socket, as socat shows it. Typed, one per\n"
    "# reply: " + " | ".join(SESSION) + "\n"
    "# While 'idle queued' waits, another terminal runs: drawstreamctl donate нарисуй солнышко\n"
    "# Captured by tests/test_control_transcript.py, which checks on every run that it holds.\n"
    "#\n"
    "$ socat - UNIX-CONNECT:$XDG_RUNTIME_DIR/drawstreamd/control.sock\n"
)
VARYING = re.compile(r"^(uptime_sec|queued_at|updated_at|at|version): .*$", re.MULTILINE)


async def capture(tmp_path: Path) -> str:
    out: list[str] = []
    async with open_stack(tmp_path) as st, serve_stack(st) as path:
        stream = await trio.open_unix_socket(str(path))
        async with stream:
            buf = bytearray()

            async def line() -> str:
                while b"\n" not in buf:
                    data = await stream.receive_some(4096)
                    if not data:
                        raise EOFError
                    buf.extend(data)
                nl = buf.index(b"\n")
                text = bytes(buf[:nl]).decode()
                del buf[: nl + 1]
                out.append(text)
                return text

            await line()  # the greeting
            for request in SESSION:
                out.append(request)
                await stream.send_all(request.encode() + b"\n")
                if request == "close":
                    break
                if request.startswith("idle"):
                    await trio.testing.wait_all_tasks_blocked()
                    await st.commands.donate("нарисуй солнышко")
                while True:
                    text = await line()
                    if text == "OK" or text.startswith("ACK "):
                        break
    return HEADER + "\n".join(out) + "\n"


def normal(text: str) -> str:
    return VARYING.sub(r"\1: …", text)


async def test_the_documented_transcript_is_what_the_daemon_says(tmp_path: Path) -> None:
    with trio.fail_after(20):
        fresh = await capture(tmp_path)
    assert normal(DOC.read_text(encoding="utf-8")) == normal(fresh)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        DOC.write_text(trio.run(capture, Path(tmp)), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
