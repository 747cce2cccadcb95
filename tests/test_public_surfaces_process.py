"""Nothing refused reaches a public surface of the real daemon, and what passed does.

A ``drawstreamd`` process with its window open (SDL's dummy video driver), an overlay socket
open on ``/overlay/ws`` and the gallery served, is sent refused requests — Russian and
English, plain and obfuscated (leetspeak, spaced letters, masked letters, transliteration,
filler letters the HUD's font draws as boxes), some refused only for the donor's name — mixed
with allowed ones. Then every public surface is read as the audience would meet it:

* **the overlay**: every HUD message the socket carried, applied as the page applies it (the
  whole state first, then the changed fields), and each resulting state checked whole, "Next
  up" included;
* **the window**: the daemon runs with ``DRAWSTREAMD_DEBUG_HUD_LOG``, so the window's own HUD
  painter writes down every region it paints with the texts it drew (as they reached the
  pixels: without the invisible characters and emoji it leaves out, boxes for letters its
  font lacks). That makes the claim about the
  window itself rather than about the scene it reads (the overlay already covers the scene),
  it records every paint rather than what a poll happened to catch, and it needs no new route
  on the API: the log is a file of the operator's, like the journal;
* **the gallery**: every page of ``/gallery`` and everything those pages load (style sheet,
  script, pictures); a refused request's picture must be exactly the refusal card, any other
  picture exactly the plan it was drawn from, whose text steps are checked like the HUD's text.

A second run turns the model check on, against the fake model server on loopback, which
refuses descriptions the words pass: they must not reach a public surface either, and "Next
up" must show a message only once the model has answered.

"Never shown" is checked against two things: the fragments a viewer typed (as typed, and the
whole message) and the gatekeeper itself (no text on a public surface is refused by it). The
allowed messages and names must appear on each surface, so the check can fail.
"""

from __future__ import annotations

import contextlib
import html.parser
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import trio
import trio_websocket
from support import DaemonProcess
from test_control_harness import free_port

from drawstreamd.gatekeeper.filter import Gatekeeper
from drawstreamd.plan import builtin, dsl, prompt
from drawstreamd.render import png
from drawstreamd.render.timeline import render_at
from drawstreamd.testing.fake_llm import FakeLLM, Reply, library_reply, verdict

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

HIDDEN = "Сообщение скрыто"
ANONYMOUS = "Аноним"


@dataclass(frozen=True)
class Ask:
    """One donation: who, what, and how the audience may see it."""

    name: str
    message: str
    never: tuple[str, ...] = ()
    """What must never reach a public surface (besides a refused message as a whole)."""
    shown: str | None = None
    """The message as the audience sees it; None when refused (the neutral line instead)."""
    rule: str | None = None
    """The rule that must refuse it, when the test needs that one (``model:nudity``)."""

    @property
    def name_refused(self) -> bool:
        return self.shown is not None and bool(self.never)

    @property
    def hidden(self) -> tuple[str, ...]:
        whole = (self.message,) if self.shown is None else ()
        return (*whole, *self.never)


def refused(name: str, message: str, *never: str) -> Ask:
    return Ask(name, message, never)


def allowed(name: str, message: str, shown: str | None = None) -> Ask:
    return Ask(name, message, (), shown or message)


def bad_name(name: str, message: str) -> Ask:
    return Ask(name, message, (name,), message)


