"""Weeks in minutes: 5,000 donations through the real daemon, and what its memory does.

    .venv/bin/python bench/soak.py [--donations 5000] [--step-ms 2]

Starts ``drawstreamd --headless`` (the pygame window under SDL's dummy driver, the HTTP API
up on a free loopback port, the builtin planner, no hold between pictures: SHOW_DURATION_SEC
0, a short DEFAULT_STEP_DURATION_MS) in a fresh state dir, and feeds it donations over one
control-socket connection, pipelined in batches that keep a few dozen waiting, so the queue
itself stays the same size all along. Prints the daemon's resident memory (VmRSS from
``/proc/<pid>/status``) once 500, 2,500 and 5,000 are drawn, and the growth after 500 as a
percentage (budget: at most 10 %).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import DaemonProcess  # the tests' own way to start the daemon

from drawstreamd.ctl import Client

SUBJECTS = [
    "draw a rocket",
    "нарисуй собаку",
    "draw a house",
    "нарисуй море и корабль",
    "draw a hot dog",
    "нарисуй рыбу",
    "draw a police car",
    "нарисуй снеговика",
    "нарисуй кота в шляпе",
    "draw a cruise ship",
    "нарисуй луну",
    "draw a boat",
    "нарисуй машину",
    "draw a smiley",
    "привет стрим!",
]
"""Library pictures, compositions and a text card, in turn; each message is made unique
(" #n"). Mostly quick pictures (a few steps of DEFAULT_STEP_DURATION_MS each), so that 5,000
take minutes rather than hours: the library's own pauses and text steps last up to seconds."""
WAITING = 40
"""Donations kept waiting in the queue while the bench feeds it."""
BUDGET_PERCENT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def donate(client: Client, first: int, count: int) -> None:
    """``count`` donations on one connection: every request sent, then every reply read."""
    for n in range(first, first + count):
        message = f"{SUBJECTS[n % len(SUBJECTS)]} #{n}"
        client.send("donate", message, f"viewer{n % 97}", "100.0", "RUB")
    for _ in range(count):
        client.reply()


def soak(total: int, step_ms: int, marks: list[int]) -> list[tuple[int, int, float]]:
    """(drawn, VmRSS kB, seconds since start) at each of ``marks``."""
    home = Path(tempfile.mkdtemp(prefix="dsd-soak-"))
    (home / "run").mkdir()
    daemon = DaemonProcess(
        home,
        home / "state",
        "--headless",
        port=free_port(),
        SHOW_DURATION_SEC="0",
        DEFAULT_STEP_DURATION_MS=str(step_ms),
        LOG_LEVEL="WARNING",
    )
    seen: list[tuple[int, int, float]] = []
    try:
        daemon.wait_ready()
        client = Client(str(daemon.socket), 30.0)
        began = time.monotonic()
        donated = drawn = 0
        pending = list(marks)
        while pending:
            status = client.ask("status")
            waiting = int(status["queue_length"])
            drawn = donated - waiting - (status["state"] != "idle")
            while pending and drawn >= pending[0]:
                seen.append((drawn, rss_kb(daemon.proc.pid), time.monotonic() - began))
                print(f"{drawn:>6} drawn: VmRSS {seen[-1][1] / 1024:.1f} MiB", flush=True)
                pending.pop(0)
            more = min(total - donated, WAITING - waiting)
            if more > 0:
                donate(client, donated, more)
                donated += more
            else:
                time.sleep(0.1)
        client.close()
        code = daemon.stop()
        if code != 0:
            print(daemon.output(), file=sys.stderr)
    finally:
        daemon.kill()
        shutil.rmtree(home, ignore_errors=True)
    return seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--donations", type=int, default=5000)
    ap.add_argument("--step-ms", type=int, default=2, help="DEFAULT_STEP_DURATION_MS")
    args = ap.parse_args()
    marks = sorted({m for m in (500, 2500, args.donations) if m <= args.donations})
    seen = soak(args.donations, args.step_ms, marks)
    base = seen[0][1]
    for drawn, kb, seconds in seen:
        growth = 100.0 * (kb - base) / base
        print(
            f"{drawn:>6} drawn after {seconds:6.0f} s: VmRSS {kb / 1024:6.1f} MiB "
            f"({growth:+.1f} % since {seen[0][0]})"
        )
    growth = 100.0 * (seen[-1][1] - base) / base
    verdict = "ok" if growth <= BUDGET_PERCENT else "over budget"
    print(
        f"growth from {seen[0][0]} to {seen[-1][0]} drawn: {growth:+.1f} % "
        f"({verdict}: budget {BUDGET_PERCENT:g} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
