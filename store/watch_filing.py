"""What each stored watch is filed under in the daemon's index of watches, with the version of
the code that chose it, so that a start files them without parsing every query again."""

from __future__ import annotations

from collections.abc import Iterable

from store.base import StoreBase
from store.records import Watch


class WatchFilingVerbs(StoreBase):
    """Store verbs for watches' filing keys (mixed into `Store`); the keys are opaque text."""

    def any_watches(self) -> bool:
        """Whether an active chat has a watch."""
        return bool(
            self.db.execute(
                "SELECT 1 FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
                " WHERE s.active = 1 LIMIT 1"
            ).fetchone()
        )

    def filed_watches(self, version: str) -> list[tuple[Watch, str | None]]:
        """Every active chat's watches in the order they were added, each with what it is filed
        under if that was chosen by `version` (None otherwise: to be filed again)."""
        rows = self.db.execute(
            "SELECT w.id, w.chat_id, w.query, CASE WHEN w.filed_by = ? THEN w.filed_under END"
            " FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
            " WHERE s.active = 1 ORDER BY w.id",
            [version],
        )
        return [(Watch(id_, chat, query), filed) for id_, chat, query, filed in rows]

    def save_watch_filings(self, version: str, filings: Iterable[tuple[int, str]]) -> None:
        """Record what watches (by id) are filed under, as chosen by `version`."""
        with self.db.conn:
            self.db.conn.executemany(
                "UPDATE watches SET filed_under = ?, filed_by = ? WHERE id = ?",
                [(filed, version, watch_id) for watch_id, filed in filings],
            )
