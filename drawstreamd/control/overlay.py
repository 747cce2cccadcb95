"""The OBS browser source (``GET /overlay``) and the gallery of past drawings (``GET /gallery``).

The renderer's :class:`~drawstreamd.render.scene.Scene` stays the single source of truth: the
overlay page only shows what the daemon sends over ``/overlay/ws``:

* a text frame ``{"t": "hello", ...}`` (canvas size, labels for LOCALE), then
* binary canvas frames — a full frame on connect, then deltas, only when ``canvas_version``
  changed and at most FRAME_RATE a second (see :func:`full_frame` and :func:`canvas_delta`);
* text frames ``{"t": "hud", ...}`` when the HUD changed: the whole state first, then only the
  fields that changed (progress and fps alone are throttled, see :class:`HudThrottle`), and a
  tiny ``{"t": "ping"}`` when nothing was sent for a while.

Binary frames (little-endian): ``0x01 w:u16 h:u16 rgb[w*h*3]`` is a whole canvas;
``0x02`` followed by spans ``y:u16 x:u16 n:u16 rgb[n*3]`` replaces ``n`` pixels of row ``y``
from column ``x``. An idle daemon sends nothing but the ping.

The gallery lists the journal newest first with the picture from ``<STATE_DIR>/gallery``; the
only thing on it that changes anything is the replay button, which calls the API with the
bearer token the operator types in (kept in the browser, never sent to the page's server
otherwise). Neither page needs a token to look at.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from quart import Blueprint, Response, request, send_from_directory, websocket

from drawstreamd.control.gallery_page import AIRED, MAX_PAGE, PAGE_SIZE, gallery_page
from drawstreamd.moderation import audience_view
from drawstreamd.render.hud import CAPTION, LABELS, format_amount, format_eta

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.config import Settings
    from drawstreamd.journal import Journal
    from drawstreamd.model import QueueItem
    from drawstreamd.moderation import Shown, Words
    from drawstreamd.render.scene import Hud, Scene

STATIC = Path(__file__).parent / "static"
FONTS = Path(__file__).parent.parent / "assets" / "fonts"
FULL = 0x01
DELTA = 0x02
KEEPALIVE_SEC = 20.0
"""Send a ping when nothing else went out for this long (the page reconnects after 3x)."""
PROGRESS_EVERY_SEC = 0.2
"""Progress-only HUD changes go out at most this often (the bar eases between them)."""
FPS_EVERY_SEC = 10.0
"""An fps-only change (the counter wobbles by one) goes out at most this often."""
SEND_TIMEOUT_SEC = 10.0
"""A browser that takes longer than this to accept a frame is dropped (it will reconnect)."""
MAX_SOCKETS_PER_CLIENT = 16
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'"
)
_encode = msgspec.json.Encoder().encode
_SPAN = struct.Struct("<HHH")


# -- the pure core: canvas frames and HUD messages ---------------------------------------------
def full_frame(canvas: bytes, width: int, height: int) -> bytes:
    return struct.pack("<BHH", FULL, width, height) + canvas


def _first_diff(a: bytes, b: bytes) -> int:
    """Index of the first differing byte of two equal-length, unequal byte strings."""
    lo, hi = 0, len(a)  # a[:lo] == b[:lo]; a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def canvas_delta(old: bytes, new: bytes, width: int, height: int) -> bytes | None:
    """The spans of ``new`` that differ from ``old`` (one span per changed row), or None.

    Row equality and the binary searches for a row's first and last change are slice
    comparisons done in C, so a 96x96 canvas costs a few microseconds a frame.
    """
    stride = width * 3
    parts = [bytes((DELTA,))]
    for y in range(height):
        a = old[y * stride : (y + 1) * stride]
        b = new[y * stride : (y + 1) * stride]
        if a == b:
            continue
        x0 = _first_diff(a, b) // 3
        x1 = width - 1 - _first_diff(a[::-1], b[::-1]) // 3
        parts.append(_SPAN.pack(y, x0, x1 - x0 + 1))
        parts.append(b[x0 * 3 : (x1 + 1) * 3])
    if len(parts) == 1:
        return None
    delta = b"".join(parts)
    return delta if len(delta) < 5 + len(new) else full_frame(new, width, height)


def hud_message(hud: Hud, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page shows, already formatted as the window formats it (in ``labels``'
    language)."""
    return {
        "t": "hud",
        "phase": hud.phase,
        "thinking": hud.thinking,
        "donor": hud.donor,
        "amount": (
            format_amount(hud.amount, hud.currency, labels) if hud.amount or hud.currency else ""
        ),
        "message": hud.message,
        "progress": round(max(0.0, min(1.0, hud.progress)), 3),
        "queue": hud.queue_len,
        "fps": round(hud.fps),
        "note": hud.note,
        "upcoming": [
            {
                "donor": u.donor,
                "amount": format_amount(u.amount, u.currency, labels),
                "message": u.message,
                "eta": format_eta(u.eta_sec),
            }
            for u in hud.upcoming
        ],
    }


