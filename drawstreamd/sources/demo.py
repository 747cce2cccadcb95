"""The demo source: a scripted stream of donations (RU and EN, one of them NSFW).

``drawstreamd --demo`` feeds it through the whole pipeline, so a fresh install shows what the
daemon does without Donation Alerts or an LLM.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import trio

from drawstreamd.model import ANONYMOUS, Donation

if TYPE_CHECKING:
    from drawstreamd.sources.base import DonationSink

log = logging.getLogger("drawstreamd.demo")

SCRIPT: tuple[tuple[str, float, str, str], ...] = (
    ("Маша", 300, "RUB", "Нарисуй, пожалуйста, кота!"),
    ("Alex", 5, "USD", "draw a rocket flying to the moon"),
    ("", 100, "RUB", "сердечко для стримера ❤️"),
    ("Kate", 10, "EUR", "a little house with a tree"),
    ("тролль", 50, "RUB", "нарисуй х*й"),
    ("Дима", 500, "RUB", "нарисуй солнышко"),
    ("Sam", 3, "USD", "spooky ghost pls"),
    ("Оля", 150, "RUB", "грибочек из марио"),
    ("Ivan", 200, "RUB", "Нарисуй, как я выигрываю турнир по шахматам в субботу"),
    ("Lena", 7, "USD", "a fish in the sea"),
)


async def serve(
    sink: DonationSink,
    *,
    first_burst: int = 3,
    interval: float = 4.0,
    rounds: int | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Submit the script: ``first_burst`` at once, then one every ``interval`` seconds, looping.

    Each run has its own ids, so restarting the demo queues the script again.
    Returns after ``rounds`` passes (forever when None).
    """
    run = f"{int(time.time() * 1000):x}"
    task_status.started()
    n = 0
    done = 0
    while rounds is None or done < rounds:
        for donor, amount, currency, message in SCRIPT:
            d = Donation(
                source="demo",
                external_id=f"{run}-{n}",
                donor=donor or ANONYMOUS,
                message=message,
                amount=amount,
                currency=currency,
                created_at=datetime.now(UTC),
            )
            await sink.submit(d)
            log.info("demo donation queued n=%d donor=%s", n, d.donor)
            n += 1
            if n > first_burst:
                await trio.sleep(interval)
        done += 1
