"""One poll of one feed, as named stages: fetch → parse → match the unseen → ingest.

Every failure of a feed ends up as a value on its `PollReport` and its stored state.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx

from store import AsyncStore, FeedState, ItemRecord, Store, StoredItem
from watchers.config import FeedConfig, PollSettings
from watchers.fetch import FetchResult, fetch
from watchers.items import Item, ParsedFeed
from watchers.match import Topics
from watchers.parse import parse_feed

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: str
    outcome: str  # "new", "unchanged", "primed", "error"
    http_status: int | None = None
    items: int = 0  # entries in the document
    new_items: int = 0
    matched: tuple[StoredItem, ...] = ()  # new stories that matched a topic
    queued: int = 0  # deliveries queued
    error: str | None = None

    def line(self) -> str:
        """One line for the operator."""
        status = f"HTTP {self.http_status}" if self.http_status else "-"
        if self.outcome == "error":
            return f"{self.feed_id}: error ({status}): {self.error}"
        if self.outcome == "unchanged":
            return f"{self.feed_id}: unchanged ({status})"
        text = (
            f"{self.feed_id}: {self.outcome} ({status}), {self.items} entries,"
            f" {self.new_items} new, {len(self.matched)} matched"
        )
        return text + (f", {self.queued} alerts queued" if self.queued else "")


def _records(items: Sequence[Item], topics: Topics) -> list[ItemRecord]:
    return [
        ItemRecord(
            guid=item.guid,
            link=item.link,
            canonical_url=item.canonical_url,
            title=item.title,
            summary=item.summary,
            published_at=item.published,
            topics=tuple(m.topic_id for m in topics.match(title=item.title, summary=item.summary)),
        )
        for item in items
    ]


class Poller:
    """Polls feeds into the store; holds what every poll shares."""

    def __init__(
        self,
        *,
        store: AsyncStore,
        client: httpx.AsyncClient,
        topics: Topics,
        settings: PollSettings,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.client = client
        self.topics = topics
        self.settings = settings
        self.clock = clock

    async def poll(self, feed: FeedConfig) -> PollReport:
        url = str(feed.url)
        state = await self.store.run(Store.feed_state, feed.id)
        if state is None or state.url != url:
            # a new feed, or the operator changed its URL: start afresh
            state = FeedState(id=feed.id, url=url, primed=state.primed if state else False)
        started = self.clock()
        fetched = await fetch(
            self.client,
            url,
            etag=state.etag,
            last_modified=state.last_modified,
            max_bytes=self.settings.max_bytes,
            total_timeout=self.settings.timeout.total_seconds() * 2,
        )
        if fetched.permanent_url and fetched.permanent_url != url:
            log.info("feed %s: %s moved permanently to %s", feed.id, url, fetched.permanent_url)
        if not fetched.ok:
            return await self._failed(state, fetched.status, fetched.error or "error", started)
        before = state
        state = replace(
            state,
            etag=fetched.headers.get("etag") or state.etag,
            last_modified=fetched.headers.get("last-modified") or state.last_modified,
            last_status=fetched.status,
            last_error=None,
            consecutive_errors=0,
            last_attempt_at=started,
            last_success_at=started,
        )
        body = fetched.content or b""
        digest = hashlib.sha256(body).hexdigest()
        if fetched.not_modified or not body or (digest == state.body_hash and state.primed):
            await self.store.run(Store.save_feed_state, state)
            return PollReport(feed.id, "unchanged", fetched.status)
        parsed = await asyncio.to_thread(
            parse_feed, body, feed_id=feed.id, url=url, headers=fetched.headers
        )
        if parsed.error:
            return await self._failed(before, fetched.status, parsed.error, started)
        if parsed.warning:
            log.info("feed %s: parsed with a warning: %s", feed.id, parsed.warning)
        return await self._ingest(feed, replace(state, body_hash=digest), parsed, fetched)

    async def _ingest(
        self, feed: FeedConfig, state: FeedState, parsed: ParsedFeed, fetched: FetchResult
    ) -> PollReport:
        known = await self.store.run(Store.known_guids, feed.id, [i.guid for i in parsed.items])
        unseen = [item for item in parsed.items if item.guid not in known]
        records = await asyncio.to_thread(_records, unseen, self.topics)
        alert = state.primed
        state = replace(state, primed=True, title=feed.title or parsed.title or state.title)
        result = await self.store.run(Store.ingest, state, records, now=self.clock(), alert=alert)
        matched = tuple(item for item in result.new_stories if item.topics)
        outcome = "new" if alert else "primed"
        if result.stored:
            log.info(
                "feed %s: %d new items, %d matched, %d alerts queued%s",
                feed.id,
                len(result.stored),
                len(matched),
                result.queued,
                "" if alert else " (first poll: recorded without alerting)",
            )
        return PollReport(
            feed.id,
            outcome,
            fetched.status,
            items=len(parsed.items),
            new_items=len(result.stored),
            matched=matched if alert else (),
            queued=result.queued,
        )

    async def _failed(
        self, state: FeedState, status: int | None, error: str, started: datetime
    ) -> PollReport:
        errors = state.consecutive_errors + 1
        state = replace(
            state,
            last_status=status,
            last_error=error,
            consecutive_errors=errors,
            last_attempt_at=started,
        )
        await self.store.run(Store.save_feed_state, state)
        log.warning("feed %s: poll failed (%d in a row): %s", state.id, errors, error)
        return PollReport(state.id, "error", status, error=error)
