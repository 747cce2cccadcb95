"""StreamElements' Astro WebSocket protocol: a pure state machine (no I/O, no clock).

Wire facts (https://docs.streamelements.com/websockets, StreamElements/docs 4aac1ac): the
server greets every connection with ``{"type":"welcome","data":{"client_id":…}}``; a client
sends ``{"type":"subscribe","nonce":…,"data":{"topic","room","token","token_type"}}`` and gets
``{"type":"response","nonce":…,"data":{"topic","room"}}``, or the same with ``"error"``
(``err_unauthorized``, ``err_bad_request``, ``err_deadline_exceeded``, ``err_internal_error``,
``rate_limit_exceeded`` — that one without a nonce, ``invalid_message_type``); published data
arrives as ``{"type":"message","topic","room","data"}``; before a graceful shutdown the server
sends ``{"type":"reconnect","data":{"reconnect_token":…}}`` and a new connection made with
``?reconnect_token=`` gets its subscriptions back without subscribing again. Heartbeats are
WebSocket PING frames (every 30 s), not JSON.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from drawstreamd.sources.wire import Event, Ignored, Malformed
from drawstreamd.sources.wire import quote as _quote

__all__ = [
    "Event",
    "Ignored",
    "Malformed",
    "Message",
    "Reconnect",
    "Refused",
    "Session",
    "Subscribed",
    "Welcome",
    "reconnect_url",
]

TOPIC_TIPS = "channel.tips"
TOPIC_MODERATION = "channel.tips.moderation"

# errors that another try with the same token will not fix
FATAL_ERRORS = frozenset({"err_unauthorized", "err_bad_request", "invalid_message_type"})


@dataclass(frozen=True)
class Welcome(Event):
    client_id: str


@dataclass(frozen=True)
class Subscribed(Event):
    topic: str
    room: str


@dataclass(frozen=True)
class Refused(Event):
    """An error response. ``topic`` is None when it answers no request of ours (a rate
    limit response carries no nonce)."""

    topic: str | None
    error: str
    message: str

    @property
    def fatal(self) -> bool:
        return self.error in FATAL_ERRORS


@dataclass(frozen=True)
class Message(Event):
    topic: str
    room: str
    data: Any
    id: str


@dataclass(frozen=True)
class Reconnect(Event):
    token: str


def reconnect_url(base: str, token: str) -> str:
    """``base`` with ``?reconnect_token=`` (the documented way back after a reconnect)."""
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, urlencode({"reconnect_token": token})) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


class Session:
    """One connection: the subscribe requests we made, and the routing of what comes back."""

    def __init__(self) -> None:
        self.welcomed = False
        self._pending: dict[str, str] = {}
        """nonce → topic of requests still waiting for their response"""

    def subscribe(self, topic: str, room: str, token: str, token_type: str) -> str:
        nonce = str(uuid.uuid4())
        self._pending[nonce] = topic
        return json.dumps(
            {
                "type": "subscribe",
                "nonce": nonce,
                "data": {"topic": topic, "room": room, "token": token, "token_type": token_type},
            },
            separators=(",", ":"),
        )

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def receive(self, message: str | bytes) -> Event:
        if isinstance(message, bytes):
            return Ignored("binary frame")
        try:
            obj = json.loads(message)
        except (ValueError, RecursionError) as exc:
            return Malformed(f"invalid JSON ({exc.__class__.__name__}): {_quote(message)}")
        if not isinstance(obj, dict):
            return Malformed(f"not a JSON object: {_quote(message)}")
        kind = obj.get("type")
        data = obj.get("data")
        if kind == "welcome":
            self.welcomed = True
            client = data.get("client_id") if isinstance(data, dict) else None
            return Welcome(client if isinstance(client, str) else "")
        if kind == "response":
            return self._response(obj, data, message)
        if kind == "message":
            topic, room, mid = obj.get("topic"), obj.get("room", ""), obj.get("id", "")
            if not isinstance(topic, str):
                return Malformed(f"message without a topic: {_quote(message)}")
            return Message(topic, room if isinstance(room, str) else "", data, str(mid))
        if kind == "reconnect":
            token = data.get("reconnect_token") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token:
                return Malformed(f"reconnect without a token: {_quote(message)}")
            return Reconnect(token)
        return Ignored(f"message type {kind!r}")

    def _response(self, obj: dict[str, Any], data: Any, message: str) -> Event:
        nonce = obj.get("nonce")
        topic = self._pending.pop(nonce, None) if isinstance(nonce, str) else None
        error = obj.get("error")
        text = data.get("message", "") if isinstance(data, dict) else ""
        if error:
            return Refused(topic, str(error), str(text)[:200])
        if topic is None:
            return Ignored(f"response to no request of ours: {_quote(message)}")
        room = data.get("room", "") if isinstance(data, dict) else ""
        return Subscribed(topic, room if isinstance(room, str) else "")
