"""The journal: durable, deduplicated, restorable in order; damage is reported, never hidden."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest
import trio

from drawstreamd.journal import Journal, JournalError
from drawstreamd.model import Donation, Status

if TYPE_CHECKING:
    from pathlib import Path


def donation(n: int, source: str = "test") -> Donation:
    return Donation(
        source=source, external_id=str(n), donor=f"donor{n}", message=f"draw {n}", amount=n
    )


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal.open(tmp_path / "journal.sqlite3")
    yield j
    j.close()


async def test_record_is_durable_and_deduplicated(journal: Journal, tmp_path: Path) -> None:
    first = await journal.record(donation(1))
    assert first is not None
    assert first.status is Status.QUEUED
    assert await journal.record(donation(1)) is None  # same (source, id): dropped
    assert await journal.record(donation(1, source="other")) is not None  # other source: new
    # durable: a second connection (another process) sees it without any close/flush
    rows = (
        sqlite3.connect(tmp_path / "journal.sqlite3")
        .execute("SELECT COUNT(*) FROM donations")
        .fetchone()
    )
    assert rows[0] == 2


async def test_concurrent_records_are_batched_and_each_gets_its_answer(journal: Journal) -> None:
    results: dict[int, object] = {}

    async def submit(n: int) -> None:
        results[n] = await journal.record(donation(n % 150))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for n in range(300):
                nursery.start_soon(submit, n)
    fresh = [n for n, item in results.items() if item is not None]
    assert len(fresh) == 150  # every id once, whichever task came first
    assert await journal.count() == 150


async def test_unfinished_restores_interrupted_first_then_fifo(journal: Journal) -> None:
    items = [await journal.record(donation(n)) for n in range(6)]
    ids = [i.id for i in items if i is not None]
    await journal.set_status(ids[0], Status.SHOWN)
    await journal.set_status(ids[3], Status.DRAWING)
    await journal.set_status(ids[1], Status.SKIPPED, reason="removed by operator")
    order = [item.id for item in await journal.unfinished()]
    assert order == [ids[3], ids[2], ids[4], ids[5]]


async def test_history_is_newest_first_with_reasons(journal: Journal) -> None:
    for n in range(5):
        await journal.record(donation(n))
    await journal.set_status(5, Status.SKIPPED, reason="cleared", rule="sexual:genitals")
    hist = await journal.history(3)
    assert [h.id for h in hist] == [5, 4, 3]
    assert hist[0].reason == "cleared"
    assert hist[0].rule == "sexual:genitals"


async def test_meta_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal.open(path)
    await j.set_meta("da:watermark", "12345")
    await j.set_meta("da:watermark", "12346")
    j.close()
    j = Journal.open(path)
    assert await j.get_meta("da:watermark") == "12346"
    assert await j.get_meta("missing") is None
    j.close()


def test_a_corrupt_file_is_a_clear_error_and_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    garbage = b"this is not sqlite at all\n" * 100
    path.write_bytes(garbage)
    with pytest.raises(JournalError, match="not a usable SQLite database"):
        Journal.open(path)
    assert path.read_bytes() == garbage


def test_a_damaged_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    j = Journal.open(path)
    j.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # trash the schema page
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError) as err:
        Journal.open(path)
    assert "journal.sqlite3" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_locked_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    Journal.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(JournalError, match="locked"):
            Journal.open(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
