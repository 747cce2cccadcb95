"""Durable enqueue throughput: a burst of donations into the real journal and queue.

    .venv/bin/python bench/ingest.py [--count 10000] [--runs 5]

Every donation is committed to SQLite (WAL, synchronous=FULL) before its submit() returns;
concurrent submits share a transaction (group commit). Prints the median over the runs of
donations per second, and the one-at-a-time rate for comparison (goal: ≥ 5,000/s burst).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trio

from drawstreamd.events import EventBus
from drawstreamd.journal import Journal
from drawstreamd.model import Donation
from drawstreamd.queue import DrawQueue


def donations(count: int, tag: str) -> list[Donation]:
    return [
        Donation(source="bench", external_id=f"{tag}-{n}", donor=f"donor {n}", message="нарисуй кота", amount=100)
        for n in range(count)
    ]


async def burst(count: int, path: Path, concurrent: bool) -> float:
    journal = Journal.open(path)
    queue = DrawQueue(journal, EventBus())
    batch = donations(count, str(time.monotonic_ns()))
    t0 = time.perf_counter()
    if concurrent:
        async with trio.open_nursery() as nursery:
            for d in batch:
                nursery.start_soon(queue.submit, d)
    else:
        for d in batch:
            await queue.submit(d)
    elapsed = time.perf_counter() - t0
    assert len(queue) == count
    assert await journal.count() >= count
    journal.close()
    return count / elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rates = [trio.run(burst, args.count, Path(tmp) / f"b{n}.sqlite3", True) for n in range(args.runs)]
        single = [trio.run(burst, 500, Path(tmp) / f"s{n}.sqlite3", False) for n in range(3)]
    med, one = statistics.median(rates), statistics.median(single)
    print(f"burst of {args.count}: median {med:,.0f} durable enqueues/s over {args.runs} runs (min {min(rates):,.0f}, max {max(rates):,.0f})")
    print(f"one at a time (each waits for its own commit): median {one:,.0f}/s")
    print(f"ratio burst / one-at-a-time: {med / one:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