class HudThrottle:
    """Decides when a changed HUD goes out: at once, unless only progress or fps moved."""

    def __init__(self) -> None:
        self.sent: dict[str, Any] | None = None
        self.sent_at = -math.inf

    def due_at(self, msg: dict[str, Any]) -> float:
        """When ``msg`` may go out: -inf at once, +inf never (nothing changed)."""
        sent = self.sent
        if sent is None:
            return -math.inf
        changed = {k for k in msg if msg[k] != sent.get(k)}
        if not changed:
            return math.inf
        if changed - {"progress", "fps"}:
            return -math.inf
        if "progress" in changed:
            if msg["progress"] in (0.0, 1.0):
                return -math.inf
            return self.sent_at + PROGRESS_EVERY_SEC
        return self.sent_at + FPS_EVERY_SEC

    def due(self, msg: dict[str, Any], now: float) -> bool:
        return now >= self.due_at(msg)

    def changes(self, msg: dict[str, Any]) -> dict[str, Any]:
        """What to send: the whole state first, then only the fields that changed."""
        sent = self.sent
        if sent is None:
            return msg
        return {"t": "hud"} | {k: v for k, v in msg.items() if v != sent.get(k)}

    def mark(self, msg: dict[str, Any], now: float) -> None:
        self.sent = msg
        self.sent_at = now


def hello_message(settings: Settings) -> dict[str, Any]:
    return {
        "t": "hello",
        "w": settings.CANVAS_W,
        "h": settings.CANVAS_H,
        "frame_rate": settings.FRAME_RATE,
        "labels": LABELS.get(settings.LOCALE, LABELS["en"]),
        "caption": CAPTION,
        "keepalive": KEEPALIVE_SEC,
    }


# -- the blueprint -----------------------------------------------------------------------------
def _page(body: str | bytes) -> Response:
    resp = Response(body, content_type="text/html; charset=utf-8")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


class SceneWatch:
    """Where overlay sockets with nothing to send wait for the scene's next change.

    No timer and no polling: a socket sleeps on the scene's change announcement (or its own
    deadline), so an idle overlay costs nothing however many browsers are connected.
    """

    def __init__(self, scene: Scene) -> None:
        self.scene = scene

    def versions(self) -> tuple[int, int]:
        return self.scene.canvas_version, self.scene.hud_version

    async def wait(self, seen: tuple[int, int], until: float) -> None:
        """Until :meth:`versions` differs from ``seen``, or the Trio clock reaches ``until``."""
        with trio.move_on_at(until):
            while self.versions() == seen:
                await self.scene.wait_changed()


async def _stream(settings: Settings, scene: Scene, watch: SceneWatch) -> None:
    """Feed one overlay socket until the browser stops accepting frames."""
    w, h = scene.width, scene.height
    period = 1.0 / settings.FRAME_RATE
    labels = LABELS.get(settings.LOCALE, LABELS["en"])
    throttle = HudThrottle()
    last_canvas: bytes | None = None
    canvas_seen = hud_seen = -1
    hud_retry = math.inf
    sent_at = trio.current_time()

    async def send(data: str | bytes) -> bool:
        nonlocal sent_at
        with trio.move_on_after(SEND_TIMEOUT_SEC):
            await websocket.send(data)
            sent_at = trio.current_time()
            return True
        return False

    if not await send(_encode(hello_message(settings)).decode()):
        return
    while True:
        now = trio.current_time()
        busy = False
        if scene.hud_version != hud_seen or now >= hud_retry:
            hud_seen, hud_retry = scene.hud_version, math.inf
            msg = hud_message(scene.hud, labels)
            due = throttle.due_at(msg)
            if now >= due:
                update = throttle.changes(msg)
                throttle.mark(msg, now)
                busy = True
                if not await send(_encode(update).decode()):
                    return
            else:
                hud_retry = due  # progress or fps alone: later, with whatever changed by then
        if scene.canvas_version != canvas_seen:
            canvas_seen = scene.canvas_version
            canvas = bytes(scene.canvas)
            frame = (
                full_frame(canvas, w, h)
                if last_canvas is None
                else canvas_delta(last_canvas, canvas, w, h)
            )
            last_canvas = canvas
            if frame is not None:
                busy = True
                if not await send(frame):
                    return
        if now - sent_at >= KEEPALIVE_SEC and not await send('{"t":"ping"}'):
            return
        if busy:
            await trio.sleep_until(now + period)  # at most FRAME_RATE rounds a second
        await watch.wait((canvas_seen, hud_seen), min(hud_retry, sent_at + KEEPALIVE_SEC))


