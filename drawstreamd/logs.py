"""Logging: one line per event, ``key=value`` fields or JSON, journald priorities, no secrets.

Call :func:`setup` once at start. Code logs through ``logging.getLogger("drawstreamd.<part>")``
and passes fields either with :func:`kv` or as ``extra=``::

    log.info(kv("drawing started", id=7, donor="Вася"))
    log.warning("source disconnected", extra={"source": "donationalerts", "retry_in": 2.5})

Text lines read ``2026-11-26T03:10:00.123Z INFO worker: drawing started id=7 donor=Вася``; with
``LOG_FORMAT=json`` each line is one JSON object. Under systemd, when ``JOURNAL_STREAM`` names
the very stream we write to, the timestamp is left to journald and each line starts with a
``<N>`` syslog priority, so ``journalctl -p warning`` works. Tracebacks are folded into the
line (``\\n`` escapes), because journald would make every further line a separate entry.

Secret values (tokens, client secrets) registered with :func:`setup` or :func:`add_secrets` are
replaced by ``***`` everywhere in the line — message, fields and exception text — including
their percent-encoded and JSON-escaped spellings. :func:`scrub` does the same for any text that
leaves the process some other way (an error printed on exit, an HTTP error body).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import os
import re
import sys
import threading
import traceback
import urllib.parse
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

ROOT = "drawstreamd"
MASK = "***"
MIN_SECRET_LEN = 4
"""Shorter values are not treated as secrets: masking "ab" everywhere would garble every line."""

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
          "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}  # fmt: skip

# syslog(3) priorities, as journald reads them from a "<N>" prefix
_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


# -- secrets ---------------------------------------------------------------------------------
_secrets_lock = threading.Lock()
_variants: tuple[str, ...] = ()


def _spellings(value: str) -> set[str]:
    return {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }


def add_secrets(values: Iterable[str]) -> None:
    """Mask these values from now on (e.g. a token refreshed at run time)."""
    global _variants
    fresh = {
        spelling
        for v in values
        if v and len(v) >= MIN_SECRET_LEN
        for spelling in _spellings(v)
        if len(spelling) >= MIN_SECRET_LEN
    }
    with _secrets_lock:
        # longest first, so a secret that contains another is masked whole
        _variants = tuple(sorted(set(_variants) | fresh, key=lambda s: (-len(s), s)))


def clear_secrets() -> None:
    global _variants
    with _secrets_lock:
        _variants = ()


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _variants:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class ScrubbingStream(io.TextIOBase):
    """A text stream that masks secrets in everything written through it.

    Text is passed on a line at a time (a secret split over two ``write`` calls is still
    caught); ``flush`` passes on what is pending. ``fileno`` and ``isatty`` are the wrapped
    stream's, so journald detection and terminal checks still see the real file.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.wrapped = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            lines, _, self._pending = self._pending.rpartition("\n")
            self.wrapped.write(scrub(lines + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.wrapped.write(scrub(self._pending))
            self._pending = ""
        self.wrapped.flush()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    @property
    def buffer(self) -> IO[bytes]:
        """The wrapped stream's binary buffer, unmasked: for binary output such as a PNG."""
        self.flush()
        return self.wrapped.buffer  # type: ignore[attr-defined, no-any-return]

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.wrapped, "encoding", "utf-8")


def protect_stdio() -> None:
    """Mask secrets in whatever this process prints on stdout and stderr from now on.

    For the tools as much as the daemon: an error message printed with ``print`` (or a
    traceback Python prints on its way out) passes the same scrubber as log lines.
    """
    global _flush_registered
    if not isinstance(sys.stdout, ScrubbingStream):
        sys.stdout = ScrubbingStream(sys.stdout)
    if not isinstance(sys.stderr, ScrubbingStream):
        sys.stderr = ScrubbingStream(sys.stderr)
    if not _flush_registered:
        atexit.register(_flush_stdio)
        _flush_registered = True


_flush_registered = False


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, ScrubbingStream):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()


# -- fields ----------------------------------------------------------------------------------
class KV(str):
    """A log message that also carries its fields, so JSON output keeps them structured."""

    event: str
    fields: dict[str, object]

    def __new__(cls, event: str, fields: dict[str, object]) -> KV:
        text = " ".join([event, *(f"{k}={_quote(v)}" for k, v in fields.items())])
        self = super().__new__(cls, text)
        self.event = event
        self.fields = fields
        return self


def kv(event: str, **fields: object) -> KV:
    """``kv("drawing started", id=7)`` → ``drawing started id=7`` (a ``str``)."""
    return KV(event, fields)


