"""sd_notify against real datagram sockets, and the heartbeat-gated watchdog under a mock clock."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing

from drawstreamd.systemd import Heartbeat, Notifier, serve_watchdog

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Listener:
    """What systemd would read: a bound AF_UNIX datagram socket, drained without blocking."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value
        sock.setblocking(False)

    def drain(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return out
            out.append(dict(line.split("=", 1) for line in data.decode().split("\n")))


@pytest.fixture
def path_listener(tmp_path: Path) -> Iterator[Listener]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    yield Listener(sock, str(path))
    sock.close()


@pytest.fixture
def abstract_listener() -> Iterator[Listener]:
    name = f"drawstreamd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    yield Listener(sock, "@" + name)
    sock.close()


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest) -> Listener:
    fixture = "path_listener" if request.param == "path" else "abstract_listener"
    result: Listener = request.getfixturevalue(fixture)
    return result


def test_lifecycle_messages_arrive_in_order(listener: Listener) -> None:
    n = Notifier.from_env({"NOTIFY_SOCKET": listener.env_value})
    assert n.enabled
    assert n.ready(status="idle: 0 queued")
    assert n.status("drawing: 3 queued")
    assert n.watchdog()
    assert n.stopping()
    n.close()
    assert listener.drain() == [
        {"READY": "1", "STATUS": "idle: 0 queued"},
        {"STATUS": "drawing: 3 queued"},
        {"WATCHDOG": "1"},
        {"STOPPING": "1"},
    ]


def test_status_newlines_cannot_inject_assignments(path_listener: Listener) -> None:
    n = Notifier(path_listener.env_value)
    n.status("Donation Alerts disconnected\nREADY=1")
    n.close()
    assert path_listener.drain() == [{"STATUS": "Donation Alerts disconnected READY=1"}]


def test_repeated_status_is_sent_once(path_listener: Listener) -> None:
    n = Notifier(path_listener.env_value)
    n.status("drawing: 1 queued")
    n.status("drawing: 1 queued")
    n.status("drawing: 2 queued")
    n.close()
    assert [m["STATUS"] for m in path_listener.drain()] == [
        "drawing: 1 queued",
        "drawing: 2 queued",
    ]


def test_reloading_carries_monotonic_time(path_listener: Listener) -> None:
    n = Notifier(path_listener.env_value)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    n.close()
    (msg,) = path_listener.drain()
    assert msg["RELOADING"] == "1"
    assert before <= int(msg["MONOTONIC_USEC"]) <= after


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    n = Notifier.from_env({})
    assert not n.enabled
    assert not n.ready()
    assert not n.watchdog()
    assert n.watchdog_interval() is None


def test_a_vanished_socket_is_logged_once_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    n = Notifier(str(tmp_path / "nobody-listens"))
    with caplog.at_level(logging.WARNING, logger="drawstreamd.systemd"):
        assert not n.status("a")
        assert not n.status("b")
    n.close()
    warnings = [r for r in caplog.records if "cannot notify systemd" in r.getMessage()]
    assert len(warnings) == 1


def test_unknown_socket_forms_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="drawstreamd.systemd"):
        n = Notifier("vsock:2:1234")
        assert not n.enabled
        assert not n.ready()
        assert "not a form drawstreamd speaks" in caplog.text


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("4000000", None, 2.0),
        ("4000000", "self", 2.0),
        ("4000000", "1", None),  # meant for another process
        ("0", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    path_listener: Listener, usec: str | None, pid: str | None, expected: float | None
) -> None:
    env = {"NOTIFY_SOCKET": path_listener.env_value}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    if pid is not None:
        env["WATCHDOG_PID"] = str(os.getpid()) if pid == "self" else pid
    assert Notifier.from_env(env).watchdog_interval() == expected


async def test_watchdog_stops_while_a_loop_hangs_and_resumes_after(
    path_listener: Listener,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier(path_listener.env_value, watchdog_usec="2000000")  # WatchdogSec=2
    renderer = Heartbeat("renderer")
    worker = Heartbeat("worker")
    hung = trio.Event()
    resumed = trio.Event()

    async def render_loop() -> None:
        start = trio.current_time()
        while True:
            renderer.beat()
            await trio.sleep(1 / 60)
            if trio.current_time() - start > 10 and not hung.is_set():
                hung.set()
                await trio.sleep(10)  # stuck: no beats for 10 s
                resumed.set()

    async def idle_worker() -> None:
        with worker.idle():  # waiting for a donation is being alive
            await trio.sleep_forever()

    with trio.fail_after(60), caplog.at_level(logging.WARNING, logger="drawstreamd.systemd"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(render_loop)
            nursery.start_soon(idle_worker)
            interval = await nursery.start(serve_watchdog, notifier, [renderer, worker])
            assert interval == 1.0
            await hung.wait()
            healthy = len(path_listener.drain())
            await resumed.wait()
            during_hang = len(path_listener.drain())
            await trio.sleep(5)
            after = len(path_listener.drain())
            nursery.cancel_scope.cancel()
    notifier.close()
    assert 9 <= healthy <= 12  # one per second while both loops turn
    assert during_hang <= 1  # at most the one sent before the stall was visible
    assert after >= 4
    assert "renderer has not turned" in caplog.text
    assert "renderer is turning again" in caplog.text
    assert "worker" not in caplog.text


async def test_a_silent_heartbeat_function_withholds_the_watchdog(
    path_listener: Listener, autojump_clock: trio.testing.MockClock
) -> None:
    notifier = Notifier(path_listener.env_value, watchdog_usec="1000000")
    frozen = trio.current_time()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_watchdog, notifier, [trio.current_time, lambda: frozen])
            await trio.sleep(5)
            nursery.cancel_scope.cancel()
    notifier.close()
    # the first check happens at once, while the frozen heartbeat is still fresh
    assert len(path_listener.drain()) == 1


async def test_without_a_watchdog_the_task_only_waits(
    path_listener: Listener, autojump_clock: trio.testing.MockClock
) -> None:
    notifier = Notifier(path_listener.env_value)  # no WATCHDOG_USEC
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            interval = await nursery.start(serve_watchdog, notifier, [])
            await trio.sleep(30)
            nursery.cancel_scope.cancel()
    notifier.close()
    assert interval is None
    assert path_listener.drain() == []
