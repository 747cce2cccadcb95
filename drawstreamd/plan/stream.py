"""Incremental JSON parsing of a plan while the model is still writing it.

The model streams one JSON object ``{"v": …, "seed": …, "bg": …, "steps": [ … ]}`` in
arbitrary fragments. :class:`PlanStreamParser` is fed those fragments and reports, the moment
each is complete:

* :class:`Field` — a top-level key other than ``steps`` with its decoded value;
* :class:`Item` — one element of the top-level ``steps`` array, decoded.

It checks the whole text against the JSON grammar as it goes (a push-down automaton over
characters), so invalid JSON is reported at the offending character, not at the end, and
:meth:`PlanStreamParser.finish` tells a clean end from a stream cut off mid-plan. It knows
nothing of the Canvas-DSL: the caller validates each decoded element. Pure: no I/O, no Trio.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any

MAX_CHARS = 1_000_000
"""A plan longer than this is not a plan; stop reading it (``LLM_MAX_TOKENS`` is far lower)."""
MAX_PENDING_CHARS = 64_000
"""The longest single value the parser holds while it waits for its end: one step, or one
header field. A step with every list at its limit is a few kilobytes."""
MAX_PREFIX_CHARS = 200
"""The longest text tolerated before the object starts (spaces and a Markdown fence line)."""
MAX_TRAILING_CHARS = 200
"""How much of the text after the closed object is kept for the log."""
MAX_DEPTH = 32
"""Plans nest four levels deep; anything much deeper is garbage (and would make the decoder
recurse)."""

_WS = frozenset(" \t\r\n")
_NUMBER_CHARS = frozenset("0123456789+-.eE")
_LITERALS = {"t": "true", "f": "false", "n": "null"}
_FENCE = "```"


class StreamError(ValueError):
    """The streamed text cannot become a plan."""


class InvalidJSON(StreamError):
    """The text breaks the JSON grammar (``offset`` is the character where it went wrong)."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"invalid JSON at character {offset}: {reason}")
        self.reason = reason
        self.offset = offset


class WrongShape(StreamError):
    """Valid JSON, but not an object with a ``steps`` array."""


class Truncated(StreamError):
    """The stream ended before the top-level object was closed."""


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    value: Any


@dataclass(frozen=True, slots=True)
class Item:
    index: int
    value: Any


Event = Field | Item


# Automaton states (what the next non-space character may be).
_VALUE = 0  # a value starts
_KEY_OR_END = 1  # right after "{": a key or "}"
_KEY = 2  # after ",": a key
_COLON = 3
_COMMA_OR_END = 4  # after a value inside a container
_ARRAY_VALUE_OR_END = 5  # right after "[": a value or "]"
_DONE = 6


