"""Vectors of titles (and of titles with their leads) kept for story clustering, so that a
restart does not compute them again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from store.base import StoreBase

VECTORS_FOR = timedelta(days=7)  # clustering looks back 72 hours; prune drops older vectors


class VectorVerbs(StoreBase):
    """Store verbs for the title vectors (mixed into `Store`)."""

    def save_title_vectors(self, rows: Sequence[tuple[str, bytes]], *, now: datetime) -> None:
        """Keep (title, vector bytes) pairs, stamped `now`."""
        with self.db.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO title_vectors (title, vector, created_at) VALUES (?, ?, ?)",
                [(title, vector, now.timestamp()) for title, vector in rows],
            )

    def title_vectors(self, since: datetime) -> list[tuple[str, bytes]]:
        """The vectors kept since `since`."""
        return [
            (row[0], row[1])
            for row in self.db.execute(
                "SELECT title, vector FROM title_vectors WHERE created_at >= ?",
                [since.timestamp()],
            )
        ]

    def prune_title_vectors(self, now: datetime) -> int:
        return self.db.execute(
            "DELETE FROM title_vectors WHERE created_at < ?", [(now - VECTORS_FOR).timestamp()]
        ).rowcount
