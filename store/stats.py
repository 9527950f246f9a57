"""What the store can tell about itself: the figures of /stats and `kurilwatch stats`, and the
outbox's backlog for /metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from store.base import StoreBase
from store.records import WATCH_PREFIX, OutboxState, dt


@dataclass(frozen=True, slots=True)
class Stats:
    """Subscribers, stories per day, deliveries by outcome and the queue."""

    active: int  # chats
    inactive: int
    watches: int
    stories_per_day: Mapping[str, int]  # "YYYY-MM-DD" (UTC) -> new stories that matched a topic
    deliveries: Mapping[OutboxState, int]  # outbox rows by state
    queue: int  # alerts pending or in flight
    oldest_queued: datetime | None


class StatsVerbs(StoreBase):
    """Store verbs for /stats and /metrics (mixed into `Store`)."""

    def backlog(self) -> tuple[int, datetime | None]:
        """Alerts waiting (pending or in flight) and when the oldest was queued."""
        row = self._one(
            "SELECT count(*) AS n, min(created_at) AS t FROM outbox"
            " WHERE state IN ('pending', 'sending')",
            [],
        )
        assert row is not None
        return row["n"], dt(row["t"])

    def oldest_due(self) -> datetime | None:
        """When the alert waiting longest became due: queued, and its chat's own hold over (a
        digest's time, quiet hours that hold, a mute), which is no fault of delivery."""
        row = self._one(
            "SELECT min(max(o.created_at, coalesce(s.hold_until, 0))) AS t FROM outbox o"
            " LEFT JOIN subscribers s ON s.chat_id = o.chat_id"
            " WHERE o.state IN ('pending', 'sending')",
            [],
        )
        return None if row is None else dt(row["t"])

    def matched_stories(self, since: datetime) -> int:
        """New stories that matched a topic, fetched since `since`."""
        return sum(self._matched_per_day(since.timestamp()).values())

    def _matched_per_day(self, since: float) -> dict[str, int]:
        """The stories begun since `since` (UTC day of their first report) that matched a
        configured topic by any of their reports, as /trend counts them: a later report may
        bring the topic, and a chat's /watch (`@w…`) is no topic."""
        return {
            row["day"]: row["n"]
            for row in self.db.query(
                "SELECT date(s.fetched_at, 'unixepoch') AS day, count(DISTINCT m.story_id) AS n"
                " FROM item_topics m JOIN items s ON s.id = m.story_id"
                " WHERE m.fetched_at >= ? AND s.fetched_at >= ? AND m.topic_id NOT LIKE ?"
                " GROUP BY day ORDER BY day",
                [since, since, WATCH_PREFIX + "%"],
            )
        }

    def stats(self, *, now: datetime, days: int = 7) -> Stats:
        """The figures of the last `days` UTC days, today the last."""
        # from a midnight: a start `days` × 24 h ago listed a first day of its last hours only
        first = now.astimezone(UTC).date() - timedelta(days=days - 1)
        since = datetime.combine(first, time(0), tzinfo=UTC).timestamp()
        subscribers = {
            bool(row["active"]): row["n"]
            for row in self.db.query(
                "SELECT active, count(*) AS n FROM subscribers GROUP BY active"
            )
        }
        per_day = self._matched_per_day(since)
        outcomes = {
            OutboxState(row["state"]): row["n"]
            for row in self.db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        }
        watches = self._one("SELECT count(*) AS n FROM watches", [])
        queue, oldest = self.backlog()
        return Stats(
            active=subscribers.get(True, 0),
            inactive=subscribers.get(False, 0),
            watches=0 if watches is None else int(watches["n"]),
            stories_per_day=per_day,
            deliveries=outcomes,
            queue=queue,
            oldest_queued=oldest,
        )
