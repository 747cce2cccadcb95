"""Configuration: pydantic-settings over the environment, a ``.env`` file and a TOML file.

Precedence, highest first:

1. command-line flags (``--state-dir``, ``--socket``…), passed in as overrides;
2. environment variables (``LLM_MODEL_ID=…``);
3. a ``.env`` file in the working directory;
4. the TOML file: ``--config PATH``, else ``$XDG_CONFIG_HOME/drawstreamd/config.toml``
   (``~/.config/drawstreamd/config.toml``);
5. the defaults below.

Keys are the same everywhere: ``LLM_MODEL_ID`` in the environment, in ``.env`` and in TOML.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)


class ConfigError(Exception):
    """Bad configuration: ``lines`` holds one message per bad key."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def default_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "drawstreamd" / "config.toml"


def default_state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "drawstreamd"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        validate_default=True,
    )

    # Donation Alerts
    DA_OAUTH_URL: str = "https://www.donationalerts.com/oauth"
    DA_API_URL: str = "https://www.donationalerts.com/api/v1"
    DA_WS_URL: str = "wss://centrifugo.donationalerts.com/connection/websocket"
    DA_CLIENT_ID: str = ""
    DA_CLIENT_SECRET: SecretStr = SecretStr("")
    DA_ACCESS_TOKEN: SecretStr = SecretStr("")
    DA_REFRESH_TOKEN: SecretStr = SecretStr("")
    DA_USER_ID: int | None = None
    DA_REST_POLL_INTERVAL_SEC: float = Field(10.0, ge=1.0, le=3600.0)
    DA_SCOPES: str = "oauth-user-show oauth-donation-subscribe oauth-donation-index"
    # Twitch: channel-point redemptions of the daemon's own reward, and cheers, over EventSub
    TWITCH_CLIENT_ID: str = ""
    TWITCH_AUTH_URL: str = "https://id.twitch.tv/oauth2"
    TWITCH_API_URL: str = "https://api.twitch.tv/helix"
    TWITCH_EVENTSUB_URL: str = "wss://eventsub.wss.twitch.tv/ws"
    TWITCH_ACCESS_TOKEN: SecretStr = SecretStr("")
    TWITCH_REFRESH_TOKEN: SecretStr = SecretStr("")
    TWITCH_SCOPES: str = "channel:manage:redemptions bits:read"
    TWITCH_REWARD_TITLE: str = Field("Draw something", min_length=1, max_length=45)
    TWITCH_REWARD_PROMPT: str = Field("What should I draw?", max_length=200)
    TWITCH_REWARD_COST: int = Field(500, ge=1)
    TWITCH_REWARD_MAX_PER_STREAM: int = Field(0, ge=0, description="0: no limit")
    TWITCH_REWARD_MAX_PER_USER_PER_STREAM: int = Field(0, ge=0, description="0: no limit")
    TWITCH_REWARD_COOLDOWN_SEC: int = Field(0, ge=0, le=604800, description="0: none")
    TWITCH_MIN_BITS: int = Field(
        100, ge=1, description="cheers with fewer bits are not drawing requests"
    )

    # StreamElements: tips from the Astro socket, catch-up from the tips list
    SE_JWT: SecretStr = SecretStr("")
    SE_OAUTH_TOKEN: SecretStr = SecretStr("")
    SE_CHANNEL_ID: str = Field("", description="the channel _id (asked of /channels/me if empty)")
    SE_API_URL: str = "https://api.streamelements.com/kappa/v2"
    SE_WS_URL: str = "wss://astro.streamelements.com"
    SE_POLL_INTERVAL_SEC: float = Field(60.0, ge=1.0, le=3600.0)

    # DonatePay: its Centrifugo socket rings, the transactions list says what came
    DP_API_KEY: SecretStr = SecretStr("")
    DP_API_URL: str = Field(
        "https://donatepay.ru/api", description="holds /v1/… and /v2/…; EU accounts: donatepay.eu"
    )
    DP_WS_URL: str = "wss://centrifugo.donatepay.ru:43002/connection/websocket"
    DP_POLL_INTERVAL_SEC: float = Field(20.0, ge=1.0, le=3600.0)
    DP_REQUEST_INTERVAL_SEC: float = Field(
        20.0, ge=0.05, le=600.0, description="least time between two calls of one API method"
    )

    # the smallest donation drawn, per currency: one number for all ("50"), or per currency
    # ("RUB=50,USD=1,BITS=100,POINTS=0"; a bare number is the catch-all); a table in TOML
    DRAW_MIN_AMOUNT: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)

    # The planner
    LLM_BACKEND: Literal["openai", "builtin"] = "openai"
    LLM_ENDPOINT: str = "http://127.0.0.1:11434/v1"
    LLM_MODEL_ID: str = "qwen2.5-coder:14b-instruct-q4_K_M"
    LLM_API_KEY: SecretStr = SecretStr("")
    LLM_TEMPERATURE: float = Field(0.2, ge=0.0, le=2.0)
    LLM_MAX_TOKENS: int = Field(2048, ge=64, le=32768)
    LLM_TIMEOUT_SEC: float = Field(60.0, gt=0.0, le=600.0)
    LLM_ATTEMPTS: int = Field(2, ge=1, le=10)
    LLM_IDLE_TIMEOUT_SEC: float = Field(
        20.0, gt=0.0, le=600.0, description="longest silence between streamed chunks"
    )
    LLM_MAX_STEPS: int = Field(
        60, ge=1, le=200, description="most steps the model may write (its grammar closes the plan)"
    )
    LLM_MAX_POINTS: int = Field(
        32, ge=3, le=256, description="most points the model may give one line/polygon/pixels step"
    )
    LLM_MAX_GROUP_SHAPES: int = Field(
        12, ge=1, le=32, description="most shapes the model may put in one group"
    )

    # The picture
    CANVAS_W: int = Field(96, ge=8, le=512)
    CANVAS_H: int = Field(96, ge=8, le=512)
    WINDOW_W: int = Field(1280, ge=320, le=7680)
    WINDOW_H: int = Field(720, ge=240, le=4320)
    WINDOW_SCALE: int = Field(0, ge=0, le=64, description="0: the largest that fits the window")
    FRAME_RATE: int = Field(60, ge=1, le=240)
    DEFAULT_STEP_DURATION_MS: int = Field(600, ge=0, le=60000)
    SHOW_DURATION_SEC: float = Field(90.0, ge=0.0, le=3600.0)
    LOCALE: Literal["ru", "en"] = "ru"
    HUD_MASK_PROFANITY: bool = True
    HUD_REFUSED_TEXT: str = Field(
        "",
        max_length=80,
        description="shown in place of a refused message; empty: the localised default",
    )

    # Gatekeeper
    # comma-separated in the environment and .env ("spoiler,спойлер"), a list in TOML
    GATEKEEPER_BLOCK_WORDS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    GATEKEEPER_ALLOW_WORDS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # a second opinion from the model on messages the words let through (LLM_BACKEND=openai)
    GATEKEEPER_MODEL_CHECK: Literal["on", "off"] = "on"
    GATEKEEPER_MODEL_TIMEOUT_SEC: float = Field(
        15.0, gt=0.0, le=120.0, description="longest wait for the model's yes/no"
    )

    # Moderation
    MODERATION: Literal["auto", "manual", "flagged"] = "auto"
    MODERATION_AUTO_APPROVE_AMOUNT: float | None = Field(None, ge=0.0)
    MODERATION_TIMEOUT_SEC: float = Field(0.0, ge=0.0, le=86400.0)
    MODERATION_TIMEOUT_ACTION: Literal["approve", "deny"] = "deny"

    # Control surfaces
    API_HOST: str = "127.0.0.1"
    API_PORT: int = Field(8765, ge=0, le=65535)
    API_TOKEN: SecretStr = SecretStr("")
    # comma-separated in the environment and .env, a list in TOML
    API_ALLOWED_HOSTS: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="host names the API answers for besides loopback"
    )
    API_ALLOWED_ORIGINS: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="web origins whose pages may open the WebSockets"
    )
    API_TLS_CERT: Path | None = None
    API_TLS_KEY: Path | None = None
    API_SIGNIN_CODE_TTL_SEC: float = Field(
        600.0, ge=1.0, le=600.0, description="how long a moderator sign-in code stays valid"
    )
    CONTROL_SOCKET: Path | None = None

    # Daemon
    STATE_DIR: Path = Field(default_factory=default_state_dir)
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["text", "json"] = "text"
    SHUTDOWN_GRACE_SEC: float = Field(5.0, ge=0.0, le=120.0)
    GALLERY_KEEP: int = Field(2000, ge=1, le=100_000, description="newest pictures kept")
    JOURNAL_KEEP_DAYS: float = Field(
        90.0, gt=0.0, le=36500.0, description="finished donations older than this are forgotten"
    )

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("GATEKEEPER_BLOCK_WORDS", "GATEKEEPER_ALLOW_WORDS", mode="before")
    @classmethod
    def _word_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [w.strip() for w in value.split(",") if w.strip()]
        return value

    @field_validator("API_ALLOWED_HOSTS", "API_ALLOWED_ORIGINS", mode="before")
    @classmethod
    def _address_list(cls, value: Any, info: ValidationInfo) -> Any:
        hosts = info.field_name == "API_ALLOWED_HOSTS"
        parse, example = (
            (normal_host, "a host name such as phone.lan or 192.168.1.5")
            if hosts
            else (normal_origin, "an origin such as https://phone.lan:8765, without a path")
        )
        entries = _comma_list(value)
        if not isinstance(entries, list):
            return entries
        out = []
        for entry in entries:
            parsed = parse(entry) if isinstance(entry, str) else None
            if parsed is None:
                raise ValueError(f"{entry!r} is not {example}")
            out.append(parsed)
        return out

    @field_validator("DRAW_MIN_AMOUNT", mode="before")
    @classmethod
    def _minimums(cls, value: Any) -> Any:
        return parse_minimums(value)

    @field_validator(
        "DA_OAUTH_URL",
        "DA_API_URL",
        "DA_WS_URL",
        "TWITCH_AUTH_URL",
        "TWITCH_API_URL",
        "TWITCH_EVENTSUB_URL",
        "SE_API_URL",
        "SE_WS_URL",
        "DP_API_URL",
        "DP_WS_URL",
        "LLM_ENDPOINT",
        mode="after",
    )
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be an absolute URL (scheme://host/…)")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, _TomlSource(settings_cls))

    # -- derived -------------------------------------------------------------------------
    @property
    def da_configured(self) -> bool:
        return bool(
            self.DA_ACCESS_TOKEN.get_secret_value() or self.DA_REFRESH_TOKEN.get_secret_value()
        )

    @property
    def se_configured(self) -> bool:
        return bool(self.SE_JWT.get_secret_value() or self.SE_OAUTH_TOKEN.get_secret_value())

    @property
    def dp_configured(self) -> bool:
        return bool(self.DP_API_KEY.get_secret_value())

    def window_scale(self) -> int:
        """The canvas upscale: WINDOW_SCALE, or the largest integer that leaves room for the HUD."""
        if self.WINDOW_SCALE:
            return self.WINDOW_SCALE
        usable_h = self.WINDOW_H - self.WINDOW_H // 6
        usable_w = self.WINDOW_W // 2
        return max(1, min(usable_h // self.CANVAS_H, usable_w // self.CANVAS_W))

    def control_socket(self) -> Path:
        if self.CONTROL_SOCKET is not None:
            return self.CONTROL_SOCKET
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = Path(runtime) / "drawstreamd" if runtime else self.STATE_DIR
        return base / "control.sock"


ANY_CURRENCY = "*"
"""The ``DRAW_MIN_AMOUNT`` entry for currencies it does not name."""
_CURRENCY = re.compile(r"[A-Z][A-Z0-9]{1,9}")
_MINIMUM_HINT = "e.g. 50, or RUB=50,USD=1,BITS=100,POINTS=0"


def _amount(text: Any, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {text!r} is not a number ({_MINIMUM_HINT})") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {text!r} must be a number ≥ 0 ({_MINIMUM_HINT})")
    return value


def parse_minimums(value: Any) -> dict[str, float]:
    """``DRAW_MIN_AMOUNT`` in any of its spellings → {currency or "*": minimum}."""
    if isinstance(value, bool):
        raise ValueError(f"not a number ({_MINIMUM_HINT})")
    if isinstance(value, int | float):
        return {ANY_CURRENCY: _amount(value, "amount")}
    entries: list[tuple[str, Any]] = []
    if isinstance(value, str):
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            key, sep, amount = part.partition("=")
            entries.append((key.strip(), amount.strip()) if sep else (ANY_CURRENCY, key))
    elif isinstance(value, dict):
        entries = [(str(k), v) for k, v in value.items()]
    else:
        raise ValueError(f"expected a number or CURRENCY=amount pairs ({_MINIMUM_HINT})")
    out: dict[str, float] = {}
    for key, amount in entries:
        name = ANY_CURRENCY if key.lower() in ("*", "default", "any") else key.upper()
        if name != ANY_CURRENCY and not _CURRENCY.fullmatch(name):
            raise ValueError(f"{key!r} is not a currency code ({_MINIMUM_HINT})")
        if name in out:
            raise ValueError(f"{name} is given twice ({_MINIMUM_HINT})")
        out[name] = _amount(amount, name if name != ANY_CURRENCY else "amount")
    return out


def format_minimums(minimums: dict[str, float]) -> str:
    """``DRAW_MIN_AMOUNT`` as it is written in the environment, e.g. ``5,RUB=50,BITS=100``."""
    parts = [f"{minimums[ANY_CURRENCY]:g}"] if ANY_CURRENCY in minimums else []
    parts += [f"{k}={v:g}" for k, v in sorted(minimums.items()) if k != ANY_CURRENCY]
    return ",".join(parts) or "0"


_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [w.strip() for w in value.split(",") if w.strip()]
    return value


def normal_host(text: str) -> str | None:
    """A host name or address as the API compares them: lower case, no brackets, no port,
    IP addresses in their canonical spelling (``[::1]:8765`` → ``::1``); None if it is not one.
    Also how a request's Host header is read."""
    text = text.strip().lower()
    if text.startswith("["):
        name, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and rest[1:].isdigit())):
            return None
    elif text.count(":") > 1:
        name = text  # a bare IPv6 address (configuration only: a Host header has brackets)
    else:
        name, colon, port = text.partition(":")
        if colon and not port.isdigit():
            return None
    name = name.rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not name or len(name) > 253 or ":" in name:
        return None
    labels = name.split(".")
    if not all(label and len(label) <= 63 and _LABEL.fullmatch(label) for label in labels):
        return None
    return name


def normal_origin(text: str) -> str | None:
    """A web origin as the API compares them: ``scheme://host:port`` in lower case with the
    port spelled out, or ``null`` (a page from a local file, or a sandboxed frame); None if
    ``text`` is not an origin (a path, a query…)."""
    if text.strip() == "null":
        return "null"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = normal_host(parts.hostname or "")
    if host is None:
        return None
    port = port or (443 if parts.scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}:{port}"


_TOML_PATH: Path | None = None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file chosen by :func:`load` (``--config``) or the XDG default."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ is used instead

    def __call__(self) -> dict[str, Any]:
        path = _TOML_PATH or default_config_path()
        explicit = _TOML_PATH is not None
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            if explicit:
                raise ConfigError([f"config file {path}: not found"]) from None
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"config file {path}: cannot read: {exc}"]) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"config file {path}: invalid TOML: {exc}"]) from None
        unknown = sorted(k for k in data if k not in Settings.model_fields)
        if unknown:
            raise ConfigError([f"config file {path}: unknown key {k}" for k in unknown])
        return data


SECRET_KEYS = frozenset(
    name for name, f in Settings.model_fields.items() if f.annotation is SecretStr
)


def load(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings, or raise :class:`ConfigError` with one line per bad key."""
    global _TOML_PATH
    _TOML_PATH = config_path
    try:
        clean = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**clean)
    except SettingsError as exc:
        # a value a source could not even parse (e.g. malformed JSON for a structured key)
        raise ConfigError([f"config: {exc}"]) from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            key = ".".join(str(p) for p in err["loc"]) or "config"
            shown = "***" if key in SECRET_KEYS else repr(err.get("input"))
            lines.append(f"config: {key}: {err['msg']} (got {shown})")
        raise ConfigError(lines) from None
    finally:
        _TOML_PATH = None


def effective(settings: Settings) -> dict[str, str]:
    """Every key with its effective value as text; secrets are masked."""
    out: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            out[name] = "********" if value.get_secret_value() else "(unset)"
        elif isinstance(value, list):
            out[name] = ",".join(value)
        elif name == "DRAW_MIN_AMOUNT":
            out[name] = format_minimums(value)
        elif value is None:
            out[name] = "(unset)"
        else:
            out[name] = str(value)
    return out
