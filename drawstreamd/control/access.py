"""Which requests reach the app at all: the Host check and the WebSocket Origin check.

A web page the streamer has open can make the browser talk to the daemon on loopback. Two
checks, ahead of every route (the API, the overlay, the gallery, pages yet to come), stop it
from reading what it must not:

* **Host**: a page that rebinds its own domain to 127.0.0.1 (DNS rebinding) sends its own
  name as Host. Only loopback names and addresses, ``API_HOST`` and ``API_ALLOWED_HOSTS``
  are answered; anything else gets 421.
* **Origin** (WebSockets only; browsers do not apply the same-origin policy to them): no
  Origin (a bot, ``websocat``), the daemon's own origin under any accepted name, or one of
  ``API_ALLOWED_ORIGINS``. Anything else gets 403.

Refusals are logged at most once a minute (:class:`RefusalLog`), with a count of the rest.
:class:`AccessPolicy` is pure; :class:`AccessGuard` is the ASGI wrapper.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import time
from typing import TYPE_CHECKING

import msgspec

from drawstreamd.config import normal_host, normal_origin
from drawstreamd.control.protocol import ErrorCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.config import Settings
    from drawstreamd.control.ratelimit import ASGIApp, Receive, Scope, Send

log = logging.getLogger("drawstreamd.http")

LOG_EVERY_SEC = 60.0
_SHOWN = 80
"""At most this much of a refused Host or Origin goes into the log and the reply."""


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """``0.0.0.0`` or ``::``: every address of the machine."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def page_base(settings: Settings, tls: bool, port: int, host: str | None = None) -> str:
    """``scheme://host:port`` of the pages a person opens on another device (``mod-url``):
    ``host`` if given, else the first of API_ALLOWED_HOSTS when the API leaves loopback, else
    API_HOST (127.0.0.1 for a wildcard). Raises ValueError for a host the API does not answer."""
    policy = AccessPolicy.from_settings(settings, tls=tls)
    if host is not None:
        name = normal_host(host)
        if name is None or not policy.host_name_allowed(name):
            raise ValueError(
                f"the API does not answer for {host!r}: add it to API_ALLOWED_HOSTS first"
            )
    elif settings.API_ALLOWED_HOSTS and not is_loopback(settings.API_HOST):
        name = settings.API_ALLOWED_HOSTS[0]
    else:
        name = normal_host(settings.API_HOST) or "127.0.0.1"
        if is_wildcard(name):
            name = "127.0.0.1"
    shown = f"[{name}]" if ":" in name else name
    return f"{policy.scheme}://{shown}:{port}"


@dataclasses.dataclass(frozen=True)
class AccessPolicy:
    hosts: frozenset[str]
    """Accepted host names besides loopback, as :func:`normal_host` spells them."""
    origins: frozenset[str]
    """API_ALLOWED_ORIGINS, as :func:`normal_origin` spells them."""
    scheme: str
    """``http`` or ``https``: the scheme of the daemon's own origin."""

    @classmethod
    def from_settings(cls, settings: Settings, *, tls: bool) -> AccessPolicy:
        hosts = set(settings.API_ALLOWED_HOSTS)
        own = normal_host(settings.API_HOST)
        if own is not None and not is_wildcard(own):
            hosts.add(own)
        return cls(
            frozenset(hosts), frozenset(settings.API_ALLOWED_ORIGINS), "https" if tls else "http"
        )

    def host_name_allowed(self, name: str) -> bool:
        return is_loopback(name) or name in self.hosts

    def host_allowed(self, header: str | None) -> bool:
        """``header``: the request's Host (None: it sent none)."""
        name = normal_host(header) if header else None
        return name is not None and self.host_name_allowed(name)

    def origin_allowed(self, origin: str, port: int | None) -> bool:
        """``origin``: the request's Origin header; ``port``: the one the daemon listens on."""
        normal = normal_origin(origin)
        if normal is None:
            return False
        if normal in self.origins:
            return True  # "null" only when listed: a local file, but also any sandboxed frame
        scheme, _, rest = normal.partition("://")  # "null" has none: refused below
        host, _, origin_port = rest.rpartition(":")
        return (
            scheme == self.scheme
            and port is not None
            and origin_port == str(port)
            and self.host_name_allowed(host.strip("[]"))
        )


class RefusalLog:
    """Logs a refusal at most once every ``every`` seconds, saying how many it left out."""

    def __init__(
        self,
        logger: logging.Logger = log,
        every: float = LOG_EVERY_SEC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self.next_at = -float("inf")
        self.unlogged = 0

    def refused(self, what: str) -> None:
        now = self.clock()
        if now < self.next_at:
            self.unlogged += 1
            return
        more = (
            f" (and {self.unlogged} more refused since the last such line)" if self.unlogged else ""
        )
        self.logger.warning("HTTP API: refused %s%s", what, more)
        self.unlogged = 0
        self.next_at = now + self.every


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _shown(text: str) -> str:
    clipped = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return repr(clipped)


async def _deny(scope: Scope, send: Send, status: int, body: bytes) -> None:
    """Answer ``status`` with a JSON ``body`` before the app runs (an HTTP request, or a
    WebSocket handshake when the server can answer one with HTTP; else a plain close)."""
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status, "headers": head})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


def _reply(error: str, message: str) -> bytes:
    # the shape of openapi.ErrorReply (which this module cannot import: it imports commands)
    return msgspec.json.encode(
        {"error": error, "code": int(ErrorCode.PERMISSION), "message": message}
    )


class AccessGuard:
    """ASGI middleware: the Host check on every request, the Origin check on WebSockets."""

    def __init__(
        self, app: ASGIApp, policy: AccessPolicy, refusals: RefusalLog | None = None
    ) -> None:
        self.app = app
        self.policy = policy
        self.refusals = refusals if refusals is not None else RefusalLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        who = str(client[0]) if client else "?"
        host = _header(scope, b"host")
        if not self.policy.host_allowed(host):
            shown = _shown(host) if host is not None else "none"
            self.refusals.refused(f"a request for Host {shown} from {who} (API_ALLOWED_HOSTS)")
            message = (
                f"this server does not answer for Host {shown}; "
                "its owner can add the name to API_ALLOWED_HOSTS"
            )
            await _deny(scope, send, 421, _reply("misdirected", message))
            return
        if kind == "websocket":
            origin = _header(scope, b"origin")
            server = scope.get("server")
            port = int(server[1]) if server and server[1] is not None else None
            if origin is not None and not self.policy.origin_allowed(origin, port):
                self.refusals.refused(
                    f"a WebSocket from Origin {_shown(origin)} via {who} (API_ALLOWED_ORIGINS)"
                )
                message = (
                    f"pages from {_shown(origin)} may not open this socket; "
                    "its owner can add the origin to API_ALLOWED_ORIGINS"
                )
                await _deny(scope, send, 403, _reply("forbidden", message))
                return
        await self.app(scope, receive, send)
