"""Store verbs over stored items and stories: a period's items, stories with their outlets,
and the watch feed tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store import FeedState, ItemRecord, Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def ingest(
    store: Store, feed: str, title: str, url: str, topics: tuple[str, ...], at: datetime
) -> None:
    record = ItemRecord(f"{feed}-{url}", url, url, title, f"About {title}", None, topics)
    store.ingest(FeedState(id=feed, url="u", title=feed.upper()), [record], now=at, alert=False)


def test_past_items_are_the_periods_items_with_text_in_one_read() -> None:
    with Store(":memory:") as store:
        for n in range(5):
            ingest(
                store, "tass", f"Story {n}", f"https://t.example/{n}", (), T0 + timedelta(days=n)
            )
        store.prune(
            now=T0 + timedelta(days=90, hours=12),
            text_for=timedelta(days=90),
            keys_for=timedelta(days=400),
        )
        items = list(store.past_items(T0))
        assert [i.title for i in items] == [
            "Story 1",
            "Story 2",
            "Story 3",
            "Story 4",
        ]  # 0 compacted
        assert items[0].outlet == "TASS" and items[0].link == "https://t.example/1"
        newest = list(store.past_items(T0 + timedelta(days=2), newest_first=True, limit=2))
        assert [i.title for i in newest] == ["Story 4", "Story 3"]


def test_stories_join_their_outlets_and_topics() -> None:
    with Store(":memory:") as store:
        ingest(store, "tass", "Drills on Iturup", "https://x.example/drills", ("kuril",), T0)
        # the same article from a second outlet joins the story (same canonical URL)
        ingest(
            store,
            "nhk",
            "Drills on Iturup",
            "https://x.example/drills",
            ("kuril", "peace"),
            T0 + timedelta(hours=2),
        )
        ingest(store, "tass", "Weather", "https://x.example/weather", (), T0)
        ingest(
            store,
            "tass",
            "Treaty talks",
            "https://x.example/treaty",
            ("peace",),
            T0 + timedelta(hours=1),
        )
        everything = store.stories()
        assert [s.title for s in everything] == [
            "Drills on Iturup",
            "Treaty talks",
        ]  # last seen first
        drills = everything[0]
        assert drills.outlets == ("TASS", "NHK") and drills.topics == ("kuril", "peace")
        assert drills.first_seen == T0 and drills.updated == T0 + timedelta(hours=2)
        assert [s.title for s in store.stories(["kuril"])] == ["Drills on Iturup"]
        assert store.stories(["kuril"])[0].topics == ("kuril",)
        assert store.stories([]) == []
        assert [s.title for s in store.stories(since=T0 + timedelta(minutes=90))] == [
            "Drills on Iturup"
        ]
        assert len(store.stories(limit=1)) == 1


def test_a_feed_token_is_made_once_and_forgotten_with_the_chat() -> None:
    with Store(":memory:") as store:
        store.upsert_subscriber(7, now=T0, chat_type="private")
        token = store.feed_token(7, now=T0)
        assert len(token) >= 32 and store.feed_token(7, now=T0) == token
        assert store.feed_token(8, now=T0) != token
        assert store.chat_of_feed_token(token) == 7
        store.forget_chat(7)
        assert store.chat_of_feed_token(token) is None


def test_an_aggregators_items_name_the_outlets_they_carry_each_once() -> None:
    # Google News' items name their outlet (TASS, Kyodo); the stories named the aggregator
    # itself, the only outlet of a story it carried, in the Atom feeds' authors and in exports
    gnews = FeedState(id="gnews", url="u", title="Google News: Kuril")
    tass = "https://tass.com/politics/1"
    carried = [
        ItemRecord(
            "g1",
            tass,
            tass,
            "Drills on Iturup - TASS",
            "s",
            None,
            ("kuril",),
            outlet="TASS",
            outlet_key="tass.com",
        ),
        ItemRecord(
            "g2",
            "https://kyodonews.net/2",
            "https://kyodonews.net/2",
            "Iturup drills - Kyodo",
            "s",
            None,
            ("kuril",),
            joins="g1",
            outlet="Kyodo News",
            outlet_key="kyodonews.net",
        ),
        ItemRecord(
            "g3",
            "https://ria.ru/3",
            "https://ria.ru/3",
            "Учения на Итурупе",
            "s",
            None,
            ("kuril",),
            joins="g1",
            outlet="RIA",
        ),  # no key: named only
    ]
    with Store(":memory:") as store:
        store.ingest(gnews, carried, now=T0, alert=False)
        # TASS's own feed then brings the same article: TASS once, as alerts name it
        own = ItemRecord(
            "t1", tass, tass, "Drills on Iturup", "s", None, ("kuril",), outlet_key="tass.com"
        )
        store.ingest(FeedState(id="tass", url="u", title="TASS"), [own], now=T0, alert=False)
        [drills] = store.stories(["kuril"])
        assert drills.outlets == ("TASS", "Kyodo News", "RIA")
        assert drills.lang is None  # the shown item's (the first): not known


def test_a_story_has_its_shown_items_language() -> None:
    with Store(":memory:") as store:
        url = "https://www3.nhk.or.jp/1"
        record = ItemRecord("n1", url, url, "択捉島で演習", "要約", None, ("kuril",), lang="ja")
        store.ingest(FeedState(id="nhk", url="u", title="NHK"), [record], now=T0, alert=False)
        assert [s.lang for s in store.stories(["kuril"])] == ["ja"]
