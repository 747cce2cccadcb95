"""The window, with real pygame on SDL's dummy driver: layout, text, caching, redraw economy."""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import pygame
import pytest
import trio
import trio.testing

from drawstreamd import config
from drawstreamd.plan import builtin
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.hud import BOX, CAPTION, format_eta
from drawstreamd.render.scene import HOLD_STEP_MIN_SEC, PixelWrite, Scene, Upcoming
from drawstreamd.render.timeline import render_at
from drawstreamd.render.window import PUMP_SEC, Frame, Renderer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest.fixture(autouse=True)
def display() -> Iterator[None]:
    pygame.display.init()
    pygame.font.init()
    yield
    pygame.display.quit()


def make(
    width: int = 1280, height: int = 720, locale: str = "en"
) -> tuple[Scene, Frame, pygame.Surface]:
    settings = config.load(
        None, WINDOW_W=width, WINDOW_H=height, LOCALE=locale, DEFAULT_STEP_DURATION_MS=50
    )
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    screen = pygame.display.set_mode((width, height))
    return scene, Frame(settings, scene, screen), screen


def library_buffer(subject: str = "кот") -> PlanBuffer:
    """A whole plan from the builtin library, as the builtin planner hands it over."""
    match = builtin.match(subject)
    assert match is not None
    buffer = PlanBuffer()
    buffer.fill(match[1], "builtin")
    return buffer


