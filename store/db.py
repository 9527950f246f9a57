"""The store: one SQLite database (sqlite-utils, WAL) and the domain verbs of every part of it.

A `Store` is used from one thread at a time; the daemon reaches it through `AsyncStore`. Times
cross this boundary as aware datetimes and are kept as UTC epoch seconds (`store.records`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from store import migrations
from store.archive import ArchiveVerbs
from store.base import FOLDER_NOT_FILE, make_folder, read_only_folder
from store.chats import ChatVerbs
from store.controls import ControlVerbs
from store.feeds import FeedVerbs
from store.items import ItemVerbs
from store.notices import NoticeVerbs
from store.outbox import OutboxVerbs
from store.records import title_key
from store.resend import ResendVerbs
from store.search import SearchVerbs
from store.space import SpaceVerbs
from store.stats import StatsVerbs
from store.trends import TrendVerbs
from store.vectors import VectorVerbs
from store.waits import WaitVerbs
from store.watch_filing import WatchFilingVerbs
from store.word_forms import WordFormVerbs

BUSY_TIMEOUT = 10.0  # seconds a write waits for another connection's lock before it fails


class Store(
    ItemVerbs,
    FeedVerbs,
    SearchVerbs,
    OutboxVerbs,
    ResendVerbs,
    ChatVerbs,
    ControlVerbs,
    NoticeVerbs,
    StatsVerbs,
    VectorVerbs,
    ArchiveVerbs,
    TrendVerbs,
    WordFormVerbs,
    WatchFilingVerbs,
    SpaceVerbs,
    WaitVerbs,
):
    """Domain verbs over the kurilwatch database, one part per domain."""

    def __init__(
        self,
        path: str | Path,
        *,
        any_thread: bool = False,
        upgrade: bool = True,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> None:
        """`any_thread`: the store may be used from any thread, one at a time (its caller
        holds a lock around it), as the HTTP listener's threads share one. Without `upgrade`
        (a command that only reads), a schema behind this code's is refused, not migrated.
        `busy_timeout`: seconds a write waits for another process's lock."""
        if str(path) != ":memory:":
            try:
                make_folder(path)
            except OSError as exc:  # as sqlite reports a file it cannot open, naming the part
                reason = (
                    f"{exc.filename} is a file, not a folder"
                    if isinstance(exc, FileExistsError)
                    else f"{exc.strerror}: {exc.filename}"
                )
                raise sqlite3.OperationalError(f"cannot create its folder: {reason}") from None
            if os.path.isdir(path):  # sqlite said "unable to open database file"
                raise sqlite3.OperationalError(FOLDER_NOT_FILE)
            # its own user's alone, as the unit's UMask makes it, under `make run` too
            with contextlib.suppress(OSError):  # one there already, or what sqlite names below
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            conn = sqlite3.connect(
                str(path), timeout=busy_timeout, check_same_thread=not any_thread
            )
        else:
            conn = sqlite3.connect(":memory:", check_same_thread=not any_thread)
        conn.create_function("title_key", 1, title_key, deterministic=True)  # for a prune
        self.db = Database(conn)
        try:
            # before the first table, so a new store has it from its creation (an existing one
            # is switched by a migration's VACUUM: m030_incremental_vacuum); only then, as
            # setting it on a store writes its header, even one that has it already
            if self.db.execute("PRAGMA page_count").fetchone() == (0,):
                self.db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            if str(path) != ":memory:":
                self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")
            # a checkpoint every 40 MB of log rather than 4 MB: pages written again and again (the
            # indexes, the search index) are copied back once, not ten times; about 10% less CPU
            # per stored feed (bench/poll.py)
            self.db.execute("PRAGMA wal_autocheckpoint = 10000")
            self.db.execute("PRAGMA journal_size_limit = 67108864")
            migrations.apply(self.db, upgrade=upgrade)
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.OperationalError) and (why := read_only_folder(path)):
                raise sqlite3.OperationalError(f"{why} ({exc})") from None
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def schema_version(self) -> int:
        return migrations.schema_version(self.db)
