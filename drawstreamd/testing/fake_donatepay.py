"""A fake DonatePay on loopback: the v1 API (user, transactions), the v2 socket tokens and its
Centrifugo v2 socket.

``python -m drawstreamd.testing.fake_donatepay`` prints the ``DP_*`` settings that point the
daemon at it; ``open_fake_dp()`` hands a test a :class:`FakeDP` with ``publish()``, fault
knobs and counters.

What it follows (``docs/sources.md``; the published clients, DonatePay's own page being out of
reach): the API key as ``access_token`` in the query (or the JSON body for the connection
token); ``{"status": "success"|"error", "data": …}``; ``/v1/transactions`` with ``limit`` (≤
100), ``after``/``before`` (transaction ids), ``skip``, ``order``, ``type``, ``status``; a
second call of one method within ``min_interval`` gets HTTP 429 with an HTML page;
``POST /v2/socket/token`` → ``{"token"}``, and with ``client`` + ``channels`` → a channel token
bound to that live client id. The socket is the fake Donation Alerts' Centrifugo v2 hub (the
same protocol); a donation is published on ``$public:<user id>`` as
``{"notification": {"id", "type": "donation", "vars"}}`` with a notification id that is not
the transaction id.

Faults: :meth:`FakeDP.drop`, :meth:`FakeDP.ask_reconnect` (close 3001 "shutdown", reconnect
advised), :meth:`FakeDP.revoke` (the key stops working), ``silent`` (the socket reads and says
nothing), ``duplicate`` (notifications published twice), ``socket_available``.
"""

from __future__ import annotations

import argparse
import html
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.testing.fake_da_socket import SocketHub
from drawstreamd.testing.fake_http import (
    FakeHttp,
    FakeServer,
    Reply,
    Request,
    fake_main,
    open_fake,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

log = logging.getLogger("drawstreamd.fake_dp")

_TOO_MANY = (
    b"<html><head><title>429 Too Many Requests</title></head><body>Too Many Requests</body></html>"
)


class FakeDP(FakeServer):
    """The fake's state, knobs and counters. Start it with :func:`open_fake_dp` / :func:`serve`."""

    def __init__(
        self,
        *,
        user_id: int = 1304427,
        name: str = "FakeStreamer",
        min_interval: float = 0.0,
        ping_interval: float = 25.0,
        stale_timeout: float = 25.0,
    ) -> None:
        super().__init__()
        self.user_id = user_id
        self.name = name
        self.min_interval = min_interval
        """A second call of one /v1 method sooner than this gets 429 (DonatePay: ~20 s)."""
        self.api_url = self.ws_url = self.admin_url = ""
        self.keys: set[str] = set()
        self.key = self.issue_key()
        self.transactions: list[dict[str, Any]] = []
        self._next_tx = 6_666_000
        self._next_note = 4_482_000
        self.duplicate = 0
        self.last_call: dict[str, float] = {}
        self.rate_limited = 0
        self.hub = SocketHub(
            user_id=user_id, ping_interval=ping_interval, stale_timeout=stale_timeout
        )

    @property
    def channel(self) -> str:
        return f"$public:{self.user_id}"

    # -- serving ---------------------------------------------------------------------------------
    log_name = "drawstreamd.fake_dp.http"

    def http_app(self) -> FakeHttp:
        return FakeDPHttp(self)

    def located(self, http_base: str, host: str, ws_port: int) -> None:
        self.api_url = f"{http_base}/api"
        self.admin_url = f"{http_base}/_fake"
        self.ws_url = f"ws://{host}:{ws_port}/connection/websocket"

    def settings_text(self) -> str:
        return f"""fake DonatePay is up. Point drawstreamd at it:
DP_API_URL={self.api_url}
DP_WS_URL={self.ws_url}
DP_API_KEY={self.key}
DP_REQUEST_INTERVAL_SEC={max(self.min_interval, 0.05):g}
FAKE_ADMIN_URL={self.admin_url}

Send a donation:
  curl -s {self.admin_url}/donations \\
    -d '{{"message": "нарисуй кота", "username": "Вася", "amount": 150, "currency": "RUB"}}'
Faults: POST {self.admin_url}/drop  /reconnect  /revoke  /knobs {{"silent":true}}
        /knobs {{"duplicate":3}}  /knobs {{"socket_available":false}}   GET {self.admin_url}/stats
"""

    def issue_key(self) -> str:
        key = secrets.token_hex(20)
        self.keys.add(key)
        return key

    # -- faults --------------------------------------------------------------------------------
    def revoke(self) -> None:
        """The API key is regenerated on the site: the old one stops working."""
        self.keys.clear()
        self.hub.drop_all(3002, "invalid token", False)

    def drop(self) -> int:
        return self.hub.drop_all(None, "", True)

    def ask_reconnect(self, grace: float | None = None) -> int:
        """The server shuts down and advises a reconnect (Centrifugo close 3001)."""
        return self.hub.drop_all(3001, "shutdown", True)

    KNOBS = ("silent", "socket_available", "duplicate", "min_interval", "slow")

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "transactions": len(self.transactions),
            "rate_limited": self.rate_limited,
            "sockets": self.hub.stats(),
        }

    @property
    def silent(self) -> bool:
        return self.hub.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self.hub.silent = value

    @property
    def socket_available(self) -> bool:
        return self.hub.available

    @socket_available.setter
    def socket_available(self, value: bool) -> None:
        self.hub.set_available(value)

    # -- donations -----------------------------------------------------------------------------
    def publish(
        self,
        message: str = "",
        *,
        username: str | None = "Viewer",
        amount: float = 100.0,
        currency: str = "RUB",
        status: str = "success",
    ) -> dict[str, Any]:
        """Record a donation (the transactions list sees it) and ring the socket."""
        self._next_tx += 1
        self._next_note += 1
        now = time.time()
        created = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}"
        )
        name = username or ""
        tx: dict[str, Any] = {
            "id": self._next_tx,
            "what": name,
            "sum": f"{amount:.2f}",
            "to_cash": f"{amount * 0.95:.2f}",
            "to_pay": f"{amount:.2f}",
            "commission": f"{amount * 0.05:.2f}",
            "status": status,
            "type": "donation",
            "comment": html.escape(message),
            "currency": currency,
            "vars": {"name": name, "comment": message, "payment_system": "card"},
            "created_at": {"date": created, "timezone_type": 3, "timezone": "UTC"},
        }
        self.transactions.append(tx)
        if status == "success":
            note = {
                "notification": {
                    "id": self._next_note,
                    "type": "donation",
                    "vars": {"name": name, "comment": message, "sum": amount, "currency": currency},
                }
            }
            for _ in range(2 if self.duplicate > 0 else 1):
                self.hub.publish(self.channel, note)
            self.duplicate = max(0, self.duplicate - 1)
        return tx


