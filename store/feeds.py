"""Feed verbs: what the store remembers about each feed between polls."""

from __future__ import annotations

from collections.abc import Sequence

from store.base import StoreBase
from store.records import FeedState, feed_state_of, feed_state_row


class FeedVerbs(StoreBase):
    """Store verbs for feed states (mixed into `Store`)."""

    def feed_state(self, feed_id: str) -> FeedState | None:
        row = self._one("SELECT * FROM feeds WHERE id = ?", [feed_id])
        return None if row is None else feed_state_of(row)

    def feed_states(self) -> list[FeedState]:
        return [feed_state_of(row) for row in self.db.query("SELECT * FROM feeds ORDER BY id")]

    def save_feed_state(self, state: FeedState) -> None:
        row = feed_state_row(state)
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
