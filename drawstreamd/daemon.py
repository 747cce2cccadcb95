"""The supervisor: one Trio nursery, services started in dependency order, graceful shutdown.

journal → worker → renderer → control surfaces → donation sources. A control surface or a
donation source that fails is restarted with backoff; the daemon does not die because a
socket dropped. SIGINT/SIGTERM stop it gracefully (the drawing in progress is journaled as
interrupted and drawn first on the next start); SIGHUP reloads what is safe to change live.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
import trio

from drawstreamd import config as config_mod
from drawstreamd import logs, systemd
from drawstreamd.control.auth import Credentials, HttpConfigError
from drawstreamd.control.commands import Commands
from drawstreamd.control.http import serve_http
from drawstreamd.control.overlay import overlay_routes
from drawstreamd.control.unix import serve_unix
from drawstreamd.events import EventBus
from drawstreamd.gallery import Gallery
from drawstreamd.journal import JournalWriteError
from drawstreamd.logs import kv
from drawstreamd.pipeline import Pipeline
from drawstreamd.render.scene import Scene
from drawstreamd.render.window import Renderer
from drawstreamd.retry import Backoff
from drawstreamd.sources import demo
from drawstreamd.sources.base import QueueSink, SourceState, state_of, status_line
from drawstreamd.sources.donatepay import source as dp_source
from drawstreamd.sources.donationalerts import source as da_source
from drawstreamd.sources.streamelements import source as se_source
from drawstreamd.sources.twitch import source as twitch_source

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from drawstreamd.config import Settings
    from drawstreamd.journal import Journal
    from drawstreamd.worker import Worker

log = logging.getLogger("drawstreamd.daemon")

LIVE_KEYS = (
    "SHOW_DURATION_SEC",
    "DEFAULT_STEP_DURATION_MS",
    "LOG_LEVEL",
    "GATEKEEPER_BLOCK_WORDS",
    "GATEKEEPER_ALLOW_WORDS",
    "HUD_MASK_PROFANITY",
    "HUD_REFUSED_TEXT",
    "DRAW_MIN_AMOUNT",
    "GALLERY_KEEP",
    "JOURNAL_KEEP_DAYS",
    "MODERATION",
    "MODERATION_AUTO_APPROVE_AMOUNT",
    "MODERATION_TIMEOUT_SEC",
    "MODERATION_TIMEOUT_ACTION",
    "LLM_TEMPERATURE",
    "LLM_MAX_TOKENS",
)
"""Keys SIGHUP applies without a restart; the others need one (the log says which)."""


PRUNE_EVERY_SEC = 3600.0
JOURNAL_PROBE_SEC = 5.0
"""While the journal cannot write, how often a small write checks whether it can again."""


class StartupError(Exception):
    """A one-line reason the daemon cannot start."""


@dataclass
class Options:
    config_path: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    demo: bool = False
    headless: bool = False
    window: bool = True


# -- before Trio: the state dir, the lock, the journal -----------------------------------------
def prepare_state_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"state dir {path}: not writable ({exc.strerror or exc})") from None


def lock_state_dir(path: Path) -> int:
    """Hold ``<state>/drawstreamd.lock`` for the life of the process; one daemon per state dir."""
    lock_path = path / "drawstreamd.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StartupError(f"state dir {path}: cannot create lock file ({exc.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StartupError(
            f"another drawstreamd (pid {other}) is already running with state dir {path}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


# -- inside Trio -------------------------------------------------------------------------------
async def supervise(
    name: str,
    service: Callable[..., Awaitable[Any]],
    fatal_first: bool = False,
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``service`` (a ``serve(task_status=…)`` callable) and restart it with backoff.

    Hands back what the first successful start handed back. A service that returns normally
    is done (e.g. a source with no credentials). With ``fatal_first`` a failure before the
    first start is raised (the daemon cannot come up without it).
    """
    backoff = Backoff(base=1.0, cap=30.0, floor=1.0)
    started = False
    while True:
        began = trio.current_time()
        try:
            async with trio.open_nursery() as nursery:
                value = await nursery.start(service)
                if not started:
                    started = True
                    task_status.started(value)
        except Exception as exc:
            if not started and fatal_first:
                raise StartupError(f"{name}: {_one(exc)}") from None
            if trio.current_time() - began > 60:
                backoff.reset()
            delay = backoff.next_delay()
            log.error(
                kv("service failed", name=name, error=_one(exc), restart_in_sec=round(delay, 1))
            )
            if not started:
                started = True
                task_status.started(None)
            await trio.sleep(delay)
            continue
        log.info(kv("service finished", name=name))
        if not started:
            task_status.started(None)
        return


