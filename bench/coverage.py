"""How many everyday requests the builtin planner draws as a picture rather than a text card.

    .venv/bin/python bench/coverage.py [--misses] [--sheet OUT.png] [--sample 24] [--seed 1]
    .venv/bin/python bench/coverage.py --heldout [--sheet OUT.png]

The corpus (``bench/corpus/``) holds drawing requests as stream viewers write them, in
Russian and English: typos, diminutives, "pls", emoji, two subjects, adjectives, and things
no library has. It was written before any keyword was tuned against it, in two parts:

* ``tune.txt``: keywords may be tuned against it (``--misses`` prints the requests that got
  a text card);
* ``heldout.txt``: kept out of all tuning. Score it ONCE, after every engineer's subjects are
  merged and tuning is over: ``bench/coverage.py --heldout``. Report that figure beside the
  tuning figure (docs/performance.md); do not tune on its misses afterwards (it would stop
  measuring anything). ``--misses`` is refused with ``--heldout``.

Prints the share drawn (overall, Russian, English, composed of several subjects or with a
colour, accessory, setting or count) and the median planning time per request; ``--sheet``
renders a contact sheet of a random sample, labelled with the requests, for a human look
(a picture is only a success if a person would say it shows what was asked).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drawstreamd.plan import builtin, request
from drawstreamd.render.sheet import write_sheet

CORPUS = Path(__file__).resolve().parent / "corpus"


def read_corpus(name: str) -> list[str]:
    lines = (CORPUS / name).read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _russian(text: str) -> bool:
    return any("а" <= ch <= "я" for ch in text.lower().replace("ё", "е"))


def _share(part: list[str], drawn: set[str]) -> str:
    if not part:
        return "   -  (0)"
    n = sum(1 for r in part if r in drawn)
    return f"{100 * n / len(part):5.1f} % ({n}/{len(part)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heldout", action="store_true", help="score the held-out part (once)")
    parser.add_argument("--misses", action="store_true", help="print the requests not drawn")
    parser.add_argument("--sheet", type=Path, help="contact sheet of a random sample")
    parser.add_argument("--sample", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.heldout and args.misses:
        parser.error("--misses shows tuning material: not for the held-out part")
    part = "heldout.txt" if args.heldout else "tune.txt"
    requests = read_corpus(part)
    drawn: set[str] = set()
    composed: set[str] = set()
    times = []
    for message in requests:
        start = time.perf_counter()
        _, origin = builtin.plan_for(message)
        times.append(time.perf_counter() - start)
        if origin == "builtin":
            drawn.add(message)
            if not request.read(message, builtin.LIBRARY).plain:
                composed.add(message)
    ru = [r for r in requests if _russian(r)]
    en = [r for r in requests if not _russian(r)]
    print(f"corpus part: {part}, library: {len(builtin.LIBRARY)} subjects")
    print(f"drawn as a picture: {_share(requests, drawn)}")
    print(f"  Russian:          {_share(ru, drawn)}")
    print(f"  English:          {_share(en, drawn)}")
    print(f"  composed:         {_share(requests, composed)} of all requests")
    print(f"median planning time: {statistics.median(times) * 1e6:.0f} us per request")
    if args.misses:
        print("\ntext cards:")
        for message in requests:
            if message not in drawn:
                print(f"  {message}")
    if args.sheet is not None:
        rng = random.Random(args.seed)
        sample = rng.sample(requests, min(args.sample, len(requests)))
        items = [(message, builtin.plan_for(message)[0]) for message in sample]
        size = write_sheet(str(args.sheet), items, scale=2, cols=6)
        print(f"wrote {args.sheet} ({size}, {len(items)} requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
