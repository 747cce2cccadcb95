"""The overlay and the gallery in Debian's headless Chromium, against a real drawstreamd process.

The page's canvas is compared with the daemon's own frame (the gallery PNG is the canvas at the
end of the drawing). Screenshots go to a temp dir, or to docs/ with DRAWSTREAMD_SCREENSHOTS=docs.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
from pathlib import Path

import httpx
import trio
from cdp import Page, open_browser
from support import DaemonProcess
from test_control_harness import free_port

from drawstreamd import config
from drawstreamd.render import png
from drawstreamd.render.hud import Layout
from drawstreamd.render.scene import IDLE_BG

DOCS = Path(__file__).resolve().parent.parent / "docs"
CANVAS_RGB = """(() => {
  const c = document.getElementById("canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let s = "";
  for (let i = 0; i < d.length; i += 4) s += String.fromCharCode(d[i], d[i + 1], d[i + 2]);
  return btoa(s);
})()"""
RECT = """(() => {
  const r = document.getElementById("canvas").getBoundingClientRect();
  return [r.x, r.y, r.width, r.height];
})()"""
VISIBLE = """(() => {
  const stage = document.getElementById("stage");
  return getComputedStyle(stage).visibility === "visible" && window.overlay.connected;
})()"""


class Daemon(DaemonProcess):
    """``drawstreamd`` as a user starts it, on a port we picked (to know the overlay's URL)."""

    def __init__(self, home: Path, state: Path, port: int, *args: str, **env: str) -> None:
        super().__init__(home, state, *args, port=port, **env)


async def start(
    daemons: list[DaemonProcess], home: Path, state: Path, port: int, *args: str, **env: str
) -> Daemon:
    d = Daemon(home, state, port, *args, **env)
    daemons.append(d)
    await trio.to_thread.run_sync(d.wait_ready)
    async with httpx.AsyncClient(base_url=d.url) as http:
        r = await http.get("/overlay")
    assert r.status_code == 200, f"the daemon does not serve /overlay: {r.status_code} {r.text}"
    return d


async def page_canvas(page: Page) -> bytes:
    return base64.b64decode(await page.evaluate(CANVAS_RGB))


async def wait_for_file(path: Path, timeout: float = 60) -> None:
    with trio.fail_after(timeout):
        while not await trio.Path(path).exists():
            await trio.sleep(0.1)


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def expected_canvas_rect(width: int, height: int) -> list[float]:
    settings = config.load(None, WINDOW_W=width, WINDOW_H=height)
    rect = Layout.compute(width, height, 96, 96, settings.window_scale()).canvas
    return [float(rect.x), float(rect.y), float(rect.w), float(rect.h)]


def screenshot_dir(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("DRAWSTREAMD_SCREENSHOTS") == "docs" else tmp_path


async def test_overlay_shows_the_daemons_frame_and_hud_in_both_layouts(
    clean_env: Path, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    with trio.fail_after(110):
        state = tmp_path / "state"
        d = await start(
            daemons, clean_env, state, free_port(), "--no-window", SHOW_DURATION_SEC="120"
        )
        ctl = d.ctl
        async with open_browser() as browser:
            page = await browser.open_page(f"{d.url}/overlay?layout=1080", 1920, 1080)
            await page.wait_for(VISIBLE)
            message = "Нарисуй, пожалуйста, рыжего кота, который смотрит на зрителей"
            await trio.to_thread.run_sync(
                lambda: ctl("donate", "--name", "Маша Котова", "--amount", "300", message)
            )
            for name, amount, text in (
                ("Alex", "5", "draw a rocket flying to the moon"),
                ("Kate", "10", "a little house with a tree and a cloud"),
            ):
                args = ("donate", "--name", name, "--amount", amount, "--currency", "USD", text)
                await trio.to_thread.run_sync(ctl, *args)
            await wait_for_file(state / "gallery" / "1.png")
            w, h, daemon_frame = png.decode((state / "gallery" / "1.png").read_bytes())
            assert (w, h) == (96, 96)
            assert len({daemon_frame[i : i + 3] for i in range(0, len(daemon_frame), 3)}) > 3
            with trio.move_on_after(5):
                while await page_canvas(page) != daemon_frame:
                    await trio.sleep(0.1)
            shown = await page_canvas(page)
            differ = sum(
                shown[i : i + 3] != daemon_frame[i : i + 3] for i in range(0, len(shown), 3)
            )
            assert differ == 0, f"{differ} of {w * h} pixels differ from the daemon's frame"

            hud = await page.wait_for(
                """(() => {
                  const t = (id) => document.getElementById(id).textContent;
                  const names = [...document.querySelectorAll("#upcoming .who")].map((e) => e.textContent);
                  return t("donor") && names.length === 2 && [t("donor"), t("amount"), t("message"), names, t("stats"), t("caption")];
                })()"""
            )
            assert hud[0] == "Маша Котова"
            assert hud[1] == "300 RUB"
            assert hud[2] == message
            assert hud[3] == ["Alex · 5 USD", "Kate · 10 USD"]
            assert hud[4].startswith("Очередь: 2 · ")
            assert hud[5] == "All for you"
            styles = await page.evaluate(
                """[getComputedStyle(document.documentElement).backgroundColor,
                    getComputedStyle(document.body).backgroundColor,
                    getComputedStyle(document.getElementById("canvas")).imageRendering]"""
            )
            assert styles == ["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)", "pixelated"]
            assert await page.evaluate(RECT) == expected_canvas_rect(1920, 1080)
            shots = screenshot_dir(tmp_path)
            shot = await page.screenshot()
            assert png_size(shot) == (1920, 1080)
            (shots / "overlay-1920x1080.png").write_bytes(shot)

            small = await browser.open_page(f"{d.url}/overlay?layout=720", 1280, 720)
            await small.wait_for(VISIBLE)
            await small.wait_for(
                f"document.getElementById('donor').textContent === {json.dumps('Маша Котова')}"
            )
            assert await page_canvas(small) == daemon_frame
            assert await small.evaluate(RECT) == expected_canvas_rect(1280, 720)
            shot = await small.screenshot()
            assert png_size(shot) == (1280, 720)
            (shots / "overlay-1280x720.png").write_bytes(shot)
            scaled = await browser.open_page(f"{d.url}/overlay?layout=720&scale=3", 1280, 720)
            await scaled.wait_for(VISIBLE)
            assert (await scaled.evaluate(RECT))[2:] == [288.0, 288.0]

            # the gallery: the picture, and replay only with the token
            gallery = await browser.open_page(f"{d.url}/gallery", 1280, 900)
            assert (
                await gallery.evaluate("document.querySelector('#item-1 .donor').textContent")
                == "Маша Котова"
            )
            picture = "document.querySelector('#item-1 img')"
            await gallery.wait_for(f"{picture}.complete")  # lazy: it may come after onload
            assert await gallery.evaluate(f"{picture}.naturalWidth") == 96
            gallery.prompt_answer = "not-the-token"
            await gallery.evaluate("document.querySelector('#item-1 button.replay').click()")
            await gallery.wait_for(
                "document.querySelector('#item-1 button.replay').textContent === 'Wrong token'"
            )
            queued = json.loads((await trio.to_thread.run_sync(ctl, "--json", "status")).stdout)
            assert queued["queue_length"] == 2
            gallery.prompt_answer = (state / "api_token").read_text().strip()
            await gallery.evaluate("document.querySelector('#item-1 button.replay').click()")
            text = await gallery.wait_for(
                """(() => { const t = document.querySelector('#item-1 button.replay').textContent;
                            return t.startsWith('Queued') && t; })()"""
            )
            assert text == "Queued #4"
            queued = json.loads((await trio.to_thread.run_sync(ctl, "--json", "status")).stdout)
            assert queued["queue_length"] == 3
            for p in (page, small, scaled):
                assert not [line for line in p.console if "overlay" in line], p.console
        assert await trio.to_thread.run_sync(d.stop) == 0
        assert "Traceback" not in d.output()


async def test_the_page_comes_back_by_itself_after_a_daemon_restart(
    clean_env: Path, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    with trio.fail_after(110):
        state = tmp_path / "state"
        port = free_port()
        env = {"SHOW_DURATION_SEC": "120"}
        d = await start(daemons, clean_env, state, port, "--headless", **env)
        async with open_browser() as browser:
            page = await browser.open_page(f"{d.url}/overlay?layout=720", 1280, 720)
            await page.wait_for(VISIBLE)
            await trio.to_thread.run_sync(lambda: d.ctl("donate", "--name", "Dima", "draw heart"))
            await wait_for_file(state / "gallery" / "1.png")
            _, _, drawn = png.decode((state / "gallery" / "1.png").read_bytes())
            await page.wait_for("document.getElementById('donor').textContent === 'Dima'")
            with trio.move_on_after(5):
                while await page_canvas(page) != drawn:
                    await trio.sleep(0.1)
            assert await page_canvas(page) == drawn

            began = time.monotonic()
            assert await trio.to_thread.run_sync(d.stop) == 0
            assert time.monotonic() - began < 5  # an open overlay does not hold shutdown up
            # while the daemon is away nothing is shown, neither stale nor broken
            await page.wait_for("!window.overlay.connected")
            assert await page.evaluate("window.overlay.lastClose") == 1001
            assert (
                await page.evaluate("getComputedStyle(document.getElementById('stage')).visibility")
                == "hidden"
            )
            await page.wait_for("window.overlay.attempts >= 3")  # it keeps trying, with backoff
            assert not await page.evaluate("window.overlay.connected")
            assert (
                await page.evaluate("getComputedStyle(document.getElementById('stage')).visibility")
                == "hidden"
            )

            d2 = await start(daemons, clean_env, state, port, "--headless", **env)
            await page.wait_for(VISIBLE, timeout=30)
            assert await page.evaluate("window.overlay.connects") == 2
            # the new daemon's frame, not the old picture: it starts on the idle canvas
            idle = bytes(((IDLE_BG >> 16) & 255, (IDLE_BG >> 8) & 255, IDLE_BG & 255)) * 96 * 96
            with trio.move_on_after(5):
                while await page_canvas(page) != idle:
                    await trio.sleep(0.1)
            assert await page_canvas(page) == idle
            assert await page.evaluate("document.getElementById('donor').style.display") == "none"
        assert await trio.to_thread.run_sync(d2.stop) == 0
