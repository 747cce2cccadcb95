"""Schemathesis against the OpenAPI document, with Hypercorn serving the real app on loopback.

Every operation is fuzzed (valid and invalid data, wrong methods, missing auth) and every
check is on: no 5xx, and every response matches the document (status, content type, schema).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import trio
from test_control_harness import free_port, open_stack

from drawstreamd.control.http import serve_http
from drawstreamd.control.ratelimit import RateLimiter, WrongCredentials

ST = Path(sys.executable).with_name("st")


async def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(
    tmp_path: Path,
) -> None:
    with trio.fail_after(300):
        async with open_stack(tmp_path, API_PORT=free_port()) as st:
            await st.drawn("кот")  # one finished drawing, so replay has something to find
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(
                    functools.partial(
                        serve_http,
                        st.settings,
                        st.commands,
                        st.events,
                        shutdown_trigger=stop.wait,
                        limiter=RateLimiter(rate=10_000, burst=10_000),
                        # the fuzzer sends wrong tokens and codes on purpose: the limit on
                        # them (test_security_process.py) would turn its probes into 429s
                        wrong=WrongCredentials(limit=1_000_000),
                    )
                )
                token = (st.settings.STATE_DIR / "api_token").read_text().strip()
                work = tmp_path / "st"
                work.mkdir()
                result = await trio.run_process(
                    [
                        str(ST),
                        "run",
                        f"{urls[0]}/api/v1/openapi.json",
                        "--checks",
                        "all",
                        "--header",
                        f"Authorization: Bearer {token}",
                        "--max-examples",
                        "30",
                        "--workers",
                        "1",
                        "--seed",
                        "20261126",
                        "--generation-database",
                        "none",
                        "--request-timeout",
                        "10",
                        "--no-color",
                    ],
                    cwd=work,
                    capture_stdout=True,
                    capture_stderr=True,
                    check=False,
                    env={**os.environ, "NO_COLOR": "1"},
                )
                stop.set()
    out = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, out
    assert "generated" in out
    assert " passed" in out
    for bad in ("failed", "errored", "Network Error", "Server error"):
        assert bad not in out, out
