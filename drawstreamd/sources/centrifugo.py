"""The Centrifugo v2 legacy JSON protocol (Donation Alerts, DonatePay): a pure state machine.

No I/O and no clock here. The connection (``centrifugo_client.py``) asks a :class:`Session` for the
frames to send and feeds it every WebSocket message it receives; the session answers with
:class:`Event` values: replies routed by ``id``, pushes by ``result.type``. Anything the server
sends that does not fit the protocol becomes a :class:`Malformed` event (the caller logs it and
carries on) rather than an exception.

Wire facts (see the Donation Alerts reference): commands are ``{"id":N,"method":M,"params":…}``
with CONNECT = 0 (``method`` omitted), SUBSCRIBE = 1 and PING = 7; several JSON objects may share
one frame, separated by newlines; a reply carries the command's ``id``; a push has no ``id`` and
carries ``result.type`` (publication = 0, omitted), join = 1, leave = 2, unsubscribe = 3.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from drawstreamd.sources.wire import Event, Ignored, Malformed
from drawstreamd.sources.wire import quote as _quote

__all__ = ["Event", "Ignored", "Malformed", "Session", "parse_close"]

METHOD_CONNECT = 0
METHOD_SUBSCRIBE = 1
METHOD_PING = 7

PUSH_PUBLICATION = 0
PUSH_JOIN = 1
PUSH_LEAVE = 2
PUSH_UNSUBSCRIBE = 3
PUSH_MESSAGE = 4
PUSH_SUBSCRIBE = 5


class Phase(enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    SUBSCRIBING = "subscribing"
    SUBSCRIBED = "subscribed"
    FAILED = "failed"


@dataclass(frozen=True)
class Connected(Event):
    client: str
    """This connection's client id: the subscribe POST needs it."""
    version: str


@dataclass(frozen=True)
class Subscribed(Event):
    channel: str
    result: dict[str, Any]


@dataclass(frozen=True)
class Joined(Event):
    channel: str
    client: str


@dataclass(frozen=True)
class Publication(Event):
    channel: str
    data: Any
    """The published object itself (for the alerts channel: one donation)."""
    seq: int | None


@dataclass(frozen=True)
class Pong(Event):
    id: int


@dataclass(frozen=True)
class ServerError(Event):
    """An error reply. ``fatal`` when it answers connect or subscribe: reconnect."""

    id: int
    code: int
    message: str
    fatal: bool


@dataclass(frozen=True)
class Unsubscribed(Event):
    """The server dropped our subscription: the connection is no longer useful."""

    channel: str


@dataclass(frozen=True)
class Disconnect:
    """How a server close should be treated."""

    code: int | None
    reason: str
    reconnect: bool


class ProtocolMisuse(RuntimeError):
    """The caller asked for a command the session's phase does not allow."""


def _encode(command: dict[str, Any]) -> str:
    return json.dumps(command, ensure_ascii=False, separators=(",", ":"))


