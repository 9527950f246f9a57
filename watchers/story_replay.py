"""Reports placed into stories one at a time, in memory, with the daemon's own logic.

`kurilwatch stories` and `bench/cluster.py` use it: the same sketches and story index as the
poll path, the same URL and fingerprint keys, and the store's `place_items` decision (given a
batch of one). The report's publication time stands in for the time the daemon fetched it.
"""

from __future__ import annotations

import heapq
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from store import ItemRecord
from store.items import FINGERPRINT_WINDOW, place_items
from watchers.fingerprint import content_fingerprint
from watchers.stories import StoryIndex
from watchers.story_sketch import sketch
from watchers.urls import canonical_url

# How long the store keeps an item's URL key (`store.keys_retention`'s default): a report with
# that URL joins its story until then.
URL_KEPT = timedelta(days=365)


@dataclass
class StoryReplay:
    """Places reports into stories; ids are the caller's, story ids its first report's.

    What it keeps is what a lookup may still find, as the store keeps it: a URL for
    `keys_retention`, a text for `FINGERPRINT_WINDOW`, a story's report ids while the index or
    either key may name the story."""

    index: StoryIndex = field(default_factory=StoryIndex)
    keys_retention: timedelta = URL_KEPT
    _by_url: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    _by_text: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    _founders: dict[int, tuple[object, datetime]] = field(default_factory=dict)  # id, until
    # (when, n, kind, key): what may be forgotten from then on; checked against the maps
    _expiry: list[tuple[datetime, int, str, object]] = field(default_factory=list)
    _open: dict[object, int] = field(default_factory=dict)  # a kept story's report ids: story
    _ids: dict[int, list[object]] = field(default_factory=dict)  # a kept story: its report ids
    _placed: int = 0
    last_story: int | None = None  # the story the last report placed joined or began
    _remembered: int = 0  # orders the expiries of one time

    @property
    def latest(self) -> datetime:
        """The latest time a report may have: its keys are kept for a while after it, and a
        time past the calendar's end cannot be written."""
        kept = max(self.keys_retention, self.index.window, FINGERPRINT_WINDOW)
        return datetime.max.replace(tzinfo=UTC) - kept

    def story_named(self, report_id: object, at: datetime) -> int | None:
        """The story `report_id` is the id of a report of, if a report at `at` may still join
        it: a report of that id in another story would give one id two stories (an unhashable
        id names none)."""
        self._forget(at)
        try:
            return self._open.get(report_id)
        except TypeError:
            return None

    def place(
        self, report_id: object, title: str, summary: str, published: datetime, link: str = ""
    ) -> object:
        """The id of the first report of the story this report joins (its own if none)."""
        self._placed += 1
        item_id = self._placed
        url = canonical_url(link) if link else None
        fingerprint = content_fingerprint(summary)
        report = sketch(title, summary)
        self.index.prune(published)
        self._forget(published)
        # what the store's lookups would find: a URL for its retention, a text within its window
        seen = self._by_text.get(fingerprint) if fingerprint else None
        by_text = {}
        if fingerprint and seen and published - seen[1] <= FINGERPRINT_WINDOW:
            by_text[fingerprint] = seen[0]
        by_url = {url: self._by_url[url][0]} if url and url in self._by_url else {}
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
        if story == item_id:
            self._founders[story] = (report_id, published)
        with suppress(TypeError):  # an unhashable id: the caller's to keep apart
            if report_id not in self._open:
                self._open[report_id] = story
                self._ids.setdefault(story, []).append(report_id)
        self._keep(story, published + self.index.window)  # the index may name it until then
        if url and url not in self._by_url:
            self._by_url[url] = (story, published)
            self._remember(published + self.keys_retention, "url", url)
            self._keep(story, published + self.keys_retention)
        if fingerprint and not by_text:
            self._by_text[fingerprint] = (story, published)
            self._remember(published + FINGERPRINT_WINDOW, "text", fingerprint)
            self._keep(story, published + FINGERPRINT_WINDOW)
        self.index.add(item_id, story, report, published)
        self.last_story = story
        return self._founders[story][0]

    def _keep(self, story: int, until: datetime) -> None:
        founder, kept = self._founders[story]
        if until > kept:
            self._founders[story] = (founder, until)
            self._remember(until, "story", story)

    def _remember(self, when: datetime, kind: str, key: object) -> None:
        self._remembered += 1
        heapq.heappush(self._expiry, (when, self._remembered, kind, key))

    def _forget(self, now: datetime) -> None:
        """Drop the keys and first ids no lookup at `now` or later can find."""
        while self._expiry and self._expiry[0][0] < now:
            when, _, kind, key = heapq.heappop(self._expiry)
            if kind == "story":
                assert isinstance(key, int)
                if (kept := self._founders.get(key)) is not None and kept[1] == when:
                    del self._founders[key]
                    for report_id in self._ids.pop(key, ()):
                        if self._open.get(report_id) == key:
                            del self._open[report_id]
            else:
                assert isinstance(key, str)
                keys, ttl = (
                    (self._by_url, self.keys_retention)
                    if kind == "url"
                    else (self._by_text, FINGERPRINT_WINDOW)
                )
                if (seen := keys.get(key)) is not None and seen[1] + ttl == when:
                    del keys[key]
