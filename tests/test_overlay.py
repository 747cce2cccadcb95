"""The overlay socket and the gallery page, served by Hypercorn on loopback from a real Scene.

The browser side is in test_overlay_browser.py; here a trio-websocket client reads the same
frames a browser would and rebuilds the canvas from them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
import trio
import trio.testing
import trio_websocket
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio
from test_control_harness import free_port
from test_window import library_buffer

from drawstreamd import config
from drawstreamd.control import overlay
from drawstreamd.control.gallery_page import PAGE_SIZE
from drawstreamd.control.overlay import (
    DELTA,
    FPS_EVERY_SEC,
    FULL,
    KEEPALIVE_SEC,
    PROGRESS_EVERY_SEC,
    HudThrottle,
    SceneWatch,
    canvas_delta,
    full_frame,
    hud_message,
    overlay_blueprint,
)
from drawstreamd.gatekeeper.filter import Gatekeeper
from drawstreamd.journal import Journal
from drawstreamd.model import Assessment, Donation, Status, Verdict
from drawstreamd.render import png
from drawstreamd.render.scene import Scene, Upcoming
from drawstreamd.render.window import Renderer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from drawstreamd.config import Settings


# -- the pure frame format ---------------------------------------------------------------------
def apply(canvas: bytearray | None, frame: bytes) -> bytearray:
    """What the page does with a binary frame (overlay.js), written again in Python."""
    if frame[0] == FULL:
        w, h = struct.unpack_from("<HH", frame, 1)
        assert len(frame) == 5 + w * h * 3
        return bytearray(frame[5:])
    assert frame[0] == DELTA
    assert canvas is not None
    w = 96
    p = 1
    while p < len(frame):
        y, x, n = struct.unpack_from("<HHH", frame, p)
        p += 6
        i = (y * w + x) * 3
        canvas[i : i + n * 3] = frame[p : p + n * 3]
        p += n * 3
    return canvas


def test_a_delta_rebuilds_the_new_canvas_exactly() -> None:
    rng = random.Random(7)
    old = bytes(rng.randrange(256) for _ in range(96 * 96 * 3))
    for changes in (1, 2, 17, 300, 5000):
        new = bytearray(old)
        for _ in range(changes):
            x, y = rng.randrange(96), rng.randrange(96)
            i = (y * 96 + x) * 3
            new[i : i + 3] = bytes(rng.randrange(256) for _ in range(3))
        delta = canvas_delta(old, bytes(new), 96, 96)
        assert delta is not None
        assert apply(bytearray(old), delta) == new
    assert canvas_delta(old, old, 96, 96) is None


def test_a_small_change_is_a_small_message_and_a_repaint_is_never_bigger_than_a_frame() -> None:
    old = bytes(96 * 96 * 3)
    new = bytearray(old)
    new[(40 * 96 + 10) * 3] = 255  # one pixel
    delta = canvas_delta(old, bytes(new), 96, 96)
    assert delta is not None
    assert len(delta) == 1 + 6 + 3
    everything = bytes([9]) * len(old)
    assert canvas_delta(old, everything, 96, 96) == full_frame(everything, 96, 96)


def test_hud_changes_go_out_at_once_but_progress_and_fps_alone_wait() -> None:
    scene = Scene(96, 96, 50)
    throttle = HudThrottle()
    first = hud_message(scene.hud)
    assert throttle.due_at(first) == -math.inf
    assert throttle.changes(first) == first  # the whole state first
    throttle.mark(first, 100.0)
    assert throttle.due_at(first) == math.inf  # nothing changed: nothing to send
    scene.update_hud(phase="drawing", progress=0.5)
    assert throttle.due_at(hud_message(scene.hud)) == -math.inf
    throttle.mark(hud_message(scene.hud), 100.0)
    scene.update_hud(progress=0.51)
    assert throttle.due_at(hud_message(scene.hud)) == 100.0 + PROGRESS_EVERY_SEC
    assert throttle.changes(hud_message(scene.hud)) == {"t": "hud", "progress": 0.51}
    scene.update_hud(progress=1.0)
    assert throttle.due_at(hud_message(scene.hud)) == -math.inf  # the bar is full at once
    scene.update_hud(progress=0.5, fps=59.0)
    throttle.mark(hud_message(scene.hud), 100.0)
    scene.update_hud(fps=61.0)
    assert throttle.due_at(hud_message(scene.hud)) == 100.0 + FPS_EVERY_SEC
    scene.update_hud(queue_len=3)
    assert throttle.due_at(hud_message(scene.hud)) == -math.inf


class StepCounter(trio.abc.Instrument):
    """Counts how often any task ran."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1


