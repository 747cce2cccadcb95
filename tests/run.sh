#!/usr/bin/env bash
# Install everything the tests need from this repository's own files, then run them.
#
#   bash tests/run.sh [pytest arguments]
#
# 1. a virtual environment in .venv with the package and its [test] extra (PyPI);
# 2. system tools the tests drive (Debian packages: man page linter, systemd-analyze,
#    Chromium for the overlay test, compilers for llama-server) when apt-get is available and we may use it;
# 3. the official Centrifugo JavaScript client (npm, pinned in tests/js/package-lock.json);
# 4. llama.cpp's llama-server and a tiny GGUF model, built once into a cache outside the clone;
# 5. lint (ruff), types (mypy --strict), then pytest with warnings as errors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\n== %s\n' "$*" >&2; }

say "python environment"
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

APT_PACKAGES=(mandoc groff-base man-db systemd chromium openssl cmake g++ make nodejs npm)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if command -v node >/dev/null && command -v npm >/dev/null; then
        # Node.js from another source (nvm, NodeSource) is already here: do not fight it
        filtered=()
        for pkg in "${missing[@]}"; do [[ "$pkg" == nodejs || "$pkg" == npm ]] || filtered+=("$pkg"); done
        missing=("${filtered[@]+"${filtered[@]}"}")
    fi
fi
if ((${#missing[@]})); then
    say "system packages: ${missing[*]}"
    SUDO=()
    [[ "$(id -u)" == 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ -f tests/js/package.json ]]; then
    say "centrifuge JS client (npm)"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ -f .ci/build-llama-server.sh ]]; then
    say "llama-server (cached outside the clone)"
    bash .ci/build-llama-server.sh
fi

say "ruff"
.venv/bin/ruff check drawstreamd tests bench
say "mypy --strict"
.venv/bin/mypy
say "pytest"
exec .venv/bin/python -m pytest "$@"