def _one(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


class Daemon:
    def __init__(self, settings: Settings, journal: Journal, options: Options) -> None:
        self.settings = settings
        self.journal = journal
        self.options = options
        self.events = EventBus()
        self.gatekeeper = _make_gatekeeper(settings)
        self.scene = Scene(settings.CANVAS_W, settings.CANVAS_H, settings.DEFAULT_STEP_DURATION_MS)
        self.gallery = Gallery(settings.STATE_DIR / "gallery")
        self.notifier = systemd.Notifier.from_env()
        self.stop = trio.Event()
        journal.on_health.append(self._journal_health)
        self._journal_failed = trio.Event()
        self.http = httpx.AsyncClient()
        llm = judge = None
        if settings.LLM_BACKEND == "openai":
            from drawstreamd.plan.llm import OpenAIPlanner
            from drawstreamd.plan.model_check import ModelCheck, wanted

            llm = OpenAIPlanner(settings, self.http)
            judge = ModelCheck(settings, self.http) if wanted(settings) else None
        self.pipeline = Pipeline.build(
            settings,
            journal,
            self.events,
            self.scene,
            self.gallery,
            self.gatekeeper,
            llm=llm,
            judge=judge,
        )
        self.queue = self.pipeline.queue
        self.worker: Worker | None = None
        self.sink = QueueSink(self.queue, journal, self.events)
        self._sources: dict[str, tuple[SourceState, str]] = {}
        """State and detail of the networked donation sources, by source name."""
        self.renderer: Renderer | None = None

    async def run(self) -> None:
        s = self.settings
        try:
            credentials = Credentials.prepare(s)  # before anything runs: it may refuse to start
        except HttpConfigError as exc:
            raise StartupError(str(exc)) from None
        restored = await self.pipeline.restore()
        if restored:
            log.info("restored unfinished donations count=%d", len(restored))
        async with self.http as http, trio.open_nursery() as nursery:
            await nursery.start(self._signals)
            await nursery.start(self.pipeline.serve)
            worker = self.worker = self.pipeline.worker
            nursery.start_soon(self._prune_loop)
            nursery.start_soon(self._journal_probe_loop)
            renderer = Renderer(
                s, self.scene, headless=self.options.headless, window=self.options.window
            )
            self.renderer = await nursery.start(renderer.serve)
            commands = Commands(
                s,
                self.queue,
                self.journal,
                worker,
                self.events,
                frames=renderer,
                credentials=credentials,
                moderation=self.pipeline.moderation,
                sources=self.source_lines,
            )
            async with trio.open_nursery() as api:
                await api.start(
                    supervise,
                    "http api",
                    partial(
                        serve_http,
                        s,
                        commands,
                        self.events,
                        shutdown_trigger=self.stop.wait,
                        blueprints=[
                            overlay_routes(
                                s,
                                self.scene,
                                self.journal,
                                self.gallery.root,
                                words=self.gatekeeper,
                            )
                        ],
                    ),
                    True,
                )
                async with trio.open_nursery() as producers:
                    path = s.control_socket()
                    await producers.start(
                        supervise,
                        "control socket",
                        partial(serve_unix, s, commands, self.events, path=path),
                        True,
                    )
                    self.notifier.ready(status=self._status_text())
                    await nursery.start(
                        systemd.serve_watchdog,
                        self.notifier,
                        [worker.heartbeat, renderer.heartbeat],
                    )
                    nursery.start_soon(self._status_loop)
                    await self._start_sources(producers, http)
                    # Everything long-lived exists now: keep it out of the collector's sweeps,
                    # whose pauses (~180 ms under API load) would otherwise show as late frames.
                    gc.collect()
                    gc.freeze()
                    log.info(
                        "drawstreamd running state_dir=%s socket=%s planner=%s window=%s",
                        s.STATE_DIR,
                        path,
                        s.LLM_BACKEND,
                        "off"
                        if not self.options.window
                        else ("headless" if renderer.headless else "on"),
                    )
                    await self.stop.wait()
                    log.info("stopping: finishing what is safe within %.1fs", s.SHUTDOWN_GRACE_SEC)
                    self.notifier.stopping()
                    producers.cancel_scope.cancel()  # sources and the socket first
                api.cancel_scope.deadline = trio.current_time() + s.SHUTDOWN_GRACE_SEC
            nursery.cancel_scope.cancel()  # the drawing in progress is journaled as interrupted
        log.info("stopped")

    async def _start_sources(self, nursery: trio.Nursery, http: httpx.AsyncClient) -> None:
        s = self.settings
        if self.options.demo:
            await nursery.start(supervise, "demo", partial(demo.serve, self.queue))
        await nursery.start(
            supervise, "donationalerts", partial(da_source.serve, s, self.sink, http)
        )
        await nursery.start(
            supervise, "streamelements", partial(se_source.serve, s, self.sink, http)
        )
        await nursery.start(supervise, "donatepay", partial(dp_source.serve, s, self.sink, http))
        await nursery.start(supervise, "twitch", partial(twitch_source.serve, s, self.sink, http))

    async def _signals(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    await self.reload()
                else:
                    log.info("signal received signal=%s", signal.Signals(signum).name)
                    self.stop.set()

    async def reload(self) -> None:
        self.notifier.reloading()
        try:
            new = config_mod.load(self.options.config_path, **self.options.overrides)
        except config_mod.ConfigError as exc:
            for line in exc.lines:
                log.error(kv("reload refused, keeping the old config", reason=line))
            self.notifier.ready(status=self._status_text())
            return
        old_level = self.settings.LOG_LEVEL
        changed = []
        for key in LIVE_KEYS:
            if getattr(new, key) != getattr(self.settings, key):
                setattr(self.settings, key, getattr(new, key))
                changed.append(key)
        needs_restart = [
            k
            for k in type(new).model_fields
            if k not in LIVE_KEYS and getattr(new, k) != getattr(self.settings, k)
        ]
        self.scene.default_ms = self.settings.DEFAULT_STEP_DURATION_MS
        reload_words = getattr(self.gatekeeper, "reload", None)
        if reload_words is not None:
            reload_words(self.settings.GATEKEEPER_BLOCK_WORDS, self.settings.GATEKEEPER_ALLOW_WORDS)
        try:
            rejudged = await self.queue.recheck()
        except JournalWriteError as exc:
            rejudged = -1
            log.error(kv("waiting items re-judged, but not journaled", error=str(exc)))
        if rejudged > 0:
            log.info(kv("waiting items re-judged with the new word lists", changed=rejudged))
        # say it at the more verbose of the old and new levels, so turning logging down
        # (or up) does not hide the line that says so
        levels = (old_level, self.settings.LOG_LEVEL)
        logs.set_level(min(levels, key=logging.getLevelName))
        log.info(
            "config reloaded changed=%s needs_restart=%s",
            ",".join(changed) or "-",
            ",".join(needs_restart) or "-",
        )
        logs.set_level(self.settings.LOG_LEVEL)
        self.notifier.ready(status=self._status_text())

    def _status_text(self) -> str:
        """systemd STATUS=, e.g. "drawing: 3 queued; Donation Alerts disconnected, retrying"."""
        worker = self.worker
        phase = worker.phase if worker else "starting"
        paused = " (paused)" if self.queue.paused else ""
        text = f"{phase}{paused}: {len(self.queue)} queued"
        for name, (state, _) in sorted(self._sources.items()):
            if state in (SourceState.RETRYING, SourceState.SIGNED_OUT):
                text += f"; {status_line(name, state)}"
        if worker is not None and worker.llm is not None and not worker.llm_online:
            text += "; LLM unreachable, builtin pictures"
        if self.journal.failing:
            text += f"; {self.journal.failing}: new donations refused until it can write"
        return text

    def source_lines(self) -> dict[str, str]:
        """Each networked source's own status line, for the control surfaces."""
        return {
            name: status_line(name, state, detail)
            for name, (state, detail) in sorted(self._sources.items())
        }

    def _journal_health(self, failing: str | None) -> None:
        """The journal's writes started failing, or work again: say so everywhere private."""
        if failing:
            log.error(kv("journal cannot write; donations are refused until it can",
                         error=failing, journal=self.journal.path))  # fmt: skip
            self.events.emit("journal_error", error=failing)
            self._journal_failed.set()
            self._journal_failed = trio.Event()
        else:
            log.info(kv("journal writes again", journal=self.journal.path))
            self.events.emit("journal_ok")
        self.notifier.status(self._status_text())

    async def _journal_probe_loop(self) -> None:
        """While the journal cannot write, try a small write now and then: the moment it
        lands, every surface says the journal writes again, even if no donation comes."""
        while True:
            if self.journal.failing is None:
                await self._journal_failed.wait()
                continue
            await trio.sleep(JOURNAL_PROBE_SEC)
            with contextlib.suppress(JournalWriteError):
                await self.journal.set_meta("journal.checked_at", f"{time.time():.0f}")

    async def _prune_loop(self) -> None:
        """Retention: ``GALLERY_KEEP`` pictures, finished rows for ``JOURNAL_KEEP_DAYS``."""
        while True:
            s = self.settings
            try:
                rows = await self.journal.prune(time.time() - s.JOURNAL_KEEP_DAYS * 86400)
                pictures = await self.gallery.prune(s.GALLERY_KEEP)
            except (JournalWriteError, OSError) as exc:
                log.warning(kv("pruning failed, trying again later", error=str(exc)))
            else:
                if rows or pictures:
                    log.info(kv("pruned", journal_rows=rows, gallery_pictures=pictures))
            await trio.sleep(PRUNE_EVERY_SEC)

    async def _status_loop(self) -> None:
        """Keep STATUS= current: on every source event, and once a second for the rest."""
        last = ""
        kinds = frozenset({"source_connected", "source_disconnected"})
        async with self.events.subscribe(kinds) as sub:
            while True:
                for event in sub.drain():
                    name = str(event.data.get("source", "source"))
                    detail = str(event.data.get("reason") or "")
                    self._sources[name] = (state_of(event.kind, event.data), detail)
                text = self._status_text()
                if text != last:
                    self.notifier.status(text)
                    last = text
                with trio.move_on_after(1.0):
                    await sub.wait()


def _make_gatekeeper(settings: Settings) -> Any:
    from drawstreamd.gatekeeper.filter import Gatekeeper

    return Gatekeeper(settings.GATEKEEPER_BLOCK_WORDS, settings.GATEKEEPER_ALLOW_WORDS)


async def main(settings: Settings, journal: Journal, options: Options) -> None:
    await Daemon(settings, journal, options).run()
