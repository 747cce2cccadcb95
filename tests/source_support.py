"""What the tests of the StreamElements, DonatePay and Twitch sources share: running a source
against its fake with a sink that remembers, and a sink whose journal can fail."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trio
from da_support import MemorySink
from trio_websocket import WebSocketConnection, wrap_client_stream

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from drawstreamd.config import Settings
    from drawstreamd.model import Donation


class NodeEvents:
    """The JSON lines a Node client under ``tests/js`` prints, read as they come."""

    FAILURES = ("failed", "subscribe_error", "timeout")

    def __init__(self, stdout: trio.abc.ReceiveStream) -> None:
        self.stdout = stdout
        self.events: list[dict[str, Any]] = []
        self._buffer = b""

    async def until(self, kind: str, count: int = 1) -> None:
        while sum(e["event"] == kind for e in self.events) < count:
            chunk = await self.stdout.receive_some(65536)
            assert chunk, f"the client exited; events so far: {self.events}"
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            self.events.extend(json.loads(line) for line in lines if line)
            assert not any(e["event"] in self.FAILURES for e in self.events), self.events

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


@contextmanager
def fake_module(module: str) -> Iterator[dict[str, str]]:
    """``python -m drawstreamd.testing.<module>`` on free ports, as a developer runs it; the
    ``KEY=value`` settings it printed (up to ``FAKE_ADMIN_URL``)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            f"drawstreamd.testing.{module}",
            "--http-port",
            "0",
            "--ws-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        while not any(line.startswith("FAKE_ADMIN_URL=") for line in lines):
            line = proc.stdout.readline()
            assert line, "the fake exited"
            lines.append(line.strip())
        yield dict(line.split("=", 1) for line in lines if "=" in line and line[:2].isupper())
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


__all__ = [
    "FlakySink",
    "MemorySink",
    "NodeEvents",
    "Running",
    "errors",
    "fake_module",
    "open_websocket_url",
    "running",
]


@asynccontextmanager
async def open_websocket_url(url: str) -> AsyncIterator[WebSocketConnection]:
    """A client socket whose TCP stream is closed however the server ends it (trio-websocket's
    own ``open_websocket_url`` leaks it when the server closes first)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    try:
        async with trio.open_nursery() as nursery:
            ws = await wrap_client_stream(nursery, stream, parts.hostname, resource)
            try:
                yield ws
            finally:
                with trio.move_on_after(1):
                    await ws.aclose()
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


class FlakySink(MemorySink):
    """A :class:`MemorySink` whose journal refuses writes while ``broken`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        self.refused = 0

    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        if self.broken:
            self.refused += 1
            self._wake()
            await trio.lowlevel.checkpoint()
            raise OSError(28, "No space left on device")
        return await super().submit(donation, skip_reason=skip_reason)


class Running:
    def __init__(self, sink: MemorySink, settings: Settings, nursery: trio.Nursery) -> None:
        self.sink = sink
        self.settings = settings
        self.nursery = nursery
        self.finished = trio.Event()

    def connects(self) -> int:
        return sum(k == "source_connected" for k, _ in self.sink.events)

    async def wait_connected(self, count: int = 1) -> None:
        await self.sink.wait_for(lambda: self.connects() >= count)

    def states(self) -> list[str]:
        return [str(d.get("state")) for _, d in self.sink.events]


@asynccontextmanager
async def running(
    run: Callable[[], Awaitable[None]], sink: MemorySink, settings: Settings
) -> AsyncIterator[Running]:
    """Run a source (``run()``) in the background for the duration of the block."""
    async with trio.open_nursery() as nursery:
        r = Running(sink, settings, nursery)

        async def go() -> None:
            try:
                await run()
            finally:
                r.finished.set()

        nursery.start_soon(go)
        yield r
        nursery.cancel_scope.cancel()


def errors(records: list[logging.LogRecord]) -> list[str]:
    return [rec.getMessage() for rec in records if rec.levelno >= logging.ERROR]


def quiet(*names: str) -> None:
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)


def kinds(sink: MemorySink) -> list[tuple[str, dict[str, Any]]]:
    return list(sink.events)
