"""Doctor checks of what the audience sees: the window (or headless) and the HUD fonts.

The window check makes the daemon's own decision (:func:`prepare_sdl`) and then opens a
hidden window of the configured size with SDL, so what it says is what the daemon will get.
"""

from __future__ import annotations

import os
import string
from typing import TYPE_CHECKING

from drawstreamd.doctor.result import Result, fail, ok
from drawstreamd.doctor.surfaces import reach_host

if TYPE_CHECKING:
    from collections.abc import Mapping

    from drawstreamd.doctor.result import Context

CYRILLIC = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
ALPHABETS: dict[str, str] = {"Latin": string.ascii_letters, "Cyrillic": CYRILLIC}


def _display_name() -> str:
    parts = [f"{k}={os.environ[k]}" for k in ("WAYLAND_DISPLAY", "DISPLAY") if os.environ.get(k)]
    return ", ".join(parts)


def _display(headless: bool, size: tuple[int, int], overlay: str) -> Result:
    import pygame

    from drawstreamd.render.window import prepare_sdl

    name = "display"
    asked = headless
    shown = _display_name()
    headless = prepare_sdl(headless)
    forced = os.environ.get("SDL_VIDEODRIVER", "")
    try:
        pygame.display.init()
        driver = pygame.display.get_driver()
        pygame.display.set_mode(size, pygame.HIDDEN)
    except pygame.error as exc:
        return fail(
            name,
            f"SDL cannot open a window ({exc})",
            "run drawstreamd in your desktop session (DISPLAY or WAYLAND_DISPLAY must name a "
            f"running display), or start it with --headless; {overlay}",
        )
    finally:
        pygame.display.quit()
    if headless:
        why = "--headless" if asked else "neither DISPLAY nor WAYLAND_DISPLAY is set"
        return ok(name, f"headless ({why}): no window to capture; {overlay}")
    if driver in ("dummy", "offscreen"):
        if forced == driver:
            return ok(name, f"headless (SDL_VIDEODRIVER={forced}): no window; {overlay}")
        return fail(
            name,
            f"no window: SDL cannot use {shown} and falls back to its {driver} driver",
            "run drawstreamd in your desktop session (for a user service: `systemctl --user "
            "import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY`), or start it with "
            f"--headless; {overlay}",
        )
    return ok(name, f"a {size[0]}×{size[1]} window opens ({driver}, {shown})")


async def display(ctx: Context) -> list[Result]:
    s = ctx.settings
    address = f"http://{reach_host(s.API_HOST)}:{s.API_PORT}/overlay" if s else "/overlay"
    overlay = f"OBS can take the browser source {address}"
    if not ctx.window:
        return [ok("display", f"no window (--no-window); {overlay}")]
    size = (s.WINDOW_W, s.WINDOW_H) if s is not None else (1280, 720)
    # SDL's video subsystem wants the main thread: run here, it takes milliseconds
    return [_display(ctx.headless, size, overlay + " instead")]


def hud_fonts() -> dict[str, str]:
    from drawstreamd.render.hud import font_path

    return {"Inter Regular": font_path(False), "Inter Bold": font_path(True)}


def _label_text() -> str:
    from drawstreamd.render.hud import LABELS

    return "".join(sorted({c for labels in LABELS.values() for t in labels.values() for c in t}))


def check_fonts(fonts: Mapping[str, str], alphabets: Mapping[str, str]) -> Result:
    import pygame.freetype

    name = "fonts"
    reinstall = (
        "reinstall drawstreamd (`pip install --force-reinstall drawstreamd`): "
        "its fonts are part of the package"
    )
    pygame.freetype.init()
    for label, path in fonts.items():
        try:
            font = pygame.freetype.Font(path, 12)
        except (OSError, pygame.error) as exc:
            return fail(name, f"{label} ({path}) does not load: {exc}", reinstall)
        for script, letters in alphabets.items():
            missing = [c for c in letters if not c.isspace() and font.get_metrics(c)[0] is None]
            if missing:
                return fail(
                    name,
                    f"{label} ({path}) has no glyphs for {script}: {''.join(missing[:20])}",
                    reinstall,
                )
    return ok(name, f"{' and '.join(fonts)} load and cover {', '.join(alphabets)}")


async def fonts(ctx: Context) -> list[Result]:
    alphabets = {**ALPHABETS, "the HUD labels": _label_text()}
    return [check_fonts(hud_fonts(), alphabets)]
