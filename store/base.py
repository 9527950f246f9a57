"""What every part of the store shares: the database and a one-row query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database


class StoreBase:
    """The database the per-domain verbs (mixed into `store.db.Store`) work on."""

    db: Database

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        for row in self.db.query(sql, params):
            return row
        return None