class Session:
    """One WebSocket connection's protocol state: connect, subscribe, ping, route."""

    def __init__(self) -> None:
        self.phase = Phase.NEW
        self.client: str | None = None
        self.channel: str | None = None
        self._next_id = 1
        self._pending: dict[int, int] = {}
        """Command id → method, for commands still waiting for their reply."""

    # -- commands --------------------------------------------------------------------------
    def _command(self, method: int, params: dict[str, Any] | None) -> tuple[int, str]:
        cid = self._next_id
        self._next_id += 1
        self._pending[cid] = method
        body: dict[str, Any] = {"id": cid}
        if method != METHOD_CONNECT:
            body["method"] = method
        if params is not None:
            body["params"] = params
        return cid, _encode(body)

    def connect(self, token: str) -> str:
        if self.phase is not Phase.NEW:
            raise ProtocolMisuse(f"connect in phase {self.phase.value}")
        self.phase = Phase.CONNECTING
        return self._command(METHOD_CONNECT, {"token": token})[1]

    def subscribe(self, channel: str, token: str) -> str:
        if self.phase is not Phase.CONNECTED:
            raise ProtocolMisuse(f"subscribe in phase {self.phase.value}")
        self.phase = Phase.SUBSCRIBING
        self.channel = channel
        return self._command(METHOD_SUBSCRIBE, {"channel": channel, "token": token})[1]

    def ping(self) -> tuple[int, str]:
        """A ping command and its id; the reply comes back as :class:`Pong`."""
        if self.phase in (Phase.NEW, Phase.FAILED):
            raise ProtocolMisuse(f"ping in phase {self.phase.value}")
        return self._command(METHOD_PING, None)

    @property
    def pending_pings(self) -> list[int]:
        return [cid for cid, method in self._pending.items() if method == METHOD_PING]

    # -- incoming --------------------------------------------------------------------------
    def receive(self, message: str | bytes) -> list[Event]:
        """Route one WebSocket message (one or more newline-separated JSON objects)."""
        if isinstance(message, bytes):
            try:
                message = message.decode("utf-8")
            except UnicodeDecodeError as exc:
                return [Malformed(f"invalid UTF-8 at byte {exc.start} of {len(message)}")]
        events: list[Event] = []
        for line in message.split("\n"):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as exc:
                events.append(Malformed(f"invalid JSON ({exc.__class__.__name__}): {_quote(line)}"))
                continue
            events.append(self._route(obj, line))
        return events

    def _route(self, obj: Any, line: str) -> Event:
        if not isinstance(obj, dict):
            return Malformed(f"not a JSON object: {_quote(line)}")
        raw_id = obj.get("id", 0)
        if raw_id is None:
            raw_id = 0
        if isinstance(raw_id, bool) or not isinstance(raw_id, int) or raw_id < 0:
            return Malformed(f"bad id {_quote(repr(raw_id))}")
        if raw_id > 0:
            return self._reply(raw_id, obj, line)
        return self._push(obj.get("result"), line)

    def _reply(self, cid: int, obj: dict[str, Any], line: str) -> Event:
        method = self._pending.pop(cid, None)
        if method is None:
            return Malformed(f"reply to unknown command id {cid}: {_quote(line)}")
        error = obj.get("error")
        if error is not None:
            return self._error(cid, method, error, line)
        result = obj.get("result", {})
        if method == METHOD_PING:
            return Pong(cid)
        if not isinstance(result, dict):
            return self._fail(f"reply {cid} has a non-object result: {_quote(line)}")
        if method == METHOD_CONNECT:
            client = result.get("client")
            if not isinstance(client, str) or not client:
                return self._fail(f"connect reply without a client id: {_quote(line)}")
            version = result.get("version", "")
            self.client = client
            self.phase = Phase.CONNECTED
            return Connected(client, version if isinstance(version, str) else str(version))
        if method == METHOD_SUBSCRIBE:
            self.phase = Phase.SUBSCRIBED
            return Subscribed(self.channel or "", result)
        return Ignored(f"reply to method {method}")

    def _error(self, cid: int, method: int, error: Any, line: str) -> Event:
        if not isinstance(error, dict):
            return self._fail(f"reply {cid} has a malformed error: {_quote(line)}")
        code = error.get("code")
        message = error.get("message", "")
        if isinstance(code, bool) or not isinstance(code, int):
            code = -1
        fatal = method in (METHOD_CONNECT, METHOD_SUBSCRIBE)
        if fatal:
            self.phase = Phase.FAILED
        return ServerError(cid, code, message if isinstance(message, str) else str(message), fatal)

    def _fail(self, reason: str) -> Malformed:
        # A broken answer to connect or subscribe leaves the connection useless.
        if self.phase in (Phase.CONNECTING, Phase.SUBSCRIBING):
            self.phase = Phase.FAILED
        return Malformed(reason)

    def _push(self, result: Any, line: str) -> Event:
        if not isinstance(result, dict):
            return Malformed(f"push without a result object: {_quote(line)}")
        kind = result.get("type", PUSH_PUBLICATION)
        if kind is None:
            kind = PUSH_PUBLICATION
        if isinstance(kind, bool) or not isinstance(kind, int):
            return Malformed(f"push with a bad type {_quote(repr(kind))}")
        channel = result.get("channel", "")
        if not isinstance(channel, str):
            return Malformed(f"push with a bad channel: {_quote(line)}")
        data = result.get("data")
        if kind == PUSH_PUBLICATION:
            if not isinstance(data, dict) or "data" not in data:
                return Malformed(f"publication without data: {_quote(line)}")
            if channel != self.channel or self.phase is not Phase.SUBSCRIBED:
                return Ignored(f"publication on channel {channel!r} we are not subscribed to")
            seq = data.get("seq", data.get("offset"))
            if isinstance(seq, bool) or not isinstance(seq, int):
                seq = None
            return Publication(channel, data["data"], seq)
        if kind == PUSH_JOIN:
            info = data.get("info") if isinstance(data, dict) else None
            client = info.get("client") if isinstance(info, dict) else None
            return Joined(channel, client if isinstance(client, str) else "")
        if kind == PUSH_UNSUBSCRIBE:
            if channel == self.channel:
                self.phase = Phase.FAILED
                return Unsubscribed(channel)
            return Ignored(f"unsubscribe push for channel {channel!r}")
        if kind in (PUSH_LEAVE, PUSH_MESSAGE, PUSH_SUBSCRIBE):
            return Ignored(f"push type {kind}")
        return Malformed(f"unknown push type {kind}: {_quote(line)}")


def parse_close(code: int | None, reason: str | None) -> Disconnect:
    """Read a server close: Centrifugo puts ``{"reason":…,"reconnect":bool}`` in the reason.

    Without that JSON every close is treated as worth a reconnect (after the backoff).
    """
    text = reason or ""
    reconnect = True
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if isinstance(parsed.get("reason"), str):
            text = parsed["reason"]
        if isinstance(parsed.get("reconnect"), bool):
            reconnect = parsed["reconnect"]
    return Disconnect(code, _quote(text), reconnect)
