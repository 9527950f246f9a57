"""Feed verbs: what the store remembers about each feed between polls."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from store.base import StoreBase
from store.records import FeedState, feed_state_of, feed_state_row, ts

# a chat's mutes of feeds the config no longer has are kept this long after the feed left (it
# may come back: a muted feed added again must stay muted), at most this many per chat
ABSENT_MUTES_KEPT = timedelta(days=365)
ABSENT_MUTES_PER_CHAT = 100
# a feed's failing run the admins were told of (its errors_since; NULL: its recovery told)
MARK_TOLD = "UPDATE feeds SET told_since = ? WHERE id = ?"


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

    def mark_told(self, feed_id: str, since: datetime | None) -> None:
        """Record the failing run of the feed the admins were told of (None: its recovery)."""
        self.db.execute(MARK_TOLD, [ts(since), feed_id])

    def save_feed_states(self, states: Sequence[FeedState]) -> None:
        """Save several feeds' states in one transaction."""
        with self.db.atomic():
            for state in states:
                self.save_feed_state(state)

    def forget_feeds(self, configured: Collection[str], *, now: datetime) -> int:
        """Forget the feeds the config (`configured`: its feed ids) no longer has and no stored
        item names (their items are deleted at keys_retention): their state between polls. A
        config that rotates search feeds under new ids (a weekly Google News search) left a row
        of each for ever. The chats' mutes of such feeds are kept ABSENT_MUTES_KEPT after the
        feed left the config, a chat's newest ABSENT_MUTES_PER_CHAT of them. The number of
        feeds forgotten."""
        keep = set(configured)
        with self.db.atomic():
            gone = [
                (feed_id,)
                for (feed_id,) in self.db.execute(
                    "SELECT id FROM feeds WHERE NOT EXISTS"
                    " (SELECT 1 FROM items WHERE items.feed_id = feeds.id)"
                )
                if feed_id not in keep
            ]
            self.db.conn.executemany("DELETE FROM feeds WHERE id = ?", gone)
            muted = [
                feed_id
                for (feed_id,) in self.db.execute("SELECT DISTINCT feed_id FROM muted_sources")
            ]
            self.db.conn.executemany(  # back in the config: no longer absent
                "UPDATE muted_sources SET absent_since = NULL"
                " WHERE feed_id = ? AND absent_since IS NOT NULL",
                [(feed_id,) for feed_id in muted if feed_id in keep],
            )
            self.db.conn.executemany(
                "UPDATE muted_sources SET absent_since = ?"
                " WHERE feed_id = ? AND absent_since IS NULL",
                [(now.timestamp(), feed_id) for feed_id in muted if feed_id not in keep],
            )
            self.db.execute(
                "DELETE FROM muted_sources WHERE absent_since < ?",
                [(now - ABSENT_MUTES_KEPT).timestamp()],
            )
            self.db.execute(
                "DELETE FROM muted_sources WHERE rowid IN (SELECT rowid FROM (SELECT rowid,"
                " ROW_NUMBER() OVER (PARTITION BY chat_id"
                " ORDER BY absent_since DESC, created_at DESC) AS n"
                " FROM muted_sources WHERE absent_since IS NOT NULL) WHERE n > ?)",
                [ABSENT_MUTES_PER_CHAT],
            )
        return len(gone)
