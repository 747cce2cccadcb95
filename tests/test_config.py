"""Configuration: precedence, one clear line per bad key, secrets masked."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
from support import drawstreamd_bin

from drawstreamd import config

if TYPE_CHECKING:
    from pathlib import Path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_architecture() -> None:
    s = config.load()
    assert s.LLM_ENDPOINT == "http://127.0.0.1:11434/v1"
    assert s.LLM_MODEL_ID == "qwen2.5-coder:14b-instruct-q4_K_M"
    assert (s.CANVAS_W, s.CANVAS_H) == (96, 96)
    assert s.SHOW_DURATION_SEC == 90
    assert s.API_HOST == "127.0.0.1"
    assert s.STATE_DIR.name == "drawstreamd"


def test_precedence_flags_env_dotenv_toml(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = write(
        clean_env / "config" / "drawstreamd" / "config.toml",
        'SHOW_DURATION_SEC = 11\nFRAME_RATE = 30\nLOCALE = "en"\nLLM_MAX_TOKENS = 500\n',
    )
    assert config.load().SHOW_DURATION_SEC == 11  # the XDG default file is read
    write(clean_env / ".env", "SHOW_DURATION_SEC=22\nFRAME_RATE=40\n")
    monkeypatch.setenv("SHOW_DURATION_SEC", "33")
    s = config.load(None, STATE_DIR=clean_env / "flag-state")
    assert s.SHOW_DURATION_SEC == 33  # env beats .env and TOML
    assert s.FRAME_RATE == 40  # .env beats TOML
    assert s.LOCALE == "en"  # TOML beats the default
    assert clean_env / "flag-state" == s.STATE_DIR  # flags beat everything
    other = write(clean_env / "other.toml", "LLM_MAX_TOKENS = 700\n")
    assert config.load(other).LLM_MAX_TOKENS == 700  # --config replaces the XDG file
    assert toml.exists()


def test_every_bad_key_gets_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_TEMPERATURE", "hot")
    monkeypatch.setenv("FRAME_RATE", "0")
    monkeypatch.setenv("LLM_BACKEND", "gpt5")
    with pytest.raises(config.ConfigError) as err:
        config.load()
    lines = err.value.lines
    assert len(lines) == 3
    assert any(line.startswith("config: LLM_TEMPERATURE:") and "'hot'" in line for line in lines)
    assert any(line.startswith("config: FRAME_RATE:") for line in lines)
    assert any(line.startswith("config: LLM_BACKEND:") for line in lines)


def test_bad_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DA_USER_ID", "not-a-number-secret-42")
    with pytest.raises(config.ConfigError) as err:
        config.load()
    assert "DA_USER_ID" in str(err.value)


def test_toml_errors_are_one_line(clean_env: Path) -> None:
    broken = write(clean_env / "broken.toml", "SHOW_DURATION_SEC = = 3\n")
    with pytest.raises(config.ConfigError, match="invalid TOML"):
        config.load(broken)
    unknown = write(clean_env / "unknown.toml", "SHOW_DURATON_SEC = 3\n")
    with pytest.raises(config.ConfigError, match="unknown key SHOW_DURATON_SEC"):
        config.load(unknown)
    with pytest.raises(config.ConfigError, match="not found"):
        config.load(clean_env / "missing.toml")


def test_check_config_masks_secrets(clean_env: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(clean_env),
        "XDG_CONFIG_HOME": str(clean_env / "config"),
        "XDG_STATE_HOME": str(clean_env / "state"),
        "DA_ACCESS_TOKEN": "tok-very-secret-123",
        "DA_CLIENT_SECRET": "client-secret-456",
        "LLM_MODEL_ID": "tiny",
    }
    out = subprocess.run(
        [drawstreamd_bin(), "check-config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "tok-very-secret-123" not in out.stdout + out.stderr
    assert "client-secret-456" not in out.stdout + out.stderr
    assert "DA_ACCESS_TOKEN=********" in out.stdout
    assert "LLM_MODEL_ID=tiny" in out.stdout
    assert "API_TOKEN=(unset)" in out.stdout


def test_bad_config_exits_2_before_anything_starts(clean_env: Path) -> None:
    state = clean_env / "never-created"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(clean_env),
        "XDG_CONFIG_HOME": str(clean_env / "config"),
        "FRAME_RATE": "fast",
        "CANVAS_W": "-3",
    }
    proc = subprocess.run(
        [drawstreamd_bin(), "--headless", "--state-dir", str(state)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert all(line.startswith("drawstreamd: config: ") for line in lines)
    assert not state.exists()


def test_word_lists_are_comma_separated_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("GATEKEEPER_BLOCK_WORDS", "spoiler, спойлер,,")
    assert config.load().GATEKEEPER_BLOCK_WORDS == ["spoiler", "спойлер"]
    toml = write(clean_env / "words.toml", 'GATEKEEPER_ALLOW_WORDS = ["херувим", "cockatoo"]\n')
    assert config.load(toml).GATEKEEPER_ALLOW_WORDS == ["херувим", "cockatoo"]
