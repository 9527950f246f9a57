"""The admins' notices of a feed failing for long, and of its recovery: a pure decision on the
state a poll left, with the run the admins were told of stored on it (`told_since`), so neither
is lost when another process made the poll and none is repeated after a restart; and the
notice of a feed a poll disabled, its reason said in each admin's language."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.i18n import N_, Said, Span, Value, kept_said
from store import FeedState
from watchers.config import FeedConfig
from watchers.poll import Poller
from watchers.poll_state import current_state

FAILING_AFTER = timedelta(hours=6)  # shorter outages say nothing: no noise

FAILING = N_(
    "kurilwatch: feed {feed} ({url}) has been failing for {span}: {error}. It is still polled,"
    " and you will be told when it recovers."
)
RECOVERED = N_("kurilwatch: feed {feed} ({url}) recovered after failing for {span}.")
DISABLED = N_(
    "kurilwatch: feed {feed} ({url}) was disabled: {error}. Fix its url in the"
    " config, or run `kurilwatch poll --once --feed {feed}` to try it again."
)


def failing_for(state: FeedState) -> timedelta | None:
    """How long a feed had failed at its last poll: since the first poll that failed after its
    last success (or, never having succeeded, since its first poll); None: it did not fail, or
    it is disabled (its own notice said so)."""
    if not state.consecutive_errors or state.disabled_reason:
        return None
    if state.errors_since is None or state.last_attempt_at is None:
        return None
    return state.last_attempt_at - state.errors_since


@dataclass(frozen=True, slots=True)
class Told:
    """A notice to the admins, and the failing run it leaves them told of (None: none)."""

    said: Said
    told_since: datetime | None


def failing_notice(
    feed: str, url: str, state: FeedState | None, threshold: timedelta = FAILING_AFTER
) -> Told | None:
    """What the admins are told after a poll that left `state` (None: not known, the store
    failed): that the feed's failing run has passed `threshold`, unless they were told of this
    run; or, told of a run, that the feed answered since (in this poll, or in one of another
    process, then failing again: a new run). Spans are of the polls' own times, which a clock
    set back moves back with the run's start and its mark (`watchers.poll_state`)."""
    if state is None:
        return None
    told = state.told_since
    if told is not None and state.last_success_at is not None:
        ended = state.errors_since is not None and state.errors_since != told
        if not state.consecutive_errors or ended:
            span = max(state.last_success_at - told, timedelta(0))
            return Told(Said(RECOVERED, {"feed": feed, "url": url, "span": _span(span)}), None)
    failed = failing_for(state)
    if failed is None or failed < threshold or state.errors_since == told:
        return None
    values: dict[str, Value] = {"feed": feed, "url": url, "span": _span(failed)}
    # said in each admin's language (a state kept before such messages: its English)
    values["error"] = kept_said(state.last_error_message, state.last_error or "")
    return Told(Said(FAILING, values), state.errors_since)


def disabled_notice(feed: str, url: str, state: FeedState | None, reason: str) -> Said:
    """What the admins are told of a feed a poll disabled, leaving `state`, for `reason` (its
    English): the reason kept on the state said in each admin's language (none kept: `reason`
    as it is)."""
    kept = state.disabled_reason_message if state is not None else None
    return Said(DISABLED, {"feed": feed, "url": url, "error": kept_said(kept, reason)})


def _span(length: timedelta) -> Span:
    return Span(round(length.total_seconds() / 60) * 60)  # to the minute


def state_after(poller: Poller, feed: FeedConfig) -> FeedState | None:
    """The state a poll of `feed` left, as the poller saved it (None: none saved yet)."""
    saved = poller.saved.get(feed.id)
    return None if saved is None else current_state(saved, feed)


def mark_told(poller: Poller, feed: FeedConfig, told_since: datetime | None) -> None:
    """The poller's copy of the feed's state marked as the admins are told (its next save keeps
    it, and the next decision sees it, even while the store has not taken the notice yet)."""
    saved = poller.saved.get(feed.id)
    if saved is not None:
        poller.saved[feed.id] = replace(saved, told_since=told_since)
