"""The moderator page (/mod) in Debian's headless Chromium, against a real drawstreamd process in
MODERATION=manual: signed in with the code of ``drawstreamctl mod-url``, or with the token
pasted; live within a second of a donation; the preview of a waiting item's picture; and every
button doing what a moderator means, through the HTTP API: approve (then it is drawn), deny
with a reason (never drawn, and its message on no public surface), skip, ban (the donor's next
donation is skipped), pause and resume, clear (after a confirmation), replay.

Screenshots at a phone's size and an OBS dock's go to a temp dir, or to docs/ with
DRAWSTREAMD_SCREENSHOTS=docs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import trio
import trio_websocket
from cdp import Page, open_browser
from support import DaemonProcess
from test_control_harness import free_port

from drawstreamd.render import png

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

DOCS = Path(__file__).resolve().parent.parent / "docs"
MOD = "window.drawstreamdMod"
STORED = "localStorage.getItem('drawstreamd.api_token')"
PHONE = (390, 844)
DOCK = (320, 560)
SECRET = "ZORGLUB"
"""A word only the denied donation's message has."""


class Daemon(DaemonProcess):
    def __init__(self, home: Path, port: int = 0, **env: str) -> None:
        self.port = port or free_port()
        super().__init__(
            home, home / "state", "--no-window", port=self.port, MODERATION="manual",
            LOCALE="en", **env,
        )  # fmt: skip

    def token(self) -> str:
        return (self.state / "api_token").read_text().strip()

    async def run(self, *args: str) -> Any:
        out = await trio.to_thread.run_sync(lambda: self.ctl("--json", *args).stdout)
        return json.loads(out)

    async def item(self, item_id: int) -> dict[str, Any]:
        for item in (await self.run("history", "100"))["items"]:
            if item["id"] == item_id:
                return dict(item)
        raise AssertionError(f"no item {item_id}")

    async def wait_status(self, item_id: int, status: str, timeout: float = 20) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while (item := await self.item(item_id))["status"] != status:
                await trio.sleep(0.1)
        return item


@contextlib.asynccontextmanager
async def running(home: Path, port: int = 0, **env: str) -> AsyncIterator[Daemon]:
    """The daemon, ready; killed on the way out (its log stays readable)."""
    d = Daemon(home, port, **env)
    try:
        await trio.to_thread.run_sync(d.wait_ready)
        yield d
    finally:
        d.kill()


def exists(selector: str) -> str:
    return f"!!document.querySelector({json.dumps(selector)})"


def text(selector: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).textContent"


async def click(page: Page, selector: str) -> None:
    await page.evaluate(f"document.querySelector({json.dumps(selector)}).click()")


async def confirm(page: Page, reason: str | None = None) -> None:
    """Answer the page's confirmation sheet (deny, ban, clear)."""
    await page.wait_for("document.getElementById('sheet').open")
    if reason is not None:
        await page.evaluate(f"document.getElementById('sheet-reason').value = {json.dumps(reason)}")
    await click(page, "#sheet-ok")
    await page.wait_for("!document.getElementById('sheet').open")


def image_rgb(selector: str) -> str:
    """The RGB of an <img> as the page has it, base64."""
    return f"""(() => {{
      const img = document.querySelector({json.dumps(selector)});
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let s = "";
      for (let i = 0; i < d.length; i += 4) s += String.fromCharCode(d[i], d[i + 1], d[i + 2]);
      return btoa(s);
    }})()"""


async def watch_overlay(port: int, heard: list[str], *, task_status: Any) -> None:
    """Keep every text frame the overlay's socket sends (what the audience's browser gets)."""
    async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/overlay/ws") as ws:
        task_status.started()
        while True:
            message = await ws.get_message()
            if isinstance(message, str):
                heard.append(message)


