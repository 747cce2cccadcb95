"""`drawstreamd auth` end to end against the fake: browser → loopback redirect → stored tokens."""

from __future__ import annotations

import json
import os
import stat
import webbrowser
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import trio

from drawstreamd.config import Settings
from drawstreamd.sources.donationalerts import auth_cli
from drawstreamd.testing.fake_da import FakeDA, open_fake_da

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def settings_for(fake: FakeDA, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "DA_OAUTH_URL": fake.oauth_url,
            "DA_API_URL": fake.api_url,
            "DA_WS_URL": fake.ws_url,
            "DA_CLIENT_ID": fake.client_id,
            "DA_CLIENT_SECRET": fake.client_secret,
            "STATE_DIR": tmp_path / "state",
        }
    )


async def test_sign_in_stores_working_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pages: list[httpx.Response] = []

    def browser(url: str) -> bool:  # the streamer's browser: sign in, allow, get redirected
        pages.append(httpx.get(url, follow_redirects=True, timeout=10))
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    with trio.fail_after(20):
        async with open_fake_da() as fake:
            settings = settings_for(fake, tmp_path)
            rc = await trio.to_thread.run_sync(
                auth_cli.main,
                settings,
                ["--port", "0", "--timeout", "15"],
                abandon_on_cancel=True,
            )
            assert rc == 0
            path = tmp_path / "state" / "da_tokens.json"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            stored = json.loads(path.read_text())
            assert stored["access_token"] in fake._access
            assert stored["refresh_token"]
            assert fake.token_grants["authorization_code"] == 1
    [page] = pages
    assert page.status_code == 200
    assert "Signed in" in page.text
    asked = parse_qs(urlsplit(str(page.history[0].request.url)).query)
    assert asked["scope"] == [settings.DA_SCOPES]
    assert asked["response_type"] == ["code"]
    assert asked["redirect_uri"][0].startswith("http://127.0.0.1:")
    out = capsys.readouterr().out
    assert "/oauth/authorize?" in out
    assert "signed in as FakeStreamer (user id 4242)" in out
    assert stored["access_token"] not in out


async def test_denied_sign_in_is_reported_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def browser(url: str) -> bool:  # the streamer clicks "Deny" on the consent page
        consent = httpx.get(url, timeout=10)
        assert "Allow" in consent.text
        httpx.get(url + "&approve=0", follow_redirects=True, timeout=10)
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    with trio.fail_after(20):
        async with open_fake_da(auto_approve=False) as fake:
            settings = settings_for(fake, tmp_path)
            rc = await trio.to_thread.run_sync(
                auth_cli.main,
                settings,
                ["--port", "0", "--timeout", "15"],
                abandon_on_cancel=True,
            )
    assert rc == 1
    assert "access_denied" in capsys.readouterr().err
    assert not (tmp_path / "state" / "da_tokens.json").exists()


def test_missing_app_credentials_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.model_validate({"STATE_DIR": tmp_path})
    assert auth_cli.main(settings, ["--no-browser"]) == 2
    assert "DA_CLIENT_ID" in capsys.readouterr().err


async def test_a_stray_request_does_not_end_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def browser(url: str) -> bool:
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        base = redirect.rsplit("/", 1)[0]
        assert httpx.get(f"{base}/favicon.ico", timeout=10).status_code == 404
        forged = httpx.get(f"{redirect}?code=x&state=wrong", timeout=10)
        assert forged.status_code == 400
        assert httpx.get(url, follow_redirects=True, timeout=10).status_code == 200
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    with trio.fail_after(20):
        async with open_fake_da() as fake:
            rc = await trio.to_thread.run_sync(
                auth_cli.main,
                settings_for(fake, tmp_path),
                ["--port", "0", "--timeout", "15"],
                abandon_on_cancel=True,
            )
    assert rc == 0
