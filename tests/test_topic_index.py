"""The stories of a topic read through the `item_topics` index give what a plain scan of the
items' topic lists gives: when a topic's news began to come in, and its stories in a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from store import FeedState, ItemRecord, Store

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
H = timedelta(hours=1)
FEEDS = [FeedState(id=f"feed-{n}", url=f"u{n}") for n in range(3)]
TOPICS = ["kuril", "peace-treaty", "@w1"]
STORY_TIME = "min(coalesce(i.published_at, i.fetched_at), i.fetched_at)"


def plain_live_since(store: Store, topic: str) -> datetime | None:
    """`live_since` as a scan of every matched item: the first fetch of a story of the topic
    that no feed's first poll recorded."""
    (t,) = store.db.execute(
        "SELECT min(i.fetched_at) FROM items i WHERE i.first_poll = 0 AND i.id IN"
        " (SELECT m.story_id FROM items m WHERE m.topics != '[]'"
        " AND EXISTS (SELECT 1 FROM json_each(m.topics) WHERE value = ?))",
        [topic],
    ).fetchone()
    return None if t is None else datetime.fromtimestamp(t, UTC)


def plain_stories(
    store: Store, topics: list[str], since: datetime, until: datetime
) -> list[tuple[int, datetime]]:
    """The stories `story_points` listed before the index, with their times."""
    marks = ",".join("?" * len(topics))
    start = since.timestamp()
    rows = store.db.execute(
        f"SELECT i.id, {STORY_TIME} AS t FROM items i"
        " WHERE i.id IN (SELECT m.story_id FROM items m"
        "  WHERE m.fetched_at >= ? AND m.topics != '[]'"
        f"  AND EXISTS (SELECT 1 FROM json_each(m.topics) WHERE value IN ({marks})))"
        f" AND i.fetched_at >= ? AND {STORY_TIME} >= ? AND {STORY_TIME} < ?"
        " ORDER BY t, i.id",
        [start, *topics, start, start, until.timestamp()],
    )
    return [(story_id, datetime.fromtimestamp(t, UTC)) for story_id, t in rows]


report = st.tuples(
    st.integers(0, len(FEEDS) - 1),
    st.lists(st.sampled_from(TOPICS), max_size=3),  # repeats too
    st.integers(0, 30),  # joins the story of that many reports back (0: a story of its own)
    st.one_of(st.none(), st.integers(-300, 40)),  # published, hours from its fetch
    st.integers(0, 60),  # hours after the report before
    st.booleans(),  # brought by a poll after the feed's first (not its first poll's backlog)
)


@settings(max_examples=60, deadline=None)
@given(
    reports=st.lists(report, max_size=40),
    deleted=st.sets(st.integers(1, 40), max_size=10),
    since_h=st.integers(-1500, 0),
    span_h=st.integers(0, 1500),
)
def test_a_topics_stories_through_the_index_are_those_of_a_plain_scan(
    reports: list[tuple[int, list[str], int, int | None, int, bool]],
    deleted: set[int],
    since_h: int,
    span_h: int,
) -> None:
    with Store(":memory:") as store:
        at = NOW - 1200 * H
        stories: list[int] = []
        for n, (feed, topics, back, published, step, live) in enumerate(reports):
            at += step * H
            hint = stories[-back] if 0 < back <= len(stories) else None
            record = ItemRecord(
                f"g{n}",
                None,
                f"https://x.example/{n}",
                f"title {n}",
                "",
                None if published is None else at + published * H,
                tuple(topics),
                story_hint=hint,
            )
            result = store.ingest(FEEDS[feed], [record], now=at, alert=live)
            stories.append(result.stored[0].story_id)
        # old items deleted (a story's first report may go while a later one stays)
        store.db.execute(f"DELETE FROM items WHERE id IN ({','.join('?' * len(deleted))})",
                         list(deleted))  # fmt: skip
        since, until = NOW + since_h * H, NOW + (since_h + span_h) * H
        for topic in [*TOPICS, "nothing"]:
            assert store.live_since(topic) == plain_live_since(store, topic)
        for chosen in (["kuril"], ["kuril", "@w1"], TOPICS, ["nothing"]):
            points = store.story_points(chosen, since=since, until=until)
            assert [(p.story_id, p.at) for p in points] == plain_stories(
                store, chosen, since, until
            )


def test_a_store_made_before_the_index_gets_it_filled(tmp_path: Path) -> None:
    """A database whose items were stored before the index existed finds them through it."""
    path = tmp_path / "old.db"
    with Store(path) as store:
        feed = FeedState(id="tass", url="u")
        for n, topics in enumerate([("kuril",), (), ("kuril", "peace-treaty")]):
            record = ItemRecord(f"g{n}", None, f"https://x/{n}", "t", "", None, topics)
            store.ingest(feed, [record], now=NOW - (10 - n) * H, alert=True)
        # as before the migration: no index, and the migration not applied
        for drop in ("TABLE item_topics", "TRIGGER item_topics_add", "TRIGGER item_topics_drop"):
            store.db.execute(f"DROP {drop}")
        store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm020_item_topics'")
    with Store(path) as store:
        assert store.live_since("kuril") == NOW - 10 * H
        assert store.live_since("peace-treaty") == NOW - 8 * H
        points = store.story_points(["kuril"], since=NOW - 20 * H, until=NOW)
        assert [p.at for p in points] == [NOW - 10 * H, NOW - 8 * H]
