"""The control line protocol, in MPD's shape: pure functions shared by the daemon and the client.

Standard library only: ``drawstreamctl`` imports this module and nothing heavier.

A session, as a person sees it with ``socat - UNIX-CONNECT:…/control.sock``::

    OK drawstreamd 1.0
    status
    state: drawing
    paused: 0
    queue_length: 2
    OK
    remove 99
    ACK [50@0] {remove} no queued item 99

* The daemon greets with ``OK drawstreamd <PROTOCOL_VERSION>``.
* A request is one UTF-8 line of at most :data:`MAX_LINE` bytes: a command name and
  arguments separated by spaces; an argument holding spaces or quotes is written in double
  quotes with ``\\"`` and ``\\\\`` escapes.
* A reply is zero or more ``key: value`` lines, then ``OK``; or one
  ``ACK [code@index] {command} message`` line. Values never span lines: a newline in a
  value is written ``\\n`` and a backslash ``\\\\``.
* A reply that lists things (``queue``, ``history``) repeats a block of lines per entry; each
  block begins with the key named in :data:`BLOCK_KEYS` (``id`` for items, ``changed`` for
  events, ``command`` for ``commands``).
* ``idle [kinds…]`` waits for events and answers with one ``changed: <kind>`` block per
  event; ``noidle`` ends the wait early.
"""

from __future__ import annotations

import enum
import json

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs drawstreamctl ~10 ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

PROTOCOL_VERSION = "1.0"
GREETING_PREFIX = "OK drawstreamd "
MAX_LINE = 4096
"""The longest request line, in bytes, newline included."""
IDLE_TIMEOUT_SEC = 60.0
"""A connection that sends nothing for this long (outside ``idle``) is closed."""


class ErrorCode(enum.IntEnum):
    """ACK codes; the numbers follow MPD's where the meaning is the same."""

    NOT_LIST = 1
    """``command_list_end`` without a begin."""
    ARG = 2
    """Wrong arguments, bad quoting, a line too long or not UTF-8."""
    PERMISSION = 4
    """Missing or wrong credentials (HTTP only: the socket is owner-only)."""
    UNKNOWN = 5
    """No such command."""
    NO_EXIST = 50
    """The item asked for does not exist (or has nothing to replay)."""
    SYSTEM = 52
    """The daemon could not do it (journal unavailable…)."""
    STATE = 55
    """Not possible right now (e.g. only ``noidle`` is allowed while idle)."""
    EXIST = 56
    """Already there (a duplicate donation)."""
    BUSY = 57
    """Too many clients or requests; try again later."""


