"""OpenAI-compatible servers for tests: llama.cpp's ``llama-server`` with SmolLM2-135M, and
the fake (:mod:`drawstreamd.testing.fake_llm`).

Fixtures: ``fake`` (a :class:`FakeLLM` serving on loopback for one test), ``http`` (an
``httpx.AsyncClient``) and ``llama_server`` (below).

``.ci/build-llama-server.sh`` builds the binary and extracts the model into
``${DRAWSTREAMD_CACHE:-~/.cache/drawstreamd}/llama``; ``LLAMA_SERVER_BIN`` and
``LLAMA_MODEL`` point elsewhere. When either is missing the tests that need the server fail
(never skip) and say how to build it. Use it from a test module with
``from conftest_llama import llama_server  # noqa: F401`` and a ``llama_server: LlamaServer``
argument; the one server is shared by the whole session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from drawstreamd.testing.fake_llm import FakeLLM

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import trio

BUILD_HINT = "run .ci/build-llama-server.sh (it builds llama-server and extracts the model)"
START_TIMEOUT_SEC = 120.0
MODEL_ALIAS = "smollm2-135m"


def cache_dir() -> Path:
    root = os.environ.get("DRAWSTREAMD_CACHE") or str(Path.home() / ".cache" / "drawstreamd")
    return Path(root) / "llama"


def binary_path() -> Path:
    return Path(os.environ.get("LLAMA_SERVER_BIN") or cache_dir() / "bin" / "llama-server")


def model_path() -> Path:
    default = cache_dir() / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return Path(os.environ.get("LLAMA_MODEL") or default)


LLAMA_TIMEOUT_SEC = 240.0
"""The first request evaluates the ~2000-token prompt: half a minute on a busy 2-core box."""


@dataclass(frozen=True)
class LlamaServer:
    url: str
    """The OpenAI-compatible base URL, ``http://127.0.0.1:PORT/v1``."""
    model: str
    log: Path

    def settings(self) -> dict[str, Any]:
        """``LLM_*`` settings for planning against this server, quickly and to a clean finish.

        At temperature 0 the tiny model tends to repeat a point or a step until something
        stops it; with these caps its grammar closes any plan well within ``LLM_MAX_TOKENS``.
        Every test using the server should use the same prompt-shaping values (steps, points,
        shapes, canvas): then the server reuses the cached prompt prefix between requests.
        """
        return {
            "LLM_ENDPOINT": self.url,
            "LLM_MODEL_ID": self.model,
            "LLM_MAX_TOKENS": 1000,
            "LLM_MAX_STEPS": 2,
            "LLM_MAX_POINTS": 4,
            "LLM_MAX_GROUP_SHAPES": 2,
            "LLM_TEMPERATURE": 0.0,
            "LLM_ATTEMPTS": 1,
            "LLM_TIMEOUT_SEC": LLAMA_TIMEOUT_SEC,
            "LLM_IDLE_TIMEOUT_SEC": LLAMA_TIMEOUT_SEC,
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_llama_server(log_path: Path) -> tuple[subprocess.Popen[bytes], LlamaServer]:
    """Start llama-server on a free loopback port and wait until ``/health`` says ok."""
    binary, model = binary_path(), model_path()
    missing = [str(p) for p in (binary, model) if not p.is_file()]
    if missing:
        pytest.fail(f"llama-server or its model is missing ({', '.join(missing)}): {BUILD_HINT}")
    port = _free_port()
    cmd = [
        str(binary),
        "--model", str(model),
        "--alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--ctx-size", "4096",
        "--parallel", "1",
        "--threads", "1",  # two threads spin against each other on a busy 2-core machine
        "--no-webui",
    ]  # fmt: skip
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SEC
    with httpx.Client() as http:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama-server exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                if http.get(f"{base}/health", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                stop(proc)
                pytest.fail(f"llama-server not healthy after {START_TIMEOUT_SEC:g} s:\n"
                            f"{_tail(log_path)}")  # fmt: skip
            time.sleep(0.2)
    return proc, LlamaServer(url=f"{base}/v1", model=MODEL_ALIAS, log=log_path)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One llama-server for the session (fails with a build hint when it is not built)."""
    log_path = tmp_path_factory.mktemp("llama") / "llama-server.log"
    proc, server = start_llama_server(log_path)
    try:
        yield server
    finally:
        stop(proc)


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeLLM:
    """The fake model server, serving ``fake-model`` until the test ends."""
    server = FakeLLM(model="fake-model")
    await nursery.start(server.serve)
    return server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
