"""The article pages of `full_text` feeds: a matched item's page fetched and its text read in
a parse worker, with a bounded number of pages in hand at once across all of a poller's feeds."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from watchers.aggregator import is_aggregator_link
from watchers.fetch import Fetcher
from watchers.items import Item
from watchers.pool import ParsePool
from watchers.summary import Brief
from watchers.topics.compile import TopicSpec
from watchers.worker import ItemFacts

log = logging.getLogger(__name__)

# pages fetched beyond those the parse workers are reading, so that a worker finds the next
# page fetched when it is done with one
AHEAD = 2


class ArticlePages:
    """Reads items' article pages, at most `room` at once (being fetched, or fetched and
    waiting for a parse worker) whatever the number of feeds polled and of items in each: a
    burst of a thousand matched items, each page up to `max_bytes`, held gigabytes."""

    def __init__(self, workers: int) -> None:
        self.room = workers + AHEAD
        self._room = asyncio.Semaphore(self.room)
        self.held = 0  # pages in hand now

    def share(self) -> asyncio.Semaphore:
        """One poll's share of the room: all of it but a page, so that a feed's burst of slow
        pages (a minute each, a thousand of them) leaves a page at a time to the other feeds."""
        return asyncio.Semaphore(max(1, self.room - 1))

    async def read(
        self,
        pair: tuple[Item, ItemFacts],
        *,
        fetcher: Fetcher,
        pool: ParsePool,
        spec: TopicSpec,
        public_only: bool,
        share: asyncio.Semaphore,
    ) -> tuple[Item, ItemFacts]:
        """The item with its brief taken from its article page, when it matched a topic and
        the page can be fetched and read; otherwise as it was. `share` is its poll's."""
        item, facts = pair
        if not facts.topics or not item.link or is_aggregator_link(item.link):
            return pair  # an aggregator's redirect is never requested
        async with share, self._room:
            self.held += 1
            try:
                made = await _brief(item, item.link, fetcher, pool, spec, public_only)
            finally:
                self.held -= 1
        return pair if made is None else (item, replace(facts, brief=made.text, marks=made.marks))


async def _brief(
    item: Item, link: str, fetcher: Fetcher, pool: ParsePool, spec: TopicSpec, public_only: bool
) -> Brief | None:
    fetched = await fetcher.fetch(link, public_only=public_only)
    if not fetched.ok or not fetched.content:
        log.info("feed %s: no full text for %s (%s)", item.feed_id, link, fetched.error)
        return None
    made = await pool.article(fetched.content, url=link, title=item.title, spec=spec)
    if made is None:
        log.info("feed %s: no article text found at %s", item.feed_id, link)
    return made
