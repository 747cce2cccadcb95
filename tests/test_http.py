"""The HTTP/WebSocket API, served by Hypercorn on loopback over the real command layer."""

from __future__ import annotations

import contextlib
import functools
import json
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
import trio
import trio.testing
import trio_websocket
from test_control_harness import Stack, free_port, open_stack

from drawstreamd.control.auth import HttpConfigError, ensure_api_token
from drawstreamd.control.http import serve_http
from drawstreamd.control.ratelimit import RateLimiter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@dataclass
class Api:
    st: Stack
    url: str
    token: str
    client: httpx.AsyncClient
    stop: trio.Event

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.asynccontextmanager
async def api(
    tmp_path: Path, limiter: RateLimiter | None = None, **settings: object
) -> AsyncIterator[Api]:
    async with open_stack(tmp_path, API_PORT=free_port(), **settings) as st:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(
                functools.partial(
                    serve_http,
                    st.settings,
                    st.commands,
                    st.events,
                    shutdown_trigger=stop.wait,
                    limiter=limiter,
                )
            )
            token = (st.settings.STATE_DIR / "api_token").read_text().strip()
            async with httpx.AsyncClient(base_url=urls[0] + "/api/v1") as client:
                yield Api(st, urls[0], token, client, stop)
            stop.set()


async def test_reading_needs_the_token(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            await a.st.commands.pause()
            await a.st.commands.donate("кот", "Маша")
            for path in ("/status", "/queue", "/history", "/stats", "/current"):
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": a.token}):
                    r = await a.client.get(path, headers=headers)
                    assert r.status_code == 401, (path, headers)
                    assert r.headers["www-authenticate"].startswith("Bearer")
                    assert r.json()["error"] == "permission"
                    assert "Маша" not in r.text
            r = await a.client.get("/status", headers=a.auth())
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            assert r.json()["queue_length"] == 1
            r = await a.client.get("/queue", headers=a.auth())
            assert [i["donor"] for i in r.json()["items"]] == ["Маша"]
            r = await a.client.get("/history", params={"limit": 1}, headers=a.auth())
            assert len(r.json()["items"]) == 1
            r = await a.client.get("/stats", params={"seconds": 1}, headers=a.auth())
            assert r.json()["frames"] == 0  # paused before anything moved: no frames to count
            r = await a.client.get("/current", headers={"Authorization": f"bearer {a.token}"})
            assert r.json() == {"state": "idle", "progress": 0.0, "remaining_sec": 0.0} | {
                k: None
                for k in (
                    "id",
                    "status",
                    "donor",
                    "message",
                    "amount",
                    "currency",
                    "source",
                    "verdict",
                    "rule",
                    "name_rule",
                    "check",
                )
            }
            # public: is it up, and what does it offer
            r = await a.client.get("/health")
            assert r.json()["protocol"] == "1.0"
            assert (await a.client.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/skip"),
        ("POST", "/clear"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/donations"),
        ("DELETE", "/queue/1"),
        ("POST", "/replay/1"),
    ],
)
async def test_changing_anything_without_the_token_is_401(
    tmp_path: Path, method: str, path: str
) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            await a.st.commands.pause()
            await a.st.commands.donate("кот")
            await a.st.wait_for("queued")
            seen = len(a.st.seen)
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": a.token}):
                r = await a.client.request(method, path, headers=headers, json={"message": "x"})
                assert r.status_code == 401
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert r.json()["error"] == "permission"
            await trio.testing.wait_all_tasks_blocked()
            assert a.st.seen[seen:] == []  # nothing queued, paused, resumed, removed…
            assert len(a.st.queue) == 1
            assert a.st.queue.paused


async def test_token_file_is_generated_once_owner_only(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            path = a.st.settings.STATE_DIR / "api_token"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert len(a.token) >= 40
            assert ensure_api_token(a.st.settings) == a.token  # stable across restarts


async def test_mutations_with_the_token(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            r = await a.client.post("/pause", headers=a.auth())
            assert r.json() == {"paused": True}
            assert a.st.queue.paused
            r = await a.client.post(
                "/donations",
                headers=a.auth(),
                json={"message": "нарисуй кота", "name": "Маша", "amount": 50, "currency": "eur"},
            )
            assert r.status_code == 201
            created = r.json()
            assert (created["donor"], created["currency"], created["status"]) == (
                "Маша",
                "EUR",
                "queued",
            )
            r = await a.client.delete(f"/queue/{created['id']}", headers=a.auth())
            assert r.json() == {"removed": True, "id": created["id"]}
            r = await a.client.delete(f"/queue/{created['id']}", headers=a.auth())
            assert r.status_code == 404
            assert r.json()["error"] == "no_exist"
            drawn = await a.st.commands.donate("дом")
            await a.st.commands.donate("лес")
            r = await a.client.post("/resume", headers=a.auth())
            assert r.json() == {"paused": False}
            await a.st.wait_for("started", drawn.id)
            await a.client.post("/pause", headers=a.auth())
            await a.st.wait_for("finished", drawn.id)
            r = await a.client.post("/skip", headers=a.auth())
            assert r.json() == {"skipped": True, "id": drawn.id}
            r = await a.client.post(f"/replay/{drawn.id}", headers=a.auth())
            assert r.status_code == 201
            assert r.json()["message"] == "дом"
            r = await a.client.post("/clear", headers=a.auth())
            assert r.json() == {"cleared": 2}
            r = await a.client.post("/replay/999", headers=a.auth())
            assert r.status_code == 404


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"message": "x", "colour": "red"}', "application/json", 400),
        (b'{"message": 5}', "application/json", 400),
        (b'{"message": "x", "amount": -1}', "application/json", 400),
        (b'{"message": "x", "amount": 1e400}', "application/json", 400),
        (b'{"message": "   "}', "application/json", 400),
        (b"[]", "application/json", 400),
        (b"", "application/json", 400),
        (b'{"message": "' + b"x" * 20000 + b'"}', "application/json", 413),
        (b'{"message": "x"}', "text/plain", 415),
        (b"\xff\xfe", "application/json", 400),
    ],
)
async def test_bad_bodies_are_4xx_json_and_queue_nothing(
    tmp_path: Path, content: bytes, content_type: str, status: int
) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            headers = {**a.auth(), "Content-Type": content_type}
            r = await a.client.post("/donations", headers=headers, content=content)
            assert r.status_code == status
            assert r.headers["content-type"] == "application/json"
            assert r.json()["message"]
            assert len(a.st.queue) == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/skip", 405),
        ("PUT", "/status", 405),
        ("GET", "/nothing", 404),
        ("DELETE", "/queue/abc", 404),
        ("DELETE", "/queue/0", 400),
        ("DELETE", "/queue/99999999999999999999999", 400),
        ("GET", "/history?limit=0", 400),
        ("GET", "/history?limit=x", 400),
        ("GET", "/history?offset=-1", 400),
    ],
)
async def test_wrong_methods_and_paths_are_4xx_json(
    tmp_path: Path, method: str, path: str, status: int
) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            r = await a.client.request(method, path, headers=a.auth())
            assert r.status_code == status
            assert "message" in r.json()
            if status == 405:
                assert r.headers["allow"]


