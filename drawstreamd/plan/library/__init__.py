"""The picture library: one Canvas-DSL plan per subject, found by RU/EN keywords.

Every subject is a file ``<category>/<name>.json`` in this package (the format is described
in ``docs/canvas-dsl.md``, "The library")::

    {"kw": ["ёжик*", "ежа", "hedgehog"], "ask": ["нарисуй ёжика", "draw a hedgehog"],
     "main": "brown", "head": [30, 40, 22], "plan": {"v": 1, ...}}

``kw``: keywords (RU and EN). A keyword matches a whole word of a request, lower-cased with
``ё`` folded to ``е``; a trailing ``*`` matches any ending; a keyword of several words
(``ice cream``) matches them in a row; a single emoji is a word of its own. ``ask``: example
requests, RU first. ``main``: the dominant colour (a colour word in a request replaces it).
``head``: ``[x, y, w]``, the centre-top of the head (or top) and its width, where a hat or
crown goes. ``plan``: the picture, on a 96x96 canvas; it may ``use`` other subjects.

Every file in the tree is read (through :mod:`importlib.resources`, so an installed wheel
works the same) and checked when this module is imported; a bad file raises
:class:`LibraryError` naming it. The daemon imports this once, at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Final

import msgspec

from drawstreamd.plan import dsl

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

CATEGORIES: Final = (
    "animals", "food", "objects", "vehicles", "places", "nature", "holidays", "faces", "games"
)  # fmt: skip
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_CYRILLIC: Final = re.compile(r"[а-я]")
_LATIN: Final = re.compile(r"[a-z]")
_MIN_STEM: Final = 3
"""A ``*`` keyword needs this many letters before the star (``ко*`` would catch anything)."""
_MAX_NESTING: Final = 4
"""How deep subjects may ``use`` subjects that ``use`` subjects (a subject alone is 1)."""


class LibraryError(ValueError):
    """A library file is invalid; the message starts with the file's path in the library."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One library subject."""

    name: str
    category: str
    keywords: tuple[str, ...]
    """Folded (lower case, ``ё`` -> ``е``), in the file's order."""
    asks: tuple[str, ...]
    """Example requests (RU first) used for few-shot prompts."""
    main: str | None
    head: tuple[int, int, int] | None
    plan: dsl.Plan
    """The picture, its ``use`` steps expanded."""
    example: str
    """The plan as compact JSON as written (``use`` steps kept): the few-shot answer."""
    source: str
    """``<category>/<name>.json``."""


class _File(msgspec.Struct, forbid_unknown_fields=True):
    kw: list[str]
    ask: list[str]
    plan: dsl.Written
    main: str | None = None
    head: tuple[int, int, int] | None = None


def fold(text: str) -> str:
    """How requests and keywords are compared: lower case, ``ё`` as ``е``."""
    return text.lower().replace("ё", "е")


def _check_words(source: str, item: _File) -> tuple[str, ...]:
    keywords = tuple(dict.fromkeys(" ".join(fold(k).split()) for k in item.kw))
    if not keywords:
        raise LibraryError(f"{source}: kw is empty")
    for k in keywords:
        stem = k.removesuffix("*")
        if not stem or "*" in stem:
            raise LibraryError(f"{source}: keyword {k!r}: '*' goes only at the end of a word")
        if k.endswith("*") and len(stem) < _MIN_STEM:
            raise LibraryError(f"{source}: keyword {k!r}: stem shorter than {_MIN_STEM} letters")
    if not any(_CYRILLIC.search(k) for k in keywords):
        raise LibraryError(f"{source}: kw has no Russian keyword")
    if not any(_LATIN.search(k) for k in keywords):
        raise LibraryError(f"{source}: kw has no English keyword")
    if len(item.ask) < 2:
        raise LibraryError(f"{source}: ask needs two or more example requests")
    if not _CYRILLIC.search(fold(item.ask[0])):
        raise LibraryError(f"{source}: the first ask must be Russian")
    if not any(_LATIN.search(fold(a)) and not _CYRILLIC.search(fold(a)) for a in item.ask):
        raise LibraryError(f"{source}: ask has no English request")
    return keywords


def _colours(plan: dsl.Plan) -> set[str]:
    out: set[str] = set()
    for step in plan.steps:
        for shape in step.s if isinstance(step, dsl.Group) else [step]:
            out.add(shape.c)
    return out


