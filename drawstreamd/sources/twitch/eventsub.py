"""Twitch EventSub over WebSocket: a pure state machine for one session (no I/O, no clock).

Wire facts (https://dev.twitch.tv/docs/eventsub/handling-websocket-events/ and the message
reference; twitchdev/twitch-cli ``mock_server``): every frame is
``{"metadata": {message_id, message_type, message_timestamp, …}, "payload": {…}}``. A new
connection gets ``session_welcome`` (``payload.session.id``, ``keepalive_timeout_seconds``) and
must subscribe within 10 s (else close 4003). ``session_keepalive`` comes when nothing else was
sent for the keepalive timeout; no frame for longer means the connection is dead: connect
afresh and subscribe again. ``notification`` carries ``subscription`` and ``event``; delivery is
at least once, a redelivery keeps its ``message_id``. ``session_reconnect`` gives a
``reconnect_url``: open it as given, keep reading the old connection until the new one says
``session_welcome`` (the subscriptions move with the session: no subscribing), then close the
old one. ``revocation`` ends a subscription (``authorization_revoked``, ``user_removed``,
``version_removed``). The client must send nothing but pongs (else close 4001).

The shell (``socket.py``) feeds every frame and every close here, tagged with the connection
it came on, and asks :meth:`Session.expired` on a timer; this module says what to do next.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drawstreamd.sources.wire import Event, Ignored, Malformed
from drawstreamd.sources.wire import quote as _quote

__all__ = [
    "CloseOld",
    "Dead",
    "Event",
    "Ignored",
    "Malformed",
    "Notification",
    "OpenReconnect",
    "Revoked",
    "Session",
    "Welcome",
    "close_reason",
]

DEDUPE_SEC = 600.0
"""Message ids are remembered this long; older notifications are dropped (twurple does so)."""
KEEPALIVE_GRACE = 0.2
"""A connection is dead after keepalive × (1 + this) without a frame (at least 2 s more)."""

CLOSE_CODES = {
    4000: "internal server error",
    4001: "client sent inbound traffic",
    4002: "client failed ping-pong",
    4003: "connection unused",
    4004: "reconnect grace time expired",
    4005: "network timeout",
    4006: "network error",
    4007: "invalid reconnect",
}


@dataclass(frozen=True)
class Welcome(Event):
    """A connection is ready. ``fresh``: a new session, subscribe now (10 s); otherwise it
    replaced an old connection, whose subscriptions it carries."""

    conn: int
    session_id: str
    fresh: bool


@dataclass(frozen=True)
class CloseOld(Event):
    """The reconnect is done: close this (old) connection."""

    conn: int


@dataclass(frozen=True)
class OpenReconnect(Event):
    url: str


@dataclass(frozen=True)
class Notification(Event):
    subscription_type: str
    event: dict[str, Any]
    message_id: str


@dataclass(frozen=True)
class Revoked(Event):
    subscription_type: str
    status: str


@dataclass(frozen=True)
class Dead(Event):
    """The session is lost: connect afresh, subscribe again, catch up."""

    reason: str


def close_reason(code: int | None, reason: str) -> str:
    known = CLOSE_CODES.get(code or 0)
    return f"closed code={code} ({known or reason[:80] or 'no reason'})"


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        # nanoseconds: Python keeps microseconds
        head, _, frac = text.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()
    except ValueError:
        return None


class Session:
    """The connections of one EventSub session, and what their frames mean."""

    def __init__(self, now: float) -> None:
        self.active: int | None = None
        """The connection we read notifications from."""
        self.pending: int | None = None
        """A reconnect connection that has not said welcome yet."""
        self.session_id = ""
        self.keepalive = 10.0
        self.last_frame = now
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()

    # -- time ----------------------------------------------------------------------------------
    @property
    def deadline(self) -> float:
        """When the session counts as dead if no frame comes (keepalive lost)."""
        return self.last_frame + self.keepalive + max(2.0, self.keepalive * KEEPALIVE_GRACE)

    def expired(self, now: float) -> Dead | None:
        if self.active is not None and now > self.deadline:
            return Dead(f"no message within {self.keepalive:g}s keepalive (keepalive lost)")
        return None

    # -- connections ---------------------------------------------------------------------------
    def opened(self, conn: int, *, reconnect: bool) -> None:
        if reconnect:
            self.pending = conn
        else:
            self.active = conn

    def closed(self, conn: int, code: int | None, reason: str) -> list[Event]:
        if conn == self.pending:
            self.pending = None
            if self.active is None:
                return [Dead(f"reconnect connection {close_reason(code, reason)}")]
            return [Malformed(f"reconnect connection {close_reason(code, reason)}; staying")]
        if conn != self.active:
            return []  # an old connection we closed, or the server closed after the move
        self.active = None
        if self.pending is not None:
            return []  # the old one may close before the new one says welcome
        return [Dead(close_reason(code, reason))]

    # -- frames --------------------------------------------------------------------------------
    def receive(
        self, conn: int, message: str | bytes, now: float, wall: float | None = None
    ) -> list[Event]:
        """Route one frame. ``now``: the monotonic clock (keepalive); ``wall``: Unix time, to
        drop notifications older than :data:`DEDUPE_SEC` (unchecked when None)."""
        if isinstance(message, bytes):
            return [Malformed(f"binary frame of {len(message)} bytes")]
        try:
            frame = json.loads(message)
        except (ValueError, RecursionError) as exc:
            return [Malformed(f"invalid JSON ({exc.__class__.__name__}): {_quote(message)}")]
        meta = frame.get("metadata") if isinstance(frame, dict) else None
        payload = frame.get("payload") if isinstance(frame, dict) else None
        if not isinstance(meta, dict) or not isinstance(payload, dict):
            return [Malformed(f"frame without metadata and payload: {_quote(message)}")]
        kind = meta.get("message_type")
        if conn in (self.active, self.pending):
            self.last_frame = now
        if kind == "session_welcome":
            return self._welcome(conn, payload, message)
        if kind == "session_keepalive":
            return []
        if kind == "session_reconnect":
            return self._reconnect(conn, payload, message)
        if kind == "notification":
            return self._notification(meta, payload, now, wall, message)
        if kind == "revocation":
            sub = payload.get("subscription")
            if not isinstance(sub, dict):
                return [Malformed(f"revocation without a subscription: {_quote(message)}")]
            return [Revoked(str(sub.get("type", "")), str(sub.get("status", "")))]
        return [Ignored(f"message type {kind!r}")]

    def _welcome(self, conn: int, payload: dict[str, Any], message: str) -> list[Event]:
        session = payload.get("session")
        sid = session.get("id") if isinstance(session, dict) else None
        if not isinstance(sid, str) or not sid:
            return [Dead(f"welcome without a session id: {_quote(message)}")]
        keepalive = session.get("keepalive_timeout_seconds") if isinstance(session, dict) else None
        if isinstance(keepalive, int | float) and not isinstance(keepalive, bool) and keepalive > 0:
            self.keepalive = float(keepalive)
        self.session_id = sid
        if conn == self.pending:
            old, self.active, self.pending = self.active, conn, None
            out: list[Event] = [Welcome(conn, sid, fresh=False)]
            return [*out, CloseOld(old)] if old is not None else out
        if conn == self.active:
            return [Welcome(conn, sid, fresh=True)]
        return [Ignored(f"welcome on connection {conn} that is neither active nor pending")]

    def _reconnect(self, conn: int, payload: dict[str, Any], message: str) -> list[Event]:
        session = payload.get("session")
        url = session.get("reconnect_url") if isinstance(session, dict) else None
        if conn != self.active:
            return [Ignored("reconnect on a connection that is not the active one")]
        if not isinstance(url, str) or not url:
            return [Malformed(f"reconnect without a reconnect_url: {_quote(message)}")]
        if self.pending is not None:
            return [Ignored("reconnect while one is under way")]
        return [OpenReconnect(url)]

    def _notification(
        self,
        meta: dict[str, Any],
        payload: dict[str, Any],
        now: float,
        wall: float | None,
        message: str,
    ) -> list[Event]:
        mid = meta.get("message_id")
        event = payload.get("event")
        sub = payload.get("subscription")
        if not isinstance(mid, str) or not isinstance(event, dict) or not isinstance(sub, dict):
            return [Malformed(f"notification without id, event or subscription: {_quote(message)}")]
        while self._seen and next(iter(self._seen.values())) < now - DEDUPE_SEC:
            self._seen.popitem(last=False)
        if mid in self._seen:
            return [Ignored(f"redelivered message {mid}")]
        sent = _timestamp(meta.get("message_timestamp"))
        self._seen[mid] = now
        if sent is not None and wall is not None and sent < wall - DEDUPE_SEC:
            return [Ignored(f"message {mid} older than {DEDUPE_SEC:g}s")]
        kind = meta.get("subscription_type") or sub.get("type")
        return [Notification(str(kind), event, mid)]
