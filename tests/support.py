"""Helpers shared by the tests: paths of the installed commands, a clean environment for them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

VENV_BIN = Path(sys.executable).parent


def drawstreamd_bin() -> str:
    return str(VENV_BIN / "drawstreamd")


def drawstreamctl_bin() -> str:
    return str(VENV_BIN / "drawstreamctl")


def as_a_user(cmd: list[str]) -> list[str]:
    """``cmd`` for which file modes count: root ignores permission bits unless it drops that
    privilege."""
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]


def process_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a daemon process started by a test: only what it needs."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "SDL_VIDEODRIVER": "dummy",
        "LLM_BACKEND": "builtin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    env.update(extra)
    return env


class DaemonProcess:
    """``drawstreamd`` started as a user starts it, with its own state dir and control socket.

    ``port`` is the HTTP API's (0: any free one); its output goes to a log file beside the
    state dir.
    """

    def __init__(self, home: Path, state: Path, *args: str, port: int = 0, **env: str) -> None:
        self.state = state
        self.socket = state / "ctl.sock"
        self.url = f"http://127.0.0.1:{port}"
        self.log = state.parent / f"daemon-{time.monotonic_ns()}.log"
        if "PYTHONPATH" in os.environ:  # run the same code as the test
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.env = process_env(home, API_PORT=str(port), **env)
        command = [drawstreamd_bin(), "--state-dir", str(state), "--socket", str(self.socket)]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [*command, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [drawstreamctl_bin(), "--socket", str(self.socket), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the control socket answers; fails with the daemon's output if it exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.output()}")
            if self.ctl("ping", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError(f"daemon not ready:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    """The daemons a test started (it appends them); each is killed when the test ends."""
    started: list[DaemonProcess] = []
    yield started
    for d in started:
        d.kill()


@contextlib.contextmanager
def small_filesystem(path: Path, size_kb: int) -> Iterator[Path]:
    """A real filesystem of ``size_kb`` (tmpfs) mounted at ``path``; needs root, as CI runs."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill_filesystem(path: Path) -> Path:
    """Fill the filesystem under ``path`` to the last byte; delete the returned file to undo."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler
