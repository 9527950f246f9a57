"""Reading back what was stored: a period's items (for backtests and previews), the stories of
topics (for Atom feeds and exports), and the secret tokens of chats' watch feeds."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from store.base import IN_LIST, list_param
from store.outlets import Source


@dataclass(frozen=True, slots=True)
class PastItem:
    """A stored item with its text, as a backtest re-matches it."""

    id: int
    story_id: int
    feed_id: str
    outlet: str  # the feed's title, or its id
    title: str
    summary: str
    link: str | None
    published_at: datetime | None
    fetched_at: datetime
    lang: str | None = None  # en, ru, ja (None: stored before items had one)

    @property
    def date(self) -> datetime:
        return self.published_at or self.fetched_at


@dataclass(frozen=True, slots=True)
class Story:
    """A matched story: its first item's title, link, summary and language, every outlet that
    carried it (the one an aggregator's item names, not the aggregator), the topics its items
    matched, and when it was first and last seen."""

    id: int
    title: str
    link: str | None
    summary: str
    outlets: tuple[str, ...]
    topics: tuple[str, ...]
    published_at: datetime | None
    first_seen: datetime
    updated: datetime
    lang: str | None = None  # the shown item's language: en, ru, ja (None: unknown)


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


_PAST_COLUMNS = (
    "SELECT i.id, i.story_id, i.feed_id, coalesce(f.title, i.feed_id), i.title, i.summary,"
    " i.link, i.published_at, i.fetched_at, i.lang"
    " FROM items i LEFT JOIN feeds f ON f.id = i.feed_id"
)


class ArchiveVerbs:
    """Store verbs over stored items and stories (mixed into `Store`)."""

    db: Database

    def past_items(
        self, since: datetime, *, newest_first: bool = False, limit: int | None = None
    ) -> Iterator[PastItem]:
        """The items fetched since `since` that still have their text, in one read, streamed
        (oldest first, or newest first up to `limit`)."""
        sql = (
            f"{_PAST_COLUMNS} WHERE i.fetched_at >= ? AND (i.title != '' OR i.summary != '')"
            f" ORDER BY i.id {'DESC' if newest_first else ''}"
        )
        params: list[Any] = [since.timestamp()]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for row in self.db.execute(sql, params):
            yield PastItem(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                None if row[7] is None else _dt(row[7]),
                _dt(row[8]),
                row[9],
            )

    def stories(
        self,
        topic_ids: Sequence[str] | None = None,
        *,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Story]:
        """The stories any item of which matched one of `topic_ids` (any topic: None), most
        recently seen first."""
        where = ["i.topics != '[]'"]
        params: list[Any] = []
        if topic_ids is not None:
            if not topic_ids:
                return []
            where.append(f"EXISTS (SELECT 1 FROM json_each(i.topics) t WHERE t.value {IN_LIST})")
            params.append(list_param(topic_ids))
        if since is not None:
            where.append("i.fetched_at >= ?")
            params.append(since.timestamp())
        sql = (
            "SELECT i.story_id, group_concat(i.topics, '\x1f') AS topics,"
            " max(i.fetched_at) AS last FROM items i"
            f" WHERE {' AND '.join(where)} GROUP BY i.story_id ORDER BY last DESC, i.story_id DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        matched = self.db.execute(sql, params).fetchall()
        stories = []
        for story_id, topics_json, _ in matched:
            topics = _all(topics_json)
            if topic_ids is not None:
                topics &= set(topic_ids)
            rows = self.db.execute(
                "SELECT i.title, i.link, coalesce(nullif(i.brief, ''), i.summary),"
                " coalesce(i.outlet, f.title, i.feed_id), i.published_at, i.fetched_at,"
                " i.feed_id, i.outlet, i.outlet_key, i.lang FROM items i"
                " LEFT JOIN feeds f ON f.id = i.feed_id WHERE i.story_id = ? ORDER BY i.id",
                [story_id],
            ).fetchall()
            shown = next((r for r in rows if r[0]), rows[0])  # the first with text left
            stories.append(
                Story(
                    id=story_id,
                    title=shown[0],
                    link=shown[1],
                    summary=shown[2],
                    outlets=_outlets(rows),
                    topics=tuple(sorted(topics)),
                    published_at=None if shown[4] is None else _dt(shown[4]),
                    first_seen=_dt(rows[0][5]),
                    updated=_dt(max(r[5] for r in rows)),
                    lang=shown[9],
                )
            )
        return stories

    def data_version(self) -> int:
        """A number that changes when another connection commits (SQLite's `PRAGMA
        data_version`): what this connection read before may then be out of date."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def feed_token(self, chat_id: int, *, now: datetime) -> str:
        """The secret token of the chat's watch feed, made on first use."""
        for row in self.db.execute(
            "SELECT token FROM watch_feed_tokens WHERE chat_id = ?", [chat_id]
        ):
            return str(row[0])
        token = secrets.token_urlsafe(24)
        self.db.execute(
            "INSERT INTO watch_feed_tokens (chat_id, token, created_at) VALUES (?, ?, ?)",
            [chat_id, token, now.timestamp()],
        )
        return token

    def forget_feed_token(self, chat_id: int) -> None:
        """Revoke the chat's watch feed token (it leaked): its address serves nothing more, and
        the next `feed_token` makes a new one."""
        self.db.execute("DELETE FROM watch_feed_tokens WHERE chat_id = ?", [chat_id])

    def chat_of_feed_token(self, token: str) -> int | None:
        for row in self.db.execute(
            "SELECT chat_id FROM watch_feed_tokens WHERE token = ?", [token]
        ):
            return int(row[0])
        return None


def _outlets(rows: Sequence[Sequence[Any]]) -> tuple[str, ...]:
    """The outlets of a story's items (rows of `stories`' query: the name at 3, the feed id,
    outlet and outlet key at 6-8), each once, as alerts name them: the outlet an aggregator's
    item names ("TASS", never "Google News"), TASS's own feed and Google News' TASS item one
    outlet (`same_outlet`, in one pass)."""
    own_feeds: set[str] = set()  # of the outlets' own feeds
    carried: set[str] = set()  # keys of the outlets an aggregator carried
    keys: set[str] = set()  # every key seen
    names: dict[str, None] = {}
    for row in rows:
        outlet, key = row[7], row[8]
        source = Source(row[6], outlet, key or (f"name:{outlet.casefold()}" if outlet else None))
        if source.outlet is None:
            if source.feed_id in own_feeds or source.key in carried:
                continue
            own_feeds.add(source.feed_id)
        elif source.key in keys:
            continue
        else:
            carried.add(source.key)
        keys.add(source.key)
        names[row[3]] = None
    return tuple(names)


def _all(topics_json: str) -> set[str]:
    return {t for chunk in topics_json.split("\x1f") for t in json.loads(chunk)}
