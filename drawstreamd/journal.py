"""The journal: every donation, durably, in SQLite (WAL) at ``<state-dir>/journal.sqlite3``.

A donation is written and committed before anyone is told it is queued. Writes that arrive
together are committed together (group commit), so a burst costs one fsync per batch, not
one per donation. All SQLite calls run in a worker thread, one at a time, off the Trio loop.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import trio

from drawstreamd.model import (
    UNFINISHED,
    Approval,
    Assessment,
    Check,
    Donation,
    QueueItem,
    Status,
    Verdict,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

T = TypeVar("T")

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS donations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source        TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    donation      BLOB NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT,
    rule          TEXT,
    queued_at     REAL NOT NULL,
    updated_at    REAL NOT NULL,
    plan          BLOB,
    verdict       TEXT NOT NULL DEFAULT 'allowed',
    name_rule     TEXT,
    "check"       TEXT NOT NULL DEFAULT 'off',
    approval      TEXT,
    interruptions INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, external_id)
);
CREATE INDEX IF NOT EXISTS donations_status ON donations (status);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bans (
    donor  TEXT PRIMARY KEY,
    shown  TEXT NOT NULL,
    reason TEXT,
    at     REAL NOT NULL
);
"""

_MIGRATE_1_TO_2 = (
    "ALTER TABLE donations ADD COLUMN verdict TEXT NOT NULL DEFAULT 'allowed'",
    "ALTER TABLE donations ADD COLUMN name_rule TEXT",
    "ALTER TABLE donations ADD COLUMN \"check\" TEXT NOT NULL DEFAULT 'off'",
    "ALTER TABLE donations ADD COLUMN approval TEXT",
    "ALTER TABLE donations ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0",
    # v1 stored the rule of a refused message; it was refused then
    "UPDATE donations SET verdict = 'refused' WHERE rule IS NOT NULL",
)

_encode = msgspec.json.Encoder().encode
_decode_donation = msgspec.json.Decoder(Donation).decode


class JournalError(Exception):
    """The journal cannot be used; the message is one line meant for the operator."""


class JournalWriteError(JournalError):
    """A write failed (disk full, read-only file…) and nothing of it was kept."""


PLAIN = Assessment()


class _Pending:
    __slots__ = ("assessment", "donation", "done", "error", "result", "skip_reason")

    def __init__(self, donation: Donation, skip_reason: str | None, assessment: Assessment) -> None:
        self.donation = donation
        self.skip_reason = skip_reason
        self.assessment = assessment
        self.result: QueueItem | None = None
        self.error: JournalWriteError | None = None
        self.done = False


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=2.0, isolation_level=None, check_same_thread=False)


def _read_only(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).replace("-", "")


def _write_error(exc: sqlite3.Error) -> JournalWriteError:
    text = "the journal is read-only" if _read_only(exc) else str(exc)
    return JournalWriteError(f"journal write failed: {text}")


