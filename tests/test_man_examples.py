"""The examples in drawstreamd.conf(5) do what the page says when they are really run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRAWSTREAMD = Path(sys.executable).parent / "drawstreamd"


def _examples(page: str) -> list[str]:
    section = page.split(".Sh EXAMPLES", 1)[1].split("\n.Sh ", 1)[0]
    blocks = re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", section, re.MULTILINE | re.DOTALL)
    return [b.replace("\\-", "-").replace("\\&", "") for b in blocks]


def _check_config(tmp_path: Path, extra_env: dict[str, str]) -> dict[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")},
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **extra_env,
    }
    result = subprocess.run(
        [str(DRAWSTREAMD), "check-config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_conf_examples_configure_what_they_say(tmp_path: Path) -> None:
    toml_text, env_text, transcript = _examples(
        (ROOT / "man" / "drawstreamd.conf.5").read_text(encoding="utf-8")
    )
    defaults = _check_config(tmp_path / "defaults", {})

    config_dir = tmp_path / "toml" / "config" / "drawstreamd"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text(toml_text, encoding="utf-8")
    from_toml = _check_config(tmp_path / "toml", {})

    env_lines = dict(line.split("=", 1) for line in env_text.splitlines() if line)
    from_env = _check_config(tmp_path / "env", env_lines)

    toml_keys = {line.split(" = ", 1)[0] for line in toml_text.splitlines() if line}
    shared = toml_keys & env_lines.keys()
    assert len(shared) >= 3
    for key in toml_keys:
        assert from_toml[key] != defaults[key], key
    for key in shared:  # "the same in ~/.config/drawstreamd/env"
        assert from_env[key] == from_toml[key], key
    assert from_env["DA_ACCESS_TOKEN"] == "********"  # set, and never printed

    # the transcript shows what check-config really prints for that file
    shown = [line for line in transcript.splitlines() if not line.startswith("$")]
    for line in shown:
        key, value = line.split("=", 1)
        assert from_toml[key] == value
