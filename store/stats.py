"""What the store can tell about itself (statistics), and broadcasts to every chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database


class ReportVerbs:
    """Store verbs for /stats and /broadcast (mixed into `Store`)."""

    db: Database

    def broadcast(self, text: str, *, now: datetime) -> int:
        """Queue `text` to every active chat, as a notice (sent by the delivery worker)."""
        ts = now.timestamp()
        cursor = self.db.execute(
            "INSERT INTO notices (chat_id, text, state, attempts, next_attempt_at, created_at)"
            " SELECT chat_id, ?, 'pending', 0, ?, ? FROM subscribers WHERE active = 1",
            [text, ts, ts],
        )
        return cursor.rowcount

    def backlog(self) -> tuple[int, datetime | None]:
        """Alerts waiting (pending or in flight) and when the oldest was queued."""
        row = next(
            iter(
                self.db.query(
                    "SELECT count(*) AS n, min(created_at) AS t FROM outbox"
                    " WHERE state IN ('pending', 'sending')"
                )
            )
        )
        return row["n"], None if row["t"] is None else datetime.fromtimestamp(row["t"], UTC)

    def stats(self, *, now: datetime, days: int = 7) -> dict[str, Any]:
        """Subscribers, stories per day, deliveries by outcome and the queue."""
        since = (now - timedelta(days=days)).timestamp()
        subscribers = {
            ("active" if row["active"] else "inactive"): row["n"]
            for row in self.db.query(
                "SELECT active, count(*) AS n FROM subscribers GROUP BY active"
            )
        }
        per_day = {
            row["day"]: row["n"]
            for row in self.db.query(
                "SELECT date(fetched_at, 'unixepoch') AS day, count(*) AS n FROM items"
                " WHERE id = story_id AND topics != '[]' AND fetched_at >= ?"
                " GROUP BY day ORDER BY day",
                [since],
            )
        }
        outcomes = {
            row["state"]: row["n"]
            for row in self.db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        }
        oldest = next(
            iter(
                self.db.query(
                    "SELECT min(created_at) AS t FROM outbox WHERE state IN ('pending', 'sending')"
                )
            )
        )["t"]
        watches = next(iter(self.db.query("SELECT count(*) AS n FROM watches")))["n"]
        return {
            "subscribers": subscribers,
            "stories_per_day": per_day,
            "deliveries": outcomes,
            "queue": outcomes.get("pending", 0) + outcomes.get("sending", 0),
            "oldest_queued": None if oldest is None else datetime.fromtimestamp(oldest, UTC),
            "watches": watches,
        }
