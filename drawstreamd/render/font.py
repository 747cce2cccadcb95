"""A built-in 5x7 pixel font: Latin, Cyrillic (Russian and Ukrainian), digits, punctuation.

Drawn for this project. Letters are capitals only (lower case is drawn as upper case), glyphs
are 1-6 pixels wide with one pixel between letters, lines are 7 pixels high with 2 between.
Anything the font lacks (emoji, CJK…) is drawn as an empty box, never dropped silently.
Pure data and arithmetic: used by the rasteriser and safe to import anywhere.
"""

from __future__ import annotations

from typing import Final

HEIGHT: Final = 7
LINE_HEIGHT: Final = 9
SPACING: Final = 1

# One glyph per line: the character, then its 7 rows ("#" ink, "." paper).
_TABLE: Final = r"""
A .###. #...# #...# ##### #...# #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ####. #...# #...# #...# #...# #...# ####.
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I ### .#. .#. .#. .#. .#. ###
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
0 .###. #...# #..## #.#.# ##..# #...# .###.
1 .#. ##. .#. .#. .#. .#. ###
2 .###. #...# ....# ...#. ..#.. .#... #####
3 ####. ....# ....# .###. ....# ....# ####.
4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
5 ##### #.... ####. ....# ....# #...# .###.
6 ..##. .#... #.... ####. #...# #...# .###.
7 ##### ....# ...#. ..#.. .#... .#... .#...
8 .###. #...# #...# .###. #...# #...# .###.
9 .###. #...# #...# .#### ....# ...#. .##..
! # # # # # . #
? .###. #...# ....# ...#. ..#.. ..... ..#..
. . . . . . . #
, .. .. .. .. .. .# #.
: . . # . . # .
; .. .. .# .. .. .# #.
- ... ... ... ### ... ... ...
+ ... ... .#. ### .#. ... ...
= ... ... ### ... ### ... ...
' # # . . . . .
" #.# #.# ... ... ... ... ...
( .# #. #. #. #. #. .#
) #. .# .# .# .# .# #.
[ ## #. #. #. #. #. ##
] ## .# .# .# .# .# ##
/ ....# ....# ...#. ..#.. .#... #.... #....
\ #.... #.... .#... ..#.. ...#. ....# ....#
* ... #.# .#. ### .#. #.# ...
# .#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.
% ##..# ##..# ...#. ..#.. .#... #..## #..##
& .##.. #..#. #.#.. .#... #.#.# #..#. .##.#
@ .###. #...# #.### #.#.# #.### #.... .####
$ ..#.. .#### #.#.. .###. ..#.# ####. ..#..
_ ..... ..... ..... ..... ..... ..... #####
< ...# ..#. .#.. #... .#.. ..#. ...#
> #... .#.. ..#. ...# ..#. .#.. #...
^ .#. #.# ... ... ... ... ...
~ ..... ..... .#... #.#.# ...#. ..... .....
| # # # # # # #
♥ ..... .#.#. ##### ##### .###. ..#.. .....
Б ##### #.... #.... ####. #...# #...# ####.
Г ##### #.... #.... #.... #.... #.... #....
Д ..##. .#.#. .#.#. .#.#. .#.#. ##### #...#
Ё .#.#. ..... ##### #.... ####. #.... #####
Ж #.#.# #.#.# .###. ..#.. .###. #.#.# #.#.#
З .###. #...# ....# ..##. ....# #...# .###.
И #...# #...# #..## #.#.# ##..# #...# #...#
Й .#.#. ..#.. #...# #..## #.#.# ##..# #...#
Л ..### .#..# .#..# .#..# .#..# .#..# #...#
П ##### #...# #...# #...# #...# #...# #...#
У #...# #...# #...# .#### ....# ....# ####.
Ф ..#.. .###. #.#.# #.#.# #.#.# .###. ..#..
Ц #..#. #..#. #..#. #..#. #..#. ##### ....#
Ч #...# #...# #...# .#### ....# ....# ....#
Ш #.#.# #.#.# #.#.# #.#.# #.#.# #.#.# #####
Щ #.#.#. #.#.#. #.#.#. #.#.#. #.#.#. ###### .....#
Ъ ##... .#... .#... .###. .#..# .#..# .###.
Ы #...# #...# #...# ##..# #.#.# #.#.# ##..#
Ь #.... #.... #.... ####. #...# #...# ####.
Э .###. #...# ....# ..### ....# #...# .###.
Ю #..#. #.#.# #.#.# ###.# #.#.# #.#.# #..#.
Я .#### #...# #...# .#### ..#.# .#..# #...#
Є .###. #...# #.... ####. #.... #...# .###.
Ї #.# ... ### .#. .#. .#. ###
□ ##### #...# #...# #...# #...# #...# #####
"""

# Cyrillic capitals that share a Latin shape, plus typographic look-alikes.
_SAME: Final = {
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "Х": "X",
    "І": "I",
    "Ґ": "Г",
    "«": '"',
    "»": '"',
    "„": '"',
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "`": "'",
    "—": "-",
    "–": "-",
    "−": "-",
    "№": "N",
    "×": "X",
    "{": "(",
    "}": ")",
    "❤": "♥",
    "Ў": "У",
}
_MISSING: Final = "□"


def _load() -> dict[str, tuple[int, tuple[int, ...]]]:
    glyphs: dict[str, tuple[int, tuple[int, ...]]] = {}
    for line in _TABLE.strip("\n").splitlines():
        ch, *rows = line.split(" ")
        assert len(rows) == HEIGHT, ch
        width = len(rows[0])
        masks = tuple(int(r.replace("#", "1").replace(".", "0")[::-1], 2) for r in rows)
        glyphs[ch] = (width, masks)
    glyphs[" "] = (3, (0,) * HEIGHT)
    for ch, same in _SAME.items():
        glyphs[ch] = glyphs[same]
    return glyphs


_GLYPHS: Final = _load()


def glyph(ch: str) -> tuple[int, tuple[int, ...]]:
    """(width, row bit masks; bit x set = ink at column x) of one character."""
    g = _GLYPHS.get(ch)
    if g is None:
        up = ch.upper()
        g = _GLYPHS.get(up if len(up) == 1 else ch, _GLYPHS[_MISSING])
    return g


def covers(ch: str) -> bool:
    up = ch.upper()
    return ch in _GLYPHS or (len(up) == 1 and up in _GLYPHS)


def text_width(text: str, scale: int = 1) -> int:
    if not text:
        return 0
    return (sum(glyph(ch)[0] for ch in text) + SPACING * (len(text) - 1)) * scale


def wrap(text: str, width: int, scale: int = 1) -> list[str]:
    """Greedy word wrap to ``width`` pixels; words longer than a line are broken."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, scale) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for ch in word:
                if line and text_width(line + ch, scale) > width:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def pen_order(text: str, scale: int = 1) -> list[tuple[int, int]]:
    """Ink pixels of one line, relative to its top-left, letter by letter, column by column."""
    out: list[tuple[int, int]] = []
    left = 0
    for ch in text:
        width, masks = glyph(ch)
        for col in range(width):
            for row in range(HEIGHT):
                if masks[row] >> col & 1:
                    x, y = left + col * scale, row * scale
                    out += [(x + i, y + j) for j in range(scale) for i in range(scale)]
        left += (width + SPACING) * scale
    return out
