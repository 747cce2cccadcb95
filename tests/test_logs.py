"""Log lines as an operator reads them: one per event, fields, JSON, journald levels, no secrets."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import warnings
from typing import TYPE_CHECKING

import pytest

from drawstreamd import logs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TOKEN = "da-access-Zq9#x/y+z=END"
CLIENT_SECRET = "client-secret-0xC0FFEE"

log = logging.getLogger("drawstreamd.worker")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("drawstreamd").level)
    hooks = (sys.excepthook, threading.excepthook)
    yield
    for h in root.handlers[:]:
        if h not in saved[0]:
            root.removeHandler(h)
            h.close()
    root.setLevel(saved[1])
    logging.getLogger("drawstreamd").setLevel(saved[2])
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    logs.clear_secrets()


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_text_lines_carry_level_logger_event_and_fields() -> None:
    out = io.StringIO()
    logs.setup("info", "text", stream=out)
    log.info(logs.kv("drawing started", id=7, donor="Вася Пупкин", paused=False, eta=None))
    log.warning("source %s down", "donationalerts", extra={"retry_in": 2.5})
    (first, second) = lines(out)
    assert first.endswith(
        ' INFO worker: drawing started id=7 donor="Вася Пупкин" paused=false eta=-'
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first.split(" ")[0])
    assert second.endswith(" WARNING worker: source donationalerts down retry_in=2.5")


def test_an_exception_stays_on_one_line() -> None:
    out = io.StringIO()
    logs.setup("info", "text", stream=out)
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        log.exception(logs.kv("planner failed", id=3))
    (line,) = lines(out)
    assert 'planner failed id=3 error="ValueError: first line\\nsecond line"' in line
    assert 'traceback="Traceback (most recent call last):\\n' in line


def test_json_lines_keep_fields_typed() -> None:
    out = io.StringIO()
    logs.setup("debug", "json", stream=out)
    log.debug(logs.kv("frame late", ms=41.5, frame=1200, donor="Вася", gone=None))
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.error("boom", exc_info=True, extra={"id": 9})
    first, second = (json.loads(x) for x in lines(out))
    assert first["level"] == "debug"
    assert first["logger"] == "drawstreamd.worker"
    assert first["event"] == "frame late"
    assert (first["ms"], first["frame"], first["donor"], first["gone"]) == (
        41.5,
        1200,
        "Вася",
        None,
    )
    assert first["time"].endswith("Z")
    assert second["error"] == "ZeroDivisionError: division by zero"
    assert second["id"] == 9
    assert "Traceback" in second["traceback"]


def test_json_lifts_key_value_pairs_out_of_plain_messages() -> None:
    out = io.StringIO()
    logs.setup("info", "json", stream=out)
    log.info("da socket connected user_id=%s client=%s", 4242, "c1fa-2f35")
    log.warning("da socket down reason=closed code=1006 why='no pong' reconnect_in=1.5")
    first, second = (json.loads(x) for x in lines(out))
    assert first["event"] == "da socket connected user_id=4242 client=c1fa-2f35"
    assert (first["user_id"], first["client"]) == (4242, "c1fa-2f35")
    assert (second["reason"], second["code"], second["why"], second["reconnect_in"]) == (
        "closed",
        1006,
        "no pong",
        1.5,
    )
    assert second["level"] == "warning"  # a pair never overwrites the record's own keys


def test_level_applies_to_our_loggers_and_can_change_live() -> None:
    out = io.StringIO()
    logs.setup("warning", "text", stream=out)
    log.info("hidden")
    logs.set_level("DEBUG")
    log.debug("shown")
    logging.getLogger("httpx").info(
        "HTTP Request: GET https://example.invalid"
    )  # libraries: WARNING+
    assert [line.split(": ", 1)[1] for line in lines(out)] == ["shown"]
    with pytest.raises(ValueError, match="log level must be one of"):
        logs.set_level("loud")


def test_setup_twice_does_not_double_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.setup("info", "text", stream=first)
    logs.setup("info", "json", stream=second)
    log.info("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1


# -- secrets ---------------------------------------------------------------------------------
def test_secrets_are_masked_everywhere_in_text_and_json() -> None:
    for fmt in ("text", "json"):
        out = io.StringIO()
        logs.setup("debug", fmt, secrets=[TOKEN, CLIENT_SECRET, "", "ab"], stream=out)
        quoted = urllib.parse.quote(TOKEN, safe="")
        log.info("token is %s", TOKEN)
        log.info("short ab stays")
        log.info(logs.kv("refresh", body=f"client_secret={CLIENT_SECRET}", n=1))
        log.info("GET https://da.invalid/api?access_token=%s", quoted)
        log.info("raw json", extra={"payload": json.dumps({"t": TOKEN})})
        try:
            raise RuntimeError(f"401 for Bearer {TOKEN}")
        except RuntimeError:
            log.exception("request failed")
        text = out.getvalue()
        for spelling in (TOKEN, CLIENT_SECRET, quoted, json.dumps(TOKEN)[1:-1]):
            assert spelling not in text, (fmt, spelling)
        assert text.count("***") >= 5
        assert "short ab stays" in text  # too short to be a secret: left alone
        if fmt == "json":
            for line in lines(out):
                json.loads(line)  # masking keeps every line valid JSON


def test_secrets_added_at_run_time_are_masked_from_then_on() -> None:
    out = io.StringIO()
    logs.setup("info", "text", stream=out)
    fresh = "refreshed-token-4242"
    logs.add_secrets([fresh])
    log.info("new token %s", fresh)
    assert fresh not in out.getvalue()
    assert logs.scrub(f"Bearer {fresh}") == "Bearer ***"


def test_a_secret_that_contains_another_is_masked_whole() -> None:
    logs.add_secrets(["abcd", "xxabcdyy"])
    assert logs.scrub("xxabcdyy and abcd") == "*** and ***"


def test_uncaught_thread_exceptions_and_warnings_go_through_the_scrubber() -> None:
    out = io.StringIO()
    logs.setup("info", "text", secrets=[TOKEN], stream=out)

    def leak() -> None:
        raise RuntimeError(f"token {TOKEN}")

    t = threading.Thread(target=leak, name="leaky")
    t.start()
    t.join(5)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated with {TOKEN}", UserWarning, stacklevel=1)
    text = out.getvalue()
    assert TOKEN not in text
    assert "uncaught exception in thread thread=leaky" in text
    assert "RuntimeError: token ***" in text
    assert "deprecated with ***" in text


def test_uncaught_exception_hook_masks() -> None:
    out = io.StringIO()
    logs.setup("info", "text", secrets=[TOKEN], stream=out)
    try:
        raise KeyError(TOKEN)
    except KeyError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert TOKEN not in out.getvalue()
    assert "CRITICAL drawstreamd: uncaught exception" in out.getvalue()


# -- journald --------------------------------------------------------------------------------
def journal_env(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_journal_stream_gets_priority_prefixes_and_no_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    path = tmp_path / "journal-stream"
    with path.open("w", encoding="utf-8") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", journal_env(path))
        logs.setup("debug", fmt, stream=stream)
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        log.critical("c")
    got = path.read_text(encoding="utf-8").splitlines()
    assert [line[:3] for line in got] == ["<7>", "<6>", "<4>", "<3>", "<2>"]
    if fmt == "text":
        assert got[1] == "<6>worker: i"
    else:
        assert json.loads(got[1][3:]) == {
            "level": "info",
            "logger": "drawstreamd.worker",
            "event": "i",
        }


def test_journal_stream_of_another_file_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.write_text("")
    path = tmp_path / "ours"
    with path.open("w", encoding="utf-8") as stream:
        monkeypatch.setenv("JOURNAL_STREAM", journal_env(other))
        logs.setup("info", "text", stream=stream)
        log.info("plain")
    (line,) = path.read_text(encoding="utf-8").splitlines()
    assert not line.startswith("<")
    assert line.endswith(" INFO worker: plain")


# -- stdout and stderr -----------------------------------------------------------------------
def test_printed_text_is_masked_even_when_a_secret_is_split_across_writes() -> None:
    logs.add_secrets([TOKEN])
    out = io.StringIO()
    stream = logs.ScrubbingStream(out)
    half = len(TOKEN) // 2
    stream.write(f"error: bearer {TOKEN[:half]}")
    stream.write(f"{TOKEN[half:]} refused\nnext ")
    assert out.getvalue() == "error: bearer *** refused\n"
    print(f"line with {TOKEN}", file=stream)
    stream.flush()
    assert out.getvalue() == "error: bearer *** refused\nnext line with ***\n"


def test_protect_stdio_masks_print_and_keeps_the_real_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stderr"
    with path.open("w", encoding="utf-8") as real:
        monkeypatch.setattr(sys, "stderr", real)
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        logs.add_secrets([CLIENT_SECRET])
        logs.protect_stdio()
        logs.protect_stdio()  # twice is once
        assert isinstance(sys.stderr, logs.ScrubbingStream)
        assert not isinstance(sys.stderr.wrapped, logs.ScrubbingStream)
        assert sys.stderr.fileno() == real.fileno()
        print(f"drawstreamd: token endpoint said: client_secret={CLIENT_SECRET}", file=sys.stderr)
        sys.stderr.flush()
    assert (
        path.read_text(encoding="utf-8") == "drawstreamd: token endpoint said: client_secret=***\n"
    )


def test_setup_without_a_stream_masks_everything_the_process_prints() -> None:
    code = (
        "import logging, sys\n"
        "from drawstreamd import logs\n"
        f"logs.setup('info', secrets=[{TOKEN!r}])\n"
        f"print('stdout has', {TOKEN!r})\n"
        f"print('stderr has', {TOKEN!r}, file=sys.stderr)\n"
        f"logging.getLogger('drawstreamd.t').warning('log has %s', {TOKEN!r})\n"
        f"raise SystemExit('exit message has ' + {TOKEN!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stdout == "stdout has ***\n"
    assert TOKEN not in result.stderr
    assert "stderr has ***\n" in result.stderr
    assert "WARNING t: log has ***" in result.stderr
    assert "exit message has ***" in result.stderr


def test_binary_output_passes_through_unchanged_and_in_order() -> None:
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    stream = logs.ScrubbingStream(text)
    stream.write("header ")
    stream.buffer.write(b"\x89PNG\r\n\x1a\n\xff")
    assert raw.getvalue() == b"header \x89PNG\r\n\x1a\n\xff"
