"""A faithful fake Donation Alerts on loopback: OAuth, the v1 API and the Centrifugo v2 socket.

Tests, developers and streamers run the same thing: ``python -m drawstreamd.testing.fake_da``
prints the ``DA_*`` settings that point the daemon at it; ``open_fake_da()`` hands a test a
:class:`FakeDA` with its URLs, ``publish()``, fault knobs and request counters.

What it follows (``reference/donationalerts-api.md`` §8): form-encoded ``/oauth/token`` with
the authorization-code and refresh-token grants and RFC 6749 errors; ``/api/v1/user/oauth``
(a fresh socket token per call); ``/api/v1/centrifuge/subscribe`` (channel tokens bound to a
live client id); ``/api/v1/alerts/donations`` (newest first, 30 a page, Laravel paginator);
the legacy JSON socket (numeric methods, several objects per frame, the join push after the
subscribe reply, error codes 101/103/105/107, JSON close reasons, method-7 pings, a stale
timeout before connect and WebSocket control pings). The socket itself lives in
``fake_da_socket.py``, the HTTP side (a small ASGI app served by Hypercorn) in
``fake_da_http.py``; this module holds the state, the knobs and the entry points.
"""

from __future__ import annotations

import argparse
import collections
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drawstreamd.testing.fake_da_http import ALL_SCOPES, FakeDAHttp
from drawstreamd.testing.fake_da_socket import SocketHub
from drawstreamd.testing.fake_http import FakeHttp, FakeServer, fake_main, open_fake

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

log = logging.getLogger("drawstreamd.fake_da")


@dataclass
class _Grant:
    scopes: frozenset[str]
    expires_at: float


class FakeDA(FakeServer):
    """The fake's state, knobs and counters. Start it with :func:`open_fake_da` / :func:`serve`."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client",
        client_secret: str = "fake-secret",
        user_id: int = 4242,
        user_name: str = "FakeStreamer",
        access_ttl: float = 86400.0,
        auto_approve: bool = True,
        ping_interval: float = 25.0,
        stale_timeout: float = 25.0,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.user_id = user_id
        self.user_name = user_name
        self.access_ttl = access_ttl
        self.auto_approve = auto_approve
        self.oauth_url = self.api_url = self.ws_url = self.admin_url = ""
        self.donations: list[dict[str, Any]] = []
        self._next_id = 30_000_000
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, frozenset[str]] = {}
        self._codes: dict[str, tuple[str, frozenset[str]]] = {}
        self.token_grants: collections.Counter[str] = collections.Counter()
        self.hub = SocketHub(
            user_id=user_id, ping_interval=ping_interval, stale_timeout=stale_timeout
        )

    @property
    def channel(self) -> str:
        return f"$alerts:donation_{self.user_id}"

    # -- serving ---------------------------------------------------------------------------------
    log_name = "drawstreamd.fake_da.http"

    def http_app(self) -> FakeHttp:
        return FakeDAHttp(self)

    def located(self, http_base: str, host: str, ws_port: int) -> None:
        self.oauth_url = f"{http_base}/oauth"
        self.api_url = f"{http_base}/api/v1"
        self.admin_url = f"{http_base}/_fake"
        self.ws_url = f"ws://{host}:{ws_port}/connection/websocket"

    def settings_text(self) -> str:
        access, refresh = self.issue_tokens()
        return f"""fake Donation Alerts is up. Point drawstreamd at it:
DA_OAUTH_URL={self.oauth_url}
DA_API_URL={self.api_url}
DA_WS_URL={self.ws_url}
DA_CLIENT_ID={self.client_id}
DA_CLIENT_SECRET={self.client_secret}
# either sign in with `drawstreamd auth`, or use this ready pair:
DA_ACCESS_TOKEN={access}
DA_REFRESH_TOKEN={refresh}
FAKE_ADMIN_URL={self.admin_url}

Publish a donation:
  curl -s {self.admin_url}/donations \\
    -d '{{"message": "нарисуй кота", "username": "Вася", "amount": 150}}'
Faults: POST {self.admin_url}/drop  /knobs {{"silent":true}}  /expire-access-tokens  /revoke
        /fail {{"endpoint":"/api/v1/alerts/donations","status":429}}   GET {self.admin_url}/stats
