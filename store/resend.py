"""`kurilwatch resend`'s verb: the alerts given up ('failed') queued again."""

from __future__ import annotations

from datetime import datetime

from store.base import StoreBase


class ResendVerbs(StoreBase):
    """Store verbs for alerts given up (mixed into `Store`)."""

    def requeue_failed(self, since: datetime, *, now: datetime) -> dict[int, int]:
        """The alerts given up ('failed') that were queued since `since`, to chats that are not
        gone, pending again and due `now`, their tries counted afresh (they keep their place:
        a chat gets them before its later alerts); how many, by chat."""
        where = (
            "state = 'failed' AND created_at >= ?"
            " AND chat_id NOT IN (SELECT chat_id FROM subscribers WHERE active = 0)"
        )
        with self.db.atomic():
            counts = {
                row[0]: row[1]
                for row in self.db.execute(
                    f"SELECT chat_id, count(*) FROM outbox WHERE {where} GROUP BY chat_id",
                    [since.timestamp()],
                )
            }
            self.db.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                f" last_error = NULL WHERE {where}",
                [now.timestamp(), since.timestamp()],
            )
        return counts
