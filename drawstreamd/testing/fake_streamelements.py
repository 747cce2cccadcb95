"""A faithful fake StreamElements on loopback: the Astro WebSocket and the kappa v2 REST API.

``python -m drawstreamd.testing.fake_streamelements`` prints the ``SE_*`` settings that point
the daemon at it; ``open_fake_se()`` hands a test a :class:`FakeSE` with ``publish()``, fault
knobs and counters.

What it follows (https://docs.streamelements.com/websockets, StreamElements/docs 4aac1ac;
StreamElements/api-docs ``api.yaml``): a ``welcome`` on every connection; ``subscribe`` /
``unsubscribe`` with a nonce echoed in the ``response``, a canonical ``room``, and the error
codes ``err_unauthorized``, ``err_bad_request``, ``rate_limit_exceeded`` (1 command per 100 ms,
bursts of 100 in 10 s; that response has no nonce) and ``invalid_message_type``; binary frames
ignored; ``message`` envelopes with a ULID ``id`` per delivery; WebSocket PINGs every 30 s and a
close after 70 s without a pong; the ``reconnect`` message before a graceful shutdown, whose
``reconnect_token`` brings the subscriptions back on a new connection (an unknown or used token
is closed at once); 502 while draining, 429 with ``Retry-After: 2``. REST: ``/channels/me`` and
``/tips/{channel}`` (``offset``, ``limit`` 1–100, ``sort``, ``after``/``before``; ``docs``,
``total``), JWT as ``Bearer``, OAuth2 as ``oAuth``, 401 for a bad token.

Faults: :meth:`FakeSE.drop` (sockets), :meth:`FakeSE.ask_reconnect` (the reconnect message),
:meth:`FakeSE.revoke` (the token stops working), ``silent`` (keepalive lost: the network goes
dark), ``duplicate`` (the next tips are delivered twice), ``refuse`` (502/429 upgrades).
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.testing.fake_http import (
    Clock,
    FakeHttp,
    FakeServer,
    Reply,
    Request,
    fake_main,
    iso_ms,
    open_fake,
)
from drawstreamd.testing.fake_ws import Conn, WsHub, dumps, ulid

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

log = logging.getLogger("drawstreamd.fake_se")

TOPICS = frozenset({"channel.tips", "channel.tips.moderation", "channel.activities"})
TOKEN_TYPES = frozenset({"jwt", "oauth2", "oauth", "apikey"})
RESUME_TTL_SEC = 60.0


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class AstroHub(WsHub):
    def __init__(self, fake: FakeSE, *, ping_interval: float, pong_timeout: float) -> None:
        super().__init__(path="/", ping_interval=ping_interval, pong_timeout=pong_timeout)
        self.fake = fake
        self.resume: dict[str, tuple[float, frozenset[tuple[str, str]]]] = {}
        self.duplicate = 0
        """Deliver the next this-many messages twice (as an at-least-once server may)."""

    # -- a connection's life -------------------------------------------------------------------
    def opened(self, conn: Conn) -> None:
        conn.state["subs"] = set()
        conn.state["bucket"] = (100.0, trio.current_time())
        token = conn.query.get("reconnect_token")
        if token is not None:
            entry = self.resume.pop(token, None)
            if entry is None or entry[0] < trio.current_time():
                self.counters["bad_resume"] += 1
                conn.end(4000, "invalid reconnect token")
                return
            conn.state["subs"] = set(entry[1])
            self.counters["resumed"] += 1
        self.counters["welcomes"] += 1
        conn.put(
            dumps(
                {
                    "id": ulid(),
                    "ts": _now(),
                    "type": "welcome",
                    "data": {"message": "You are in a fake maze.", "client_id": ulid()},
                }
            )
        )

    def _respond(self, conn: Conn, nonce: Any, data: dict[str, Any], error: str | None) -> None:
        reply: dict[str, Any] = {"id": ulid(), "ts": _now(), "type": "response"}
        if nonce is not None:
            reply["nonce"] = nonce
        if error:
            reply["error"] = error
        reply["data"] = data
        conn.put(dumps(reply))

    def _allowed(self, conn: Conn) -> bool:
        # 1 command per 100 ms, bursts of 100 in 10 s: a token bucket
        tokens, at = conn.state["bucket"]
        now = trio.current_time()
        tokens = min(100.0, tokens + (now - at) * 10.0)
        if tokens < 1.0:
            conn.state["bucket"] = (tokens, now)
            return False
        conn.state["bucket"] = (tokens - 1.0, now)
        return True

    def received(self, conn: Conn, message: str | bytes) -> None:
        if isinstance(message, bytes):
            return  # binary frames are ignored
        self.counters["commands"] += 1
        if not self._allowed(conn):
            self.counters["rate_limited"] += 1
            self._respond(conn, None, {"message": "rate limit exceeded"}, "rate_limit_exceeded")
            return
        try:
            cmd = json.loads(message)
        except ValueError:
            self._respond(conn, None, {"message": "invalid json"}, "err_bad_request")
            return
        if not isinstance(cmd, dict):
            self._respond(conn, None, {"message": "invalid message"}, "err_bad_request")
            return
        nonce = cmd.get("nonce")
        raw_data = cmd.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        kind = cmd.get("type")
        if kind not in ("subscribe", "unsubscribe"):
            self._respond(conn, nonce, {"message": "unknown type"}, "invalid_message_type")
            return
        topic = data.get("topic")
        if not isinstance(topic, str) or topic not in TOPICS:
            self._respond(conn, nonce, {"message": "invalid topic"}, "err_bad_request")
            return
        room = data.get("room") or ""
        subs: set[tuple[str, str]] = conn.state["subs"]
        if kind == "unsubscribe":
            for sub in [s for s in subs if s[0] == topic and (not room or s[1] == room)]:
                subs.discard(sub)
            self._respond(
                conn,
                nonce,
                {"message": "successfully unsubscribed from topic", "topic": topic},
                None,
            )
            return
        token, token_type = data.get("token"), data.get("token_type")
        if not isinstance(token, str) or not token or token_type not in TOKEN_TYPES:
            self._respond(
                conn, nonce, {"message": "token and token_type are required"}, "err_bad_request"
            )
            return
        if token not in self.fake.tokens or (token_type in ("oauth2", "oauth")) != token.startswith(
            "so_"
        ):
            self.counters["unauthorized"] += 1
            self._respond(conn, nonce, {"message": "invalid token"}, "err_unauthorized")
            return
        canonical = room or self.fake.channel_id
        if canonical != self.fake.channel_id:
            self._respond(conn, nonce, {"message": "no access to this room"}, "err_unauthorized")
            return
        subs.add((topic, canonical))
        self.counters["subscribes"] += 1
        self._respond(
            conn,
            nonce,
            {"message": "successfully subscribed to topic", "topic": topic, "room": canonical},
            None,
        )

    # -- publishing and faults -----------------------------------------------------------------
    def publish(self, topic: str, data: dict[str, Any]) -> int:
        room = self.fake.channel_id
        times = 1
        if self.duplicate > 0:
            self.duplicate -= 1
            times = 2
        sent = 0
        for conn in list(self.conns):
            if (topic, room) in conn.state.get("subs", ()):
                for _ in range(times):
                    envelope = {"id": ulid(), "ts": _now(), "type": "message", "topic": topic}
                    conn.put(dumps({**envelope, "room": room, "data": data}))
                sent += 1
        return sent

    def ask_reconnect(self, grace: float) -> int:
        """Send every connection the reconnect message, then close it ``grace`` s later."""
        conns = list(self.conns)
        for conn in conns:
            token = "rt_" + secrets.token_urlsafe(24)
            self.resume[token] = (
                trio.current_time() + RESUME_TTL_SEC,
                frozenset(conn.state.get("subs", ())),
            )
            message = {"message": "The server is shutting down.", "reconnect_token": token}
            conn.put(dumps({"type": "reconnect", "data": message}))
            self.later(grace, conn.end, 1001, "server shutting down")
        self.counters["reconnects_asked"] += len(conns)
        return len(conns)

    @property
    def subscribed(self) -> int:
        return sum(1 for c in self.conns if c.state.get("subs"))


class FakeSE(FakeServer):
    """The fake's state, knobs and counters. Start it with :func:`open_fake_se` / :func:`serve`."""

    def __init__(
        self,
        *,
        channel_id: str = "5ad23dcc18fff500d78c5348",
        username: str = "fakestreamer",
        ping_interval: float = 30.0,
        pong_timeout: float = 70.0,
    ) -> None:
        super().__init__()
        self.channel_id = channel_id
        self.username = username
        self.api_url = self.ws_url = self.admin_url = ""
        self.tokens: set[str] = set()
        self.jwt = self.issue_jwt()
        self.tips: list[dict[str, Any]] = []
        self._clock = Clock()
        self.hub = AstroHub(self, ping_interval=ping_interval, pong_timeout=pong_timeout)

    # -- serving ---------------------------------------------------------------------------------
    log_name = "drawstreamd.fake_se.http"

    def http_app(self) -> FakeHttp:
        return FakeSEHttp(self)

    def located(self, http_base: str, host: str, ws_port: int) -> None:
        self.api_url = f"{http_base}/kappa/v2"
        self.admin_url = f"{http_base}/_fake"
        self.ws_url = f"ws://{host}:{ws_port}/"

    def settings_text(self) -> str:
        return f"""fake StreamElements is up. Point drawstreamd at it:
SE_API_URL={self.api_url}
SE_WS_URL={self.ws_url}
SE_CHANNEL_ID={self.channel_id}
SE_JWT={self.jwt}
FAKE_ADMIN_URL={self.admin_url}

Send a tip:
  curl -s {self.admin_url}/donations \\
    -d '{{"message": "draw a cat", "username": "Sam", "amount": 5, "currency": "USD"}}'
Faults: POST {self.admin_url}/drop  /reconnect  /revoke  /knobs {{"silent":true}}
        /knobs {{"duplicate":3}}  /knobs {{"refuse":502}}   GET {self.admin_url}/stats
"""

    def issue_jwt(self) -> str:
        token = "eyJ" + secrets.token_urlsafe(30)
        self.tokens.add(token)
        return token

    def issue_oauth(self) -> str:
        token = "so_" + secrets.token_urlsafe(20)
        self.tokens.add(token)
        return token

    # -- faults --------------------------------------------------------------------------------
    def revoke(self) -> None:
        """Every token stops working (the JWT was regenerated on the dashboard)."""
        self.tokens.clear()
        self.hub.drop_all(4000, "token revoked")

    def drop(self) -> int:
        return self.hub.drop_all()

    def ask_reconnect(self, grace: float | None = None) -> int:
        return self.hub.ask_reconnect(0.5 if grace is None else grace)

    KNOBS = ("silent", "duplicate", "refuse", "slow")

    @property
    def duplicate(self) -> int:
        return self.hub.duplicate

    @duplicate.setter
    def duplicate(self, value: int) -> None:
        self.hub.duplicate = int(value)

    @property
    def refuse(self) -> int | None:
        return self.hub.refuse

    @refuse.setter
    def refuse(self, value: int | None) -> None:
        self.hub.refuse = value

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "tips": len(self.tips),
            "sockets": self.hub.stats(),
        }

    def more_admin(self, method: str, path: str, args: dict[str, Any]) -> Reply | None:
        if method == "POST" and path == "/moderate":
            return Reply(200, self.moderate(str(args["id"]), str(args["approved"])))
        return None

    @property
    def silent(self) -> bool:
        return self.hub.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self.hub.silent = value

    # -- tips ----------------------------------------------------------------------------------
    def publish(
        self,
        message: str = "",
        *,
        username: str | None = "Viewer",
        amount: float = 5.0,
        currency: str = "USD",
        approved: str = "allowed",
        status: str = "success",
    ) -> dict[str, Any]:
        """Record a tip (the REST list sees it) and push it to ``channel.tips`` subscribers."""
        created = iso_ms(self._clock.now_ms())
        tip: dict[str, Any] = {
            "donation": {
                "user": {
                    "username": username,
                    "geo": "ZZ",
                    "email": "viewer@example.invalid",
                    "channel": self.channel_id,
                },
                "message": message,
                "amount": amount,
                "currency": currency,
                "paymentMethod": "scheme",
            },
            "_id": secrets.token_hex(12),
            "channel": self.channel_id,
            "provider": "paypal",
            "approved": approved,
            "status": status,
            "deleted": False,
            "createdAt": created,
            "updatedAt": created,
            "transactionId": secrets.token_hex(8).upper(),
        }
        self.tips.append(tip)
        if status == "success":
            socket_tip = {k: v for k, v in tip.items() if k != "deleted"}
            self.hub.publish("channel.tips", socket_tip)
            if approved != "allowed":
                self.hub.publish("channel.tips.moderation", socket_tip)
        return tip

    def moderate(self, tip_id: str, approved: str) -> dict[str, Any]:
        tip = next((t for t in self.tips if t["_id"] == tip_id), None)
        if tip is None:
            raise LookupError(f"no tip {tip_id!r}")
        tip["approved"] = approved
        tip["updatedAt"] = iso_ms(self._clock.now_ms())
        self.hub.publish(
            "channel.tips.moderation", {k: v for k, v in tip.items() if k != "deleted"}
        )
        return tip


