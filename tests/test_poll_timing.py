"""The pure scheduling decisions: cache hints, Retry-After, backoff, adaptive intervals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import FeedState
from watchers import poll_timing
from watchers.config import FeedConfig, PollConfig

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)


def test_cache_lifetime_takes_the_largest_hint() -> None:
    headers = {"cache-control": "public, max-age=600", "expires": "Thu, 26 Nov 2026 12:30:00 GMT"}
    assert poll_timing.cache_lifetime(headers, NOW) == 10 * MIN  # max-age wins over Expires
    assert poll_timing.cache_lifetime({"expires": "Thu, 26 Nov 2026 12:30:00 GMT"}, NOW) == 30 * MIN
    assert poll_timing.cache_lifetime({}, NOW, ttl_minutes=45) == 45 * MIN
    assert (
        poll_timing.cache_lifetime({"cache-control": "max-age=60"}, NOW, ttl_minutes=45) == 45 * MIN
    )
    assert poll_timing.cache_lifetime({"cache-control": "no-cache, max-age=600"}, NOW) is None
    assert poll_timing.cache_lifetime({"expires": "0"}, NOW) is None
    assert poll_timing.cache_lifetime({"expires": "Thu, 26 Nov 2026 11:00:00 GMT"}, NOW) is None


def test_retry_after_as_seconds_or_date() -> None:
    assert poll_timing.retry_after({"retry-after": "120"}, NOW) == 2 * MIN
    assert poll_timing.retry_after({"retry-after": "Thu, 26 Nov 2026 13:00:00 GMT"}, NOW) == HOUR
    assert poll_timing.retry_after({"retry-after": "soon"}, NOW) is None
    assert poll_timing.retry_after({"retry-after": "999999999"}, NOW) == timedelta(days=1)


def test_success_waits_the_interval_raised_by_hints_up_to_the_max() -> None:
    rng = random.Random(1)
    plain = poll_timing.after_success(interval=5 * MIN, max_interval=HOUR, rng=rng)
    assert 0.95 * 5 * MIN <= plain <= 1.05 * 5 * MIN
    hinted = poll_timing.after_success(interval=5 * MIN, max_interval=HOUR, cache=30 * MIN, rng=rng)
    assert 0.95 * 30 * MIN <= hinted <= 1.05 * 30 * MIN
    capped = poll_timing.after_success(
        interval=5 * MIN, max_interval=HOUR, cache=24 * HOUR, rng=rng
    )
    assert capped <= 1.05 * HOUR
    # what the operator wrote is the floor, even above the max or down to a second
    slow = poll_timing.after_success(interval=2 * HOUR, max_interval=HOUR, rng=rng)
    assert slow >= 0.95 * 2 * HOUR
    fast = poll_timing.after_success(interval=timedelta(seconds=1), max_interval=HOUR, rng=rng)
    assert fast <= timedelta(seconds=1.05)


def test_adaptive_interval_follows_the_publishing_gap() -> None:
    times = [NOW - 40 * MIN * n for n in range(6)]
    gap = poll_timing.publishing_gap(times)
    assert gap == 40 * MIN
    wait = poll_timing.after_success(
        interval=5 * MIN, max_interval=HOUR, gap=gap, rng=random.Random(2)
    )
    assert 0.95 * 20 * MIN <= wait <= 1.05 * 20 * MIN
    assert poll_timing.publishing_gap(times[:2]) is None


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=2**31))
def test_backoff_doubles_and_is_capped(errors: int, seed: int) -> None:
    rng = random.Random(seed)
    wait = poll_timing.after_error(interval=MIN, max_backoff=6 * HOUR, errors=errors, rng=rng)
    expected = min(6 * HOUR, MIN * 2 ** min(errors - 1, 20))
    assert 0.8 * expected <= wait <= 1.2 * expected


@pytest.mark.parametrize("errors", [1, 5])
def test_retry_after_is_honoured_over_a_shorter_backoff(errors: int) -> None:
    wait = poll_timing.after_error(
        interval=MIN, max_backoff=6 * HOUR, errors=errors, retry=2 * HOUR, rng=random.Random(3)
    )
    assert wait >= 2 * HOUR


@pytest.mark.parametrize(
    ("next_poll_in", "errors", "interval", "expected"),
    [
        (None, 0, None, timedelta(0)),  # never polled: now
        (-HOUR, 0, None, timedelta(0)),  # overdue: now
        (10 * MIN, 0, None, 10 * MIN),  # when its last poll chose
        (3 * HOUR, 0, None, HOUR),  # the operator shortened the interval: at most max_interval
        (3 * HOUR, 0, 2 * HOUR, 2 * HOUR),  # ... or the feed's own longer interval
        (5 * HOUR, 3, None, 5 * HOUR),  # backing off: up to max_backoff
        (9 * HOUR, 3, None, 6 * HOUR),
    ],
)
def test_first_poll_after_a_start(
    next_poll_in: timedelta | None, errors: int, interval: timedelta | None, expected: timedelta
) -> None:
    poll = PollConfig(interval=5 * MIN, max_interval=HOUR, max_backoff=6 * HOUR)
    feed = FeedConfig.model_validate({"id": "a", "url": "http://a.example/", "interval": interval})
    state = FeedState(
        id="a",
        url="http://a.example/",
        consecutive_errors=errors,
        next_poll_at=None if next_poll_in is None else NOW + next_poll_in,
    )
    assert poll_timing.first_poll_at(state, feed, poll, NOW) == NOW + expected


@pytest.mark.parametrize(
    ("next_poll_in", "not_before_in", "expected"),
    [
        (20 * HOUR, 20 * HOUR, 20 * HOUR),  # a 429's Retry-After of 20 h outlasts max_backoff
        (9 * HOUR, 3 * HOUR, 6 * HOUR),  # asked less than the backoff: the backoff, capped
        (HOUR, -HOUR, HOUR),  # passed: as any error
        (None, 20 * HOUR, 20 * HOUR),
        (30 * HOUR, 30 * HOUR, 24 * HOUR),  # a state written with a longer one: at most a day
        (None, 400 * 24 * HOUR, 24 * HOUR),  # a hostile or broken header: not silenced for ever
    ],
)
def test_the_servers_retry_after_outlasts_a_restart(
    next_poll_in: timedelta | None, not_before_in: timedelta, expected: timedelta
) -> None:
    poll = PollConfig(interval=5 * MIN, max_interval=HOUR, max_backoff=6 * HOUR)
    feed = FeedConfig.model_validate({"id": "a", "url": "http://a.example/"})
    state = FeedState(
        id="a",
        url="http://a.example/",
        consecutive_errors=1,
        next_poll_at=None if next_poll_in is None else NOW + next_poll_in,
        retry_not_before=NOW + not_before_in,
    )
    assert poll_timing.first_poll_at(state, feed, poll, NOW) == NOW + expected


@pytest.mark.parametrize(
    ("retry_not_before", "hold"),
    [
        (None, None),  # the server asked for nothing
        (NOW - timedelta(minutes=1), None),  # its wait is over
        (NOW, None),
        (NOW + timedelta(hours=5), NOW + timedelta(hours=5)),
        (NOW + timedelta(days=30), NOW + poll_timing.MAX_RETRY_AFTER),  # at most a day
    ],
)
def test_a_retry_after_holds_a_reloads_poll_until_it_is_over(
    retry_not_before: datetime | None, hold: datetime | None
) -> None:
    state = FeedState(id="f", url="http://f.example/", retry_not_before=retry_not_before)
    assert poll_timing.retry_hold(state, NOW) == hold
