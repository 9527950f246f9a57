"""Reports placed into stories one at a time, in memory, with the daemon's own logic.

`kurilwatch stories` and `bench/cluster.py` use it: the same sketches and story index as the
poll path, the same URL and fingerprint keys, and the store's `place_items` decision (given a
batch of one). The report's publication time stands in for the time the daemon fetched it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from store import ItemRecord
from store.items import FINGERPRINT_WINDOW, place_items
from watchers.fingerprint import content_fingerprint
from watchers.stories import StoryIndex
from watchers.story_sketch import sketch
from watchers.urls import canonical_url


@dataclass
class StoryReplay:
    """Places reports into stories; ids are the caller's, story ids its first report's."""

    index: StoryIndex = field(default_factory=StoryIndex)
    _by_url: dict[str, int] = field(default_factory=dict)
    _by_text: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    _ids: list[object] = field(default_factory=list)

    def place(
        self, report_id: object, title: str, summary: str, published: datetime, link: str = ""
    ) -> object:
        """The id of the first report of the story this report joins (its own if none)."""
        item_id = len(self._ids) + 1
        self._ids.append(report_id)
        url = canonical_url(link) if link else None
        fingerprint = content_fingerprint(summary)
        report = sketch(title, summary)
        self.index.prune(published)
        # what the store's lookups would find: a URL at any age, a text within its window
        seen = self._by_text.get(fingerprint) if fingerprint else None
        by_text = {}
        if fingerprint and seen and published - seen[1] <= FINGERPRINT_WINDOW:
            by_text[fingerprint] = seen[0]
        by_url = {url: self._by_url[url]} if url and url in self._by_url else {}
        hint = self.index.find(report, published)
        self.index.fresh.clear()  # vectors the daemon would store: kept, they grew for ever
        record = ItemRecord(
            str(item_id),
            link or None,
            url,
            title,
            summary,
            published,
            fingerprint=fingerprint,
            story_hint=hint,
        )
        [placed] = place_items(
            [record],
            first_id=item_id,
            by_url=by_url,
            by_text=by_text,
            stories=set() if hint is None else {hint},
        )
        story = placed.story_id
        if url:
            self._by_url.setdefault(url, story)
        if fingerprint and not by_text:
            self._by_text[fingerprint] = (story, published)
        self.index.add(item_id, story, report, published)
        return self._ids[story - 1]
