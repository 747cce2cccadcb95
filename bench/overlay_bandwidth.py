"""Bytes per second on the overlay WebSocket: idle, while drawing, while a picture holds.

    .venv/bin/python bench/overlay_bandwidth.py [--idle-sec 45] [--drawings 6]

Starts a real ``drawstreamd --no-window`` (builtin planner, a temp state dir, a free loopback
port), reads ``/overlay/ws`` the way the page does, and splits what arrives by the HUD phase
the same socket reports. Sizes are WebSocket payloads without compression (a browser
negotiates permessage-deflate, so it receives less); the wire adds 2-4 bytes a message.
Prints medians over the drawings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import zlib
from collections import defaultdict
from pathlib import Path

import trio
import trio_websocket

VENV_BIN = Path(sys.executable).parent
SUBJECTS = (
    "нарисуй кота",
    "draw a heart",
    "нарисуй домик",
    "draw a rocket",
    "нарисуй солнышко",
    "draw a ghost",
    "нарисуй ёлку",
    "draw a fish",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Meter:
    def __init__(self) -> None:
        self.phase = "?"
        self.bytes: dict[str, int] = defaultdict(int)
        self.messages: dict[str, int] = defaultdict(int)
        self.drawings: list[tuple[float, int, int]] = []
        """(seconds, bytes, messages) per drawing."""
        self._draw_start: tuple[float, int, int] | None = None
        self.pings = 0
        self.deflated: dict[str, int] = defaultdict(int)
        """What permessage-deflate (context takeover, as browsers negotiate it) would send."""
        self._zip = zlib.compressobj(wbits=-15)
        self.seconds: dict[str, float] = defaultdict(float)
        self._since = 0.0
        self.kinds: dict[str, int] = defaultdict(int)
        """Text messages by the fields they carry."""

    async def read(self, ws: trio_websocket.WebSocketConnection) -> None:
        while True:
            msg = await ws.get_message()
            phase = self.phase
            if isinstance(msg, str):
                data = json.loads(msg)
                self.kinds[",".join(sorted(set(data) - {"t"})) or data["t"]] += 1
                if data["t"] == "ping":
                    self.pings += 1
                elif data["t"] == "hud" and "phase" in data:
                    phase = self._phase(data["phase"])
            raw = msg.encode() if isinstance(msg, str) else msg
            self.deflated[self.phase] += (
                len(self._zip.compress(raw) + self._zip.flush(zlib.Z_SYNC_FLUSH)) - 4
            )
            self.bytes[self.phase] += len(msg)
            self.messages[self.phase] += 1
            self.phase = phase

    def _phase(self, new: str) -> str:
        now = trio.current_time()
        self.seconds[self.phase] += now - self._since
        self._since = now
        if new == "drawing" and self.phase != "drawing":
            self._draw_start = (now, self.bytes["drawing"], self.messages["drawing"])
        elif new != "drawing" and self.phase == "drawing" and self._draw_start is not None:
            t0, b0, m0 = self._draw_start
            self.drawings.append(
                (now - t0, self.bytes["drawing"] - b0, self.messages["drawing"] - m0)
            )
        return new


async def main(idle_sec: float, drawings: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="dsd-bench-"))
    state = home / "state"
    port = free_port()
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "LLM_BACKEND": "builtin",
        "API_PORT": str(port),
        "SHOW_DURATION_SEC": "3",
        "LANG": "C.UTF-8",
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    sock = str(home / "ctl.sock")
    log = open(home / "daemon.log", "wb")  # noqa: ASYNC230, SIM115 - one file, closed below
    daemon = subprocess.Popen(  # noqa: ASYNC220 - started once, before measuring
        [str(VENV_BIN / "drawstreamd"), "--no-window", "--state-dir", str(state), "--socket", sock],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "drawstreamctl"), "--socket", sock, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    try:
        with trio.fail_after(30):
            while (await trio.to_thread.run_sync(ctl, "ping")).returncode != 0:  # noqa: ASYNC110
                await trio.sleep(0.2)
        meter = Meter()
        url = f"ws://127.0.0.1:{port}/overlay/ws"
        async with trio_websocket.open_websocket_url(url) as ws, trio.open_nursery() as nursery:
            nursery.start_soon(meter.read, ws)
            await trio.sleep(1)
            connect_bytes = sum(meter.bytes.values())
            print(f"on connect: {connect_bytes} bytes (hello, the whole canvas, the HUD)")
            before, pings = dict(meter.bytes), meter.pings
            meter.kinds.clear()
            t0 = trio.current_time()
            await trio.sleep(idle_sec)
            idle = sum(meter.bytes.values()) - sum(before.values())
            span = trio.current_time() - t0
            print(
                f"idle:     {idle / span:8.2f} B/s  ({idle} bytes in {span:.0f} s, "
                f"{meter.pings - pings} pings; text messages: {dict(meter.kinds) or 'none'})"
            )
            for n in range(drawings):
                await trio.to_thread.run_sync(
                    ctl, "donate", "--name", f"bench{n}", SUBJECTS[n % len(SUBJECTS)]
                )
            with trio.fail_after(60 + drawings * 60):
                while len(meter.drawings) < drawings or meter.phase != "idle":  # noqa: ASYNC110
                    await trio.sleep(0.2)
            nursery.cancel_scope.cancel()
        rates = [b / s for s, b, _ in meter.drawings if s > 0]
        draw_s = sum(s for s, _, _ in meter.drawings)
        secs = [s for s, _, _ in meter.drawings]
        per_msg = [b / m for _, b, m in meter.drawings if m]
        msgs_per_s = [m / s for s, _, m in meter.drawings if s > 0]
        print(
            f"drawing:  {statistics.median(rates):8.0f} B/s median "
            f"(min {min(rates):.0f}, max {max(rates):.0f}) over {len(rates)} drawings of "
            f"median {statistics.median(secs):.1f} s; "
            f"{statistics.median(msgs_per_s):.0f} messages/s, "
            f"{statistics.median(per_msg):.0f} bytes/message"
        )
        print(
            f"          {meter.deflated['drawing'] / draw_s:8.0f} B/s with permessage-deflate "
            f"(all drawings together, {meter.bytes['drawing'] / draw_s:.0f} B/s without)"
        )
        hold_s = meter.seconds["holding"]
        print(
            f"holding:  {meter.bytes['holding'] / hold_s:8.0f} B/s "
            f"({meter.messages['holding']} messages over {hold_s:.0f} s: progress, ETAs)"
        )
        full = 5 + 96 * 96 * 3
        print(
            f"for scale: one whole 96x96 frame is {full} bytes; 60 of them a second "
            f"would be {full * 60 / 1e6:.1f} MB/s"
        )
    finally:
        daemon.terminate()
        daemon.wait(20)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle-sec", type=float, default=45.0)
    parser.add_argument("--drawings", type=int, default=6)
    args = parser.parse_args()
    trio.run(main, args.idle_sec, args.drawings)
