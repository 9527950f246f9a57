"""What a chat decides reaches it: the bot's language, news languages, muted sources,
per-story controls (mute, follow) and "not relevant" feedback; and the install's secret.

`wants` is the pure decider the queueing of alerts asks for each chat.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store.base import IN_LIST, StoreBase, list_param
from store.outlets import Member, Source, also_name, also_of
from store.records import WATCH_PREFIX

STORY_MODES = ("mute", "follow")


@dataclass(frozen=True, slots=True)
class ChatFilter:
    """A chat's news languages (empty: every one), the feeds it muted, and the outlets those
    feeds are (their hosts: `tass.com`), so an aggregator cannot bring a muted outlet back."""

    langs: frozenset[str] = frozenset()
    muted: frozenset[str] = frozenset()
    muted_outlets: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.langs or self.muted)


def wants(
    chat: ChatFilter | None, *, lang: str | None, feed_id: str, outlet_key: str | None = None
) -> bool:
    """Whether a report in `lang` from `feed_id` (of the outlet `outlet_key`) may be alerted to
    a chat with this filter: not from a muted feed, nor a muted feed's outlet carried by another
    (TASS's report through Google News, once TASS's own feed is muted).

    A report of unknown language (stored before languages were kept) passes a language filter.
    """
    if chat is None:
        return True
    if feed_id in chat.muted or (outlet_key is not None and outlet_key in chat.muted_outlets):
        return False
    return not chat.langs or lang is None or lang in chat.langs


def unmuted(members: Sequence[Member], chat: ChatFilter | None) -> list[Member]:
    """The reports of `members` from outlets the chat has not muted, whatever their language."""
    return [
        m
        for m in members
        if wants(chat, lang=None, feed_id=m.source.feed_id, outlet_key=m.source.outlet_key)
    ]


@dataclass(frozen=True, slots=True)
class Feedback:
    chat_id: int
    item_id: int
    topic: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """A "Not relevant" press with the item it was about, for the relevance report; a watch's
    press carries the watch's query (None: a topic's, or a watch since removed)."""

    chat_id: int
    item_id: int
    topic: str | None
    title: str
    summary: str
    link: str | None
    lang: str | None
    feed_id: str
    watch_query: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SentAlert:
    """An outbox row as the buttons under its message need it."""

    id: int
    chat_id: int
    story_id: int
    item_id: int
    topics: tuple[str, ...]
    message_id: int | None = None  # its message, once sent (NULL after a chat migrated)


class ControlVerbs(StoreBase):
    """Store verbs for a chat's controls (mixed into `Store`)."""

    # -- the bot's language ------------------------------------------------------------------

    def set_language(self, chat_id: int, lang: str | None) -> None:
        """The chat's language; None: none of its own (its members' Telegram language)."""
        self.db.execute("UPDATE subscribers SET language = ? WHERE chat_id = ?", [lang, chat_id])

    def adopt_language(self, chat_id: int, lang: str) -> None:
        """Give a chat a language unless it has one (a group: whoever set it up)."""
        self.db.execute(
            "UPDATE subscribers SET language = ? WHERE chat_id = ? AND language IS NULL",
            [lang, chat_id],
        )

    def language(self, chat_id: int) -> str | None:
        row = self._one("SELECT language FROM subscribers WHERE chat_id = ?", [chat_id])
        return None if row is None else row["language"]

    def private_language(self, chat_id: int, language_code: str | None) -> str | None:
        """A private chat's own language (/language), or None; without one, its user's
        current Telegram `language_code` is recorded when it changed: its alerts follow it,
        as the replies do."""
        row = self._one(
            "SELECT language, language_code FROM subscribers WHERE chat_id = ?", [chat_id]
        )
        if row is None:
            return None
        if row["language"] is None and language_code and row["language_code"] != language_code:
            self.db.execute(
                "UPDATE subscribers SET language_code = ? WHERE chat_id = ?",
                [language_code, chat_id],
            )
        return None if row["language"] is None else str(row["language"])

    # -- news languages and sources ----------------------------------------------------------

    def set_news_langs(self, chat_id: int, langs: Sequence[str]) -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE subscribers SET news_langs = ? WHERE chat_id = ?",
                [" ".join(langs), chat_id],
            )
            self._unqueue_unwanted(chat_id)

    def muted_sources(self, chat_id: int) -> list[str]:
        return [
            row["feed_id"]
            for row in self.db.query(
                "SELECT feed_id FROM muted_sources WHERE chat_id = ? ORDER BY feed_id", [chat_id]
            )
        ]

    def toggle_source(self, chat_id: int, feed_id: str, *, now: datetime) -> bool:
        """Mute a feed for a chat, or unmute it if it was muted; True when it is muted now."""
        with self.db.atomic():
            cursor = self.db.execute(
                "DELETE FROM muted_sources WHERE chat_id = ? AND feed_id = ?", [chat_id, feed_id]
            )
            if cursor.rowcount:
                return False
            self.db.execute(
                "INSERT INTO muted_sources (chat_id, feed_id, created_at) VALUES (?, ?, ?)",
                [chat_id, feed_id, now.timestamp()],
            )
            self._unqueue_unwanted(chat_id)
        return True

    def set_muted_sources(self, chat_id: int, feed_ids: Sequence[str], *, now: datetime) -> None:
        """Mute exactly these feeds for a chat (what the config gives a channel), as
        `toggle_source` would one by one; a mute kept from before keeps its time."""
        with self.db.atomic():
            wanted = list(dict.fromkeys(feed_ids))
            self.db.execute(
                f"DELETE FROM muted_sources WHERE chat_id = ? AND feed_id NOT {IN_LIST}",
                [chat_id, list_param(wanted)],
            )
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO muted_sources (chat_id, feed_id, created_at)"
                " VALUES (?, ?, ?)",
                [(chat_id, feed, now.timestamp()) for feed in wanted],
            )
            self._unqueue_unwanted(chat_id)

    def _unqueue_unwanted(self, chat_id: int) -> None:
        """Requeue the chat's alerts still waiting (for a digest, quiet hours, a mute's end)
        that its filter now refuses: /lang and /sources apply to them too. A story's alert
        takes the story's earliest report the chat wants, if one is stored, and names the
        story's other outlets in its "Also:" line; otherwise it goes, and a later report of the
        story that the chat wants is queued in its place."""
        chat = self.chat_filters([chat_id]).get(chat_id)
        if chat is None:
            return

        def wanted(row: dict[str, Any]) -> bool:
            return wants(
                chat, lang=row["lang"], feed_id=row["feed_id"], outlet_key=row["outlet_key"]
            )

        for row in list(
            self.db.query(
                "SELECT o.id, o.story_id, o.reply_to, o.also, i.lang, i.feed_id,"
                " i.outlet_key FROM outbox o JOIN items i ON i.id = o.item_id"
                " WHERE o.chat_id = ? AND o.state = 'pending'",
                [chat_id],
            )
        ):
            if wanted(row):
                also = json.loads(row["also"])
                if also and row["reply_to"] is None:  # an outlet muted now leaves "Also:"
                    muted = self._unwanted_outlets(row["story_id"], row["lang"], chat)
                    if len(pruned := [name for name in also if name not in muted]) < len(also):
                        self.db.execute(
                            "UPDATE outbox SET also = ? WHERE id = ?",
                            [json.dumps(pruned), row["id"]],
                        )
                continue
            instead = None
            if row["reply_to"] is None:  # not a follow-up reply: the story's alert
                reports = self.db.query(
                    "SELECT id, lang, feed_id, outlet_key FROM items"
                    " WHERE story_id = ? AND topics != '[]' ORDER BY id",
                    [row["story_id"]],
                )
                instead = next((r["id"] for r in reports if wanted(r)), None)
            if instead is None:
                self.db.execute("DELETE FROM outbox WHERE id = ?", [row["id"]])
            else:
                also = json.dumps(self._other_outlets(row["story_id"], instead, chat))
                self.db.execute(
                    "UPDATE outbox SET item_id = ?, also = ? WHERE id = ?",
                    [instead, also, row["id"]],
                )

    def _unwanted_outlets(self, story_id: int, lang: str | None, chat: ChatFilter) -> set[str]:
        """The names an "Also:" line of an alert in `lang` gives the outlets of a story that
        the chat has muted."""
        return {
            also_name(str(report["name"]), report["lang"], lang)
            for report in self.db.query(
                "SELECT i.feed_id, i.outlet_key, i.lang,"
                " coalesce(i.outlet, f.title, i.feed_id) AS name FROM items i"
                " LEFT JOIN feeds f ON f.id = i.feed_id WHERE i.story_id = ?",
                [story_id],
            )
            if not wants(
                chat, lang=None, feed_id=report["feed_id"], outlet_key=report["outlet_key"]
            )
        }

    def _other_outlets(self, story_id: int, item_id: int, chat: ChatFilter) -> list[str]:
        """The "Also:" line of a story's alert that shows `item_id`: every other outlet of the
        story the chat has not muted, once, never the alert's own, named for its language."""
        reports = self.story_members(story_id)
        shown = next(r for r in reports if r.id == item_id)
        return list(also_of(unmuted(reports, chat), shown))

    def story_members(self, story_id: int) -> list[Member]:
        """A story's reports, in the order they came."""
        return [
            Member(
                row["id"],
                Source(row["feed_id"], row["outlet"], row["outlet_key"]),
                str(row["name"]),
                row["lang"],
            )
            for row in self.db.query(
                "SELECT i.id, i.feed_id, i.outlet, i.outlet_key, i.lang,"
                " coalesce(i.outlet, f.title, i.feed_id) AS name FROM items i"
                " LEFT JOIN feeds f ON f.id = i.feed_id WHERE i.story_id = ? ORDER BY i.id",
                [story_id],
            )
        ]

    def chat_filters(self, chat_ids: Sequence[int]) -> dict[int, ChatFilter]:
        """The filters of those of `chat_ids` that have one."""
        if not chat_ids or not self._one(
            "SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM subscribers WHERE news_langs != '')"
            " OR EXISTS (SELECT 1 FROM muted_sources)",
            [],
        ):
            return {}  # most installs: nobody filters, and every alert asks
        found: dict[int, tuple[set[str], set[str]]] = {}
        for start in range(0, len(chat_ids), 500):
            chunk = list(chat_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT chat_id, news_langs FROM subscribers WHERE news_langs != ''"
                f" AND chat_id IN ({marks})",
                chunk,
            ):
                found.setdefault(row["chat_id"], (set(), set()))[0].update(
                    row["news_langs"].split()
                )
            for row in self.db.query(
                f"SELECT chat_id, feed_id FROM muted_sources WHERE chat_id IN ({marks})", chunk
            ):
                found.setdefault(row["chat_id"], (set(), set()))[1].add(row["feed_id"])
        outlets = self._own_outlets({feed for _, muted in found.values() for feed in muted})
        return {
            chat: ChatFilter(
                frozenset(langs),
                frozenset(muted),
                frozenset(outlets[feed] for feed in muted if feed in outlets),
            )
            for chat, (langs, muted) in found.items()
        }

    def _own_outlets(self, feed_ids: set[str]) -> dict[str, str]:
        """The outlet key of each feed that publishes its own reports (not an aggregator's):
        the key of its latest item that names no other outlet."""
        keys: dict[str, str] = {}
        for feed_id in sorted(feed_ids):
            row = self._one(
                "SELECT outlet_key FROM items WHERE feed_id = ? AND outlet IS NULL"
                " AND outlet_key IS NOT NULL ORDER BY id DESC LIMIT 1",
                [feed_id],
            )
            if row is not None:
                keys[feed_id] = row["outlet_key"]
        return keys

    # -- stories -----------------------------------------------------------------------------

    def control_story(self, chat_id: int, story_id: int, mode: str, *, now: datetime) -> None:
        """Mute or follow a story in a chat; muting also cancels the "Also:" edit and the
        follow-ups not yet sent."""
        assert mode in STORY_MODES
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO story_controls (chat_id, story_id, mode, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(chat_id, story_id) DO UPDATE SET"
                " mode = excluded.mode, created_at = excluded.created_at",
                [chat_id, story_id, mode, now.timestamp()],
            )
            if mode == "mute":
                self.db.execute(
                    "UPDATE outbox SET edit_pending = 0 WHERE chat_id = ? AND story_id = ?",
                    [chat_id, story_id],
                )
                self.db.execute(
                    "UPDATE outbox SET state = 'dropped', last_error = 'story muted'"
                    " WHERE chat_id = ? AND story_id = ? AND reply_to IS NOT NULL"
                    " AND state = 'pending'",
                    [chat_id, story_id],
                )

    def story_modes(self, story_id: int) -> dict[int, str]:
        """Chat → mode, for the chats that muted or follow a story."""
        return {
            row["chat_id"]: row["mode"]
            for row in self.db.query(
                "SELECT chat_id, mode FROM story_controls WHERE story_id = ?", [story_id]
            )
        }

    def sent_alert(self, outbox_id: int) -> SentAlert | None:
        row = self._one(
            "SELECT id, chat_id, story_id, item_id, topics, message_id FROM outbox WHERE id = ?",
            [outbox_id],
        )
        if row is None:
            return None
        topics = tuple(json.loads(row["topics"]))
        return SentAlert(
            row["id"], row["chat_id"], row["story_id"], row["item_id"], topics, row["message_id"]
        )

    # -- feedback ----------------------------------------------------------------------------

    def add_feedback(self, chat_id: int, item_id: int, topic: str | None, *, now: datetime) -> None:
        """Record a chat's "Not relevant" on an item; a press again changes nothing."""
        self.db.execute(
            "INSERT OR IGNORE INTO feedback (chat_id, item_id, topic, created_at)"
            " VALUES (?, ?, ?, ?)",
            [chat_id, item_id, topic, now.timestamp()],
        )

    def feedback(self) -> list[Feedback]:
        return [
            Feedback(
                row["chat_id"],
                row["item_id"],
                row["topic"],
                datetime.fromtimestamp(row["created_at"], UTC),
            )
            for row in self.db.query("SELECT * FROM feedback ORDER BY id")
        ]

    def feedback_rows(self, since: datetime) -> list[FeedbackRow]:
        """The presses since `since`, joined to their items (and a watch's query), in order."""
        return [
            FeedbackRow(
                row["chat_id"],
                row["item_id"],
                row["topic"],
                row["title"] or "",
                row["summary"] or "",
                row["link"],
                row["lang"],
                row["feed_id"],
                row["query"],
                datetime.fromtimestamp(row["created_at"], UTC),
            )
            for row in self.db.query(
                "SELECT f.chat_id, f.item_id, f.topic, f.created_at, i.title, i.summary, i.link,"
                " i.lang, i.feed_id, w.query FROM feedback f JOIN items i ON i.id = f.item_id"
                " LEFT JOIN watches w ON f.topic = ? || w.id"
                " WHERE f.created_at >= ? ORDER BY f.id",
                [WATCH_PREFIX, since.timestamp()],
            )
        ]

    # -- the install's secret ----------------------------------------------------------------

    def install_secret(self, name: str = "callbacks") -> bytes:
        """A random secret made once per install (it signs the buttons' callback data)."""
        with self.db.atomic():
            row = self._one("SELECT value FROM install_secrets WHERE name = ?", [name])
            if row is not None:
                return bytes.fromhex(row["value"])
            value = secrets.token_bytes(32)
            self.db.execute(
                "INSERT INTO install_secrets (name, value) VALUES (?, ?)", [name, value.hex()]
            )
        return value
