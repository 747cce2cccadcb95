"""The load shedder's pure part: token buckets per client, with an injected clock."""

from __future__ import annotations

from drawstreamd.control.ratelimit import RateLimiter


def test_a_client_gets_its_burst_then_its_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5)
    assert [limiter.allow("a", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.retry_after("a") > 0
    assert not limiter.allow("a", 0.05)  # half a token
    assert limiter.allow("a", 0.1)
    assert not limiter.allow("a", 0.1)
    assert limiter.allow("a", 100.0)  # refills, never past the burst
    assert sum(limiter.allow("a", 100.0) for _ in range(10)) == 4


def test_one_flooding_client_does_not_starve_another() -> None:
    limiter = RateLimiter(rate=1.0, burst=2)
    for _ in range(100):
        limiter.allow("flood", 0.0)
    assert limiter.allow("polite", 0.0)


def test_memory_stays_bounded_whatever_the_number_of_clients() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_tracked=100)
    for n in range(10_000):
        limiter.allow(f"10.0.{n // 256}.{n % 256}", float(n))
    assert len(limiter) == 100
