"""The journal: every donation, durably, in SQLite (WAL) at ``<state-dir>/journal.sqlite3``.

A donation is written and committed before anyone is told it is queued. Writes that arrive
together are committed together (group commit), so a burst costs one fsync per batch, not
one per donation. All SQLite calls run in a worker thread, one at a time, off the Trio loop.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, TypeVar

import msgspec
import trio

from drawstreamd.model import UNFINISHED, Donation, QueueItem, Status

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

T = TypeVar("T")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS donations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    donation    BLOB NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    rule        TEXT,
    queued_at   REAL NOT NULL,
    updated_at  REAL NOT NULL,
    plan        BLOB,
    UNIQUE (source, external_id)
);
CREATE INDEX IF NOT EXISTS donations_status ON donations (status);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

_encode = msgspec.json.Encoder().encode
_decode_donation = msgspec.json.Decoder(Donation).decode


class JournalError(Exception):
    """The journal cannot be used; the message is one line meant for the operator."""


class _Pending:
    __slots__ = ("donation", "done", "result", "skip_reason")

    def __init__(self, donation: Donation, skip_reason: str | None) -> None:
        self.donation = donation
        self.skip_reason = skip_reason
        self.result: QueueItem | None = None
        self.done = False


class Journal:
    """Open with :meth:`open` (blocking; call it from a thread or before Trio starts)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)
        self._pending: list[_Pending] = []
        self._flushing = False
        self._flushed = trio.Event()

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> Journal:
        try:
            conn = sqlite3.connect(path, timeout=2.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {path}: cannot open: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise JournalError(
                    f"journal {path}: damaged ({check[0] if check else 'no answer'}); "
                    "move it aside to start a fresh journal"
                )
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {path}: written by a newer drawstreamd (schema {version})"
                )
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise JournalError(f"journal {path}: locked by another process") from None
            raise JournalError(
                f"journal {path}: not a usable SQLite database ({text}); "
                "move it aside to start a fresh journal"
            ) from None
        except JournalError:
            conn.close()
            raise
        return cls(path, conn)

    def close(self) -> None:
        self._conn.close()

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # -- recording (group commit) ----------------------------------------------------------
    async def record(self, donation: Donation, skip_reason: str | None = None) -> QueueItem | None:
        """Durably record one donation; None when (source, external_id) was already known."""
        pending = _Pending(donation, skip_reason)
        self._pending.append(pending)
        while not pending.done:
            if self._flushing:
                await self._flushed.wait()
                continue
            self._flushing = True
            try:
                while self._pending:
                    batch, self._pending = self._pending, []
                    try:
                        await self._run(self._insert_batch, batch)
                    except BaseException:
                        # put the unwritten ones back so their owners see the failure
                        for p in batch:
                            if not p.done:
                                self._pending.insert(0, p)
                        raise
            finally:
                self._flushing = False
                self._flushed.set()
                self._flushed = trio.Event()
        return pending.result

    def _insert_batch(self, batch: list[_Pending]) -> None:
        now = time.time()
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for p in batch:
                d = p.donation
                status = Status.SKIPPED if p.skip_reason else Status.QUEUED
                cur.execute(
                    "INSERT OR IGNORE INTO donations (source, external_id, donation, status,"
                    " reason, queued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (d.source, d.external_id, _encode(d), status, p.skip_reason, now, now),
                )
                if cur.rowcount == 1:
                    assert cur.lastrowid is not None
                    p.result = QueueItem(
                        id=cur.lastrowid,
                        donation=d,
                        status=status,
                        reason=p.skip_reason,
                        queued_at=now,
                        updated_at=now,
                    )
            cur.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        for p in batch:
            p.done = True

    # -- status ----------------------------------------------------------------------------
    async def set_status(
        self,
        item_id: int,
        status: Status,
        *,
        reason: str | None = None,
        rule: str | None = None,
        plan: bytes | None = None,
    ) -> None:
        await self._run(self._set_status, item_id, status, reason, rule, plan)

    def _set_status(
        self, item_id: int, status: Status, reason: str | None, rule: str | None, plan: bytes | None
    ) -> None:
        self._conn.execute(
            "UPDATE donations SET status = ?, reason = COALESCE(?, reason),"
            " rule = COALESCE(?, rule), plan = COALESCE(?, plan), updated_at = ? WHERE id = ?",
            (status, reason, rule, plan, time.time(), item_id),
        )

    async def set_many(self, item_ids: Sequence[int], status: Status, reason: str) -> None:
        await self._run(self._set_many, list(item_ids), status, reason)

    def _set_many(self, item_ids: list[int], status: Status, reason: str) -> None:
        now = time.time()
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "UPDATE donations SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
            [(status, reason, now, i) for i in item_ids],
        )
        cur.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------
    _COLUMNS = "id, donation, status, reason, rule, queued_at, updated_at"

    @staticmethod
    def _item(row: tuple[int, bytes, str, str | None, str | None, float, float]) -> QueueItem:
        return QueueItem(
            id=row[0],
            donation=_decode_donation(row[1]),
            status=Status(row[2]),
            reason=row[3],
            rule=row[4],
            queued_at=row[5],
            updated_at=row[6],
        )

    async def unfinished(self) -> list[QueueItem]:
        """Work to resume: the interrupted drawing(s) first, then the queue in its order."""
        return await self._run(self._unfinished)

    def _unfinished(self) -> list[QueueItem]:
        marks = ",".join("?" for _ in UNFINISHED)
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM donations WHERE status IN ({marks})"
            " ORDER BY CASE status WHEN 'queued' THEN 1 ELSE 0 END, id",
            tuple(UNFINISHED),
        ).fetchall()
        return [self._item(r) for r in rows]

    async def history(self, limit: int = 20, offset: int = 0) -> list[QueueItem]:
        """Newest first."""
        return await self._run(self._history, limit, offset)

    def _history(self, limit: int, offset: int) -> list[QueueItem]:
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM donations ORDER BY id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [self._item(r) for r in rows]

    async def get(self, item_id: int) -> QueueItem | None:
        return await self._run(self._get, item_id)

    def _get(self, item_id: int) -> QueueItem | None:
        row = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM donations WHERE id = ?", (item_id,)
        ).fetchone()
        return self._item(row) if row else None

    async def find(self, source: str, external_id: str) -> QueueItem | None:
        """The item a source knows as ``external_id`` (its unique key), if journaled."""
        return await self._run(self._find, source, external_id)

    def _find(self, source: str, external_id: str) -> QueueItem | None:
        row = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM donations WHERE source = ? AND external_id = ?",
            (source, external_id),
        ).fetchone()
        return self._item(row) if row else None

    async def get_plan(self, item_id: int) -> bytes | None:
        return await self._run(self._get_plan, item_id)

    def _get_plan(self, item_id: int) -> bytes | None:
        row = self._conn.execute("SELECT plan FROM donations WHERE id = ?", (item_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    async def count(self) -> int:
        return await self._run(
            lambda: self._conn.execute("SELECT COUNT(*) FROM donations").fetchone()[0]
        )

    # -- meta ------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        return await self._run(self._get_meta, key)

    def _get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._run(
            self._conn.execute,
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
