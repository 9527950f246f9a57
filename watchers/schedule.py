"""Poll scheduling: one APScheduler 3 job per feed on the daemon's AsyncIOScheduler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watchers.config import FeedConfig

log = logging.getLogger(__name__)

PollJob = Callable[[FeedConfig], Awaitable[object]]


def feed_interval(feed: FeedConfig, default: timedelta) -> timedelta:
    return feed.interval or default


def schedule_feeds(
    scheduler: AsyncIOScheduler,
    feeds: Sequence[FeedConfig],
    job: PollJob,
    *,
    default_interval: timedelta,
) -> None:
    """Add (or replace) one job per feed; each first runs at once, then at its interval.

    A feed's polls never overlap (one instance at a time), and missed runs are merged.
    """
    now = datetime.now(UTC)
    for feed in feeds:
        interval = feed_interval(feed, default_interval)
        scheduler.add_job(
            job,
            trigger=IntervalTrigger(seconds=interval.total_seconds()),
            args=[feed],
            id=f"poll:{feed.id}",
            name=f"poll {feed.id}",
            replace_existing=True,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval.total_seconds())),
        )
        log.debug("feed %s: polling every %s", feed.id, interval)