class Journal:
    """Open with :meth:`open` (blocking; call it from a thread or before Trio starts).

    A write that fails (disk full, a read-only file) raises :class:`JournalWriteError` and
    leaves nothing behind; ``failing`` then holds the reason until a write succeeds again, and
    ``on_health`` callbacks hear of both changes (the daemon logs, emits and updates STATUS).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)
        self._pending: list[_Pending] = []
        self._flushing = False
        self._flushed = trio.Event()
        self.failing: str | None = None
        self.on_health: list[Callable[[str | None], None]] = []
        self._reconnect = False
        """A write found the file read-only. SQLite keeps a file it opened read-only so for
        the life of the connection, so the next write opens a new one: once the file can be
        written again (remounted, its mode fixed), the journal carries on by itself."""

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path) -> Journal:
        try:
            conn = _connect(path)
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
            if version == 1:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _MIGRATE_1_TO_2:
                    conn.execute(statement)
                conn.execute("COMMIT")
            if version < SCHEMA_VERSION:
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

    async def _write(self, fn: Callable[..., T], *args: object) -> T:
        """Run a writing ``fn``; its failure is one :class:`JournalWriteError`, rolled back."""

        def guarded() -> T:
            if self._reconnect:
                self._connect_again()
            try:
                result = fn(*args)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._reconnect = _read_only(exc)
                raise
            self._reconnect = False
            return result

        try:
            result = await self._run(guarded)
        except sqlite3.Error as exc:
            self._health(str(_write_error(exc)))
            raise _write_error(exc) from None
        self._health(None)
        return result

    def _connect_again(self) -> None:
        conn = _connect(self.path)
        try:
            conn.execute("PRAGMA synchronous=FULL")  # per connection; WAL is kept by the file
        except sqlite3.Error:
            conn.close()
            raise
        self._conn.close()
        self._conn = conn

    def _execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """One statement on the connection of the moment (it may be opened again)."""
        return self._conn.execute(sql, params)

    def _health(self, failing: str | None) -> None:
        if failing == self.failing:
            return
        self.failing = failing
        for hook in list(self.on_health):
            hook(failing)

    # -- recording (group commit) ----------------------------------------------------------
    async def record(
        self,
        donation: Donation,
        skip_reason: str | None = None,
        assessment: Assessment = PLAIN,
    ) -> QueueItem | None:
        """Durably record one donation; None when (source, external_id) was already known.

        Raises :class:`JournalWriteError` when its batch could not be committed; then nothing
        of that batch was written, and none of it is tried again unless its owner asks.
        """
        pending = _Pending(donation, skip_reason, assessment)
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
                        await self._write(self._insert_batch, batch)
                    except JournalWriteError as exc:
                        for p in batch:
                            p.error, p.done = exc, True
                    except BaseException:
                        # cancelled mid-flush: the batch's owners find out themselves
                        self._pending[:0] = [p for p in batch if not p.done]
                        raise
            finally:
                self._flushing = False
                self._flushed.set()
                self._flushed = trio.Event()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _insert_batch(self, batch: list[_Pending]) -> None:
        now = time.time()
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        results: list[QueueItem | None] = []
        for p in batch:
            d, a = p.donation, p.assessment
            status = Status.SKIPPED if p.skip_reason else Status.QUEUED
            cur.execute(
                "INSERT OR IGNORE INTO donations (source, external_id, donation, status,"
                ' reason, rule, verdict, name_rule, "check", approval, queued_at, updated_at)'
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    d.source, d.external_id, _encode(d), status, p.skip_reason, a.rule,
                    a.verdict, a.name_rule, a.check, a.approval, now, now,
                ),
            )  # fmt: skip
            if cur.rowcount != 1:
                results.append(None)
                continue
            assert cur.lastrowid is not None
            results.append(
                QueueItem(
                    id=cur.lastrowid,
                    donation=d,
                    status=status,
                    reason=p.skip_reason,
                    rule=a.rule,
                    verdict=a.verdict,
                    name_rule=a.name_rule,
                    check=a.check,
                    approval=a.approval,
                    queued_at=now,
                    updated_at=now,
                )
            )
        cur.execute("COMMIT")
        for p, result in zip(batch, results, strict=True):
            p.result, p.done = result, True

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
        await self._write(self._set_status, item_id, status, reason, rule, plan)

    def _set_status(
        self, item_id: int, status: Status, reason: str | None, rule: str | None, plan: bytes | None
    ) -> None:
        self._conn.execute(
            "UPDATE donations SET status = ?, reason = COALESCE(?, reason),"
            " rule = COALESCE(?, rule), plan = COALESCE(?, plan), updated_at = ? WHERE id = ?",
            (status, reason, rule, plan, time.time(), item_id),
        )

    async def set_plan(self, item_id: int, plan: bytes) -> None:
        """Keep the finished plan of an item (before it is shown: a restart redraws it)."""
        await self._write(
            self._execute,
            "UPDATE donations SET plan = ?, updated_at = ? WHERE id = ?",
            (plan, time.time(), item_id),
        )

    async def save_judgement(self, item: QueueItem) -> None:
        """Keep the item's verdict, rules, model check and approval as they are now."""
        await self._write(
            self._execute,
            'UPDATE donations SET verdict = ?, rule = ?, name_rule = ?, "check" = ?,'
            " approval = ?, updated_at = ? WHERE id = ?",
            (
                item.verdict, item.rule, item.name_rule, item.check, item.approval, time.time(),
                item.id,
            ),
        )  # fmt: skip

    async def set_many(self, item_ids: Sequence[int], status: Status, reason: str) -> None:
        await self._write(self._set_many, list(item_ids), status, reason)

    def _set_many(self, item_ids: list[int], status: Status, reason: str) -> None:
        now = time.time()
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.executemany(
            "UPDATE donations SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
            [(status, reason, now, i) for i in item_ids],
        )
        cur.execute("COMMIT")

    async def recover(self, limit: int) -> list[QueueItem]:
        """Count the drawings an unclean stop cut (still planning or drawing in the journal).

        Each is now interrupted, one time more; one cut ``limit`` times is failed instead, and
        returned, so that a donation whose drawing kills the process cannot come first on every
        start forever. A graceful stop leaves ``interrupted`` behind, which does not count.
        """
        return await self._write(self._recover, limit)

    def _recover(self, limit: int) -> list[QueueItem]:
        now = time.time()
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            "UPDATE donations SET interruptions = interruptions + 1, status = ?, updated_at = ?"
            " WHERE status IN (?, ?)",
            (Status.INTERRUPTED, now, Status.PLANNING, Status.DRAWING),
        )
        rows = cur.execute(
            f"SELECT {self._COLUMNS} FROM donations WHERE status = ? AND interruptions >= ?",
            (Status.INTERRUPTED, limit),
        ).fetchall()
        failed = [self._item(r) for r in rows]
        for item in failed:
            item.status = Status.FAILED
            item.reason = f"interrupted {item.interruptions} times"
            cur.execute(
                "UPDATE donations SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
                (item.status, item.reason, now, item.id),
            )
        cur.execute("COMMIT")
        return failed

    # -- retention -------------------------------------------------------------------------
    async def prune(self, older_than: float, batch: int = 500) -> int:
        """Forget finished donations (and their plans) last changed before ``older_than``."""
        total = 0
        while True:
            n = await self._write(self._prune, older_than, batch)
            total += n
            if n < batch:
                return total
            await trio.lowlevel.checkpoint()  # let others at the journal between batches

    def _prune(self, older_than: float, batch: int) -> int:
        cur = self._conn.execute(
            "DELETE FROM donations WHERE id IN (SELECT id FROM donations"
            " WHERE status IN (?, ?, ?) AND updated_at < ? LIMIT ?)",
            (Status.SHOWN, Status.SKIPPED, Status.FAILED, older_than, batch),
        )
        return cur.rowcount

    # -- reading ---------------------------------------------------------------------------
    _COLUMNS = (
        'id, donation, status, reason, rule, queued_at, updated_at, verdict, name_rule, "check",'
        " approval, interruptions"
    )

    @staticmethod
    def _item(row: tuple[Any, ...]) -> QueueItem:
        return QueueItem(
            id=row[0],
            donation=_decode_donation(row[1]),
            status=Status(row[2]),
            reason=row[3],
            rule=row[4],
            queued_at=row[5],
            updated_at=row[6],
            verdict=Verdict(row[7]),
            name_rule=row[8],
            check=Check(row[9]),
            approval=Approval(row[10]) if row[10] else None,
            interruptions=row[11],
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

    async def history(
        self, limit: int = 20, offset: int = 0, statuses: Sequence[Status] = ()
    ) -> list[QueueItem]:
        """Newest first; only items in ``statuses`` when given."""
        return await self._run(self._history, limit, offset, tuple(statuses))

    def _history(self, limit: int, offset: int, statuses: tuple[Status, ...]) -> list[QueueItem]:
        where = ""
        if statuses:
            where = f"WHERE status IN ({','.join('?' for _ in statuses)})"
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM donations {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            (*statuses, limit, offset),
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

    # -- bans ------------------------------------------------------------------------------
    async def ban(self, key: str, shown: str, reason: str | None) -> bool:
        """Ban a donor (``key`` is the folded name); False when already banned."""
        cur = await self._write(
            self._execute,
            "INSERT OR IGNORE INTO bans (donor, shown, reason, at) VALUES (?, ?, ?, ?)",
            (key, shown, reason, time.time()),
        )
        return bool(cur.rowcount)

    async def unban(self, key: str) -> bool:
        cur = await self._write(self._execute, "DELETE FROM bans WHERE donor = ?", (key,))
        return bool(cur.rowcount)

    async def bans(self) -> list[tuple[str, str, str | None, float]]:
        """(key, name as given, reason, when) for every ban, oldest first."""
        return await self._run(
            lambda: self._conn.execute(
                "SELECT donor, shown, reason, at FROM bans ORDER BY at, donor"
            ).fetchall()
        )

    # -- meta ------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        return await self._run(self._get_meta, key)

    def _get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(
            self._execute,
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
