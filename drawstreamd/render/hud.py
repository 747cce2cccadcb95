"""The HUD painted around the canvas: who, how much, what, progress, next up, All for you.

Layout (both 1280×720 and 1920×1080; everything scales with the window height):

    ┌ left column ───────┬──────── canvas ────────┬─ right column ─────┐
    │ donor              │                        │ queue · fps (top)  │
    │ amount             │                        │ Next up            │
    │ message (wrapped)  │   96×96 × scale        │  donor · amount    │
    │ phase + progress   │   nearest-neighbour    │  message…   ~ETA   │
    ├────────────────────┴────────────────────────┴────────────────────┤
    │                        All for you                               │
    └──────────────────────────────────────────────────────────────────┘

Text surfaces are cached by (text, font, colour) and each region is repainted only when the
values it shows change; a frame where nothing changed paints nothing. :attr:`HudPainter.on_paint`,
when set, hears every region painted with the texts it shows (the window's debug log of what
the audience saw, see :mod:`drawstreamd.render.window`).
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import pygame
import pygame.freetype

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.render.scene import Hud

BG = (16, 18, 32)
PANEL = (28, 32, 54)
FG = (240, 240, 245)
DIM = (150, 156, 185)
ACCENT = (255, 204, 0)
BAR_BG = (55, 60, 90)
BAR_FG = (0, 228, 54)
HOLD_FG = (41, 173, 255)
CAPTION = "All for you"
BOX = "\u25a1"
"""Drawn for a letter the fonts lack (the picture's pixel font draws an empty box too)."""
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Control, format (zero-width…), surrogate, private-use and unassigned code points."""

LABELS = {
    "en": {
        "next": "Next up",
        "queue": "Queue",
        "idle": "Waiting for donations",
        "planning": "Thinking…",
        "thinking": "The artist is thinking…",
        "drawing": "Drawing",
        "holding": "Done!",
        "paused": "Paused",
        "empty": "Nobody yet — be the first!",
        "fps": "fps",
        "bits": "{n} bits",
        "bit": "{n} bit",
        "points": "channel points",
    },
    "ru": {
        "next": "Дальше",
        "queue": "Очередь",
        "idle": "Ждём донатов",
        "planning": "Думаю…",
        "thinking": "Художник думает…",
        "drawing": "Рисую",
        "holding": "Готово!",
        "paused": "Пауза",
        "empty": "Пока никого — будь первым!",
        "fps": "кадр/с",
        "bits": "{n} битов",
        "bit": "{n} бит",
        "bits_few": "{n} бита",
        "points": "баллы канала",
    },
}


def font_path(bold: bool) -> str:
    name = "Inter-Bold.otf" if bold else "Inter-Regular.otf"
    return str(resources.files("drawstreamd") / "assets" / "fonts" / name)


def format_eta(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"~{s // 60}:{s % 60:02d}"


def format_amount(amount: float, currency: str, labels: dict[str, str] | None = None) -> str:
    """E.g. 150 RUB, 4.5 USD; Twitch's own units read as words: 500 bits, channel points."""
    words = labels or LABELS["en"]
    text = f"{amount:,.2f}".rstrip("0").rstrip(".").replace(",", " ")
    unit = currency.upper()
    if unit == "POINTS":
        return words["points"]
    if unit == "BITS":
        return words[_bits_key(int(amount), "bits_few" in words)].format(n=text)
    return f"{text} {currency}".strip()


def _bits_key(n: int, slavic: bool) -> str:
    """The plural form: English one/other; Russian one/few/many (1 бит, 2 бита, 5 битов)."""
    if not slavic:
        return "bit" if n == 1 else "bits"
    if n % 10 == 1 and n % 100 != 11:
        return "bit"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return "bits_few"
    return "bits"


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    scale: int
    canvas: pygame.Rect
    left: pygame.Rect
    right: pygame.Rect
    banner: pygame.Rect
    unit: int

    @classmethod
    def compute(cls, width: int, height: int, cw: int, ch: int, scale: int) -> Layout:
        unit = max(10, height // 40)
        banner_h = unit * 4
        size = (cw * scale, ch * scale)
        cx = (width - size[0]) // 2
        cy = max(unit, (height - banner_h - size[1]) // 2)
        canvas = pygame.Rect((cx, cy), size)
        pad = unit * 2
        left = pygame.Rect(pad, cy, max(unit * 8, cx - 2 * pad), size[1])
        right = pygame.Rect(
            canvas.right + pad, cy, max(unit * 8, width - canvas.right - 2 * pad), size[1]
        )
        banner = pygame.Rect(0, height - banner_h, width, banner_h)
        return cls(width, height, scale, canvas, left, right, banner, unit)


class HudPainter:
    def __init__(self, surface: pygame.Surface, layout: Layout, locale: str) -> None:
        self.surface = surface
        self.layout = layout
        self.labels = LABELS.get(locale, LABELS["en"])
        u = layout.unit
        self.fonts = {
            "big": pygame.font.Font(font_path(True), int(u * 2.2)),
            "mid": pygame.font.Font(font_path(True), int(u * 1.5)),
            "text": pygame.font.Font(font_path(False), int(u * 1.35)),
            "small": pygame.font.Font(font_path(False), int(u * 1.1)),
            "caption": pygame.font.Font(font_path(True), int(u * 2.4)),
        }
        pygame.freetype.init()
        self._probe = pygame.freetype.Font(font_path(False), 12)
        self._drawn: dict[str, str] = {}
        self._cache: OrderedDict[tuple[str, str, tuple[int, int, int]], pygame.Surface] = (
            OrderedDict()
        )
        self._keys: dict[str, Any] = {}
        self.renders = 0
        """How many text surfaces were rendered (not taken from the cache)."""
        self.on_paint: Callable[[str, list[str]], None] | None = None
        """Called after a region is painted, with its name and the texts it shows, in order."""
        self._painted: list[str] | None = None

    # -- text --------------------------------------------------------------------------------
    def printable(self, font: str, text: str) -> str:
        """``text`` as the fonts can draw it (see :meth:`drawn_as`).

        Both HUD faces (regular, bold) cover the same characters, so one probe answers for
        every font.
        """
        drawn = self._drawn
        for c in text:
            if c not in drawn:
                drawn[c] = self.drawn_as(c)
        if all(drawn[c] == c for c in text):
            return text
        return " ".join("".join(drawn[c] for c in text).split())

    def drawn_as(self, c: str) -> str:
        """``c`` itself; nothing for what the font lacks and no one would miss (invisible
        characters, emoji and other symbols, which come out as boxes otherwise); a box for a
        letter or digit it lacks (CJK, Georgian…): dropped, it would join the letters around
        it into a word nobody judged ('х中у中й' is not 'хуй')."""
        category = unicodedata.category(c)
        if category in _INVISIBLE:
            return ""
        if c.isspace() or self._probe.get_metrics(c)[0] is not None:
            return c
        return BOX if category[0] in "LN" else ""

    def text(self, text: str, font: str, colour: tuple[int, int, int]) -> pygame.Surface:
        key = (text, font, colour)
        surf = self._cache.get(key)
        if surf is None:
            shown = self.printable(font, text) or " "
            try:
                surf = self.fonts[font].render(shown, True, colour)
            except pygame.error:  # e.g. only zero-width glyphs left
                surf = self.fonts[font].render(" ", True, colour)
            self.renders += 1
            self._cache[key] = surf
            if len(self._cache) > 512:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        if self._painted is not None:
            self._painted.append(self.printable(font, text))
        return surf

    def wrap(self, text: str, font: str, width: int, max_lines: int) -> list[str]:
        f = self.fonts[font]
        text = self.printable(font, " ".join(text.split()))
        lines: list[str] = []
        line = ""
        for word in text.split(" "):
            candidate = f"{line} {word}".strip()
            if f.size(candidate)[0] <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while f.size(word)[0] > width and len(word) > 1:
                cut = len(word)
                while cut > 1 and f.size(word[:cut])[0] > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        if line:
            lines.append(line)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self.ellipsize(lines[-1] + "…", font, width)
        return lines

    def ellipsize(self, text: str, font: str, width: int) -> str:
        f = self.fonts[font]
        text = self.printable(font, text)
        if f.size(text)[0] <= width:
            return text
        while text and f.size(text + "…")[0] > width:
            text = text[:-1]
        return text.rstrip() + "…"

    # -- painting ----------------------------------------------------------------------------
    def paint(self, hud: Hud, *, force: bool = False) -> list[pygame.Rect]:
        """Repaint the regions whose values changed; returns the dirty rectangles."""
        dirty = []
        regions = (
            (
                "info",
                (hud.phase, hud.thinking, hud.donor, hud.amount, hud.currency, hud.message),
                self._info,
            ),
            ("progress", (hud.phase, hud.progress, hud.thinking), self._progress),
            ("next", (hud.upcoming, hud.queue_len), self._next),
            ("stats", (hud.queue_len, round(hud.fps), hud.note), self._stats),
            ("banner", (), self._banner),
        )
        for name, key, painter in regions:
            if force or self._keys.get(name) != key:
                self._keys[name] = key
                if self.on_paint is None:
                    dirty.append(painter(hud))
                    continue
                self._painted = []
                try:
                    dirty.append(painter(hud))
                    self.on_paint(name, self._painted)
                finally:
                    self._painted = None
        return dirty

    def _clear(self, rect: pygame.Rect, colour: tuple[int, int, int] = BG) -> None:
        self.surface.fill(colour, rect)

    def _info_rect(self) -> pygame.Rect:
        left = self.layout.left
        bar_h = self.layout.unit * 4
        return pygame.Rect(left.x, left.y, left.w, left.h - bar_h)

    def _bar_rect(self) -> pygame.Rect:
        left = self.layout.left
        bar_h = self.layout.unit * 4
        return pygame.Rect(left.x, left.bottom - bar_h, left.w, bar_h)

    def _info(self, hud: Hud) -> pygame.Rect:
        rect = self._info_rect()
        self._clear(rect)
        u = self.layout.unit
        y = rect.y
        if hud.phase in ("idle", "paused") or not hud.donor:
            label = self.labels["paused" if hud.phase == "paused" else "idle"]
            for line in self.wrap(label, "mid", rect.w, 3):
                surf = self.text(line, "mid", DIM)
                self.surface.blit(surf, (rect.x, y))
                y += surf.get_height()
            return rect
        for line in self.wrap(hud.donor, "big", rect.w, 2):
            surf = self.text(line, "big", FG)
            self.surface.blit(surf, (rect.x, y))
            y += surf.get_height()
        if hud.amount or hud.currency:
            surf = self.text(format_amount(hud.amount, hud.currency, self.labels), "mid", ACCENT)
            self.surface.blit(surf, (rect.x, y))
            y += surf.get_height() + u
        line_h = self.fonts["text"].get_linesize()
        room = max(1, (rect.bottom - y) // line_h)
        for line in self.wrap(hud.message, "text", rect.w, room):
            surf = self.text(line, "text", FG)
            self.surface.blit(surf, (rect.x, y))
            y += line_h
        return rect

    def _progress(self, hud: Hud) -> pygame.Rect:
        rect = self._bar_rect()
        self._clear(rect)
        if hud.phase not in ("drawing", "holding", "planning"):
            return rect
        u = self.layout.unit
        key = "thinking" if hud.thinking or hud.phase == "planning" else hud.phase
        label = self.text(self.labels[key], "small", DIM)
        self.surface.blit(label, (rect.x, rect.y))
        bar = pygame.Rect(rect.x, rect.y + label.get_height() + u // 2, rect.w, u)
        self.surface.fill(BAR_BG, bar)
        done = bar.copy()
        done.w = int(bar.w * max(0.0, min(1.0, hud.progress)))
        if done.w:
            self.surface.fill(HOLD_FG if hud.phase == "holding" else BAR_FG, done)
        return rect

    def _next(self, hud: Hud) -> pygame.Rect:
        right = self.layout.right
        u = self.layout.unit
        top = right.y + u * 3
        rect = pygame.Rect(right.x, top, right.w, right.bottom - top)
        self._clear(rect)
        y = rect.y
        title = self.text(self.labels["next"], "mid", ACCENT)
        self.surface.blit(title, (rect.x, y))
        y += title.get_height() + u // 2
        if not hud.upcoming:
            surf = self.text(self.ellipsize(self.labels["empty"], "small", rect.w), "small", DIM)
            self.surface.blit(surf, (rect.x, y))
            return rect
        for entry in hud.upcoming:
            eta = self.text(format_eta(entry.eta_sec), "small", DIM)
            head = f"{entry.donor} · {format_amount(entry.amount, entry.currency, self.labels)}"
            name = self.text(self.ellipsize(head, "text", rect.w - eta.get_width() - u), "text", FG)
            self.surface.blit(name, (rect.x, y))
            self.surface.blit(
                eta, (rect.right - eta.get_width(), y + (name.get_height() - eta.get_height()) // 2)
            )
            y += name.get_height()
            msg = self.text(self.ellipsize(entry.message, "small", rect.w), "small", DIM)
            self.surface.blit(msg, (rect.x, y))
            y += msg.get_height() + u // 2
            if y > rect.bottom - u * 3:
                break
        return rect

    def _stats(self, hud: Hud) -> pygame.Rect:
        right = self.layout.right
        u = self.layout.unit
        rect = pygame.Rect(right.x, right.y, right.w, u * 3)
        self._clear(rect)
        text = f"{self.labels['queue']}: {hud.queue_len} · {round(hud.fps)} {self.labels['fps']}"
        surf = self.text(text, "small", DIM)
        self.surface.blit(surf, (rect.right - surf.get_width(), rect.y))
        if hud.note:
            note = self.text(self.ellipsize(hud.note, "small", rect.w), "small", ACCENT)
            self.surface.blit(note, (rect.right - note.get_width(), rect.y + surf.get_height()))
        return rect

    def _banner(self, hud: Hud) -> pygame.Rect:
        rect = self.layout.banner
        self._clear(rect, PANEL)
        surf = self.text(CAPTION, "caption", ACCENT)
        self.surface.blit(surf, surf.get_rect(center=rect.center))
        return rect
