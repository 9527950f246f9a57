"""Items: ingesting a feed's new items into stories (atomically, with the alerts they queue),
and reading them back (latest, recent, counts); pruning old ones.

`place_items` is the decision of an ingestion, pure: which records are new, the id each gets and
the story each joins. `ItemVerbs.ingest` gathers what it needs, applies it, and queues alerts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from store.also import ALSO_WINDOW
from store.base import IN_LIST, list_param
from store.feeds import FeedVerbs
from store.outbox import JOIN_WINDOW, OutboxVerbs
from store.records import (
    FeedState,
    IngestResult,
    ItemRecord,
    StoredItem,
    dt,
    json_list,
    stored_item_of,
    title_key,
    ts,
)
from store.search import SearchVerbs, in_langs
from store.vectors import VectorVerbs

FINGERPRINT_WINDOW = timedelta(days=7)  # a re-issued item's text is matched this far back
INDEX_EVERY = 1000  # items stored before they are added to the search index together
# A story's mute or follow acts on its alerts' "Also:" edits and follow-ups: an alert is queued
# at most JOIN_WINDOW after the story's first report, and takes them for ALSO_WINDOW after that.
CONTROLS_FOR = JOIN_WINDOW + ALSO_WINDOW
SPIKES_KEPT = timedelta(days=1)  # at least: the last spike holds its topic quiet for 12 hours


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one new record goes: its item id, its story, and whether it starts that story."""

    record: ItemRecord
    item_id: int
    story_id: int
    new_story: bool


def unseen(records: Iterable[ItemRecord], known_guids: Collection[str]) -> list[ItemRecord]:
    """The records whose guid the feed has not delivered before (the first of repeats)."""
    seen = set(known_guids)
    fresh = []
    for record in records:
        if record.guid not in seen:
            seen.add(record.guid)
            fresh.append(record)
    return fresh


def place_items(
    fresh: Sequence[ItemRecord],
    *,
    first_id: int,
    by_url: Mapping[str, int],
    by_text: Mapping[str, int],
    stories: Collection[int],
) -> list[Placement]:
    """Give each new record an id (from `first_id` on) and a story.

    A record joins the story of a stored item with its canonical URL (`by_url`), else of one
    with its text fingerprint (`by_text`), else the story its clustering hint names if that
    story exists (`stories`), else the story of the earlier record of the batch that it `joins`
    (by guid); otherwise it starts a story, whose id is its own. Later records of the batch with
    the same URL or text join the story of the first.
    """
    urls, texts = dict(by_url), dict(by_text)
    guids: dict[str, int] = {}
    placed = []
    for item_id, record in enumerate(fresh, start=first_id):
        hint = record.story_hint if record.story_hint in stories else None
        story_id = (
            urls.get(record.canonical_url or "")
            or texts.get(record.fingerprint or "")
            or hint
            or guids.get(record.joins or "")
        )
        new_story = story_id is None
        story_id = story_id or item_id
        if record.canonical_url:
            urls.setdefault(record.canonical_url, story_id)
        if record.fingerprint:
            texts.setdefault(record.fingerprint, story_id)
        guids.setdefault(record.guid, story_id)
        placed.append(Placement(record, item_id, story_id, new_story))
    return placed


