"""What the sources' pure protocol modules share: the event base classes every ``receive()``
returns, and how a bad frame is quoted in a log line."""

from __future__ import annotations

from dataclasses import dataclass

SHOWN_CHARS = 120
"""How much of a bad frame an event (and so a log line) quotes."""


class Event:
    """Something the server said, already routed."""


@dataclass(frozen=True)
class Ignored(Event):
    """A well-formed frame we have no use for."""

    reason: str


@dataclass(frozen=True)
class Malformed(Event):
    """A frame that breaks the protocol; the reason is safe to log."""

    reason: str


def quote(text: str) -> str:
    """``text`` on one line, cut to :data:`SHOWN_CHARS` with its full length said."""
    text = text.replace("\n", "\\n")
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]}… ({len(text)} chars)"
    return text
