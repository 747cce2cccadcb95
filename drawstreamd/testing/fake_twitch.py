"""A faithful fake Twitch on loopback: id.twitch.tv (device code flow, refresh, validate), the
Helix calls the daemon makes, and the EventSub WebSocket.

``python -m drawstreamd.testing.fake_twitch`` prints the ``TWITCH_*`` settings that point the
daemon at it; ``open_fake_twitch()`` hands a test a :class:`FakeTwitch` with ``redeem()``,
``cheer()``, fault knobs and counters.

What it follows (https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/,
…/eventsub/handling-websocket-events/, …/api/reference/; twitchdev/twitch-cli's mock server
and mock API): device codes answered ``authorization_pending`` until the user types the code,
``slow_down`` when polled faster than the interval, ``invalid device code`` once expired or
used; refresh tokens that work once; ``/validate`` with ``OAuth``; Helix with ``Bearer`` and a
matching ``Client-Id``, 401/403/404/409 as documented, ``Ratelimit-*`` headers; rewards only
the creating Client-Id may manage (403 otherwise), a 400 for a duplicate title, redemptions
only UNFULFILLED ones may leave (404 otherwise), CANCELED refunds. EventSub: ``session_welcome``
with ``keepalive_timeout_seconds`` (10–600), close 4003 with no subscription within 10 s, 4001
for any text the client sends, keepalives when nothing else was sent, notifications with a
``message_id`` per message (a redelivery keeps it), ``session_reconnect`` with a
``reconnect_url`` whose connection takes the session's subscriptions (the old one closes 4004
after the grace time), 4007 for a bad reconnect id, ``revocation`` on a revoked sign-in.

Faults: :meth:`FakeTwitch.drop`, :meth:`FakeTwitch.ask_reconnect`, :meth:`FakeTwitch.revoke`,
``silent`` (keepalive lost: the network goes dark), ``duplicate`` (the next notifications
are delivered twice), :meth:`FakeTwitch.expire_access_tokens`.
"""

from __future__ import annotations

import argparse
import base64
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from drawstreamd.testing.fake_http import FakeHttp, FakeServer, Reply, fake_main, open_fake
from drawstreamd.testing.fake_ws import Conn, WsHub, dumps

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

log = logging.getLogger("drawstreamd.fake_twitch")

ALL_SCOPES = "channel:manage:redemptions bits:read"
REDEMPTION = "channel.channel_points_custom_reward_redemption.add"
CHEER = "channel.cheer"
SCOPES_FOR = {
    REDEMPTION: {"channel:read:redemptions", "channel:manage:redemptions"},
    CHEER: {"bits:read"},
}


def rfc3339(at: float | None = None) -> str:
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e9):09d}Z"


@dataclass
class Grant:
    client_id: str
    user_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class Device:
    user_code: str
    scopes: frozenset[str]
    expires_at: float
    interval: float
    approved: bool = False
    polls: int = 0
    last_poll: float = 0.0


@dataclass
class Sub:
    id: str
    type: str
    condition: dict[str, str]
    session_id: str
    created_at: str
    status: str = "enabled"

    def reply(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "type": self.type,
            "version": "1",
            "condition": self.condition,
            "created_at": self.created_at,
            "transport": {"method": "websocket", "session_id": self.session_id},
            "cost": 0,
        }


@dataclass
class Session:
    id: str
    conn: Conn | None
    keepalive: int
    welcomed_at: float
    last_sent: float = field(default_factory=trio.current_time)