async def test_a_network_address_with_a_short_token_refuses_to_start(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_stack(tmp_path, API_HOST="0.0.0.0", API_TOKEN="configured") as st:
            with pytest.raises(HttpConfigError, match=r"API_TOKEN is too short.*openssl rand"):
                await serve_http(
                    st.settings, st.commands, st.events, shutdown_trigger=trio.sleep_forever
                )
            assert not (st.settings.STATE_DIR / "api_token").exists()
            assert ensure_api_token(st.settings) == "configured"


async def test_events_websocket_streams_events_and_closes_1001_on_shutdown(
    tmp_path: Path,
) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            host, port = a.url.removeprefix("http://").rsplit(":", 1)
            stream = await trio.open_tcp_stream(host, int(port))
            async with stream, trio.open_nursery() as nursery:
                # our own stream, closed by us: trio-websocket leaves it to the GC here
                ws = await trio_websocket.wrap_client_stream(
                    nursery,
                    stream,
                    host,
                    "/api/v1/events?kinds=queued,paused,finished",
                    extra_headers=[(b"Authorization", f"Bearer {a.token}".encode())],
                )
                await trio.sleep(0.1)  # the subscription is made right after accept
                await a.st.commands.pause()
                await a.st.commands.resume()  # not asked for
                await a.st.commands.donate("кот", "Маша")
                assert json.loads(await ws.get_message())["kind"] == "paused"
                event = json.loads(await ws.get_message())
                assert (event["kind"], event["item_id"]) == ("queued", 1)
                assert event["data"]["donor"] == "Маша"
                event = json.loads(await ws.get_message())
                assert (event["kind"], event["item_id"]) == ("finished", 1)
                a.stop.set()
                with trio.fail_after(1), pytest.raises(trio_websocket.ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason is not None
                assert closed.value.reason.code == 1001


async def test_events_websocket_refuses_unknown_kinds(tmp_path: Path) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            r = await a.client.get("/events?kinds=queued,nonsense", headers=upgrade)
            assert r.status_code == 400
            assert r.json()["message"] == "unknown event kind 'nonsense'"


async def test_a_flooding_client_gets_429_with_retry_after(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with api(tmp_path, limiter=RateLimiter(rate=0.1, burst=3)) as a:
            codes = [
                (await a.client.get("/status", headers=a.auth())).status_code for _ in range(5)
            ]
            assert codes == [200, 200, 200, 429, 429]
            r = await a.client.get("/status", headers=a.auth())
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["error"] == "busy"


async def test_openapi_document_lists_every_route(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            doc = (await a.client.get("/openapi.json")).json()
            assert doc["openapi"].startswith("3.1")
            assert set(doc["paths"]) >= {
                f"/api/v1/{p}"
                for p in (
                    "health", "status", "stats", "queue", "history", "skip", "clear", "pause",
                    "resume", "donations", "queue/{item_id}", "replay/{item_id}",
                )
            }  # fmt: skip
            donate = doc["paths"]["/api/v1/donations"]["post"]
            assert donate["security"] == [{"bearer": []}]
            public = {"/api/v1/health", "/api/v1/signin", "/api/v1/openapi.json"}
            for path, ops in doc["paths"].items():
                for op in ops.values():
                    expected = [] if path in public else [{"bearer": []}]
                    assert op["security"] == expected, path
                    never_401 = path in ("/api/v1/health", "/api/v1/openapi.json")
                    assert ("401" in op["responses"]) is not never_401, path
            signin = doc["paths"]["/api/v1/signin"]["post"]
            assert doc["components"]["schemas"]["SigninRequest"]["required"] == ["code"]
            assert set(signin["responses"]) >= {"200", "401", "429"}
            assert "first message" in doc["info"]["description"]
            body = doc["components"]["schemas"]["DonateRequest"]
            assert body["required"] == ["message"]
            assert body["properties"]["message"]["maxLength"] == 500


async def test_other_blueprints_are_served_beside_the_api(tmp_path: Path) -> None:
    from quart import Blueprint

    given: list[trio.Event] = []

    def gallery(stopping: trio.Event) -> Blueprint:
        given.append(stopping)
        bp = Blueprint("gallery", __name__, url_prefix="/gallery")

        async def index() -> str:
            return "<h1>gallery</h1>"

        bp.add_url_rule("/", view_func=index)
        return bp

    with trio.fail_after(20):
        async with open_stack(tmp_path, API_PORT=free_port()) as st:
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(
                    functools.partial(
                        serve_http,
                        st.settings,
                        st.commands,
                        st.events,
                        shutdown_trigger=stop.wait,
                        blueprints=[gallery],
                    )
                )
                async with httpx.AsyncClient(base_url=urls[0]) as client:
                    r = await client.get("/gallery/")
                    assert (r.status_code, r.text) == (200, "<h1>gallery</h1>")
                    assert (await client.get("/api/v1/health")).status_code == 200
                assert not given[0].is_set()
                stop.set()
            assert given[0].is_set()  # its WebSockets were told to close


async def test_the_moderator_page_and_private_answers_are_kept_in_no_cache(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            await a.st.commands.pause()
            await a.st.commands.donate("кот", "Маша")
            async with httpx.AsyncClient(base_url=a.url) as browser:
                r = await browser.get("/mod")
            assert r.status_code == 200
            assert "Маша" not in r.text  # the page alone holds nothing private
            assert r.headers["cache-control"] == "no-store"
            assert r.headers["referrer-policy"] == "no-referrer"
            # no other site may frame its buttons, and only its own scripts run
            assert r.headers["x-frame-options"] == "DENY"
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp
            assert "script-src 'self';" in csp
            for path in ("/status", "/current", "/queue", "/history", "/bans"):
                r = await a.client.get(path, headers=a.auth())
                assert (r.status_code, r.headers.get("cache-control")) == (200, "no-store"), path
            r = await a.client.post("/pause", headers=a.auth())
            assert r.headers["cache-control"] == "no-store"
            assert a.st.commands.credentials is not None
            code = a.st.commands.credentials.issue_code()
            r = await a.client.post("/signin", json={"code": code})
            assert r.json()["token"] == a.token
            assert r.headers["cache-control"] == "no-store"
            assert "cache-control" not in (await a.client.get("/health")).headers


async def test_event_socket_clients_leaving_abruptly_are_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            host, port = a.url.removeprefix("http://").rsplit(":", 1)
            for _ in range(3):
                stream = await trio.open_tcp_stream(host, int(port))
                async with stream, trio.open_nursery() as nursery:
                    await trio_websocket.wrap_client_stream(
                        nursery, stream, host, f"/api/v1/events?token={a.token}"
                    )
                    await trio.sleep(0.05)
                    await a.st.commands.donate("кот")  # events on their way as it leaves
                    nursery.cancel_scope.cancel()
            await a.st.wait_for("queued", 3)
            await trio.sleep(0.2)  # what the servers do with the leavers
            assert (await a.client.get("/health")).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


async def test_an_unreadable_token_file_is_a_clear_error(tmp_path: Path) -> None:
    async with open_stack(tmp_path) as st:
        token_file = st.settings.STATE_DIR / "api_token"
        token_file.mkdir()  # something that is not a readable file
        with pytest.raises(HttpConfigError, match="cannot use the token file"):
            ensure_api_token(st.settings)


async def test_a_flood_never_refuses_the_overlay(tmp_path: Path) -> None:
    from quart import Blueprint

    def overlay(stopping: trio.Event) -> Blueprint:
        bp = Blueprint("overlay", __name__, url_prefix="/overlay")

        async def page() -> str:
            return "overlay"

        bp.add_url_rule("/", view_func=page)
        return bp

    with trio.fail_after(20):
        async with open_stack(tmp_path, API_PORT=free_port()) as st:
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(
                    functools.partial(
                        serve_http,
                        st.settings,
                        st.commands,
                        st.events,
                        shutdown_trigger=stop.wait,
                        blueprints=[overlay],
                        limiter=RateLimiter(rate=0.1, burst=1),
                    )
                )
                token = (st.settings.STATE_DIR / "api_token").read_text().strip()
                auth = {"Authorization": f"Bearer {token}"}
                async with httpx.AsyncClient(base_url=urls[0]) as client:
                    assert (await client.get("/api/v1/status", headers=auth)).status_code == 200
                    assert (await client.get("/api/v1/status", headers=auth)).status_code == 429
                    for _ in range(5):
                        assert (await client.get("/overlay/")).status_code == 200
                stop.set()


async def test_one_client_gets_at_most_16_event_sockets(tmp_path: Path) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            host, port = a.url.removeprefix("http://").rsplit(":", 1)
            async with contextlib.AsyncExitStack() as stack:
                nursery = await stack.enter_async_context(trio.open_nursery())
                for _ in range(16):
                    stream = await trio.open_tcp_stream(host, int(port))
                    await stack.enter_async_context(stream)
                    await trio_websocket.wrap_client_stream(
                        nursery, stream, host, f"/api/v1/events?token={a.token}"
                    )
                r = await a.client.get("/events", headers=upgrade | a.auth())
                assert r.status_code == 429
                assert "16 event sockets" in r.json()["message"]
                nursery.cancel_scope.cancel()
            await trio.sleep(0.2)  # the server sees them go
            async with trio.open_nursery() as nursery:
                stream = await trio.open_tcp_stream(host, int(port))
                async with stream:
                    ws = await trio_websocket.wrap_client_stream(
                        nursery, stream, host, f"/api/v1/events?kinds=queued&token={a.token}"
                    )
                    await trio.sleep(0.1)
                    await a.st.commands.donate("кот")
                    assert json.loads(await ws.get_message())["kind"] == "queued"
                    nursery.cancel_scope.cancel()


async def test_an_events_socket_that_sends_no_token_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drawstreamd.control import http

    monkeypatch.setattr(http, "WS_TOKEN_WAIT_SEC", 0.5)
    with trio.fail_after(20):
        async with api(tmp_path) as a:
            host, port = a.url.removeprefix("http://").rsplit(":", 1)
            for stop in (False, True):
                stream = await trio.open_tcp_stream(host, int(port))
                async with stream, trio.open_nursery() as nursery:
                    ws = await trio_websocket.wrap_client_stream(
                        nursery, stream, host, "/api/v1/events"
                    )
                    if stop:
                        a.stop.set()  # shutdown while it waits: 1001, at once
                    with trio.fail_after(2), pytest.raises(trio_websocket.ConnectionClosed) as c:
                        await ws.get_message()
                    assert c.value.reason is not None
                    code, why = (1001, "shutting down") if stop else (1008, "no token")
                    assert c.value.reason.code == code
                    assert why in str(c.value.reason.reason)
                    nursery.cancel_scope.cancel()
