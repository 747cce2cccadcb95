"""The fake DonatePay: its API as the clients use it, and its socket against the official
Centrifugo v2 client (npm centrifuge@2.8.5, the version DonatePay integrations pin)."""

from __future__ import annotations

import functools
import shutil
import subprocess

import httpx
import trio
from source_support import NodeEvents, fake_module
from test_da_official_client import JS, ensure_client_installed

from drawstreamd.testing.fake_donatepay import open_fake_dp


async def test_official_centrifuge_client_hears_donations_and_comes_back() -> None:
    await trio.to_thread.run_sync(ensure_client_installed)
    node = shutil.which("node")
    assert node is not None
    with trio.fail_after(30):
        async with open_fake_dp() as fake, trio.open_nursery() as nursery:
            proc = await nursery.start(
                functools.partial(
                    trio.run_process,
                    [
                        node,
                        str(JS / "donatepay_client.js"),
                        fake.ws_url,
                        fake.api_url,
                        fake.key,
                        "4",
                    ],
                    stdout=subprocess.PIPE,
                    check=False,
                )
            )
            assert proc.stdout is not None
            events = NodeEvents(proc.stdout)
            await events.until("subscribed")
            first = [
                fake.publish("нарисуй кота", username="Вася", amount=150),
                fake.publish("draw a dog"),
            ]
            await events.until("publication", 2)
            assert fake.ask_reconnect() == 1  # Centrifugo close 3001 "shutdown", reconnect advised
            await events.until("disconnected")
            await events.until("subscribed", 2)
            later = [fake.publish("after the reconnect"), fake.publish("and one more")]
            await events.until("done")
            await proc.wait()
    assert proc.returncode == 0
    notes = [e["data"]["notification"] for e in events.of("publication")]
    assert [n["type"] for n in notes] == ["donation"] * 4
    assert [n["vars"]["comment"] for n in notes] == [t["vars"]["comment"] for t in first + later]
    assert all(n["id"] not in {t["id"] for t in fake.transactions} for n in notes)  # other ids
    clients = [e["client"] for e in events.of("connected")]
    posts = events.of("private_subscribe")
    assert len(clients) == 2
    assert [p["client"] for p in posts] == clients
    assert posts[0]["channels"] == [fake.channel]
    disconnect = events.of("disconnected")[0]
    assert (disconnect["reason"], disconnect["reconnect"]) == ("shutdown", True)


async def test_api_as_the_clients_use_it() -> None:
    with trio.fail_after(15):
        async with open_fake_dp(min_interval=0.5) as fake, httpx.AsyncClient() as http:
            txs = [fake.publish(f"draw {i}", amount=10 + i) for i in range(130)]
            key = {"access_token": fake.key}
            user = (await http.get(f"{fake.api_url}/v1/user", params=key)).json()
            assert user == {
                "status": "success",
                "data": {
                    "id": 1304427,
                    "name": "FakeStreamer",
                    "avatar": "",
                    "balance": 0,
                    "cashout_sum": 0,
                },
            }
            url = f"{fake.api_url}/v1/transactions"
            page = {
                **key,
                "after": str(txs[9]["id"]),
                "order": "ASC",
                "limit": "100",
                "type": "donation",
            }
            first = (await http.get(url, params=page)).json()
            assert first["status"] == "success"
            assert [t["id"] for t in first["data"]] == [t["id"] for t in txs[10:110]]
            assert first["data"][0]["sum"] == "20.00"
            # a second call of the same method too soon: 429 with an HTML page
            again = await http.get(url, params=page)
            assert again.status_code == 429
            assert again.headers["content-type"].startswith("text/html")
            await trio.sleep(0.5)
            newest = (await http.get(url, params={**key, "limit": "1"})).json()  # DESC by default
            assert newest["data"][0]["id"] == txs[-1]["id"]
            await trio.sleep(0.5)
            assert (await http.get(url, params={**key, "limit": "500"})).status_code == 422
            assert (await http.get(url, params={"access_token": "nope"})).status_code == 401
            token = (await http.post(f"{fake.api_url}/v2/socket/token", json=key)).json()
            assert token["token"]
            unknown = await http.post(
                f"{fake.api_url}/v2/socket/token",
                params=key,
                json={"client": "x", "channels": [fake.channel]},
            )
            assert unknown.status_code == 422  # a channel token needs a live client id
            fake.revoke()
            assert (await http.post(f"{fake.api_url}/v2/socket/token", json=key)).status_code == 401


def test_module_runs_standalone_and_prints_the_settings() -> None:
    with fake_module("fake_donatepay") as found:
        assert set(found) >= {"DP_API_URL", "DP_WS_URL", "DP_API_KEY", "FAKE_ADMIN_URL"}
        admin = found["FAKE_ADMIN_URL"]
        made = httpx.post(
            f"{admin}/donations",
            json={"message": "кот", "username": "Вася", "amount": 150, "currency": "RUB"},
            timeout=10,
        )
        assert made.status_code == 201
        assert httpx.post(f"{admin}/drop", json={}, timeout=10).json() == {"dropped": 0}
        assert httpx.post(f"{admin}/reconnect", json={}, timeout=10).json() == {"asked": 0}
        knobs = httpx.post(f"{admin}/knobs", json={"socket_available": False}, timeout=10).json()
        assert knobs["socket_available"] is False
        assert httpx.get(f"{admin}/stats", timeout=10).json()["transactions"] == 1
        listed = httpx.get(
            f"{found['DP_API_URL']}/v1/transactions",
            params={"access_token": found["DP_API_KEY"]},
            timeout=10,
        )
        assert [t["id"] for t in listed.json()["data"]] == [made.json()["id"]]