ASKS = [
    refused("Петя", "нарисуй хуй огромный", "хуй"),
    allowed("Маша Котова", "нарисуй кота в шляпе"),
    refused("Alex", "draw a swastika flag please", "swastika"),
    refused("Bob", "draw big tits", "tits"),
    bad_name("Adolf_1488", "нарисуй дом у озера"),
    refused("Коля", "нарисуй х у й на заборе", "х у й"),  # spaced letters
    allowed("Sam", "draw a rocket flying to the moon"),
    refused("Оля", "нарисуй х*й", "х*й"),  # a masked letter
    refused("Kim", "draw a p3n1s", "p3n1s"),  # leetspeak
    refused("Jo", "d r a w  a  p e n i s", "p e n i s"),
    allowed("Вася", "нарисуй шаурму"),  # no library picture: written on a card
    refused("Дима", "нарисуй с1ськи", "с1ськи"),
    refused("Vanya", "narisuy siski", "siski"),  # transliteration
    bad_name("SS_88", "draw a happy dog"),
    refused("Ира", "narisuy hui", "hui"),
    allowed("Гоша", "нарисуй, блять, кота", "нарисуй, б****, кота"),  # swearing is masked
    refused("Лена", "нарисуй голую девушку", "голую"),
    refused("Ann", "draw a n@ked girl", "n@ked"),
    allowed("Ann", "draw a pizza with cheese"),
    allowed("Ben", "draw a sneaker"),  # a card too
    allowed("Рита", "нарисуй шаурму, блять", "нарисуй шаурму, б****"),  # a masked card
    refused("Тёма", "нарисуй св@стику", "св@стику"),
    refused("Max", "draw a sw4st1ka", "sw4st1ka"),
    bad_name("Гитлер", "нарисуй ёлку"),
    refused("Petya", "narisuy svastiku", "svastiku"),
    refused("Tom", "draw a n1gger", "n1gger"),
    allowed("Tom", "draw a castle on a hill"),
    refused("Lucy", "draw b00bs", "b00bs"),
    refused("Саша", "нарисуй п0рн0", "п0рн0"),
    bad_name("n1gga", "draw a red apple"),
    refused("Nina", "draw a loli in a bikini", "loli"),
    allowed("Ира", "нарисуй синюю птицу"),
    refused("Leo", "draw a lynching tree with a rope", "lynching"),
    refused("Гена", "нарисуй зиг хайль", "зиг хайль"),
    allowed("Max", "draw a spaceship"),
    refused("Zoe", "draw s.e.x", "s.e.x"),
    refused("Миша", "нарисуй х中у中й", "х中у中й"),  # letters the HUD's font draws as boxes
    allowed("Nina", "draw a happy dog"),
    allowed("Лена", "нарисуй ёлку"),
]
REFUSED = [a for a in ASKS if a.hidden]
ALLOWED = [a for a in ASKS if not a.hidden]


# -- what counts as a leak -------------------------------------------------------------------
GATE = Gatekeeper()


def leaks(texts: list[str], asks: list[Ask]) -> list[str]:
    """What of ``texts`` must not be public: what ``asks`` must never show, or text the
    gatekeeper refuses."""
    found = []
    joined = "\n".join(texts).casefold()
    for ask in asks:
        found += [f"{ask.name}/{ask.message}: {h!r}" for h in ask.hidden if h.casefold() in joined]
    found += [f"refused by the gatekeeper: {t!r}" for t in texts if GATE.check(t).nsfw]
    return found


def names_refused(names: list[str]) -> list[str]:
    return [n for n in names if GATE.check_name(n).nsfw]


# -- the daemon ------------------------------------------------------------------------------
class Daemon(DaemonProcess):
    """The daemon as a streamer runs it (window open, SDL dummy, unless ``args`` say
    otherwise), its API on a port we know."""

    def __init__(self, home: Path, state: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        super().__init__(home, state, *args, port=self.port, **env)

    def token(self) -> str:
        return (self.state / "api_token").read_text().strip()

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=10,
        )


async def start(
    daemons: list[DaemonProcess], home: Path, state: Path, *args: str, **env: str
) -> Daemon:
    d = Daemon(home, state, *args, **env)
    daemons.append(d)
    await trio.to_thread.run_sync(d.wait_ready)
    return d


