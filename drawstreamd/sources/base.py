"""What a donation source gets from the daemon: a durable sink and a little key/value memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from drawstreamd.model import Donation


class DonationSink(Protocol):
    async def submit(self, donation: Donation, *, skip_reason: str | None = None) -> bool:
        """Record the donation durably (journal first), then queue it.

        With ``skip_reason`` it is journaled as skipped and never drawn (audio donations,
        amounts under ``DRAW_MIN_AMOUNT``). Returns False when (source, external_id) was
        already known: duplicates are dropped, never drawn twice.
        """
        ...

    async def get_meta(self, key: str) -> str | None:
        """A value kept in the journal across restarts (e.g. a REST watermark)."""
        ...

    async def set_meta(self, key: str, value: str) -> None: ...

    def emit(self, kind: str, **data: Any) -> None:
        """Publish an event, e.g. ``source_connected`` / ``source_disconnected``."""
        ...
