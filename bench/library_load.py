"""What the picture library costs at start-up: reading and checking every subject file.

    .venv/bin/python bench/library_load.py [--runs 20] [--root DIR]

Prints the median time of ``library.load()`` (every file read through importlib.resources,
decoded, checked, ``use`` steps expanded, keywords checked for clashes) and of a fresh
interpreter importing ``drawstreamd.plan.library`` against one importing only the DSL (the
library's share of the worker's import). ``--root`` loads another tree of subject files.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drawstreamd.plan import library


def _fresh_import(module: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        times.append(float(done.stdout))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--root", type=Path, help="a tree of <category>/<name>.json files")
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        entries = library.load(args.root)
        times.append(time.perf_counter() - start)
    print(f"library.load(): {len(entries)} subjects, median {statistics.median(times) * 1e3:.1f} ms")
    if args.root is None:
        dsl = _fresh_import("drawstreamd.plan.dsl", max(3, args.runs // 4))
        lib = _fresh_import("drawstreamd.plan.library", max(3, args.runs // 4))
        print(f"fresh import: drawstreamd.plan.dsl {dsl * 1e3:.1f} ms, "
              f"drawstreamd.plan.library {lib * 1e3:.1f} ms (+{(lib - dsl) * 1e3:.1f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
