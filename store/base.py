"""What every part of the store shares: the database and a one-row query; why a store that
may be read cannot be opened."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database


class StoreBase:
    """The database the per-domain verbs (mixed into `store.db.Store`) work on."""

    db: Database

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        for row in self.db.query(sql, params):
            return row
        return None


def read_only_folder(path: str | Path) -> str | None:
    """Why a store this user may read cannot be opened, if that is its folder: SQLite makes a
    WAL store's -wal and -shm files beside it, even to read it."""
    folder = Path(path).parent
    if str(path) == ":memory:" or not Path(path).is_file() or os.access(folder, os.W_OK):
        return None
    return (
        f"its folder {folder} is read-only to this user, and SQLite writes the store's -wal and"
        " -shm files beside it even to read it: run as the user the daemon runs as, or copy the"
        " store to a folder you may write"
    )
