"""The pygame window: the only display code. A Trio task renders frames when the scene changes.

While a drawing animates, frames are paced at FRAME_RATE; only the canvas pixels that changed
are upscaled (nearest-neighbour) and only HUD regions whose values changed are repainted.
When nothing moves (the idle screen, a finished picture on hold) the loop sleeps until the
scene announces a change or its next timed step (the hold bar, at most twice a second), and
wakes a few times a second only to keep the window's events flowing and its heartbeat fresh:
an unchanging screen is neither rendered nor presented.

Frame statistics (:attr:`Renderer.intervals`, read by ``drawstreamctl stats``) hold the
intervals between consecutive frames of an animation only: the gap before the first frame
after a still spell is no frame interval, so late frames mean a stutter a viewer saw.

``DRAWSTREAMD_DEBUG_HUD_LOG=<file>`` (for tests) appends one JSON line per HUD region the
window paints, ``{"region": "info", "texts": [...]}`` with the texts as drawn, so a test can
prove what the window showed the audience; the file is the operator's, like the journal.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING

import pygame
import trio

from drawstreamd.render.hud import BG, HudPainter, Layout
from drawstreamd.systemd import Heartbeat

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.config import Settings
    from drawstreamd.render.scene import PixelWrite, Scene

log = logging.getLogger("drawstreamd.render")

PUMP_SEC = 0.25
"""While nothing changes, the loop still wakes this often: window events, the heartbeat."""
FPS_EVERY_SEC = 1.0
"""The HUD's fps figure is measured over the animation and updated at most this often."""


def prepare_sdl(headless: bool) -> bool:
    """Set SDL's environment before the display starts; returns whether we run headless.

    SDL installs SIGINT/SIGTERM handlers of its own at display init and then swallows SIGTERM:
    keep them out so Trio's signal receiver sees the signals.
    """
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
    if not headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        headless = True
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    return headless


