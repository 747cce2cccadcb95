"""OAuth against the fake token endpoint: refresh before expiry, once per 401, the 0600 file."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from typing import TYPE_CHECKING

import httpx
import pytest
import trio
from da_support import settings_for
from pydantic import SecretStr

from drawstreamd.config import Settings
from drawstreamd.sources.donationalerts.oauth import (
    AuthRevoked,
    OAuthError,
    TokenManager,
    Tokens,
    initial_tokens,
    load_tokens,
    save_tokens,
    tokens_from_settings,
)
from drawstreamd.testing.fake_da import open_fake_da

if TYPE_CHECKING:
    from pathlib import Path


def jwt(claims: dict[str, int]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(dict(claims))}.c2ln"


def test_token_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "state" / "da_tokens.json"
    path.parent.mkdir()
    path.write_text("{}")
    os.chmod(path, 0o644)
    tokens = Tokens(
        access_token="a",
        refresh_token="r",
        expires_at=5.0,
        lifetime=9.0,
        scopes="oauth-user-show",
        client_id="c",
    )
    save_tokens(path, tokens)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_tokens(path) == tokens


def test_broken_token_file_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "da_tokens.json").write_text("{not json")
    settings = Settings.model_validate(
        {"STATE_DIR": tmp_path, "DA_ACCESS_TOKEN": "conf-a", "DA_REFRESH_TOKEN": "conf-r"}
    )
    assert initial_tokens(settings).access_token == "conf-a"
    assert "da token file is not valid" in caplog.text
    assert "conf-a" not in caplog.text


def test_stored_tokens_of_another_app_are_not_used(tmp_path: Path) -> None:
    save_tokens(
        tmp_path / "da_tokens.json",
        Tokens(access_token="stored", refresh_token="r", client_id="other-app"),
    )
    settings = Settings.model_validate(
        {"STATE_DIR": tmp_path, "DA_CLIENT_ID": "my-app", "DA_ACCESS_TOKEN": "conf"}
    )
    assert initial_tokens(settings).access_token == "conf"
    settings = Settings.model_validate(
        {"STATE_DIR": tmp_path, "DA_CLIENT_ID": "other-app", "DA_ACCESS_TOKEN": "conf"}
    )
    assert initial_tokens(settings).access_token == "stored"


def test_expiry_is_read_from_a_jwt_access_token(tmp_path: Path) -> None:
    token = jwt({"iat": 1_000, "exp": 1_000 + 86_400, "sub": 3})
    settings = Settings.model_validate({"STATE_DIR": tmp_path, "DA_ACCESS_TOKEN": token})
    t = tokens_from_settings(settings)
    assert (t.expires_at, t.lifetime) == (87_400.0, 86_400.0)


async def test_refresh_before_expiry_keeps_the_scopes(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_fake_da() as fake, httpx.AsyncClient() as http:
            access, refresh = fake.issue_tokens("oauth-user-show oauth-donation-subscribe")
            settings = settings_for(
                fake,
                tmp_path,
                access,
                refresh,
                DA_SCOPES="oauth-user-show oauth-donation-subscribe",
            )
            now = time.time()
            tokens = Tokens(
                access_token=access,
                refresh_token=refresh,
                expires_at=now + 60,
                lifetime=3600,
                scopes=settings.DA_SCOPES,
                client_id=fake.client_id,
            )
            manager = TokenManager(settings, http, tokens)
            fresh = await manager.access_token()  # 60 s left of an hour: refresh now
            assert fresh != access
            assert fake.token_grants["refresh_token"] == 1
            assert fake._access[fresh].scopes == {"oauth-user-show", "oauth-donation-subscribe"}
            assert await manager.access_token() == fresh  # a fresh token is not refreshed again
            assert fake.token_grants["refresh_token"] == 1
            stored = load_tokens(tmp_path / "da_tokens.json")
            assert stored is not None
            assert stored.access_token == fresh


async def test_concurrent_401s_share_one_refresh(tmp_path: Path) -> None:
    with trio.fail_after(10):
        async with open_fake_da() as fake, httpx.AsyncClient() as http:
            access, refresh = fake.issue_tokens()
            settings = settings_for(fake, tmp_path, access, refresh)
            manager = TokenManager(settings, http, tokens_from_settings(settings))
            results: list[str] = []

            async def rejected() -> None:
                results.append(await manager.refresh(access))

            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(rejected)
            assert len(set(results)) == 1
            assert fake.token_grants["refresh_token"] == 1


@pytest.mark.parametrize(
    ("fault", "fatal", "words"),
    [
        ("revoke", True, "invalid_grant"),
        ("bad_secret", True, "invalid_client"),
        ("server_error", False, "HTTP 500"),
    ],
)
async def test_token_endpoint_failures(tmp_path: Path, fault: str, fatal: bool, words: str) -> None:
    with trio.fail_after(10):
        async with open_fake_da() as fake, httpx.AsyncClient() as http:
            access, refresh = fake.issue_tokens()
            settings = settings_for(fake, tmp_path, access, refresh)
            if fault == "revoke":
                fake.revoke_refresh_tokens()
            elif fault == "bad_secret":
                settings = settings.model_copy(update={"DA_CLIENT_SECRET": SecretStr("wrong")})
            else:
                fake.fail_next("/oauth/token", 500)
            manager = TokenManager(settings, http, tokens_from_settings(settings))
            with pytest.raises(OAuthError) as caught:
                await manager.refresh(access)
            assert isinstance(caught.value, AuthRevoked) is fatal
            assert words in str(caught.value)
            for secret in (access, refresh, fake.client_secret):
                assert secret not in str(caught.value)
            assert manager.tokens.access_token == access  # nothing half-replaced


async def test_no_refresh_token_is_a_clear_sign_in_error(tmp_path: Path) -> None:
    settings = Settings.model_validate({"STATE_DIR": tmp_path, "DA_ACCESS_TOKEN": "only-access"})
    async with httpx.AsyncClient() as http:
        manager = TokenManager(settings, http, tokens_from_settings(settings))
        with pytest.raises(AuthRevoked, match="no refresh token"):
            await manager.refresh("only-access")
