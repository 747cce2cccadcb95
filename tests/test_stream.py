"""The incremental plan parser and the SSE decoder: pure, fed text split anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawstreamd.plan import builtin
from drawstreamd.plan.stream import (
    MAX_PENDING_CHARS,
    MAX_SSE_EVENT_CHARS,
    MAX_SSE_LINE_CHARS,
    MAX_TRAILING_CHARS,
    Field,
    InvalidJSON,
    Item,
    PlanStreamParser,
    SSEDecoder,
    SSETooLong,
    StreamError,
    Truncated,
    WrongShape,
)

PLANS = [plan_json for _, plan_json in builtin.few_shot(3)]


def _parse(pieces: list[str]) -> tuple[dict[str, Any], list[Any], PlanStreamParser]:
    parser = PlanStreamParser()
    fields: dict[str, Any] = {}
    items: list[Any] = []
    for piece in pieces:
        for event in parser.feed(piece):
            if isinstance(event, Field):
                fields[event.key] = event.value
            else:
                assert event.index == len(items)
                items.append(event.value)
    parser.finish()
    return fields, items, parser


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


@pytest.mark.parametrize("plan_json", PLANS)
def test_every_two_way_split_of_a_library_plan_decodes_the_same(plan_json: str) -> None:
    whole = json.loads(plan_json)
    for cut in range(len(plan_json) + 1):
        fields, items, parser = _parse([plan_json[:cut], plan_json[cut:]])
        assert items == whole["steps"]
        assert fields == {k: v for k, v in whole.items() if k != "steps"}
        assert parser.done


@settings(max_examples=200, deadline=None)
@given(
    doc=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
        max_leaves=20,
    ),
    head=st.dictionaries(st.sampled_from(["v", "seed", "bg", "x"]), st.integers(), max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    indent=st.sampled_from([None, 0, 2]),
)
def test_any_json_steps_split_anywhere_come_out_as_json_loads_sees_them(
    doc: Any, head: dict[str, int], cuts: list[int], indent: int | None
) -> None:
    steps = [doc, {"k": doc}, [doc]]
    text = json.dumps({**head, "steps": steps}, indent=indent, ensure_ascii=False)
    fields, items, _ = _parse(_split(text, cuts))
    assert items == steps
    assert fields == head


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list('{}[]":,\\ 0123456789.-+eEtrufalsn`\n\tаx')))
    | st.sampled_from(PLANS).flatmap(
        lambda p: st.integers(0, len(p)).map(lambda i: p[:i] + "}" + p[i:])
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
)
def test_garbage_only_ever_raises_stream_errors(text: str, cuts: list[int]) -> None:
    parser = PlanStreamParser()
    try:
        for piece in _split(text, cuts):
            parser.feed(piece)
        parser.finish()
    except StreamError:
        pass


def test_a_step_is_reported_the_moment_its_closing_brace_arrives() -> None:
    plan_json = PLANS[0]
    first_step = json.dumps(json.loads(plan_json)["steps"][0], separators=(",", ":"))
    end = plan_json.index(first_step) + len(first_step)
    parser = PlanStreamParser()
    events = parser.feed(plan_json[: end - 1])
    assert not [e for e in events if isinstance(e, Item)]
    events = parser.feed(plan_json[end - 1 : end])
    assert events == [Item(0, json.loads(first_step))]


def test_header_fields_arrive_before_the_first_step() -> None:
    parser = PlanStreamParser()
    events = parser.feed('{"v":1,"seed":42,"bg":"dark_blue","steps":[')
    assert events == [Field("v", 1), Field("seed", 42), Field("bg", "dark_blue")]


def test_a_number_at_the_end_of_a_chunk_waits_for_the_next_character() -> None:
    parser = PlanStreamParser()
    assert parser.feed('{"seed":12') == []
    assert parser.feed('3,"steps":[]}') == [Field("seed", 123)]
    assert parser.done


@pytest.mark.parametrize("plan_json", PLANS)
def test_every_prefix_of_a_plan_is_reported_as_cut_off_not_as_invalid(plan_json: str) -> None:
    total = len(json.loads(plan_json)["steps"])
    for cut in range(len(plan_json) - 1):
        parser = PlanStreamParser()
        items = [e for e in parser.feed(plan_json[:cut]) if isinstance(e, Item)]
        assert len(items) <= total
        with pytest.raises(Truncated):
            parser.finish()


def test_cut_off_message_says_how_many_steps_were_complete() -> None:
    parser = PlanStreamParser()
    parser.feed('{"v":1,"steps":[{"op":"rect"},{"op":"ci')
    with pytest.raises(Truncated, match=r"after 1 complete step"):
        parser.finish()


def test_an_empty_stream_is_cut_off() -> None:
    parser = PlanStreamParser()
    parser.feed("   \n")
    with pytest.raises(Truncated, match="before any JSON"):
        parser.finish()


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ('{"steps" [1]}', 9),
        ('{"steps":[1,]}', 12),
        ('{"steps":[tru]}', 13),
        ('{"steps":[{"a":1}}', 17),
        ("{'steps':[]}", 1),
        ('{"steps":["a\\q"]}', 13),
        ('{"steps":["tab\there"]}', 14),
        ('{"steps":[1] "x":2}', 13),
        ('{"steps":[NaN]}', 10),
        ('{"steps":[Infinity]}', 10),
    ],
)
def test_invalid_json_is_reported_at_the_offending_character(text: str, offset: int) -> None:
    parser = PlanStreamParser()
    for ch in text[:offset]:  # one character at a time: the error comes at once, not at the end
        parser.feed(ch)
    with pytest.raises(InvalidJSON) as caught:
        parser.feed(text[offset])
    assert caught.value.offset == offset


def test_absurd_nesting_is_refused_before_it_reaches_the_decoder() -> None:
    parser = PlanStreamParser()
    with pytest.raises(InvalidJSON, match="nested deeper"):
        parser.feed('{"steps":[' + "[" * 100_000)


def test_malformed_number_is_invalid_json() -> None:
    parser = PlanStreamParser()
    with pytest.raises(InvalidJSON):
        parser.feed('{"steps":[1.2.3]}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('"a plan"', "must be a JSON object"),
        ('{"steps": {"op": "rect"}}', '"steps" must be an array'),
        ('{"v": 1, "seed": 2}', 'no "steps" array'),
    ],
)
def test_json_that_is_not_a_plan_is_wrong_shape(text: str, message: str) -> None:
    def parse() -> None:
        parser = PlanStreamParser()
        parser.feed(text)
        parser.finish()

    with pytest.raises(WrongShape, match=message):
        parse()


def test_a_markdown_fence_around_the_plan_is_tolerated() -> None:
    fields, items, parser = _parse(["``", '`json\n{"v":1,"steps":[{"op":"rect"}]}', "\n```\n"])
    assert items == [{"op": "rect"}]
    assert fields == {"v": 1}
    assert parser.trailing == "```"


def test_text_after_the_plan_is_kept_aside_not_parsed() -> None:
    _, items, parser = _parse(['{"steps":[1]} and some chatter {'])
    assert items == [1]
    assert parser.trailing == "andsomechatter{"


def test_chatter_after_the_plan_is_kept_only_up_to_its_cap() -> None:
    _, items, parser = _parse(['{"steps":[1]}', "x" * 100_000])
    assert items == [1]
    assert parser.trailing == "x" * MAX_TRAILING_CHARS


def test_one_endless_step_is_refused_while_it_grows_not_held_whole() -> None:
    parser = PlanStreamParser()
    assert parser.feed('{"v":1,"steps":[{"op":"rect","c":"red"},{"op":"text","t":"') == [
        Field("v", 1),
        Item(0, {"op": "rect", "c": "red"}),
    ]
    with pytest.raises(StreamError, match=f"step 1 is longer than {MAX_PENDING_CHARS}"):
        _feed_all(parser, ["a" * 1000] * 100)


def test_a_fence_line_that_never_ends_is_refused() -> None:
    parser = PlanStreamParser()
    with pytest.raises(WrongShape, match="no JSON object within the first"):
        _feed_all(parser, ["```" + "json" * 250] * 1000)


def _feed_all(parser: PlanStreamParser | SSEDecoder, pieces: list[Any]) -> int:
    """Feed every piece; return how many characters or bytes went in before an error."""
    fed = 0
    for piece in pieces:
        parser.feed(piece)
        fed += len(piece)
    return fed


# -- SSE -------------------------------------------------------------------------------------

SSE = (
    'data: {"a": "кот"}\r\n\r\n'
    ": keep-alive comment\n"
    "event: message\nid: 7\n"
    "data: line one\ndata: line two\n\n"
    "data:nospace\r\r"
    "data: [DONE]\n\n"
    "data: never ended"
).encode()
EVENTS = ['{"a": "кот"}', "line one\nline two", "nospace", "[DONE]"]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_sse_events_survive_any_chunking_even_inside_utf8(size: int) -> None:
    decoder = SSEDecoder()
    out: list[str] = []
    for i in range(0, len(SSE), size):
        out += decoder.feed(SSE[i : i + size])
    assert out == EVENTS


def test_sse_every_two_way_split() -> None:
    for cut in range(len(SSE) + 1):
        decoder = SSEDecoder()
        assert decoder.feed(SSE[:cut]) + decoder.feed(SSE[cut:]) == EVENTS


def test_sse_crlf_split_between_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == ["a"]
    assert decoder.feed(b"\ndata: b\n\n") == ["b"]


def test_sse_a_line_that_never_ends_is_refused_at_its_cap() -> None:
    decoder = SSEDecoder()
    chunk = b"data: " + b"x" * 65536
    fed: list[bytes] = []

    def feed() -> None:
        for _ in range(10 * 1024 * 1024 // len(chunk)):  # a 10 MB line with no newline
            decoder.feed(chunk)
            fed.append(chunk)

    with pytest.raises(SSETooLong, match="SSE line longer than"):
        feed()
    assert sum(map(len, fed)) <= MAX_SSE_LINE_CHARS


def test_sse_a_huge_line_arriving_whole_is_refused() -> None:
    with pytest.raises(SSETooLong):
        SSEDecoder().feed(b"data: " + b"x" * (MAX_SSE_LINE_CHARS + 1) + b"\n\n")


def test_sse_an_event_of_endless_data_lines_is_refused_at_its_cap() -> None:
    decoder = SSEDecoder()
    line = b"data: " + b"y" * 1000 + b"\n"
    with pytest.raises(SSETooLong, match="SSE event with more than"):
        _feed_all(decoder, [line] * (MAX_SSE_EVENT_CHARS // 1000 + 2))


def test_sse_long_lines_below_the_cap_and_crlf_edges_still_decode() -> None:
    decoder = SSEDecoder()
    big = "z" * (MAX_SSE_LINE_CHARS - 10)
    assert decoder.feed(f"data: {big}\r".encode()) == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [big]