async def test_idle_sockets_sleep_until_the_scene_announces_a_change(
    autojump_clock: trio.testing.MockClock,
) -> None:
    scene = Scene(8, 8, 50)
    watch = SceneWatch(scene)
    woke: list[int] = []
    with trio.fail_after(7200):
        async with trio.open_nursery() as nursery:
            scopes = [trio.CancelScope() for _ in range(5)]

            async def waiter(i: int) -> None:
                with scopes[i]:
                    await watch.wait(watch.versions(), math.inf)
                    woke.append(i)

            for i in range(5):
                nursery.start_soon(waiter, i)
            await trio.testing.wait_all_tasks_blocked()
            counter = StepCounter()
            trio.lowlevel.add_instrument(counter)
            await trio.sleep(3600)
            trio.lowlevel.remove_instrument(counter)
            assert woke == []
            assert counter.steps <= 2  # this test's own sleep: the sockets never woke
            scopes[0].cancel()  # one browser goes away
            await trio.testing.wait_all_tasks_blocked()
            scene.update_hud(donor="Маша")
            await trio.testing.wait_all_tasks_blocked()
            assert trio.current_time() < 3601  # woken at once, by the change itself
            assert sorted(woke) == [1, 2, 3, 4]
        began = trio.current_time()
        await watch.wait(watch.versions(), began + 20)  # a deadline (the keepalive) ends it
        assert trio.current_time() - began == pytest.approx(20)


# -- a real server -------------------------------------------------------------------------------
@dataclass
class Served:
    settings: Settings
    scene: Scene
    journal: Journal
    url: str
    stopping: trio.Event
    nursery: trio.Nursery

    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/overlay/ws"


@contextlib.asynccontextmanager
async def served(
    tmp_path: Path, words: Gatekeeper | None = None, **overrides: object
) -> AsyncIterator[Served]:
    state = tmp_path / "state"
    state.mkdir(parents=True, exist_ok=True)
    settings = config.load(None, STATE_DIR=state, LOCALE="en", **overrides)
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    journal = Journal.open(state / "journal.sqlite3")
    stopping = trio.Event()
    app = QuartTrio("overlay-test")
    app.register_blueprint(
        overlay_blueprint(
            settings, scene, journal, state / "gallery", stopping=stopping, words=words
        )
    )
    cfg = HypercornConfig()
    port = free_port()
    cfg.bind = [f"127.0.0.1:{port}"]
    cfg.accesslog = None
    cfg.graceful_timeout = 2.0
    done = trio.Event()

    async def trigger() -> None:
        await done.wait()

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                functools.partial(hypercorn_serve, app, cfg, mode="asgi", shutdown_trigger=trigger)
            )
            async with trio.open_nursery() as background:
                yield Served(
                    settings, scene, journal, f"http://127.0.0.1:{port}", stopping, background
                )
                background.cancel_scope.cancel()  # the renderer and readers the test started
            stopping.set()
            done.set()
    finally:
        journal.close()


async def render_loop(settings: Settings, scene: Scene) -> None:
    """The renderer as the daemon runs it for the overlay alone: Renderer(window=False)."""
    await Renderer(settings, scene, window=False).serve()


