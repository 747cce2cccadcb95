"""``python -m drawstreamd.gatekeeper`` as a real process: one line in, one JSON line out."""

from __future__ import annotations

import json
import subprocess
import sys

import trio

COMMAND = [sys.executable, "-m", "drawstreamd.gatekeeper"]


async def _read_line(stream: trio.abc.ReceiveStream, buffer: bytearray) -> bytes:
    while b"\n" not in buffer:
        chunk = await stream.receive_some()
        assert chunk, "the gatekeeper closed its output early"
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


async def test_cli_answers_each_line_before_the_next_is_sent() -> None:
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(
            [*COMMAND, "--block", "жаба", "--allow", "сиськи"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            await _converse(process)
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def _converse(process: trio.Process) -> None:
    assert process.stdin is not None
    assert process.stdout is not None
    buffer = bytearray()
    expected = [
        ("нарисуй хуй", {"nsfw": True, "rule": "sexual:genitals"}),
        ("нарисуй корабль", {"nsfw": False, "rule": None}),
        ("нарисуй жабу", {"nsfw": False, "rule": None}),
        ("нарисуй жаба", {"nsfw": True, "rule": "config:block"}),
        ("нарисуй сиськи", {"nsfw": False, "rule": None}),
        ("draw a swastika", {"nsfw": True, "rule": "hate:swastika"}),
        ("нарисуй негра", {"nsfw": True, "rule": "hate:slur"}),
        # a doubtful request passes; the line format stays the refusal verdict
        ("draw a woman in a bikini", {"nsfw": False, "rule": None}),
    ]
    for message, answer in expected:
        # The next line is sent only after this answer arrived: the CLI must not read ahead.
        await process.stdin.send_all(message.encode() + b"\n")
        assert json.loads(await _read_line(process.stdout, buffer)) == answer
    await process.stdin.send_all(b"\xff\xfe broken utf-8\r\n")
    assert json.loads(await _read_line(process.stdout, buffer)) == {"nsfw": False, "rule": None}
    await process.stdin.aclose()
    assert await process.wait() == 0
    assert await process.stdout.receive_some() == b""
    await process.stdout.aclose()


async def test_cli_keeps_order_for_a_batch_and_ends_cleanly() -> None:
    with trio.fail_after(30):
        messages = ["нарисуй кота", "нарисуй член", "", "draw a cockatoo", "draw a cock"]
        result = await trio.run_process(
            COMMAND,
            stdin="\n".join(messages).encode() + b"\n",
            capture_stdout=True,
        )
        answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
        assert [a["nsfw"] for a in answers] == [False, True, False, False, True]
        assert answers[1]["rule"] == "sexual:genitals"


async def test_cli_flags_with_equals_and_phrases() -> None:
    with trio.fail_after(30):
        result = await trio.run_process(
            [*COMMAND, "--block=red square", "--allow=сиськи"],
            stdin="draw the red square\nнарисуй сиськи\nнарисуй пизду\n".encode(),
            capture_stdout=True,
        )
        answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
        assert answers == [
            {"nsfw": True, "rule": "config:block"},
            {"nsfw": False, "rule": None},
            {"nsfw": True, "rule": "sexual:genitals"},
        ]


async def test_cli_rejects_unknown_arguments_and_explains_itself() -> None:
    with trio.fail_after(30):
        bad = await trio.run_process(
            [*COMMAND, "--frobnicate"],
            stdin=b"",
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        assert bad.returncode == 2
        assert b"unknown argument: --frobnicate" in bad.stderr
        assert bad.stdout == b""
        missing = await trio.run_process(
            [*COMMAND, "--block"], stdin=b"", capture_stderr=True, check=False
        )
        assert missing.returncode == 2
        assert b"--block needs a word" in missing.stderr
        helped = await trio.run_process([*COMMAND, "--help"], stdin=b"", capture_stdout=True)
        assert b"usage: drawstreamd gatekeeper" in helped.stdout
