"""A small Chrome DevTools Protocol client on trio-websocket, to drive Debian's headless Chromium.

Just what the overlay tests need: start a browser in a fresh profile, open a page in a target
of a given size, evaluate JavaScript, answer a prompt() and take a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
import trio_websocket

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--remote-debugging-port=0",
)


class CdpError(Exception):
    pass


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise CdpError("Chromium is not installed (tests/run.sh installs Debian's chromium)")


class Browser:
    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[trio.Event, list[dict[str, Any]]]] = {}
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    async def reader(self) -> None:
        while True:
            try:
                raw = await self.ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            msg = json.loads(raw)
            if "id" in msg:
                event, box = self._waiting.pop(msg["id"], (None, []))
                if event is not None:
                    box.append(msg)
                    event.set()
            else:
                for listener in list(self.listeners):
                    listener(msg)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        n = next(self._ids)
        msg: dict[str, Any] = {"id": n, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        event, box = trio.Event(), list[dict[str, Any]]()
        self._waiting[n] = (event, box)
        await self.ws.send_message(json.dumps(msg))
        await event.wait()
        reply = box[0]
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def open_page(self, url: str, width: int, height: int, *, mobile: bool = False) -> Page:
        """A new target of ``width`` × ``height`` showing ``url``; ``mobile``: as a phone shows
        it (the viewport meta tag counts, scrollbars overlay the page, touch events)."""
        target = await self.call(
            "Target.createTarget",
            {"url": "about:blank", "newWindow": True, "width": width, "height": height},
        )
        attached = await self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        if mobile:
            await page.call("Emulation.setTouchEmulationEnabled", {"enabled": True})
        await page.call(
            "Emulation.setDefaultBackgroundColorOverride",
            {"color": {"r": 0, "g": 0, "b": 0, "a": 0}},
        )
        await page.goto(url)
        return page


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.console: list[str] = []
        browser.listeners.append(self._on_event)
        self.prompt_answer: str | None = None

    def _on_event(self, msg: dict[str, Any]) -> None:
        if msg.get("sessionId") != self.session:
            return
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.console.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            )
        elif method == "Page.javascriptDialogOpening":
            accept = self.prompt_answer is not None
            reply: dict[str, Any] = {"accept": accept}
            if accept:
                reply["promptText"] = self.prompt_answer
            # answered from the reader task: send without waiting for the reply
            msg_out = {
                "id": next(self.browser._ids),
                "method": "Page.handleJavaScriptDialog",
                "params": reply,
                "sessionId": self.session,
            }
            trio.lowlevel.spawn_system_task(self.browser.ws.send_message, json.dumps(msg_out))

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.call(method, params, self.session)

    async def goto(self, url: str) -> None:
        loaded = trio.Event()

        def on_load(msg: dict[str, Any]) -> None:
            if msg.get("sessionId") == self.session and msg.get("method") == "Page.loadEventFired":
                loaded.set()

        self.browser.listeners.append(on_load)
        try:
            reply = await self.call("Page.navigate", {"url": url})
            if reply.get("errorText"):
                raise CdpError(f"navigate {url}: {reply['errorText']}")
            await loaded.wait()
        finally:
            self.browser.listeners.remove(on_load)

    async def evaluate(self, expression: str) -> Any:
        reply = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in reply:
            raise CdpError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20, poll: float = 0.1) -> Any:
        """Until ``expression`` is truthy; returns its value."""
        with trio.fail_after(timeout):
            while True:
                value = await self.evaluate(expression)
                if value:
                    return value
                await trio.sleep(poll)

    async def screenshot(self) -> bytes:
        reply = await self.call("Page.captureScreenshot", {"format": "png"})
        return base64.b64decode(reply["data"])


def _launch(profile: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = profile.parent / f"{profile.name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "HOME": str(profile)},
        )
    return proc, log_path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the browser we started: its own process group (renderers, zygote), by its id."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@contextlib.asynccontextmanager
async def open_browser() -> AsyncIterator[Browser]:
    """A headless Chromium in a throw-away profile; closed (its process group too) on exit."""
    profile = Path(tempfile.mkdtemp(prefix="dsd-chromium-"))
    proc, log_path = _launch(profile)
    try:
        port_file = profile / "DevToolsActivePort"
        with trio.fail_after(30):
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                if proc.poll() is not None:
                    raise CdpError(f"chromium exited {proc.returncode}: {log_path.read_text()}")
                await trio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        async with (
            trio_websocket.open_websocket_url(
                f"ws://127.0.0.1:{port}{path}", max_message_size=64 * 1024 * 1024
            ) as ws,
            trio.open_nursery() as nursery,
        ):
            browser = Browser(ws)
            nursery.start_soon(browser.reader)
            yield browser
            with trio.move_on_after(5):
                await browser.call("Browser.close")
            nursery.cancel_scope.cancel()
    finally:
        _stop(proc)
        shutil.rmtree(profile, ignore_errors=True)
        log_path.unlink(missing_ok=True)