class FakeSEHttp(FakeHttp):
    def __init__(self, fake: FakeSE) -> None:
        super().__init__(fake)
        self.fake = fake

    def route(self, req: Request) -> Reply:
        if req.path.startswith("/_fake/"):
            return self.fake.admin(req)
        if not req.path.startswith("/kappa/v2/"):
            return Reply(404, {"statusCode": 404, "error": "Not Found"})
        token = req.bearer("Bearer") or req.bearer("oAuth")
        if token is None or token not in self.fake.tokens:
            return Reply(
                401, {"statusCode": 401, "error": "Unauthorized", "message": "Unauthorized"}
            )
        path = req.path[len("/kappa/v2") :]
        if path == "/channels/me" and req.method == "GET":
            return Reply(
                200,
                {
                    "_id": self.fake.channel_id,
                    "username": self.fake.username,
                    "displayName": self.fake.username,
                    "provider": "twitch",
                    "suspended": False,
                },
            )
        if path == f"/tips/{self.fake.channel_id}" and req.method == "GET":
            return self._tips(req.query)
        if path.startswith("/tips/"):
            return Reply(403, {"statusCode": 403, "error": "Forbidden"})
        return Reply(404, {"statusCode": 404, "error": "Not Found"})

    def _tips(self, q: dict[str, str]) -> Reply:
        def bad(message: str) -> Reply:
            return Reply(400, {"statusCode": 400, "error": "Bad Request", "message": message})

        try:
            offset = int(q.get("offset", "0"))
            limit = int(q.get("limit", "25"))
        except ValueError:
            return bad('"offset" and "limit" must be numbers')
        if not 1 <= limit <= 100 or offset < 0:
            return bad('"limit" must be between 1 and 100')
        sort = q.get("sort", "-createdAt")
        if sort not in ("createdAt", "-createdAt", "donation.amount", "-donation.amount"):
            return bad('"sort" must be one of [createdAt, -createdAt, donation.amount, ...]')
        window: list[str | None] = []
        for name in ("after", "before"):
            raw = q.get(name)
            if raw is None:
                window.append(None)
            elif raw.isdigit():
                window.append(iso_ms(int(raw)))
            else:
                return bad(f'"{name}" must be a number of milliseconds or valid date string')
        after, before = window
        docs = [
            t
            for t in self.fake.tips
            if (after is None or t["createdAt"] >= after)
            and (before is None or t["createdAt"] <= before)
        ]
        key = "createdAt" if sort.endswith("createdAt") else "donation.amount"
        docs.sort(
            key=(lambda t: t["createdAt"])
            if key == "createdAt"
            else (lambda t: t["donation"]["amount"]),
            reverse=sort.startswith("-"),
        )
        page = docs[offset : offset + limit]
        return Reply(200, {"docs": page, "total": len(docs), "limit": limit, "offset": offset})


def open_fake_se(**options: Any) -> AbstractAsyncContextManager[FakeSE]:
    """A running fake on loopback for the duration of the block."""
    return open_fake(FakeSE(**options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drawstreamd.testing.fake_streamelements",
        description="A fake StreamElements on loopback, for trying drawstreamd offline.",
    )
    return fake_main(parser, argv, lambda _: FakeSE(), http_port=8941)


if __name__ == "__main__":
    raise SystemExit(main())
