"""`kurilwatch resend`'s verb: the alerts given up ('failed') queued again."""

from __future__ import annotations

import json
from datetime import datetime

from store.base import StoreBase
from store.records import WATCH_PREFIX


class Requeued(dict[int, int]):
    """How many alerts were queued again, by chat; `skipped`: how many were not, as their
    chats have left every topic and watch they were alerted for."""

    skipped: int = 0


class ResendVerbs(StoreBase):
    """Store verbs for alerts given up (mixed into `Store`)."""

    def requeue_failed(self, since: datetime, *, now: datetime) -> Requeued:
        """The alerts given up ('failed') that were queued since `since`, to chats that are not
        gone, pending again and due `now`, their tries counted afresh (they keep their place:
        a chat gets them before its later alerts); how many, by chat. An alert keeps only the
        topics and watches its chat still has (as /unsubscribe and /unwatch take them off a
        queued alert); one left with none stays failed, counted as `skipped`. A followed
        story's reply is queued again whatever its topics: following it was a choice of its own."""
        where = (
            "state = 'failed' AND created_at >= ?"
            " AND chat_id NOT IN (SELECT chat_id FROM subscribers WHERE active = 0)"
        )
        counts = Requeued()
        with self.db.atomic():
            rows = self.db.execute(
                f"SELECT id, chat_id, topics, reply_to FROM outbox WHERE {where} ORDER BY id",
                [since.timestamp()],
            ).fetchall()
            kept = self._chats_topics({row[1] for row in rows})
            for row_id, chat_id, topics_json, reply_to in rows:
                topics = json.loads(topics_json)
                left = [t for t in topics if t in kept.get(chat_id, ())]
                if reply_to is None and not left:
                    counts.skipped += 1
                    continue
                self.db.execute(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                    " last_error = NULL, topics = ?, digest_part = 0 WHERE id = ?",
                    [now.timestamp(), json.dumps(left or topics), row_id],
                )
                counts[chat_id] = counts.get(chat_id, 0) + 1
        return counts

    def _chats_topics(self, chat_ids: set[int]) -> dict[int, set[str]]:
        """The topics each chat is subscribed to and its watches (as matched topic ids)."""
        topics: dict[int, set[str]] = {chat: set() for chat in chat_ids}
        for chat_id, topic in self.db.execute(
            "SELECT chat_id, topic_id FROM subscriptions UNION ALL"
            " SELECT chat_id, ? || id FROM watches",
            [WATCH_PREFIX],
        ):
            if chat_id in topics:
                topics[chat_id].add(topic)
        return topics
