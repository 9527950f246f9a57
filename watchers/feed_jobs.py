"""Poll scheduling: one APScheduler 3 job per feed, run again at the time its last poll chose.

Each job is a one-shot date job that the poll replaces with the next one, so a feed's polls
never overlap and its next time (interval, cache hints, backoff, Retry-After) is its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from watchers.config import FeedConfig

log = logging.getLogger(__name__)

PollJob = Callable[[FeedConfig], Awaitable[datetime | None]]
Forget = Callable[[str], None]
RETRY = timedelta(minutes=1)  # after a poll job that failed unexpectedly


def job_id(feed_id: str) -> str:
    return f"poll:{feed_id}"


class FeedScheduler:
    """Runs `poll(feed)` for each feed when due; `poll` returns when it wants to run next.
    `forget(feed id)` is told of a feed removed, once no poll of it runs."""

    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        poll: PollJob,
        retry: timedelta = RETRY,
        *,
        forget: Forget | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.poll = poll
        self.retry = retry
        self.forget = forget
        self.feeds: dict[str, FeedConfig] = {}
        self._running: set[str] = set()  # feeds whose poll runs

    def add(self, feed: FeedConfig, first: datetime | None = None) -> None:
        self.feeds[feed.id] = feed
        self._schedule(feed, first or datetime.now(UTC))

    def remove(self, feed_id: str) -> None:
        self.feeds.pop(feed_id, None)
        if self.scheduler.get_job(job_id(feed_id)) is not None:
            self.scheduler.remove_job(job_id(feed_id))
        if feed_id not in self._running and self.forget is not None:
            self.forget(feed_id)  # otherwise once its poll has ended

    def _schedule(self, feed: FeedConfig, when: datetime) -> None:
        self.scheduler.add_job(
            self._run,
            trigger=DateTrigger(run_date=when, timezone=UTC),
            args=[feed.id],
            id=job_id(feed.id),
            name=f"poll {feed.id}",
            replace_existing=True,
            misfire_grace_time=None,  # a late poll still runs
        )

    async def _run(self, feed_id: str) -> None:
        feed = self.feeds.get(feed_id)
        if feed is None:  # removed while waiting
            return
        next_at: datetime | None = None
        self._running.add(feed_id)
        try:
            next_at = await self.poll(feed)
        except Exception:  # a bug in what follows a poll must not end the feed's polls
            log.exception("feed %s: the poll job failed", feed_id)
            next_at = datetime.now(UTC) + self.retry
        finally:
            self._running.discard(feed_id)
        # once this run has ended for the scheduler too: it refuses, and drops, a job whose id
        # is still running (one instance per feed), as it did the one `add` made for a feed
        # edited during this poll
        run = asyncio.current_task()
        if run is None:
            self._again(feed, next_at)
        else:
            run.add_done_callback(lambda _: self._again(feed, next_at))

    def _again(self, polled: FeedConfig, next_at: datetime | None) -> None:
        """Schedule the feed's next poll: its config as it is now (edited: at once)."""
        current = self.feeds.get(polled.id)
        now = datetime.now(UTC)
        if current is None and self.forget is not None:  # removed while it was polled
            self.forget(polled.id)
        elif current is not None and current is not polled:
            self._schedule(current, now)
        elif current is not None and next_at is not None:
            self._schedule(current, max(next_at, now))
