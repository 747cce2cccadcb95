"""The fake Donation Alerts speaks the documented protocol: a raw client follows §3.2 literally."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import trio
from source_support import open_websocket_url
from trio_websocket import ConnectionClosed, WebSocketConnection

from drawstreamd.testing.fake_da import FakeDA, open_fake_da

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


async def objects(ws: WebSocketConnection) -> list[dict[str, Any]]:
    """One WebSocket message, split into its newline-separated JSON objects."""
    message = await ws.get_message()
    assert isinstance(message, str)
    assert message.endswith("\n")
    return [json.loads(line) for line in message.splitlines() if line]


class Chain:
    def __init__(self, fake: FakeDA, http: httpx.AsyncClient, access: str) -> None:
        self.fake = fake
        self.http = http
        self.auth = {"Authorization": f"Bearer {access}"}

    async def user(self) -> dict[str, Any]:
        resp = await self.http.get(f"{self.fake.api_url}/user/oauth", headers=self.auth)
        assert resp.status_code == 200
        data: dict[str, Any] = resp.json()["data"]
        return data

    async def channel_token(self, client: str, channel: str) -> httpx.Response:
        return await self.http.post(
            f"{self.fake.api_url}/centrifuge/subscribe",
            headers=self.auth,
            json={"channels": [channel], "client": client},
        )


async def connected(chain: Chain, ws: WebSocketConnection) -> str:
    user = await chain.user()
    await ws.send_message(
        json.dumps({"params": {"token": user["socket_connection_token"]}, "id": 1})
    )
    [reply] = await objects(ws)
    client: str = reply["result"]["client"]
    return client


@pytest.fixture
async def chain() -> AsyncIterator[Chain]:
    async with open_fake_da(stale_timeout=0.5) as fake, httpx.AsyncClient() as http:
        access, _ = fake.issue_tokens()
        yield Chain(fake, http, access)


async def test_documented_sequence_frame_by_frame(chain: Chain) -> None:
    with trio.fail_after(10):
        user = await chain.user()
        assert set(user) >= {"id", "code", "name", "avatar", "email", "socket_connection_token"}
        channel = f"$alerts:donation_{user['id']}"
        async with open_websocket_url(chain.fake.ws_url) as ws:
            token = user["socket_connection_token"]
            await ws.send_message(json.dumps({"params": {"token": token, "name": "js"}, "id": 1}))
            [reply] = await objects(ws)
            assert reply["id"] == 1
            client = reply["result"]["client"]
            assert len(client) == 36
            resp = await chain.channel_token(client, channel)
            assert resp.status_code == 200
            [entry] = resp.json()["channels"]
            assert entry["channel"] == channel
            sub = {"params": {"channel": channel, "token": entry["token"]}, "method": 1, "id": 2}
            await ws.send_message(json.dumps(sub))
            [sub_reply] = await objects(ws)
            assert sub_reply["id"] == 2
            assert set(sub_reply["result"]) == {"recoverable", "seq", "offset", "epoch"}
            [join] = await objects(ws)  # a separate frame, as the real server sends it
            assert join == {
                "result": {
                    "type": 1,
                    "channel": channel,
                    "data": {"info": {"user": str(user["id"]), "client": client}},
                }
            }
            first = chain.fake.publish("draw a cat", username="Вася")
            second = chain.fake.publish("draw a dog")
            pushes: list[dict[str, Any]] = []
            while len(pushes) < 2:
                pushes += await objects(ws)
            assert "id" not in pushes[0]
            assert pushes[0]["result"]["channel"] == channel
            assert "type" not in pushes[0]["result"]
            assert pushes[0]["result"]["data"]["data"] == {**first, "reason": "default"}
            assert pushes[1]["result"]["data"]["seq"] == pushes[0]["result"]["data"]["seq"] + 1
            assert pushes[1]["result"]["data"]["data"]["id"] == second["id"]


async def test_errors_and_several_commands_in_one_frame(chain: Chain) -> None:
    with trio.fail_after(10):
        user = await chain.user()
        channel = f"$alerts:donation_{user['id']}"
        async with open_websocket_url(chain.fake.ws_url) as ws:
            await ws.send_message('{"method":7,"id":1}')
            assert await objects(ws) == [
                {"id": 1, "error": {"code": 101, "message": "unauthorized"}}
            ]
            client = await connected(chain, ws)
            await ws.send_message('{"method":7,"id":0}')
            assert (await objects(ws))[0]["error"]["code"] == 107
            # a channel token minted for another client id is refused
            other = await chain.channel_token(client, channel)
            await ws.send_message(
                json.dumps(
                    {"id": 3, "method": 1, "params": {"channel": channel, "token": "forged"}}
                )
            )
            assert (await objects(ws))[0]["error"] == {"code": 103, "message": "permission denied"}
            token = other.json()["channels"][0]["token"]
            batch = "\n".join(
                [
                    json.dumps(
                        {"id": 4, "method": 1, "params": {"channel": channel, "token": token}}
                    ),
                    '{"id":5,"method":7}',
                    json.dumps(
                        {"id": 6, "method": 1, "params": {"channel": channel, "token": token}}
                    ),
                ]
            )
            await ws.send_message(batch)
            got: list[dict[str, Any]] = []
            while len(got) < 4:
                got += await objects(ws)
            assert got[0]["id"] == 4
            assert got[1]["result"]["type"] == 1
            assert got[2] == {"id": 5}
            assert got[3]["error"]["code"] == 105


async def test_bad_connect_token_closes_without_reconnect(chain: Chain) -> None:
    with trio.fail_after(10):
        async with open_websocket_url(chain.fake.ws_url) as ws:
            await ws.send_message('{"params":{"token":"made-up"},"id":1}')
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
    close = closed.value.reason
    assert close is not None
    assert close.code == 3002
    assert json.loads(close.reason or "") == {"reason": "invalid token", "reconnect": False}


async def test_silent_client_is_closed_as_stale(chain: Chain) -> None:
    with trio.fail_after(10):
        async with open_websocket_url(chain.fake.ws_url) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
    close = closed.value.reason
    assert close is not None
    assert close.code == 3007
    assert json.loads(close.reason or "") == {"reason": "stale", "reconnect": False}


async def test_channel_tokens_only_for_live_clients_and_own_channel(chain: Chain) -> None:
    with trio.fail_after(10):
        resp = await chain.channel_token("4d7e1c5e-0000-4000-8000-000000000000", chain.fake.channel)
        assert resp.status_code == 422
        async with open_websocket_url(chain.fake.ws_url) as ws:
            client = await connected(chain, ws)
            resp = await chain.channel_token(client, "$alerts:donation_1")
            assert resp.status_code == 403
        resp = await chain.http.get(f"{chain.fake.api_url}/user/oauth")
        assert (resp.status_code, resp.json()) == (401, {"message": "Unauthenticated."})


async def test_donation_list_is_paged_newest_first(chain: Chain) -> None:
    with trio.fail_after(10):
        ids = [chain.fake.publish(f"d{i}")["id"] for i in range(65)]
        url = f"{chain.fake.api_url}/alerts/donations"
        page1 = (await chain.http.get(url, headers=chain.auth)).json()
        page3 = (await chain.http.get(url, params={"page": 3}, headers=chain.auth)).json()
        assert [d["id"] for d in page1["data"]] == ids[::-1][:30]
        assert page1["meta"]["per_page"] == 30
        assert page1["meta"]["last_page"] == 3
        assert page1["meta"]["total"] == 65
        assert page1["links"]["next"].endswith("page=2")
        assert page1["links"]["prev"] is None
        assert [d["id"] for d in page3["data"]] == ids[:5][::-1]
        assert page3["links"]["next"] is None


async def test_token_endpoint_speaks_rfc6749(chain: Chain) -> None:
    fake = chain.fake
    url = f"{fake.oauth_url}/token"
    base = {"client_id": fake.client_id, "client_secret": fake.client_secret}
    with trio.fail_after(10):
        resp = await chain.http.post(url, data={**base, "grant_type": "password"})
        assert (resp.status_code, resp.json()["error"]) == (400, "unsupported_grant_type")
        resp = await chain.http.post(
            url,
            data={
                **base,
                "grant_type": "authorization_code",
                "code": "nope",
                "redirect_uri": "http://127.0.0.1/",
            },
        )
        assert (resp.status_code, resp.json()["error"]) == (400, "invalid_grant")
        resp = await chain.http.post(
            url, data={**base, "client_secret": "x", "grant_type": "refresh_token"}
        )
        assert (resp.status_code, resp.json()["error"]) == (401, "invalid_client")
        _, refresh = fake.issue_tokens("oauth-user-show")
        resp = await chain.http.post(
            url,
            data={
                **base,
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "scope": "oauth-user-show oauth-donation-index",
            },
        )
        assert resp.json()["error"] == "invalid_scope"
        _, refresh = fake.issue_tokens()
        resp = await chain.http.post(
            url, data={**base, "grant_type": "refresh_token", "refresh_token": refresh}
        )
        body = resp.json()
        assert set(body) == {"token_type", "expires_in", "access_token", "refresh_token"}
        assert isinstance(body["expires_in"], int)


async def test_admin_endpoints_drive_the_fake(chain: Chain) -> None:
    fake = chain.fake
    with trio.fail_after(10):
        resp = await chain.http.post(
            f"{fake.admin_url}/donations",
            json={"message": "нарисуй кота", "username": "Вася", "amount": 150},
        )
        assert resp.status_code == 201
        assert fake.donations[-1]["message"] == "нарисуй кота"
        resp = await chain.http.post(f"{fake.admin_url}/knobs", json={"silent": True})
        assert resp.json()["silent"] is True
        assert fake.silent
        resp = await chain.http.post(f"{fake.admin_url}/donations", json={"nonsense": 1})
        assert resp.status_code == 400
        stats = (await chain.http.get(f"{fake.admin_url}/stats")).json()
        assert stats["donations"] == 1


def test_module_runs_standalone_and_prints_the_settings() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "drawstreamd.testing.fake_da", "--http-port", "0", "--ws-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    guard = threading.Timer(20, proc.kill)  # the hang guard: a silent process is killed
    guard.start()
    try:
        assert proc.stdout is not None
        env: dict[str, str] = {}
        for line in proc.stdout:
            if "=" in line and line[:3] == "DA_":
                key, value = line.strip().split("=", 1)
                env[key] = value
            if "DA_REFRESH_TOKEN" in env:
                break
        assert env["DA_WS_URL"].startswith("ws://127.0.0.1:")
        admin = env["DA_API_URL"].replace("/api/v1", "/_fake")
        resp = httpx.post(f"{admin}/donations", json={"message": "draw", "amount": 5}, timeout=5)
        assert resp.status_code == 201
        user = httpx.get(
            f"{env['DA_API_URL']}/user/oauth",
            timeout=5,
            headers={"Authorization": f"Bearer {env['DA_ACCESS_TOKEN']}"},
        )
        assert user.json()["data"]["id"] == 4242
    finally:
        guard.cancel()
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
