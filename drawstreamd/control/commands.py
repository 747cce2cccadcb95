"""The one command layer: what ``drawstreamctl``, the socket and the HTTP API can ask for.

Each command is one async method returning a msgspec Struct; the same Struct becomes the
socket's ``key: value`` lines, the HTTP JSON body and the OpenAPI schema. Every refusal is a
:class:`CommandError` carrying an :class:`~drawstreamd.control.protocol.ErrorCode`. Neither
server owns queue logic: they only translate requests into these calls.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from importlib import metadata
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import msgspec
import trio

from drawstreamd.control.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError
from drawstreamd.model import Donation, QueueItem, donor_name

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from drawstreamd.config import Settings
    from drawstreamd.events import EventBus
    from drawstreamd.journal import Journal
    from drawstreamd.queue import DrawQueue

try:
    VERSION = metadata.version("drawstreamd")
except metadata.PackageNotFoundError:  # running from a source tree
    VERSION = "0+source"

MAX_MESSAGE = 500
MAX_NAME = 64
MAX_AMOUNT = 1e9
HISTORY_DEFAULT = 20
HISTORY_MAX = 500
CONCURRENT = 4


class CommandError(ProtocolError):
    """A command refused: ``code`` says why (ACK code on the socket, 4xx over HTTP)."""


class WorkerLike(Protocol):
    """What the commands need from :class:`drawstreamd.worker.Worker`."""

    @property
    def current(self) -> QueueItem | None: ...
    @property
    def phase(self) -> str: ...
    @property
    def planner_state(self) -> str: ...
    def skip(self) -> bool: ...
    def progress(self) -> float: ...
    def remaining_sec(self) -> float: ...
    async def replay(self, item_id: int) -> QueueItem | None: ...


class FrameSource(Protocol):
    """What :meth:`Commands.stats` reads from the renderer (render.window.Renderer)."""

    @property
    def intervals(self) -> Iterable[float]: ...


# -- the wire types ----------------------------------------------------------------------------
class ItemInfo(msgspec.Struct, kw_only=True):
    """One donation as operators see it."""

    id: int
    status: str
    donor: str
    message: str
    amount: float
    currency: str
    source: str
    queued_at: float
    updated_at: float
    reason: str | None = None
    rule: str | None = None


class StatusReply(msgspec.Struct, kw_only=True):
    state: str
    """idle, planning, drawing or holding (the finished picture on show)."""
    paused: bool
    queue_length: int
    current_id: int | None = None
    donor: str | None = None
    message: str | None = None
    progress: float = 0.0
    remaining_sec: float = 0.0
    planner: str = ""
    sources: dict[str, str] | None = None
    """One line per donation source that reported its state, by source name, e.g.
    ``{"twitch": "Twitch disconnected, retrying (keepalive lost)"}``."""


class CurrentReply(msgspec.Struct, kw_only=True):
    """The drawing on screen; only ``state`` when there is none."""

    state: str
    id: int | None = None
    status: str | None = None
    donor: str | None = None
    message: str | None = None
    amount: float | None = None
    currency: str | None = None
    source: str | None = None
    progress: float = 0.0
    remaining_sec: float = 0.0


class QueueReply(msgspec.Struct, kw_only=True):
    paused: bool
    length: int
    items: list[ItemInfo]


class HistoryReply(msgspec.Struct, kw_only=True):
    items: list[ItemInfo]


class SkipReply(msgspec.Struct, kw_only=True):
    skipped: bool
    """False when nothing was being drawn or shown."""
    id: int | None = None


class ClearReply(msgspec.Struct, kw_only=True):
    cleared: int


class PauseReply(msgspec.Struct, kw_only=True):
    paused: bool


class RemoveReply(msgspec.Struct, kw_only=True):
    removed: bool
    id: int


class StatsReply(msgspec.Struct, kw_only=True):
    """Frame pacing over the last ``seconds``: is the picture smooth?"""

    seconds: float
    frames: int
    fps: float
    interval_p50_ms: float
    interval_p99_ms: float
    interval_max_ms: float
    late: int
    """Frames that came more than 33 ms after the previous one (a visible stutter at 60 fps)."""
    late_percent: float


class PingReply(msgspec.Struct, kw_only=True):
    version: str
    protocol: str
    uptime_sec: float


class DonateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A test donation, like the "send a test alert" button of every alert tool."""

    message: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE, pattern=r"\S")]
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME)] | None = None
    amount: Annotated[float, msgspec.Meta(ge=0.0, le=MAX_AMOUNT)] = 0.0
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")] = "RUB"


def item_info(item: QueueItem) -> ItemInfo:
    d = item.donation
    return ItemInfo(
        id=item.id,
        status=str(item.status),
        donor=d.donor,
        message=d.message,
        amount=d.amount,
        currency=d.currency,
        source=d.source,
        queued_at=item.queued_at,
        updated_at=item.updated_at,
        reason=item.reason,
        rule=item.rule,
    )


