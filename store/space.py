"""The store file's size: its free pages given back to the file system in bounded steps after a
prune (incremental auto-vacuum), and the one-time VACUUM that turns that mode on."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

from sqlite_utils import Database

from store.base import StoreBase

log = logging.getLogger(__name__)

INCREMENTAL = 2  # PRAGMA auto_vacuum: 0 NONE, 1 FULL, 2 INCREMENTAL
GIVE_BACK_STEP = 512  # pages per step (2 MB at 4 KB pages): one short write transaction each
GIVE_BACK_PAUSE = 0.05  # seconds between two steps, for other writers
KEEP_FREE = 1 / 100  # of the used pages stay free: the next day's items reuse them, not grow
MB = 1024 * 1024


def pages_to_free(free_pages: int, page_count: int, *, step: int = GIVE_BACK_STEP) -> int:
    """How many free pages one step gives back: all but a reserve of `KEEP_FREE` of the pages
    in use (a day's new items fill those rather than grow the file again), at most `step`."""
    used = max(page_count - free_pages, 0)
    reserve = int(used * KEEP_FREE)
    return max(0, min(step, free_pages - reserve))


class SpaceVerbs(StoreBase):
    def give_back_free_pages(self, *, step: int = GIVE_BACK_STEP) -> int:
        """One bounded step of giving the free pages (a prune's) back to the file system: at
        most `step` pages, in a write transaction of its own, so a caller that yields between
        steps never holds the write lock for long. Returns the pages freed; 0 once there is
        nothing more to give back (then a passive checkpoint writes the shorter file out)."""
        (free,) = self.db.execute("PRAGMA freelist_count").fetchone()
        (pages,) = self.db.execute("PRAGMA page_count").fetchone()
        count = pages_to_free(free, pages, step=step)
        if count == 0 or self._auto_vacuum() != INCREMENTAL:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return 0
        if self.db.conn.in_transaction:  # executescript would commit it
            raise sqlite3.OperationalError("give_back_free_pages inside a transaction")
        # the pragma frees one page per step of its statement: sqlite3's execute() steps once
        self.db.conn.executescript(f"PRAGMA incremental_vacuum({count})")
        (left,) = self.db.execute("PRAGMA freelist_count").fetchone()
        return max(0, int(free - left))  # another writer may have freed pages meanwhile

    def file_pages(self) -> tuple[int, int, int]:
        """(page_count, freelist_count, page_size) of the store's file."""
        (pages,) = self.db.execute("PRAGMA page_count").fetchone()
        (free,) = self.db.execute("PRAGMA freelist_count").fetchone()
        (size,) = self.db.execute("PRAGMA page_size").fetchone()
        return int(pages), int(free), int(size)

    def gives_back(self) -> bool:
        """Whether the file can give free pages back: its auto-vacuum is INCREMENTAL (m030's
        VACUUM may have been skipped, the disk short of room)."""
        return self._auto_vacuum() == INCREMENTAL

    def switch_to_incremental(self) -> bool:
        """`make_incremental` tried again at the daemon's start (m030's VACUUM skipped or
        failed: the disk may have room now); whether the file now gives free pages back."""
        make_incremental(self.db)
        return self.gives_back()

    def _auto_vacuum(self) -> int:
        (mode,) = self.db.execute("PRAGMA auto_vacuum").fetchone()
        return int(mode)


def make_incremental(db: Database) -> None:
    """Turn an existing store's auto-vacuum to INCREMENTAL: a one-time VACUUM (outside any
    transaction) that rewrites the whole file. Skipped, with a warning and the store unchanged,
    when the disk lacks room for its copies (the rewritten file in SQLite's temporary folder,
    and the whole file again in the WAL); a VACUUM that fails leaves the store as it was."""
    (mode,) = db.execute("PRAGMA auto_vacuum").fetchone()
    if mode == INCREMENTAL:
        return  # a new store (Store sets it before the first table), or converted already
    db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect at the VACUUM
    path = _file_of(db)
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    (free,) = db.execute("PRAGMA freelist_count").fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    before = pages * page_size
    short = short_of_room(path, (pages - free) * page_size) if path else None
    if short:
        log.warning(
            "store: not switched to incremental auto-vacuum (%s); it works as before, but its"
            " file does not shrink after a prune. The daemon tries again at its next start; or"
            " stop kurilwatch and run `sqlite3 %s 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM'`"
            " with that room free",
            short,
            path,
        )
        return
    log.info(
        "store: one-time VACUUM to switch on incremental auto-vacuum: %.1f MB (%.1f MB free"
        " pages); this takes about a minute per GB",
        before / MB,
        free * page_size / MB,
    )
    start = time.monotonic()
    try:
        db.execute("VACUUM")
    except sqlite3.OperationalError as exc:  # full, or locked past the busy timeout: unchanged
        log.warning(
            "store: the VACUUM failed (%s); the store is unchanged, and its file does not"
            " shrink after a prune until the daemon's next start switches it",
            exc,
        )
        return
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's copy of the whole file, given back
    (after,) = db.execute("PRAGMA page_count").fetchone()
    log.info(
        "store: VACUUM done in %.1f s: %.1f MB -> %.1f MB, incremental auto-vacuum on",
        time.monotonic() - start,
        before / MB,
        after * page_size / MB,
    )


def _file_of(db: Database) -> str | None:
    for row in db.execute("PRAGMA database_list").fetchall():
        if row[1] == "main":
            return str(row[2]) or None  # "" for an in-memory database
    return None


def short_of_room(path: str, used: int) -> str | None:
    """What room a VACUUM of `used` bytes lacks: the copy in SQLite's temporary folder, and the
    file written again through the WAL beside the store (both on one disk: twice that)."""
    needs: dict[int, tuple[str, int]] = {}
    for folder in (_temp_folder(), str(Path(path).parent)):
        try:
            device = os.stat(folder).st_dev
        except OSError:
            continue
        place, bytes_needed = needs.get(device, (folder, 0))
        needs[device] = (place, bytes_needed + used + used // 10)  # a tenth for the indexes' churn
    for place, bytes_needed in needs.values():
        free = shutil.disk_usage(place).free
        if free < bytes_needed:
            return f"needs {bytes_needed / MB:.0f} MB free in {place}, has {free / MB:.0f} MB"
    return None


def _temp_folder() -> str:
    """The folder SQLite (unix) writes a VACUUM's temporary copy to: the first usable of these."""
    for folder in (
        os.environ.get("SQLITE_TMPDIR"),
        os.environ.get("TMPDIR"),
        "/var/tmp",
        "/usr/tmp",
        "/tmp",
    ):
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return "."
