"""The fake Donation Alerts' HTTP side: a small ASGI app (served by Hypercorn).

``/oauth/authorize`` and ``/oauth/token`` (authorization-code and refresh-token grants,
RFC 6749 errors), ``/api/v1/user/oauth``, ``/api/v1/centrifuge/subscribe`` and
``/api/v1/alerts/donations``, plus ``/_fake/*``: the admin endpoints that publish donations
and turn the fault knobs for curl users. All state lives in ``fake_da.FakeDA``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from drawstreamd.testing.fake_http import FakeHttp, Reply, Request

if TYPE_CHECKING:
    from drawstreamd.testing.fake_da import FakeDA

log = logging.getLogger("drawstreamd.fake_da")

ALL_SCOPES = "oauth-user-show oauth-donation-subscribe oauth-donation-index"
PER_PAGE = 30


class FakeDAHttp(FakeHttp):
    """The ASGI app over one :class:`FakeDA`."""

    def __init__(self, fake: FakeDA) -> None:
        super().__init__(fake)
        self.fake = fake

    def route(self, req: Request) -> Reply:
        method, path = req.method, req.path
        if path == "/oauth/authorize" and method == "GET":
            return self._authorize(req.query)
        if path == "/oauth/token" and method == "POST":
            return self._token(req.form())
        if path.startswith("/api/v1/"):
            return self._api(method, path[len("/api/v1") :], req.headers, req.query, req.body)
        if path.startswith("/_fake/"):
            return self._admin(method, path[len("/_fake") :], req.query, req.body)
        return Reply(404, {"message": "Not Found"})

    def _authorize(self, q: dict[str, str]) -> Reply:
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != self.fake.client_id or not redirect.startswith(
            ("http://127.0.0.1", "http://localhost")
        ):
            return Reply(
                400,
                {"error": "invalid_client", "error_description": "unknown client or redirect_uri"},
            )
        if q.get("response_type") != "code":
            return Reply(400, {"error": "unsupported_response_type"})
        state = {"state": q["state"]} if "state" in q else {}
        decision = q.get("approve", "1" if self.fake.auto_approve else "")
        if decision == "":
            base = "/oauth/authorize?" + urlencode(q)
            page = (
                f"<h1>Fake Donation Alerts</h1><p>{self.fake.client_id} asks for: "
                f"{q.get('scope', '')}</p><a href='{base}&approve=1'>Allow</a> "
                f"<a href='{base}&approve=0'>Deny</a>"
            )
            return Reply(200, raw=page.encode(), headers=[("content-type", "text/html")])
        if decision != "1":
            target = redirect + "?" + urlencode({"error": "access_denied", **state})
            return Reply(302, headers=[("location", target)])
        code = "def50200" + secrets.token_hex(16)
        self.fake._codes[code] = (redirect, frozenset(q.get("scope", "").split()))
        return Reply(
            302, headers=[("location", redirect + "?" + urlencode({"code": code, **state}))]
        )

    def _token(self, form: dict[str, str]) -> Reply:
        def error(status: int, err: str, text: str) -> Reply:
            return Reply(status, {"error": err, "error_description": text})

        grant = form.get("grant_type", "")
        self.fake.token_grants[grant] += 1
        if (
            form.get("client_id") != self.fake.client_id
            or form.get("client_secret") != self.fake.client_secret
        ):
            return error(401, "invalid_client", "Client authentication failed")
        if grant == "authorization_code":
            entry = self.fake._codes.pop(form.get("code", ""), None)
            if entry is None or entry[0] != form.get("redirect_uri"):
                return error(400, "invalid_grant", "The authorization code is invalid or expired")
            scopes = entry[1]
        elif grant == "refresh_token":
            scopes_or_none = self.fake._refresh.pop(form.get("refresh_token", ""), None)
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
        access, refresh = self.fake._mint(scopes)
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": int(self.fake.access_ttl),
                "access_token": access,
                "refresh_token": refresh,
            },
        )

    def _api(
        self, method: str, path: str, headers: dict[str, str], query: dict[str, str], body: bytes
    ) -> Reply:
        auth = headers.get("authorization", "")
        grant = self.fake._access.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grant is None or grant.expires_at < time.time():
            return Reply(401, {"message": "Unauthenticated."})

        def need(scope: str) -> Reply | None:
            return None if scope in grant.scopes else Reply(403, {"message": "Forbidden."})

        if path == "/user/oauth" and method == "GET":
            return need("oauth-user-show") or Reply(
                200,
                {
                    "data": {
                        "id": self.fake.user_id,
                        "code": self.fake.user_name.lower(),
                        "name": self.fake.user_name,
                        "avatar": "",
                        "email": "streamer@example.invalid",
                        "socket_connection_token": self.fake.hub.new_connection_token(),
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
            if not self.fake.hub.is_live(client):
                return Reply(422, {"message": "Unknown client."})
            out = []
            for ch in channels:
                if ch != self.fake.channel or "oauth-donation-subscribe" not in grant.scopes:
                    return Reply(403, {"message": "Forbidden."})
                out.append({"channel": ch, "token": self.fake.hub.channel_token(client, ch)})
            return Reply(200, {"channels": out})
        if path == "/alerts/donations" and method == "GET":
            return need("oauth-donation-index") or self._page(query)
        return Reply(404, {"message": "Not Found"})

    def _page(self, query: dict[str, str]) -> Reply:
        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        total = len(self.fake.donations)
        last = max(1, -(-total // PER_PAGE))
        newest_first = self.fake.donations[::-1]
        items = newest_first[(page - 1) * PER_PAGE : page * PER_PAGE]
        base = self.fake.api_url + "/alerts/donations"
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
                        "requests": dict(self.fake.requests),
                        "grants": dict(self.fake.token_grants),
                        "donations": len(self.fake.donations),
                        "sockets": self.fake.hub.stats(),
                    },
                )
            if method != "POST":
                return Reply(405, {"message": "use POST"})
            if path == "/donations":
                return Reply(201, self.fake.publish(**args))
            if path == "/tokens":
                access, refresh = self.fake.issue_tokens(args.get("scopes", ALL_SCOPES))
                return Reply(201, {"access_token": access, "refresh_token": refresh})
            if path == "/drop":
                return Reply(
                    200,
                    {
                        "dropped": self.fake.drop_connections(
                            args.get("code"), args.get("reason", ""), args.get("reconnect", True)
                        )
                    },
                )
            if path == "/knobs":
                for key in ("silent", "drop_every", "slow", "socket_available"):
                    if key in args:
                        setattr(self.fake, key, args[key])
                return Reply(
                    200,
                    {
                        "silent": self.fake.silent,
                        "drop_every": self.fake.drop_every,
                        "slow": self.fake.slow,
                        "socket_available": self.fake.socket_available,
                    },
                )
            if path == "/expire-access-tokens":
                self.fake.expire_access_tokens()
                return Reply(200, {})
            if path == "/revoke":
                self.fake.revoke_refresh_tokens()
                return Reply(200, {})
            if path == "/fail":
                self.fake.fail_next(
                    str(args["endpoint"]), int(args["status"]), int(args.get("times", 1))
                )
                return Reply(200, {})
        except (ValueError, TypeError, KeyError) as exc:
            return Reply(400, {"message": f"bad admin request: {exc}"})
        return Reply(404, {"message": "Not Found"})
