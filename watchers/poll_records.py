"""What the store keeps of a poll's new items (`ItemRecord`), with the story each matched item's
lookup names; a first poll looks nothing up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from store import ItemRecord
from watchers.items import Item
from watchers.stories import StoryIndex
from watchers.story_sketch import Sketch
from watchers.worker import ItemFacts


def records_of(
    items: Sequence[tuple[Item, ItemFacts]], stories: StoryIndex, now: datetime, alert: bool
) -> tuple[list[ItemRecord], dict[str, Sketch]]:
    """What the store keeps of each new item, and the sketches of those that matched a topic
    (only those are clustered). A first poll (`alert` false) records its items as their own
    stories: none of them alerts, so none is worth a title vector."""
    records, sketches = [], {}
    for item, facts in items:
        hint = None
        if facts.sketch is not None:
            sketches[item.guid] = facts.sketch
            if alert:
                hint = stories.find(facts.sketch, now)
        records.append(
            ItemRecord(
                guid=item.guid,
                link=item.link,
                canonical_url=item.canonical_url,
                title=item.title,
                summary=item.summary,
                published_at=item.published,
                topics=facts.topics,
                fingerprint=facts.fingerprint,
                story_hint=hint,
                brief=facts.brief,
                marks=facts.marks,
                outlet=item.outlet,
                outlet_key=item.outlet_key,
                lang=facts.lang,
            )
        )
    return records, sketches
