"""`drawstreamd auth twitch` as a streamer runs it, against the fake: an address and a code to
type, no redirect server, the tokens stored 0600 where the daemon finds them."""

from __future__ import annotations

import functools
import json
import os
import stat
import subprocess
from typing import TYPE_CHECKING

import httpx
import trio
from support import drawstreamd_bin, process_env

from drawstreamd.testing.fake_twitch import FakeTwitch, open_fake_twitch

if TYPE_CHECKING:
    from pathlib import Path


def env_for(fake: FakeTwitch, home: Path) -> dict[str, str]:
    return process_env(
        home,
        TWITCH_CLIENT_ID=fake.client_id,
        TWITCH_AUTH_URL=fake.auth_url,
        TWITCH_API_URL=fake.api_url,
        TWITCH_EVENTSUB_URL=fake.ws_url,
    )


async def sign_in(fake: FakeTwitch, home: Path) -> tuple[trio.Process, list[str]]:
    """Start ``drawstreamd auth twitch``; type the code it shows; return its output lines."""
    lines: list[str] = []
    async with trio.open_nursery() as nursery:
        proc = await nursery.start(
            functools.partial(
                trio.run_process,
                [drawstreamd_bin(), "auth", "twitch", "--state-dir", str(home / "state")],
                env=env_for(fake, home),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                check=False,
            )
        )
        assert proc.stdout is not None
        buffer = b""
        typed = False
        while True:
            chunk = await proc.stdout.receive_some(4096)
            if not chunk:
                break
            buffer += chunk
            *done, buffer = buffer.split(b"\n")
            lines += [d.decode() for d in done]
            address = next((x.strip() for x in lines if "/activate?" in x), None)
            if address and not typed:
                typed = True
                async with httpx.AsyncClient() as http:  # the streamer, on their phone
                    assert (await http.get(address)).status_code == 200
        await proc.wait()
    return proc, lines


async def test_sign_in_stores_working_tokens(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with open_fake_twitch(device_interval=1, approve_after_polls=0) as fake:
            proc, lines = await sign_in(fake, tmp_path)
            assert proc.returncode == 0, lines
            text = "\n".join(lines)
            code = next(iter(fake.access.values()))
            assert "enter the code" in text
            assert "signed in as cool_user (user id 1337)" in text
            path = tmp_path / "state" / "twitch_tokens.json"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            stored = json.loads(path.read_text())
            assert stored["access_token"] in fake.access
            assert stored["refresh_token"] in fake.refresh
            assert stored["scopes"] == "bits:read channel:manage:redemptions"
            assert stored["client_id"] == fake.client_id
            assert stored["access_token"] not in text  # never printed
            assert code.user_id == "1337"


async def test_a_code_nobody_types_in_time_fails_with_one_line(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with open_fake_twitch(device_interval=1, approve_after_polls=0) as fake:

            async def expire() -> None:
                while not fake.devices:
                    await trio.sleep(0.05)
                await trio.sleep(1.5)
                fake.devices.clear()  # it expired (or was used elsewhere)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(expire)
                result = await trio.run_process(
                    [drawstreamd_bin(), "auth", "twitch", "--state-dir", str(tmp_path / "state")],
                    env=env_for(fake, tmp_path),
                    capture_stdout=True,
                    capture_stderr=True,
                    check=False,
                )
    assert result.returncode == 1
    errors = result.stderr.decode().strip().splitlines()
    assert errors == [
        "drawstreamd auth twitch: the code expired or was already used; run the sign-in again"
    ]
    assert not (tmp_path / "state" / "twitch_tokens.json").exists()


def test_no_client_id_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [drawstreamd_bin(), "auth", "twitch", "--state-dir", str(tmp_path / "state")],
        env=process_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("drawstreamd auth twitch: set TWITCH_CLIENT_ID first")