def draw_to_end(scene: Scene, frame: Frame, subject: str = "кот") -> None:
    scene.begin(
        library_buffer(subject), donor="Маша", amount=300, currency="RUB", message="нарисуй кота"
    )
    t = 0.0
    while True:
        writes = scene.tick(t)
        frame.update(writes)
        if scene._drawn.is_set():
            return
        t += 1 / 60


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_canvas_is_the_plan_upscaled_nearest_neighbour(width: int, height: int) -> None:
    scene, frame, screen = make(width, height)
    draw_to_end(scene, frame)
    rect = frame.layout.canvas
    assert rect.h <= height - frame.layout.banner.h  # fits above the banner
    assert rect.w % 96 == 0
    k = rect.w // 96
    cat = builtin.match("кот")
    assert cat is not None
    expected = render_at(cat[1], None, default_ms=50)
    for x, y in [(0, 0), (48, 44), (39, 42), (70, 80), (95, 95), (30, 20)]:
        i = (y * 96 + x) * 3
        want = tuple(expected[i : i + 3])
        for dx, dy in [(0, 0), (k - 1, k - 1), (k // 2, 0)]:
            got = screen.get_at((rect.x + x * k + dx, rect.y + y * k + dy))[:3]
            assert got == want, (x, y, dx, dy)


def test_nothing_changed_means_nothing_presented_and_no_text_rendered() -> None:
    scene, frame, _ = make()
    draw_to_end(scene, frame)
    scene.hold(100.0, 90)
    frame.update(scene.tick(100.0))
    renders = frame.painter.renders
    for n in range(30):
        assert frame.update(scene.tick(100.0 + n * 0.0001)) == []
    assert frame.painter.renders == renders
    # a changed queue repaints only the "Next up" column, reusing cached glyph lines
    scene.update_hud(queue_len=1, upcoming=(Upcoming("Kate", "a house", 10, "EUR", 30),))
    dirty = frame.update([])
    assert dirty
    assert all(not r.colliderect(frame.layout.canvas) for r in dirty)
    before = frame.painter.renders
    scene.update_hud(queue_len=0, upcoming=())
    frame.update([])
    scene.update_hud(queue_len=1, upcoming=(Upcoming("Kate", "a house", 10, "EUR", 30),))
    frame.update([])
    assert frame.painter.renders <= before + 1  # only the empty-queue line was new


def test_cyrillic_renders_and_missing_glyphs_are_dropped_not_boxed() -> None:
    scene, frame, _ = make(locale="ru")
    painter = frame.painter
    assert painter.printable("text", "Привет, ёжик!") == "Привет, ёжик!"
    assert painter.printable("text", "кот 🐱 и 👻 призрак") == "кот и призрак"
    with_emoji = painter.text("кот 🐱", "text", (255, 255, 255))
    plain = painter.text("кот", "text", (255, 255, 255))
    assert with_emoji.get_size() == plain.get_size()
    assert pygame.image.tobytes(with_emoji, "RGBA") == pygame.image.tobytes(plain, "RGBA")
    # a message of nothing but emoji and odd code points does not crash the HUD
    scene.update_hud(
        phase="drawing", donor="🎉🎉", message="\U0001f431" * 50 + "\u200b\ufffd", progress=0.5
    )
    assert frame.update([])


def test_letters_the_font_lacks_are_boxed_never_dropped() -> None:
    # Dropped, the Chinese letters would join the Cyrillic ones around them into a word the
    # gatekeeper never saw; a box shows there was something, as the picture's font does.
    _, frame, _ = make(locale="ru")
    painter = frame.painter
    assert painter.printable("text", "нарисуй х中у中й") == f"нарисуй х{BOX}у{BOX}й"
    assert painter.printable("text", "кот по имени 小明 🐱") == f"кот по имени {BOX}{BOX}"
    assert painter.wrap("нарисуй х中у中й", "text", 400, 2) == [f"нарисуй х{BOX}у{BOX}й"]
    boxed = painter.text("х中у", "text", (255, 255, 255))
    joined = painter.text("ху", "text", (255, 255, 255))
    assert boxed.get_width() > joined.get_width()


def test_long_messages_wrap_inside_the_left_column() -> None:
    scene, frame, _screen = make()
    long = "нарисуй " + "очень-очень длинное сообщение " * 30
    scene.update_hud(
        phase="drawing", donor="Очень Длинное Имя Донатера Которое Не Влезает", message=long
    )
    lines = frame.painter.wrap(long, "text", frame.layout.left.w, 10)
    assert len(lines) == 10
    assert lines[-1].endswith("…")
    assert all(frame.painter.fonts["text"].size(line)[0] <= frame.layout.left.w for line in lines)
    dirty = frame.update([])
    assert all(frame.layout.left.contains(r) or not r.colliderect(frame.layout.left) for r in dirty)


def test_next_up_eta_and_caption_are_on_screen() -> None:
    scene, frame, _screen = make()
    upcoming = tuple(
        Upcoming(f"viewer{n}", f"message {n}", n, "USD", 60.0 * n + 5) for n in range(1, 6)
    )
    scene.update_hud(queue_len=5, upcoming=upcoming)
    assert format_eta(65) == "~1:05"
    frame.update([])
    cached = {key[0] for key in frame.painter._cache}
    assert CAPTION in cached
    assert {"~1:05", "~2:05", "~5:05"} <= cached
    assert any(text.startswith("viewer5") for text in cached)


@contextlib.asynccontextmanager
async def rendering(settings: config.Settings, scene: Scene) -> AsyncIterator[Renderer]:
    """The real render loop with its window on SDL's dummy driver."""
    renderer = Renderer(settings, scene, headless=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(renderer.serve)
        yield renderer
        nursery.cancel_scope.cancel()


async def drawn_and_held(scene: Scene, hold_sec: float) -> None:
    """What the worker does: a drawing to its end, then its hold."""
    scene.begin(library_buffer(), donor="Маша", amount=300, currency="RUB", message="нарисуй кота")
    await scene.wait_drawn()
    scene.hold(trio.current_time(), hold_sec)


def next_up(renderer: Renderer) -> bytes:
    """The pixels of the window's right column ("Next up")."""
    screen = pygame.display.get_surface()
    assert screen is not None
    assert renderer.frame is not None
    column = screen.subsurface(renderer.frame.layout.right)
    return pygame.image.tobytes(column, "RGB")


async def presented_after(renderer: Renderer, count: int) -> float:
    """The Trio time at which the renderer presents more than ``count`` frames."""
    while renderer.presented <= count:
        await trio.sleep(0.001)
    return trio.current_time()


async def test_a_still_screen_is_neither_rendered_nor_presented(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = config.load(None, FRAME_RATE=60)
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    with trio.fail_after(60):
        async with rendering(settings, scene) as renderer:
            await trio.sleep(10)
            # nothing changed: nothing presented; the loop only woke for window events
            assert renderer.presented == 0
            assert renderer.frames <= 10 / PUMP_SEC + 2
            assert list(renderer.intervals) == []  # no frame statistics from a still screen
            # a new queue item on the idle screen is on the window within one frame
            before = next_up(renderer)
            changed_at = trio.current_time()
            scene.update_hud(queue_len=1, upcoming=(Upcoming("Kate", "a house", 10, "EUR", 30),))
            shown_at = await presented_after(renderer, 0)
            assert shown_at - changed_at <= 1 / settings.FRAME_RATE
            assert next_up(renderer) != before


async def test_a_held_picture_presents_a_few_frames_and_a_new_queue_item_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = config.load(None, FRAME_RATE=60, DEFAULT_STEP_DURATION_MS=50)
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    with trio.fail_after(60):
        async with rendering(settings, scene) as renderer:
            await drawn_and_held(scene, 90.0)
            await trio.sleep(1)
            presented, frames = renderer.presented, renderer.frames
            await trio.sleep(2)
            # the hold bar moves twice a second; nothing else changes
            assert renderer.presented - presented <= 5
            assert renderer.frames - frames <= 2 / PUMP_SEC + 5
            assert 0 < scene.hud.progress < 0.05
            # the queue grows while the picture holds: on the window within one frame
            changed_at = trio.current_time()
            scene.update_hud(queue_len=1, upcoming=(Upcoming("Kate", "a house", 10, "EUR", 30),))
            shown_at = await presented_after(renderer, renderer.presented)
            assert shown_at - changed_at <= 1 / settings.FRAME_RATE
            assert renderer.frame is not None
            assert "~0:30" in {key[0] for key in renderer.frame.painter._cache}


async def test_the_hold_bar_fills_to_the_end_in_steps() -> None:
    scene = Scene(96, 96, 50)
    scene.hold(100.0, 90.0)
    assert scene.next_change(100.0) == 100.0
    seen = []
    t = 100.0
    while t < 191.0:
        scene.tick(t)
        seen.append(scene.hud.progress)
        t = min(scene.next_change(t), 191.0)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) == 90 / HOLD_STEP_MIN_SEC + 1  # two steps a second, then full
    assert scene.next_change(191.0) == math.inf


async def test_a_drawing_is_paced_and_its_measured_fps_is_shown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = config.load(None, FRAME_RATE=30, DEFAULT_STEP_DURATION_MS=200)

    class SlowScene(Scene):
        """Every frame of the drawing takes 50 ms (more than a 30 fps frame has)."""

        def tick(self, now: float) -> list[PixelWrite]:
            writes = super().tick(now)
            if self.hud.phase == "drawing" and not self._drawn.is_set():
                autojump_clock.jump(0.05)
            return writes

    with trio.fail_after(60):
        scene = Scene(96, 96, settings.DEFAULT_STEP_DURATION_MS)
        async with rendering(settings, scene) as renderer:
            assert scene.hud.fps == 30  # until measured: the rate it draws at
            await trio.sleep(1)
            began = trio.current_time()
            await drawn_and_held(scene, 60.0)
            elapsed = trio.current_time() - began
            intervals = list(renderer.intervals)
            assert elapsed > 1
            assert len(intervals) == pytest.approx(elapsed * 30, abs=2)
            assert all(i == pytest.approx(1 / 30) for i in intervals)
            assert scene.hud.fps == 30
            await trio.sleep(5)  # a held picture adds no frame intervals
            assert list(renderer.intervals) == intervals
        slow = SlowScene(96, 96, settings.DEFAULT_STEP_DURATION_MS)
        async with rendering(settings, slow) as renderer:
            await drawn_and_held(slow, 60.0)
            assert slow.hud.fps == 20  # measured, not the configured 30
            # every one of them was late (50 ms > 33 ms), and only those
            assert renderer.intervals
            assert all(i == pytest.approx(0.05) for i in renderer.intervals)


async def test_a_step_from_a_slow_planner_is_drawn_on_the_next_frame(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = config.load(None, FRAME_RATE=60)
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    buffer = PlanBuffer()  # the model has not written a step yet
    with trio.fail_after(60):
        async with rendering(settings, scene) as renderer:
            scene.begin(buffer, donor="Маша", amount=300, currency="RUB", message="кот")
            await trio.sleep(5)
            presented, frames = renderer.presented, renderer.frames
            await trio.sleep(5)  # "the artist is thinking": nothing moves
            assert renderer.presented == presented
            assert renderer.frames - frames <= 5 / PUMP_SEC + 2
            written_at = trio.current_time()
            buffer.add(builtin.text_card("кот").steps[0])
            shown_at = await presented_after(renderer, presented)
            assert shown_at - written_at <= 1 / settings.FRAME_RATE
            assert not scene.hud.thinking
