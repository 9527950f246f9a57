"""Queue many alerts at once, straight through the store: for delivery tests and benchmarks."""

from __future__ import annotations

from datetime import datetime, timedelta

from store import FeedState, ItemRecord, Store


def story_link(n: int) -> str:
    return f"https://news.example/story-{n}"


def queue_stories(store: Store, chats: int, stories: int, now: datetime) -> int:
    """Subscribe chats 1..`chats` to `kuril` and queue `stories` stories to each of them."""
    before = now - timedelta(hours=1)
    for chat in range(1, chats + 1):
        store.upsert_subscriber(chat, now=before)
        store.subscribe(chat, "kuril", now=before)
    records = [
        ItemRecord(
            guid=f"s{n}",
            link=story_link(n),
            canonical_url=story_link(n),
            title=f"Story {n}: talks on the Kuril Islands",
            summary="Officials met on the Kuril Islands.",
            published_at=before,
            topics=("kuril",),
        )
        for n in range(stories)
    ]
    return store.ingest(FeedState(id="wire", url="u"), records, now=now, alert=True).queued
