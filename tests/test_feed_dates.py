"""The date the pipeline keeps of an item: a table of `plausible`, and a poll that stores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from store import AsyncStore, Store
from store.archive import PastItem
from tests.conftest import new_store
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.feed_dates import plausible
from watchers.fetch import Fetcher, FetchLimits
from watchers.poll import Poller
from watchers.topics.compile import compile_topics

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "kept"),
    [
        (None, None),
        (NOW - timedelta(hours=3), NOW - timedelta(hours=3)),
        (NOW + timedelta(hours=3), NOW + timedelta(hours=3)),  # a zone mistake: kept
        (NOW + timedelta(days=1), NOW + timedelta(days=1)),
        (NOW + timedelta(days=1, seconds=1), NOW),
        (datetime(2099, 1, 1, tzinfo=UTC), NOW),
        (datetime(2003, 5, 1, tzinfo=UTC), datetime(2003, 5, 1, tzinfo=UTC)),  # an archive
        (datetime(1970, 1, 1, tzinfo=UTC), None),  # epoch zero: no date
        (datetime(1, 1, 1, tzinfo=UTC), None),
    ],
)
def test_a_date_far_ahead_is_the_fetch_time_and_one_before_feeds_is_none(
    published: datetime | None, kept: datetime | None
) -> None:
    assert plausible(published, NOW) == kept


def _past_items(store: Store, since: datetime) -> list[PastItem]:
    return list(store.past_items(since))  # read on the store's thread


async def test_a_poll_stores_what_plausible_keeps(tmp_path: Path, feed_server: FeedServer) -> None:
    """An item dated 2099 would head every digest, Atom feed and export for decades, and
    its alert would say 2099; one dated 1970 would show that date."""
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    fetcher = Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0))
    topics = compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril*")})
    poller = Poller(
        store=store, fetcher=fetcher, topics=topics, settings=PollConfig(), clock=lambda: NOW
    )
    try:
        await store.run(Store.upsert_subscriber, 7, now=NOW - timedelta(1))
        await store.run(Store.subscribe, 7, "kuril", now=NOW - timedelta(1))
        feed = FeedConfig(id="f", url=feed_server.url("/f.xml"))  # type: ignore[arg-type]
        feed_server.set_feed("/f.xml", rss([FeedEntry("Old", "https://n.example/old")]))
        await poller.poll(feed)
        dated = {
            "Kuril ferry sails in 2099": datetime(2099, 1, 1, tzinfo=UTC),
            "Kuril airport opens in 1970": datetime(1970, 1, 1, tzinfo=UTC),
            "Kuril port reopens": NOW - timedelta(hours=1),
        }
        entries = [
            FeedEntry(title, f"https://n.example/{n}", published=at)
            for n, (title, at) in enumerate(dated.items())
        ]
        feed_server.set_feed("/f.xml", rss(entries))
        report = await poller.poll(feed)
        assert report.new_items == 3, report
        past = await store.run(_past_items, NOW - timedelta(1))
        kept = {item.title: item.published_at for item in past if item.title != "Old"}
        assert kept == {
            "Kuril ferry sails in 2099": NOW,
            "Kuril airport opens in 1970": None,
            "Kuril port reopens": NOW - timedelta(hours=1),
        }
    finally:
        await poller.aclose()
        await fetcher.aclose()
        await store.close()
