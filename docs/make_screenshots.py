"""Render the window headless at 1280×720 and 1920×1080 and save PNGs under docs/.

    .venv/bin/python docs/make_screenshots.py

Shows a Russian donor and message, a long message, the "Next up" column and an empty queue.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"

import pygame

from drawstreamd import config
from drawstreamd.plan import builtin
from drawstreamd.plan.base import PlanBuffer
from drawstreamd.render.scene import Scene, Upcoming
from drawstreamd.render.window import Frame

OUT = Path(__file__).resolve().parent

NEXT = (
    Upcoming("Alex", "draw a rocket flying to the moon", 5, "USD", 75),
    Upcoming("Анонимно", "сердечко для стримера ❤️", 100, "RUB", 185),
    Upcoming(
        "Kate",
        "a little house with a tree and a very long message that must be cut",
        10,
        "EUR",
        295,
    ),
    Upcoming("Дима", "нарисуй солнышко", 500, "RUB", 405),
    Upcoming("Sam", "spooky ghost pls 👻", 3, "USD", 515),
)


def shot(
    width: int,
    height: int,
    *,
    locale: str,
    subject: str,
    donor: str,
    message: str,
    upcoming: tuple[Upcoming, ...],
    name: str,
    at: float = 1.0,
) -> Path:
    settings = config.load(None, WINDOW_W=width, WINDOW_H=height, LOCALE=locale)
    scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
    screen = pygame.display.set_mode((width, height))
    frame = Frame(settings, scene, screen)
    match = builtin.match(subject)
    assert match is not None, subject
    buffer = PlanBuffer()
    buffer.fill(match[1], "builtin")
    scene.begin(buffer, donor=donor, amount=300, currency="RUB", message=message)
    t = 0.0
    while scene.next_change(t) <= t:  # until the whole plan has animated
        scene.tick(t)
        t += 1.0
    scene.update_hud(
        phase="drawing", progress=at, queue_len=len(upcoming), upcoming=upcoming, fps=60.0
    )
    frame.update([])
    path = OUT / name
    pygame.image.save(screen, str(path))
    return path


def main() -> int:
    pygame.display.init()
    pygame.font.init()
    made = [
        shot(
            1280,
            720,
            locale="ru",
            subject="кот",
            donor="Маша Котова",
            message="Нарисуй, пожалуйста, рыжего кота, который смотрит на зрителей 🐱",
            upcoming=NEXT,
            name="hud-1280x720.png",
            at=0.62,
        ),
        shot(
            1920,
            1080,
            locale="en",
            subject="rocket",
            donor="Alex",
            message="draw a rocket flying to the moon, with flames and stars around it, and make "
            "it look like it is about to land on the moon while everyone cheers",
            upcoming=(),
            name="hud-1920x1080.png",
        ),
    ]
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