def screenshot_dir(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("DRAWSTREAMD_SCREENSHOTS") == "docs" else tmp_path


async def test_a_moderator_runs_the_queue_from_a_phone(clean_env: Path) -> None:
    heard: list[str] = []
    env = {"SHOW_DURATION_SEC": "1", "DEFAULT_STEP_DURATION_MS": "400"}
    with trio.fail_after(150):
        async with (
            running(clean_env, **env) as d,
            trio.open_nursery() as nursery,
            open_browser() as browser,
        ):
            await nursery.start(watch_overlay, d.port, heard)
            url = (await trio.to_thread.run_sync(lambda: d.ctl("mod-url"))).stdout.strip()
            page = await browser.open_page(url, *PHONE, mobile=True)
            assert await page.wait_for(f"{MOD} && {MOD}.synced && {MOD}.state") == "signed-in"
            assert await page.evaluate(STORED) == d.token()

            # live: in the page within a second of the donation
            began = time.time()
            cat = (await d.run("donate", "--name", "Маша", "--amount", "100", "нарисуй кота"))["id"]
            card = f"#item-{cat}"
            arrived = await page.wait_for(f"document.querySelector('{card}')?.dataset.arrived")
            assert int(arrived) / 1000 - began < 1.0
            assert await page.evaluate(text(f"{card} .who")) == f"Маша 100 RUB #{cat}"
            assert await page.evaluate(text(f"{card} .message")) == "нарисуй кота"
            tags = await page.evaluate(text(f"{card} .tags"))
            assert "allowed" in tags
            assert "waits for a moderator" in tags

            # the preview of the waiting item: the planned picture, fetched with the token
            await page.wait_for(f"document.querySelector('{card} img.preview').naturalWidth === 96")
            assert (
                await page.evaluate(f"document.querySelector('{card} img.preview').hidden") is False
            )
            previewed = base64.b64decode(await page.evaluate(image_rgb(f"{card} img.preview")))
            async with httpx.AsyncClient(base_url=d.url) as http:
                r = await http.get(
                    f"/api/v1/queue/{cat}/preview.png",
                    headers={"Authorization": f"Bearer {d.token()}"},
                )
            assert png.decode(r.content)[2] == previewed
            await trio.sleep(0.5)
            assert (await d.item(cat))["status"] == "queued"  # nothing is drawn undecided

            # approve: it is drawn, and the picture is the one previewed
            await click(page, f"{card} button.approve")
            await page.wait_for("!" + exists(card))
            await page.wait_for(f"{text('#now-id')} === '#{cat}'")
            await d.wait_status(cat, "shown")
            _, _, drawn = png.decode((d.state / "gallery" / f"{cat}.png").read_bytes())
            assert drawn == previewed
            await page.wait_for(exists(f"#past-{cat}"))
            assert (await page.evaluate(text(f"#past-{cat} .tags"))).startswith("shown")

            # deny with a reason: never drawn, its message on no public surface
            house = (await d.run("donate", "--name", "Kate", f"draw a house {SECRET}"))["id"]
            await page.wait_for(exists(f"#item-{house}"))
            await click(page, f"#item-{house} button.deny")
            await confirm(page, "not today")
            await page.wait_for("!" + exists(f"#item-{house}"))
            item = await d.wait_status(house, "skipped")
            assert item["reason"] == "denied by moderator: not today"
            await page.wait_for(exists(f"#past-{house}"))
            assert "denied by moderator: not today" in await page.evaluate(text(f"#past-{house}"))

            # skip the drawing on air
            dog = (await d.run("donate", "--name", "Dima", "нарисуй собаку"))["id"]
            await page.wait_for(exists(f"#item-{dog}"))
            await click(page, f"#item-{dog} button.approve")
            await page.wait_for(f"{text('#now-id')} === '#{dog}' && {text('#state')} === 'drawing'")
            await click(page, "#skip")
            item = await d.wait_status(dog, "skipped")
            assert item["reason"] == "skipped by operator"
            await page.wait_for(f"{text('#state')} === 'idle'")

            # ban the donor of a waiting item: their next donation is skipped
            spam = (await d.run("donate", "--name", "Spammer", "draw a sun"))["id"]
            await page.wait_for(exists(f"#item-{spam}"))
            await click(page, f"#item-{spam} button.ban")
            await confirm(page, "spam")
            await page.wait_for(f"{text('#bans')}.includes('Spammer')")
            assert (await d.run("bans"))["items"][0]["donor"] == "Spammer"
            again = (await d.run("donate", "--name", "Spammer", "draw a tree"))["id"]
            item = await d.wait_status(again, "skipped")
            assert item["reason"] == "donor banned"
            await page.wait_for(exists(f"#past-{again}"))
            assert await page.evaluate(exists(f"#item-{again}")) is False

            # pause and resume
            await click(page, "#pause")
            await page.wait_for(f"{text('#pause')} === 'Resume'")
            assert (await d.run("status"))["paused"] is True
            await click(page, "#pause")
            await page.wait_for(f"{text('#pause')} === 'Pause'")
            assert (await d.run("status"))["paused"] is False

            # clear, only once confirmed
            await d.run("donate", "--name", "Olga", "draw a flower")
            await page.wait_for("document.querySelectorAll('#queue .item').length === 2")
            await click(page, "#clear")
            await page.wait_for("document.getElementById('sheet').open")
            assert (await d.run("queue"))["length"] == 2
            await confirm(page)
            await page.wait_for("document.querySelectorAll('#queue .item').length === 0")
            assert (await d.run("queue"))["length"] == 0

            # replay a past drawing: queued again (and, in manual mode, waiting)
            await click(page, f"#past-{cat} button.replay")
            note = await page.wait_for(
                f"(() => {{ const t = {text(f'#past-{cat} .note')}; return t.startsWith('Queued') && t; }})()"
            )
            replayed = int(note.removeprefix("Queued again as #").rstrip("."))
            await page.wait_for(exists(f"#item-{replayed}"))
            assert (await d.run("queue"))["items"][0]["id"] == replayed

            # what the audience could see: the overlay's feed and the gallery
            async with httpx.AsyncClient(base_url=d.url) as http:
                gallery = (await http.get("/gallery")).text
            assert "нарисуй кота" in gallery
            assert SECRET not in gallery
            assert any("нарисуй кота" in m for m in heard)  # the feed was heard
            assert not [m for m in heard if SECRET in m]
            assert not (d.state / "gallery" / f"{house}.png").exists()
            assert not [line for line in page.console if "error" in line.lower()], page.console
            nursery.cancel_scope.cancel()
        assert "Traceback" not in d.output()


async def test_the_page_fits_a_phone_and_an_obs_dock(clean_env: Path, tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with running(clean_env, SHOW_DURATION_SEC="120") as d, open_browser() as browser:
            await d.run("donate", "--name", "Маша Котова", "--amount", "300", "нарисуй рыжего кота")
            await d.run("donate", "--name", "Alex", "--amount", "5", "--currency", "USD",
                        "draw a rocket flying to the moon")  # fmt: skip
            await d.run(
                "donate", "--name", "Kate", "--amount", "50", "draw a girl in a bikini on the beach"
            )
            await d.run("approve", "1")
            # no code in the address and nothing kept: nothing private on the page
            page = await browser.open_page(f"{d.url}/mod", *PHONE, mobile=True)
            await page.wait_for(f"{MOD} && {MOD}.state === 'none'")
            assert await page.evaluate("document.getElementById('app').hidden") is True
            assert await page.evaluate("document.getElementById('login').hidden") is False
            assert "Маша" not in await page.evaluate("document.body.innerText")

            # the token pasted by hand: a wrong one is refused, the right one kept
            form = "document.getElementById('token-form').requestSubmit()"
            await page.evaluate("document.getElementById('token-input').value = 'not-it'")
            await page.evaluate(form)
            await page.wait_for(f"{text('#signin')}.startsWith('That is not the API token')")
            assert await page.evaluate(STORED) is None
            await page.evaluate(f"document.getElementById('token-input').value = '{d.token()}'")
            await page.evaluate(form)
            await page.wait_for(f"{MOD}.synced")
            assert await page.evaluate(STORED) == d.token()
            await page.wait_for(f"{text('#state')} === 'holding'")
            previews = "document.querySelectorAll('#queue img.preview:not([hidden])').length === 2"
            await page.wait_for(previews)
            assert "doubtful" in await page.evaluate(text("#item-3 .tags"))

            # the same device, as an OBS dock: still signed in
            dock = await browser.open_page(f"{d.url}/mod", *DOCK)
            assert await dock.wait_for(f"{MOD} && {MOD}.synced && {MOD}.state") == "kept"
            await dock.wait_for(previews)
            await dock.wait_for(f"{text('#state')} === 'holding'")

            shots = screenshot_dir(tmp_path)
            for p, name, (w, h) in ((page, "mod-phone.png", PHONE), (dock, "mod-dock.png", DOCK)):
                # nothing wider than the screen, every button big enough for a finger
                assert await p.evaluate("document.documentElement.scrollWidth") <= w
                small = await p.evaluate(
                    """[...document.querySelectorAll('#app button')]
                         .filter((b) => b.offsetParent !== null)
                         .map((b) => b.getBoundingClientRect())
                         .filter((r) => r.height < 44 || r.width < 44).length"""
                )
                assert small == 0
                await p.wait_for("document.fonts.status === 'loaded'")
                shot = await p.screenshot()
                assert struct.unpack(">II", shot[16:24]) == (w, h)
                (shots / name).write_bytes(shot)
            for p in (page, dock):
                assert not [line for line in p.console if "error" in line.lower()], p.console
        assert "Traceback" not in d.output()


async def test_the_page_comes_back_by_itself_after_a_restart(clean_env: Path) -> None:
    with trio.fail_after(120):
        async with running(clean_env) as d, open_browser() as browser:
            first = (await d.run("donate", "--name", "Маша", "нарисуй кота"))["id"]
            url = (await trio.to_thread.run_sync(lambda: d.ctl("mod-url"))).stdout.strip()
            page = await browser.open_page(url, *DOCK)
            await page.wait_for(f"{MOD} && {MOD}.synced && {exists(f'#item-{first}')}")

            assert await trio.to_thread.run_sync(d.stop) == 0
            await page.wait_for(f"!{MOD}.listening")
            assert await page.evaluate(text("#link")) == "reconnecting…"
            async with running(clean_env, d.port) as again:
                # the queue as the journal kept it, read afresh, and live again
                await page.wait_for(f"{MOD}.synced", timeout=30)
                assert "waits for a moderator" in await page.evaluate(text(f"#item-{first} .tags"))
                assert await page.evaluate(text("#link")) == "live"
                later = (await again.run("donate", "--name", "Kate", "draw a house"))["id"]
                await page.wait_for(exists(f"#item-{later}"))
                await click(page, f"#item-{first} button.approve")
                await again.wait_status(first, "shown")
            assert not [line for line in page.console if "error" in line.lower()], page.console
        assert "Traceback" not in again.output()
