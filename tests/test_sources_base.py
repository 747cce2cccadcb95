"""The one source interface: per-currency minimums, amount labels, status lines, outcomes."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
import trio
from support import drawstreamd_bin, process_env

from drawstreamd import config
from drawstreamd.events import EventBus
from drawstreamd.journal import Journal
from drawstreamd.model import Donation, MessageType, Status
from drawstreamd.queue import DrawQueue
from drawstreamd.render.hud import LABELS, format_amount
from drawstreamd.sources.base import (
    QueueSink,
    SourceState,
    below_minimum,
    report,
    state_of,
    status_line,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


def donation(
    amount: float, currency: str, *, main: float | None = None, eid: str = "1"
) -> Donation:
    return Donation(
        source="test", external_id=eid, amount=amount, currency=currency, amount_main=main
    )


# -- DRAW_MIN_AMOUNT -------------------------------------------------------------------------
def test_one_number_still_applies_to_every_currency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAW_MIN_AMOUNT", "100")
    minimums = config.load().DRAW_MIN_AMOUNT
    assert below_minimum(donation(99, "RUB"), minimums) == "below DRAW_MIN_AMOUNT (99 < 100)"
    assert below_minimum(donation(150, "RUB"), minimums) is None
    # the catch-all compares the main-currency amount, when the platform gives one
    assert below_minimum(donation(2, "USD", main=180), minimums) is None
    assert below_minimum(donation(100, "BITS"), minimums) is None


def test_per_currency_minimums_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRAW_MIN_AMOUNT", "RUB=50, usd=1,BITS=100,POINTS=0")
    minimums = config.load().DRAW_MIN_AMOUNT
    assert minimums == {"RUB": 50, "USD": 1, "BITS": 100, "POINTS": 0}
    assert below_minimum(donation(49, "RUB"), minimums) == "below DRAW_MIN_AMOUNT (49 < 50)"
    assert below_minimum(donation(50, "RUB"), minimums) is None
    # a currency's own entry is compared in that currency, not the converted amount
    assert below_minimum(donation(0.5, "USD", main=45), minimums) == (
        "below DRAW_MIN_AMOUNT (0.5 < 1)"
    )
    assert below_minimum(donation(99, "BITS"), minimums) == "below DRAW_MIN_AMOUNT (99 < 100)"
    assert below_minimum(donation(1, "POINTS"), minimums) is None
    assert below_minimum(donation(0.01, "EUR"), minimums) is None  # not named, no catch-all
    audio = Donation(source="t", external_id="a", message_type=MessageType.AUDIO, amount=500)
    assert below_minimum(audio, minimums) == "audio donation: nothing to draw"


def test_per_currency_minimums_as_a_toml_table(clean_env: Path) -> None:
    toml = clean_env / "config.toml"
    toml.write_text("[DRAW_MIN_AMOUNT]\nRUB = 50\nUSD = 1.5\ndefault = 3\n", encoding="utf-8")
    minimums = config.load(toml).DRAW_MIN_AMOUNT
    assert minimums == {"RUB": 50, "USD": 1.5, "*": 3}
    assert below_minimum(donation(2, "EUR"), minimums) == "below DRAW_MIN_AMOUNT (2 < 3)"
    assert config.effective(config.load(toml))["DRAW_MIN_AMOUNT"] == "3,RUB=50,USD=1.5"
    toml.write_text("DRAW_MIN_AMOUNT = 25\n", encoding="utf-8")
    assert config.load(toml).DRAW_MIN_AMOUNT == {"*": 25}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("RUB=lots", "RUB: 'lots' is not a number"),
        ("RUB=-5", "RUB: '-5' must be a number ≥ 0"),
        ("R=5", "'R' is not a currency code"),
        ("RUB=5,rub=6", "RUB is given twice"),
        ("nan", "must be a number ≥ 0"),
    ],
)
def test_a_bad_minimum_is_one_clear_line(clean_env: Path, value: str, words: str) -> None:
    proc = subprocess.run(
        [drawstreamd_bin(), "check-config"],
        env=process_env(clean_env, DRAW_MIN_AMOUNT=value),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("drawstreamd: config: DRAW_MIN_AMOUNT:")
    assert words in lines[0]
    assert "RUB=50,USD=1,BITS=100,POINTS=0" in lines[0]  # says what a good value looks like


# -- what the audience sees ------------------------------------------------------------------
def test_each_source_has_its_own_amount_label() -> None:
    en, ru = LABELS["en"], LABELS["ru"]
    assert format_amount(150, "RUB", en) == "150 RUB"
    assert format_amount(4.5, "USD", en) == "4.5 USD"
    assert format_amount(10, "EUR", ru) == "10 EUR"
    assert format_amount(500, "BITS", en) == "500 bits"
    assert format_amount(1, "BITS", en) == "1 bit"
    assert format_amount(21, "BITS", en) == "21 bits"
    assert [format_amount(n, "BITS", ru) for n in (1, 3, 11, 21, 500)] == [
        "1 бит",
        "3 бита",
        "11 битов",
        "21 бит",
        "500 битов",
    ]
    assert format_amount(500, "POINTS", en) == "channel points"
    assert format_amount(500, "POINTS", ru) == "баллы канала"
    assert format_amount(1500, "BITS") == "1 500 bits"


# -- status lines ----------------------------------------------------------------------------
def test_status_lines_per_state() -> None:
    assert status_line("twitch", SourceState.CONNECTED, "as cool_user") == (
        "Twitch connected (as cool_user)"
    )
    assert status_line("donationalerts", SourceState.RETRYING) == (
        "Donation Alerts disconnected, retrying"
    )
    assert (
        status_line("donatepay", SourceState.OFF, "no DP_API_KEY")
        == "DonatePay off (no DP_API_KEY)"
    )
    assert status_line("streamelements", SourceState.SIGNED_OUT) == (
        "StreamElements signed out, needs a new sign-in"
    )
    # events from before states existed still read right
    assert state_of("source_connected", {}) is SourceState.CONNECTED
    assert state_of("source_disconnected", {"reason": "closed"}) is SourceState.RETRYING


# -- outcomes --------------------------------------------------------------------------------
@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[QueueSink]:
    journal = Journal.open(tmp_path / "journal.sqlite3")
    events = EventBus()
    try:
        yield QueueSink(DrawQueue(journal, events), journal, events)
    finally:
        journal.close()


async def test_outcomes_follow_the_journal(sink: QueueSink) -> None:
    with trio.fail_after(10):
        async with sink.decisions() as feed:
            assert await sink.submit(donation(5, "POINTS", eid="r1"))
            assert not await sink.submit(donation(5, "POINTS", eid="r1"))
            assert await sink.submit(donation(5, "POINTS", eid="r2"), skip_reason="below minimum")
            assert await sink.submit(donation(5, "POINTS", eid="r3"))
            assert await sink.outcome("test", "r1") is None  # waiting
            assert await sink.outcome("test", "nope") is None
            # the skip at submit is a decision at once
            assert await feed.next() == {("test", "r2")}
            refused = await sink.outcome("test", "r2")
            assert refused is not None
            assert (refused.drawn, refused.reason) == (False, "below minimum")
            item = await sink.queue.next()
            await sink.journal.set_status(item.id, Status.SHOWN)
            sink.events.emit("finished", item.id)
            assert await feed.next() == {("test", "r1")}
            drawn = await sink.outcome("test", "r1")
            assert drawn is not None
            assert drawn.drawn
            await sink.queue.clear()
            assert await feed.next() is None  # a clear names no items: look at all again
            cleared = await sink.outcome("test", "r3")
            assert cleared is not None
            assert (cleared.drawn, cleared.reason) == (False, "cleared by operator")
            await sink.submit(donation(5, "POINTS", eid="r4"))
            refused = await sink.queue.next()
            await sink.journal.set_status(refused.id, Status.PLANNING, rule="sexual:genitals")
            await sink.journal.set_status(refused.id, Status.SHOWN)
            sink.events.emit("finished", refused.id)
            assert await feed.next() == {("test", "r4")}
            card = await sink.outcome("test", "r4")
            assert card is not None
            assert not card.drawn  # the gatekeeper's card stood in for it: not drawn


async def test_reported_state_reaches_the_event_bus(sink: QueueSink) -> None:
    async with sink.events.subscribe() as sub:
        report(sink, "twitch", SourceState.CONNECTED, "as cool_user")
        report(sink, "twitch", SourceState.RETRYING, "keepalive lost")
        first, second = sub.drain()
    assert (first.kind, first.data) == (
        "source_connected",
        {"source": "twitch", "state": "connected", "reason": "as cool_user"},
    )
    assert second.kind == "source_disconnected"
    assert state_of(second.kind, second.data) is SourceState.RETRYING
