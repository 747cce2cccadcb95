"""The window, with real pygame on SDL's dummy driver: layout, text, caching, redraw economy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame
import pytest
import trio

from drawstreamd import config
from drawstreamd.plan import builtin
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.hud import CAPTION, format_eta
from drawstreamd.render.scene import Scene, Upcoming
from drawstreamd.render.timeline import render_at
from drawstreamd.render.window import Frame, Renderer

if TYPE_CHECKING:
    from collections.abc import Iterator


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


def draw_to_end(scene: Scene, frame: Frame, subject: str = "кот") -> None:
    match = builtin.match(subject)
    assert match is not None
    buffer = PlanBuffer()
    buffer.fill(match[1], "builtin")
    scene.begin(buffer, donor="Маша", amount=300, currency="RUB", message="нарисуй кота")
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


async def test_render_loop_paces_frames_and_reports_fps() -> None:
    settings = config.load(None, FRAME_RATE=30)
    scene = Scene(96, 96, 600)
    renderer = Renderer(settings, scene, headless=True)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(renderer.serve)
            await trio.sleep(1.6)
            nursery.cancel_scope.cancel()
    assert 35 <= renderer.frames <= 55
    assert 25 <= scene.hud.fps <= 35
    assert renderer.presented < renderer.frames  # idle frames present nothing
