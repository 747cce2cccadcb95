"""The pure parts of the API's protection: tokens, exposure, Host and Origin, refusal logging,
wrong-guess limits and sign-in codes (no server; the clock is passed in)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
import trio

from drawstreamd import config
from drawstreamd.control.access import AccessPolicy, RefusalLog, page_base
from drawstreamd.control.auth import (
    Credentials,
    HttpConfigError,
    exposure_findings,
    token_weakness,
)
from drawstreamd.control.ratelimit import WrongCredentials, client_key

STRONG = secrets.token_hex(32)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- tokens --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_urlsafe(32),  # what the daemon generates
        lambda: secrets.token_hex(32),  # openssl rand -hex 32
        lambda: secrets.token_hex(32).upper(),
        lambda: __import__("base64").b64encode(secrets.token_bytes(32)).decode(),  # rand -base64
    ],
    ids=["urlsafe", "hex", "HEX", "base64"],
)
def test_32_random_bytes_in_every_usual_spelling_are_strong(make: object) -> None:
    assert callable(make)
    weak = [t for t in (make() for _ in range(300)) if token_weakness(t) is not None]
    # base64 of 32 bytes now and then has no digit (1 in ~1500): it may be called short
    assert len(weak) <= 2, [(t, token_weakness(t)) for t in weak]


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("s3cret", "too short"),
        (secrets.token_hex(31), "too short"),  # 31 bytes
        (secrets.token_urlsafe(24), "too short"),
        ("a" * 100, "repeats itself"),
        ("0" * 64, "repeats itself"),
        ("correcthorsebatterystaple" * 3, "repeats itself"),
        ("0123456789abcdef" * 4, "repeats itself"),
        ("abcabcabdabdabeabeabfabfacaacbacc" * 2, "repeats itself"),
        ("aAbB1-" * 2 + "aA" + "bB1-aAbB" * 5 + "c", "low in entropy"),
    ],
)
def test_short_or_made_up_tokens_are_weak(token: str, why: str) -> None:
    weakness = token_weakness(token)
    assert weakness is not None
    assert why in weakness


def settings(**overrides: object) -> config.Settings:
    return config.load(None, **overrides)


def test_loopback_needs_nothing_more() -> None:
    assert exposure_findings(settings(), "short") == []
    assert exposure_findings(settings(API_HOST="::1"), None) == []


def test_a_network_address_needs_a_strong_token_and_warns_about_plain_http() -> None:
    found = exposure_findings(settings(API_HOST="192.168.1.5"), "s3cret")
    assert [f.fatal for f in found] == [True, False]
    assert "too short" in found[0].problem
    assert "openssl rand -hex 32" in str(found[0])
    assert found[1].problem.startswith("plain HTTP on a network address")
    assert "API_TLS_CERT" in found[1].fix
    found = exposure_findings(settings(API_HOST="192.168.1.5"), STRONG)
    assert [f.problem.split(" (")[0] for f in found] == ["plain HTTP on a network address"]


def test_tls_silences_the_plain_http_warning_and_half_of_it_is_fatal(tmp_path: Path) -> None:
    both = settings(API_HOST="stream.lan", API_TLS_CERT=tmp_path / "c", API_TLS_KEY=tmp_path / "k")
    assert exposure_findings(both, STRONG) == []
    half = exposure_findings(settings(API_TLS_CERT=tmp_path / "c"), STRONG)
    assert [(f.fatal, f.problem) for f in half] == [
        (True, "API_TLS_CERT is set but API_TLS_KEY is not")
    ]


def test_every_address_without_allowed_hosts_says_what_to_list() -> None:
    found = exposure_findings(settings(API_HOST="0.0.0.0"), STRONG)
    assert "API_ALLOWED_HOSTS" in found[-1].fix
    named = exposure_findings(settings(API_HOST="0.0.0.0", API_ALLOWED_HOSTS="pc.lan"), STRONG)
    assert all("API_ALLOWED_HOSTS" not in f.fix for f in named)


# -- Host and Origin -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8765", True),
        ("localhost", True),
        ("LOCALHOST:8765", True),
        ("localhost.", True),
        ("[::1]", True),
        ("[::1]:8765", True),
        ("127.0.0.2:8765", True),  # an address is not a name a page can rebind
        ("stream-pc.lan:8765", True),  # API_ALLOWED_HOSTS
        ("192.168.1.5", True),  # API_HOST
        ("evil.example.com", False),
        ("evil.example.com:8765", False),
        ("localhost.evil.example.com", False),
        ("127.0.0.1.nip.io", False),
        ("192.168.1.6", False),
        ("", False),
        (None, False),
        ("::1", True),  # without its brackets, still the loopback address
        ("::1:8765", False),  # that is another address
        ("[::1", False),
        ("localhost:http", False),
        ("local host", False),
    ],
)
def test_host_check(host: str | None, allowed: bool) -> None:
    s = settings(API_HOST="192.168.1.5", API_ALLOWED_HOSTS="Stream-PC.lan")
    assert AccessPolicy.from_settings(s, tls=False).host_allowed(host) is allowed


def test_a_wildcard_api_host_is_not_a_name_to_answer_for() -> None:
    policy = AccessPolicy.from_settings(settings(API_HOST="0.0.0.0"), tls=False)
    assert not policy.host_allowed("0.0.0.0:8765")
    assert policy.host_allowed("127.0.0.1:8765")


@pytest.mark.parametrize(
    ("origin", "tls", "allowed"),
    [
        ("http://127.0.0.1:8765", False, True),
        ("http://localhost:8765", False, True),
        ("http://[::1]:8765", False, True),
        ("http://stream-pc.lan:8765", False, True),
        ("https://stream-pc.lan:8765", True, True),
        ("http://stream-pc.lan:8765", True, False),  # the daemon serves https
        ("https://127.0.0.1:8765", False, False),
        ("http://127.0.0.1:9999", False, False),  # another local service
        ("http://127.0.0.1", False, False),
        ("https://mod.example.com", False, True),  # API_ALLOWED_ORIGINS
        ("https://mod.example.com:443", False, True),
        ("http://mod.example.com", False, False),
        ("http://evil.example.com", False, False),
        ("http://evil.example.com:8765", False, False),
        ("null", False, False),
        ("file://", False, False),
        ("http://127.0.0.1:8765/path", False, False),
    ],
)
def test_origin_check(origin: str, tls: bool, allowed: bool) -> None:
    s = settings(API_ALLOWED_HOSTS="stream-pc.lan", API_ALLOWED_ORIGINS="https://mod.example.com")
    assert AccessPolicy.from_settings(s, tls=tls).origin_allowed(origin, 8765) is allowed


def test_a_local_file_page_needs_null_listed() -> None:
    plain = AccessPolicy.from_settings(settings(), tls=False)
    assert not plain.origin_allowed("null", 8765)
    opened = AccessPolicy.from_settings(settings(API_ALLOWED_ORIGINS="null"), tls=False)
    assert opened.origin_allowed("null", 8765)
    assert not opened.origin_allowed("http://evil.example.com", 8765)


def test_page_base_is_an_address_the_other_device_can_use() -> None:
    assert page_base(settings(), False, 8765) == "http://127.0.0.1:8765"
    assert page_base(settings(API_HOST="::1"), True, 1) == "https://[::1]:1"
    assert page_base(settings(API_HOST="0.0.0.0"), False, 8765) == "http://127.0.0.1:8765"
    lan = settings(API_HOST="0.0.0.0", API_ALLOWED_HOSTS="pc.lan,192.168.1.5")
    assert page_base(lan, True, 8765) == "https://pc.lan:8765"
    assert page_base(lan, True, 8765, "192.168.1.5") == "https://192.168.1.5:8765"
    assert page_base(lan, True, 8765, "localhost") == "https://localhost:8765"
    with pytest.raises(ValueError, match="API_ALLOWED_HOSTS"):
        page_base(lan, True, 8765, "evil.example.com")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("API_ALLOWED_HOSTS", "http://pc.lan", "is not a host name"),
        ("API_ALLOWED_HOSTS", "pc.lan,*", "'*' is not a host name"),
        ("API_ALLOWED_ORIGINS", "pc.lan", "is not an origin"),
        ("API_ALLOWED_ORIGINS", "https://pc.lan/mod", "is not an origin"),
    ],
)
def test_bad_allowed_entries_are_one_clear_config_error(key: str, value: str, message: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        settings(**{key: value})
    assert len(err.value.lines) == 1
    assert key in err.value.lines[0]
    assert message in err.value.lines[0]


def test_refusals_are_logged_at_most_once_a_minute_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    refusals = RefusalLog(clock=clock)
    with caplog.at_level(logging.WARNING, "drawstreamd.http"):
        refusals.refused("a request for Host 'a'")
        for n in range(5):
            clock.now += 10
            refusals.refused(f"a request for Host 'b{n}'")
        clock.now += 10.1  # a minute and a little after the first line
        refusals.refused("a request for Host 'c'")
        clock.now += 61
        refusals.refused("a request for Host 'd'")
    assert [r.getMessage() for r in caplog.records] == [
        "HTTP API: refused a request for Host 'a'",
        "HTTP API: refused a request for Host 'c' (and 5 more refused since the last such line)",
        "HTTP API: refused a request for Host 'd'",
    ]


# -- wrong guesses -------------------------------------------------------------------------------
def test_ten_wrong_guesses_a_minute_lock_an_address_until_the_minute_passes() -> None:
    wrong = WrongCredentials()
    for n in range(10):
        assert wrong.locked_for("a", 100.0 + n) == 0.0
        wrong.record("a", 100.0 + n)
    assert wrong.locked_for("a", 109.5) == pytest.approx(50.5)
    assert wrong.locked_for("b", 109.5) == 0.0  # another address is not locked
    assert wrong.locked_for("a", 159.9) > 0
    assert wrong.locked_for("a", 160.0) == 0.0  # the first guess is a minute old
    wrong.record("a", 160.0)
    assert wrong.locked_for("a", 160.0) > 0  # 10 within the last minute again
    assert wrong.locked_for("a", 1000.0) == 0.0


def test_slow_guessing_never_locks() -> None:
    wrong = WrongCredentials()
    for n in range(100):
        wrong.record("a", n * 7.0)
        assert wrong.locked_for("a", n * 7.0) == 0.0


def test_memory_for_wrong_guesses_stays_bounded() -> None:
    wrong = WrongCredentials(max_tracked=50)
    for n in range(5000):
        wrong.record(f"10.0.{n // 256}.{n % 256}", 0.0)
    assert len(wrong._seen) == 50


def test_an_ipv6_client_counts_as_its_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("127.0.0.1") == "127.0.0.1"
    assert client_key("::1") == "::1"
    assert client_key(None) == "?"


# -- the credentials in memory -------------------------------------------------------------------
def test_a_sign_in_code_works_once_and_expires(tmp_path: Path) -> None:
    clock = Clock()
    creds = Credentials(STRONG, path=tmp_path / "api_token", code_ttl=600, clock=clock)
    code = creds.issue_code()
    assert len(code) >= 20
    assert creds.redeem("x" + code) is None
    assert creds.redeem(code) == STRONG
    assert creds.redeem(code) is None  # spent
    late = creds.issue_code()
    clock.now += 600
    assert creds.redeem(late) is None  # expired
    codes = [creds.issue_code() for _ in range(40)]  # only the newest 32 are kept
    assert creds.redeem(codes[0]) is None
    assert creds.redeem(codes[-1]) == STRONG


async def test_rotation_replaces_the_token_ends_old_codes_and_wakes_sockets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "api_token"
    path.write_text(STRONG + "\n")
    creds = Credentials(STRONG, path=path)
    code = creds.issue_code()
    rotated = creds.rotation()
    new = creds.rotate()
    assert new != STRONG
    assert token_weakness(new) is None
    assert rotated.is_set()
    assert not creds.rotation().is_set()
    assert creds.matches(new)
    assert not creds.matches(STRONG)
    assert path.read_text() == new + "\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert creds.redeem(code) is None
    with trio.fail_after(1):
        await rotated.wait()


def test_a_configured_token_cannot_rotate() -> None:
    creds = Credentials(STRONG, path=None)
    with pytest.raises(HttpConfigError, match=r"API_TOKEN.*change it there"):
        creds.rotate()
    assert creds.matches(STRONG)


def test_the_phone_setup_in_docs_security_md_is_safe(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    toml_text = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "config.toml"
    path.write_text(toml_text)
    s = config.load(path)
    assert s.API_HOST == "0.0.0.0"
    assert exposure_findings(s, secrets.token_urlsafe(32)) == []
    policy = AccessPolicy.from_settings(s, tls=True)
    assert policy.host_allowed("stream-pc.lan:8765")
    assert policy.origin_allowed("https://192.168.1.5:8765", 8765)
    assert not policy.host_allowed("evil.example.com")