class Client:
    """Reads the overlay socket the way the page does, counting what arrives."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws
        self.canvas: bytearray | None = None
        self.huds: list[dict[str, object]] = []
        self.updates: list[dict[str, object]] = []
        self.hello: dict[str, object] | None = None
        self.binary = 0
        self.texts = 0
        self.bytes = 0

    async def read(self) -> None:
        while True:
            try:
                msg = await self.ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            self.bytes += len(msg)
            if isinstance(msg, bytes):
                self.binary += 1
                self.canvas = apply(self.canvas, msg)
            else:
                self.texts += 1
                data = json.loads(msg)
                if data["t"] == "hello":
                    self.hello = data
                elif data["t"] == "hud":
                    # whole at first, then only what changed: merged as the page does
                    self.updates.append(data)
                    self.huds.append({**self.huds[-1], **data} if self.huds else data)


async def test_the_socket_mirrors_the_scene_frame_by_frame(tmp_path: Path) -> None:
    with trio.fail_after(40):
        async with served(tmp_path, DEFAULT_STEP_DURATION_MS=40) as s:
            s.nursery.start_soon(render_loop, s.settings, s.scene)
            async with trio_websocket.open_websocket_url(s.ws_url()) as ws:
                c = Client(ws)
                s.nursery.start_soon(c.read)
                while c.canvas is None or not c.huds:
                    await trio.sleep(0.01)
                assert c.hello is not None
                assert (c.hello["w"], c.hello["h"]) == (96, 96)
                assert c.hello["labels"]["next"] == "Next up"  # type: ignore[index]
                assert c.canvas == s.scene.canvas  # the whole idle canvas on connect
                assert c.huds[-1]["phase"] == "idle"
                s.scene.update_hud(
                    queue_len=2,
                    upcoming=(Upcoming("Kate", "a house", 10, "EUR", 95.0),),
                )
                began = trio.current_time()
                s.scene.begin(
                    library_buffer(),
                    donor="Маша",
                    amount=300,
                    currency="RUB",
                    message="нарисуй кота",
                )
                await s.scene.wait_drawn()
                elapsed = trio.current_time() - began
                await trio.sleep(0.2)
                assert c.canvas == s.scene.canvas
                assert len(set(bytes(c.canvas[i : i + 3]) for i in range(0, len(c.canvas), 3))) > 3
                # only when the canvas changed, at most FRAME_RATE a second
                assert 10 < c.binary <= s.settings.FRAME_RATE * (elapsed + 0.5) + 2
                hud = c.huds[-1]
                assert hud["donor"] == "Маша"
                assert hud["amount"] == "300 RUB"
                assert hud["message"] == "нарисуй кота"
                assert hud["queue"] == 2
                assert hud["upcoming"] == [
                    {"donor": "Kate", "amount": "10 EUR", "message": "a house", "eta": "~1:35"}
                ]
                # progress alone is throttled: far fewer HUD messages than frames
                assert len(c.huds) < elapsed / 0.2 + 10
                assert any(0 < h["progress"] < 1 for h in c.huds)  # type: ignore[operator]
                # after the first, an update carries only what changed: progress is tiny
                progress_only = [u for u in c.updates[1:] if set(u) == {"t", "progress"}]
                assert progress_only
                assert all(len(json.dumps(u)) < 40 for u in progress_only)


async def test_an_idle_socket_sends_nothing_but_a_rare_ping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overlay, "KEEPALIVE_SEC", 1.0)
    with trio.fail_after(20):
        async with served(tmp_path) as s:
            s.nursery.start_soon(render_loop, s.settings, s.scene)
            async with trio_websocket.open_websocket_url(s.ws_url()) as ws:
                c = Client(ws)
                s.nursery.start_soon(c.read)
                while c.canvas is None or not c.huds:
                    await trio.sleep(0.01)
                binary, huds, texts, size = c.binary, len(c.huds), c.texts, c.bytes
                await trio.sleep(3.5)  # the real renderer runs all along
                assert (c.binary, len(c.huds)) == (binary, huds)
                pings = c.texts - texts
                assert 2 <= pings <= 4
                assert c.bytes - size == pings * len('{"t":"ping"}')
                assert KEEPALIVE_SEC >= 10  # the real interval is rare


async def test_shutdown_closes_overlay_sockets_with_1001_at_once(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as s:
            host, port = s.url.removeprefix("http://").rsplit(":", 1)
            stream = await trio.open_tcp_stream(host, int(port))
            async with stream, trio.open_nursery() as nursery:
                # our own stream, closed by us: trio-websocket leaves a server-closed one to the GC
                ws = await trio_websocket.wrap_client_stream(nursery, stream, host, "/overlay/ws")
                assert json.loads(await ws.get_message())["t"] == "hello"
                s.stopping.set()
                with trio.fail_after(1):
                    while not ws.closed:
                        with contextlib.suppress(trio_websocket.ConnectionClosed):
                            await ws.get_message()
                assert ws.closed.code == 1001


async def test_one_address_gets_at_most_16_overlay_sockets(tmp_path: Path) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with trio.fail_after(20):
        async with served(tmp_path) as s, httpx.AsyncClient(base_url=s.url) as http:
            host, port = s.url.removeprefix("http://").rsplit(":", 1)
            async with contextlib.AsyncExitStack() as streams, trio.open_nursery() as nursery:
                sockets = []
                for _ in range(16):
                    # our own streams, closed by us (see the shutdown test)
                    stream = await streams.enter_async_context(
                        await trio.open_tcp_stream(host, int(port))
                    )
                    ws = await trio_websocket.wrap_client_stream(
                        nursery, stream, host, "/overlay/ws"
                    )
                    assert json.loads(await ws.get_message())["t"] == "hello"
                    sockets.append(ws)
                r = await http.get("/overlay/ws", headers=upgrade)
                assert r.status_code == 429
                await sockets[0].aclose()
                await trio.sleep(0.2)
                stream = await streams.enter_async_context(
                    await trio.open_tcp_stream(host, int(port))
                )
                again = await trio_websocket.wrap_client_stream(
                    nursery, stream, host, "/overlay/ws"
                )
                assert json.loads(await again.get_message())["t"] == "hello"
                nursery.cancel_scope.cancel()


# -- pages -------------------------------------------------------------------------------------
async def test_the_overlay_page_and_its_files_need_no_token(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as s, httpx.AsyncClient(base_url=s.url) as http:
            r = await http.get("/overlay", params={"layout": "720"})
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert '<canvas id="canvas"' in r.text
            for path in (
                "/overlay/static/overlay.js",
                "/overlay/static/overlay.css",
                "/overlay/fonts/Inter-Bold.otf",
                "/overlay/static/gallery.js",
            ):
                assert (await http.get(path)).status_code == 200, path
            assert (await http.get("/overlay/fonts/..%2fOFL.txt")).status_code == 404
            assert (await http.get("/overlay/static/../overlay.py")).status_code == 404


async def add_drawings(s: Served, count: int) -> list[int]:
    ids = []
    gallery = s.settings.STATE_DIR / "gallery"
    gallery.mkdir(exist_ok=True)
    for n in range(count):
        d = Donation(
            source="test",
            external_id=str(n),
            donor=f"viewer{n}",
            message=f"draw number {n} <script>alert(1)</script>",
            amount=n + 1,
            currency="USD",
        )
        item = await s.journal.record(d)
        assert item is not None
        ids.append(item.id)
        await s.journal.set_status(item.id, Status.SHOWN)
        (gallery / f"{item.id}.png").write_bytes(png.encode(2, 2, bytes([n % 256]) * 12))
    return ids


async def test_gallery_lists_past_drawings_newest_first_paged(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as s, httpx.AsyncClient(base_url=s.url) as http:
            ids = await add_drawings(s, PAGE_SIZE + 3)
            blocked = await s.journal.record(
                Donation(source="test", external_id="bad", donor="troll", message="нарисуй х*й"),
                assessment=Assessment(verdict=Verdict.REFUSED, rule="sexual:genitals"),
            )
            assert blocked is not None
            await s.journal.set_status(blocked.id, Status.SHOWN)
            card = png.encode(2, 2, bytes([7]) * 12)  # the "You are too small" card
            (s.settings.STATE_DIR / "gallery" / f"{blocked.id}.png").write_bytes(card)
            missing = await s.journal.record(Donation(source="test", external_id="lost"))
            assert missing is not None
            await s.journal.set_status(missing.id, Status.FAILED, reason="planner crashed")
            r = await http.get("/gallery")
            assert r.status_code == 200
            assert "script-src 'self'" in r.headers["content-security-policy"]
            page = r.text
            assert "<script>alert" not in page
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            # newest first: the blocked one, then the drawings from the last down
            order = [int(part.split('"')[0]) for part in page.split('id="item-')[1:]]
            assert order == [missing.id, blocked.id, *reversed(ids)][:PAGE_SIZE]
            assert "troll" in page
            assert "х*й" not in page  # a refused request is not repeated to viewers
            assert "Message hidden" in page  # the neutral line stands in its place
            assert f'data-id="{blocked.id}"' not in page  # nor offered for a replay
            assert 'rel="next" href="/gallery?page=2"' in page
            assert f'src="/gallery/{ids[-1]}.png"' in page
            assert f'class="replay" data-id="{ids[-1]}"' in page
            r2 = await http.get("/gallery", params={"page": 2})
            order2 = [int(part.split('"')[0]) for part in r2.text.split('id="item-')[1:]]
            assert order2 == list(reversed(ids))[PAGE_SIZE - 2 :]
            assert 'rel="prev"' in r2.text
            assert 'rel="next"' not in r2.text
            img = await http.get(f"/gallery/{ids[0]}.png")
            assert img.headers["content-type"] == "image/png"
            assert png.decode(img.content) == (2, 2, bytes([0]) * 12)
            assert (await http.get(f"/gallery/{blocked.id}.png")).status_code == 200
            assert f'src="/gallery/{blocked.id}.png"' in page
            assert (await http.get(f"/gallery/{missing.id}.png")).status_code == 404
            assert f'src="/gallery/{missing.id}.png"' not in page
            assert f'data-id="{missing.id}"' not in page  # nothing to replay
            assert "planner crashed" not in page  # operator-facing reasons stay off the page
            for bad in ("0", "-1", "x", "10000000"):
                assert (await http.get("/gallery", params={"page": bad})).status_code == 400
            token = s.settings.STATE_DIR / "api_token"
            assert not token.exists()  # reading the gallery needs no token and makes none


async def test_an_empty_gallery_says_so(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with served(tmp_path) as s, httpx.AsyncClient(base_url=s.url) as http:
            r = await http.get("/gallery")
            assert r.status_code == 200
            assert "No drawings yet." in r.text
            r = await http.get("/gallery", params={"page": 3})
            assert "No older drawings." in r.text
            assert 'rel="prev" href="/gallery?page=2"' in r.text


async def test_gallery_masks_profanity_as_the_hud_does(tmp_path: Path) -> None:
    settings = config.load(None)
    gatekeeper = Gatekeeper(settings.GATEKEEPER_BLOCK_WORDS, settings.GATEKEEPER_ALLOW_WORDS)
    with trio.fail_after(20):
        for on in (True, False):
            async with (
                served(tmp_path / str(on), gatekeeper, HUD_MASK_PROFANITY=on) as s,
                httpx.AsyncClient(base_url=s.url) as http,
            ):
                d = Donation(source="test", external_id="1", donor="fuckface", message="кот, блять")
                item = await s.journal.record(d)
                assert item is not None
                await s.journal.set_status(item.id, Status.SHOWN)
                page = (await http.get("/gallery")).text
                if on:
                    assert "fuckface" not in page
                    assert "блять" not in page
                    assert "кот, б****" in page
                else:
                    assert "fuckface" in page
                    assert "кот, блять" in page
