"""The fake Twitch speaks the documented protocol: the device flow, Helix's ownership and
status rules, and EventSub's welcome, deadlines, close codes and reconnect hand-over."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
from source_support import fake_module, open_websocket_url
from trio_websocket import ConnectionClosed, WebSocketConnection

from drawstreamd.testing.fake_twitch import FakeTwitch, open_fake_twitch

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


async def next_frame(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(5):
        return dict(json.loads(await ws.get_message()))


async def frames_until_closed(ws: WebSocketConnection) -> None:
    while True:
        await next_frame(ws)


class Api:
    def __init__(self, fake: FakeTwitch, http: httpx.AsyncClient, access: str) -> None:
        self.fake = fake
        self.http = http
        self.auth = {"Authorization": f"Bearer {access}", "Client-Id": fake.client_id}

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(
            method, f"{self.fake.api_url}{path}", headers=self.auth, **kw
        )

    async def subscribe(
        self, session: str, kind: str = "channel.cheer", **cond: str
    ) -> httpx.Response:
        body = {
            "type": kind,
            "version": "1",
            "condition": {"broadcaster_user_id": self.fake.broadcaster_id, **cond},
            "transport": {"method": "websocket", "session_id": session},
        }
        return await self.call("POST", "/eventsub/subscriptions", json=body)


async def test_device_flow_pending_slow_down_and_single_use_refresh() -> None:
    with trio.fail_after(15):
        async with (
            open_fake_twitch(device_interval=1, approve_after_polls=0) as fake,
            httpx.AsyncClient() as http,
        ):
            start = await http.post(
                f"{fake.auth_url}/device", data={"client_id": fake.client_id, "scopes": "bits:read"}
            )
            code = start.json()
            assert set(code) == {
                "device_code",
                "expires_in",
                "interval",
                "user_code",
                "verification_uri",
            }
            form = {
                "client_id": fake.client_id,
                "scopes": "bits:read",
                "device_code": code["device_code"],
                "grant_type": DEVICE,
            }
            pending = await http.post(f"{fake.auth_url}/token", data=form)
            assert (pending.status_code, pending.json()) == (
                400,
                {"status": 400, "message": "authorization_pending"},
            )
            assert (await http.post(f"{fake.auth_url}/token", data=form)).json()[
                "message"
            ] == "slow_down"
            page = await http.get(code["verification_uri"].replace("public=true&", ""))
            assert page.status_code == 200  # the user typed the code
            await trio.sleep(1.0)
            done = (await http.post(f"{fake.auth_url}/token", data=form)).json()
            assert done["scope"] == ["bits:read"]
            assert (await http.post(f"{fake.auth_url}/token", data=form)).json()[
                "message"
            ] == "invalid device code"
            valid = await http.get(
                f"{fake.auth_url}/validate",
                headers={"Authorization": f"OAuth {done['access_token']}"},
            )
            assert valid.json()["login"] == "cool_user"
            refresh = {
                "client_id": fake.client_id,
                "grant_type": "refresh_token",
                "refresh_token": done["refresh_token"],
            }
            assert (await http.post(f"{fake.auth_url}/token", data=refresh)).status_code == 200
            again = await http.post(
                f"{fake.auth_url}/token", data=refresh
            )  # refresh tokens work once
            assert again.json() == {"status": 400, "message": "Invalid refresh token"}


async def test_welcome_keepalive_and_the_subscribe_deadline() -> None:
    with trio.fail_after(15):
        async with open_fake_twitch(min_keepalive=1, subscribe_deadline=1.5) as fake:
            async with open_websocket_url(f"{fake.ws_url}?keepalive_timeout_seconds=1") as ws:
                hello = await next_frame(ws)
                assert hello["metadata"]["message_type"] == "session_welcome"
                assert hello["payload"]["session"]["keepalive_timeout_seconds"] == 1
                assert (await next_frame(ws))["metadata"]["message_type"] == "session_keepalive"
                with pytest.raises(ConnectionClosed) as closed:  # no subscription in time
                    await frames_until_closed(ws)
                assert (closed.value.reason.code, closed.value.reason.reason) == (
                    4003,
                    "connection unused",
                )
            async with open_websocket_url(fake.ws_url) as ws:
                await next_frame(ws)
                await ws.send_message("hello?")  # the server takes nothing but pongs
                with pytest.raises(ConnectionClosed) as closed:
                    await next_frame(ws)
                assert closed.value.reason.code == 4001
            async with open_websocket_url(f"{fake.ws_url}?keepalive_timeout_seconds=5000") as ws:
                assert (await next_frame(ws))["payload"]["session"][
                    "keepalive_timeout_seconds"
                ] == 10


async def test_subscriptions_notifications_and_the_reconnect_hand_over() -> None:
    with trio.fail_after(20):
        async with open_fake_twitch() as fake, httpx.AsyncClient() as http:
            access, _ = fake.issue_tokens()
            api = Api(fake, http, access)
            async with open_websocket_url(fake.ws_url) as ws:
                session = (await next_frame(ws))["payload"]["session"]["id"]
                assert (await api.subscribe("no-such-session")).status_code == 400
                made = await api.subscribe(session)
                assert made.status_code == 202
                assert made.json()["data"][0]["transport"] == {
                    "method": "websocket",
                    "session_id": session,
                }
                assert (await api.subscribe(session)).status_code == 409
                fake.cheer("Cheer100 hi", username="Bitsy", bits=100)
                cheer = await next_frame(ws)
                assert cheer["metadata"]["subscription_type"] == "channel.cheer"
                assert cheer["payload"]["event"]["bits"] == 100
                fake.hub.duplicate = 1
                fake.cheer("twice", username=None, bits=5)
                first, second = await next_frame(ws), await next_frame(ws)
                assert first == second  # a redelivery keeps its message_id
                assert first["payload"]["event"]["is_anonymous"] is True
                fake.ask_reconnect(grace=5)
                move = await next_frame(ws)
                assert move["metadata"]["message_type"] == "session_reconnect"
                url = move["payload"]["session"]["reconnect_url"]
                fake.cheer("before the move", bits=1)  # still on the old connection
                assert (await next_frame(ws))["payload"]["event"]["message"] == "before the move"
                async with open_websocket_url(url) as ws2:
                    assert (await next_frame(ws2))["metadata"]["message_type"] == "session_welcome"
                    fake.cheer(
                        "after the move", bits=1
                    )  # no subscribing: it moved with the session
                    assert (await next_frame(ws2))["payload"]["event"][
                        "message"
                    ] == "after the move"
            async with open_websocket_url(url) as ws3:  # a used reconnect id
                with pytest.raises(ConnectionClosed) as closed:
                    await next_frame(ws3)
                assert closed.value.reason.code == 4007


async def test_helix_rewards_belong_to_their_app_and_redemptions_leave_unfulfilled_once() -> None:
    with trio.fail_after(15):
        async with open_fake_twitch() as fake, httpx.AsyncClient() as http:
            access, _ = fake.issue_tokens()
            api = Api(fake, http, access)
            me = {"broadcaster_id": fake.broadcaster_id}
            made = await api.call(
                "POST",
                "/channel_points/custom_rewards",
                params=me,
                json={"title": "Draw something", "cost": 50},
            )
            reward = made.json()["data"][0]
            dup = await api.call(
                "POST",
                "/channel_points/custom_rewards",
                params=me,
                json={"title": "draw SOMETHING", "cost": 5},
            )
            assert (dup.status_code, dup.json()["message"]) == (
                400,
                "CREATE_CUSTOM_REWARD_DUPLICATE_REWARD",
            )
            # a reward made on the dashboard (another client id) is listed but not manageable
            fake.rewards["dash"] = {**reward, "id": "dash", "title": "Hydrate"}
            fake.reward_owner["dash"] = "dashboard"
            listed = (await api.call("GET", "/channel_points/custom_rewards", params=me)).json()[
                "data"
            ]
            ours = (
                await api.call(
                    "GET",
                    "/channel_points/custom_rewards",
                    params={**me, "only_manageable_rewards": "true"},
                )
            ).json()["data"]
            assert [r["id"] for r in ours] == [reward["id"]]
            assert len(listed) == 2
            foreign = await api.call(
                "PATCH",
                "/channel_points/custom_rewards/redemptions",
                params={**me, "reward_id": "dash", "id": "x"},
                json={"status": "CANCELED"},
            )
            assert foreign.status_code == 403
            r1 = fake.redeem("draw a cat", username="Viewer1")
            where = {**me, "reward_id": reward["id"]}
            page = (
                await api.call(
                    "GET",
                    "/channel_points/custom_rewards/redemptions",
                    params={**where, "status": "UNFULFILLED"},
                )
            ).json()
            assert [r["id"] for r in page["data"]] == [r1["id"]]
            cancel = await api.call(
                "PATCH",
                "/channel_points/custom_rewards/redemptions",
                params={**where, "id": r1["id"]},
                json={"status": "CANCELED"},
            )
            assert cancel.json()["data"][0]["status"] == "CANCELED"
            assert fake.points == {"viewer1": 50}  # CANCELED gives the points back
            again = await api.call(
                "PATCH",
                "/channel_points/custom_rewards/redemptions",
                params={**where, "id": r1["id"]},
                json={"status": "FULFILLED"},
            )
            assert again.status_code == 404  # only UNFULFILLED ones can change
            wrong_client = await http.get(
                f"{fake.api_url}/channel_points/custom_rewards",
                params=me,
                headers={**api.auth, "Client-Id": "other"},
            )
            assert wrong_client.status_code == 401
            limited = await api.call("GET", "/channel_points/custom_rewards", params=me)
            assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(
                limited.headers
            )


def test_module_runs_standalone_and_takes_the_admin_calls() -> None:
    with fake_module("fake_twitch") as found:
        assert set(found) >= {
            "TWITCH_CLIENT_ID",
            "TWITCH_AUTH_URL",
            "TWITCH_API_URL",
            "TWITCH_EVENTSUB_URL",
            "TWITCH_ACCESS_TOKEN",
            "TWITCH_REFRESH_TOKEN",
            "FAKE_ADMIN_URL",
        }
        admin = found["FAKE_ADMIN_URL"]
        cheer = httpx.post(
            f"{admin}/donations",
            json={
                "message": "Cheer300 draw",
                "username": "Bitsy",
                "amount": 300,
                "currency": "BITS",
                "kind": "cheer",
            },
            timeout=10,
        )
        assert (cheer.status_code, cheer.json()["bits"]) == (201, 300)
        early = httpx.post(
            f"{admin}/donations",
            json={"message": "draw", "username": "v", "kind": "redemption"},
            timeout=10,
        )
        assert early.status_code == 400  # no reward until the daemon made one
        assert httpx.post(f"{admin}/drop", json={}, timeout=10).json() == {"dropped": 0}
        assert httpx.post(f"{admin}/reconnect", json={"grace": 1}, timeout=10).json() == {
            "asked": 0
        }
        assert httpx.get(f"{admin}/redemptions", timeout=10).json() == {"data": [], "refunded": {}}
        assert httpx.post(f"{admin}/knobs", json={"silent": True}, timeout=10).json() == {
            "silent": True,
            "duplicate": 0,
        }
