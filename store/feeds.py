"""Feed verbs: what the store remembers about each feed between polls."""

from __future__ import annotations

from collections.abc import Collection, Sequence

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

    def forget_feeds(self, configured: Collection[str]) -> int:
        """Forget the feeds the config (`configured`: its feed ids) no longer has and no stored
        item names (their items are deleted at keys_retention): their state between polls and
        the chats' mutes of them. A config that rotates search feeds under new ids (a weekly
        Google News search) left a row of each for ever. The number of feeds forgotten."""
        keep = set(configured)

        def unkept(query: str) -> list[tuple[str]]:
            return [(feed_id,) for (feed_id,) in self.db.execute(query) if feed_id not in keep]

        with self.db.atomic():
            gone = unkept(
                "SELECT id FROM feeds WHERE NOT EXISTS"
                " (SELECT 1 FROM items WHERE items.feed_id = feeds.id)"
            )
            self.db.conn.executemany("DELETE FROM feeds WHERE id = ?", gone)
            muted = unkept(  # a configured feed not yet polled has no row, and may be muted
                "SELECT DISTINCT feed_id FROM muted_sources WHERE NOT EXISTS"
                " (SELECT 1 FROM feeds WHERE feeds.id = muted_sources.feed_id)"
            )
            self.db.conn.executemany("DELETE FROM muted_sources WHERE feed_id = ?", muted)
        return len(gone)