class PlanStreamParser:
    """Feed text fragments with :meth:`feed`; collect the events it returns."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._pos = 0  # absolute offset of the next character
        self._buf = ""  # text kept for decoding pending values (starts at _buf_start)
        self._buf_start = 0
        self._state = _VALUE
        self._stack: list[str] = []  # "{" / "[" per open container
        self._in_string = False
        self._escape = False
        self._unicode_left = 0  # hex digits still expected after \u
        self._string_is_key = False
        self._scalar: str | None = None  # "number" or the literal being spelled
        self._scalar_len = 0
        self._key_start = 0
        self._current_key: str | None = None  # the top-level key being read
        self._value_start: int | None = None  # start of the tracked value (field or item)
        self._in_steps = False
        self._steps_seen = False
        self._index = 0
        self._events: list[Event] = []
        self._prefix = ""  # leading text before the first "{" (a Markdown fence is tolerated)
        self._started = False
        self.trailing = ""
        """Non-space text after the closed object (ignored; the caller may log it)."""

    @property
    def done(self) -> bool:
        """True once the top-level object is closed."""
        return self._state == _DONE

    @property
    def items(self) -> int:
        """How many ``steps`` elements were completed so far."""
        return self._index

    @property
    def chars(self) -> int:
        return self._pos

    def feed(self, text: str) -> list[Event]:
        """Consume ``text``; return the fields and items completed by it, in order.

        Raises :class:`InvalidJSON`, :class:`WrongShape`, or :class:`StreamError` when the
        text grows beyond :data:`MAX_CHARS`, one value beyond :data:`MAX_PENDING_CHARS` or
        the text before the object beyond :data:`MAX_PREFIX_CHARS`.
        """
        if self._pos + len(text) > MAX_CHARS:
            raise StreamError(f"plan text longer than {MAX_CHARS} characters")
        if not self._started:
            text = self._skip_prefix(text)
            if not text:
                return []
        self._buf += text
        for ch in text:
            self._step(ch)
            self._pos += 1
        self._trim()
        if len(self._buf) > MAX_PENDING_CHARS:
            what = f"step {self._index}" if self._in_steps else "one plan field"
            raise StreamError(f"{what} is longer than {MAX_PENDING_CHARS} characters")
        events, self._events = self._events, []
        return events

    def finish(self) -> None:
        """The stream ended: raise :class:`Truncated` unless the object was closed."""
        if self._state == _DONE:
            return
        if not self._started:
            raise Truncated("the stream ended before any JSON object began")
        if self._scalar == "number" and len(self._stack) == 0:
            raise WrongShape("the plan is a number, not an object")
        where = f"after {self._index} complete step(s)" if self._steps_seen else "in the header"
        raise Truncated(f"the stream ended mid-plan ({where}, {self._pos} characters)")

    # -- internals -------------------------------------------------------------------------

    def _skip_prefix(self, text: str) -> str:
        """Drop leading spaces and a Markdown code fence (```json) before the object."""
        self._prefix += text
        stripped = self._prefix.lstrip()
        if not stripped:
            self._prefix = ""
            return ""
        if len(stripped) > MAX_PREFIX_CHARS and "{" not in stripped[:MAX_PREFIX_CHARS]:
            raise WrongShape(
                f"no JSON object within the first {MAX_PREFIX_CHARS} characters: {stripped[:40]!r}…"
            )
        if stripped.startswith(_FENCE) or _FENCE.startswith(stripped):
            newline = stripped.find("\n")
            if newline < 0:
                return ""  # the fence line is not complete yet
            rest = stripped[newline + 1 :].lstrip()
            if not rest:
                self._prefix = _FENCE + "\n"  # keep skipping spaces after the fence
                return ""
            stripped = rest
        self._started = True
        self._prefix = ""
        return stripped

    def _fail(self, reason: str) -> InvalidJSON:
        return InvalidJSON(reason, self._pos)

    def _step(self, ch: str) -> None:
        if self._in_string:
            self._string_char(ch)
            return
        if self._scalar is not None and self._scalar_char(ch):
            return
        state = self._state
        if state == _DONE:
            if ch not in _WS and len(self.trailing) < MAX_TRAILING_CHARS:
                self.trailing += ch
            return
        if ch in _WS:
            return
        if state in (_VALUE, _ARRAY_VALUE_OR_END):
            if state == _ARRAY_VALUE_OR_END and ch == "]":
                self._close("[")
                return
            self._begin_value(ch)
        elif state in (_KEY_OR_END, _KEY):
            if state == _KEY_OR_END and ch == "}":
                self._close("{")
                return
            if ch != '"':
                raise self._fail(f"expected a key in double quotes, got {ch!r}")
            self._in_string = True
            self._string_is_key = True
            self._key_start = self._pos
        elif state == _COLON:
            if ch != ":":
                raise self._fail(f"expected ':' after a key, got {ch!r}")
            self._state = _VALUE
        elif state == _COMMA_OR_END:
            top = self._stack[-1]
            if ch == ",":
                self._after_comma(top)
            elif (ch == "}" and top == "{") or (ch == "]" and top == "["):
                self._close(top)
            else:
                raise self._fail(f"expected ',' or {'}' if top == '{' else ']'!r}, got {ch!r}")

    def _begin_value(self, ch: str) -> None:
        depth = len(self._stack)
        if depth == 0 and ch != "{":
            raise WrongShape(f"the plan must be a JSON object, it starts with {ch!r}")
        if self._tracks_start(depth):
            self._value_start = self._pos
            if depth == 1 and self._current_key == "steps":
                if ch != "[":
                    raise WrongShape('"steps" must be an array')
                self._in_steps = True
                self._steps_seen = True
        if ch in "{[" and depth >= MAX_DEPTH:
            raise self._fail(f"nested deeper than {MAX_DEPTH} levels")
        if ch == "{":
            self._stack.append("{")
            self._state = _KEY_OR_END
        elif ch == "[":
            self._stack.append("[")
            self._state = _ARRAY_VALUE_OR_END
        elif ch == '"':
            self._in_string = True
            self._string_is_key = False
        elif ch in _LITERALS:
            self._scalar = _LITERALS[ch]
            self._scalar_len = 1
        elif ch == "-" or ch.isdigit():
            self._scalar = "number"
        else:
            raise self._fail(f"unexpected {ch!r} where a value should start")

    def _tracks_start(self, depth: int) -> bool:
        """Is a value starting at this depth a header field or a steps element?"""
        if depth == 1:
            return True
        return depth == 2 and self._in_steps

    def _string_char(self, ch: str) -> None:
        if self._unicode_left:
            if ch not in "0123456789abcdefABCDEF":
                raise self._fail("bad \\u escape")
            self._unicode_left -= 1
        elif self._escape:
            if ch == "u":
                self._unicode_left = 4
            elif ch not in '"\\/bfnrt':
                raise self._fail(f"bad escape \\{ch}")
            self._escape = False
        elif ch == "\\":
            self._escape = True
        elif ch == '"':
            self._in_string = False
            if self._string_is_key:
                if len(self._stack) == 1:
                    self._current_key = self._decode(self._key_start, self._pos + 1)
                self._state = _COLON
            else:
                self._value_done(self._pos + 1)
        elif ch < " ":
            raise self._fail("control character inside a string")

    def _scalar_char(self, ch: str) -> bool:
        """Feed ``ch`` to the number/literal being read; False when ``ch`` ended it."""
        word = self._scalar
        if word == "number":
            if ch in _NUMBER_CHARS:
                return True
            self._scalar = None
            self._value_done(self._pos)  # ``ch`` is then read as the token after the number
            return False
        assert word is not None
        if ch != word[self._scalar_len]:
            raise self._fail(f"expected {word!r}")
        self._scalar_len += 1
        if self._scalar_len == len(word):
            self._scalar = None
            self._value_done(self._pos + 1)
        return True

    def _value_done(self, end: int) -> None:
        """A scalar value ended just before absolute offset ``end``."""
        self._state = _COMMA_OR_END if self._stack else _DONE
        self._emit_if_tracked(len(self._stack), end)

    def _close(self, kind: str) -> None:
        self._stack.pop()
        depth = len(self._stack)
        if depth == 0:
            self._state = _DONE
            if not self._steps_seen:
                raise WrongShape('the plan has no "steps" array')
            return
        self._state = _COMMA_OR_END
        if depth == 1 and kind == "[" and self._in_steps:
            self._in_steps = False
            self._value_start = None
            return
        self._emit_if_tracked(depth, self._pos + 1)

    def _after_comma(self, top: str) -> None:
        self._state = _KEY if top == "{" else _VALUE

    def _emit_if_tracked(self, depth: int, end: int) -> None:
        if self._value_start is None:
            return
        if depth == 1 and not self._in_steps:
            key = self._current_key or ""
            self._events.append(Field(key, self._decode(self._value_start, end)))
            self._value_start = None
        elif depth == 2 and self._in_steps:
            self._events.append(Item(self._index, self._decode(self._value_start, end)))
            self._index += 1
            self._value_start = None

    def _decode(self, start: int, end: int) -> Any:
        raw = self._buf[start - self._buf_start : end - self._buf_start]
        try:
            return json.loads(raw)
        except ValueError as exc:  # the automaton should have caught it; be safe anyway
            raise InvalidJSON(str(exc), start) from None

    def _trim(self) -> None:
        """Forget text no pending value needs."""
        keep = self._pos
        if self._value_start is not None:
            keep = min(keep, self._value_start)
        if self._in_string and self._string_is_key:
            keep = min(keep, self._key_start)
        if keep > self._buf_start:
            self._buf = self._buf[keep - self._buf_start :]
            self._buf_start = keep


_EOL = re.compile(r"\r\n|\r|\n")

MAX_SSE_LINE_CHARS = 256 * 1024
"""The longest SSE line accepted (a chunk of a streamed completion is well under 1 KiB)."""
MAX_SSE_EVENT_CHARS = 1024 * 1024
"""The most ``data`` one event may carry, all its lines together."""


class SSETooLong(StreamError):
    """A line or an event is longer than its cap: the server is not sending chat chunks."""


class SSEDecoder:
    """Server-sent events: feed raw bytes as they arrive, get each event's ``data`` back.

    Lines may be split anywhere (even inside a UTF-8 character); ``\\n``, ``\\r\\n`` and ``\\r``
    end lines; several ``data:`` lines of one event are joined with ``\\n``; comments
    (``:``…) and other fields are ignored. An event is dispatched at its blank line; text
    after the last complete line when the stream ends is discarded, as the SSE standard says.
    A line longer than :data:`MAX_SSE_LINE_CHARS` or an event with more than
    :data:`MAX_SSE_EVENT_CHARS` of data raises :class:`SSETooLong` as soon as it grows past
    the cap, so a server that never ends its line cannot fill the memory.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._line = ""
        self._data: list[str] = []
        self._data_chars = 0
        self._cr = False  # the last chunk ended with "\r" (a "\n" may follow)

    def feed(self, chunk: bytes) -> list[str]:
        """Consume raw bytes; return the data of every event completed by them."""
        text = self._utf8.decode(chunk)
        if self._cr and text:
            self._cr = False
            if text[0] == "\n":
                text = text[1:]
        if text:
            self._cr = text[-1] == "\r"
        out: list[str] = []
        pos = 0
        for end in _EOL.finditer(text):
            line, self._line = self._line + text[pos : end.start()], ""
            self._take_line(line, out)
            pos = end.end()
        self._line += text[pos:]
        if len(self._line) > MAX_SSE_LINE_CHARS:
            raise SSETooLong(f"an SSE line longer than {MAX_SSE_LINE_CHARS} characters")
        return out

    def _take_line(self, line: str, out: list[str]) -> None:
        if len(line) > MAX_SSE_LINE_CHARS:
            raise SSETooLong(f"an SSE line longer than {MAX_SSE_LINE_CHARS} characters")
        if not line:
            if self._data:
                out.append("\n".join(self._data))
                self._data = []
                self._data_chars = 0
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if name == "data":
            value = value[1:] if value.startswith(" ") else value
            self._data_chars += len(value) + 1
            if self._data_chars > MAX_SSE_EVENT_CHARS:
                raise SSETooLong(f"an SSE event with more than {MAX_SSE_EVENT_CHARS} characters")
            self._data.append(value)