class EventSubHub(WsHub):
    def __init__(self, fake: FakeTwitch, *, ping_interval: float, pong_timeout: float) -> None:
        super().__init__(path="/ws", ping_interval=ping_interval, pong_timeout=pong_timeout)
        self.fake = fake
        self.sessions: dict[str, Session] = {}
        self.moving: dict[str, str] = {}
        """reconnect id → the session whose subscriptions it takes"""
        self.duplicate = 0

    # -- a connection's life -------------------------------------------------------------------
    def opened(self, conn: Conn) -> None:
        fake = self.fake
        try:
            keepalive = int(conn.query.get("keepalive_timeout_seconds", fake.default_keepalive))
        except ValueError:
            keepalive = fake.default_keepalive
        if not fake.min_keepalive <= keepalive <= 600:
            keepalive = fake.default_keepalive
        old_id: str | None = None
        reconnect = conn.query.get("reconnect_id")
        if reconnect is not None:
            old_id = self.moving.pop(reconnect, None)
            if old_id is None or old_id not in self.sessions:
                self.counters["bad_reconnect"] += 1
                conn.end(4007, "invalid reconnect attempt")
                return
        session = Session(f"AQoQ{secrets.token_urlsafe(18)}", conn, keepalive, trio.current_time())
        self.sessions[session.id] = session
        conn.state["session"] = session.id
        self.counters["welcomes"] += 1
        self._send(
            session,
            "session_welcome",
            {
                "session": {
                    "id": session.id,
                    "status": "connected",
                    "connected_at": rfc3339(),
                    "keepalive_timeout_seconds": keepalive,
                    "reconnect_url": None,
                }
            },
        )
        if old_id is not None:
            self.counters["reconnected"] += 1
            for sub in fake.subs.values():
                if sub.session_id == old_id and sub.status == "enabled":
                    sub.session_id = session.id
            old = self.sessions.pop(old_id)
            old.conn = None  # its connection no longer gets notifications
        else:
            self.later(fake.subscribe_deadline, self._unused, session.id)
        assert self.nursery is not None
        self.nursery.start_soon(self._keepalives, session.id)

    def _unused(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is None or session.conn is None:
            return
        if not any(s.session_id == session_id for s in self.fake.subs.values()):
            self.counters["unused"] += 1
            session.conn.end(4003, "connection unused")

    async def _keepalives(self, session_id: str) -> None:
        while True:
            session = self.sessions.get(session_id)
            if session is None or session.conn is None or session.conn not in self.conns:
                return
            due = session.last_sent + session.keepalive
            if trio.current_time() >= due:
                self._send(session, "session_keepalive", {})
                continue
            await trio.sleep_until(due)

    def received(self, conn: Conn, message: str | bytes) -> None:
        # the server takes nothing but pongs
        self.counters["inbound"] += 1
        conn.end(4001, "sent inbound traffic")

    def closed(self, conn: Conn) -> None:
        sid = conn.state.get("session")
        session = self.sessions.get(sid) if isinstance(sid, str) else None
        if session is None or session.conn is not conn:
            return
        del self.sessions[session.id]
        for sub in self.fake.subs.values():
            if sub.session_id == session.id and sub.status == "enabled":
                sub.status = "websocket_disconnected"

    # -- sending -------------------------------------------------------------------------------
    def _send(
        self,
        session: Session,
        kind: str,
        payload: dict[str, Any],
        sub: Sub | None = None,
        times: int = 1,
    ) -> None:
        meta: dict[str, Any] = {
            "message_id": str(uuid.uuid4()),
            "message_type": kind,
            "message_timestamp": rfc3339(),
        }
        if sub is not None:
            meta["subscription_type"] = sub.type
            meta["subscription_version"] = "1"
        if session.conn is None:
            return
        for _ in range(times):
            session.conn.put(dumps({"metadata": meta, "payload": payload}))
        session.last_sent = trio.current_time()

    def notify(self, kind: str, condition: dict[str, str], event: dict[str, Any]) -> int:
        sent = 0
        for sub in list(self.fake.subs.values()):
            if sub.type != kind or sub.status != "enabled":
                continue
            if any(sub.condition.get(k) not in (None, v) for k, v in condition.items()):
                continue
            if sub.condition.get("reward_id") not in (None, condition.get("reward_id")):
                continue
            session = self.sessions.get(sub.session_id)
            if session is None:
                continue
            times = 2 if self.duplicate > 0 else 1
            self.duplicate = max(0, self.duplicate - 1)
            self._send(
                session, "notification", {"subscription": sub.reply(), "event": event}, sub, times
            )
            sent += 1
        self.counters["notifications"] += sent
        return sent

    def revoke_all(self, status: str) -> None:
        for sub in self.fake.subs.values():
            if sub.status != "enabled":
                continue
            sub.status = status
            session = self.sessions.get(sub.session_id)
            if session is not None:
                self._send(session, "revocation", {"subscription": sub.reply()}, sub)

    def ask_reconnect(self, grace: float) -> int:
        asked = 0
        for session in list(self.sessions.values()):
            if session.conn is None:
                continue
            reconnect_id = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode()
            self.moving[reconnect_id] = session.id
            url = f"{self.fake.ws_url}?reconnect_id={reconnect_id}"
            if session.keepalive != self.fake.default_keepalive:
                url += f"&keepalive_timeout_seconds={session.keepalive}"
            self._send(
                session,
                "session_reconnect",
                {
                    "session": {
                        "id": session.id,
                        "status": "reconnecting",
                        "keepalive_timeout_seconds": None,
                        "reconnect_url": url,
                        "connected_at": rfc3339(),
                    }
                },
            )
            self.later(grace, session.conn.end, 4004, "client reconnect grace time expired")
            asked += 1
        self.counters["reconnects_asked"] += asked
        return asked

    @property
    def subscribed(self) -> int:
        """Connections whose session holds enabled subscriptions."""
        live = {s.session_id for s in self.fake.subs.values() if s.status == "enabled"}
        return sum(1 for sid, s in self.sessions.items() if sid in live and s.conn is not None)


class FakeTwitch(FakeServer):
    """The fake's state, knobs and counters. Start it with :func:`open_fake_twitch`."""

    log_name = "drawstreamd.fake_twitch.http"

    def __init__(
        self,
        *,
        client_id: str = "fakeclientid0000000000000000",
        broadcaster_id: str = "1337",
        login: str = "cool_user",
        default_keepalive: int = 10,
        min_keepalive: int = 10,
        subscribe_deadline: float = 10.0,
        device_interval: float = 5.0,
        approve_after_polls: int = 1,
        access_ttl: float = 14400.0,
        affiliate: bool = True,
        ping_interval: float = 5.0,
        pong_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.broadcaster_id = broadcaster_id
        self.login = login
        self.default_keepalive = default_keepalive
        self.min_keepalive = min_keepalive
        self.subscribe_deadline = subscribe_deadline
        self.device_interval = device_interval
        self.approve_after_polls = approve_after_polls
        """Devices are approved after this many polls (0: only via /activate)."""
        self.access_ttl = access_ttl
        self.affiliate = affiliate
        self.auth_url = self.api_url = self.ws_url = self.admin_url = ""
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.devices: dict[str, Device] = {}
        self.rewards: dict[str, dict[str, Any]] = {}
        self.reward_owner: dict[str, str] = {}
        self.redemptions: dict[str, dict[str, Any]] = {}
        self.subs: dict[str, Sub] = {}
        self.points: dict[str, int] = {}
        """Points each viewer (login) got back from a CANCELED redemption."""
        self.token_grants: dict[str, int] = {}
        self.hub = EventSubHub(self, ping_interval=ping_interval, pong_timeout=pong_timeout)
        self._viewers = 9000

    # -- serving ---------------------------------------------------------------------------------
    def http_app(self) -> FakeHttp:
        from drawstreamd.testing.fake_twitch_http import FakeTwitchHttp

        return FakeTwitchHttp(self)

    def located(self, http_base: str, host: str, ws_port: int) -> None:
        self.auth_url = f"{http_base}/oauth2"
        self.api_url = f"{http_base}/helix"
        self.admin_url = f"{http_base}/_fake"
        self.ws_url = f"ws://{host}:{ws_port}/ws"

    def settings_text(self) -> str:
        access, refresh = self.issue_tokens()
        return f"""fake Twitch is up. Point drawstreamd at it:
TWITCH_CLIENT_ID={self.client_id}
TWITCH_AUTH_URL={self.auth_url}
TWITCH_API_URL={self.api_url}
TWITCH_EVENTSUB_URL={self.ws_url}
# either sign in with `drawstreamd auth twitch`, or use this ready pair:
TWITCH_ACCESS_TOKEN={access}
TWITCH_REFRESH_TOKEN={refresh}
FAKE_ADMIN_URL={self.admin_url}

Redeem the reward, or cheer:
  curl -s {self.admin_url}/donations \\
    -d '{{"message": "draw a cat", "username": "viewer1", "kind": "redemption"}}'
  curl -s {self.admin_url}/donations \\
    -d '{{"message": "Cheer500 draw a dog", "username": "viewer2", "amount": 500, "kind": "cheer"}}'
See the redemptions' status: GET {self.admin_url}/redemptions
Faults: POST {self.admin_url}/drop  /reconnect  /revoke  /knobs {{"silent":true}}
        /knobs {{"duplicate":3}}  /expire-access-tokens   GET {self.admin_url}/stats
"""

    # -- tokens --------------------------------------------------------------------------------
    def issue_tokens(self, scopes: str = ALL_SCOPES) -> tuple[str, str]:
        """A fresh (access, refresh) pair, as if the streamer had signed in."""
        return self.mint(frozenset(scopes.split()))

    def mint(self, scopes: frozenset[str]) -> tuple[str, str]:
        access = secrets.token_hex(15)
        refresh = secrets.token_hex(25)
        grant = Grant(self.client_id, self.broadcaster_id, scopes, time.time() + self.access_ttl)
        self.access[access] = grant
        self.refresh[refresh] = grant
        return access, refresh

    def expire_access_tokens(self) -> None:
        """Every access token now answers 401 (a refresh fixes it)."""
        self.access.clear()

    def revoke(self) -> None:
        """The streamer disconnected the app: tokens die, subscriptions are revoked."""
        self.access.clear()
        self.refresh.clear()
        self.hub.revoke_all("authorization_revoked")

    # -- faults --------------------------------------------------------------------------------
    def drop(self) -> int:
        return self.hub.drop_all()

    def ask_reconnect(self, grace: float | None = None) -> int:
        return self.hub.ask_reconnect(30.0 if grace is None else grace)

    KNOBS = ("silent", "duplicate")

    @property
    def duplicate(self) -> int:
        return self.hub.duplicate

    @duplicate.setter
    def duplicate(self, value: int) -> None:
        self.hub.duplicate = int(value)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "grants": self.token_grants,
            "subscriptions": [s.reply() for s in self.subs.values()],
            "sockets": self.hub.stats(),
        }

    def more_admin(self, method: str, path: str, args: dict[str, Any]) -> Reply | None:
        if method == "GET" and path == "/redemptions":
            return Reply(200, {"data": list(self.redemptions.values()), "refunded": self.points})
        if method == "POST" and path == "/expire-access-tokens":
            self.expire_access_tokens()
            return Reply(200, {})
        if method == "POST" and path == "/tokens":
            access, refresh = self.issue_tokens(str(args.get("scopes", ALL_SCOPES)))
            return Reply(201, {"access_token": access, "refresh_token": refresh})
        return None

    @property
    def silent(self) -> bool:
        return self.hub.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self.hub.silent = value

    # -- viewers -------------------------------------------------------------------------------
    def _viewer(self, username: str | None) -> dict[str, str | None]:
        if not username:
            return {"user_id": None, "user_login": None, "user_name": None}
        self._viewers += 1
        return {
            "user_id": str(self._viewers),
            "user_login": username.lower(),
            "user_name": username,
        }

    def _broadcaster(self) -> dict[str, str]:
        return {
            "broadcaster_user_id": self.broadcaster_id,
            "broadcaster_user_login": self.login,
            "broadcaster_user_name": self.login.title().replace("_", "_"),
        }

    def own_reward(self) -> str:
        """The id of the reward the daemon's app made (the one viewers redeem)."""
        for rid, owner in self.reward_owner.items():
            if owner == self.client_id:
                return rid
        raise LookupError("no reward made by the daemon yet")

    def redeem(
        self, message: str = "", *, username: str = "viewer", reward_id: str | None = None
    ) -> dict[str, Any]:
        """A viewer redeems the reward (UNFULFILLED), and subscribers hear of it."""
        rid = reward_id or self.own_reward()
        reward = self.rewards[rid]
        viewer = self._viewer(username)
        redemption_id = str(uuid.uuid4())
        redemption: dict[str, Any] = {
            "id": redemption_id,
            **self._broadcaster(),
            **viewer,
            "user_input": message,
            "status": "UNFULFILLED",
            "reward": {
                "id": rid,
                "title": reward["title"],
                "prompt": reward["prompt"],
                "cost": reward["cost"],
            },
            "redeemed_at": rfc3339(),
        }
        self.redemptions[redemption_id] = redemption
        event = {**redemption, "status": "unfulfilled"}
        self.hub.notify(
            REDEMPTION, {"broadcaster_user_id": self.broadcaster_id, "reward_id": rid}, event
        )
        return redemption

    def cheer(
        self, message: str = "", *, username: str | None = "viewer", bits: int = 100
    ) -> dict[str, Any]:
        viewer = self._viewer(username)
        event = {
            "is_anonymous": username is None,
            **viewer,
            **self._broadcaster(),
            "message": message,
            "bits": bits,
        }
        self.hub.notify(CHEER, {"broadcaster_user_id": self.broadcaster_id}, event)
        return event

    def publish(
        self,
        message: str = "",
        *,
        username: str | None = "viewer",
        amount: float = 0,
        currency: str = "",
        kind: str = "redemption",
    ) -> dict[str, Any]:
        """The admin call: a redemption of the daemon's reward, or a cheer of ``amount`` bits."""
        if kind == "cheer":
            return self.cheer(message, username=username, bits=int(amount) or 100)
        if kind != "redemption":
            raise ValueError("kind must be redemption or cheer")
        return self.redeem(message, username=username or "viewer")

    def statuses(self) -> dict[str, str]:
        return {rid: r["status"] for rid, r in self.redemptions.items()}


def open_fake_twitch(**options: Any) -> AbstractAsyncContextManager[FakeTwitch]:
    """A running fake on loopback for the duration of the block."""
    return open_fake(FakeTwitch(**options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drawstreamd.testing.fake_twitch",
        description="A fake Twitch on loopback, for trying drawstreamd offline.",
    )
    parser.add_argument(
        "--ask", action="store_true", help="approve sign-ins only at the /activate page"
    )
    return fake_main(
        parser,
        argv,
        lambda args: FakeTwitch(approve_after_polls=0 if args.ask else 1),
        http_port=8961,
    )


if __name__ == "__main__":
    raise SystemExit(main())
