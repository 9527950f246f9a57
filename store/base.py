"""What every part of the store shares: the database and a one-row query; why a store that
may be read cannot be opened, or is not there to read, or could not be made or written."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlite_utils import Database

# a caller's list as one parameter, `list_param(values)`: one `?` per value passed SQLite's
# limit of host parameters with a long list (999 before 3.32, then 32,766 unless built otherwise)
IN_LIST = "IN (SELECT value FROM json_each(?))"


def list_param(values: Iterable[int | str]) -> str:
    """`values` as the one parameter of `IN_LIST`."""
    return json.dumps(list(values), ensure_ascii=False)


class StoreBase:
    """The database the per-domain verbs (mixed into `store.db.Store`) work on."""

    db: Database

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        for row in self.db.query(sql, params):
            return row
        return None


def make_folder(path: str | Path) -> None:
    """The store's folder, made readable by its user alone if it is not there (one there
    already keeps its mode): the store holds the chats and the buttons' secret. Whoever comes
    first makes it, the store or the lock taken before it (`bot.lock`), under `make run`'s
    umask too; an OSError names the part of the path at fault."""
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


# what a store path naming a folder is told (`store.path: data`, with data/ there)
FOLDER_NOT_FILE = (
    "a folder, not a file; store.path names the store's file, such as data/kurilwatch.db"
)


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


def no_store(path: str | Path) -> str | None:
    """Why a command that only reads the store has nothing to read: opening a path where no
    store is would create an empty one there (a mistyped `store.path`), whose zeros read as a
    verdict."""
    try:
        if str(path) == ":memory:" or Path(path).exists():
            return None
    except OSError:  # a name too long for the file system: opening it will say so
        return None
    blocked = file_in_the_way(path)
    if blocked is not None:
        return (
            f"no store at {path} (store.path), nor can one be made there:"
            f" {blocked} is a file, not a folder"
        )
    return (
        f"no store at {path} (store.path): nothing has been polled into it; check the path,"
        " or let `kurilwatch run` or `kurilwatch poll --once` make it"
    )


def file_in_the_way(path: str | Path) -> Path | None:
    """The file standing where a folder of the store's path should be, if one does."""
    for folder in Path(path).parents:
        if folder.exists():
            return None if folder.is_dir() else folder
    return None


# the kernel's file systems: no file is made in them, not even by root (whom `os.access` tells
# that he may)
KERNEL_FILE_SYSTEMS = frozenset(
    {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "securityfs", "debugfs", "tracefs"}
    | {"pstore", "bpf", "configfs", "efivarfs", "binfmt_misc", "fusectl"}
)
RUN_AS = "; if the daemon runs as another user, run `kurilwatch check` as that user"


def unwritable(path: str | Path) -> str | None:
    """Why this user could not make or write a store at `path`, as far as can be told without
    making anything (`kurilwatch check`): a folder there, a file where a folder should be, the
    store's folder (or, where it is not there yet, the nearest folder there to make it in) not
    writable by this user, or the kernel's; the store's file read-only. A store path that is a
    link is judged where it leads: SQLite makes its journal beside the file the link names."""
    if str(path) == ":memory:":
        return None
    store = Path(os.path.realpath(path))
    try:
        if store.is_dir():
            return FOLDER_NOT_FILE
        if store.exists() and not os.access(store, os.R_OK | os.W_OK):
            return f"the file is read-only to this user{RUN_AS}"
        if (blocked := file_in_the_way(store)) is not None:
            return f"{blocked} is a file, not a folder"
        there = next((f for f in store.parents if f.exists()), None)
        if there is None:
            return None
        if kind := _kernel_file_system(there):
            return f"{there} is the kernel's ({kind}): no file can be made in it"
        if os.statvfs(there).f_flag & os.ST_RDONLY:
            return f"{there} is on a file system mounted read-only"
        if os.access(there, os.W_OK | os.X_OK):
            return None
    except OSError:  # a name too long for the file system: opening it will say so
        return None
    if there == store.parent:
        return f"its folder {there} is not writable by this user{RUN_AS}"
    return (
        f"its folder {store.parent} is not there, and {there} is not writable by this user to"
        f" make it in{RUN_AS}"
    )


def _kernel_file_system(folder: Path) -> str | None:
    """The kernel's file system `folder` is on, if it is one (Linux's mount table tells)."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text()
        real = os.path.realpath(folder)
    except OSError:
        return None
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])  # \040: space
        within = real == point or real.startswith(point.rstrip("/") + "/")
        if within and len(point) >= len(best):  # the deepest; of two there, the last mounted
            best, kind = point, fields[fields.index("-", 6) + 1]
    return kind if kind in KERNEL_FILE_SYSTEMS else None


def store_failure(exc: BaseException, path: str | Path) -> str | None:
    """What to say of an error that is the store's fault, not the caller's: locked or full (it
    passes), or damaged (the operator must restore it); None for any other error (a bug)."""
    # the primary code: a damaged full-text index is SQLITE_CORRUPT_VTAB, an index
    # SQLITE_CORRUPT_INDEX
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return (
            f"{exc}: the store {path} is damaged; stop kurilwatch, move it and its -wal and -shm"
            " files aside, then `kurilwatch restore BACKUP`"
        )
    return str(exc) if isinstance(exc, sqlite3.OperationalError) else None
