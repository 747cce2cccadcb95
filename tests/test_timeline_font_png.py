"""The pixel font (Latin + Cyrillic) and the stdlib PNG writer/reader, against pygame."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from drawstreamd.render import font, png

if TYPE_CHECKING:
    from pathlib import Path

RUSSIAN = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _bitmap(ch: str) -> tuple[int, tuple[int, ...]]:
    return font.glyph(ch)


def test_every_russian_and_latin_letter_and_digit_has_its_own_glyph() -> None:
    for ch in RUSSIAN + LATIN + "0123456789" + "ІЇЄ" + "!?.,:;-+=()\"'/%#@&*<>_":
        assert font.covers(ch), ch
        width, rows = _bitmap(ch)
        assert 1 <= width <= 6
        assert len(rows) == font.HEIGHT
        assert any(rows), ch
    # Distinct letters look distinct (Cyrillic look-alikes of Latin share on purpose).
    shapes = {_bitmap(ch) for ch in "БГДЁЖЗИЙЛПУФЦЧШЩЪЫЬЭЮЯ" + LATIN}
    assert len(shapes) == len("БГДЁЖЗИЙЛПУФЦЧШЩЪЫЬЭЮЯ" + LATIN)
    assert _bitmap("А") == _bitmap("A")
    assert _bitmap("ё") == _bitmap("Ё") != _bitmap("Е")
    assert _bitmap("ж") == _bitmap("Ж")


def test_missing_glyphs_become_a_box_not_nothing() -> None:
    box = _bitmap("□")
    for ch in ("😀", "中", "\x00", "ß"):
        assert not font.covers(ch)
        assert _bitmap(ch) == box
    assert font.text_width("😀", 1) == box[0]


def test_wrap_keeps_words_and_breaks_only_overlong_ones() -> None:
    lines = font.wrap("нарисуй мне кота пожалуйста", 48)
    assert lines == ["нарисуй", "мне кота", "пожалуйс", "та"]
    assert all(font.text_width(line) <= 48 for line in lines)
    assert font.wrap("a b", 1000) == ["a b"]
    assert font.wrap("первая\nвторая", 1000) == ["первая", "вторая"]


def test_pen_order_draws_letter_by_letter_within_the_measured_width() -> None:
    for text, scale in (("Жук", 1), ("OK!", 3)):
        pixels = font.pen_order(text, scale)
        assert len(pixels) == len(set(pixels))
        xs = [x for x, _ in pixels]
        assert max(xs) < font.text_width(text, scale)
        assert max(y for _, y in pixels) < font.HEIGHT * scale
        boundary = (font.glyph(text[0])[0] + font.SPACING) * scale
        first = [x < boundary for x in xs]
        assert first == sorted(first, reverse=True)  # the first letter, then the rest


def test_png_round_trip() -> None:
    rgb = bytes((x * 7 + y * 3) % 256 for y in range(5) for x in range(3 * 4))
    w, h, back = png.decode(png.encode(4, 5, rgb))
    assert (w, h, back) == (4, 5, rgb)
    with pytest.raises(png.PngError):
        png.encode(4, 5, rgb[:-1])
    with pytest.raises(png.PngError):
        png.decode(b"GIF89a")


def test_upscale_is_nearest_neighbour() -> None:
    rgb = bytes([1, 2, 3, 4, 5, 6])  # 2x1
    assert png.upscale(2, 1, rgb, 2) == bytes([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]) * 2


def test_png_interoperates_with_pygame(tmp_path: Path) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    rgb = bytes((i * 37) % 256 for i in range(24 * 16 * 3))
    ours = tmp_path / "ours.png"
    ours.write_bytes(png.encode(24, 16, rgb))
    surface = pygame.image.load(str(ours))
    assert surface.get_size() == (24, 16)
    assert pygame.image.tobytes(surface, "RGB") == rgb
    theirs = tmp_path / "theirs.png"
    pygame.image.save(surface, str(theirs))
    assert png.decode(theirs.read_bytes()) == (24, 16, rgb)
