"""The state a poll leaves on its feed: a good answer's, and the state a poll starts from."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from store import FeedState
from watchers.config import FeedConfig
from watchers.fetch import FetchResult


def _succeeded(
    state: FeedState, fetched: FetchResult, at: datetime, next_poll_at: datetime | None
) -> FeedState:
    """The state after a good answer: its validators kept, the errors forgotten."""
    return replace(
        state,
        etag=fetched.headers.get("etag") or state.etag,
        last_modified=fetched.headers.get("last-modified") or state.last_modified,
        last_status=fetched.status,
        last_error=None,
        last_error_message=None,
        consecutive_errors=0,
        errors_since=None,
        disabled_at=None,
        disabled_reason=None,
        disabled_reason_message=None,
        last_attempt_at=at,
        last_success_at=at,
        next_poll_at=next_poll_at,
        retry_not_before=None,
        told_since=told_since(state, at),
    )


def failing_since(state: FeedState, started: datetime) -> datetime:
    """Since when a feed polled at `started` has failed, if this poll fails too: since its
    first failed poll; when the wall clock was set back after its last poll, the span failed
    so far counted back from `started` (else it would count from a time ahead of the clock:
    the admins' "recovered" notice and `poll.gone_after` would wait out the step back)."""
    since, last = state.errors_since, state.last_attempt_at
    if since is None:
        return started
    if last is not None and started < last:
        return started - max(last - since, timedelta(0))
    return since


def told_since(state: FeedState, started: datetime) -> datetime | None:
    """The failing run the admins were told of, as a poll at `started` keeps it: moved back
    with the run's start when the wall clock was set back (`failing_since`), so that it still
    names the run (told once), and its recovery's span counts back from the poll as well."""
    told, last = state.told_since, state.last_attempt_at
    if told is None or last is None or started >= last:
        return told
    return started - max(last - told, timedelta(0))


def current_state(stored: FeedState | None, feed: FeedConfig) -> FeedState:
    """The state to poll from: a new feed, or one whose URL the operator changed, starts afresh
    (unprimed: the new URL may be another feed, whose backlog must not alert)."""
    url = str(feed.url)
    if stored is None or (stored.config_url or stored.url) != url:
        return FeedState(id=feed.id, url=url, config_url=url)
    return stored
