"""The fake Donation Alerts' Centrifugo v2 socket (legacy JSON protocol) on trio-websocket.

Per connection: a reader that executes commands, a writer that batches queued objects into
frames (one object per line, so a burst of publications shares a frame like the real server's
output), a stale timer (no connect within ``stale_timeout`` → close 3007) and WebSocket control
pings. The hub keeps the connection tokens, the channel tokens (bound to one client id and one
channel), the publication history per channel (for ``recover``) and the fault knobs.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import math
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_server_stream

log = logging.getLogger("drawstreamd.fake_da.socket")

MAX_MESSAGE = 4 * 1024 * 1024
_BATCH = 50
_METHOD_NAMES = {
    "connect": 0,
    "subscribe": 1,
    "unsubscribe": 2,
    "publish": 3,
    "presence": 4,
    "presence_stats": 5,
    "history": 6,
    "ping": 7,
    "send": 8,
    "rpc": 9,
    "refresh": 10,
    "sub_refresh": 11,
}


@dataclass(frozen=True)
class _Obj:
    text: str
    publication: bool = False


@dataclass(frozen=True)
class _Raw:
    data: str | bytes


_BREAK = object()
"""Queue marker: the next object starts a new frame."""

_Item = _Obj | _Raw | object


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False)
class _Conn:
    ws: WebSocketConnection
    stream: trio.abc.Stream
    client: str | None = None
    subs: set[str] = field(default_factory=set)
    sent_publications: int = 0
    close: tuple[int, str] | None = None
    """How to end it: None drops the TCP connection without a close frame."""
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def __post_init__(self) -> None:
        self.send_ch, self.recv_ch = trio.open_memory_channel[_Item](math.inf)

    def put(self, item: _Item) -> None:
        self.send_ch.send_nowait(item)

    def end(self, code: int | None = None, reason: str = "", reconnect: bool = True) -> None:
        if code is not None:
            self.close = (code, _line({"reason": reason, "reconnect": reconnect}))
        self.scope.cancel()


class SocketHub:
    def __init__(self, *, user_id: int, ping_interval: float, stale_timeout: float) -> None:
        self.user_id = user_id
        self.ping_interval = ping_interval
        self.stale_timeout = stale_timeout
        self.available = True
        self.silent = False
        """Read and ignore everything, send nothing (a dead connection that stays open)."""
        self.drop_every: int | None = None
        """Drop each connection (no close frame) after it was sent this many publications."""
        self.epoch = secrets.token_hex(4)
        self._conn_tokens: set[str] = set()
        self._channel_tokens: dict[str, tuple[str, str]] = {}
        self._history: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self._conns: set[_Conn] = set()
        self._live: dict[str, _Conn] = {}
        self.counters: collections.Counter[str] = collections.Counter()

    # -- used by the HTTP side and by tests ----------------------------------------------------
    def new_connection_token(self) -> str:
        token = "fct_" + secrets.token_urlsafe(18)
        self._conn_tokens.add(token)
        return token

    def is_live(self, client: str) -> bool:
        return client in self._live

    def channel_token(self, client: str, channel: str) -> str:
        token = "fch_" + secrets.token_urlsafe(18)
        self._channel_tokens[token] = (client, channel)
        return token

    def publish(self, channel: str, data: dict[str, Any]) -> None:
        history = self._history[channel]
        seq = len(history) + 1
        pub = {"seq": seq, "offset": seq, "data": data}
        history.append(pub)
        text = _line({"result": {"channel": channel, "data": pub}})
        for conn in list(self._conns):
            if channel in conn.subs:
                conn.put(_Obj(text, publication=True))

    def drop_all(self, code: int | None, reason: str, reconnect: bool) -> int:
        conns = list(self._conns)
        for conn in conns:
            conn.end(code, reason or "shutdown", reconnect)
        self.counters["drops"] += len(conns)
        return len(conns)

    def send_raw(self, message: str | bytes) -> int:
        for conn in self._conns:
            conn.put(_Raw(message))
        return len(self._conns)

    def set_available(self, value: bool) -> None:
        self.available = value
        if not value:
            self.drop_all(None, "", True)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counters,
            "open": len(self._conns),
            "subscribed": sum(1 for c in self._conns if c.subs),
        }

    @property
    def subscribed(self) -> int:
        return sum(1 for c in self._conns if c.subs)

    # -- serving -------------------------------------------------------------------------------
    async def serve(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Accept sockets until cancelled; ``task_status.started(port)`` once listening."""
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self._handle, port, host=host)
            )
            task_status.started(listeners[0].socket.getsockname()[1])

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            async with trio.open_nursery() as nursery:
                await self._session(nursery, stream)
                nursery.cancel_scope.cancel()
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
            pass

    async def _session(self, nursery: trio.Nursery, stream: trio.SocketStream) -> None:
        with trio.move_on_after(10):
            request = await wrap_server_stream(nursery, stream, max_message_size=MAX_MESSAGE)
        if request.path.split("?")[0] != "/connection/websocket":
            await request.reject(404)
            return
        if not self.available:
            self.counters["rejected"] += 1
            await request.reject(503)
            return
        ws = await request.accept()
        conn = _Conn(ws, stream)
        self._conns.add(conn)
        self.counters["accepted"] += 1
        try:
            with conn.scope:
                async with trio.open_nursery() as inner:
                    inner.start_soon(self._writer, conn)
                    inner.start_soon(self._stale_timer, conn)
                    inner.start_soon(self._control_pings, conn)
                    await self._reader(conn)
                    inner.cancel_scope.cancel()
        finally:
            self._conns.discard(conn)
            if conn.client:
                self._live.pop(conn.client, None)
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                if conn.close is None:
                    await stream.aclose()
                else:
                    await ws.aclose(*conn.close)

    async def _stale_timer(self, conn: _Conn) -> None:
        await trio.sleep(self.stale_timeout)
        if conn.client is None:
            conn.end(3007, "stale", reconnect=False)

    async def _control_pings(self, conn: _Conn) -> None:
        while True:
            await trio.sleep(self.ping_interval)
            with trio.move_on_after(self.ping_interval * 10 / 9) as scope:
                await conn.ws.ping()
            if scope.cancelled_caught:
                conn.end()
                return

    async def _writer(self, conn: _Conn) -> None:
        pending: _Item | None = None
        while True:
            item = pending if pending is not None else await conn.recv_ch.receive()
            pending = None
            if item is _BREAK:
                continue
            if self.silent:
                continue
            if isinstance(item, _Raw):
                await conn.ws.send_message(item.data)
                continue
            assert isinstance(item, _Obj)
            batch = [item]
            while len(batch) < _BATCH:
                try:
                    nxt = conn.recv_ch.receive_nowait()
                except trio.WouldBlock:
                    break
                if isinstance(nxt, _Obj):
                    batch.append(nxt)
                else:
                    pending = nxt
                    break
            await conn.ws.send_message("".join(o.text + "\n" for o in batch))
            conn.sent_publications += sum(o.publication for o in batch)
            if self.drop_every and conn.sent_publications >= self.drop_every:
                self.counters["drops"] += 1
                conn.end()
                return

    async def _reader(self, conn: _Conn) -> None:
        while True:
            try:
                message = await conn.ws.get_message()
            except ConnectionClosed:
                return
            if self.silent:
                continue
            if isinstance(message, bytes):
                conn.end(3003, "bad request", reconnect=False)
                return
            for line in message.split("\n"):
                if not line.strip():
                    continue
                try:
                    cmd = json.loads(line)
                except ValueError:
                    conn.end(3003, "bad request", reconnect=False)
                    return
                if not isinstance(cmd, dict):
                    conn.end(3003, "bad request", reconnect=False)
                    return
                if not self._command(conn, cmd):
                    return

    def _command(self, conn: _Conn, cmd: dict[str, Any]) -> bool:
        """Execute one command; False when the connection is being closed."""
        cid = cmd.get("id", 0)
        method = cmd.get("method", 0)
        if isinstance(method, str):
            method = _METHOD_NAMES.get(method.lower(), -1)
        params = cmd.get("params") or {}

        def error(code: int, message: str) -> bool:
            conn.put(_Obj(_line({"id": cid, "error": {"code": code, "message": message}})))
            return True

        if not isinstance(cid, int) or isinstance(cid, bool) or cid <= 0:
            return error(107, "bad request")
        if not isinstance(params, dict):
            return error(107, "bad request")
        if conn.client is None and method != 0:
            return error(101, "unauthorized")
        if method == 0:
            if conn.client is not None:
                return error(107, "bad request")
            if params.get("token") not in self._conn_tokens:
                self.counters["bad_connect_token"] += 1
                conn.end(3002, "invalid token", reconnect=False)
                return False
            conn.client = str(uuid.uuid4())
            self._live[conn.client] = conn
            self.counters["connects"] += 1
            conn.put(
                _Obj(_line({"id": cid, "result": {"client": conn.client, "version": "2.8.6"}}))
            )
            return True
        if method == 1:
            channel = params.get("channel")
            if not isinstance(channel, str) or not channel:
                return error(107, "bad request")
            if channel in conn.subs:
                return error(105, "already subscribed")
            if self._channel_tokens.get(str(params.get("token"))) != (conn.client, channel):
                self.counters["permission_denied"] += 1
                return error(103, "permission denied")
            history = self._history[channel]
            result: dict[str, Any] = {
                "recoverable": True,
                "seq": len(history),
                "offset": len(history),
                "epoch": self.epoch,
            }
            since = params.get("offset", params.get("seq"))
            if (
                params.get("recover")
                and params.get("epoch") == self.epoch
                and isinstance(since, int)
            ):
                result["publications"] = history[since:]
                result["recovered"] = True
            conn.subs.add(channel)
            self.counters["subscribes"] += 1
            conn.put(_Obj(_line({"id": cid, "result": result})))
            conn.put(_BREAK)
            info = {"user": str(self.user_id), "client": conn.client}
            conn.put(
                _Obj(_line({"result": {"type": 1, "channel": channel, "data": {"info": info}}}))
            )
            conn.put(_BREAK)
            return True
        if method == 7:
            conn.put(_Obj(_line({"id": cid})))
            return True
        return error(108, "not available")