def _quote(value: object) -> str:
    text = _plain(value)
    if text and not any(c.isspace() or c in '"=\\' or not c.isprintable() for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _plain(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


_KV_PAIR = re.compile(r"(?<![\w.=])([a-z_][a-z0-9_]*)=(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,;]+)")


def _typed(raw: str) -> object:
    """A ``key=value`` value as JSON would want it: numbers as numbers, quotes removed."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


# -- the formatter ---------------------------------------------------------------------------
class Formatter(logging.Formatter):
    """One line per record, text (``key=value``) or JSON, optionally with a ``<N>`` prefix."""

    def __init__(self, fmt: str = "text", *, journal: bool = False) -> None:
        super().__init__()
        if fmt not in ("text", "json"):
            raise ValueError(f"log format must be text or json, not {fmt!r}")
        self.json = fmt == "json"
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        msg = record.msg
        if isinstance(msg, KV) and not record.args:
            event, fields = msg.event, dict(msg.fields)
        else:
            event, fields = record.getMessage(), {}
        fields.update(
            (k, v) for k, v in vars(record).items() if k not in _STANDARD_ATTRS and k[0] != "_"
        )
        event = scrub(event)
        error = trace = None
        if record.exc_info and record.exc_info[0] is not None:
            etype, evalue, tb = record.exc_info
            error = scrub("".join(traceback.format_exception_only(etype, evalue)).strip())
            trace = scrub("".join(traceback.format_exception(etype, evalue, tb)).rstrip())
        elif record.exc_text:
            trace = scrub(record.exc_text)
        if record.stack_info:
            trace = scrub(((trace + "\n") if trace else "") + record.stack_info)
        name = record.name.removeprefix(ROOT + ".")
        if self.json:
            obj: dict[str, object] = {}
            if not self.journal:
                obj["time"] = self._time(record)
            obj.update(level=record.levelname.lower(), logger=record.name, event=event)
            for k, v in fields.items():
                obj.setdefault(k, _jsonable(v))
            if not isinstance(msg, KV):
                # a plain "what happened key=value …" message: its pairs become fields too
                for k, v in _KV_PAIR.findall(event):
                    obj.setdefault(k, _typed(v))
            if error is not None:
                obj["error"] = error
            if trace is not None:
                obj["traceback"] = trace
            line = json.dumps(obj, ensure_ascii=False, default=str)
        else:
            parts = [] if self.journal else [self._time(record), record.levelname]
            parts.append(f"{name}: {_one_line(event)}")
            parts.extend(f"{k}={_quote(scrub(_plain(v)))}" for k, v in fields.items())
            if error is not None:
                parts.append(f"error={_quote(error)}")
            if trace is not None:
                parts.append(f"traceback={_quote(trace)}")
            line = " ".join(parts)
        line = scrub(line)
        if self.journal:
            line = f"<{priority(record.levelno)}>{line}"
        return line

    @staticmethod
    def _time(record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def priority(levelno: int) -> int:
    """The syslog priority journald stores for a logging level."""
    for threshold, prio in _PRIORITY:
        if levelno >= threshold:
            return prio
    return 7


def writes_to_journal(stream: IO[str], environ: dict[str, str] | None = None) -> bool:
    """True when ``JOURNAL_STREAM`` (``<st_dev>:<st_ino>``) is the file behind ``stream``."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        return False


# -- setup -----------------------------------------------------------------------------------
class _Handler(logging.StreamHandler[IO[str]]):
    """Our handler; marked so a second :func:`setup` replaces it instead of adding another."""


def setup(
    level: str,
    fmt: str = "text",
    secrets: Iterable[str] = (),
    *,
    stream: IO[str] | None = None,
) -> None:
    """Send every log record to stderr (or ``stream``) as one scrubbed line each.

    ``level`` applies to drawstreamd's own loggers; libraries log at WARNING and above.
    Uncaught exceptions (main and threads) and Python warnings go through the same path, so
    they are scrubbed too. Without ``stream``, stdout and stderr themselves are wrapped by
    :func:`protect_stdio`, so a stray ``print`` cannot leak a secret either.
    """
    if stream is None:
        protect_stdio()
    out = sys.stderr if stream is None else stream
    add_secrets(secrets)
    handler = _Handler(out)
    handler.setFormatter(Formatter(fmt, journal=writes_to_journal(out)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    set_level(level)
    logging.captureWarnings(True)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def set_level(level: str) -> None:
    """Change drawstreamd's log level at run time (SIGHUP reload)."""
    try:
        number = LEVELS[level.upper()]
    except KeyError:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}") from None
    logging.getLogger(ROOT).setLevel(number)


def _excepthook(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger(ROOT).critical("uncaught exception", exc_info=(etype, value, tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    logging.getLogger(ROOT).error(
        kv("uncaught exception in thread", thread=name),
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
