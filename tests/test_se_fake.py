"""The fake StreamElements speaks Astro and kappa v2 as documented, frame by frame."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
from source_support import fake_module, open_websocket_url
from trio_websocket import ConnectionClosed, WebSocketConnection

from drawstreamd.sources.wsclient import Drop, run_websocket
from drawstreamd.testing.fake_streamelements import FakeSE, open_fake_se


async def next_json(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(5):
        return dict(json.loads(await ws.get_message()))


def subscribe(fake: FakeSE, nonce: str, **data: Any) -> str:
    body = {
        "topic": "channel.tips",
        "room": fake.channel_id,
        "token": fake.jwt,
        "token_type": "jwt",
    }
    return json.dumps({"type": "subscribe", "nonce": nonce, "data": {**body, **data}})


async def test_welcome_subscribe_and_a_tip_message() -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake, open_websocket_url(fake.ws_url) as ws:
            welcome = await next_json(ws)
            assert welcome["type"] == "welcome"
            assert welcome["data"]["client_id"]
            await ws.send_message(subscribe(fake, "n1", room=""))
            reply = await next_json(ws)
            assert reply["type"] == "response"
            assert reply["nonce"] == "n1"
            assert "error" not in reply
            # the canonical room comes back even when none was asked for
            assert reply["data"] == {
                "message": "successfully subscribed to topic",
                "topic": "channel.tips",
                "room": fake.channel_id,
            }
            await ws.send_message(b"\x00binary frames are ignored")
            tip = fake.publish("draw a cat", username="Sam", amount=5)
            msg = await next_json(ws)
            assert (msg["type"], msg["topic"], msg["room"]) == (
                "message",
                "channel.tips",
                fake.channel_id,
            )
            assert len(msg["id"]) == 26
            assert msg["data"]["_id"] == tip["_id"]
            assert msg["data"]["donation"]["message"] == "draw a cat"
            assert "deleted" not in msg["data"]  # a REST-only field


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"token": "eyJwrong"}, "err_unauthorized"),
        ({"room": "000000000000000000000000"}, "err_unauthorized"),
        ({"topic": "channel.nope"}, "err_bad_request"),
        ({"token_type": "password"}, "err_bad_request"),
    ],
)
async def test_subscribe_errors(data: dict[str, str], error: str) -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake, open_websocket_url(fake.ws_url) as ws:
            await next_json(ws)
            await ws.send_message(subscribe(fake, "n9", **data))
            reply = await next_json(ws)
            assert (reply["nonce"], reply["error"]) == ("n9", error)
            assert reply["data"]["message"]


async def test_unknown_command_and_rate_limit() -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake, open_websocket_url(fake.ws_url) as ws:
            await next_json(ws)
            await ws.send_message(json.dumps({"type": "publish", "nonce": "p"}))
            assert (await next_json(ws))["error"] == "invalid_message_type"
            for i in range(120):  # a burst past 100 commands in 10 s
                await ws.send_message(subscribe(fake, f"b{i}"))
            replies = [await next_json(ws) for _ in range(120)]
            limited = [r for r in replies if r.get("error") == "rate_limit_exceeded"]
            assert len(limited) >= 15
            assert all("nonce" not in r for r in limited)


async def test_reconnect_token_restores_subscriptions_once() -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake:
            async with open_websocket_url(fake.ws_url) as ws:
                await next_json(ws)
                await ws.send_message(subscribe(fake, "n1"))
                await next_json(ws)
                fake.ask_reconnect(grace=0.2)
                notice = await next_json(ws)
                assert notice["type"] == "reconnect"
                token = notice["data"]["reconnect_token"]
                with pytest.raises(ConnectionClosed):
                    await next_json(ws)
            url = f"{fake.ws_url}?reconnect_token={token}"
            async with open_websocket_url(url) as ws2:
                assert (await next_json(ws2))["type"] == "welcome"
                fake.publish("after the move")  # no subscribe sent: restored by the server
                assert (await next_json(ws2))["data"]["donation"]["message"] == "after the move"
            async with open_websocket_url(url) as ws3:  # a used token closes at once
                with pytest.raises(ConnectionClosed) as closed:
                    await next_json(ws3)
                assert closed.value.reason.code == 4000


async def test_draining_and_rate_limited_upgrades_are_refused() -> None:
    async def never(ws: WebSocketConnection) -> Drop:
        raise AssertionError("the upgrade was accepted")

    with trio.fail_after(15):
        async with open_fake_se() as fake:
            fake.hub.refuse = 502
            drop = await run_websocket(
                fake.ws_url, never, setting="SE_WS_URL", limit=5, max_message=1 << 20
            )
            assert str(drop) == "websocket handshake refused: HTTP 502"
            fake.hub.refuse = 429
            drop = await run_websocket(
                fake.ws_url, never, setting="SE_WS_URL", limit=5, max_message=1 << 20
            )
            assert (str(drop), drop.wait) == ("websocket handshake refused: HTTP 429", 2.0)


async def test_tips_list_pages_and_checks_the_token() -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake, httpx.AsyncClient() as http:
            tips = [fake.publish(f"tip {i}") for i in range(130)]
            auth = {"Authorization": f"Bearer {fake.jwt}"}
            me = await http.get(f"{fake.api_url}/channels/me", headers=auth)
            assert me.json()["_id"] == fake.channel_id
            url = f"{fake.api_url}/tips/{fake.channel_id}"
            first = (
                await http.get(
                    url, headers=auth, params={"limit": 100, "offset": 0, "sort": "createdAt"}
                )
            ).json()
            assert (first["total"], first["limit"], first["offset"]) == (130, 100, 0)
            rest = (
                await http.get(
                    url, headers=auth, params={"limit": 100, "offset": 100, "sort": "createdAt"}
                )
            ).json()
            assert [t["_id"] for t in first["docs"] + rest["docs"]] == [t["_id"] for t in tips]
            newest = (
                await http.get(url, headers=auth, params={"limit": 1, "sort": "-createdAt"})
            ).json()
            assert newest["docs"][0]["_id"] == tips[-1]["_id"]
            after = (
                await http.get(url, headers=auth, params={"after": "99999999999999", "limit": 5})
            ).json()
            assert after["docs"] == []
            assert (await http.get(url, headers=auth, params={"limit": 500})).status_code == 400
            oauth = fake.issue_oauth()
            assert (
                await http.get(url, headers={"Authorization": f"oAuth {oauth}"})
            ).status_code == 200
            fake.revoke()
            assert (await http.get(url, headers=auth)).status_code == 401


async def test_silent_network_keeps_the_socket_open_but_says_nothing() -> None:
    with trio.fail_after(15):
        async with open_fake_se() as fake, open_websocket_url(fake.ws_url) as ws:
            await next_json(ws)
            await ws.send_message(subscribe(fake, "n1"))
            await next_json(ws)
            fake.silent = True
            fake.publish("lost in the dark")
            with trio.move_on_after(0.5) as pong_wait:
                await ws.ping()
            assert pong_wait.cancelled_caught  # not even a pong
            fake.silent = False
            assert (await next_json(ws))["data"]["donation"]["message"] == "lost in the dark"


def test_module_runs_standalone_and_prints_the_settings() -> None:
    with fake_module("fake_streamelements") as found:
        assert set(found) >= {
            "SE_API_URL",
            "SE_WS_URL",
            "SE_CHANNEL_ID",
            "SE_JWT",
            "FAKE_ADMIN_URL",
        }
        admin = found["FAKE_ADMIN_URL"]
        tip = httpx.post(
            f"{admin}/donations",
            json={"message": "draw", "username": "Sam", "amount": 3, "currency": "EUR"},
            timeout=10,
        )
        assert tip.status_code == 201
        assert tip.json()["donation"]["currency"] == "EUR"
        assert httpx.post(f"{admin}/drop", json={}, timeout=10).json() == {"dropped": 0}
        assert httpx.post(f"{admin}/reconnect", json={}, timeout=10).json() == {"asked": 0}
        knobs = httpx.post(
            f"{admin}/knobs", json={"duplicate": 2, "refuse": 502}, timeout=10
        ).json()
        assert (knobs["duplicate"], knobs["refuse"], knobs["silent"]) == (2, 502, False)
        tip_id = tip.json()["_id"]
        held = httpx.post(
            f"{admin}/moderate", json={"id": tip_id, "approved": "rejected"}, timeout=10
        )
        assert held.json()["approved"] == "rejected"
        assert (
            httpx.post(
                f"{admin}/moderate", json={"id": "nope", "approved": "x"}, timeout=10
            ).status_code
            == 400
        )
        listed = httpx.get(
            f"{found['SE_API_URL']}/tips/{found['SE_CHANNEL_ID']}",
            headers={"Authorization": f"Bearer {found['SE_JWT']}"},
            timeout=10,
        )
        assert listed.json()["total"] == 1
