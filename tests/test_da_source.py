"""The Donation Alerts source against the fake: exactly once through drops, outages and 401s."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from da_support import running_source


async def test_socket_donation_reaches_the_sink(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with running_source(tmp_path) as r:
            await r.wait_connected()
            d = r.fake.publish("нарисуй кота", username="Вася", amount=150)
            await r.sink.wait_for(lambda: str(d["id"]) in r.sink.ids())
            donation, reason = r.sink.kept[("donationalerts", str(d["id"]))]
            assert donation.message == "нарисуй кота"
            assert donation.donor == "Вася"
            assert reason is None
