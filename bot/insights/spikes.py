"""The spike detector: is a topic's coverage of the last hours far above its usual level?

A spike is more stories in the last `window` (6 h) than the mean + 3σ of the same window of
the day on each of the `history` (14) days before, and at least `min_stories`, so a quiet
topic's two stories are no spike. Comparing the same hours of the day keeps the daily rhythm
of the news (Moscow's and Tokyo's working hours) from looking like a burst. A topic is judged
only once its news has been recorded as it came in for the whole history (every one of those
windows): until then nothing says what is usual for it. The stories a feed's first poll records
(its backlog: weeks of them for a search feed) are no such record; they are left out of the
counts, and their dates do not make a new install's history. A topic is announced at most once
per `quiet` (12 h). Pure functions, as Huginn's
PeakDetectorAgent (mean + 3σ over two weeks).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.i18n import language
from store import SpikeChat

WINDOW = timedelta(hours=6)
HISTORY_DAYS = 14
SIGMAS = 3.0
MIN_STORIES = 5
QUIET = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SpikeRule:
    window: timedelta = WINDOW
    history_days: int = HISTORY_DAYS
    sigmas: float = SIGMAS
    min_stories: int = MIN_STORIES
    quiet: timedelta = QUIET

    def since(self, now: datetime) -> datetime:
        """The earliest story time the detector looks at."""
        return now - timedelta(days=self.history_days) - self.window


@dataclass(frozen=True, slots=True)
class Spike:
    count: int  # stories in the last window
    mean: float  # of the same window on the days before
    sd: float
    threshold: float  # mean + sigmas × sd


def window_counts(
    times: Sequence[datetime], now: datetime, rule: SpikeRule = SpikeRule()
) -> tuple[int, list[int]]:
    """Stories in the last window, and in the same window on each of the days before
    (yesterday first)."""
    current = 0
    history = [0] * rule.history_days
    day = timedelta(days=1)
    for at in times:
        if now - rule.window <= at < now:
            current += 1
            continue
        ago = now - at
        days_back = ago // day  # the window d days back holds ages in (d days, d days + 6 h]
        rest = ago - days_back * day
        if 1 <= days_back <= rule.history_days and timedelta(0) < rest <= rule.window:
            history[days_back - 1] += 1
    return current, history


def last_announced(last_spike_at: datetime | None, now: datetime) -> datetime | None:
    """When the topic was last announced, as its quiet period counts it: a time after `now`
    (stamped while the wall clock ran ahead, then set back) is taken as now, not as days of
    quiet still to come."""
    return None if last_spike_at is None else min(last_spike_at, now)


def detect(
    times: Sequence[datetime],
    now: datetime,
    *,
    live_since: datetime | None,
    last_spike_at: datetime | None = None,
    rule: SpikeRule = SpikeRule(),
) -> Spike | None:
    """The spike of a topic at `now`, or None: `times` are the times of its stories that
    came in as news (not a feed's first poll's, at least from `rule.since(now)`),
    `live_since` when the first of them was recorded (`Store.live_since`), `last_spike_at`
    when it was last announced."""
    last = last_announced(last_spike_at, now)
    if last is not None and now - last < rule.quiet:
        return None
    if live_since is None or live_since > rule.since(now):
        return None  # a new install or topic: its earliest windows were not watched
    current, history = window_counts(times, now, rule)
    mean = statistics.fmean(history)
    sd = statistics.pstdev(history)
    threshold = mean + rule.sigmas * sd
    if current >= rule.min_stories and current > threshold:
        return Spike(current, mean, sd, threshold)
    return None


def notices(chats: Sequence[SpikeChat], text: Callable[[str, str | None], str]) -> dict[int, str]:
    """Each chat's notice (chat id → text), `text(language, time zone)` built once for each
    distinct language of the bot and time zone among the chats: built one per chat, a spike of
    a topic 10,000 chats follow held the event loop 0.81 s (15.5 s with 2,001 topics in the
    config, each chat's notice translating every title)."""
    built: dict[tuple[str, str | None], str] = {}
    found = {}
    for chat in chats:
        key = (language(chat.language_code), chat.timezone)
        if (one := built.get(key)) is None:
            one = built[key] = text(*key)
        found[chat.chat_id] = one
    return found
