"""Chats: subscribers and their topics, their own settings (time zone, digest, quiet hours,
mute) and personal watches; and what Telegram says happened to a chat (gone, migrated)."""

from __future__ import annotations

import json
from datetime import datetime

from store.base import IN_LIST, StoreBase, list_param
from store.records import WATCH_PREFIX, ChatPrefs, Subscriber, Watch, prefs_of, watch_id

# A chat's settings, which a group upgraded to a supergroup takes along
_SETTINGS = (
    "timezone", "digest", "quiet", "muted_until", "language", "news_langs", "report",
    "report_sent_at", "spikes",
)  # fmt: skip


class _Keep:
    """The value of a setting left as it is."""


KEEP = _Keep()


class ChatVerbs(StoreBase):
    """Store verbs for chats, their settings and watches (mixed into `Store`)."""

    def prefs(self, chat_id: int) -> ChatPrefs | None:
        for row in self.db.query("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id]):
            return prefs_of(row)
        return None

    def prefs_of(self, chat_ids: list[int]) -> dict[int, ChatPrefs]:
        rows = self.db.query(
            f"SELECT * FROM subscribers WHERE chat_id {IN_LIST}", [list_param(chat_ids)]
        )
        return {row["chat_id"]: prefs_of(row) for row in rows}

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

    def set_thread(self, chat_id: int, thread_id: int | None) -> None:
        """The forum topic a chat's settings were made in, where its messages go (None: the
        chat itself, a forum's General topic)."""
        self.db.execute(
            "UPDATE subscribers SET thread_id = ? WHERE chat_id = ?", [thread_id, chat_id]
        )

    def forget_thread(self, chat_id: int, thread_id: int) -> bool:
        """The chat's topic `thread_id` is gone (deleted): its messages go to General, unless
        its settings were made in another topic meanwhile. Whether it was forgotten."""
        cursor = self.db.execute(
            "UPDATE subscribers SET thread_id = NULL WHERE chat_id = ? AND thread_id = ?",
            [chat_id, thread_id],
        )
        return cursor.rowcount > 0

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

    def subscribe_to(self, chat_id: int, topic_ids: list[str], *, now: datetime) -> list[str]:
        """Subscribe a chat to each of `topic_ids` in one transaction (all of them or, on a
        failure, none); those it was not subscribed to before, in the order given."""
        added = []
        with self.db.atomic():
            for topic_id in dict.fromkeys(topic_ids):
                if self.subscribe(chat_id, topic_id, now=now):
                    added.append(topic_id)
        return added

    def subscribers_of(self, topic_ids: list[str]) -> dict[str, int]:
        """How many active chats are subscribed to each of `topic_ids`."""
        counts = dict.fromkeys(topic_ids, 0)
        for row in self.db.query(
            "SELECT s.topic_id, count(*) AS n FROM subscriptions s"
            " JOIN subscribers c ON c.chat_id = s.chat_id WHERE c.active = 1 GROUP BY s.topic_id"
        ):
            if row["topic_id"] in counts:
                counts[row["topic_id"]] = row["n"]
        return counts

    def unsubscribe(self, chat_id: int, topic_id: str) -> bool:
        """Stop a chat's subscription to a topic, and take the topic off the chat's alerts
        still queued (held for a digest, quiet hours or /mute): one of that topic alone is
        dropped, not sent hours after the chat said it wants no more of it. A followed story's
        replies stay: following it was a choice of its own."""
        with self.db.atomic():
            cursor = self.db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND topic_id = ?", [chat_id, topic_id]
            )
            self._unqueue_topic(chat_id, topic_id, "unsubscribed")
        return cursor.rowcount > 0

    def unsubscribe_from(self, chat_id: int, topic_ids: list[str]) -> list[str]:
        """Stop a chat's subscriptions to each of `topic_ids` in one transaction (all of them
        or, on a failure, none), as `unsubscribe` does; those it was subscribed to, in the
        order given."""
        removed = []
        with self.db.atomic():
            for topic_id in dict.fromkeys(topic_ids):
                if self.unsubscribe(chat_id, topic_id):
                    removed.append(topic_id)
        return removed

    def _unqueue_topic(self, chat_id: int, topic_id: str, reason: str) -> None:
        """Take a topic (or a watch's) the chat left off its queued alerts, also those on their
        way (a failed send puts back none dropped); drop those it was the only topic of, kept
        with `reason`."""
        for row in self.db.execute(
            "SELECT id, topics FROM outbox WHERE chat_id = ? AND state IN ('pending', 'sending')"
            " AND reply_to IS NULL",
            [chat_id],
        ).fetchall():
            topics = json.loads(row[1])
            if topic_id not in topics:
                continue
            left = [t for t in topics if t != topic_id]
            self.db.execute(
                "UPDATE outbox SET topics = ?"
                + ("" if left else ", state = 'dropped', last_error = ?")
                + " WHERE id = ?",
                [json.dumps(left or topics), *([] if left else [reason]), row[0]],
            )

    def forget_chat(self, chat_id: int) -> None:
        """Delete everything the store keeps about a chat (its own /stop)."""
        with self.db.atomic():
            for table in (
                "subscriptions",
                "watches",
                "outbox",
                "notices",
                "muted_sources",
                "story_controls",
                "feedback",
                "subscribers",
            ):
                self.db.execute(f"DELETE FROM {table} WHERE chat_id = ?", [chat_id])

    def deactivate_chat(self, chat_id: int, reason: str, *, now: datetime) -> int:
        """Mark a chat that Telegram says is gone; its pending alerts and broadcasts are dropped
        (kept); the "Also:" updates of its alerts wait for it to come back (`due_edits`)."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE subscribers SET active = 0, inactive_reason = ?, updated_at = ?"
                " WHERE chat_id = ?",
                [reason, now.timestamp(), chat_id],
            )
            self.db.execute(
                "UPDATE notices SET state = 'dropped', last_error = ?"
                " WHERE chat_id = ? AND state = 'pending'",
                [reason, chat_id],
            )
            cursor = self.db.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ?"
                " WHERE chat_id = ? AND state IN ('pending', 'sending')",
                [reason, chat_id],
            )
        return cursor.rowcount

    def migrate_chat(self, old_chat_id: int, new_chat_id: int, *, now: datetime) -> None:
        """Move a chat's record, settings, subscriptions, watches, queued alerts and broadcasts
        to its new id; a chat moved already (Telegram says so twice, and a failed send once
        more) stays."""
        ts = now.timestamp()
        if old_chat_id == new_chat_id:
            return
        with self.db.atomic():
            if not self._one("SELECT 1 AS x FROM subscribers WHERE chat_id = ?", [old_chat_id]):
                return  # moved already, or never recorded: the new chat's settings stay
            # its choices move with it (before its record goes: that takes its feed token)
            moved = ("subscriptions", "muted_sources", "story_controls", "watches")
            for table in (*moved, "watch_feed_tokens", "feedback"):
                self.db.execute(
                    f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?",
                    [new_chat_id, old_chat_id],
                )
                self.db.execute(f"DELETE FROM {table} WHERE chat_id = ?", [old_chat_id])
            if self._one("SELECT 1 AS x FROM subscribers WHERE chat_id = ?", [new_chat_id]):
                # recorded under its new id already (a command there before a send failed,
                # which gave it its sender's language and no more): the group's settings win
                taken = [
                    f"{c} = (SELECT {c} FROM subscribers WHERE chat_id = ?)" for c in _SETTINGS
                ]
                self.db.execute(
                    f"UPDATE subscribers SET {', '.join(taken)} WHERE chat_id = ?",
                    [*(old_chat_id for _ in _SETTINGS), new_chat_id],
                )
                self.db.execute("DELETE FROM subscribers WHERE chat_id = ?", [old_chat_id])
            else:
                self.db.execute(
                    "UPDATE subscribers SET chat_id = ?, updated_at = ? WHERE chat_id = ?",
                    [new_chat_id, ts, old_chat_id],
                )
            # a sent alert stayed in the old group's history: its message id names another
            # message in the supergroup, which neither an "Also:" edit nor a follow-up's reply
            # may target (a follow-up keeps a reply_to, 0: a reply to no message)
            self.db.execute(
                "UPDATE OR IGNORE outbox SET chat_id = ?, message_id = NULL, edit_pending = 0,"
                " reply_to = CASE WHEN reply_to IS NULL THEN NULL ELSE 0 END WHERE chat_id = ?",
                [new_chat_id, old_chat_id],
            )
            self.db.execute(
                "UPDATE outbox SET state = 'dropped', last_error = 'chat migrated'"
                " WHERE chat_id = ? AND state IN ('pending', 'sending')",
                [old_chat_id],
            )
            # broadcasts not yet sent (one refused at the old id is retried, now at the new)
            self.db.execute(
                "UPDATE notices SET chat_id = ?"
                " WHERE chat_id = ? AND state IN ('pending', 'sending')",
                [new_chat_id, old_chat_id],
            )

    # -- settings -------------------------------------------------------------------------

    def set_prefs(
        self,
        chat_id: int,
        *,
        now: datetime,
        timezone: str | _Keep | None = KEEP,
        digest: str | _Keep = KEEP,
        quiet: str | _Keep = KEEP,
        muted_until: datetime | _Keep | None = KEEP,
    ) -> None:
        """Change a chat's settings (those given); the sender decides its holds afresh."""
        changes = {
            name: value.timestamp() if isinstance(value, datetime) else value
            for name, value in (
                ("timezone", timezone),
                ("digest", digest),
                ("quiet", quiet),
                ("muted_until", muted_until),
            )
            if not isinstance(value, _Keep)
        }
        assignments = "".join(f"{name} = ?, " for name in changes)
        self.db.execute(
            f"UPDATE subscribers SET {assignments}hold_until = NULL, updated_at = ?"
            " WHERE chat_id = ?",
            [*changes.values(), now.timestamp(), chat_id],
        )

    def set_hold(self, chat_id: int, until: datetime | None) -> None:
        self.db.execute(
            "UPDATE subscribers SET hold_until = ? WHERE chat_id = ?",
            [None if until is None else until.timestamp(), chat_id],
        )

    def hold_refused(self, chat_id: int, until: datetime) -> None:
        """Hold a chat the bot may not post to until `until`, its next try (not `hold_until`:
        a change of the chat's settings clears that)."""
        self.db.execute(
            "UPDATE subscribers SET refused_until = max(coalesce(refused_until, 0), ?)"
            " WHERE chat_id = ?",
            [until.timestamp(), chat_id],
        )

    def hold_flood(self, chat_id: int, until: datetime) -> None:
        """Hold a chat under Telegram's flood control until `until` (its 429's retry_after),
        also for the worker of a restart."""
        self.db.execute(
            "UPDATE subscribers SET flood_until = max(coalesce(flood_until, 0), ?)"
            " WHERE chat_id = ?",
            [until.timestamp(), chat_id],
        )

    # -- watches ------------------------------------------------------------------------------

    def add_watch(self, chat_id: int, query: str, *, now: datetime, limit: int) -> Watch | None:
        """Add a watch (or find the same one); None when the chat has `limit` already."""
        for row in self.db.query(
            "SELECT id FROM watches WHERE chat_id = ? AND query = ?", [chat_id, query]
        ):
            return Watch(row["id"], chat_id, query)
        if len(self.watches(chat_id)) >= limit:
            return None
        cursor = self.db.execute(
            "INSERT INTO watches (chat_id, query, created_at) VALUES (?, ?, ?)",
            [chat_id, query, now.timestamp()],
        )
        return Watch(int(cursor.lastrowid or 0), chat_id, query)

    def watches(self, chat_id: int | None = None) -> list[Watch]:
        """A chat's watches in the order they were added; all active chats' without `chat_id`."""
        if chat_id is None:
            rows = self.db.query(
                "SELECT w.* FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
                " WHERE s.active = 1 ORDER BY w.id"
            )
        else:
            rows = self.db.query("SELECT * FROM watches WHERE chat_id = ? ORDER BY id", [chat_id])
        return [Watch(row["id"], row["chat_id"], row["query"]) for row in rows]

    def inactive_watches(self) -> list[Watch]:
        """The watches of the chats marked inactive (gone: blocked the bot, deleted)."""
        rows = self.db.query(
            "SELECT w.* FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
            " WHERE s.active = 0 ORDER BY w.id"
        )
        return [Watch(row["id"], row["chat_id"], row["query"]) for row in rows]

    def remove_watch(self, chat_id: int, number: int) -> Watch | None:
        """Remove a chat's `number`th watch (1-based, as /watches lists them)."""
        mine = self.watches(chat_id)
        if not 1 <= number <= len(mine):
            return None
        watch = mine[number - 1]
        with self.db.atomic():
            self.db.execute("DELETE FROM watches WHERE id = ?", [watch.id])
            # its alerts still queued (held for a digest, quiet hours) go with it
            self._unqueue_topic(chat_id, f"{WATCH_PREFIX}{watch.id}", "watch removed")
        return watch

    def watch_chats(
        self, topic_ids: list[str], made_by: float | None = None
    ) -> dict[int, list[str]]:
        """The chats whose watches are among the matched `topic_ids`: chat → watch topic ids;
        with `made_by`, of the watches made by then (a timestamp) only."""
        ids = sorted(w for w in (watch_id(t) for t in topic_ids) if w is not None)
        chats: dict[int, list[str]] = {}
        for row in self.db.query(  # an item may be watched by 50,000 chats: one list
            "SELECT w.id, w.chat_id FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
            f" WHERE s.active = 1 AND w.id {IN_LIST} AND w.created_at <= ? ORDER BY w.id",
            [list_param(ids), float("inf") if made_by is None else made_by],
        ):
            chats.setdefault(row["chat_id"], []).append(f"{WATCH_PREFIX}{row['id']}")
        return chats