def _check_picture(
    source: str, item: _File, plan: dsl.Plan
) -> tuple[str | None, tuple[int, int, int] | None]:
    main = item.main
    if main is not None:
        try:
            main = dsl.normalize_color(main)
        except dsl.StepError as exc:
            raise LibraryError(f"{source}: main: {exc}") from None
        if main not in _colours(plan):
            raise LibraryError(f"{source}: main colour {main!r} is not used in the plan")
    head = item.head
    if head is not None:
        x, y, w = head
        size = dsl.SUBJECT_SIZE
        if not (0 <= x < size and 0 <= y < size and 1 <= w <= size):
            raise LibraryError(f"{source}: head {list(head)} is not [x, y, width] on the canvas")
    return main, head


class _Loader(Mapping[str, Entry]):
    """Subjects by name, each checked the first time it is asked for (so that a plan may
    ``use`` a subject from any file, in any order; a cycle is an error)."""

    def __init__(self, files: dict[str, tuple[str, str, _File]]) -> None:
        self._files = files
        self._done: dict[str, Entry] = {}
        self._depth: dict[str, int] = {}
        self._stack: list[str] = []

    def __getitem__(self, name: str) -> Entry:
        if name in self._done:
            return self._done[name]
        if name not in self._files:
            raise KeyError(name)
        if name in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
            raise LibraryError(f"{self._files[name][1]}: uses itself ({cycle})")
        self._stack.append(name)
        try:
            self._done[name] = self._check(name)
        finally:
            self._stack.pop()
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def _check(self, name: str) -> Entry:
        category, source, item = self._files[name]
        keywords = _check_words(source, item)
        try:
            plan = dsl.resolve(item.plan, subjects=self)
        except dsl.StepError as exc:
            raise LibraryError(f"{source}: invalid plan: {exc}") from None
        main, head = _check_picture(source, item, plan)
        uses = {s.n for s in item.plan.steps if isinstance(s, dsl.Use)}
        depth = 1 + max((self._depth.get(n, 0) for n in uses), default=0)
        if depth > _MAX_NESTING:
            raise LibraryError(f"{source}: subjects nest more than {_MAX_NESTING} deep")
        self._depth[name] = depth
        example = msgspec.json.encode(item.plan).decode() if uses else dsl.encode(plan).decode()
        return Entry(name, category, keywords, tuple(item.ask), main, head, plan, example, source)


def _read(root: Traversable) -> dict[str, tuple[str, str, _File]]:
    files: dict[str, tuple[str, str, _File]] = {}
    decoder = msgspec.json.Decoder(_File)
    for folder in sorted(root.iterdir(), key=lambda t: t.name):
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        if folder.name not in CATEGORIES:
            raise LibraryError(f"{folder.name}/: not a category ({', '.join(CATEGORIES)})")
        for path in sorted(folder.iterdir(), key=lambda t: t.name):
            source = f"{folder.name}/{path.name}"
            name = path.name.removesuffix(".json")
            if not path.name.endswith(".json") or not _NAME.fullmatch(name):
                raise LibraryError(f"{source}: not a subject file (<snake_case_name>.json)")
            if name in files:
                raise LibraryError(f"{source}: the name {name!r} is taken by {files[name][1]}")
            try:
                item = decoder.decode(path.read_bytes())
            except msgspec.DecodeError as exc:
                raise LibraryError(f"{source}: {exc}") from None
            files[name] = (folder.name, source, item)
    return files


def _keyword_owner(entries: Mapping[str, Entry]) -> None:
    """No word of a request may match keywords of two subjects."""
    words: dict[str, str] = {}  # keyword without its star -> subject
    stems: dict[str, str] = {}  # star keywords' stems -> subject
    for entry in entries.values():
        for k in entry.keywords:
            bucket = stems if k.endswith("*") else words
            key = k.removesuffix("*")
            other = bucket.get(key)
            if other is not None and other != entry.name:
                raise LibraryError(
                    f"{entry.source}: keyword {k!r} also belongs to {entries[other].source}"
                )
            bucket[key] = entry.name
    for key, owner in [*words.items(), *stems.items()]:
        for n in range(_MIN_STEM, len(key) + 1):
            other = stems.get(key[:n])
            if other is not None and other != owner:
                raise LibraryError(
                    f"{entries[owner].source}: keyword {key!r} is also matched by "
                    f"{key[:n]}* of {entries[other].source}"
                )


def load(root: Traversable | None = None) -> dict[str, Entry]:
    """Read and check every subject file under ``root`` (default: this package)."""
    files = _read(resources.files(__name__) if root is None else root)
    loader = _Loader(files)
    entries = {name: loader[name] for name in files}
    _keyword_owner(entries)
    return entries


SUBJECTS: Final[dict[str, Entry]] = load()
"""Every subject of the builtin library by name (category order, then name order)."""
