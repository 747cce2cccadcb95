"""How many tokens the model's prompt costs: before and after the library came into it.

    .venv/bin/python bench/prompt_tokens.py [--requests 100]

Counts with a real tokenizer: it starts llama.cpp's llama-server with the tiny GGUF the tests
use (``.ci/build-llama-server.sh`` builds both into ``~/.cache/drawstreamd/llama``), renders
each request's chat messages with the model's own chat template (``POST /apply-template``)
and counts the tokens of the result (``POST /tokenize``). The figures are that model's
(SmolLM2-135M: an English-centred vocabulary, so Russian costs more tokens than in the
multilingual models a streamer runs); the ratio is what carries over.

* before: the system prompt without the library's names and without the ``use`` step, and
  the same three few-shot examples for every request (cat, heart, sun), as it was;
* after: the prompt as :class:`drawstreamd.plan.llm.OpenAIPlanner` builds it now, with the
  examples chosen for each request.

Prints the median and the largest prompt of each over a sample of the tuning corpus, and
the growth of the median (the budget: at most +30 %).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from conftest_llama import start_llama_server, stop
from coverage import read_corpus

from drawstreamd.config import Settings
from drawstreamd.plan import builtin, dsl, prompt
from drawstreamd.plan.llm import FEW_SHOT, OpenAIPlanner, system_for

BEFORE_EXAMPLES = ("cat", "heart", "sun")
"""The examples every prompt carried before they were chosen per request."""


def before_messages(settings: Settings, message: str) -> list[dict[str, str]]:
    _, system, _ = system_for(settings, [])  # no library: no names, no "use" step
    examples = []
    for i, name in enumerate(BEFORE_EXAMPLES[:FEW_SHOT]):
        entry = builtin.LIBRARY[name]
        examples.append((entry.asks[i % len(entry.asks)], dsl.encode(entry.plan).decode()))
    return prompt.build_messages(system, message, examples)


def tokens(http: httpx.Client, base: str, messages: list[dict[str, Any]]) -> int:
    text = http.post(f"{base}/apply-template", json={"messages": messages}, timeout=30)
    text.raise_for_status()
    ids = http.post(f"{base}/tokenize", json={"content": text.json()["prompt"]}, timeout=30)
    ids.raise_for_status()
    return len(ids.json()["tokens"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="sample of the tuning corpus")
    args = parser.parse_args()
    requests = read_corpus("tune.txt")
    sample = random.Random(7).sample(requests, min(args.requests, len(requests)))
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp, httpx.Client() as http:
        proc, server = start_llama_server(Path(tmp) / "llama-server.log")
        try:
            base = server.url.removesuffix("/v1")
            planner = OpenAIPlanner(settings, httpx.AsyncClient())
            before = [tokens(http, base, before_messages(settings, m)) for m in sample]
            after = [tokens(http, base, planner.request_body(m)["messages"]) for m in sample]
        finally:
            stop(proc)
    b, a = statistics.median(before), statistics.median(after)
    print(f"prompt tokens over {len(sample)} requests (SmolLM2-135M tokenizer and chat template)")
    print(f"  before: median {b:.0f}, largest {max(before)}")
    print(f"  after:  median {a:.0f}, largest {max(after)}")
    print(f"  growth of the median: {100 * (a - b) / b:+.1f} % (budget: +30 %)")
    print(f"  growth of the largest: {100 * (max(after) - max(before)) / max(before):+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
