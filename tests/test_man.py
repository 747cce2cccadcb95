"""The man pages: lint-clean, installed by pip, and complete against the real code and CLIs.

``mandoc`` (apt package ``mandoc``) and ``groff`` (``groff-base``) must be installed; .ci/run
installs them. Completeness is checked against what the programs really offer: every key of
``Settings`` with its default in drawstreamd.conf(5), every option and tool of ``drawstreamd``
and every command of ``drawstreamctl`` in their pages, so the pages cannot drift.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from drawstreamd.config import Settings

ROOT = Path(__file__).resolve().parent.parent
MAN = ROOT / "man"
PAGES = sorted(p for p in MAN.iterdir() if re.fullmatch(r".+\.[1-8]", p.name))

# Depends on which other manuals the machine has indexed, not on our pages.
_MACHINE_DEPENDENT = ("referenced manual not found", "mandoc.db")


def _page(name: str) -> str:
    return (MAN / name).read_text(encoding="utf-8")


def _plain(roff: str) -> str:
    return roff.replace("\\-", "-").replace("\\&", "")


def test_there_are_three_pages() -> None:
    assert [p.name for p in PAGES] == ["drawstreamctl.1", "drawstreamd.1", "drawstreamd.conf.5"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_mandoc_lint_is_clean(page: Path) -> None:
    result = subprocess.run(
        ["mandoc", "-T", "lint", "-W", "all", str(page)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    messages = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if not any(m in line for m in _MACHINE_DEPENDENT)
    ]
    assert messages == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_groff_renders_without_warnings(page: Path) -> None:
    result = subprocess.run(
        ["groff", "-k", "-Tutf8", "-ww", "-z", "-mandoc", str(page)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pip_installs_every_page_in_its_section(page: Path) -> None:
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["data-files"]
    section = page.suffix[1:]
    assert f"man/{page.name}" in data_files[f"share/man/man{section}"]


# -- drawstreamd.conf(5) against Settings ------------------------------------------------------
def _items(text: str) -> dict[str, str]:
    """``{KEY: body}`` for every ``.It Ev KEY [, Ev KEY2]`` item of the page."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(".It Ev "):
            continue
        body = []
        for nxt in lines[i + 1 :]:
            if nxt.startswith((".It", ".El")):
                break
            body.append(nxt)
        for key in re.findall(r"Ev ([A-Z][A-Z0-9_]*)", line):
            out[key] = _plain("\n".join(body))
    return out


def _default_text(value: object) -> str | None:
    """How the page spells a default; None means "unset"."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@pytest.mark.parametrize("key", sorted(Settings.model_fields))
def test_every_config_key_is_documented_with_its_default(key: str) -> None:
    items = _items(_page("drawstreamd.conf.5"))
    assert key in items, f"{key} is missing from man/drawstreamd.conf.5"
    body = items[key]
    field = Settings.model_fields[key]
    if field.default is PydanticUndefined:
        assert field.default_factory is not None
        if field.default_factory is not list:  # computed at run time, e.g. from XDG_*
            assert "Default:" in body
            return
        value: object = []
    else:
        value = field.default
    expected = _default_text(value)
    if expected is None:
        assert "Default: unset" in body
    else:
        assert f"\n.Ql {expected}\n" in f"\n{body}\n", f"{key}: default {expected} not shown"


@pytest.mark.parametrize("key", sorted(Settings.model_fields))
def test_every_bounded_config_key_shows_its_limit(key: str) -> None:
    description = _items(_page("drawstreamd.conf.5"))[key].split("Default:")[0]
    for rule in Settings.model_fields[key].metadata:
        limit = getattr(rule, "le", None)
        if limit is not None:
            shown = re.search(rf"(?<![\d.]){limit:g}(?!\.?\d)", description)
            assert shown, f"{key}: upper limit {limit:g} not shown"


def test_every_live_key_is_marked_live() -> None:
    from drawstreamd.daemon import LIVE_KEYS

    items = _items(_page("drawstreamd.conf.5"))
    assert sorted(k for k, body in items.items() if "\nLive.\n" in f"\n{body}\n") == sorted(
        LIVE_KEYS
    )


# -- drawstreamd(1) and drawstreamctl(1) against the programs ------------------------------------
def _help(*argv: str) -> str:
    result = subprocess.run(
        [sys.executable, *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--([a-z][a-z-]*)", help_text)) - {"help"}


def test_drawstreamd_page_has_every_option_and_tool() -> None:
    from drawstreamd.cli import TOOLS

    page = _plain(_page("drawstreamd.1"))
    for option in _options(_help("-m", "drawstreamd.cli")):
        assert f"Fl -{option}" in page, f"--{option} is missing from man/drawstreamd.1"
    for tool in (t for t in TOOLS if t != "run"):
        assert f".Cm {tool}" in page, f"tool {tool} is missing from man/drawstreamd.1"
        for option in _options(_help("-m", "drawstreamd.cli", tool)):
            assert f"Fl -{option}" in page, f"{tool} --{option} is missing from man/drawstreamd.1"


def test_drawstreamctl_page_has_every_command_and_option() -> None:
    page = _plain(_page("drawstreamctl.1"))
    text = _help("-m", "drawstreamd.ctl")
    listing = text.split("positional arguments:", 1)[1].split("\n\n", 1)[0]
    commands = set(re.findall(r"^    ([a-z][a-z-]*)\b", listing, re.MULTILINE))
    assert {"status", "skip", "donate"} <= commands
    for option in _options(text):
        assert f"Fl -{option}" in page, f"--{option} is missing from man/drawstreamctl.1"
    for command in commands:
        assert f".It Cm {command}" in page, f"{command} is missing from man/drawstreamctl.1"
        for option in _options(_help("-m", "drawstreamd.ctl", command)):
            assert f"Fl -{option}" in page, f"{command} --{option} is missing"