class ItemVerbs(FeedVerbs, SearchVerbs, OutboxVerbs, VectorVerbs):
    """Store verbs for items (mixed into `Store`): an ingestion saves the feed's state, indexes
    for search in batches and queues alerts, all in one transaction."""

    def recent_fetch_times(self, feed_id: str, limit: int = 20) -> list[datetime]:
        """When the feed's newest items were first seen (for its publishing rate)."""
        return [
            datetime.fromtimestamp(row["fetched_at"], UTC)
            for row in self.db.query(
                "SELECT DISTINCT fetched_at FROM items WHERE feed_id = ?"
                " ORDER BY fetched_at DESC LIMIT ?",
                [feed_id, limit],
            )
        ]

    def known_guids(self, feed_id: str, guids: Iterable[str]) -> set[str]:
        """The guids among `guids` that this feed has delivered before."""
        known: set[str] = set()
        batch = list(guids)
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                row["guid"]
                for row in self.db.query(
                    f"SELECT guid FROM items WHERE feed_id = ? AND guid IN ({marks})",
                    [feed_id, *chunk],
                )
            )
        return known

    def known_items(self, feed_id: str, guids: Iterable[str]) -> dict[str, tuple[str | None, str]]:
        """The canonical URL and title of the item this feed delivered under each of `guids`
        that it has delivered before; of an item whose text is pruned, the `title_key` it
        kept (its title is gone)."""
        known: dict[str, tuple[str | None, str]] = {}
        batch = list(guids)
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                (row[0], (row[1], row[2]))
                for row in self.db.execute(
                    "SELECT guid, canonical_url,"
                    " CASE WHEN title = '' THEN coalesce(title_key, '') ELSE title END"
                    " FROM items WHERE feed_id = ?"
                    f" AND guid IN ({marks})",
                    [feed_id, *chunk],
                )
            )
        return known

    def ingest(
        self,
        state: FeedState,
        records: Sequence[ItemRecord],
        *,
        now: datetime,
        alert: bool,
    ) -> IngestResult:
        """Save the feed's state and its new items and queue alerts for new stories, atomically.

        An item is new unless its feed has its guid already, or the same item under another
        (`_unrepeated`); `place_items` decides its story.
        A new item that joins a known story is not alerted again. With `alert` false (the first
        poll of a feed) items are recorded only.
        """
        feed_id = state.id
        fetched_at = now.timestamp()
        with self.db.atomic():
            self.save_feed_state(state)
            fresh = self._unrepeated(
                feed_id, unseen(records, self.known_guids(feed_id, (r.guid for r in records)))
            )
            # ids are given here, so that a new story's id (its first item's) is known at insert
            (first_id,) = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM items").fetchone()
            placed = place_items(
                fresh,
                first_id=first_id,
                by_url=self._stories_of(
                    "canonical_url", [r.canonical_url for r in fresh if r.canonical_url], 0.0
                ),
                by_text=self._by_text(feed_id, fresh, fetched_at),
                stories=self._existing([r.story_hint for r in fresh if r.story_hint is not None]),
            )
            self.db.conn.executemany(
                "INSERT INTO items (id, feed_id, guid, link, canonical_url, title, summary,"
                " published_at, fetched_at, story_id, topics, fingerprint, brief, marks, outlet,"
                " outlet_key, lang, first_poll)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*_row(p, feed_id, fetched_at), int(not alert)) for p in placed],
            )
            if first_id + len(placed) - 1 - self._indexed_to() >= INDEX_EVERY:
                self._index_pending()
            items = [(_stored(p, feed_id, now), p) for p in placed]
            feed_name = self._outlet(feed_id) if any(not p.new_story for p in placed) else ""
            queued = 0
            # in order: a report that joins a story of the same answer finds its alert queued
            for item, p in items:
                if not p.new_story:
                    self._add_outlet(item, item.outlet or feed_name, fetched_at)
                if alert and p.record.topics:
                    queued += self._enqueue(item, fetched_at, joined=not p.new_story)
        stored = tuple(item for item, _ in items)
        new_stories = tuple(item for item, p in items if p.new_story)
        return IngestResult(stored, new_stories, queued)

    def refingerprint(
        self, version: str, fingerprint: Callable[[str], str | None], *, now: datetime
    ) -> int | None:
        """Key the items of the fingerprint window again with `fingerprint` of their summary,
        unless the code of `version` keyed them already: after a change to how text is
        normalised, an item stored before and re-issued after (a new guid, URL and title) must
        still join its story, not alert again. Returns the number of keys changed; None if
        another writer holds the store (it is not waited for: a start goes on, and the next
        one keys them)."""
        row = self._one("SELECT version FROM code_versions WHERE name = 'fingerprint'", [])
        if row is not None and row["version"] == version:
            return 0
        since = (now - FINGERPRINT_WINDOW).timestamp()
        # a row at a time: a week of feeds' summaries is hundreds of MB, the keys changed few
        changed = [
            (new, item_id)
            for item_id, summary, old in self.db.execute(
                "SELECT id, summary, fingerprint FROM items WHERE fetched_at >= ?"
                " AND summary != ''",  # a compacted item keeps the key it had
                [since],
            )
            if (new := fingerprint(summary)) != old
        ]
        (waits,) = self.db.execute("PRAGMA busy_timeout").fetchone()
        self.db.execute("PRAGMA busy_timeout = 0")
        try:
            with self.db.atomic():
                self.db.conn.executemany("UPDATE items SET fingerprint = ? WHERE id = ?", changed)
                self.db.execute(
                    "INSERT OR REPLACE INTO code_versions VALUES ('fingerprint', ?)", [version]
                )
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            return None
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(waits)}")
        return len(changed)

    def _unrepeated(self, feed_id: str, records: list[ItemRecord]) -> list[ItemRecord]:
        """The records unless the feed gave one before under another guid, unchanged (its URL,
        title and summary): a feed that makes new guids at every fetch must not store its items
        again at every poll, for as long as the keys are kept."""
        stored = self.stored_unchanged(
            feed_id, [(r.canonical_url, r.title, r.summary) for r in records]
        )
        return [r for r in records if (r.canonical_url, r.title, r.summary) not in stored]

    def stored_unchanged(
        self, feed_id: str, keys: Sequence[tuple[str | None, str, str]]
    ) -> set[tuple[str, str, str]]:
        """The (canonical URL, title, summary) among `keys` of items this feed gave before,
        under any guid."""
        urls = list(dict.fromkeys(url for url, _, _ in keys if url))
        stored: set[tuple[str, str, str]] = set()
        for start in range(0, len(urls), 500):
            chunk = urls[start : start + 500]
            marks = ",".join("?" * len(chunk))
            stored.update(
                (row[0], row[1], row[2])
                for row in self.db.execute(
                    f"SELECT canonical_url, title, summary FROM items WHERE canonical_url IN"
                    f" ({marks}) AND feed_id = ?",
                    [*chunk, feed_id],
                )
            )
        return stored

    def _by_text(self, feed_id: str, fresh: Sequence[ItemRecord], now: float) -> dict[str, int]:
        """The story of each text fingerprint of `fresh`: of any feed's item within
        FINGERPRINT_WINDOW, else of this feed's own item of the same title for as long as its
        keys are kept (an item it moves to another URL weeks on, its link its guid, comes with
        a new guid and URL; the title too, as a feed may give all its items one blurb)."""
        window = now - FINGERPRINT_WINDOW.total_seconds()
        found = self._stories_of(
            "fingerprint", [r.fingerprint for r in fresh if r.fingerprint], window
        )
        for record in fresh:
            if record.fingerprint and record.fingerprint not in found:
                row = self.db.execute(
                    "SELECT story_id FROM items WHERE fingerprint = ? AND feed_id = ?"
                    " AND (title = ? OR (title = '' AND title_key = ?)) ORDER BY id LIMIT 1",
                    [record.fingerprint, feed_id, record.title, title_key(record.title)],
                ).fetchone()
                if row is not None:
                    found[record.fingerprint] = int(row[0])
        return found

    def _stories_of(self, column: str, keys: Sequence[str], since: float) -> dict[str, int]:
        """The story of the earliest item with each key in `column`, fetched since `since`."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # SQLite takes the bare story_id from the row where min(id) is found
            for row in self.db.execute(
                f"SELECT {column}, story_id, min(id) FROM items WHERE {column} IN ({marks})"
                f" AND fetched_at >= ? GROUP BY {column}",
                [*chunk, since],
            ):
                found[row[0]] = int(row[1])
        return found

    def _outlet(self, feed_id: str) -> str:
        """The name an "Also: ..." line gives a feed."""
        row = self._one("SELECT coalesce(title, id) AS name FROM feeds WHERE id = ?", [feed_id])
        return str(row["name"]) if row else feed_id

    def _existing(self, item_ids: Sequence[int]) -> set[int]:
        """The ids among `item_ids` of items stored."""
        found: set[int] = set()
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.db.execute(f"SELECT id FROM items WHERE id IN ({marks})", chunk)
            )
        return found

    def latest(
        self, topic_ids: Sequence[str], *, limit: int = 5, langs: Collection[str] = ()
    ) -> list[tuple[StoredItem, str | None]]:
        """The newest stories matching any of `topic_ids`: (first item, its feed's title)."""
        if not topic_ids:
            return []
        rows = self.db.query(
            "SELECT i.*, f.title AS feed_title FROM items i LEFT JOIN feeds f ON f.id = i.feed_id"
            " WHERE i.id = i.story_id AND i.topics != '[]'"
            f" AND EXISTS (SELECT 1 FROM json_each(i.topics) t WHERE t.value {IN_LIST})"
            f"{in_langs('i', langs)} ORDER BY i.fetched_at DESC, i.id DESC LIMIT ?",
            [list_param(topic_ids), *langs, limit],
        )
        return [(stored_item_of(row), row["feed_title"]) for row in rows]

    def recent_items(
        self, since: datetime, after: int = 0
    ) -> tuple[int, list[tuple[int, int, str, str, datetime]]]:
        """The highest item id stored, and (id, story id, title, summary, fetched at) of the
        items above `after` fetched since `since` that matched a topic."""
        (last,) = self.db.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()
        return last, self._matched_items(since, after) if last > after else []

    def _matched_items(
        self, since: datetime, after: int
    ) -> list[tuple[int, int, str, str, datetime]]:
        return [
            (
                row["id"],
                row["story_id"],
                row["title"],
                row["summary"],
                dt(row["fetched_at"]) or since,
            )
            for row in self.db.query(
                "SELECT id, story_id, title, summary, fetched_at FROM items"
                " WHERE fetched_at >= ? AND topics != '[]' AND id > ? ORDER BY id",
                [since.timestamp(), after],
            )
        ]

    def prune(self, *, now: datetime, text_for: timedelta, keys_for: timedelta) -> tuple[int, int]:
        """Drop the text of items older than `text_for` and whole items older than `keys_for`.

        A compacted item keeps its guid, canonical URL, fingerprint, story and a key of its title
        (`title_key`): an old item that returns to a feed, at another URL too, is still known
        and alerts nobody. A story's mutes and follows go once
        they can act on no alert (`CONTROLS_FOR`), "Not relevant" presses with their item (the
        report reads them with it), spikes with the text. Returns (compacted, deleted).
        """
        text_before = (now - text_for).timestamp()
        keys_before = (now - keys_for).timestamp()
        with self.db.atomic():
            self.db.execute(
                "DELETE FROM outbox WHERE created_at < ?"
                " AND state IN ('sent', 'failed', 'dropped')",
                [text_before],
            )
            self.db.execute(  # broadcasts, spikes and admins' notices: as long as alerts
                "DELETE FROM notices WHERE created_at < ?"
                " AND state IN ('sent', 'failed', 'dropped', 'fanned')",
                [text_before],
            )
            compacted = self.db.execute(
                "UPDATE items SET title = '', summary = '', brief = '', marks = '[]', link = NULL,"
                " title_key = CASE WHEN title != '' THEN title_key(title) ELSE title_key END"
                " WHERE fetched_at < ? AND (title != '' OR summary != '')"
                " AND id NOT IN (SELECT item_id FROM outbox)",
                [text_before],
            ).rowcount
            deleted = self.db.execute(
                "DELETE FROM items WHERE fetched_at < ? AND id NOT IN (SELECT item_id FROM outbox)",
                [keys_before],
            ).rowcount
            # only a topic's last spike is read (a spike holds its topic quiet for 12 hours,
            # whatever the text is kept for)
            spikes_before = min(text_before, (now - SPIKES_KEPT).timestamp())
            self.db.execute("DELETE FROM spikes WHERE detected_at < ?", [spikes_before])
            self.db.execute(
                "DELETE FROM story_controls WHERE NOT EXISTS (SELECT 1 FROM items"
                " WHERE items.id = story_controls.story_id AND items.fetched_at >= ?)",
                [(now - CONTROLS_FOR).timestamp()],
            )
            self.db.execute(
                "DELETE FROM feedback WHERE NOT EXISTS"
                " (SELECT 1 FROM items WHERE items.id = feedback.item_id)"
            )
            self.prune_title_vectors(now)
        return compacted, deleted

    def count_items(self, feed_id: str | None = None) -> int:
        if feed_id is None:
            row = self._one("SELECT count(*) AS n FROM items", [])
        else:
            row = self._one("SELECT count(*) AS n FROM items WHERE feed_id = ?", [feed_id])
        return int(row["n"]) if row else 0


def _row(placed: Placement, feed_id: str, fetched_at: float) -> tuple[Any, ...]:
    record = placed.record
    return (
        placed.item_id,
        feed_id,
        record.guid,
        record.link,
        record.canonical_url,
        record.title,
        record.summary,
        ts(record.published_at),
        fetched_at,
        placed.story_id,
        json_list(record.topics),
        record.fingerprint,
        record.brief,
        json_list(record.marks),
        record.outlet,
        record.outlet_key,
        record.lang,
    )


def _stored(placed: Placement, feed_id: str, now: datetime) -> StoredItem:
    record = placed.record
    return StoredItem(
        id=placed.item_id,
        story_id=placed.story_id,
        feed_id=feed_id,
        guid=record.guid,
        link=record.link,
        title=record.title,
        summary=record.summary,
        published_at=record.published_at,
        fetched_at=now,
        topics=record.topics,
        brief=record.brief,
        marks=record.marks,
        outlet=record.outlet,
        outlet_key=record.outlet_key,
        lang=record.lang,
    )
