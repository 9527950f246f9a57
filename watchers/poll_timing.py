"""When to poll a feed next: pure functions of the poll's outcome, the feed's hints and the clock.

Like miniflux: a success waits the configured interval, raised to the feed's TTL, Cache-Control
max-age or Expires (never above `max_interval`, never below what the operator wrote); errors
back off exponentially with jitter up to `max_backoff`; Retry-After is honoured.
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from store import FeedState
from watchers import bounded
from watchers.config import FeedConfig, PollConfig

JITTER = 0.05  # spread polls a few percent so feeds do not poll in lockstep
BACKOFF_JITTER = 0.2
MAX_RETRY_AFTER = timedelta(days=1)
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?([0-9]+)", re.IGNORECASE)


def _http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo else None


def cache_lifetime(
    headers: Mapping[str, str], now: datetime, ttl_minutes: int | None = None
) -> timedelta | None:
    """How long the server says the feed stays fresh: the largest of its hints, if any."""
    hints: list[timedelta] = []
    control = headers.get("cache-control", "")
    if "no-cache" not in control.lower() and "no-store" not in control.lower():
        if match := _MAX_AGE.search(control):
            seconds = bounded.header_seconds(match.group(1))
            if seconds is not None:
                hints.append(timedelta(seconds=seconds))
        elif (expires := _http_date(headers.get("expires", ""))) is not None:
            hints.append(expires - now)
    if ttl_minutes and ttl_minutes > 0:
        hints.append(timedelta(minutes=min(ttl_minutes, bounded.MAX_HINT_SECONDS // 60)))
    positive = [h for h in hints if h > timedelta(0)]
    return max(positive) if positive else None


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if (seconds := bounded.header_seconds(value, int(MAX_RETRY_AFTER.total_seconds()))) is not None:
        wait = timedelta(seconds=seconds)
    elif (moment := _http_date(value)) is not None:
        wait = moment - now
    else:
        return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def publishing_gap(times: Sequence[datetime]) -> timedelta | None:
    """The median time between a feed's recent new items (at least 3 needed)."""
    ordered = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    gaps = [g for g in gaps if g > 0]
    if len(gaps) < 2:
        return None
    return timedelta(seconds=statistics.median(gaps))


def after_success(
    *,
    interval: timedelta,
    max_interval: timedelta,
    cache: timedelta | None = None,
    gap: timedelta | None = None,
    rng: random.Random | None = None,
) -> timedelta:
    """The wait after a good poll. `gap` (adaptive feeds) asks for half the publishing gap."""
    wanted = interval
    for hint in (cache, gap / 2 if gap else None):
        if hint is not None:
            wanted = max(wanted, min(hint, max_interval))
    return _jittered(wanted, JITTER, rng)


def after_error(
    *,
    interval: timedelta,
    max_backoff: timedelta,
    errors: int,
    retry: timedelta | None = None,
    rng: random.Random | None = None,
) -> timedelta:
    """The wait after the `errors`-th failure in a row: doubling from the interval, capped."""
    doubled = interval.total_seconds() * 2.0 ** min(max(errors - 1, 0), 30)  # a float: no overflow
    backoff = min(max_backoff, timedelta(seconds=min(doubled, max_backoff.total_seconds())))
    backoff = _jittered(backoff, BACKOFF_JITTER, rng)
    return max(backoff, retry) if retry is not None else backoff


def _jittered(delay: timedelta, spread: float, rng: random.Random | None) -> timedelta:
    factor = (rng or random).uniform(1 - spread, 1 + spread)
    return delay * factor


def retry_hold(state: FeedState, now: datetime) -> datetime | None:
    """When its server's Retry-After lets a feed be polled again (at most `MAX_RETRY_AFTER`
    from now), or None if it asked for no wait still ahead: a reload's poll of a feed it
    changes or adds back waits for it, as a start's does."""
    if state.retry_not_before is None or state.retry_not_before <= now:
        return None
    return min(state.retry_not_before, now + MAX_RETRY_AFTER)


def first_poll_at(state: FeedState, feed: FeedConfig, poll: PollConfig, now: datetime) -> datetime:
    """When a (not disabled) feed is first polled after a start: when its last poll chose, but
    now if that has passed, and no later than its longest wait from now (an operator who
    shortened the interval need not wait out the old one), unless its server asked for longer
    with a Retry-After (at most `MAX_RETRY_AFTER` from now)."""
    first = state.next_poll_at or now
    longest = (
        poll.max_backoff
        if state.consecutive_errors
        else max(feed.interval or poll.interval, poll.max_interval)
    )
    first = min(max(first, now), now + longest)
    if state.retry_not_before is not None:  # the server's own word, past max_backoff
        first = max(first, min(state.retry_not_before, now + MAX_RETRY_AFTER))
    return first