class Frame:
    """The window's pixels: canvas upscaled into the middle, HUD around it."""

    def __init__(self, settings: Settings, scene: Scene, screen: pygame.Surface) -> None:
        s = settings
        self.scene = scene
        self.screen = screen
        self.layout = Layout.compute(
            screen.get_width(), screen.get_height(), s.CANVAS_W, s.CANVAS_H, s.window_scale()
        )
        self.painter = HudPainter(screen, self.layout, s.LOCALE)
        hud_log = os.environ.get("DRAWSTREAMD_DEBUG_HUD_LOG")
        if hud_log:
            self.painter.on_paint = _paint_log(hud_log)
        self.canvas = pygame.Surface((s.CANVAS_W, s.CANVAS_H)).convert(screen)
        self.view = screen.subsurface(self.layout.canvas)
        self._canvas_version = -1
        self._hud_version = -1
        screen.fill(BG)
        self.painter.paint(scene.hud, force=True)

    def update(self, writes: list[PixelWrite]) -> list[pygame.Rect]:
        """Bring the screen up to date with the scene; returns the dirty rectangles."""
        scene, layout = self.scene, self.layout
        dirty: list[pygame.Rect] = []
        version = scene.canvas_version
        if version != self._canvas_version:
            incremental = bool(writes) and version == self._canvas_version + 1
            self._canvas_version = version
            if incremental:
                dirty.append(self._paint_writes(writes))
            else:
                rgb = pygame.image.frombuffer(bytes(scene.canvas), self.canvas.get_size(), "RGB")
                self.canvas.blit(rgb, (0, 0))
                pygame.transform.scale(self.canvas, layout.canvas.size, self.view)
                dirty.append(layout.canvas)
        if scene.hud_version != self._hud_version:
            self._hud_version = scene.hud_version
            dirty.extend(self.painter.paint(scene.hud))
        return dirty

    def _paint_writes(self, writes: list[PixelWrite]) -> pygame.Rect:
        set_at = self.canvas.set_at
        x0 = y0 = 1 << 30
        x1 = y1 = -1
        for x, y, c in writes:
            set_at((x, y), ((c >> 16) & 255, (c >> 8) & 255, c & 255))
            x0, x1 = min(x0, x), max(x1, x)
            y0, y1 = min(y0, y), max(y1, y)
        k = self.layout.scale
        src = self.canvas.subsurface((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
        dest = pygame.Rect(x0 * k, y0 * k, (x1 - x0 + 1) * k, (y1 - y0 + 1) * k)
        pygame.transform.scale(src, dest.size, self.view.subsurface(dest))
        return dest.move(self.layout.canvas.topleft)


def _paint_log(path: str) -> Callable[[str, list[str]], None]:
    """A writer of the window's HUD paints to ``path`` (see the module docstring)."""
    out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the process

    def write(region: str, texts: list[str]) -> None:
        out.write(json.dumps({"region": region, "texts": texts}, ensure_ascii=False) + "\n")

    return write


class Renderer:
    def __init__(
        self, settings: Settings, scene: Scene, *, headless: bool = False, window: bool = True
    ) -> None:
        self.settings = settings
        self.scene = scene
        self.headless = headless
        self.window = window
        self.heartbeat = Heartbeat("renderer")
        self.frame: Frame | None = None
        self.frames = 0
        """Turns of the render loop: animation frames, and the wakes of a still screen."""
        self.presented = 0
        """Frames that changed something on the window (pygame.display.update calls)."""
        self.intervals: deque[float] = deque(maxlen=3600)
        """Seconds between consecutive animation frames (not across a still spell)."""
        self.frame_cpu: deque[float] = deque(maxlen=3600)

    async def serve(
        self, *, task_status: trio.TaskStatus[Renderer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Open the window (or SDL's dummy display) and render until cancelled.

        Hands back itself once the first frame is up. With ``window=False`` (overlay only) it
        ticks the scene and opens no display. Owns the pygame display.
        """
        if not self.scene.hud.fps:
            # until an animation has been measured, the rate it will be drawn at
            self.scene.update_hud(fps=float(self.settings.FRAME_RATE))
        if not self.window:
            task_status.started(self)
            await self._loop(None)
            return
        self.headless = prepare_sdl(self.headless)
        pygame.display.init()
        pygame.font.init()
        try:
            s = self.settings
            screen = pygame.display.set_mode((s.WINDOW_W, s.WINDOW_H))
            pygame.display.set_caption("drawstreamd — All for you")
            self.frame = Frame(s, self.scene, screen)
            self.frame.update([])
            pygame.display.flip()
            task_status.started(self)
            await self._loop(self.frame)
        finally:
            pygame.display.quit()

    async def _loop(self, frame: Frame | None) -> None:
        scene = self.scene
        period = 1.0 / self.settings.FRAME_RATE
        hang_after = float(os.environ.get("DRAWSTREAMD_DEBUG_HANG_RENDER_AFTER_SEC") or 0)
        started = last = deadline = fps_at = trio.current_time()
        recent: deque[float] = deque(maxlen=120)
        paced = False  # the previous frame was an animation frame, on the frame clock
        while True:
            now = trio.current_time()
            cpu = time.thread_time()
            if paced:
                self.intervals.append(now - last)
                recent.append(now - last)
                if now - fps_at >= FPS_EVERY_SEC:
                    fps_at = now
                    mean = sum(recent) / len(recent)
                    scene.update_hud(fps=float(round(1.0 / mean)) if mean > 0 else 0.0)
            last = now
            writes = scene.tick(now)
            if frame is not None:
                self._events()
                dirty = frame.update(writes)
                if dirty:
                    pygame.display.update(dirty)
                    self.presented += 1
            self.frames += 1
            self.heartbeat.beat()
            self.frame_cpu.append(time.thread_time() - cpu)
            if hang_after and now - started > hang_after:
                log.warning("debug: render loop hanging on purpose")
                time.sleep(3600)  # noqa: ASYNC251 - a deliberate hang, for watchdog tests
            due = scene.next_change(now)
            if due <= now:  # animating: the next frame on the frame clock
                deadline = deadline + period if paced else now + period
                if deadline < now - period:
                    deadline = now  # fell behind: no burst of catch-up frames
                paced = True
                await trio.sleep_until(deadline)
                continue
            paced = False
            with trio.move_on_at(min(due, now + PUMP_SEC)):
                await scene.wait_work(scene.version)
            # however often the scene announces changes, at most FRAME_RATE frames a second
            await trio.sleep_until(now + period)

    def _events(self) -> None:
        """Keep the window responsive; repaint it whole when the system lost its pixels."""
        for event in pygame.event.get():
            if event.type == pygame.WINDOWEXPOSED:
                pygame.display.flip()
