"""The doctor's sign-in checks of Twitch, StreamElements and DonatePay, against their fakes:
signed in, off, refused, expired while a daemon runs (no refresh behind its back), slow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import trio
from pydantic import SecretStr

from drawstreamd.config import Settings
from drawstreamd.doctor import platforms, sources
from drawstreamd.doctor.result import Context, Result, Status
from drawstreamd.testing.fake_donatepay import open_fake_dp
from drawstreamd.testing.fake_streamelements import open_fake_se
from drawstreamd.testing.fake_twitch import FakeTwitch, open_fake_twitch

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path


async def check(
    fn: Callable[[Context], Awaitable[list[Result]]], settings: Settings, **context: Any
) -> list[tuple[str, Status, str]]:
    async with httpx.AsyncClient() as http:
        return [(r.name, r.status, r.detail) for r in await fn(Context(settings, http, **context))]


def twitch_settings(
    fake: FakeTwitch, state: Path, scopes: str = "channel:manage:redemptions bits:read"
) -> Settings:
    access, refresh = fake.issue_tokens(scopes)
    return Settings(
        TWITCH_CLIENT_ID=fake.client_id,
        TWITCH_AUTH_URL=fake.auth_url,
        TWITCH_API_URL=fake.api_url,
        TWITCH_EVENTSUB_URL=fake.ws_url,
        TWITCH_ACCESS_TOKEN=SecretStr(access),
        TWITCH_REFRESH_TOKEN=SecretStr(refresh),
        STATE_DIR=state,
    )


def test_every_source_has_its_doctor_check() -> None:
    assert [c.name for c in sources.SOURCE_CHECKS] == [
        "Donation Alerts",
        "Twitch",
        "StreamElements",
        "DonatePay",
    ]


async def test_twitch_signed_in_off_and_refused(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_fake_twitch() as fake:
            good = twitch_settings(fake, tmp_path)
            assert await check(platforms.check_twitch, good) == [
                (
                    "Twitch",
                    Status.OK,
                    "Twitch signed in as cool_user (user id 1337); redemptions on, cheers on",
                )
            ]
            narrow = twitch_settings(fake, tmp_path, "bits:read")
            [(_, status, detail)] = await check(platforms.check_twitch, narrow)
            assert status is Status.FAIL
            assert "without channel:manage:redemptions" in detail
            off = Settings(STATE_DIR=tmp_path / "none", TWITCH_CLIENT_ID=fake.client_id)
            assert (await check(platforms.check_twitch, off))[0][1:] == (
                Status.OK,
                "off: no sign-in (`drawstreamd auth twitch` signs in)",
            )
            fake.revoke()
            [(_, status, detail)] = await check(platforms.check_twitch, good)
            assert status is Status.FAIL
            assert "Invalid refresh token" in detail


async def test_twitch_expired_token_is_refreshed_unless_a_daemon_holds_it(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_fake_twitch() as fake:
            settings = twitch_settings(fake, tmp_path)
            fake.expire_access_tokens()
            [(_, status, detail)] = await check(platforms.check_twitch, settings, daemon_pid=4321)
            assert (status, detail) == (
                Status.WARN,
                "the access token has expired; the running daemon refreshes it",
            )
            assert (
                fake.token_grants.get("refresh_token", 0) == 0
            )  # the daemon's refresh token is untouched
            [(_, status, _detail)] = await check(platforms.check_twitch, settings)
            assert status is Status.OK
            assert fake.token_grants["refresh_token"] == 1
            assert (tmp_path / "twitch_tokens.json").exists()  # the new pair is saved


async def test_streamelements_and_donatepay(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with open_fake_se() as se, open_fake_dp() as dp:
            settings = Settings(
                SE_API_URL=se.api_url,
                SE_WS_URL=se.ws_url,
                SE_JWT=SecretStr(se.jwt),
                DP_API_URL=dp.api_url,
                DP_WS_URL=dp.ws_url,
                DP_API_KEY=SecretStr(dp.key),
                STATE_DIR=tmp_path,
            )
            assert await check(platforms.check_streamelements, settings) == [
                (
                    "StreamElements",
                    Status.OK,
                    f"StreamElements token accepted for channel {se.channel_id} (tips readable)",
                )
            ]
            assert await check(platforms.check_donatepay, settings) == [
                (
                    "DonatePay",
                    Status.OK,
                    "DonatePay API key accepted for FakeStreamer (user id 1304427)",
                )
            ]
            se.revoke()
            dp.revoke()
            [(_, se_status, se_detail)] = await check(platforms.check_streamelements, settings)
            [(_, dp_status, dp_detail)] = await check(platforms.check_donatepay, settings)
            assert (se_status, dp_status) == (Status.FAIL, Status.FAIL)
            assert "HTTP 401" in se_detail
            assert "HTTP 401" in dp_detail
            dp.slow = 5.0
            dp.keys.add(dp.key)
            [(_, status, detail)] = await check(platforms.check_donatepay, settings)
            assert (status, detail) == (Status.FAIL, "no answer within 3 s")
    off = await check(platforms.check_streamelements, Settings(STATE_DIR=tmp_path))
    assert off == [("StreamElements", Status.OK, "off: no SE_JWT or SE_OAUTH_TOKEN")]
    assert (await check(platforms.check_donatepay, Settings(STATE_DIR=tmp_path)))[0][1:] == (
        Status.OK,
        "off: no DP_API_KEY",
    )
