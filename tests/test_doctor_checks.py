"""The doctor's checks one by one, against the fakes and real files and sockets.

Donation Alerts: healthy, revoked, a missing scope (known from the sign-in, or only from the
server's refusal), an expired token refreshed (or left to the running daemon), unreachable,
too slow. The model server: down, the model missing, still loading, not accepting. Then the
socket path, the port, leaving loopback, the token files, the state dir and journal, the fonts,
and the runner itself (order, a check that crashes or hangs, a source check added later).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import trio
import trio.testing
from conftest_llama import llama_server  # noqa: F401
from da_support import settings_for

from drawstreamd.config import Settings
from drawstreamd.doctor import run, screen, sources, state, surfaces
from drawstreamd.doctor.donationalerts import donationalerts
from drawstreamd.doctor.llm import llm
from drawstreamd.doctor.result import Check, Context, Result, Status, fail, ok
from drawstreamd.render.hud import font_path
from drawstreamd.sources.donationalerts.oauth import Tokens, load_tokens, save_tokens
from drawstreamd.testing.fake_da import FakeDA, open_fake_da
from drawstreamd.testing.fake_da_http import ALL_SCOPES
from drawstreamd.testing.fake_llm import FakeLLM, unaccepting_listener

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import pytest
    from conftest_llama import LlamaServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def check(
    fn: Callable[[Context], Awaitable[list[Result]]], settings: Settings, **context: Any
) -> list[Result]:
    async with httpx.AsyncClient() as http:
        return await fn(Context(settings, http, **context))


def lines(results: list[Result]) -> list[tuple[str, Status, str]]:
    return [(r.name, r.status, r.detail) for r in results]


# -- Donation Alerts -------------------------------------------------------------------------
def da_settings(fake: FakeDA, state_dir: Path, **extra: Any) -> Settings:
    """Pointed at the fake, signed in only through the token file (as `drawstreamd auth`)."""
    return settings_for(fake, state_dir, "", "", **extra)


def sign_in(fake: FakeDA, state_dir: Path, scopes: str = ALL_SCOPES) -> Tokens:
    """What `drawstreamd auth` leaves behind after signing in with ``scopes``."""
    access, refresh = fake.issue_tokens(scopes)
    tokens = Tokens(
        access_token=access, refresh_token=refresh, scopes=scopes, client_id=fake.client_id
    )
    save_tokens(state_dir / "da_tokens.json", tokens)
    return tokens


async def test_da_signed_in_with_every_scope(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            sign_in(fake, tmp_path)
            results = await check(donationalerts, da_settings(fake, tmp_path))
    assert lines(results) == [
        ("Donation Alerts", Status.OK, "signed in as FakeStreamer (user id 4242)"),
        ("Donation Alerts scopes", Status.OK, ALL_SCOPES),
    ]


async def test_da_revoked_sign_in_fails_with_the_way_back(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            sign_in(fake, tmp_path)
            fake.revoke_refresh_tokens()
            [result] = await check(donationalerts, da_settings(fake, tmp_path))
    assert result.status is Status.FAIL
    assert result.detail == (
        "the sign-in is no longer valid (token endpoint said HTTP 400 invalid_grant: "
        "The refresh token is invalid.)"
    )
    assert result.fix == "run `drawstreamd auth` to sign in again"


async def test_da_scope_missing_from_the_sign_in(tmp_path: Path) -> None:
    """Signed in when DA_SCOPES had no catch-up scope; the configuration asks for it now."""
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            sign_in(fake, tmp_path, scopes="oauth-user-show oauth-donation-subscribe")
            signed, scopes = await check(donationalerts, da_settings(fake, tmp_path))
    assert signed.status is Status.OK
    assert scopes.status is Status.FAIL
    assert scopes.detail == (
        f"the sign-in in {tmp_path / 'da_tokens.json'} lacks oauth-donation-index "
        "(Donation Alerts refused the donation list)"
    )
    assert scopes.fix.startswith("run `drawstreamd auth` to sign in again")


async def test_da_scope_missing_is_found_by_asking_the_server(tmp_path: Path) -> None:
    """Tokens handed over in the configuration say nothing of their scopes: a 403 does."""
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            access, refresh = fake.issue_tokens("oauth-user-show oauth-donation-subscribe")
            settings = settings_for(fake, tmp_path, access, refresh)
            _, scopes = await check(donationalerts, settings)
    assert scopes.status is Status.FAIL
    assert scopes.detail == (
        "the sign-in in DA_ACCESS_TOKEN/DA_REFRESH_TOKEN lacks oauth-donation-index "
        "(Donation Alerts refused the donation list)"
    )


async def test_da_scopes_the_daemon_cannot_do_without(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            sign_in(fake, tmp_path)
            settings = da_settings(fake, tmp_path, DA_SCOPES="oauth-user-show")
            _, scopes = await check(donationalerts, settings)
    assert (scopes.status, scopes.detail) == (
        Status.FAIL,
        "DA_SCOPES lacks oauth-donation-subscribe, which drawstreamd needs to receive donations",
    )


async def test_da_scopes_from_the_token_itself(tmp_path: Path) -> None:
    """A JWT access token names its scopes (the ``scopes`` claim): that wins over the file."""
    import base64

    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    with trio.fail_after(15):
        async with open_fake_da() as fake:
            tokens = sign_in(fake, tmp_path)
            # the fake only knows its own token strings; reuse one as the JWT's signature part
            jwt = f"{b64({'alg': 'RS256'})}.{b64({'scopes': ['oauth-user-show']})}.sig"
            fake._access[jwt] = fake._access[tokens.access_token]
            save_tokens(
                tmp_path / "da_tokens.json",
                Tokens(
                    access_token=jwt,
                    refresh_token=tokens.refresh_token,
                    scopes=ALL_SCOPES,
                    client_id=fake.client_id,
                ),
            )
            _, scopes = await check(donationalerts, da_settings(fake, tmp_path))
    assert scopes.status is Status.FAIL
    assert "lacks oauth-donation-subscribe oauth-donation-index" in scopes.detail


async def test_da_expired_token_is_refreshed_and_saved(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            old = sign_in(fake, tmp_path)
            fake.expire_access_tokens()
            signed, scopes = await check(donationalerts, da_settings(fake, tmp_path))
            stored = load_tokens(tmp_path / "da_tokens.json")
            assert stored is not None
            assert stored.access_token != old.access_token
            assert stored.access_token in fake._access  # the daemon will start with a live one
    assert signed.detail == (
        "signed in as FakeStreamer (user id 4242) (its access token was refreshed and saved)"
    )
    assert scopes.status is Status.OK


async def test_da_expired_token_is_left_to_the_running_daemon(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            old = sign_in(fake, tmp_path)
            fake.expire_access_tokens()
            [result] = await check(donationalerts, da_settings(fake, tmp_path), daemon_pid=4711)
            assert fake.token_grants["refresh_token"] == 0
    stored = load_tokens(tmp_path / "da_tokens.json")
    assert stored is not None
    assert stored.refresh_token == old.refresh_token  # the daemon's refresh token still works
    assert result.status is Status.WARN
    assert "the running daemon (pid 4711) refreshes it itself" in result.detail


async def test_da_unreachable(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings.model_validate(
        {
            "DA_OAUTH_URL": f"http://127.0.0.1:{port}/oauth",
            "DA_API_URL": f"http://127.0.0.1:{port}/api/v1",
            "DA_ACCESS_TOKEN": "some-access-token",
            "STATE_DIR": tmp_path,
        }
    )
    with trio.fail_after(15):
        [result] = await check(donationalerts, settings)
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"cannot reach http://127.0.0.1:{port}/api/v1")
    assert "internet connection" in result.fix


async def test_da_too_slow_is_a_failure_not_a_hang(tmp_path: Path) -> None:
    with trio.fail_after(15):
        async with open_fake_da() as fake:
            sign_in(fake, tmp_path)
            fake.slow = 30.0
            [result] = await check(donationalerts, da_settings(fake, tmp_path))
    assert (result.status, result.detail) == (
        Status.FAIL,
        "no answer from Donation Alerts within 3 s",
    )


async def test_da_without_credentials_is_off(tmp_path: Path) -> None:
    settings = Settings.model_validate({"STATE_DIR": tmp_path})
    assert lines(await check(donationalerts, settings)) == [
        ("Donation Alerts", Status.OK, "off: no sign-in (`drawstreamd auth` signs in)")
    ]


# -- the model server ------------------------------------------------------------------------
def llm_settings(url: str, model: str = "fake-model") -> Settings:
    return Settings.model_validate({"LLM_ENDPOINT": url, "LLM_MODEL_ID": model})


async def test_llm_serving_the_model(nursery: trio.Nursery) -> None:
    url = await nursery.start(FakeLLM(model="fake-model").serve)
    with trio.fail_after(10):
        assert lines(await check(llm, llm_settings(url))) == [
            ("LLM", Status.OK, f"{url} answers and serves fake-model")
        ]


async def test_llm_model_missing_lists_what_is_served(nursery: trio.Nursery) -> None:
    url = await nursery.start(FakeLLM(model="llama3.2:3b").serve)
    with trio.fail_after(10):
        [result] = await check(llm, llm_settings(url, "qwen2.5-coder:14b"))
    assert result.status is Status.FAIL
    assert result.detail == f"{url} does not serve LLM_MODEL_ID=qwen2.5-coder:14b"
    assert result.fix.startswith("set LLM_MODEL_ID to one of the models it lists: llama3.2:3b;")


async def test_llm_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with trio.fail_after(10):
        [result] = await check(llm, llm_settings(url))
    assert (result.status, result.detail) == (
        Status.FAIL,
        f"nothing answers at {url} (connection refused)",
    )


async def test_llm_still_loading(nursery: trio.Nursery) -> None:
    fake = FakeLLM()
    url = await nursery.start(fake.serve)
    fake.models_status = 503
    with trio.fail_after(10):
        [result] = await check(llm, llm_settings(url))
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"{url}/models answered HTTP 503")
    assert result.fix.startswith("wait until the server has loaded its model")


async def test_llm_not_accepting_times_out(nursery: trio.Nursery) -> None:
    url = await nursery.start(unaccepting_listener)
    with trio.fail_after(10):
        [result] = await check(llm, llm_settings(url))
    assert (result.status, result.detail) == (
        Status.FAIL,
        f"{url} gives no answer within 3 s",
    )


async def test_llm_builtin_is_not_asked() -> None:
    settings = Settings.model_validate({"LLM_BACKEND": "builtin", "LLM_ENDPOINT": "http://x:1"})
    assert lines(await check(llm, settings)) == [
        ("LLM", Status.OK, "not used: LLM_BACKEND=builtin draws the builtin pictures only")
    ]


async def test_llm_against_the_real_llama_server(
    llama_server: LlamaServer,  # noqa: F811
) -> None:
    settings = llm_settings(llama_server.url, llama_server.model)
    with trio.fail_after(30):
        assert [r.status for r in await check(llm, settings)] == [Status.OK]
        [missing] = await check(llm, llm_settings(llama_server.url, "qwen2.5-coder:14b"))
    assert missing.status is Status.FAIL
    assert llama_server.model in missing.fix


# -- the control socket, the port, leaving loopback ------------------------------------------
def socket_settings(path: Path, **extra: Any) -> Settings:
    return Settings.model_validate(
        {"CONTROL_SOCKET": path, "STATE_DIR": path.parent / "state", **extra}
    )


async def test_socket_path_too_long(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 120) / "control.sock"
    [result] = await check(surfaces.control_socket, socket_settings(path))
    assert result.status is Status.FAIL
    assert "longer than 107 bytes" in result.detail


async def test_stale_socket_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # what a daemon killed with SIGKILL leaves behind
    [result] = await check(surfaces.control_socket, socket_settings(path))
    assert (result.status, result.detail) == (
        Status.OK,
        f"{path} is left from an earlier run; the daemon replaces it",
    )


async def test_another_program_on_the_socket(tmp_path: Path, nursery: trio.Nursery) -> None:
    path = tmp_path / "control.sock"
    listener = trio.socket.socket(socket.AF_UNIX)
    await listener.bind(str(path))
    listener.listen(1)

    async def greet() -> None:
        conn, _ = await listener.accept()
        with conn:
            await conn.send(b"220 smtp ready\r\n")

    nursery.start_soon(greet)
    with trio.fail_after(10):
        [result] = await check(surfaces.control_socket, socket_settings(path))
    listener.close()
    assert result.status is Status.FAIL
    assert result.detail == f"another program listens on {path} (it said '220 smtp ready\\r')"


async def test_a_silent_listener_on_the_socket(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX) as hung:  # accepts (the backlog) but never greets
        hung.bind(str(path))
        hung.listen(1)
        with trio.fail_after(10):
            [result] = await check(surfaces.control_socket, socket_settings(path))
    assert result.status is Status.FAIL
    assert result.detail == f"something listens on {path} but says nothing within 2 s"


async def test_port_of_a_daemon_that_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(1)
        port = hung.getsockname()[1]
        settings = Settings.model_validate({"API_PORT": port, "STATE_DIR": tmp_path})
        with trio.fail_after(10):
            [result] = await check(surfaces.http_port, settings, daemon_pid=4711)
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"127.0.0.1:{port} is taken, and /api/v1/health gives no")
    assert "(pid 4711) may be hung" in result.detail


async def test_socket_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    [result] = await check(surfaces.control_socket, socket_settings(shared / "control.sock"))
    assert result.status is Status.WARN
    assert "writable by others (mode 0777)" in result.detail
    assert "$XDG_RUNTIME_DIR/drawstreamd" in result.fix


async def test_socket_in_a_directory_still_to_make(tmp_path: Path) -> None:
    path = tmp_path / "run" / "drawstreamd" / "control.sock"
    [result] = await check(surfaces.control_socket, socket_settings(path))
    assert (result.status, result.detail) == (
        Status.OK,
        f"{path} is free; the daemon creates it (mode 0600)",
    )
    assert not path.parent.exists()


async def test_port_on_an_address_this_machine_lacks(tmp_path: Path) -> None:
    settings = Settings.model_validate({"API_HOST": "192.0.2.7", "STATE_DIR": tmp_path})
    [result] = await check(surfaces.http_port, settings)
    assert (result.status, result.detail) == (
        Status.FAIL,
        "API_HOST 192.0.2.7 is not an address of this machine",
    )


async def test_port_taken_suggests_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = Settings.model_validate({"API_PORT": port, "STATE_DIR": tmp_path})
        with trio.fail_after(10):
            [result] = await check(surfaces.http_port, settings)
    assert result.status is Status.FAIL
    suggested = int(result.fix.rsplit("(e.g. ", 1)[1].rstrip(")"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", suggested))  # it really is free


def exposure_settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


async def test_loopback_stays_home() -> None:
    assert lines(await check(surfaces.exposure, exposure_settings(API_HOST="::1"))) == [
        ("network exposure", Status.OK, "the HTTP API listens on loopback only (::1)")
    ]


STRONG = "Zq3v9Xw_Lr2kP8sTn5yBc7mHd4Gf6Je1Ua0Ri-Ko9Qp"
"""43 characters of base64url, as ``secrets.token_urlsafe(32)`` makes them."""


async def test_network_without_a_long_token_fails_and_plain_http_warns(tmp_path: Path) -> None:
    short, plain, wildcard = await check(
        surfaces.exposure,
        exposure_settings(API_HOST="0.0.0.0", API_TOKEN="hunter2", STATE_DIR=tmp_path),
    )
    assert (short.name, short.status) == ("network exposure", Status.FAIL)
    assert short.detail.startswith("API_TOKEN is ")
    assert "API_HOST 0.0.0.0 is a network address" in short.detail
    assert plain.status is Status.WARN
    assert "plain HTTP on a network address" in plain.detail
    assert plain.fix.startswith("set API_TLS_CERT and API_TLS_KEY")
    assert wildcard.status is Status.WARN
    assert "API_ALLOWED_HOSTS" in wildcard.fix
    # no API_TOKEN: the daemon generates a strong one, so only the plain HTTP is left
    [generated] = await check(
        surfaces.exposure, exposure_settings(API_HOST="192.168.1.5", STATE_DIR=tmp_path)
    )
    assert generated.status is Status.WARN
    # a weak token left in the token file is found too
    (tmp_path / "api_token").write_text("password\n")
    weak, _ = await check(
        surfaces.exposure, exposure_settings(API_HOST="192.168.1.5", STATE_DIR=tmp_path)
    )
    assert weak.status is Status.FAIL
    assert weak.detail.startswith("the API token is ")
    strong = await check(
        surfaces.exposure,
        exposure_settings(API_HOST="0.0.0.0", API_TOKEN=STRONG, STATE_DIR=tmp_path),
    )
    assert [r.status for r in strong] == [Status.WARN, Status.WARN]  # no token problem left


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=drawstreamd.test", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


async def test_tls_files_are_checked(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    base = {"API_HOST": "192.168.1.5", "API_TOKEN": STRONG, "STATE_DIR": tmp_path}
    [tls] = await check(
        surfaces.exposure,
        exposure_settings(**base, API_TLS_CERT=cert, API_TLS_KEY=key),
    )
    assert (tls.status, tls.detail) == (Status.OK, f"HTTPS on 192.168.1.5 with {cert}")
    half, _ = await check(surfaces.exposure, exposure_settings(**base, API_TLS_CERT=cert))
    assert (half.status, half.fix) == (Status.FAIL, "set both, or neither")
    [swapped] = await check(
        surfaces.exposure,
        exposure_settings(**base, API_TLS_CERT=key, API_TLS_KEY=cert),
    )
    assert swapped.status is Status.FAIL
    assert swapped.detail.startswith(f"the certificate {key} with the key {cert} does not load")


# -- the state dir ---------------------------------------------------------------------------
async def test_state_dir_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = Settings.model_validate({"STATE_DIR": blocker / "state"})
    [result] = await check(state.state_dir, settings)
    assert result.status is Status.FAIL
    assert result.detail == f"{blocker / 'state'} cannot be created: {blocker} is not a directory"


async def test_damaged_journal_is_named_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "journal.sqlite3").write_bytes(b"this is not SQLite" * 100)
    settings = Settings.model_validate({"STATE_DIR": tmp_path})
    [result] = await check(state.journal, settings)
    assert result.status is Status.FAIL
    assert "not a usable SQLite database" in result.detail
    assert result.fix.startswith(f"move it aside (`mv {tmp_path / 'journal.sqlite3'} ")


async def test_healthy_journal_opens(tmp_path: Path) -> None:
    from drawstreamd.journal import Journal

    Journal.open(tmp_path / "journal.sqlite3").close()
    [result] = await check(state.journal, Settings.model_validate({"STATE_DIR": tmp_path}))
    assert result.status is Status.OK


def test_lock_names_the_daemon_holding_it(tmp_path: Path) -> None:
    import fcntl

    assert state.daemon_pid(tmp_path) is None
    fd = os.open(tmp_path / "drawstreamd.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        assert state.daemon_pid(tmp_path) is None  # a lock file nobody holds: no daemon
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"31337\n")
        assert state.daemon_pid(tmp_path) == 31337
    finally:
        os.close(fd)


async def test_token_files_with_api_token_configured(tmp_path: Path) -> None:
    (tmp_path / "api_token").write_text("old\n")
    (tmp_path / "api_token").chmod(0o640)  # not used while API_TOKEN is set
    settings = Settings.model_validate({"STATE_DIR": tmp_path, "API_TOKEN": "t" * 40})
    [result] = await check(state.token_files, settings)
    assert (result.status, result.detail) == (
        Status.OK,
        "none yet (the daemon and `drawstreamd auth` write them mode 0600); "
        "API_TOKEN is set, so no api_token file is used",
    )


# -- fonts -----------------------------------------------------------------------------------
def test_the_shipped_fonts_cover_latin_and_cyrillic() -> None:
    result = screen.check_fonts(screen.hud_fonts(), screen.ALPHABETS)
    assert (result.status, result.detail) == (
        Status.OK,
        "Inter Regular and Inter Bold load and cover Latin, Cyrillic",
    )


def test_a_damaged_font_fails(tmp_path: Path) -> None:
    broken = tmp_path / "Inter-Regular.otf"
    broken.write_bytes(Path(font_path(False)).read_bytes()[:500])
    result = screen.check_fonts({"Inter Regular": str(broken)}, screen.ALPHABETS)
    assert result.status is Status.FAIL
    assert result.detail.startswith(f"Inter Regular ({broken}) does not load")
    assert "reinstall drawstreamd" in result.fix


def test_a_font_without_a_script_names_the_letters() -> None:
    result = screen.check_fonts(screen.hud_fonts(), {"Georgian": "აბგ"})
    assert (result.status, result.detail) == (
        Status.FAIL,
        f"Inter Regular ({font_path(False)}) has no glyphs for Georgian: აბგ",
    )


# -- the runner ------------------------------------------------------------------------------
async def test_checks_run_at_once_and_report_in_order(autojump_clock: trio.abc.Clock) -> None:
    async def slow(ctx: Context) -> list[Result]:
        await trio.sleep(2)
        return [ok("slow", "done")]

    async def quick(ctx: Context) -> list[Result]:
        return [ok("quick", "done")]

    async def crashes(ctx: Context) -> list[Result]:
        raise KeyError("oops")

    async def hangs(ctx: Context) -> list[Result]:
        await trio.sleep_forever()
        raise AssertionError

    todo = [Check("slow", slow), Check("crash", crashes), Check("hang", hangs), Check("q", quick)]
    start = trio.current_time()
    async with httpx.AsyncClient() as http:
        results = await run.run_checks(Context(None, http), todo)
    assert trio.current_time() - start == run.CHECK_DEADLINE_SEC  # concurrently, not in turn
    assert lines(results) == [
        ("slow", Status.OK, "done"),
        ("crash", Status.FAIL, "the check itself failed (KeyError: 'oops')"),
        ("hang", Status.FAIL, f"did not finish within {run.CHECK_DEADLINE_SEC:g} s"),
        ("quick", Status.OK, "done"),
    ]


async def test_a_source_adds_its_own_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def kick(ctx: Context) -> list[Result]:
        return [fail("Kick", "signed out", "run `drawstreamd auth kick`")]

    monkeypatch.setattr(sources, "SOURCE_CHECKS", [*sources.SOURCE_CHECKS, Check("Kick", kick)])
    settings = Settings.model_validate(
        {"STATE_DIR": tmp_path, "LLM_BACKEND": "builtin", "API_PORT": 0}
    )
    names = [r.name for r in await run.diagnose(settings, headless=True)]
    assert names[names.index("LLM") :] == [
        "LLM",
        "Donation Alerts",
        "Twitch",
        "StreamElements",
        "DonatePay",
        "Kick",
        "display",
        "fonts",
    ]


def test_report_falls_back_to_ascii_marks() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    run.report([ok("a", "fine"), fail("b", "broken", "mend it")], out)
    out.flush()
    raw = out.buffer
    assert isinstance(raw, io.BytesIO)
    text = raw.getvalue().decode("ascii")
    assert text.splitlines()[:3] == ["+ a: fine", "x b: broken", "    fix: mend it"]
