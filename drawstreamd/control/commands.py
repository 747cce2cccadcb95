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
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import msgspec
import trio

from drawstreamd.control.access import page_base
from drawstreamd.control.auth import HttpConfigError
from drawstreamd.control.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError
from drawstreamd.journal import JournalWriteError
from drawstreamd.model import Donation, QueueItem, Verdict, donor_name
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from drawstreamd.config import Settings
    from drawstreamd.control.auth import Credentials
    from drawstreamd.events import EventBus
    from drawstreamd.journal import Journal
    from drawstreamd.plan.dsl import Plan
    from drawstreamd.queue import DrawQueue

try:
    VERSION = metadata.version("drawstreamd")
except metadata.PackageNotFoundError:  # running from a source tree
    VERSION = "0+source"

T = TypeVar("T")

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
    """The gatekeeper rule behind the verdict (``model:<category>`` for the model's)."""
    verdict: str = "allowed"
    """allowed, doubtful or refused: the gatekeeper's word on the message."""
    name_rule: str | None = None
    """The rule that refused the donor's name (viewers see "Anonymous")."""
    check: str = "off"
    """The model's second opinion: off, pending, done, or words (the model failed)."""
    approval: str | None = None
    """waiting or approved, when a moderator decides (MODERATION manual/flagged)."""
    interruptions: int = 0


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
    verdict: str | None = None
    rule: str | None = None
    journal: str = "ok"
    """ok, or why the journal cannot write (donations are refused until it can)."""
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
    verdict: str | None = None
    rule: str | None = None
    name_rule: str | None = None
    check: str | None = None


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
    """Frame pacing over the last ``seconds``: is the picture smooth?

    Frames are counted while something on screen moves (a drawing animating): a still
    screen is not redrawn and adds nothing, so the window is the last ``seconds`` of
    animation, and no frames at all before the first drawing."""

    seconds: float
    frames: int
    fps: float
    interval_p50_ms: float
    interval_p99_ms: float
    interval_max_ms: float
    late: int
    """Frames that came later than two frame periods after the previous one, and at least
    33 ms (a visible stutter: 33 ms at 60 fps, 67 ms at 30 fps)."""
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


# -- moderation --------------------------------------------------------------------------------
MAX_REASON = 200


class DenyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] | None = None
    """Why (kept in the journal and the history; never shown to viewers)."""


class DenyReply(msgspec.Struct, kw_only=True):
    denied: bool
    id: int
    reason: str


class BanRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    donor: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] | None = None


class UnbanRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    donor: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=r"\S")]


class BanReply(msgspec.Struct, kw_only=True):
    donor: str
    banned: bool
    """Whether the donor is banned now."""
    done: bool
    """False when nothing changed (already banned, or not banned)."""


class BanInfo(msgspec.Struct, kw_only=True):
    donor: str
    at: float
    reason: str | None = None


class BansReply(msgspec.Struct, kw_only=True):
    items: list[BanInfo]


class ModerationLike(Protocol):
    """What the commands need from :class:`drawstreamd.moderation.Moderation`."""

    async def approve(self, item_id: int) -> QueueItem | None: ...
    async def deny(self, item_id: int, reason: str | None) -> bool: ...
    async def ban(self, donor: str, reason: str | None) -> bool: ...
    async def unban(self, donor: str) -> bool: ...
    async def bans(self) -> list[tuple[str, str | None, float]]: ...
    async def planned(self, item_id: int) -> Plan | None: ...


# -- credentials: the API token and moderator sign-in codes -----------------------------------
class TokenReply(msgspec.Struct, kw_only=True):
    """``token rotate``: the new token (the socket is owner-only)."""

    rotated: bool
    token: str


class ModUrlReply(msgspec.Struct, kw_only=True):
    url: str
    """The moderator page with a one-time sign-in code in its fragment (``#code=…``)."""
    expires_in_sec: float


class SigninRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class SigninReply(msgspec.Struct, kw_only=True):
    token: str
    """The API token, for ``Authorization: Bearer``."""


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
        verdict=str(item.verdict),
        name_rule=item.name_rule,
        check=str(item.check),
        approval=str(item.approval) if item.approval else None,
        interruptions=item.interruptions,
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


