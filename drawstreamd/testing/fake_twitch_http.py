"""The fake Twitch's HTTP side: id.twitch.tv's ``/oauth2/*``, the Helix calls, ``/activate``
(where a streamer would type the device code) and ``/_fake/*`` for tests and curl users."""

from __future__ import annotations

import secrets
import string
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import trio

from drawstreamd.testing.fake_http import FakeHttp, Reply, Request
from drawstreamd.testing.fake_twitch import SCOPES_FOR, Device, Sub, rfc3339

if TYPE_CHECKING:
    from drawstreamd.testing.fake_twitch import FakeTwitch, Grant

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_RATE_LIMIT = 800
NOT_OWNER = (
    "The ID in the Client-Id header must match the client ID used to create the custom reward."
)


def _status(status: int, message: str) -> Reply:
    """id.twitch.tv's own error shape (not RFC 6749's)."""
    return Reply(status, {"status": status, "message": message})


def _helix_error(status: int, message: str) -> Reply:
    names = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
    }
    return Reply(
        status, {"error": names.get(status, "Error"), "status": status, "message": message}
    )


class FakeTwitchHttp(FakeHttp):
    def __init__(self, fake: FakeTwitch) -> None:
        super().__init__(fake)
        self.fake = fake

    def route(self, req: Request) -> Reply:
        if req.path.startswith("/oauth2/"):
            return self._id(req)
        if req.path.startswith("/helix/"):
            reply = self._helix(req)
            reply.headers += [
                ("Ratelimit-Limit", str(_RATE_LIMIT)),
                ("Ratelimit-Remaining", str(_RATE_LIMIT - 1)),
                ("Ratelimit-Reset", str(int(time.time()) + 60)),
            ]
            return reply
        if req.path == "/activate" and req.method == "GET":
            return self._activate(req.query.get("device-code", ""))
        if req.path.startswith("/_fake/"):
            return self.fake.admin(req)
        return _status(404, "Not Found")

    # -- id.twitch.tv ----------------------------------------------------------------------------
    def _id(self, req: Request) -> Reply:
        fake = self.fake
        path = req.path[len("/oauth2") :]
        if path == "/validate" and req.method == "GET":
            token = req.bearer("OAuth")
            grant = fake.access.get(token or "")
            if grant is None or grant.expires_at < time.time():
                return _status(401, "invalid access token")
            return Reply(
                200,
                {
                    "client_id": grant.client_id,
                    "login": fake.login,
                    "scopes": sorted(grant.scopes),
                    "user_id": grant.user_id,
                    "expires_in": int(grant.expires_at - time.time()),
                },
            )
        if req.method != "POST":
            return _status(404, "Not Found")
        form = {**req.query, **req.form()}
        if path == "/device":
            if form.get("client_id") != fake.client_id:
                return _status(400, "invalid client")
            code = "".join(secrets.choice(string.ascii_uppercase) for _ in range(8))
            device = secrets.token_urlsafe(30)
            fake.devices[device] = Device(
                user_code=code,
                scopes=frozenset(form.get("scopes", "").split()),
                expires_at=time.time() + 1800,
                interval=fake.device_interval,
            )
            base = fake.auth_url.removesuffix("/oauth2")
            return Reply(
                200,
                {
                    "device_code": device,
                    "expires_in": 1800,
                    "interval": fake.device_interval,
                    "user_code": code,
                    "verification_uri": f"{base}/activate?public=true&device-code={code}",
                },
            )
        if path == "/token":
            return self._token(form)
        if path == "/revoke":
            fake.access.pop(form.get("token", ""), None)
            return Reply(200, None)
        return _status(404, "Not Found")

    def _token(self, form: dict[str, str]) -> Reply:
        fake = self.fake
        grant_type = form.get("grant_type", "")
        fake.token_grants[grant_type] = fake.token_grants.get(grant_type, 0) + 1
        if form.get("client_id") != fake.client_id:
            return _status(400, "invalid client")
        if form.get("client_secret"):
            return _status(400, "invalid client secret")  # a public client has none
        if grant_type == DEVICE_GRANT:
            device = fake.devices.get(form.get("device_code", ""))
            if device is None or device.expires_at < time.time():
                return _status(400, "invalid device code")
            now = trio.current_time()
            if device.polls and now - device.last_poll < device.interval * 0.8:
                device.last_poll = now
                return _status(400, "slow_down")
            device.polls += 1
            device.last_poll = now
            if fake.approve_after_polls and device.polls > fake.approve_after_polls:
                device.approved = True
            if not device.approved:
                return _status(400, "authorization_pending")
            del fake.devices[form["device_code"]]
            access, refresh = fake.mint(device.scopes)
            return self._tokens(access, refresh, device.scopes)
        if grant_type == "refresh_token":
            grant = fake.refresh.pop(form.get("refresh_token", ""), None)  # works once
            if grant is None:
                return _status(400, "Invalid refresh token")
            access, refresh = fake.mint(grant.scopes)
            return self._tokens(access, refresh, grant.scopes)
        return _status(400, "unsupported grant type")

    def _tokens(self, access: str, refresh: str, scopes: frozenset[str]) -> Reply:
        return Reply(
            200,
            {
                "access_token": access,
                "expires_in": int(self.fake.access_ttl),
                "refresh_token": refresh,
                "scope": sorted(scopes),
                "token_type": "bearer",
            },
        )

    def _activate(self, code: str) -> Reply:
        for device in self.fake.devices.values():
            if device.user_code == code:
                device.approved = True
                page = b"<h1>Fake Twitch</h1><p>Device connected. You can close this tab.</p>"
                return Reply(200, raw=page, headers=[("content-type", "text/html")])
        return Reply(404, raw=b"<h1>Unknown code</h1>", headers=[("content-type", "text/html")])

    # -- Helix -----------------------------------------------------------------------------------
    def _helix(self, req: Request) -> Reply:
        fake = self.fake
        token = req.bearer("Bearer")
        grant = fake.access.get(token or "")
        if grant is None or grant.expires_at < time.time():
            return _helix_error(401, "Invalid OAuth token")
        if req.headers.get("client-id") != grant.client_id:
            return _helix_error(401, "Client ID and OAuth token do not match")
        path = req.path[len("/helix") :]
        if path == "/eventsub/subscriptions":
            return self._subscriptions(req, grant)
        if path == "/channel_points/custom_rewards":
            return self._rewards(req, grant)
        if path == "/channel_points/custom_rewards/redemptions":
            return self._redemptions(req, grant)
        return _helix_error(404, "Not Found")

    def _subscriptions(self, req: Request, grant: Grant) -> Reply:
        fake = self.fake
        if req.method == "GET":
            rows = [s.reply() for s in fake.subs.values()]
            return Reply(
                200,
                {
                    "data": rows,
                    "total": len(rows),
                    "total_cost": 0,
                    "max_total_cost": 10,
                    "pagination": {},
                },
            )
        if req.method != "POST":
            return _helix_error(404, "Not Found")
        try:
            body = req.json()
            kind, version = body["type"], body["version"]
            condition, transport = body["condition"], body["transport"]
        except (ValueError, KeyError, TypeError):
            return _helix_error(400, "malformed subscription request")
        if kind not in SCOPES_FOR or version != "1":
            return _helix_error(400, "unknown subscription type or version")
        if transport.get("method") != "websocket":
            return _helix_error(400, "only the websocket transport is faked")
        sid = transport.get("session_id")
        session = fake.hub.sessions.get(sid) if isinstance(sid, str) else None
        if session is None or session.conn is None:
            return _helix_error(
                400, "websocket transport session does not exist or has already disconnected"
            )
        if condition.get("broadcaster_user_id") != grant.user_id:
            return _helix_error(403, "subscription missing proper authorization")
        if not SCOPES_FOR[kind] & grant.scopes:
            return _helix_error(403, "subscription missing proper authorization")
        for sub in fake.subs.values():
            if sub.type == kind and sub.condition == condition and sub.status == "enabled":
                return _helix_error(409, "subscription already exists")
        sub = Sub(str(uuid.uuid4()), kind, dict(condition), sid, rfc3339())
        fake.subs[sub.id] = sub
        fake.hub.counters["subscriptions"] += 1
        return Reply(
            202,
            {"data": [sub.reply()], "total": len(fake.subs), "total_cost": 0, "max_total_cost": 10},
        )

    def _reward_reply(self, reward: dict[str, Any]) -> dict[str, Any]:
        return dict(reward)

    def _rewards(self, req: Request, grant: Grant) -> Reply:
        fake = self.fake
        if req.query.get("broadcaster_id") != grant.user_id:
            return _helix_error(
                403, "The ID in broadcaster_id must match the user ID in the access token"
            )
        if not {"channel:manage:redemptions", "channel:read:redemptions"} & grant.scopes:
            return _helix_error(
                401, "Missing scope: channel:read:redemptions or channel:manage:redemptions"
            )
        if not fake.affiliate:
            return _helix_error(403, "The broadcaster must be a partner or affiliate")
        if req.method == "GET":
            rows = list(fake.rewards.values())
            if req.query.get("only_manageable_rewards") == "true":
                rows = [r for r in rows if fake.reward_owner[r["id"]] == grant.client_id]
            if "id" in req.query:
                rows = [r for r in rows if r["id"] == req.query["id"]]
            return Reply(200, {"data": [self._reward_reply(r) for r in rows]})
        if "channel:manage:redemptions" not in grant.scopes:
            return _helix_error(401, "Missing scope: channel:manage:redemptions")
        try:
            body = req.json()
        except ValueError:
            return _helix_error(400, "malformed body")
        if req.method == "POST":
            title, cost = body.get("title"), body.get("cost")
            if (
                not isinstance(title, str)
                or not 1 <= len(title) <= 45
                or not isinstance(cost, int)
                or cost < 1
            ):
                return _helix_error(400, "title and cost are required")
            if any(r["title"].casefold() == title.casefold() for r in fake.rewards.values()):
                return _helix_error(400, "CREATE_CUSTOM_REWARD_DUPLICATE_REWARD")
            if len(fake.rewards) >= 50:
                return _helix_error(400, "CREATE_CUSTOM_REWARD_TOO_MANY_REWARDS")
            reward = self._new_reward(body)
            fake.rewards[reward["id"]] = reward
            fake.reward_owner[reward["id"]] = grant.client_id
            return Reply(200, {"data": [self._reward_reply(reward)]})
        if req.method == "PATCH":
            rid = req.query.get("id", "")
            if rid not in fake.rewards:
                return _helix_error(404, "Not Found")
            if fake.reward_owner[rid] != grant.client_id:
                return _helix_error(403, NOT_OWNER)
            self._apply(fake.rewards[rid], body)
            return Reply(200, {"data": [self._reward_reply(fake.rewards[rid])]})
        return _helix_error(404, "Not Found")

    def _new_reward(self, body: dict[str, Any]) -> dict[str, Any]:
        reward: dict[str, Any] = {
            "broadcaster_id": self.fake.broadcaster_id,
            "broadcaster_login": self.fake.login,
            "broadcaster_name": self.fake.login,
            "id": str(uuid.uuid4()),
            "title": "",
            "prompt": "",
            "cost": 1,
            "image": None,
            "default_image": {"url_1x": "", "url_2x": "", "url_4x": ""},
            "background_color": "#9147FF",
            "is_enabled": True,
            "is_user_input_required": False,
            "max_per_stream_setting": {"is_enabled": False, "max_per_stream": 0},
            "max_per_user_per_stream_setting": {"is_enabled": False, "max_per_user_per_stream": 0},
            "global_cooldown_setting": {"is_enabled": False, "global_cooldown_seconds": 0},
            "is_paused": False,
            "is_in_stock": True,
            "should_redemptions_skip_request_queue": False,
            "redemptions_redeemed_current_stream": None,
            "cooldown_expires_at": None,
        }
        self._apply(reward, body)
        return reward

    @staticmethod
    def _apply(reward: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("title", "prompt", "cost", "is_enabled", "is_paused", "background_color",
                    "is_user_input_required", "should_redemptions_skip_request_queue"):  # fmt: skip
            if key in body:
                reward[key] = body[key]
        nested = {
            "max_per_stream": ("max_per_stream_setting", "is_max_per_stream_enabled"),
            "max_per_user_per_stream": (
                "max_per_user_per_stream_setting",
                "is_max_per_user_per_stream_enabled",
            ),
            "global_cooldown_seconds": ("global_cooldown_setting", "is_global_cooldown_enabled"),
        }
        for value_key, (setting, flag) in nested.items():
            if flag in body:
                reward[setting]["is_enabled"] = bool(body[flag])
            if value_key in body:
                reward[setting][value_key] = body[value_key]

    def _redemptions(self, req: Request, grant: Grant) -> Reply:
        fake = self.fake
        q = req.query
        if q.get("broadcaster_id") != grant.user_id:
            return _helix_error(
                403, "The ID in broadcaster_id must match the user ID in the access token"
            )
        rid = q.get("reward_id", "")
        if rid not in fake.rewards:
            return _helix_error(404, "Not Found")
        if fake.reward_owner[rid] != grant.client_id:
            return _helix_error(403, NOT_OWNER)
        ids = [v for k, v in _pairs(req) if k == "id"]
        if req.method == "GET":
            if not ids and not q.get("status"):
                return _helix_error(
                    400,
                    "The status query parameter is required if you don't specify the id "
                    "query parameter.",
                )
            rows = [r for r in fake.redemptions.values() if r["reward"]["id"] == rid]
            if ids:
                rows = [r for r in rows if r["id"] in ids]
            if q.get("status"):
                rows = [r for r in rows if r["status"] == q["status"]]
            if q.get("sort", "OLDEST") == "NEWEST":
                rows.reverse()
            first = min(50, max(1, int(q.get("first", "20"))))
            start = int(q.get("after") or 0)
            page = rows[start : start + first]
            more = start + first < len(rows)
            return Reply(
                200, {"data": page, "pagination": {"cursor": str(start + first)} if more else {}}
            )
        if req.method == "PATCH":
            if "channel:manage:redemptions" not in grant.scopes:
                return _helix_error(401, "Missing scope: channel:manage:redemptions")
            try:
                status = req.json().get("status")
            except (ValueError, AttributeError):
                status = None
            if status not in ("FULFILLED", "CANCELED"):
                return _helix_error(400, "Invalid status provided")
            if not ids or len(ids) > 50:
                return _helix_error(400, "between 1 and 50 ids are required")
            changed = [
                fake.redemptions[i]
                for i in ids
                if i in fake.redemptions and fake.redemptions[i]["status"] == "UNFULFILLED"
            ]
            if not changed:
                return _helix_error(404, "Not Found")
            for redemption in changed:
                redemption["status"] = status
                if status == "CANCELED":  # the points go back to the viewer
                    login = str(redemption["user_login"])
                    fake.points[login] = fake.points.get(login, 0) + redemption["reward"]["cost"]
            return Reply(200, {"data": changed})
        return _helix_error(404, "Not Found")

    # -- admin -----------------------------------------------------------------------------------


def _pairs(req: Request) -> list[tuple[str, str]]:
    """Every query pair, repeated keys included (Helix takes ``id`` up to 50 times)."""
    return parse_qsl(req.raw_query, keep_blank_values=True)
