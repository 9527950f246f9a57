"""What the store keeps of a poll's new items (`ItemRecord`), with the story each matched item's
lookup names; a first poll looks nothing up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from store import ItemRecord, watch_id
from watchers.feed_dates import plausible
from watchers.items import Item
from watchers.stories import HELD, StoryIndex
from watchers.story_sketch import Sketch
from watchers.topics.compile import Topics
from watchers.worker import ItemFacts


def records_of(
    items: Sequence[tuple[Item, ItemFacts]], stories: StoryIndex, now: datetime, alert: bool
) -> tuple[list[ItemRecord], dict[str, Sketch]]:
    """What the store keeps of each new item, and the sketches of those that matched a topic
    (only those are clustered, together: a later one may join the story an earlier one starts).
    The records come in the order the items were published (undated ones last, as listed): a
    feed lists its newest first, but of two stages of one event in one answer the earlier is
    the news and the later its follow-up. A guid repeated in the answer is one item, the first,
    as the store keeps it; its date as `plausible` takes it. A first poll (`alert` false)
    records its items as their own stories: none of them alerts, so none is worth a title
    vector."""
    items = [(replace(i, published=plausible(i.published, now)), facts) for i, facts in items]
    ordered = sorted(items, key=lambda pair: (pair[0].published is None, pair[0].published or now))
    first: dict[str, tuple[Item, ItemFacts]] = {}
    for item, facts in ordered:
        first.setdefault(item.guid, (item, facts))
    items = list(first.values())
    matched = [(i, facts.sketch) for i, (_, facts) in enumerate(items) if facts.sketch is not None]
    sketches = {items[i][0].guid: report for i, report in matched}
    found = stories.find_each([report for _, report in matched], now) if alert else []
    hints: dict[int, int] = {}  # by position: guids may repeat within an answer
    joins: dict[int, str] = {}
    for (i, _), story in zip(matched, found, strict=False):
        if story is not None and story >= HELD:
            joins[i] = items[matched[story - HELD][0]][0].guid
        elif story is not None:
            hints[i] = story
    records = [
        ItemRecord(
            guid=item.guid,
            link=item.link,
            canonical_url=item.canonical_url,
            title=item.title,
            summary=item.summary,
            published_at=item.published,
            topics=facts.topics,
            fingerprint=facts.fingerprint,
            story_hint=hints.get(i),
            joins=joins.get(i),
            brief=facts.brief,
            marks=facts.marks,
            outlet=item.outlet,
            outlet_key=item.outlet_key,
            lang=facts.lang,
        )
        for i, (item, facts) in enumerate(items)
    ]
    return records, sketches


def in_config(records: Sequence[ItemRecord], topics: Topics) -> list[ItemRecord]:
    """The records with only the topics of `topics` (the running config's) and chats' watches:
    an item matched before a reload removed its topic alerts none of that topic's chats, and
    keeps the topics that remain."""
    ids = {topic.id for topic in topics}

    def kept(topic_id: str) -> bool:
        return topic_id in ids or watch_id(topic_id) is not None

    return [
        r if all(map(kept, r.topics)) else replace(r, topics=tuple(filter(kept, r.topics)))
        for r in records
    ]
