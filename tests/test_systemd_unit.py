"""The shipped user unit, checked by systemd itself (``systemd-analyze``, apt package ``systemd``).

The unit is verified as a user would install it: copied into ``~/.config/systemd/user`` of a
home whose ``~/.local/bin/drawstreamd`` is the real entry point, with the man pages it cites
findable by ``man``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from drawstreamd.config import Settings

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "contrib" / "systemd" / "drawstreamd.service"


def _fake_home(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    units = home / ".config" / "systemd" / "user"
    units.mkdir(parents=True)
    shutil.copy(UNIT, units / UNIT.name)
    entry = shutil.which("drawstreamd", path=str(Path(sys.executable).parent))
    assert entry, "the drawstreamd entry point is not installed next to this Python"
    (home / ".local" / "bin" / "drawstreamd").symlink_to(entry)
    manpath = tmp_path / "man"
    for page in (ROOT / "man").iterdir():
        section = manpath / f"man{page.suffix[1:]}"
        section.mkdir(parents=True, exist_ok=True)
        (section / page.name).symlink_to(page)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_RUNTIME_DIR": str(runtime),
        "MANPATH": str(manpath),
    }


def test_systemd_analyze_verifies_the_installed_unit(tmp_path: Path) -> None:
    env = _fake_home(tmp_path)
    unit = Path(env["HOME"]) / ".config" / "systemd" / "user" / UNIT.name
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    # systemd-analyze only warns about unknown keys and typos; any output is a finding
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_missing_entry_point_is_reported(tmp_path: Path) -> None:
    env = _fake_home(tmp_path)
    (Path(env["HOME"]) / ".local" / "bin" / "drawstreamd").unlink()
    unit = Path(env["HOME"]) / ".config" / "systemd" / "user" / UNIT.name
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert ".local/bin/drawstreamd is not executable" in result.stderr


def _settings() -> dict[str, str]:
    out = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "min" else 1)


def test_the_unit_waits_longer_than_a_graceful_stop_and_restarts_on_failure() -> None:
    unit = _settings()
    assert (unit["Type"], unit["NotifyAccess"]) == ("notify", "main")
    grace = Settings.model_fields["SHUTDOWN_GRACE_SEC"].default
    assert _seconds(unit["TimeoutStopSec"]) > grace + 5  # SIGKILL only after the grace period
    assert _seconds(unit["WatchdogSec"]) >= 2  # drawstreamd pings every half period
    assert unit["Restart"] == "on-failure"
    assert unit["RestartPreventExitStatus"] == "2"  # bad config: a restart cannot fix it
    assert unit["ExecReload"] == "kill -HUP $MAINPID"
    assert unit["EnvironmentFile"] == "-%h/.config/drawstreamd/env"
    assert "PrivateTmp" not in unit  # hides /tmp/.X11-unix, the display socket
