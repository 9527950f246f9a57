"""The admins' notices of a feed failing for long, and of its recovery: which poll says one is a
pure decision on the feed's state before the poll and after it, so a restart repeats none."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from bot.i18n import N_, Said, Span, Value, kept_said
from store import FeedState, Store
from watchers.config import FeedConfig
from watchers.poll import Poller
from watchers.poll_state import current_state

FAILING_AFTER = timedelta(hours=6)  # shorter outages say nothing: no noise

FAILING = N_(
    "kurilwatch: feed {feed} ({url}) has been failing for {span}: {error}. It is still polled,"
    " and you will be told when it recovers."
)
RECOVERED = N_("kurilwatch: feed {feed} ({url}) recovered after failing for {span}.")


def failing_for(state: FeedState) -> timedelta | None:
    """How long a feed had failed at its last poll: since the first poll that failed after its
    last success (or, never having succeeded, since its first poll); None: it did not fail, or
    it is disabled (its own notice said so)."""
    if not state.consecutive_errors or state.disabled_reason:
        return None
    if state.errors_since is None or state.last_attempt_at is None:
        return None
    return state.last_attempt_at - state.errors_since


def failing_notice(
    feed: str,
    url: str,
    before: FeedState | None,
    after: FeedState | None,
    threshold: timedelta = FAILING_AFTER,
) -> Said | None:
    """What a poll tells the admins: that the feed's failing crossed `threshold` between the
    poll before and this one, or that it answered again after failing at least `threshold`;
    None for anything else. The times are the polls' own, as the states keep them. `before`
    or `after` None: not known (the store failed), nothing said."""
    if before is None or after is None:
        return None
    was = failing_for(before)
    if not after.consecutive_errors and after.last_success_at is not None:
        if was is None or was < threshold or before.errors_since is None:
            return None
        span = after.last_success_at - before.errors_since
        return Said(RECOVERED, {"feed": feed, "url": url, "span": _span(span)})
    now = failing_for(after)
    if now is None or now < threshold:
        return None
    # the same run of failures: said already (its start moves back when the clock does)
    same = before.errors_since == after.errors_since
    if (
        was is not None
        and was >= threshold
        and (same or after.consecutive_errors > before.consecutive_errors)
    ):
        return None
    values: dict[str, Value] = {"feed": feed, "url": url, "span": _span(now)}
    # said in each admin's language (a state kept before such messages: its English)
    values["error"] = kept_said(after.last_error_message, after.last_error or "")
    return Said(FAILING, values)


def _span(length: timedelta) -> Span:
    return Span(round(length.total_seconds() / 60) * 60)  # to the minute


async def state_before(poller: Poller, feed: FeedConfig) -> FeedState | None:
    """The state a poll of `feed` starts from: as the poller last saved it, or as the store
    keeps it (None: the store fails)."""
    saved = poller.saved.get(feed.id)
    if saved is None:
        try:
            saved = await poller.store.run(Store.feed_state, feed.id)
        except sqlite3.Error:
            return None
    return current_state(saved, feed)


def state_after(poller: Poller, feed: FeedConfig) -> FeedState | None:
    """The state a poll of `feed` left, as the poller saved it (None: none saved yet)."""
    saved = poller.saved.get(feed.id)
    return None if saved is None else current_state(saved, feed)
