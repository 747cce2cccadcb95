"""What the JSON-over-WebSocket fakes (StreamElements' Astro, Twitch's EventSub) share.

:class:`WsHub` accepts connections on its own port, refuses upgrades when told to (a draining
server's 502, a rate limit's 429 with Retry-After), gives each connection a writer queue and
server-side control pings, and has the network faults every platform has: drop every socket
(with or without a close frame) and go dark (:attr:`WsHub.silent`: nothing is read or
written, the TCP connection stays open, exactly what a dead NAT mapping looks like). A
platform's hub implements :meth:`WsHub.opened` and :meth:`WsHub.received`.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    wrap_server_stream,
)

log = logging.getLogger("drawstreamd.fake.ws")

MAX_MESSAGE = 4 * 1024 * 1024
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A ULID-shaped id (48-bit ms time + 80 random bits, Crockford base32)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class DarkStream(trio.abc.HalfCloseableStream):
    """A TCP stream that can stall both ways: while dark nothing is read or written."""

    def __init__(self, inner: trio.SocketStream) -> None:
        self.inner = inner
        self._lit = trio.Event()
        self._lit.set()

    @property
    def dark(self) -> bool:
        return not self._lit.is_set()

    def set_dark(self, dark: bool) -> None:
        if dark and not self.dark:
            self._lit = trio.Event()
        elif not dark:
            self._lit.set()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._lit.wait()
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._lit.wait()
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await self._lit.wait()
        return await self.inner.receive_some(max_bytes)

    async def wait_lit(self) -> None:
        await self._lit.wait()

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(eq=False)
class Conn:
    ws: WebSocketConnection
    stream: DarkStream
    path: str
    query: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)
    """The platform's per-connection state (session id, subscriptions…)."""
    close: tuple[int, str] | None = None
    """How to end it: None drops the TCP connection without a close frame."""
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    opened_at: float = field(default_factory=trio.current_time)

    def __post_init__(self) -> None:
        self.send_ch, self.recv_ch = trio.open_memory_channel[str](math.inf)

    def put(self, text: str) -> None:
        self.send_ch.send_nowait(text)

    def end(self, code: int | None = None, reason: str = "") -> None:
        if code is not None:
            self.close = (code, reason)
        self.scope.cancel()


class WsHub:
    def __init__(self, *, path: str, ping_interval: float, pong_timeout: float) -> None:
        self.path = path
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.refuse: int | None = None
        """Refuse upgrades with this HTTP status (502 draining, 429 with Retry-After: 2)."""
        self._silent = False
        self.conns: set[Conn] = set()
        self.counters: collections.Counter[str] = collections.Counter()
        self.nursery: trio.Nursery | None = None

    # -- knobs ---------------------------------------------------------------------------------
    @property
    def silent(self) -> bool:
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._silent = value
        for conn in self.conns:
            conn.stream.set_dark(value)

    def drop_all(self, code: int | None = None, reason: str = "") -> int:
        """End every connection: abruptly without ``code``, else with that close frame."""
        conns = list(self.conns)
        for conn in conns:
            conn.end(code, reason)
        self.counters["drops"] += len(conns)
        return len(conns)

    def stats(self) -> dict[str, Any]:
        return {**self.counters, "open": len(self.conns)}

    # -- for the platform ----------------------------------------------------------------------
    def opened(self, conn: Conn) -> None:
        """A connection was accepted (send the welcome, check a resume token…)."""

    def received(self, conn: Conn, message: str | bytes) -> None:
        """One message from the client."""

    def closed(self, conn: Conn) -> None:
        """The connection is gone (after it was opened)."""

    def later(self, delay: float, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` after ``delay`` seconds (a timer owned by the hub)."""

        async def run() -> None:
            await trio.sleep(delay)
            fn(*args)

        assert self.nursery is not None
        self.nursery.start_soon(run)

    # -- serving -------------------------------------------------------------------------------
    async def serve(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Accept sockets until cancelled; ``task_status.started(port)`` once listening."""
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self._handle, port, host=host)
            )
            task_status.started(listeners[0].socket.getsockname()[1])

    async def _handle(self, raw: trio.SocketStream) -> None:
        stream = DarkStream(raw)
        stream.set_dark(self._silent)
        try:
            async with trio.open_nursery() as nursery:
                await self._session(nursery, stream)
                nursery.cancel_scope.cancel()
        except* (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
            pass  # the client went away: nothing to answer
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    async def _upgrade(self, nursery: trio.Nursery, stream: DarkStream) -> WebSocketRequest | None:
        with trio.move_on_after(10):
            return await wrap_server_stream(nursery, stream, max_message_size=MAX_MESSAGE)
        return None

    async def _session(self, nursery: trio.Nursery, stream: DarkStream) -> None:
        request = await self._upgrade(nursery, stream)
        if request is None:
            return
        path, _, query_text = request.path.partition("?")
        if path.rstrip("/") != self.path.rstrip("/"):
            await request.reject(404)
            return
        if self.refuse is not None:
            self.counters["refused"] += 1
            extra = [(b"Retry-After", b"2")] if self.refuse == 429 else []
            await request.reject(self.refuse, extra_headers=extra)
            return
        ws = await request.accept()
        query = {}
        for part in query_text.split("&"):
            key, _, value = part.partition("=")
            if key:
                query[unquote(key)] = unquote(value)
        conn = Conn(ws, stream, path, query)
        self.conns.add(conn)
        self.counters["accepted"] += 1
        try:
            with conn.scope:
                async with trio.open_nursery() as inner:
                    inner.start_soon(self._writer, conn)
                    inner.start_soon(self._control_pings, conn)
                    self.opened(conn)
                    await self._reader(conn)
                    inner.cancel_scope.cancel()
        finally:
            self.conns.discard(conn)
            self.closed(conn)
            # across a dead network the client sees nothing, not even the end
            await stream.wait_lit()
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                if conn.close is None or stream.dark:
                    await stream.inner.aclose()
                else:
                    await ws.aclose(*conn.close)

    async def _control_pings(self, conn: Conn) -> None:
        while True:
            await trio.sleep(self.ping_interval)
            with trio.move_on_after(self.pong_timeout) as scope:
                await conn.ws.ping()
            if scope.cancelled_caught:
                self.counters["pong_timeouts"] += 1
                conn.end()
                return

    async def _writer(self, conn: Conn) -> None:
        try:
            async for text in conn.recv_ch:
                await conn.ws.send_message(text)
        except ConnectionClosed:
            conn.end()

    async def _reader(self, conn: Conn) -> None:
        while True:
            try:
                message = await conn.ws.get_message()
            except ConnectionClosed:
                return
            self.received(conn, message)
