"""Gatekeeper speed: median time per message, and the worst case of one 100 KB message.

Run: .venv/bin/python bench/gatekeeper.py
Targets (issue 7): median <= 50 us per message (and per donor name); a 100 KB message in
under 50 ms.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drawstreamd.gatekeeper.filter import Gatekeeper  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable


def corpus_messages() -> list[str]:
    messages: list[str] = []
    for path in sorted((ROOT / "tests" / "gatekeeper").glob("corpus_*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                messages.append(line.split("\t", 1)[1])
    return messages


def donor_names() -> list[str]:
    path = ROOT / "tests" / "gatekeeper" / "names.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[1] for line in lines if line and not line.startswith("#")]


def per_name(gate: Gatekeeper, names: list[str]) -> list[float]:
    timings = []
    for name in names:
        start = time.perf_counter_ns()
        gate.check_name(name)
        timings.append((time.perf_counter_ns() - start) / 1000)
    return timings


def fresh_messages(count: int, seed: int = 7) -> list[str]:
    """Messages never seen before (no warm cache): random words in both scripts."""
    rng = random.Random(seed)
    cyr = "абвгдежзийклмнопрстуфхцчшщыьэюя"
    lat = "abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(count):
        words = []
        for _ in range(rng.randint(2, 8)):
            alphabet = cyr if rng.random() < 0.6 else lat
            words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 10))))
        out.append("нарисуй " + " ".join(words))
    return out


def per_message(gate: Gatekeeper, messages: list[str], rounds: int) -> list[float]:
    timings = []
    for _ in range(rounds):
        for message in messages:
            start = time.perf_counter_ns()
            gate.check(message)
            timings.append((time.perf_counter_ns() - start) / 1000)
    return timings


def _cut(text: str, size: int = 100_000) -> str:
    """The text cut to ``size`` bytes of UTF-8 (a 100 KB message)."""
    return text.encode()[:size].decode(errors="ignore")


def big_messages(rng: random.Random) -> dict[str, str]:
    words = [
        "нарисуй",
        "кота",
        "в",
        "шляпе",
        "и",
        "draw",
        "a",
        "cute",
        "cat",
        "with",
        "a",
        "hat",
        "please",
    ]
    prose = " ".join(rng.choice(words) for _ in range(20_000))
    cyr_words = [
        "нарисуй",
        "кота",
        "в",
        "шляпе",
        "пожалуйста",
        "и",
        "собаку",
        "рядом",
        "с",
        "домом",
    ]
    noise = "".join(rng.choice("абвгдеклмн opqrstuvwy*.-_ 0134@$!") for _ in range(100_000))
    unique = " ".join(
        # no ж: a random 'жоп' would end the check early and hide the full cost
        "".join(rng.choice("абвгдезийклмнопрстуфцчшщыэюя") for _ in range(rng.randint(3, 9)))
        for _ in range(20_000)
    )
    return {
        "english prose": _cut(prose),
        "russian prose": _cut(" ".join(rng.choice(cyr_words) for _ in range(20_000))),
        "unique words": _cut(unique),
        "spaced letters": _cut(" ".join("хуякотэ" * 20_000)),
        "one long word": _cut("х" * 100_000),
        "mixed noise": _cut(noise),
        "separators": _cut("х.у.й-" * 17_000),
        "masks": _cut("п*зд*" * 20_000),
        "emoji": _cut("🍆🙂" * 25_000),
        "bad word at end": _cut(" ".join(rng.choice(cyr_words) for _ in range(20_000)), 99_980)
        + " сиськи",
    }


def _median_of_rounds(make: Callable[[], tuple[Gatekeeper, list[str]]], rounds: int) -> float:
    """Best median over several rounds (the machine is shared; the best round is the code)."""
    medians = []
    for _ in range(rounds):
        gate, messages = make()
        medians.append(statistics.median(per_message(gate, messages, rounds=1)))
    return min(medians)


def main() -> int:
    start = time.perf_counter()
    gate = Gatekeeper(extra_block=["жаба", "red square"], extra_allow=["сиськи"])
    print(f"construction: {(time.perf_counter() - start) * 1000:.2f} ms")
    start = time.perf_counter()
    gate.check("х*й")
    print(
        f"first masked word (builds the masked-word index once): "
        f"{(time.perf_counter() - start) * 1000:.1f} ms"
    )

    known = corpus_messages()
    warm = _median_of_rounds(lambda: (gate, known), rounds=5)
    first_sight = _median_of_rounds(lambda: (Gatekeeper(), known), rounds=5)
    seeds = iter(range(100))
    random_words = _median_of_rounds(
        lambda: (Gatekeeper(), fresh_messages(2000, seed=next(seeds))), rounds=3
    )
    print(f"corpus messages ({len(known)}), caches warm: median {warm:.1f} us")
    print(f"corpus messages, each seen for the first time: median {first_sight:.1f} us")
    print(f"messages of random letter strings, never seen: median {random_words:.1f} us")
    names = donor_names()
    name_median = min(statistics.median(per_name(Gatekeeper(), names)) for _ in range(5))
    print(f"donor names ({len(names)}), each seen for the first time: median {name_median:.1f} us")

    worst = 0.0
    for name, text in big_messages(random.Random(3)).items():
        took = min(_time_once(text) for _ in range(3))
        worst = max(worst, took)
        size = len(text.encode()) / 1000
        verdict = Gatekeeper().check(text)
        print(f"{size:6.0f} KB {name:15s}: {took:6.1f} ms  nsfw={verdict.nsfw} rule={verdict.rule}")
    ok = warm <= 50 and first_sight <= 50 and name_median <= 50 and worst < 50
    print("targets met (median <= 50 us, 100 KB < 50 ms)" if ok else "TARGETS MISSED")
    return 0 if ok else 1


def _time_once(text: str) -> float:
    fresh = Gatekeeper()
    begin = time.perf_counter()
    fresh.check(text)
    return (time.perf_counter() - begin) * 1000


if __name__ == "__main__":
    sys.exit(main())
