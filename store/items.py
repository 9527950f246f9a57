"""The store as a small set of domain verbs on one SQLite database (sqlite-utils, WAL).

A `Store` is used from one thread at a time; the daemon reaches it through `AsyncStore`.
Times cross this boundary as aware datetimes and are kept as UTC epoch seconds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from store import migrations
from store.chats import ChatVerbs
from store.search import fts_query, search_problem, search_text
from store.stats import ReportVerbs


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about one feed between polls."""

    id: str
    url: str
    title: str | None = None
    primed: bool = False
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    config_url: str | None = None
    errors_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


class SearchError(ValueError):
    """A search query the index cannot run; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item as handed to the store for ingestion."""

    guid: str
    link: str | None
    canonical_url: str | None
    title: str
    summary: str
    published_at: datetime | None
    topics: tuple[str, ...] = ()
    fingerprint: str | None = None
    story_hint: int | None = None  # a story the clustering says this item belongs to
    brief: str = ""  # the summary alerts show (empty: the summary's start)
    marks: tuple[str, ...] = ()  # words of `brief` to set in bold


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    story_id: int
    feed_id: str
    guid: str
    link: str | None
    title: str
    summary: str
    published_at: datetime | None
    fetched_at: datetime
    topics: tuple[str, ...]
    brief: str = ""
    marks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingestion did: stored items, the ones that started a new story, alerts queued."""

    stored: tuple[StoredItem, ...]
    new_stories: tuple[StoredItem, ...]
    queued: int


@dataclass(frozen=True, slots=True)
class Subscriber:
    chat_id: int
    chat_type: str | None
    title: str | None
    language_code: str | None
    active: bool
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row joined with the item it announces."""

    id: int
    chat_id: int
    attempts: int
    created_at: datetime
    topics: tuple[str, ...]
    item: StoredItem
    feed_title: str | None
    also: tuple[str, ...] = ()  # other outlets that carried the story since
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to one operator (telegram.admins), sent as plain text."""

    id: int
    chat_id: int
    text: str
    attempts: int
    created_at: datetime


OUTBOX_STATES = ("pending", "sending", "sent", "failed", "dropped")
FINGERPRINT_WINDOW = timedelta(days=7)  # a re-issued item's text is matched this far back
MAX_DIGEST = 200  # alerts in one digest; more wait for the next
INDEX_EVERY = 1000  # items stored before they are added to the search index together
ALSO_WINDOW = timedelta(hours=48)  # a sent alert is updated with further outlets this long


class Store(ChatVerbs, ReportVerbs):
    """Domain verbs over the kurilwatch database."""

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=10)
        else:
            conn = sqlite3.connect(":memory:")
        self.db = Database(conn)
        if str(path) != ":memory:":
            self.db.enable_wal()
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA synchronous = NORMAL")
        # a checkpoint every 40 MB of log rather than 4 MB: pages written again and again (the
        # indexes, the search index) are copied back once, not ten times; about 10% less CPU
        # per stored feed (bench/poll.py)
        self.db.execute("PRAGMA wal_autocheckpoint = 10000")
        self.db.execute("PRAGMA journal_size_limit = 67108864")
        migrations.apply(self.db)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def schema_version(self) -> int:
        return migrations.schema_version(self.db)

    # -- feeds ------------------------------------------------------------------------------

    def feed_state(self, feed_id: str) -> FeedState | None:
        row = self._one("SELECT * FROM feeds WHERE id = ?", [feed_id])
        return None if row is None else self._feed_state(row)

    def feed_states(self) -> list[FeedState]:
        return [self._feed_state(row) for row in self.db.query("SELECT * FROM feeds ORDER BY id")]

    @staticmethod
    def _feed_state(row: dict[str, Any]) -> FeedState:
        return FeedState(
            id=row["id"],
            url=row["url"],
            title=row["title"],
            primed=bool(row["primed"]),
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            last_status=row["last_status"],
            last_error=row["last_error"],
            consecutive_errors=row["consecutive_errors"],
            last_attempt_at=_dt(row["last_attempt_at"]),
            last_success_at=_dt(row["last_success_at"]),
            next_poll_at=_dt(row["next_poll_at"]),
            config_url=row["config_url"],
            errors_since=_dt(row["errors_since"]),
            disabled_at=_dt(row["disabled_at"]),
            disabled_reason=row["disabled_reason"],
        )

    def save_feed_state(self, state: FeedState) -> None:
        row = {
            "id": state.id,
            "url": state.url,
            "title": state.title,
            "primed": int(state.primed),
            "etag": state.etag,
            "last_modified": state.last_modified,
            "body_hash": state.body_hash,
            "last_status": state.last_status,
            "last_error": state.last_error,
            "consecutive_errors": state.consecutive_errors,
            "last_attempt_at": _ts(state.last_attempt_at),
            "last_success_at": _ts(state.last_success_at),
            "next_poll_at": _ts(state.next_poll_at),
            "config_url": state.config_url,
            "errors_since": _ts(state.errors_since),
            "disabled_at": _ts(state.disabled_at),
            "disabled_reason": state.disabled_reason,
        }
        # plain SQL: sqlite-utils' upsert re-reads the table's schema on every call, and this
        # runs once per poll of every feed
        columns = ", ".join(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "id")
        self.db.execute(
            f"INSERT INTO feeds ({columns}) VALUES ({', '.join(':' + c for c in row)})"
            f" ON CONFLICT(id) DO UPDATE SET {updates}",
            row,
        )

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        """Save several feeds' states in one transaction."""
        with self.db.atomic():
            for state in states:
                self.save_feed_state(state)

    # -- items ------------------------------------------------------------------------------

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

    def ingest(
        self,
        state: FeedState,
        records: Sequence[ItemRecord],
        *,
        now: datetime,
        alert: bool,
    ) -> IngestResult:
        """Save the feed's state and its new items and queue alerts for new stories, atomically.

        An item is new unless its feed has its guid already. A new item whose canonical URL is
        known joins that story and is not alerted again. With `alert` false (the first poll of
        a feed) items are recorded only.
        """
        feed_id = state.id
        fetched_at = now.timestamp()
        with self.db.atomic():
            self.save_feed_state(state)
            known = self.known_guids(feed_id, (r.guid for r in records))
            fresh = []
            for record in records:
                if record.guid not in known:
                    known.add(record.guid)
                    fresh.append(record)
            by_url = self._stories_of(
                "canonical_url", [r.canonical_url for r in fresh if r.canonical_url], 0.0
            )
            by_text = self._stories_of(
                "fingerprint",
                [r.fingerprint for r in fresh if r.fingerprint],
                fetched_at - FINGERPRINT_WINDOW.total_seconds(),
            )
            # ids are given here, so that a new story's id (its first item's) is known at insert
            (next_id,) = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM items").fetchone()
            rows: list[tuple[Any, ...]] = []
            placed: list[tuple[StoredItem, bool, ItemRecord]] = []
            for record in fresh:
                item_id, next_id = next_id, next_id + 1
                story_id = (
                    by_url.get(record.canonical_url or "")
                    or by_text.get(record.fingerprint or "")
                    or self._story(record.story_hint)
                )
                is_new_story = story_id is None
                story_id = story_id or item_id
                # later items of this batch with the same URL or text join this story
                if record.canonical_url:
                    by_url.setdefault(record.canonical_url, story_id)
                if record.fingerprint:
                    by_text.setdefault(record.fingerprint, story_id)
                rows.append(
                    (
                        item_id,
                        feed_id,
                        record.guid,
                        record.link,
                        record.canonical_url,
                        record.title,
                        record.summary,
                        _ts(record.published_at),
                        fetched_at,
                        story_id,
                        _json_list(record.topics),
                        record.fingerprint,
                        record.brief,
                        _json_list(record.marks),
                    )
                )
                item = StoredItem(
                    id=item_id,
                    story_id=story_id,
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
                )
                placed.append((item, is_new_story, record))
            self.db.conn.executemany(
                "INSERT INTO items (id, feed_id, guid, link, canonical_url, title, summary,"
                " published_at, fetched_at, story_id, topics, fingerprint, brief, marks) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if next_id - 1 - self._indexed_to() >= INDEX_EVERY:
                self._index_pending()
            joined = sorted({item.story_id for item, is_new_story, _ in placed if not is_new_story})
            if joined:
                outlet = self._outlet(feed_id)
                for story_id in joined:
                    self._add_outlet(story_id, feed_id, outlet, fetched_at)
            queued = 0
            for item, is_new_story, record in placed:
                if is_new_story and alert and record.topics:
                    queued += self._enqueue(item, fetched_at)
        stored = tuple(item for item, _, _ in placed)
        new_stories = tuple(item for item, is_new, _ in placed if is_new)
        return IngestResult(stored, new_stories, queued)

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

    def _add_outlet(self, story_id: int, feed_id: str, outlet: str, now: float) -> None:
        """Record another outlet on the story's recent alerts, to be shown as "Also: ..."."""
        since = now - ALSO_WINDOW.total_seconds()
        for alert in list(
            self.db.query(
                "SELECT o.id, o.also, i.feed_id FROM outbox o JOIN items i ON i.id = o.item_id"
                " WHERE o.story_id = ? AND o.created_at >= ? AND o.state IN"
                " ('pending', 'sending', 'sent')",
                [story_id, since],
            )
        ):
            also = json.loads(alert["also"])
            if alert["feed_id"] == feed_id or outlet in also:
                continue
            self.db.execute(
                "UPDATE outbox SET also = ?, edit_pending = (state = 'sent') WHERE id = ?",
                [json.dumps([*also, outlet]), alert["id"]],
            )

    def _story(self, story_id: int | None) -> int | None:
        if story_id is None:
            return None
        return story_id if self._one("SELECT 1 AS x FROM items WHERE id = ?", [story_id]) else None

    def index_pending(self) -> int:
        """Add the items stored since the last indexing to the search index; how many."""
        done = 0
        while True:
            with self.db.atomic():
                added = self._index_pending()
            if not added:
                return done
            done += added

    def _indexed_to(self) -> int:
        (indexed_to,) = self.db.execute("SELECT indexed_to FROM search_progress").fetchone()
        return int(indexed_to)

    def _index_pending(self, limit: int = 5000) -> int:
        # FTS5 writes a segment per transaction: indexing a thousand items at once costs
        # under half as much per item as indexing each feed's handful on its own
        rows = self.db.execute(
            "SELECT id, title, summary FROM items WHERE id > ? ORDER BY id LIMIT ?",
            [self._indexed_to(), limit],
        ).fetchall()
        if not rows:
            return 0
        self.db.conn.executemany(
            "INSERT INTO items_fts (rowid, title, body) VALUES (?, ?, ?)",
            [
                (i, search_text(title), search_text(summary))
                for i, title, summary in rows
                if title or summary  # compacted away
            ],
        )
        self.db.execute("UPDATE search_progress SET indexed_to = ?", [rows[-1][0]])
        return len(rows)

    def search(self, query: str, *, limit: int = 10) -> list[StoredItem]:
        """The items whose title or summary match a query, best first: words (case and accents
        folded), `prefix*`, `"a phrase"`, AND/OR/NOT and parentheses; Japanese as written."""
        if not query.strip():
            raise SearchError("an empty search: give a word to look for")
        self.index_pending()  # the last few items, not yet indexed in a batch
        try:
            rows = list(
                self.db.query(
                    "SELECT items.* FROM items_fts JOIN items ON items.id = items_fts.rowid"
                    " WHERE items_fts MATCH ? ORDER BY items_fts.rank LIMIT ?",
                    [fts_query(query), limit],
                )
            )
        except sqlite3.OperationalError as exc:
            raise SearchError(f"cannot search for {query!r}: {search_problem(str(exc))}") from None
        return [self._item(row) for row in rows]

    def latest(
        self, topic_ids: Sequence[str], *, limit: int = 5
    ) -> list[tuple[StoredItem, str | None]]:
        """The newest stories matching any of `topic_ids`: (first item, its feed's title)."""
        if not topic_ids:
            return []
        marks = ",".join("?" * len(topic_ids))
        rows = self.db.query(
            "SELECT i.*, f.title AS feed_title FROM items i LEFT JOIN feeds f ON f.id = i.feed_id"
            " WHERE i.id = i.story_id AND i.topics != '[]'"
            f" AND EXISTS (SELECT 1 FROM json_each(i.topics) WHERE value IN ({marks}))"
            " ORDER BY i.fetched_at DESC, i.id DESC LIMIT ?",
            [*topic_ids, limit],
        )
        return [(self._item(row), row["feed_title"]) for row in rows]

    def recent_items(self, since: datetime) -> list[tuple[int, int, str, str, datetime]]:
        """(id, story id, title, summary, fetched at) of the items fetched since `since` that
        matched a topic."""
        return [
            (
                row["id"],
                row["story_id"],
                row["title"],
                row["summary"],
                _dt(row["fetched_at"]) or since,
            )
            for row in self.db.query(
                "SELECT id, story_id, title, summary, fetched_at FROM items"
                " WHERE fetched_at >= ? AND topics != '[]' ORDER BY id",
                [since.timestamp()],
            )
        ]

    def _enqueue(self, item: StoredItem, now: float) -> int:
        """Queue one delivery per active chat subscribed (before the item came) to its topics."""
        marks = ",".join("?" * len(item.topics))
        chats: dict[int, list[str]] = {}
        for row in self.db.query(
            "SELECT s.chat_id, s.topic_id FROM subscriptions s"
            " JOIN subscribers c ON c.chat_id = s.chat_id"
            f" WHERE c.active = 1 AND s.topic_id IN ({marks}) AND s.created_at <= ?"
            " ORDER BY s.chat_id, s.topic_id",
            [*item.topics, now],
        ):
            chats.setdefault(row["chat_id"], []).append(row["topic_id"])
        for chat_id, watched in self.watch_chats(list(item.topics)).items():
            chats.setdefault(chat_id, []).extend(watched)
        queued = 0
        for chat_id, topics in chats.items():
            ordered = [t for t in item.topics if t in topics]
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO outbox (chat_id, story_id, item_id, topics, state,"
                " attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
                [chat_id, item.story_id, item.id, json.dumps(ordered), now, now],
            )
            queued += cursor.rowcount
        return queued

    def prune(self, *, now: datetime, text_for: timedelta, keys_for: timedelta) -> tuple[int, int]:
        """Drop the text of items older than `text_for` and whole items older than `keys_for`.

        A compacted item keeps its guid, canonical URL, fingerprint and story: an old item that
        returns to a feed is still known and alerts nobody. Returns (compacted, deleted).
        """
        text_before = (now - text_for).timestamp()
        keys_before = (now - keys_for).timestamp()
        with self.db.atomic():
            self.db.execute(
                "DELETE FROM outbox WHERE created_at < ?"
                " AND state IN ('sent', 'failed', 'dropped')",
                [text_before],
            )
            compacted = self.db.execute(
                "UPDATE items SET title = '', summary = '', brief = '', marks = '[]', link = NULL"
                " WHERE fetched_at < ? AND (title != '' OR summary != '')"
                " AND id NOT IN (SELECT item_id FROM outbox)",
                [text_before],
            ).rowcount
            deleted = self.db.execute(
                "DELETE FROM items WHERE fetched_at < ? AND id NOT IN (SELECT item_id FROM outbox)",
                [keys_before],
            ).rowcount
        return compacted, deleted

    def count_items(self, feed_id: str | None = None) -> int:
        if feed_id is None:
            row = self._one("SELECT count(*) AS n FROM items", [])
        else:
            row = self._one("SELECT count(*) AS n FROM items WHERE feed_id = ?", [feed_id])
        return int(row["n"]) if row else 0

    # -- subscribers ------------------------------------------------------------------------

    def upsert_subscriber(
        self,
        chat_id: int,
        *,
        now: datetime,
        chat_type: str | None = None,
        title: str | None = None,
        language_code: str | None = None,
    ) -> bool:
        """Create or reactivate a chat; True when it was new or inactive before."""
        existing = self._one("SELECT active FROM subscribers WHERE chat_id = ?", [chat_id])
        ts = now.timestamp()
        self.db.execute(
            "INSERT INTO subscribers (chat_id, chat_type, title, language_code, active,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)"
            " ON CONFLICT(chat_id) DO UPDATE SET active = 1, inactive_reason = NULL,"
            " chat_type = coalesce(excluded.chat_type, chat_type),"
            " title = coalesce(excluded.title, title),"
            " language_code = coalesce(excluded.language_code, language_code),"
            " updated_at = excluded.updated_at",
            [chat_id, chat_type, title, language_code, ts, ts],
        )
        return existing is None or not existing["active"]

    def subscriber(self, chat_id: int) -> Subscriber | None:
        row = self._one("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id])
        if row is None:
            return None
        return Subscriber(
            chat_id=row["chat_id"],
            chat_type=row["chat_type"],
            title=row["title"],
            language_code=row["language_code"],
            active=bool(row["active"]),
            topics=tuple(self.subscriptions(chat_id)),
        )

    def subscriptions(self, chat_id: int) -> list[str]:
        return [
            row["topic_id"]
            for row in self.db.query(
                "SELECT topic_id FROM subscriptions WHERE chat_id = ? ORDER BY topic_id",
                [chat_id],
            )
        ]

    def subscribe(self, chat_id: int, topic_id: str, *, now: datetime) -> bool:
        """Subscribe an (active) chat to a topic; True when it was not subscribed before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO subscriptions (chat_id, topic_id, created_at) VALUES (?, ?, ?)",
            [chat_id, topic_id, now.timestamp()],
        )
        return cursor.rowcount > 0

    def unsubscribe(self, chat_id: int, topic_id: str) -> bool:
        cursor = self.db.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND topic_id = ?", [chat_id, topic_id]
        )
        return cursor.rowcount > 0

    def forget_chat(self, chat_id: int) -> None:
        """Delete everything the store keeps about a chat (its own /stop)."""
        with self.db.atomic():
            for table in ("subscriptions", "watches", "outbox", "notices", "subscribers"):
                self.db.execute(f"DELETE FROM {table} WHERE chat_id = ?", [chat_id])

    def deactivate_chat(self, chat_id: int, reason: str, *, now: datetime) -> int:
        """Mark a chat that Telegram says is gone; its pending alerts are dropped (kept)."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE subscribers SET active = 0, inactive_reason = ?, updated_at = ?"
                " WHERE chat_id = ?",
                [reason, now.timestamp(), chat_id],
            )
            cursor = self.db.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ?"
                " WHERE chat_id = ? AND state IN ('pending', 'sending')",
                [reason, chat_id],
            )
        return cursor.rowcount

    def migrate_chat(self, old_chat_id: int, new_chat_id: int, *, now: datetime) -> None:
        """Move a chat's record, subscriptions and queued alerts to its new id."""
        ts = now.timestamp()
        with self.db.atomic():
            if self._one("SELECT 1 AS x FROM subscribers WHERE chat_id = ?", [new_chat_id]):
                self.db.execute("DELETE FROM subscribers WHERE chat_id = ?", [old_chat_id])
            else:
                self.db.execute(
                    "UPDATE subscribers SET chat_id = ?, updated_at = ? WHERE chat_id = ?",
                    [new_chat_id, ts, old_chat_id],
                )
            self.db.execute(
                "UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?",
                [new_chat_id, old_chat_id],
            )
            self.db.execute("DELETE FROM subscriptions WHERE chat_id = ?", [old_chat_id])
            self.db.execute(
                "UPDATE OR IGNORE outbox SET chat_id = ? WHERE chat_id = ?",
                [new_chat_id, old_chat_id],
            )
            self.db.execute(
                "UPDATE outbox SET state = 'dropped', last_error = 'chat migrated'"
                " WHERE chat_id = ? AND state IN ('pending', 'sending')",
                [old_chat_id],
            )

    # -- outbox -----------------------------------------------------------------------------

    def requeue_inflight(self) -> int:
        """Rows left 'sending' by a crash go back to pending (at-least-once delivery)."""
        with self.db.atomic():
            cursor = self.db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
            self.db.execute("UPDATE notices SET state = 'pending' WHERE state = 'sending'")
        return cursor.rowcount

    def due_deliveries(
        self, now: datetime, limit: int = 50, *, exclude: Collection[int] = ()
    ) -> list[Delivery]:
        """The oldest due delivery of each chat not in `exclude`, oldest first.

        One row per chat keeps the worker fair: a chat with a thousand queued alerts waits
        its turn behind the others' first ones instead of filling every batch.
        """
        skip = ",".join("?" * len(exclude))
        return self._deliveries(
            "o.id IN (SELECT min(id) FROM outbox WHERE state = 'pending'"
            " AND coalesce(next_attempt_at, 0) <= ?"
            " AND chat_id NOT IN (SELECT chat_id FROM subscribers WHERE hold_until > ?)"
            + (f" AND chat_id NOT IN ({skip})" if exclude else "")
            + " GROUP BY chat_id) ORDER BY o.next_attempt_at, o.id LIMIT ?",
            [now.timestamp(), now.timestamp(), *exclude, limit],
        )

    def due_edits(self, limit: int = 50, *, exclude: Collection[int] = ()) -> list[Delivery]:
        """Sent alerts whose story has been carried by more outlets since."""
        skip = ",".join("?" * len(exclude))
        return self._deliveries(
            "o.state = 'sent' AND o.edit_pending = 1"
            + (f" AND o.chat_id NOT IN ({skip})" if exclude else "")
            + " ORDER BY o.id LIMIT ?",
            [*exclude, limit],
        )

    def edit_done(self, delivery_id: int) -> None:
        self.db.execute("UPDATE outbox SET edit_pending = 0 WHERE id = ?", [delivery_id])

    def _deliveries(self, where: str, params: list[Any]) -> list[Delivery]:
        rows = self.db.query(
            "SELECT o.id AS outbox_id, o.chat_id, o.attempts, o.created_at AS queued_at,"
            " o.topics AS outbox_topics, o.also, o.message_id AS sent_message_id,"
            " i.*, f.title AS feed_title FROM outbox o JOIN items i ON i.id = o.item_id"
            f" LEFT JOIN feeds f ON f.id = i.feed_id WHERE {where}",
            params,
        )
        return [
            Delivery(
                id=row["outbox_id"],
                chat_id=row["chat_id"],
                attempts=row["attempts"],
                created_at=datetime.fromtimestamp(row["queued_at"], UTC),
                topics=tuple(json.loads(row["outbox_topics"])),
                item=self._item(row),
                feed_title=row["feed_title"],
                also=tuple(json.loads(row["also"])),
                message_id=row["sent_message_id"],
            )
            for row in rows
        ]

    def next_due_at(self) -> datetime | None:
        """When the next pending alert or notice is due."""
        row = self._one(
            "SELECT min(t) AS t FROM ("
            "SELECT min(max(coalesce(o.next_attempt_at, 0), coalesce(s.hold_until, 0))) AS t"
            " FROM outbox o LEFT JOIN subscribers s ON s.chat_id = o.chat_id"
            " WHERE o.state = 'pending'"
            " UNION ALL SELECT min(next_attempt_at) FROM notices WHERE state = 'pending')",
            [],
        )
        return None if row is None else _dt(row["t"])

    def claim(self, delivery_id: int, *, now: datetime) -> int | None:
        """Mark a pending row `sending`; its chat id now, or None when it is no longer pending."""
        with self.db.atomic():
            row = self._one(
                "SELECT chat_id FROM outbox WHERE id = ? AND state = 'pending'", [delivery_id]
            )
            if row is None:
                return None
            self._update_outbox(
                "state = 'sending', attempts = attempts + 1, next_attempt_at = ?",
                [now.timestamp()],
                delivery_id,
            )
        return int(row["chat_id"])

    def count_pending(self, chat_id: int, before: datetime) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM outbox WHERE chat_id = ? AND state = 'pending'"
            " AND created_at < ?",
            [chat_id, before.timestamp()],
        )
        return 0 if row is None else int(row["n"])

    def claim_digest(self, chat_id: int, before: datetime, *, now: datetime) -> list[Delivery]:
        """Mark a chat's pending alerts queued before `before` `sending`, for one digest."""
        with self.db.atomic():
            rows = self._deliveries(
                "o.chat_id = ? AND o.state = 'pending' AND o.created_at < ? ORDER BY o.id LIMIT ?",
                [chat_id, before.timestamp(), MAX_DIGEST],
            )
            self._settle([d.id for d in rows], "state = 'sending', attempts = attempts + 1", [])
        return rows

    def settle_many(
        self,
        delivery_ids: Sequence[int],
        state: str,
        *,
        now: datetime,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a digest went for all its rows: sent, pending (retry at `now`), failed."""
        assert state in ("sent", "pending", "failed")
        if state == "sent":
            self._settle(
                delivery_ids,
                "state = 'sent', message_id = ?, sent_at = ?, last_error = NULL",
                [message_id, now.timestamp()],
            )
        else:
            self._settle(
                delivery_ids,
                "state = ?, last_error = ?, next_attempt_at = ?",
                [state, error, now.timestamp()],
            )

    def _settle(self, delivery_ids: Sequence[int], assignments: str, params: list[Any]) -> None:
        if delivery_ids:
            marks = ",".join("?" * len(delivery_ids))
            self.db.execute(
                f"UPDATE outbox SET {assignments} WHERE id IN ({marks})", [*params, *delivery_ids]
            )

    def mark_sent(self, delivery_id: int, message_id: int | None, *, now: datetime) -> None:
        self._update_outbox(
            "state = 'sent', message_id = ?, sent_at = ?, last_error = NULL",
            [message_id, now.timestamp()],
            delivery_id,
        )

    def mark_retry(self, delivery_id: int, error: str, *, at: datetime) -> None:
        self._update_outbox(
            "state = 'pending', last_error = ?, next_attempt_at = ?",
            [error, at.timestamp()],
            delivery_id,
        )

    def mark_failed(self, delivery_id: int, error: str, *, state: str = "failed") -> None:
        assert state in OUTBOX_STATES
        self._update_outbox("state = ?, last_error = ?", [state, error], delivery_id)

    # -- notices to the operators ----------------------------------------------------------

    def notify_admins(self, text: str, *, now: datetime) -> int:
        """Queue a message for every admin (fanned out when sent: the list may change)."""
        ts = now.timestamp()
        cursor = self.db.execute(
            "INSERT INTO notices (text, state, attempts, next_attempt_at, created_at)"
            " VALUES (?, 'pending', 0, ?, ?)",
            [text, ts, ts],
        )
        return int(cursor.lastrowid or 0)

    def fan_out_notices(self, admins: Collection[int]) -> int:
        """Turn each notice for every admin into one row per admin; the number of notices.

        Without admins the notices are dropped (kept, with the reason).
        """
        with self.db.atomic():
            rows = list(
                self.db.query(
                    "SELECT id, text, next_attempt_at, created_at FROM notices"
                    " WHERE chat_id IS NULL AND state = 'pending'"
                )
            )
            for row in rows:
                if not admins:
                    self.db.execute(
                        "UPDATE notices SET state = 'dropped',"
                        " last_error = 'no telegram.admins configured' WHERE id = ?",
                        [row["id"]],
                    )
                    continue
                self.db.conn.executemany(
                    "INSERT INTO notices (chat_id, text, state, attempts, next_attempt_at,"
                    " created_at) VALUES (?, ?, 'pending', 0, ?, ?)",
                    [
                        (chat, row["text"], row["next_attempt_at"], row["created_at"])
                        for chat in admins
                    ],
                )
                self.db.execute("UPDATE notices SET state = 'fanned' WHERE id = ?", [row["id"]])
        return len(rows)

    def due_notices(
        self, now: datetime, limit: int = 50, *, exclude: Collection[int] = ()
    ) -> list[Notice]:
        """Pending notices to one admin each, whose time has come, oldest first."""
        skip = ",".join("?" * len(exclude))
        rows = self.db.query(
            "SELECT id, chat_id, text, attempts, created_at FROM notices"
            " WHERE state = 'pending' AND chat_id IS NOT NULL AND next_attempt_at <= ?"
            + (f" AND chat_id NOT IN ({skip})" if exclude else "")
            + " ORDER BY next_attempt_at, id LIMIT ?",
            [now.timestamp(), *exclude, limit],
        )
        return [
            Notice(
                id=row["id"],
                chat_id=row["chat_id"],
                text=row["text"],
                attempts=row["attempts"],
                created_at=datetime.fromtimestamp(row["created_at"], UTC),
            )
            for row in rows
        ]

    def claim_notice(self, notice_id: int, *, now: datetime) -> bool:
        cursor = self.db.execute(
            "UPDATE notices SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?"
            " WHERE id = ? AND state = 'pending'",
            [now.timestamp(), notice_id],
        )
        return cursor.rowcount == 1

    def settle_notice(
        self, notice_id: int, state: str, *, now: datetime, error: str | None = None
    ) -> None:
        """Record how sending a notice went: sent, pending (retry at `now`), failed, dropped."""
        assert state in ("sent", "pending", "failed", "dropped")
        self.db.execute(
            "UPDATE notices SET state = ?, last_error = ?, next_attempt_at = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
            [state, error, now.timestamp(), state, now.timestamp(), notice_id],
        )

    def notices(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Every notice (to one admin), oldest first: for the CLI and tests."""
        where, params = ("WHERE chat_id = ?", [chat_id]) if chat_id is not None else ("", [])
        return list(self.db.query(f"SELECT * FROM notices {where} ORDER BY id", params))

    def outbox_counts(self) -> dict[str, int]:
        return {
            row["state"]: row["n"]
            for row in self.db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        }

    def _update_outbox(self, assignments: str, params: list[Any], delivery_id: int) -> None:
        self.db.execute(f"UPDATE outbox SET {assignments} WHERE id = ?", [*params, delivery_id])

    # -- helpers ----------------------------------------------------------------------------

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        for row in self.db.query(sql, params):
            return row
        return None

    @staticmethod
    def _item(row: dict[str, Any]) -> StoredItem:
        fetched = _dt(row["fetched_at"])
        assert fetched is not None
        return StoredItem(
            id=row["id"],
            story_id=row["story_id"],
            feed_id=row["feed_id"],
            guid=row["guid"],
            link=row["link"],
            title=row["title"],
            summary=row["summary"],
            published_at=_dt(row["published_at"]),
            fetched_at=fetched,
            topics=tuple(json.loads(row["topics"])),
            brief=row.get("brief") or "",
            marks=tuple(json.loads(row.get("marks") or "[]")),
        )


def _json_list(values: Sequence[str]) -> str:
    # most items match nothing: their topics and marks are both empty
    return json.dumps(list(values)) if values else "[]"
