"""The gallery page: past drawings, newest first, as HTML cards (pure: no I/O).

Only what went on air is listed (drawings shown, and failed ones), and only as the audience may
see it (:func:`drawstreamd.moderation.audience_view`): a refused request shows the neutral line
in place of its message and offers no replay, a refused donor name is "Anonymous". Everything a
viewer typed is escaped; the replay button only carries the id (gallery.js asks for the API
token).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from drawstreamd.model import Status, Verdict
from drawstreamd.render.hud import format_amount

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawstreamd.model import QueueItem
    from drawstreamd.moderation import Shown

PAGE_SIZE = 24
MAX_PAGE = 100_000


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


AIRED = (Status.SHOWN, Status.FAILED)
"""The statuses the gallery lists: what reached the screen."""


def gallery_card(item: QueueItem, has_picture: bool, view: Callable[[QueueItem], Shown]) -> str:
    d = item.donation
    e = html.escape
    shown = view(item)
    message = shown.message or "—"
    iso = datetime.fromtimestamp(item.queued_at, UTC).isoformat()
    picture = (
        f'<img src="/gallery/{item.id}.png" width="192" height="192" alt="" loading="lazy">'
        if has_picture
        else '<div class="nopic"></div>'
    )
    replay = (
        f'<button type="button" class="replay" data-id="{item.id}">Replay</button>'
        if has_picture and item.status is Status.SHOWN and item.verdict is not Verdict.REFUSED
        else ""
    )
    amount = format_amount(d.amount, d.currency) if d.amount else ""
    return (
        f'<li class="card status-{e(item.status.value)}" id="item-{item.id}">{picture}'
        f'<div class="meta"><span class="donor">{e(shown.donor)}</span>'
        f'<span class="amount">{e(amount)}</span>'
        f'<p class="message">{e(message)}</p>'
        f'<time datetime="{e(iso)}">{e(_time(item.queued_at))}</time> · '
        f'<span class="status">{e(item.status.value)}</span> · #{item.id} {replay}</div></li>'
    )


def gallery_page(
    template: str,
    items: list[QueueItem],
    pictures: set[int],
    page: int,
    view: Callable[[QueueItem], Shown],
) -> str:
    """The page from ``gallery.html``: up to PAGE_SIZE cards of ``items`` (one more tells
    whether an older page exists); ``view`` is what the audience may see of each."""
    more = len(items) > PAGE_SIZE
    cards = "\n".join(gallery_card(i, i.id in pictures, view) for i in items[:PAGE_SIZE])
    nav = []
    if page > 1:
        nav.append(f'<a rel="prev" href="/gallery?page={page - 1}">← newer</a>')
    nav.append(f'<span class="page">page {page}</span>')
    if more:
        nav.append(f'<a rel="next" href="/gallery?page={page + 1}">older →</a>')
    empty = ""
    if not items:
        empty = (
            '<p class="empty">No older drawings.</p>'
            if page > 1
            else ('<p class="empty">No drawings yet.</p>')
        )
    return template.replace("<!--CARDS-->", cards + empty).replace("<!--NAV-->", " ".join(nav))