def _unwritable(what: str, exc: JournalWriteError) -> CommandError:
    return CommandError(ErrorCode.SYSTEM, f"{what}: {exc}")


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
        credentials: Credentials | None = None,
        moderation: ModerationLike | None = None,
        sources: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.credentials = credentials
        self.moderation = moderation
        """The API token and sign-in codes; the HTTP server fills it in when it is None."""
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
        late_after = max(LATE_SEC, 2.0 / self.settings.FRAME_RATE)
        late = sum(1 for i in window if i > late_after)
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
            verdict=str(item.verdict) if item else None,
            rule=item.rule if item else None,
            journal=self.journal.failing or "ok",
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
            verdict=str(item.verdict),
            rule=item.rule,
            name_rule=item.name_rule,
            check=str(item.check),
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
        try:
            return ClearReply(cleared=await self.queue.clear("cleared by operator"))
        except JournalWriteError as exc:
            raise _unwritable("nothing cleared", exc) from None

    async def pause(self) -> PauseReply:
        self.queue.pause()
        return PauseReply(paused=self.queue.paused)

    async def resume(self) -> PauseReply:
        self.queue.resume()
        return PauseReply(paused=self.queue.paused)

    async def remove(self, item_id: int) -> RemoveReply:
        _check_id(item_id)
        try:
            removed = await self.queue.remove(item_id, "removed by operator")
        except JournalWriteError as exc:
            raise _unwritable(f"item {item_id} not removed", exc) from None
        if not removed:
            raise CommandError(ErrorCode.NO_EXIST, f"no queued item {item_id}")
        return RemoveReply(removed=True, id=item_id)

    async def replay(self, item_id: int) -> ItemInfo:
        _check_id(item_id)
        original = await self.journal.get(item_id)
        if original is None:
            raise CommandError(ErrorCode.NO_EXIST, f"no item {item_id}")
        if original.verdict is Verdict.REFUSED:
            raise CommandError(
                ErrorCode.STATE,
                f"item {item_id} was refused by the gatekeeper ({original.rule}); "
                "it cannot be replayed",
            )
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
        try:
            item = await self.queue.record(donation)
        except JournalWriteError as exc:
            raise _unwritable("donation not queued, nothing was recorded", exc) from None
        if item is None:
            raise CommandError(ErrorCode.EXIST, "this donation is already in the journal")
        return item_info(item)

    # -- moderation ------------------------------------------------------------------------
    def _moderation(self) -> ModerationLike:
        if self.moderation is None:
            raise CommandError(ErrorCode.STATE, "moderation is not available in this daemon")
        return self.moderation

    async def approve(self, item_id: int) -> ItemInfo:
        """Let a waiting donation be drawn (before everything that arrived after it)."""
        _check_id(item_id)
        try:
            item = await self._moderation().approve(item_id)
        except JournalWriteError as exc:
            raise _unwritable(f"item {item_id} not approved", exc) from None
        if item is None:
            raise CommandError(ErrorCode.NO_EXIST, f"no queued item {item_id}")
        return item_info(item)

    async def deny(self, item_id: int, req: DenyRequest | None = None) -> DenyReply:
        """Skip a waiting donation with a reason; it is never shown."""
        _check_id(item_id)
        reason = (req.reason or "").strip() or None if req is not None else None
        try:
            denied = await self._moderation().deny(item_id, reason)
        except JournalWriteError as exc:
            raise _unwritable(f"item {item_id} not denied", exc) from None
        if not denied:
            raise CommandError(ErrorCode.NO_EXIST, f"no queued item {item_id}")
        item = await self.journal.get(item_id)
        return DenyReply(denied=True, id=item_id, reason=item.reason or "" if item else "")

    async def ban(self, req: BanRequest) -> BanReply:
        """Ban a donor: their later donations are journaled as skipped and never shown."""
        donor = req.donor.strip()
        try:
            changed = await self._moderation().ban(donor, (req.reason or "").strip() or None)
        except JournalWriteError as exc:
            raise _unwritable(f"{donor} not banned", exc) from None
        return BanReply(donor=donor, banned=True, done=changed)

    async def unban(self, req: UnbanRequest) -> BanReply:
        donor = req.donor.strip()
        try:
            changed = await self._moderation().unban(donor)
        except JournalWriteError as exc:
            raise _unwritable(f"{donor} not unbanned", exc) from None
        return BanReply(donor=donor, banned=False, done=changed)

    async def bans(self) -> BansReply:
        items = await self._moderation().bans()
        return BansReply(items=[BanInfo(donor=d, reason=r, at=at) for d, r, at in items])

    async def preview(self, item_id: int) -> bytes:
        """The planned picture of a waiting (or past) donation as a PNG, 404 until planned."""
        _check_id(item_id)
        plan = await self._moderation().planned(item_id)
        if plan is None:
            if await self.journal.get(item_id) is None:
                raise CommandError(ErrorCode.NO_EXIST, f"no item {item_id}")
            raise CommandError(ErrorCode.NO_EXIST, f"item {item_id} has no finished plan yet")
        s = self.settings

        def draw() -> bytes:
            rgb = render_at(
                plan, None, width=s.CANVAS_W, height=s.CANVAS_H,
                default_ms=s.DEFAULT_STEP_DURATION_MS,
            )  # fmt: skip
            return png.encode(s.CANVAS_W, s.CANVAS_H, rgb)

        async with self.gate:
            return await trio.to_thread.run_sync(draw)

    # -- credentials -----------------------------------------------------------------------
    def _credentials(self) -> Credentials:
        if self.credentials is None:
            raise CommandError(ErrorCode.STATE, "the HTTP API is not running")
        return self.credentials

    async def token_rotate(self) -> TokenReply:
        """Replace the generated API token; the old one stops working at once."""
        try:
            token = self._credentials().rotate()
        except HttpConfigError as exc:
            raise CommandError(ErrorCode.STATE, str(exc)) from None
        return TokenReply(rotated=True, token=token)

    async def mod_url(self, host: str | None = None) -> ModUrlReply:
        """The moderator page's address with a fresh one-time sign-in code."""
        creds = self._credentials()
        if creds.port is None:
            raise CommandError(ErrorCode.STATE, "the HTTP API is not listening yet")
        try:
            base = page_base(self.settings, creds.tls, creds.port, host)
        except ValueError as exc:
            raise CommandError(ErrorCode.ARG, str(exc)) from None
        code = creds.issue_code()
        return ModUrlReply(url=f"{base}/mod#code={code}", expires_in_sec=creds.code_ttl)

    async def signin(self, req: SigninRequest) -> SigninReply:
        token = self._credentials().redeem(req.code)
        if token is None:
            raise CommandError(ErrorCode.PERMISSION, "wrong, used or expired sign-in code")
        return SigninReply(token=token)

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

        def struct(kind: type[T], **values: object) -> T:
            try:
                return msgspec.convert(values, kind)
            except msgspec.ValidationError as exc:
                raise CommandError(ErrorCode.ARG, str(exc)) from None

        async def deny(args: list[str]) -> DenyReply:
            item_id = _int_arg(args[0], "id", 1, MAX_ID)
            reason = args[1] if len(args) > 1 and args[1] else None
            return await self.deny(item_id, struct(DenyRequest, reason=reason))

        async def ban(args: list[str]) -> BanReply:
            reason = args[1] if len(args) > 1 and args[1] else None
            return await self.ban(struct(BanRequest, donor=args[0], reason=reason))

        async def unban(args: list[str]) -> BanReply:
            return await self.unban(struct(UnbanRequest, donor=args[0]))

        async def token(args: list[str]) -> TokenReply:
            if args[0] != "rotate":
                raise CommandError(
                    ErrorCode.ARG, f"unknown token action {args[0]!r}; usage: token rotate"
                )
            return await self.token_rotate()

        async def mod_url(args: list[str]) -> ModUrlReply:
            return await self.mod_url(args[0] if args else None)

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
            "approve": CommandSpec(1, 1, "approve ID", by_id(self.approve)),
            "deny": CommandSpec(1, 2, "deny ID [REASON]", deny),
            "ban": CommandSpec(1, 2, "ban DONOR [REASON]", ban),
            "unban": CommandSpec(1, 1, "unban DONOR", unban),
            "bans": CommandSpec(0, 0, "bans", no_args(self.bans)),
            "token": CommandSpec(1, 1, "token rotate", token),
            "mod-url": CommandSpec(0, 1, "mod-url [HOST]", mod_url),
        }
