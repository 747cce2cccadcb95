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
``fake_da_socket.py``; the HTTP side is a small ASGI app served by Hypercorn.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from drawstreamd.testing.fake_da_socket import SocketHub

log = logging.getLogger("drawstreamd.fake_da")

ALL_SCOPES = "oauth-user-show oauth-donation-subscribe oauth-donation-index"
PER_PAGE = 30

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class _Grant:
    scopes: frozenset[str]
    expires_at: float


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None


class FakeDA:
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
        # knobs
        self.slow = 0.0
        """Seconds every HTTP reply waits."""
        self._fail_next: dict[str, collections.deque[int]] = collections.defaultdict(
            collections.deque
        )
        # counters
        self.requests: collections.Counter[str] = collections.Counter()
        self.request_log: list[tuple[float, str]] = []
        """(trio time, "METHOD path") of every request, for rate checks."""
        self.token_grants: collections.Counter[str] = collections.Counter()
        self.hub = SocketHub(
            user_id=user_id, ping_interval=ping_interval, stale_timeout=stale_timeout
        )

    @property
    def channel(self) -> str:
        return f"$alerts:donation_{self.user_id}"

    # -- test API: tokens and faults ---------------------------------------------------------
    def issue_tokens(self, scopes: str = ALL_SCOPES) -> tuple[str, str]:
        """A fresh (access, refresh) pair, as if the streamer had signed in."""
        return self._mint(frozenset(scopes.split()))

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

    def fail_next(self, endpoint: str, status: int, times: int = 1) -> None:
        """The next ``times`` requests to ``endpoint`` (a path) answer ``status`` (e.g. 429)."""
        self._fail_next[endpoint].extend([status] * times)

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

    # -- HTTP ----------------------------------------------------------------------------------
    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
        path = scope["path"]
        self.requests[path] += 1
        self.request_log.append((trio.current_time(), f"{scope['method']} {path}"))
        if self.slow and not path.startswith("/_fake"):
            await trio.sleep(self.slow)
        failing = self._fail_next.get(path)
        if failing:
            status = failing.popleft()
            reply = Reply(
                status,
                {"message": "Too Many Attempts." if status == 429 else "Server Error"},
                [("Retry-After", "1")] if status == 429 else [],
            )
        else:
            try:
                reply = self._route(scope["method"], path, headers, query, body)
            except Exception:  # a fake must answer, even to what crashes it
                log.exception("fake da route failed path=%s", path)
                reply = Reply(500, {"message": "Server Error"})
        payload = (
            reply.raw
            if reply.raw is not None
            else (
                b"" if reply.body is None else json.dumps(reply.body, ensure_ascii=False).encode()
            )
        )
        out = [(k.encode(), v.encode()) for k, v in reply.headers]
        if reply.raw is None and reply.body is not None:
            out.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": reply.status, "headers": out})
        await send({"type": "http.response.body", "body": payload})

    def _route(
        self, method: str, path: str, headers: dict[str, str], query: dict[str, str], body: bytes
    ) -> Reply:
        if path == "/oauth/authorize" and method == "GET":
            return self._authorize(query)
        if path == "/oauth/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            return self._token(form)
        if path.startswith("/api/v1/"):
            return self._api(method, path[len("/api/v1") :], headers, query, body)
        if path.startswith("/_fake/"):
            return self._admin(method, path[len("/_fake") :], query, body)
        return Reply(404, {"message": "Not Found"})

    def _authorize(self, q: dict[str, str]) -> Reply:
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != self.client_id or not redirect.startswith(
            ("http://127.0.0.1", "http://localhost")
        ):
            return Reply(
                400,
                {"error": "invalid_client", "error_description": "unknown client or redirect_uri"},
            )
        if q.get("response_type") != "code":
            return Reply(400, {"error": "unsupported_response_type"})
        state = {"state": q["state"]} if "state" in q else {}
        decision = q.get("approve", "1" if self.auto_approve else "")
        if decision == "":
            base = "/oauth/authorize?" + urlencode(q)
            page = (
                f"<h1>Fake Donation Alerts</h1><p>{self.client_id} asks for: "
                f"{q.get('scope', '')}</p><a href='{base}&approve=1'>Allow</a> "
                f"<a href='{base}&approve=0'>Deny</a>"
            )
            return Reply(200, raw=page.encode(), headers=[("content-type", "text/html")])
        if decision != "1":
            target = redirect + "?" + urlencode({"error": "access_denied", **state})
            return Reply(302, headers=[("location", target)])
        code = "def50200" + secrets.token_hex(16)
        self._codes[code] = (redirect, frozenset(q.get("scope", "").split()))
        return Reply(
            302, headers=[("location", redirect + "?" + urlencode({"code": code, **state}))]
        )

    def _token(self, form: dict[str, str]) -> Reply:
        def error(status: int, err: str, text: str) -> Reply:
            return Reply(status, {"error": err, "error_description": text})

        grant = form.get("grant_type", "")
        self.token_grants[grant] += 1
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return error(401, "invalid_client", "Client authentication failed")
        if grant == "authorization_code":
            entry = self._codes.pop(form.get("code", ""), None)
            if entry is None or entry[0] != form.get("redirect_uri"):
                return error(400, "invalid_grant", "The authorization code is invalid or expired")
            scopes = entry[1]
        elif grant == "refresh_token":
            scopes_or_none = self._refresh.pop(form.get("refresh_token", ""), None)
            if scopes_or_none is None:
                return error(400, "invalid_grant", "The refresh token is invalid.")
            asked = frozenset(form.get("scope", "").split()) or scopes_or_none
            if not asked <= scopes_or_none:
                return error(400, "invalid_scope", "The requested scope is invalid")
            scopes = asked
        else:
            return error(
                400, "unsupported_grant_type", "The authorization grant type is not supported"
            )
        access, refresh = self._mint(scopes)
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": int(self.access_ttl),
                "access_token": access,
                "refresh_token": refresh,
            },
        )

    def _api(
        self, method: str, path: str, headers: dict[str, str], query: dict[str, str], body: bytes
    ) -> Reply:
        auth = headers.get("authorization", "")
        grant = self._access.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grant is None or grant.expires_at < time.time():
            return Reply(401, {"message": "Unauthenticated."})

        def need(scope: str) -> Reply | None:
            return None if scope in grant.scopes else Reply(403, {"message": "Forbidden."})

        if path == "/user/oauth" and method == "GET":
            return need("oauth-user-show") or Reply(
                200,
                {
                    "data": {
                        "id": self.user_id,
                        "code": self.user_name.lower(),
                        "name": self.user_name,
                        "avatar": "",
                        "email": "streamer@example.invalid",
                        "socket_connection_token": self.hub.new_connection_token(),
                    }
                },
            )
        if path == "/centrifuge/subscribe" and method == "POST":
            try:
                req = json.loads(body)
                channels, client = req["channels"], req["client"]
                assert isinstance(channels, list)
                assert isinstance(client, str)
            except (ValueError, KeyError, TypeError, AssertionError):
                return Reply(422, {"message": "The given data was invalid."})
            if not self.hub.is_live(client):
                return Reply(422, {"message": "Unknown client."})
            out = []
            for ch in channels:
                if ch != self.channel or "oauth-donation-subscribe" not in grant.scopes:
                    return Reply(403, {"message": "Forbidden."})
                out.append({"channel": ch, "token": self.hub.channel_token(client, ch)})
            return Reply(200, {"channels": out})
        if path == "/alerts/donations" and method == "GET":
            return need("oauth-donation-index") or self._page(query)
        return Reply(404, {"message": "Not Found"})

    def _page(self, query: dict[str, str]) -> Reply:
        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        total = len(self.donations)
        last = max(1, -(-total // PER_PAGE))
        newest_first = self.donations[::-1]
        items = newest_first[(page - 1) * PER_PAGE : page * PER_PAGE]
        base = self.api_url + "/alerts/donations"
        return Reply(
            200,
            {
                "data": items,
                "links": {
                    "first": f"{base}?page=1",
                    "last": f"{base}?page={last}",
                    "prev": f"{base}?page={page - 1}" if page > 1 else None,
                    "next": f"{base}?page={page + 1}" if page < last else None,
                },
                "meta": {
                    "current_page": page,
                    "from": (page - 1) * PER_PAGE + 1 if items else None,
                    "last_page": last,
                    "path": base,
                    "per_page": PER_PAGE,
                    "to": (page - 1) * PER_PAGE + len(items) if items else None,
                    "total": total,
                },
            },
        )

    def _admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply:
        try:
            args = json.loads(body) if body.strip() else {}
            if not isinstance(args, dict):
                raise ValueError("body must be a JSON object")
            if method == "GET" and path == "/stats":
                return Reply(
                    200,
                    {
                        "requests": dict(self.requests),
                        "grants": dict(self.token_grants),
                        "donations": len(self.donations),
                        "sockets": self.hub.stats(),
                    },
                )
            if method != "POST":
                return Reply(405, {"message": "use POST"})
            if path == "/donations":
                return Reply(201, self.publish(**args))
            if path == "/tokens":
                access, refresh = self.issue_tokens(args.get("scopes", ALL_SCOPES))
                return Reply(201, {"access_token": access, "refresh_token": refresh})
            if path == "/drop":
                return Reply(
                    200,
                    {
                        "dropped": self.drop_connections(
                            args.get("code"), args.get("reason", ""), args.get("reconnect", True)
                        )
                    },
                )
            if path == "/knobs":
                for key in ("silent", "drop_every", "slow", "socket_available"):
                    if key in args:
                        setattr(self, key, args[key])
                return Reply(
                    200,
                    {
                        "silent": self.silent,
                        "drop_every": self.drop_every,
                        "slow": self.slow,
                        "socket_available": self.socket_available,
                    },
                )
            if path == "/expire-access-tokens":
                self.expire_access_tokens()
                return Reply(200, {})
            if path == "/revoke":
                self.revoke_refresh_tokens()
                return Reply(200, {})
            if path == "/fail":
                self.fail_next(
                    str(args["endpoint"]), int(args["status"]), int(args.get("times", 1))
                )
                return Reply(200, {})
        except (ValueError, TypeError, KeyError) as exc:
            return Reply(400, {"message": f"bad admin request: {exc}"})
        return Reply(404, {"message": "Not Found"})


async def serve(
    fake: FakeDA,
    *,
    host: str = "127.0.0.1",
    http_port: int = 0,
    ws_port: int = 0,
    task_status: trio.TaskStatus[FakeDA] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``fake`` (HTTP on ``http_port``, the socket on ``ws_port``) until cancelled.

    ``task_status.started(fake)`` once both listeners are bound; the URLs are then set.
    """
    config = HypercornConfig()
    config.bind = [f"{host}:{http_port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("drawstreamd.fake_da.http")
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(hypercorn_serve, fake.asgi, config)
        http_base = binds[0]
        ws_bound = await nursery.start(fake.hub.serve, host, ws_port)
        fake.oauth_url = f"{http_base}/oauth"
        fake.api_url = f"{http_base}/api/v1"
        fake.admin_url = f"{http_base}/_fake"
        fake.ws_url = f"ws://{host}:{ws_bound}/connection/websocket"
        task_status.started(fake)


@asynccontextmanager
async def open_fake_da(**options: Any) -> AsyncIterator[FakeDA]:
    """A running fake on loopback for the duration of the block."""
    fake = FakeDA(**options)
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake)
        try:
            yield fake
        finally:
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drawstreamd.testing.fake_da",
        description="A fake Donation Alerts on loopback, for trying drawstreamd offline.",
    )
    parser.add_argument("--http-port", type=int, default=8931)
    parser.add_argument("--ws-port", type=int, default=8932)
    parser.add_argument("--client-id", default="fake-client")
    parser.add_argument("--client-secret", default="fake-secret")
    parser.add_argument("--user-id", type=int, default=4242)
    parser.add_argument(
        "--ask",
        action="store_true",
        help="show an Allow/Deny page instead of approving sign-ins at once",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    fake = FakeDA(
        client_id=args.client_id,
        client_secret=args.client_secret,
        user_id=args.user_id,
        auto_approve=not args.ask,
    )

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(serve, fake, http_port=args.http_port, ws_port=args.ws_port)
            )
            access, refresh = fake.issue_tokens()
            print(
                f"""fake Donation Alerts is up. Point drawstreamd at it:
DA_OAUTH_URL={fake.oauth_url}
DA_API_URL={fake.api_url}
DA_WS_URL={fake.ws_url}
DA_CLIENT_ID={fake.client_id}
DA_CLIENT_SECRET={fake.client_secret}
# either sign in with `drawstreamd auth`, or use this ready pair:
DA_ACCESS_TOKEN={access}
DA_REFRESH_TOKEN={refresh}

Publish a donation:
  curl -s {fake.admin_url}/donations \\
    -d '{{"message": "нарисуй кота", "username": "Вася", "amount": 150}}'
Faults: POST {fake.admin_url}/drop  /knobs {{"silent":true}}  /expire-access-tokens  /revoke
        /fail {{"endpoint":"/api/v1/alerts/donations","status":429}}   GET {fake.admin_url}/stats
""",
                flush=True,
            )

    try:
        trio.run(run)
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
