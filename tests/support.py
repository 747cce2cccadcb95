"""Helpers shared by the tests: paths of the installed commands, a clean environment for them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def drawstreamd_bin() -> str:
    return str(VENV_BIN / "drawstreamd")


def drawstreamctl_bin() -> str:
    return str(VENV_BIN / "drawstreamctl")


def process_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a daemon process started by a test: only what it needs."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "SDL_VIDEODRIVER": "dummy",
        "LLM_BACKEND": "builtin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    env.update(extra)
    return env