class Overlay:
    """An overlay socket read as the page reads it: every HUD state it ever held."""

    def __init__(self) -> None:
        self.states: list[dict[str, Any]] = []
        self._changed = trio.Event()

    async def read(self, ws: trio_websocket.WebSocketConnection) -> None:
        while True:
            try:
                msg = await ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            if isinstance(msg, bytes):
                continue
            data = json.loads(msg)
            if data["t"] == "hud":
                self.states.append({**self.states[-1], **data} if self.states else data)
                self._changed.set()
                self._changed = trio.Event()

    async def wait_for(self, condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while not (self.states and condition(self.states[-1])):
            await self._changed.wait()
        return self.states[-1]


def hud_texts(state: dict[str, Any]) -> list[str]:
    out = [str(v) for k, v in state.items() if isinstance(v, str) and k != "t"]
    for u in state["upcoming"]:
        out += [str(v) for v in u.values()]
    return out


def hud_names(state: dict[str, Any]) -> list[str]:
    return [state["donor"], *(u["donor"] for u in state["upcoming"])]


@contextlib.asynccontextmanager
async def overlay_socket(d: Daemon) -> AsyncIterator[Overlay]:
    """An overlay socket to ``d``, read in the background for as long as the block runs."""
    overlay = Overlay()
    url = f"ws://127.0.0.1:{d.port}/overlay/ws"
    async with trio_websocket.open_websocket_url(url) as ws, trio.open_nursery() as nursery:
        nursery.start_soon(overlay.read, ws)
        yield overlay
        nursery.cancel_scope.cancel()


def window_paints(log: Path) -> list[tuple[str, list[str]]]:
    """(region, texts) for every HUD region the window painted, in order."""
    lines = log.read_text(encoding="utf-8").splitlines()
    return [(p["region"], p["texts"]) for p in map(json.loads, lines)]


# -- the gallery, as a browser loads it ------------------------------------------------------
class GalleryPage(html.parser.HTMLParser):
    """One gallery page: all its text (attributes too), what it loads, its cards, the next page."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.loads: list[str] = []
        self.next: str | None = None
        self.cards: dict[int, dict[str, str]] = {}
        self._card: dict[str, str] | None = None
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.texts += [v for v in a.values() if v]
        if tag in ("img", "script") and a.get("src"):
            self.loads.append(a["src"])
        elif tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        elif tag == "a" and a.get("rel") == "next":
            self.next = a["href"]
        if tag == "li" and a.get("id", "").startswith("item-"):
            self._card = self.cards.setdefault(int(a["id"].removeprefix("item-")), {})
        classes = a.get("class", "").split()
        self._field = next((c for c in ("donor", "message") if c in classes), None)

    def handle_endtag(self, tag: str) -> None:
        self._field = None

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())
        if self._card is not None and self._field is not None:
            self._card[self._field] = self._card.get(self._field, "") + data


@dataclass
class Gallery:
    pages: list[GalleryPage]
    loaded: dict[str, httpx.Response]

    @property
    def cards(self) -> dict[int, dict[str, str]]:
        return {k: v for page in self.pages for k, v in page.cards.items()}

    def picture(self, item_id: int) -> bytes:
        return self.loaded[f"/gallery/{item_id}.png"].content


async def read_gallery(base_url: str) -> Gallery:
    """Every page of /gallery, following "older", and everything the pages load."""
    gallery = Gallery([], {})
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        url: str | None = "/gallery"
        while url is not None:
            r = await http.get(url)
            assert r.status_code == 200, (url, r.text)
            page = GalleryPage()
            page.feed(r.text)
            gallery.pages.append(page)
            for src in page.loads:
                if src not in gallery.loaded:
                    gallery.loaded[src] = got = await http.get(src)
                    assert got.status_code == 200, (src, got.text)
            url = page.next
    return gallery


def picture_texts(steps: list[Any]) -> list[str]:
    """Every text a plan writes into the picture, groups included."""
    out: list[str] = []
    for step in steps:
        if isinstance(step, dsl.Text):
            out.append(step.t)
        elif isinstance(step, dsl.Group):
            out += picture_texts(list(step.s))
    return out


def drawn(plan: dsl.Plan, step_ms: int) -> bytes:
    """The gallery's PNG of ``plan`` finished: the canvas, not upscaled."""
    return png.encode(96, 96, render_at(plan, None, width=96, height=96, default_ms=step_ms))


def cut_from(seen: str, full: str) -> bool:
    """``seen`` is ``full``, or ``full`` ellipsized to fit."""
    if seen == full:
        return True
    return seen.endswith("…") and len(seen) > 6 and full.startswith(seen[:-1].rstrip())


# -- one run: donate, wait until everything aired, read every surface -------------------------
STEP_MS = 20


@dataclass
class Seen:
    """What one run showed: the private record, and every public surface."""

    asks: dict[int, Ask]
    """By item id."""
    amounts: dict[str, Ask]
    """By amount as shown ("101 RUB"): how the test tells items apart on screen."""
    history: dict[int, dict[str, Any]]
    states: list[dict[str, Any]]
    paints: list[tuple[str, list[str]]]
    gallery: Gallery
    gallery_data_status: int
    state_dir: Path


async def donate_and_watch(d: Daemon, asks: list[Ask], window_log: Path) -> Seen:
    """Queue ``asks`` while paused (so "Next up" fills), resume once the model (if it is on)
    has judged them all, and wait until all aired."""
    amounts = {f"{100 + n} RUB": ask for n, ask in enumerate(asks)}
    async with d.api() as api, overlay_socket(d) as overlay:
        await overlay.wait_for(lambda s: s["phase"] == "idle")
        assert (await api.post("/pause")).status_code == 200
        ids: dict[int, Ask] = {}
        for n, ask in enumerate(asks):
            body = {"message": ask.message, "name": ask.name, "amount": 100 + n}
            r = await api.post("/donations", json=body)
            assert r.status_code == 201, r.text
            ids[r.json()["id"]] = ask
        await overlay.wait_for(lambda s: s["queue"] == len(asks) and len(s["upcoming"]) == 5)
        while any(i["check"] == "pending" for i in (await api.get("/queue")).json()["items"]):
            await trio.sleep(0.1)  # the model's answers: then "Next up" shows what passed
        assert (await api.post("/resume")).status_code == 200
        while True:
            r = await api.get("/history", params={"limit": 100})
            history = {i["id"]: i for i in r.json()["items"]}
            if all(history.get(i, {}).get("status") == "shown" for i in ids):
                break
            await trio.sleep(0.25)
        await overlay.wait_for(lambda s: s["phase"] == "idle" and s["queue"] == 0)
    gallery = await read_gallery(d.url)
    async with httpx.AsyncClient(base_url=d.url) as http:
        data_status = (await http.get(f"/gallery/{next(iter(ids))}.json")).status_code
    assert await trio.to_thread.run_sync(d.stop) == 0
    return Seen(
        ids, amounts, history, overlay.states, window_paints(window_log), gallery, data_status,
        d.state,
    )  # fmt: skip


def as_shown(ask: Ask) -> tuple[str, str]:
    """(donor, message) as the audience must see them."""
    return (ANONYMOUS if ask.name_refused else ask.name), (ask.shown or HIDDEN)


def premise_problems(seen: Seen) -> list[str]:
    """The gatekeeper refused what the test calls refused; moderators see the raw words."""
    out = []
    for item_id, ask in seen.asks.items():
        item = seen.history[item_id]
        if (item["donor"], item["message"]) != (ask.name, ask.message):
            out.append(f"#{item_id}: the private record lost the raw words: {item}")
        if ask.shown is None:
            ok = item["verdict"] == "refused" and bool(item["rule"])
            ok = ok and (ask.rule is None or item["rule"] == ask.rule)
        else:
            ok = item["verdict"] == "allowed" and bool(item["name_rule"]) is ask.name_refused
        if not ok:
            out.append(f"#{item_id} {ask}: {item}")
    return out


def overlay_problems(seen: Seen, asks: list[Ask]) -> list[str]:
    """Every HUD state the overlay carried, whole; and what passed was there, "Next up" too."""
    out = [
        f"state {n}: {bad} {names}"
        for n, s in enumerate(seen.states)
        for bad, names in [(leaks(hud_texts(s), asks), names_refused(hud_names(s)))]
        if bad or names
    ]
    current = {(s["amount"], s["donor"], s["message"]) for s in seen.states}
    upcoming = {(u["amount"], u["donor"], u["message"]) for s in seen.states for u in s["upcoming"]}
    for amount, ask in seen.amounts.items():
        expected = (amount, *as_shown(ask))
        if expected not in current:
            out.append(f"never on the overlay as the current drawing: {expected}")
        if expected not in upcoming:
            out.append(f"never in the overlay's Next up: {expected}")
    return out


def window_problems(seen: Seen, asks: list[Ask]) -> list[str]:
    """Every HUD region the window painted; and what passed was painted, "Next up" too."""
    out = [f"window {region}: {leaks(t, asks)}" for region, t in seen.paints if leaks(t, asks)]
    info = {" ".join(t) for region, t in seen.paints if region == "info"}
    entries = [
        (texts[i + 1], texts[i + 2])
        for region, texts in seen.paints
        if region == "next"
        for i in range(1, len(texts) - 2, 3)
    ]  # the "Next up" title, then (ETA, donor · amount, message) per entry
    for amount, ask in seen.amounts.items():
        donor, message = as_shown(ask)
        if f"{donor} {amount} {message}" not in info:
            out.append(f"never painted as the current drawing: {donor} {amount} {message}")
        if not any(
            cut_from(head, f"{donor} · {amount}") and cut_from(line, message)
            for head, line in entries
        ):
            out.append(f"never painted in Next up: {donor} · {amount}: {message}")
    return out


def gallery_problems(seen: Seen, asks: list[Ask]) -> list[str]:
    """Every gallery page, what it loads, every picture and the text written into it."""
    gallery = seen.gallery
    out = [
        f"gallery page: {bad}" for bad in leaks([t for p in gallery.pages for t in p.texts], asks)
    ]
    out += [
        f"{src}: {leaks([got.text], asks)}"
        for src, got in gallery.loaded.items()
        if not src.endswith(".png") and leaks([got.text], asks)
    ]
    cards = gallery.cards
    if set(cards) != set(seen.asks):
        out.append(f"the gallery lists {sorted(cards)}, not {sorted(seen.asks)}")
    out += [
        f"gallery name: {n}" for n in names_refused([c.get("donor", "") for c in cards.values()])
    ]
    refusal_card = drawn(builtin.too_small_card(), STEP_MS)
    for item_id, ask in seen.asks.items():
        card = cards.get(item_id, {})
        if (card.get("donor"), card.get("message")) != as_shown(ask):
            out.append(f"gallery card #{item_id}: {card}, expected {as_shown(ask)}")
        picture = gallery.picture(item_id)
        if ask.shown is None:
            if picture != refusal_card:
                out.append(f"#{item_id} {ask.message!r}: its picture is not the refusal card")
            continue
        entry = json.loads((seen.state_dir / "gallery" / f"{item_id}.json").read_text())
        plan, _ = dsl.validate(json.dumps(entry["plan"]).encode())
        assert plan is not None
        if picture != drawn(plan, STEP_MS):
            out.append(f"#{item_id}: the picture is not the plan it was drawn from")
        written = picture_texts(list(plan.steps))
        out += [f"#{item_id} picture text: {bad}" for bad in leaks(written, asks)]
        if entry["origin"] == "card" and written != [ask.shown]:
            out.append(f"#{item_id}: the card writes {written}, not {ask.shown!r}")
    if seen.gallery_data_status != 404:
        out.append("the gallery's data files (raw messages) are served")
    return out


def problems(seen: Seen, asks: list[Ask]) -> dict[str, list[str]]:
    found = {
        "premise": premise_problems(seen),
        "overlay": overlay_problems(seen, asks),
        "window": window_problems(seen, asks),
        "gallery": gallery_problems(seen, asks),
    }
    return {surface: lines for surface, lines in found.items() if lines}


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(
        f"{surface}: {len(lines)} problems, the first ones:\n  " + "\n  ".join(lines[:6])
        for surface, lines in found.items()
    )


# -- the tests -------------------------------------------------------------------------------
async def test_refused_words_never_reach_the_overlay_the_window_or_the_gallery(
    clean_env: Path, daemons: list[DaemonProcess]
) -> None:
    assert len(REFUSED) >= 20
    assert len(ALLOWED) >= 10
    assert sum(a.name_refused for a in REFUSED) >= 3
    window_log = clean_env / "window-hud.jsonl"
    with trio.fail_after(240):
        d = await start(
            daemons,
            clean_env,
            clean_env / "state",
            SHOW_DURATION_SEC="0.2",
            DEFAULT_STEP_DURATION_MS=str(STEP_MS),
            DRAWSTREAMD_DEBUG_HUD_LOG=str(window_log),
        )
        seen = await donate_and_watch(d, ASKS, window_log)
    found = problems(seen, ASKS)
    assert not found, report(found)
    assert len(seen.gallery.pages) == 2, "both gallery pages were read"
    written = [
        i for i, a in seen.asks.items() if a.shown and builtin.plan_for(a.message)[1] == "card"
    ]
    assert len(written) >= 3, "the viewers' own words were written into some pictures"


# -- with the model's second opinion ---------------------------------------------------------
MODEL_REFUSES = {
    "clothes washed away": "nudity",
    "костюме Евы": "nudity",
    "square moustache": "hate_symbols",
    "only a smile": "nudity",
}
"""What the fake model refuses (by a phrase of the message); the words pass all of these."""
MODEL_ASKS = [
    Ask("Bob", "draw a lady relaxing on the beach after her clothes washed away",
        ("clothes washed away",), rule="model:nudity"),
    allowed("Маша Котова", "нарисуй кота в шляпе"),
    refused("Коля", "нарисуй х у й на заборе", "х у й"),
    Ask("Оля", "нарисуй тётю в костюме Евы", ("костюме евы",), rule="model:nudity"),
    bad_name("Adolf_1488", "draw a rocket flying to the moon"),
    allowed("Вася", "нарисуй закат над морем"),
    Ask("Kim", "draw the man with the tiny square moustache saluting with his right arm up",
        ("square moustache",), rule="model:hate_symbols"),
    refused("Max", "draw a sw4st1ka", "sw4st1ka"),
    allowed("Ира", "нарисуй синюю птицу"),
    Ask("Zoe", "draw a lady wearing only a smile", ("only a smile",), rule="model:nudity"),
    allowed("Tom", "draw a spaceship"),
]  # fmt: skip
CHECK_SEC = 0.3
"""How long the fake model thinks over each check: long enough to be seen pending."""


def model_answer(body: dict[str, Any]) -> Reply:
    question = body["messages"][-1]["content"]
    for phrase, category in MODEL_REFUSES.items():
        if phrase in question:
            return verdict(refuse=True, category=category, hang=CHECK_SEC)
    return verdict(refuse=False, hang=CHECK_SEC)


def first_shown_in_next_up(seen: Seen) -> dict[str, str]:
    """By amount: the message "Next up" showed the first time the item was in it."""
    first: dict[str, str] = {}
    for state in seen.states:
        for u in state["upcoming"]:
            first.setdefault(u["amount"], u["message"])
    return first


async def test_with_the_model_check_nothing_it_or_the_words_refused_reaches_a_public_surface(
    clean_env: Path, daemons: list[DaemonProcess], fake: FakeLLM
) -> None:
    fake.default = library_reply
    fake.check_default = model_answer
    window_log = clean_env / "window-hud.jsonl"
    with trio.fail_after(240):
        d = await start(
            daemons,
            clean_env,
            clean_env / "state",
            SHOW_DURATION_SEC="0.2",
            DEFAULT_STEP_DURATION_MS=str(STEP_MS),
            DRAWSTREAMD_DEBUG_HUD_LOG=str(window_log),
            LLM_BACKEND="openai",
            LLM_ENDPOINT=fake.url,
            LLM_MODEL_ID=fake.model,
            GATEKEEPER_MODEL_CHECK="on",
            GATEKEEPER_MODEL_TIMEOUT_SEC="5",
        )
        seen = await donate_and_watch(d, MODEL_ASKS, window_log)
    found = problems(seen, MODEL_ASKS)
    assert not found, report(found)
    # The model was asked about every message the words passed, and only about those...
    asked = [m for m in (a.message for a in MODEL_ASKS) if any(
        prompt.quote_data(m) in body["messages"][-1]["content"] for body in fake.check_requests
    )]  # fmt: skip
    words_passed = [a.message for a in MODEL_ASKS if not GATE.check(a.message).nsfw]
    assert sorted(asked) == sorted(words_passed)
    for item_id, ask in seen.asks.items():
        expected = "done" if ask.message in words_passed else "off"
        assert seen.history[item_id]["check"] == expected, seen.history[item_id]
    # ...and until it answered, "Next up" showed only the donor and the amount (of the five
    # that stood in it from the start).
    first = first_shown_in_next_up(seen)
    for amount, ask in list(seen.amounts.items())[:5]:
        if ask.message in words_passed:
            assert first[amount] == "", (amount, ask.message, first[amount])
        else:
            assert first[amount] == HIDDEN, (amount, ask.message, first[amount])
    assert "the word filter alone decided" not in d.output()
