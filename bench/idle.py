"""What an idle daemon costs: CPU of the whole ``drawstreamd`` process while nothing changes.

    .venv/bin/python bench/idle.py [--runs 3] [--seconds 20] [--mode headless|no-window]

Each run starts the real daemon (``drawstreamd --headless``: the pygame window under SDL's
dummy driver; the HTTP API up on a free loopback port; the builtin planner; FRAME_RATE 60),
connects an overlay client to ``/overlay/ws`` and reads it as the page does, then measures the
process's CPU time (utime + stime from ``/proc/<pid>/stat``, every thread) over ``--seconds``:

* **idle**: the empty screen, "Waiting for donations";
* **holding**: after two ``drawstreamctl donate``, the first finished picture on show (the
  default 90 s hold: its progress bar fills) while the second waits with its ETA counting
  down in "Next up".

Prints each run and the medians (budget: at most 1 % of one core in both), with what the
overlay socket received meanwhile.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import trio
import trio_websocket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import DaemonProcess  # the tests' own way to start the daemon

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of proc(5)


@dataclass
class Feed:
    """What the overlay socket delivered."""

    messages: int = 0
    bytes: int = 0
    phase: str = "?"

    async def read(self, ws: trio_websocket.WebSocketConnection) -> None:
        while True:
            msg = await ws.get_message()
            self.messages += 1
            self.bytes += len(msg)
            if isinstance(msg, str):
                data = json.loads(msg)
                if data.get("t") == "hud" and "phase" in data:
                    self.phase = data["phase"]


@dataclass
class Window:
    cpu_percent: float
    messages: int
    bytes: int


async def measure(pid: int, feed: Feed, seconds: float) -> Window:
    m0, b0 = feed.messages, feed.bytes
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await trio.sleep(seconds)
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - t0
    return Window(100.0 * cpu / wall, feed.messages - m0, feed.bytes - b0)


async def one_run(mode: str, seconds: float) -> tuple[Window, Window]:
    home = Path(tempfile.mkdtemp(prefix="dsd-idle-"))
    (home / "run").mkdir()
    port = free_port()
    daemon = DaemonProcess(
        home, home / "state", f"--{mode}", port=port, FRAME_RATE="60", SHOW_DURATION_SEC="90"
    )
    try:
        await trio.to_thread.run_sync(daemon.wait_ready)
        feed = Feed()
        url = f"ws://127.0.0.1:{port}/overlay/ws"
        async with trio_websocket.open_websocket_url(url) as ws, trio.open_nursery() as nursery:
            nursery.start_soon(feed.read, ws)
            await trio.sleep(3.0)  # start-up settles
            idle = await measure(daemon.proc.pid, feed, seconds)
            for name, subject in (("Маша", "нарисуй кота"), ("Alex", "draw a rocket")):
                await trio.to_thread.run_sync(
                    functools.partial(daemon.ctl, "donate", "--name", name, subject)
                )
            with trio.fail_after(120):
                while feed.phase != "holding":  # noqa: ASYNC110 - the socket tells the phase
                    await trio.sleep(0.1)
            await trio.sleep(2.0)
            holding = await measure(daemon.proc.pid, feed, seconds)
            nursery.cancel_scope.cancel()
        return idle, holding
    finally:
        code = daemon.stop()
        if code != 0:
            print(daemon.output(), file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--mode", choices=("headless", "no-window"), default="headless")
    args = ap.parse_args()
    results: dict[str, list[Window]] = {"idle": [], "holding": []}
    for n in range(args.runs):
        idle, holding = trio.run(one_run, args.mode, args.seconds)
        results["idle"].append(idle)
        results["holding"].append(holding)
        print(
            f"run {n + 1}: idle {idle.cpu_percent:.2f} % ({idle.messages} overlay messages), "
            f"holding {holding.cpu_percent:.2f} % ({holding.messages} overlay messages)"
        )
    for phase, windows in results.items():
        cpu = statistics.median(w.cpu_percent for w in windows)
        rate = statistics.median(w.bytes / args.seconds for w in windows)
        msgs = statistics.median(w.messages / args.seconds for w in windows)
        verdict = "ok" if cpu <= 1.0 else "over budget"
        print(
            f"{phase:>8}: median {cpu:.2f} % of one core over {args.runs} runs of "
            f"{args.seconds:g} s ({verdict}: budget 1 %); overlay {msgs:.2f} messages/s, "
            f"{rate:.1f} B/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
