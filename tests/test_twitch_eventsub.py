"""The EventSub session state machine and the request objects, without I/O: the documented
frames, the reconnect hand-over, keepalive, dedupe, revocation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drawstreamd.model import ANONYMOUS
from drawstreamd.sources.twitch import eventsub, requests
from drawstreamd.sources.twitch.eventsub import (
    CloseOld,
    Dead,
    Ignored,
    Malformed,
    Notification,
    OpenReconnect,
    Revoked,
    Session,
    Welcome,
)

WALL = 1_700_000_000.0


def frame(
    kind: str,
    payload: dict[str, Any],
    *,
    mid: str = "m1",
    sub: str | None = None,
    ts: str = "2023-11-14T22:13:20.123456789Z",
) -> str:
    meta: dict[str, Any] = {"message_id": mid, "message_type": kind, "message_timestamp": ts}
    if sub:
        meta |= {"subscription_type": sub, "subscription_version": "1"}
    return json.dumps({"metadata": meta, "payload": payload})


def welcome(sid: str = "AQoQ1", keepalive: int | None = 10) -> str:
    session = {
        "id": sid,
        "status": "connected",
        "connected_at": "…",
        "keepalive_timeout_seconds": keepalive,
        "reconnect_url": None,
    }
    return frame("session_welcome", {"session": session}, mid=f"w-{sid}")


REDEMPTION_EVENT = {
    "id": "17fa2df1-ad76-4804-bfa5-a40ef63efe63",
    "broadcaster_user_id": "1337",
    "broadcaster_user_login": "cool_user",
    "broadcaster_user_name": "Cool_User",
    "user_id": "9001",
    "user_login": "cooler_user",
    "user_name": "Cooler_User",
    "user_input": "draw a cat",
    "status": "unfulfilled",
    "reward": {
        "id": "92af127c-7326-4483-a52b-b0da0be61c01",
        "title": "Draw something",
        "cost": 500,
        "prompt": "What should I draw?",
    },
    "redeemed_at": "2020-07-15T17:16:03.17106713Z",
}


def note(
    mid: str,
    event: dict[str, Any] | None = None,
    kind: str = requests.REDEMPTION,
    ts: str = "2023-11-14T22:13:20.123456789Z",
) -> str:
    payload = {
        "subscription": {"id": "s1", "type": kind, "version": "1", "status": "enabled"},
        "event": event or REDEMPTION_EVENT,
    }
    return frame("notification", payload, mid=mid, sub=kind, ts=ts)


def test_welcome_then_notifications_once_each() -> None:
    s = Session(now=0.0)
    s.opened(1, reconnect=False)
    assert s.receive(1, welcome(), 0.1) == [Welcome(1, "AQoQ1", fresh=True)]
    got = s.receive(1, note("n1"), 1.0, WALL)
    assert got == [Notification(requests.REDEMPTION, REDEMPTION_EVENT, "n1")]
    # at-least-once delivery: the same message_id again is dropped
    again = s.receive(1, note("n1"), 1.5, WALL)
    assert len(again) == 1
    assert isinstance(again[0], Ignored)
    assert "redelivered" in again[0].reason


def test_keepalive_sets_the_deadline() -> None:
    s = Session(now=0.0)
    s.opened(1, reconnect=False)
    s.receive(1, welcome(keepalive=10), 0.0)
    assert s.expired(11.9) is None  # 10 s and a grace of 2 s
    assert s.receive(1, frame("session_keepalive", {}, mid="k"), 11.0) == []
    assert s.expired(22.9) is None  # a keepalive resets it
    dead = s.expired(23.1)
    assert isinstance(dead, Dead)
    assert "keepalive" in dead.reason


def test_reconnect_moves_without_resubscribing_and_closes_the_old_one() -> None:
    s = Session(now=0.0)
    s.opened(1, reconnect=False)
    s.receive(1, welcome("AQoQold"), 0.0)
    session = {
        "id": "AQoQold",
        "status": "reconnecting",
        "keepalive_timeout_seconds": None,
        "reconnect_url": "wss://edge-2/ws?x=1",
    }
    assert s.receive(1, frame("session_reconnect", {"session": session}, mid="r"), 1.0) == [
        OpenReconnect("wss://edge-2/ws?x=1")
    ]
    s.opened(2, reconnect=True)
    # the old connection still delivers until the new one says welcome
    assert isinstance(s.receive(1, note("n1"), 1.5, WALL)[0], Notification)
    assert s.receive(2, welcome("AQoQnew"), 2.0) == [
        Welcome(2, "AQoQnew", fresh=False),
        CloseOld(1),
    ]
    # the same message on the new connection is not delivered twice
    assert isinstance(s.receive(2, note("n1"), 2.5, WALL)[0], Ignored)
    assert isinstance(s.receive(2, note("n2"), 2.6, WALL)[0], Notification)
    # the old connection's end is no loss
    assert s.closed(1, 4004, "client reconnect grace time expired") == []


def test_old_connection_closing_before_the_new_welcome_is_no_loss() -> None:
    s = Session(now=0.0)
    s.opened(1, reconnect=False)
    s.receive(1, welcome(), 0.0)
    s.opened(2, reconnect=True)
    assert s.closed(1, 4004, "") == []
    assert s.receive(2, welcome("AQoQ2"), 1.0)[0] == Welcome(2, "AQoQ2", fresh=False)


def test_a_bad_reconnect_url_or_a_close_is_a_dead_session() -> None:
    s = Session(now=0.0)
    s.opened(1, reconnect=False)
    s.receive(1, welcome(), 0.0)
    s.opened(2, reconnect=True)
    stay = s.closed(2, 4007, "invalid reconnect attempt")
    assert isinstance(stay[0], Malformed)  # the old one still works
    dead = s.closed(1, 4000, "")
    assert dead == [Dead("closed code=4000 (internal server error)")]


@pytest.mark.parametrize(
    ("code", "words"), [(4003, "connection unused"), (4001, "inbound traffic"), (None, "no reason")]
)
def test_close_codes_are_named(code: int | None, words: str) -> None:
    assert words in eventsub.close_reason(code, "")


def test_revocation_and_old_or_broken_frames() -> None:
    s = Session(now=0.0)
    s.opened(1, reconnect=False)
    s.receive(1, welcome(), 0.0)
    sub = {
        "id": "s1",
        "status": "authorization_revoked",
        "type": requests.REDEMPTION,
        "version": "1",
    }
    assert s.receive(1, frame("revocation", {"subscription": sub}, mid="v"), 1.0) == [
        Revoked(requests.REDEMPTION, "authorization_revoked")
    ]
    stale = s.receive(1, note("old", ts="2023-11-14T21:00:00Z"), 1.0, WALL)  # 73 min old
    assert isinstance(stale[0], Ignored)
    for bad in ("nope", "[]", '{"metadata":{}}', b"\x00"):
        assert isinstance(s.receive(1, bad, 1.0)[0], Malformed)
    assert isinstance(
        s.receive(
            1, json.dumps({"metadata": {"message_type": "notification"}, "payload": {}}), 1.0
        )[0],
        Malformed,
    )


def test_redemption_and_cheer_become_donations() -> None:
    donation, reward = requests.redemption(REDEMPTION_EVENT)
    assert (donation.source, donation.external_id) == (
        "twitch",
        "redemption:17fa2df1-ad76-4804-bfa5-a40ef63efe63",
    )
    assert (donation.donor, donation.message, donation.amount, donation.currency) == (
        "Cooler_User",
        "draw a cat",
        500,
        "POINTS",
    )
    assert reward == "92af127c-7326-4483-a52b-b0da0be61c01"
    assert donation.created_at.isoformat() == "2020-07-15T17:16:03.171067+00:00"
    assert requests.redemption_id(donation.external_id) == "17fa2df1-ad76-4804-bfa5-a40ef63efe63"
    # the Helix list spells status in capitals; the rest is the same
    helix_row = {**REDEMPTION_EVENT, "status": "UNFULFILLED"}
    assert requests.redemption(helix_row)[0] == donation
    cheer = requests.cheer(
        {
            "is_anonymous": False,
            "user_name": "Bitsy",
            "message": "Cheer100 Kappa50 draw a dog Cheer100",
            "bits": 150,
        },
        "m-9",
    )
    assert (cheer.external_id, cheer.donor, cheer.message, cheer.amount, cheer.currency) == (
        "cheer:m-9",
        "Bitsy",
        "draw a dog",
        150,
        "BITS",
    )
    anon = requests.cheer(
        {"is_anonymous": True, "user_name": None, "message": "anon", "bits": 1}, "m-10"
    )
    assert anon.donor == ANONYMOUS
    assert requests.below_bits(anon, 100) == "below TWITCH_MIN_BITS (1 < 100)"
    assert requests.below_bits(cheer, 100) is None
    assert requests.below_bits(donation, 100_000) is None  # points are not bits
    for broken in ({}, {"id": "x"}):
        with pytest.raises(requests.BadEvent):
            requests.redemption(broken)
    with pytest.raises(requests.BadEvent):
        requests.cheer({"bits": "lots"}, "m")


def test_cheermotes_are_not_the_request() -> None:
    assert (
        requests.strip_cheermotes("Cheer100 draw R2D2 with 3 cats PogChamp cheer5")
        == "draw R2D2 with 3 cats PogChamp"
    )