"""

    # -- test API: tokens and faults ---------------------------------------------------------
    def issue_tokens(self, scopes: str = ALL_SCOPES) -> tuple[str, str]:
        """A fresh (access, refresh) pair, as if the streamer had signed in."""
        return self._mint(frozenset(scopes.split()))

    def env(self, *, signed_in: bool = True) -> dict[str, str]:
        """The ``DA_*`` settings that point drawstreamd at this fake; ``signed_in`` adds a
        fresh token pair, as if the streamer had signed in."""
        env = {
            "DA_OAUTH_URL": self.oauth_url,
            "DA_API_URL": self.api_url,
            "DA_WS_URL": self.ws_url,
            "DA_CLIENT_ID": self.client_id,
            "DA_CLIENT_SECRET": self.client_secret,
        }
        if signed_in:
            env["DA_ACCESS_TOKEN"], env["DA_REFRESH_TOKEN"] = self.issue_tokens()
        return env

    def _mint(self, scopes: frozenset[str]) -> tuple[str, str]:
        access = "fa_" + secrets.token_urlsafe(24)
        refresh = "fr_" + secrets.token_urlsafe(24)
        self._access[access] = _Grant(scopes, time.time() + self.access_ttl)
        self._refresh[refresh] = scopes
        return access, refresh

    def expire_access_tokens(self) -> None:
        """Every access token now answers 401 (the next refresh fixes it)."""
        self._access.clear()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token is now ``invalid_grant`` (and access tokens 401)."""
        self._refresh.clear()
        self._access.clear()

    @property
    def socket_available(self) -> bool:
        return self.hub.available

    @socket_available.setter
    def socket_available(self, value: bool) -> None:
        self.hub.set_available(value)

    @property
    def silent(self) -> bool:
        return self.hub.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self.hub.silent = value

    @property
    def drop_every(self) -> int | None:
        return self.hub.drop_every

    @drop_every.setter
    def drop_every(self, value: int | None) -> None:
        self.hub.drop_every = value

    def drop_connections(
        self, code: int | None = None, reason: str = "", reconnect: bool = True
    ) -> int:
        """Drop every socket: abruptly without ``code`` (no close frame), else with a close."""
        return self.hub.drop_all(code, reason, reconnect)

    def send_raw(self, message: str | bytes) -> int:
        """Send this exact message (text, or bytes as a binary frame) to every connection."""
        return self.hub.send_raw(message)

    # -- test API: donations -----------------------------------------------------------------
    def publish(
        self,
        message: str = "",
        *,
        username: str | None = "Viewer",
        amount: float = 100.0,
        currency: str = "RUB",
        amount_in_user_currency: float | None = None,
        message_type: str = "text",
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a donation (the REST list sees it) and push it to subscribed sockets."""
        self._next_id += 1
        donation: dict[str, Any] = {
            "id": self._next_id,
            "name": "Donations",
            "username": username,
            "message": message,
            "message_type": message_type,
            "payin_system": None,
            "amount": amount,
            "currency": currency,
            "is_shown": 0,
            "amount_in_user_currency": (
                amount if amount_in_user_currency is None else amount_in_user_currency
            ),
            "recipient_name": self.user_name,
            "recipient": {
                "user_id": self.user_id,
                "code": self.user_name.lower(),
                "name": self.user_name,
                "avatar": "",
            },
            "created_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "shown_at": None,
        }
        if extra:
            donation.update(extra)
        self.donations.append(donation)
        self.hub.publish(self.channel, {**donation, "reason": "default"})
        return donation


def open_fake_da(**options: Any) -> AbstractAsyncContextManager[FakeDA]:
    """A running fake on loopback for the duration of the block."""
    return open_fake(FakeDA(**options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drawstreamd.testing.fake_da",
        description="A fake Donation Alerts on loopback, for trying drawstreamd offline.",
    )
    parser.add_argument("--client-id", default="fake-client")
    parser.add_argument("--client-secret", default="fake-secret")
    parser.add_argument("--user-id", type=int, default=4242)
    parser.add_argument(
        "--ask",
        action="store_true",
        help="show an Allow/Deny page instead of approving sign-ins at once",
    )

    def make(args: argparse.Namespace) -> FakeDA:
        return FakeDA(
            client_id=args.client_id,
            client_secret=args.client_secret,
            user_id=args.user_id,
            auto_approve=not args.ask,
        )

    return fake_main(parser, argv, make, http_port=8931)


if __name__ == "__main__":
    raise SystemExit(main())