class ProtocolError(Exception):
    """A request that cannot be understood; becomes an ACK line."""

    def __init__(self, code: ErrorCode, message: str, command: str = "", index: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command = command
        self.index = index

    def ack(self) -> str:
        return format_ack(self.code, self.message, self.command, self.index)


# -- requests ----------------------------------------------------------------------------------
def split_line(line: str) -> list[str]:
    """Split a request line into the command and its arguments (MPD quoting rules)."""
    words: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return words
        if line[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise ProtocolError(ErrorCode.ARG, "missing closing quote")
                ch = line[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise ProtocolError(ErrorCode.ARG, "missing closing quote")
                    buf.append(line[i + 1])
                    i += 2
                elif ch == '"':
                    i += 1
                    break
                else:
                    buf.append(ch)
                    i += 1
            if i < n and line[i] not in " \t":
                raise ProtocolError(ErrorCode.ARG, "space expected after closing quote")
            words.append("".join(buf))
        else:
            start = i
            while i < n and line[i] not in " \t":
                if line[i] == '"':
                    raise ProtocolError(ErrorCode.ARG, "quote inside an unquoted argument")
                i += 1
            words.append(line[start:i])


def quote(arg: str) -> str:
    """An argument as it must be written on a request line."""
    if arg and not any(c in arg for c in ' \t"\\'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_request(command: str, *args: str) -> str:
    """One request line, newline included; refuses what the daemon would refuse."""
    if any(c in command for c in ' \t\r\n"\\') or not command:
        raise ValueError(f"bad command name {command!r}")
    for arg in args:
        if "\n" in arg or "\r" in arg:
            raise ValueError("an argument cannot hold a line break")
    line = " ".join([command, *(quote(a) for a in args)]) + "\n"
    if len(line.encode("utf-8")) > MAX_LINE:
        raise ValueError(f"request longer than {MAX_LINE} bytes")
    return line


def decode_line(raw: bytes) -> str:
    """A received request line (without its newline) as text, or ProtocolError."""
    if len(raw) + 1 > MAX_LINE:
        raise ProtocolError(ErrorCode.ARG, f"line longer than {MAX_LINE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(ErrorCode.ARG, "line is not valid UTF-8") from None
    return text.rstrip("\r")


# -- replies -----------------------------------------------------------------------------------
BLOCK_KEYS = ("id", "changed", "command", "donor")
"""Keys that begin one entry of a listing."""

FIELD_TYPES: dict[str, type] = {
    "id": int,
    "item_id": int,
    "current_id": int,
    "queue_length": int,
    "length": int,
    "cleared": int,
    "position": int,
    "missed": int,
    "amount": float,
    "progress": float,
    "remaining_sec": float,
    "queued_at": float,
    "updated_at": float,
    "at": float,
    "uptime_sec": float,
    "seconds": float,
    "frames": int,
    "fps": float,
    "interval_p50_ms": float,
    "interval_p99_ms": float,
    "interval_max_ms": float,
    "late": int,
    "late_percent": float,
    "interruptions": int,
    "banned": bool,
    "denied": bool,
    "done": bool,
    "paused": bool,
    "skipped": bool,
    "removed": bool,
    "data": dict,
    "rotated": bool,
    "expires_in_sec": float,
    "sources": dict,
}
"""How the client turns ``key: value`` text back into JSON types; other keys are strings."""


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(round(value, 3))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return _escape(str(value))


def format_pairs(fields: Mapping[str, Any]) -> list[str]:
    """``key: value`` lines for a flat mapping; None values are left out, lists become blocks."""
    lines: list[str] = []
    blocks: list[Any] = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, list) and key == "items":
            blocks = value
            continue
        lines.append(f"{key}: {format_value(value)}")
    for block in blocks:
        lines.extend(format_pairs(block))
    return lines


def format_ack(code: ErrorCode | int, message: str, command: str = "", index: int = 0) -> str:
    flat = " ".join(message.split())
    return f"ACK [{int(code)}@{index}] {{{command}}} {flat}"


def format_reply(fields: Mapping[str, Any] | None = None) -> str:
    """A whole successful reply, ``OK`` line included."""
    lines = format_pairs(fields or {})
    lines.append("OK")
    return "\n".join(lines) + "\n"


class Ack(Exception):
    """The daemon answered ACK: the parsed parts of the line."""

    def __init__(self, code: int, index: int, command: str, message: str) -> None:
        super().__init__(f"{message} (ACK {code})")
        self.code = code
        self.index = index
        self.command = command
        self.message = message


def parse_ack(line: str) -> Ack:
    """The parts of an ``ACK [code@index] {command} message`` line."""
    try:
        head, rest = line[len("ACK [") :].split("]", 1)
        code_s, index_s = head.split("@", 1)
        rest = rest.lstrip()
        command, message = rest[1:].split("}", 1)
        return Ack(int(code_s), int(index_s), command, message.strip())
    except ValueError:
        return Ack(int(ErrorCode.SYSTEM), 0, "", line)


def split_pair(line: str) -> tuple[str, str]:
    key, sep, value = line.partition(": ")
    if not sep:
        if line.endswith(":"):
            return line[:-1], ""
        raise ValueError(f"not a 'key: value' line: {line!r}")
    return key, value


def typed(key: str, text: str) -> Any:
    """A reply value converted by :data:`FIELD_TYPES`."""
    kind = FIELD_TYPES.get(key)
    try:
        if kind is bool:
            return text not in ("0", "false", "")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is dict:
            return json.loads(text)
    except ValueError:
        pass
    return _unescape(text)


def parse_pairs(lines: Iterable[str], *, listing: bool = False) -> dict[str, Any]:
    """Reply lines (without ``OK``) back into the mapping :func:`format_pairs` wrote.

    With ``listing``, the blocks (each starting with a :data:`BLOCK_KEYS` key) are collected
    under ``items``, even when there are none.
    """
    top: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    block_key: str | None = None
    for line in lines:
        key, text = split_pair(line)
        value = typed(key, text)
        starts_block = listing and (key == block_key or (block_key is None and key in BLOCK_KEYS))
        if starts_block:
            block_key = key
            current = {}
            items.append(current)
        target = current if current is not None else top
        target[key] = value
    if listing:
        top["items"] = items
    return top
