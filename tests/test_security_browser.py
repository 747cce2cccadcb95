"""The moderator's sign-in in Debian's headless Chromium, against a real drawstreamd process:
the one-time address from ``drawstreamctl mod-url``, the token kept in the browser, the
events socket authenticated by its first message from the daemon's own origin, and what a
rotated token does to a browser that kept the old one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
from cdp import open_browser
from support import DaemonProcess
from test_control_harness import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MOD = "window.drawstreamdMod"
STORED = "localStorage.getItem('drawstreamd.api_token')"


@pytest.fixture
def daemon(clean_env: Path) -> Iterator[DaemonProcess]:
    d = DaemonProcess(clean_env, clean_env / "state", "--no-window", port=free_port())
    yield d
    d.kill()


async def test_the_sign_in_address_signs_a_browser_in_once(daemon: DaemonProcess) -> None:
    d = daemon
    with trio.fail_after(90):
        await trio.to_thread.run_sync(d.wait_ready)
        token = (d.state / "api_token").read_text().strip()

        def mod_url() -> str:
            return d.ctl("mod-url").stdout.strip()

        url = await trio.to_thread.run_sync(mod_url)
        async with open_browser() as browser:
            page = await browser.open_page(url, 800, 600)
            assert await page.wait_for(f"{MOD} && {MOD}.listening && {MOD}.state") == "signed-in"
            assert await page.evaluate(STORED) == token
            assert await page.evaluate("location.hash") == ""  # the spent code leaves the bar
            await page.wait_for("document.getElementById('state').textContent === 'idle'")
            await trio.sleep(0.5)  # the socket reads the token, then subscribes
            await trio.to_thread.run_sync(lambda: d.ctl("donate", "нарисуй кота"))
            await page.wait_for(f"{MOD}.seen.includes('queued #1')")

            # the same address again: the code is spent, the device stays signed in
            again = await browser.open_page(url, 800, 600)
            assert await again.wait_for(f"{MOD} && {MOD}.listening && {MOD}.state") == "refused"
            text = await again.evaluate("document.getElementById('signin').textContent")
            assert "wrong, used or expired sign-in code" in text
            assert await again.evaluate(STORED) == token

            # a rotated token: open sockets close, and a page that kept the old one forgets it
            rotated = await trio.to_thread.run_sync(lambda: d.ctl("token", "--rotate"))
            new = rotated.stdout.strip()
            assert await page.wait_for(f"{MOD}.closed") == 1008
            later = await browser.open_page(url.split("#")[0], 800, 600)
            settled = f"{MOD} && ({MOD}.listening || {MOD}.state === 'forgotten') && {MOD}.state"
            assert await later.wait_for(settled) == "forgotten"
            assert await later.evaluate(STORED) is None

            fresh = await browser.open_page(await trio.to_thread.run_sync(mod_url), 800, 600)
            assert await fresh.wait_for(f"{MOD} && {MOD}.listening && {MOD}.state") == "signed-in"
            assert await fresh.evaluate(STORED) == new
            for p in (page, again, later, fresh):
                assert not [line for line in p.console if "error" in line.lower()], p.console
        log = d.output()
        assert url.split("#code=")[1] not in log
        assert "Traceback" not in log