def _int_arg(text: str, what: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise CommandError(ErrorCode.ARG, f"{what} must be a whole number, got {text!r}") from None
    if not lo <= value <= hi:
        raise CommandError(ErrorCode.ARG, f"{what} must be between {lo} and {hi}")
    return value


def _float_arg(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(ErrorCode.ARG, f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise CommandError(ErrorCode.ARG, f"{what} must be a finite number")
    return value


MAX_ID = 2**63 - 1
LATE_SEC = 0.033
STATS_MAX_SEC = 60.0


def _check_id(item_id: int) -> None:
    if not 1 <= item_id <= MAX_ID:
        raise CommandError(ErrorCode.ARG, f"id must be between 1 and {MAX_ID}")


@dataclasses.dataclass(frozen=True, slots=True)
class CommandSpec:
    min_args: int
    max_args: int
    usage: str
    run: Callable[[list[str]], Awaitable[msgspec.Struct]]


class Commands:
    def __init__(
        self,
        settings: Settings,
        queue: DrawQueue,
        journal: Journal,
        worker: WorkerLike,
        events: EventBus,
        *,
        frames: FrameSource | None = None,
        sources: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.settings = settings
        self.frames = frames
        self.sources = sources
        self.queue = queue
        self.journal = journal
        self.worker = worker
        self.events = events
        self.started_at = time.monotonic()
        self.gate = trio.CapacityLimiter(CONCURRENT)
        """Both servers run at most CONCURRENT requests at once: Trio runs every ready task
        before it looks at the clock again, so 200 requests that arrive together would
        otherwise delay the renderer's next frame by all of their work at once."""

    # -- reading ---------------------------------------------------------------------------
    async def ping(self) -> PingReply:
        return PingReply(
            version=VERSION,
            protocol=PROTOCOL_VERSION,
            uptime_sec=time.monotonic() - self.started_at,
        )

    async def stats(self, seconds: float = 10.0) -> StatsReply:
        if not 0 < seconds <= STATS_MAX_SEC:
            raise CommandError(
                ErrorCode.ARG, f"seconds must be above 0 and at most {STATS_MAX_SEC:g}"
            )
        if self.frames is None:
            raise CommandError(ErrorCode.STATE, "no frame statistics: this daemon has no renderer")
        window: list[float] = []
        total = 0.0
        for interval in reversed(list(self.frames.intervals)):
            if total + interval > seconds and window:
                break
            window.append(interval)
            total += interval
        if not window:
            return StatsReply(
                seconds=0.0, frames=0, fps=0.0, interval_p50_ms=0.0, interval_p99_ms=0.0,
                interval_max_ms=0.0, late=0, late_percent=0.0,
            )  # fmt: skip
        ordered = sorted(window)
        late = sum(1 for i in window if i > LATE_SEC)
        return StatsReply(
            seconds=total,
            frames=len(window),
            fps=len(window) / total if total > 0 else 0.0,
            interval_p50_ms=ordered[len(ordered) // 2] * 1000,
            interval_p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            interval_max_ms=ordered[-1] * 1000,
            late=late,
            late_percent=100.0 * late / len(window),
        )

    async def status(self) -> StatusReply:
        item = self.worker.current
        return StatusReply(
            state=self.worker.phase,
            paused=self.queue.paused,
            queue_length=len(self.queue),
            current_id=item.id if item else None,
            donor=item.donation.donor if item else None,
            message=item.donation.message if item else None,
            progress=self.worker.progress() if item else 0.0,
            remaining_sec=self.worker.remaining_sec() if item else 0.0,
            planner=self.worker.planner_state,
            sources=(self.sources() or None) if self.sources else None,
        )

    async def current(self) -> CurrentReply:
        item = self.worker.current
        if item is None:
            return CurrentReply(state=self.worker.phase)
        d = item.donation
        return CurrentReply(
            state=self.worker.phase,
            id=item.id,
            status=str(item.status),
            donor=d.donor,
            message=d.message,
            amount=d.amount,
            currency=d.currency,
            source=d.source,
            progress=self.worker.progress(),
            remaining_sec=self.worker.remaining_sec(),
        )

    async def queue_list(self) -> QueueReply:
        items = [item_info(i) for i in self.queue.pending.values()]
        return QueueReply(paused=self.queue.paused, length=len(items), items=items)

    async def history(self, limit: int = HISTORY_DEFAULT, offset: int = 0) -> HistoryReply:
        if not 1 <= limit <= HISTORY_MAX:
            raise CommandError(ErrorCode.ARG, f"limit must be between 1 and {HISTORY_MAX}")
        if not 0 <= offset <= MAX_ID:
            raise CommandError(ErrorCode.ARG, "offset must be 0 or more")
        items = await self.journal.history(limit, offset)
        return HistoryReply(items=[item_info(i) for i in items])

    # -- acting ----------------------------------------------------------------------------
    async def skip(self) -> SkipReply:
        item = self.worker.current
        skipped = self.worker.skip()
        return SkipReply(skipped=skipped, id=item.id if item and skipped else None)

    async def clear(self) -> ClearReply:
        return ClearReply(cleared=await self.queue.clear("cleared by operator"))

    async def pause(self) -> PauseReply:
        self.queue.pause()
        return PauseReply(paused=self.queue.paused)

    async def resume(self) -> PauseReply:
        self.queue.resume()
        return PauseReply(paused=self.queue.paused)

    async def remove(self, item_id: int) -> RemoveReply:
        _check_id(item_id)
        if not await self.queue.remove(item_id, "removed by operator"):
            raise CommandError(ErrorCode.NO_EXIST, f"no queued item {item_id}")
        return RemoveReply(removed=True, id=item_id)

    async def replay(self, item_id: int) -> ItemInfo:
        _check_id(item_id)
        if await self.journal.get(item_id) is None:
            raise CommandError(ErrorCode.NO_EXIST, f"no item {item_id}")
        item = await self.worker.replay(item_id)
        if item is None:
            raise CommandError(ErrorCode.NO_EXIST, f"item {item_id} has no finished drawing")
        return item_info(item)

    async def donate(
        self,
        message: str,
        name: str | None = None,
        amount: float = 0.0,
        currency: str = "RUB",
    ) -> ItemInfo:
        """Queue a test donation (source ``test``) exactly as a real one would be."""
        try:
            req = msgspec.convert(
                {"message": message, "name": name, "amount": amount, "currency": currency},
                DonateRequest,
            )
        except msgspec.ValidationError as exc:
            raise CommandError(ErrorCode.ARG, f"donate: {exc}") from None
        return await self.donate_request(req)

    async def donate_request(self, req: DonateRequest) -> ItemInfo:
        external_id = uuid.uuid4().hex
        donation = Donation(
            source="test",
            external_id=external_id,
            donor=donor_name(req.name),
            message=req.message.strip(),
            amount=req.amount,
            currency=req.currency.upper(),
        )
        if not await self.queue.submit(donation):
            raise CommandError(ErrorCode.EXIST, "this donation is already in the journal")
        # submit() appends to the queue after its last await, so the item is still there
        for item in reversed(self.queue.pending.values()):
            if item.donation is donation:
                return item_info(item)
        raise CommandError(ErrorCode.SYSTEM, "the donation was recorded but is not queued")

    # -- the socket's command table --------------------------------------------------------
    def table(self) -> dict[str, CommandSpec]:
        """``{name: spec}`` for the line protocol; arguments arrive as text."""

        async def history(args: list[str]) -> HistoryReply:
            limit = _int_arg(args[0], "count", 1, HISTORY_MAX) if args else HISTORY_DEFAULT
            offset = _int_arg(args[1], "offset", 0, MAX_ID) if len(args) > 1 else 0
            return await self.history(limit, offset)

        async def stats(args: list[str]) -> StatsReply:
            return await self.stats(_float_arg(args[0], "seconds") if args else 10.0)

        async def donate(args: list[str]) -> ItemInfo:
            amount = _float_arg(args[2], "amount") if len(args) > 2 else 0.0
            currency = args[3] if len(args) > 3 else "RUB"
            name = args[1] if len(args) > 1 and args[1] else None
            return await self.donate(args[0], name, amount, currency)

        def no_args(fn: Callable[[], Awaitable[msgspec.Struct]]) -> Any:
            async def run(args: list[str]) -> msgspec.Struct:
                return await fn()

            return run

        def by_id(fn: Callable[[int], Awaitable[msgspec.Struct]]) -> Any:
            async def run(args: list[str]) -> msgspec.Struct:
                return await fn(_int_arg(args[0], "id", 1, MAX_ID))

            return run

        return {
            "status": CommandSpec(0, 0, "status", no_args(self.status)),
            "current": CommandSpec(0, 0, "current", no_args(self.current)),
            "queue": CommandSpec(0, 0, "queue", no_args(self.queue_list)),
            "history": CommandSpec(0, 2, "history [COUNT [OFFSET]]", history),
            "skip": CommandSpec(0, 0, "skip", no_args(self.skip)),
            "clear": CommandSpec(0, 0, "clear", no_args(self.clear)),
            "pause": CommandSpec(0, 0, "pause", no_args(self.pause)),
            "resume": CommandSpec(0, 0, "resume", no_args(self.resume)),
            "remove": CommandSpec(1, 1, "remove ID", by_id(self.remove)),
            "replay": CommandSpec(1, 1, "replay ID", by_id(self.replay)),
            "donate": CommandSpec(1, 4, "donate MESSAGE [NAME [AMOUNT [CURRENCY]]]", donate),
            "ping": CommandSpec(0, 0, "ping", no_args(self.ping)),
            "stats": CommandSpec(0, 1, "stats [SECONDS]", stats),
        }
