"""A real ``drawstreamd`` process under a fake service manager.

systemd's side is played by a real AF_UNIX datagram socket (a path, and an abstract name)
handed over in ``NOTIFY_SOCKET``; the daemon runs headless (SDL's dummy driver) with the
builtin planner and the demo source, in its own temporary state, config and runtime dirs.
"""

from __future__ import annotations

import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio
from support import process_env

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

DRAWSTREAMD = Path(sys.executable).parent / "drawstreamd"


class Manager:
    """The service manager's notify socket: every message the daemon sent, with its time."""

    def __init__(self, sock: trio.socket.SocketType, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._changed = trio.Event()

    async def collect(self) -> None:
        while True:
            data = await self.sock.recv(65536)
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            self.messages.append((trio.current_time(), fields))
            self._changed.set()
            self._changed = trio.Event()

    async def wait_for(self, key: str, value: str = "", *, after: int = 0) -> int:
        """Index of the first message from ``after`` on that sets ``key`` (to ``value…``)."""
        while True:
            for i, (_, m) in enumerate(self.messages[after:], after):
                if key in m and m[key].startswith(value):
                    return i
            await self._changed.wait()

    def times(self, key: str) -> list[float]:
        return [t for t, m in self.messages if key in m]

    def keys(self) -> list[str]:
        return [k for _, m in self.messages for k in m]


class Daemon:
    def __init__(self, process: trio.Process, state: Path, stderr: Path) -> None:
        self.process = process
        self.state = state
        self.stderr = stderr

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def pngs(self) -> int:
        gallery = self.state / "gallery"
        return len(list(gallery.glob("*.png"))) if gallery.exists() else 0

    async def wait_log(self, text: str) -> None:
        while text not in self.log():
            await trio.sleep(0.05)

    async def wait_pngs(self, n: int) -> None:
        while self.pngs() < n:
            await trio.sleep(0.05)


@pytest.fixture
async def manager(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Manager]:
    """A path socket; ``abstract`` (by indirect parametrisation) for an ``@name`` one."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if getattr(request, "param", "path") == "path":
        where = str(tmp_path / "notify")
        await sock.bind(where)
    else:
        where = f"@drawstreamd-test-{uuid.uuid4().hex}"
        await sock.bind(b"\0" + where[1:].encode())
    m = Manager(sock, where)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(m.collect)
        yield m
        nursery.cancel_scope.cancel()
    sock.close()


async def start(
    tmp_path: Path,
    manager: Manager,
    *args: str,
    env: dict[str, str] | None = None,
    name: str = "daemon",
) -> Daemon:
    state = tmp_path / "state"
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    stderr = tmp_path / f"{name}.err"
    overrides = {
        "XDG_RUNTIME_DIR": str(runtime),
        "API_PORT": "0",  # never the default port another daemon may hold
        "DEFAULT_STEP_DURATION_MS": "40",
        "NOTIFY_SOCKET": manager.env_value,
        "WATCHDOG_USEC": "1000000",
        **(env or {}),
    }
    full_env = process_env(tmp_path, **overrides)
    with (tmp_path / f"{name}.out").open("wb") as out, stderr.open("wb") as err:
        process = await trio.lowlevel.open_process(
            [str(DRAWSTREAMD), "--headless", "--state-dir", str(state), *args],
            env=full_env,
            cwd=tmp_path,
            stdout=out,
            stderr=err,
        )
    return Daemon(process, state, stderr)


async def stop(daemon: Daemon, signum: int = signal.SIGTERM) -> int:
    daemon.process.send_signal(signum)
    return await daemon.process.wait()


async def kill(daemon: Daemon) -> None:
    """Make sure the process is gone and reaped, even when the test is being cancelled."""
    with trio.CancelScope(shield=True), trio.move_on_after(10):
        if daemon.process.returncode is None:
            daemon.process.kill()
        await daemon.process.wait()


# -- readiness, status, watchdog, stopping ------------------------------------------------------
@pytest.mark.parametrize("manager", ["path", "abstract"], indirect=True)
async def test_ready_status_watchdog_stopping_in_order(tmp_path: Path, manager: Manager) -> None:
    with trio.fail_after(60):
        daemon = await start(tmp_path, manager, "--demo")
        try:
            ready = await manager.wait_for("READY", "1")
            await manager.wait_for("STATUS", after=ready + 1)  # the demo starts drawing
            await manager.wait_for("WATCHDOG", "1", after=ready + 1)
            await daemon.wait_pngs(1)
            assert await stop(daemon) == 0
        finally:
            await kill(daemon)
        await manager.wait_for("STOPPING", "1")
    first_ready = manager.keys().index("READY")
    assert first_ready == 0  # nothing before readiness, not even a watchdog ping
    assert manager.messages[0][1]["STATUS"].endswith("queued")
    keys = manager.keys()
    stopping = keys.index("STOPPING")
    assert "WATCHDOG" in keys[first_ready:stopping]
    assert any(s.startswith(("planning", "drawing", "holding")) for s in _statuses(manager))
    assert "READY" not in keys[stopping:]


def _statuses(manager: Manager) -> list[str]:
    return [m["STATUS"] for _, m in manager.messages if "STATUS" in m]


async def test_watchdog_stops_when_the_render_loop_hangs(tmp_path: Path, manager: Manager) -> None:
    with trio.fail_after(60):
        daemon = await start(
            tmp_path, manager, env={"DRAWSTREAMD_DEBUG_HANG_RENDER_AFTER_SEC": "3"}
        )
        try:
            await manager.wait_for("READY", "1")
            await daemon.wait_log("render loop hanging on purpose")
            hung_at = trio.current_time()
            await trio.sleep(4)  # two whole watchdog periods (WatchdogSec=1)
        finally:
            await kill(daemon)
    pings = manager.times("WATCHDOG")
    ready_at = manager.times("READY")[0]
    assert len([t for t in pings if ready_at <= t < hung_at]) >= 3  # fed every 0.5 s
    assert [t for t in pings if t > hung_at + 1.0] == []


# -- signals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_ends_the_daemon_gracefully(
    tmp_path: Path, manager: Manager, signum: int
) -> None:
    env = {"DEFAULT_STEP_DURATION_MS": "2000", "SHUTDOWN_GRACE_SEC": "3"}
    with trio.fail_after(60):
        daemon = await start(tmp_path, manager, "--demo", env=env)
        try:
            await manager.wait_for("READY", "1")
            await manager.wait_for("STATUS", "drawing")
            began = trio.current_time()
            assert await stop(daemon, signum) == 0
            took = trio.current_time() - began
        finally:
            await kill(daemon)
        await manager.wait_for("STOPPING", "1")
        # the state dir is free again: a second daemon comes up on it
        again = await start(tmp_path, manager, env=env, name="again")
        try:
            await manager.wait_for("READY", "1", after=len(manager.messages))
        finally:
            await kill(again)
    assert took < 3 + 2
    name = signal.Signals(signum).name
    assert f"signal received signal={name}" in daemon.log()
    assert "stopped" in daemon.log().splitlines()[-1]


CONFIG_FAST = 'SHOW_DURATION_SEC = 0.3\nDEFAULT_STEP_DURATION_MS = 20\nLOG_LEVEL = "INFO"\n'
CONFIG_HOLD = 'SHOW_DURATION_SEC = 3600\nDEFAULT_STEP_DURATION_MS = 20\nLOG_LEVEL = "WARNING"\n'


async def test_sighup_applies_hold_time_and_log_level_without_a_restart(
    tmp_path: Path, manager: Manager
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_FAST, encoding="utf-8")
    with trio.fail_after(60):
        daemon = await start(tmp_path, manager, "--demo", "--config", str(config))
        try:
            await manager.wait_for("READY", "1")
            await daemon.wait_pngs(2)  # pictures come quickly while the hold is 0.3 s
            config.write_text(CONFIG_HOLD, encoding="utf-8")
            mark = len(manager.messages)
            log_mark = len(daemon.log())
            daemon.process.send_signal(signal.SIGHUP)
            reloading = await manager.wait_for("RELOADING", "1", after=mark)
            await manager.wait_for("READY", "1", after=reloading)
            await manager.wait_for("STATUS", after=reloading)
            at_reload = daemon.pngs()
            await trio.sleep(5)
            after = daemon.pngs()
            status_before_stop = _statuses(manager)[-1]
            assert daemon.process.returncode is None  # reloaded, not restarted
            assert await stop(daemon) == 0
        finally:
            await kill(daemon)
    # at most the drawing already under way finishes; then the new hour-long hold
    assert after - at_reload <= 2
    assert status_before_stop.startswith("holding")
    # LOG_LEVEL=WARNING: the line that says so is still written (at the old level), but the
    # info lines after it, those of the stop, are not
    tail = daemon.log()[log_mark:].splitlines()
    reload_lines = [line for line in tail if "config reloaded" in line]
    assert len(reload_lines) == 1
    assert "LOG_LEVEL" in reload_lines[0]
    rest = tail[tail.index(reload_lines[0]) + 1 :]
    assert not any("signal received" in line for line in rest)
    assert not any(" INFO " in line for line in rest)


async def test_an_invalid_reload_keeps_the_old_config_and_says_why(
    tmp_path: Path, manager: Manager
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG_HOLD, encoding="utf-8")
    with trio.fail_after(60):
        daemon = await start(tmp_path, manager, "--demo", "--config", str(config))
        try:
            await manager.wait_for("READY", "1")
            await daemon.wait_pngs(1)
            config.write_text('SHOW_DURATION_SEC = "soon"\nLOG_LEVEL = "INFO"\n', encoding="utf-8")
            mark = len(manager.messages)
            daemon.process.send_signal(signal.SIGHUP)
            reloading = await manager.wait_for("RELOADING", "1", after=mark)
            await manager.wait_for("READY", "1", after=reloading)
            await daemon.wait_log("SHOW_DURATION_SEC")
            at_reload = daemon.pngs()
            await trio.sleep(3)
            still_holding = daemon.pngs() == at_reload
            assert await stop(daemon) == 0
        finally:
            await kill(daemon)
    log = daemon.log()
    refused = [line for line in log.splitlines() if "SHOW_DURATION_SEC" in line]
    assert refused
    assert all(" ERROR " in line and "keeping the old config" in line for line in refused)
    assert still_holding  # SHOW_DURATION_SEC stayed 3600
    assert " INFO " not in log  # LOG_LEVEL stayed WARNING, not the file's INFO