class FakeDPHttp(FakeHttp):
    def __init__(self, fake: FakeDP) -> None:
        super().__init__(fake)
        self.fake = fake

    def route(self, req: Request) -> Reply:
        if req.path.startswith("/_fake/"):
            return self.fake.admin(req)
        if req.path.startswith("/api/v1/"):
            return self._v1(req)
        if req.path == "/api/v2/socket/token" and req.method == "POST":
            return self._socket_token(req)
        return Reply(404, {"status": "error", "message": "Not found"})

    def _refused(self) -> Reply:
        return Reply(401, {"status": "error", "message": "Invalid access token"})

    def _v1(self, req: Request) -> Reply:
        if req.query.get("access_token") not in self.fake.keys:
            return self._refused()
        now = trio.current_time()
        last = self.fake.last_call.get(req.path)
        self.fake.last_call[req.path] = now
        if self.fake.min_interval and last is not None and now - last < self.fake.min_interval:
            self.fake.rate_limited += 1
            return Reply(429, raw=_TOO_MANY, headers=[("content-type", "text/html")])
        path = req.path[len("/api/v1") :]
        if path == "/user" and req.method == "GET":
            data = {
                "id": self.fake.user_id,
                "name": self.fake.name,
                "avatar": "",
                "balance": 0,
                "cashout_sum": 0,
            }
            return Reply(200, {"status": "success", "data": data})
        if path == "/transactions" and req.method == "GET":
            return self._transactions(req.query)
        return Reply(404, {"status": "error", "message": "Not found"})

    def _transactions(self, q: dict[str, str]) -> Reply:
        try:
            limit = int(q.get("limit", "25"))
            after = int(q["after"]) if q.get("after") else None
            before = int(q["before"]) if q.get("before") else None
            skip = int(q.get("skip", "0"))
        except ValueError:
            return Reply(422, {"status": "error", "message": "Invalid parameters"})
        if not 1 <= limit <= 100:
            return Reply(
                422, {"status": "error", "message": "The limit may not be greater than 100."}
            )
        rows = [
            t
            for t in self.fake.transactions
            if (after is None or t["id"] > after)
            and (before is None or t["id"] < before)
            and t["type"] == q.get("type", t["type"])
            and t["status"] == q.get("status", t["status"])
        ]
        rows.sort(key=lambda t: t["id"], reverse=q.get("order", "DESC").upper() != "ASC")
        page = rows[skip : skip + limit]
        return Reply(200, {"status": "success", "count": len(page), "data": page})

    def _socket_token(self, req: Request) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return Reply(422, {"status": "error", "message": "Invalid JSON"})
        if not isinstance(body, dict):
            return Reply(422, {"status": "error", "message": "Invalid JSON"})
        key = body.get("access_token") or req.query.get("access_token")
        if key not in self.fake.keys:
            return self._refused()
        if "client" not in body:
            return Reply(200, {"token": self.fake.hub.new_connection_token()})
        client, channels = body.get("client"), body.get("channels")
        if not isinstance(client, str) or not isinstance(channels, list):
            return Reply(422, {"status": "error", "message": "client and channels are required"})
        if not self.fake.hub.is_live(client):
            return Reply(422, {"status": "error", "message": "Unknown client"})
        out = []
        for channel in channels:
            if channel != self.fake.channel:
                return Reply(403, {"status": "error", "message": "Forbidden"})
            out.append({"channel": channel, "token": self.fake.hub.channel_token(client, channel)})
        return Reply(200, {"channels": out})


def open_fake_dp(**options: Any) -> AbstractAsyncContextManager[FakeDP]:
    """A running fake on loopback for the duration of the block."""
    return open_fake(FakeDP(**options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drawstreamd.testing.fake_donatepay",
        description="A fake DonatePay on loopback, for trying drawstreamd offline.",
    )
    parser.add_argument(
        "--min-interval",
        type=float,
        default=1.0,
        help="seconds between two calls of one API method before 429 (DonatePay: about 20)",
    )
    return fake_main(
        parser, argv, lambda args: FakeDP(min_interval=args.min_interval), http_port=8951
    )


if __name__ == "__main__":
    raise SystemExit(main())