def overlay_blueprint(
    settings: Settings,
    scene: Scene,
    journal: Journal,
    gallery_dir: Path,
    *,
    stopping: trio.Event,
    words: Words | None = None,
) -> Blueprint:
    """``/overlay`` (+ ``/overlay/ws``, ``/overlay/static/…``, ``/overlay/fonts/…``) and
    ``/gallery`` (+ ``/gallery/<id>.png``). Overlay sockets close with 1001 once ``stopping``
    is set; nothing here needs or accepts a token. The gallery shows what the audience may
    see (:func:`drawstreamd.moderation.audience_view`, masked with ``words`` as the HUD is)."""

    def shown(item: QueueItem) -> Shown:
        return audience_view(item, settings, words)

    bp = Blueprint("overlay", __name__, static_folder="static", static_url_path="/overlay/static")
    sockets: dict[str, int] = {}
    watch = SceneWatch(scene)

    @bp.get("/overlay")
    async def overlay_page() -> Response:
        return _page((STATIC / "overlay.html").read_bytes())

    @bp.get("/overlay/fonts/<name>")
    async def font(name: str) -> Response:
        if name not in ("Inter-Regular.otf", "Inter-Bold.otf"):
            return Response("no such font", status=404, content_type="text/plain")
        resp = await send_from_directory(FONTS, name)
        resp.headers["Cache-Control"] = "max-age=86400"
        return resp

    async def overlay_ws() -> Response | None:
        client = websocket.remote_addr or "?"
        if sockets.get(client, 0) >= MAX_SOCKETS_PER_CLIENT:
            return Response("too many overlay sockets", status=429, content_type="text/plain")
        sockets[client] = sockets.get(client, 0) + 1
        try:
            await websocket.accept()
            code, reason = 1001, "drawstreamd is shutting down"
            async with trio.open_nursery() as nursery:

                async def feed() -> None:
                    nonlocal code, reason
                    await _stream(settings, scene, watch)
                    code, reason = 1013, "too slow: reconnect"
                    nursery.cancel_scope.cancel()

                nursery.start_soon(feed)
                await stopping.wait()
                nursery.cancel_scope.cancel()
            with trio.move_on_after(1):
                await websocket.close(code, reason)
        finally:
            sockets[client] -= 1
            if not sockets[client]:
                del sockets[client]
        return None

    bp.add_websocket("/overlay/ws", view_func=overlay_ws)

    @bp.get("/gallery")
    async def gallery() -> Response:
        try:
            page = int(request.args.get("page", "1"))
        except ValueError:
            page = 0
        if not 1 <= page <= MAX_PAGE:
            return Response("page must be a whole number from 1", status=400)
        items = await journal.history(PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, statuses=AIRED)
        ids = [i.id for i in items]
        pictures = await trio.to_thread.run_sync(
            lambda: {i for i in ids if (gallery_dir / f"{i}.png").is_file()}
        )
        template = (STATIC / "gallery.html").read_text(encoding="utf-8")
        return _page(gallery_page(template, items, pictures, page, shown))

    @bp.get("/gallery/<int:item_id>.png")
    async def picture(item_id: int) -> Response:
        if not (gallery_dir / f"{item_id}.png").is_file():
            return Response("no picture", status=404, content_type="text/plain")
        resp = await send_from_directory(gallery_dir, f"{item_id}.png")
        resp.headers["Cache-Control"] = "max-age=3600"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    return bp


def overlay_routes(
    settings: Settings,
    scene: Scene,
    journal: Journal,
    gallery_dir: Path,
    *,
    words: Words | None = None,
) -> Callable[[trio.Event], Blueprint]:
    """:func:`overlay_blueprint` as ``serve_http(blueprints=[...])`` wants it: given the event
    set when the server starts to shut down."""

    def make(stopping: trio.Event) -> Blueprint:
        return overlay_blueprint(
            settings, scene, journal, gallery_dir, stopping=stopping, words=words
        )

    return make
