"""How fast ``drawstreamctl status`` is, next to Python doing almost nothing.

    .venv/bin/python bench/ctl.py [--runs 30]

Starts a real daemon (``drawstreamd --headless``, builtin planner, its own state dir and
socket), then times, alternately, ``drawstreamctl --socket S status`` and
``python -c "import socket, json, argparse"`` with the same interpreter, and prints both
medians and their ratio (goal: ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
BASELINE = [sys.executable, "-c", "import socket, json, argparse"]


def start_daemon(tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    sock = tmp / "ctl.sock"
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_RUNTIME_DIR": str(tmp / "run"),
        "SDL_VIDEODRIVER": "dummy",
        "LLM_BACKEND": "builtin",
        "API_PORT": "0",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    proc = subprocess.Popen(
        [str(BIN / "drawstreamd"), "--headless", "--state-dir", str(tmp / "st"), "--socket",
         str(sock)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the daemon exited with {proc.returncode}")
        ping = subprocess.run(
            [str(BIN / "drawstreamctl"), "--socket", str(sock), "ping"], capture_output=True
        )
        if ping.returncode == 0:
            return proc, sock
        time.sleep(0.1)
    proc.kill()
    sys.exit("the daemon did not answer within 30 s")


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {done.stderr.decode().strip()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsbench-", dir="/tmp") as tmp_s:
        proc, sock = start_daemon(Path(tmp_s))
        try:
            ctl = [str(BIN / "drawstreamctl"), "--socket", str(sock), "status"]
            for _ in range(3):  # warm the page cache for both
                wall(ctl)
                wall(BASELINE)
            ctl_times, base_times = [], []
            for _ in range(args.runs):
                ctl_times.append(wall(ctl))
                base_times.append(wall(BASELINE))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    c, b = statistics.median(ctl_times), statistics.median(base_times)
    print(f"runs: {args.runs} each, alternating")
    print(f"drawstreamctl status            median {c * 1000:7.1f} ms")
    print(f"python -c 'import socket, json, argparse'  median {b * 1000:7.1f} ms")
    print(f"ratio: {c / b:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
