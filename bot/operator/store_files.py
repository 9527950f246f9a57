"""The store's files: `kurilwatch backup` (a consistent copy, also while the daemon runs) and
`kurilwatch restore` (a backup put in place of the store, through SQLite)."""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from bot.cli import EXIT_USAGE
from bot.config import Config
from store.base import read_only_folder


def backup(settings: Config, target: Path, out: TextIO = sys.stdout) -> int:
    """A consistent copy of the store, taken while the daemon may be writing (SQLite backup).
    It is written under a hidden name beside `target` and takes `target`'s name only when
    complete: a copy that fails or is interrupted (Ctrl-C, SIGTERM) leaves nothing, so the
    next try may use the same name."""
    store = settings.store.path
    try:
        taken = target.exists()
    except OSError as exc:  # a name too long for the file system
        return _backup_fail(f"cannot write {target}: {exc.strerror}")
    if taken:
        return _backup_fail(f"{target} exists; give a new file name")
    if not store.exists():
        return _backup_fail(f"no store at {store}")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = sqlite3.connect(partial)
        except (OSError, sqlite3.Error) as exc:
            reason = str(exc)
            if isinstance(exc, OSError):  # mkdir's error names the part of the path at fault
                reason = f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc.strerror)
            return _backup_fail(f"cannot write {target}: {reason}")
        try:
            _copy_store(store, copy)
        except sqlite3.Error as exc:
            why = read_only_folder(store) if isinstance(exc, sqlite3.OperationalError) else None
            return _backup_fail(f"cannot copy {store} to {target}: {why or exc}")
        finally:
            copy.close()
        try:
            os.link(partial, target)  # never over a file made meanwhile
        except FileExistsError:
            return _backup_fail(f"{target} exists; give a new file name")
        except OSError:  # a file system without hard links
            os.rename(partial, target)
    finally:
        for leftover in ("", "-journal", "-wal", "-shm"):
            with suppress(OSError):  # none made: no folder, or a file where it should be
                Path(f"{partial}{leftover}").unlink()
    print(f"backed up {store} to {target} ({target.stat().st_size} bytes)", file=out)
    return 0


def _copy_store(store: Path, copy: sqlite3.Connection) -> None:
    source = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1.0)
    try:
        # in one step: in steps, each commit of the daemon between two of them starts the
        # copy again, and a busy daemon's never ends; the store's WAL lets the daemon write
        # on while this reads. The callback (after each try while the store is locked) is
        # where a Ctrl-C or SIGTERM stops it: without one, sqlite3 retries for ever unstopped.
        source.backup(copy, progress=_no_progress)
    finally:
        source.close()


def _no_progress(status: int, remaining: int, total: int) -> None:
    """Python code run between tries, so that a pending signal is raised."""


def _backup_fail(message: str) -> int:
    print(f"kurilwatch backup: {message}", file=sys.stderr)
    return EXIT_USAGE


def restore(settings: Config, source: Path, out: TextIO = sys.stdout) -> int:
    """Put a backup in place of the store, through SQLite rather than as a file: a copied file
    meets the -wal log the store's last run may have left (a crash, a kill), and the next open
    replays that log onto it, damaging it. Refused while a daemon runs on the store; a backup
    that is damaged, not a store, or from a newer kurilwatch changes nothing."""
    from sqlite_utils import Database

    from bot.lock import AlreadyRunning, CannotLock, StoreLock
    from store.migrations import unknown_migrations

    store = settings.store.path
    if not source.is_file():
        return _restore_fail(f"no backup at {source}")
    try:
        with StoreLock(store):
            backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            try:
                try:
                    problem = _damage(backup)
                    newer = [] if problem else unknown_migrations(Database(backup))
                except sqlite3.DatabaseError as exc:
                    problem, newer = f"is not a kurilwatch store, or is damaged ({exc})", []
                if newer:
                    problem = f"written by a newer kurilwatch (its schema has {', '.join(newer)})"
                if problem:
                    return _restore_fail(f"{source}: {problem}; the store was not changed")
                target = sqlite3.connect(store, timeout=10)
                try:  # the old log is read in first, then every page is written over, at once
                    backup.backup(target, progress=_no_progress)
                    target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.OperationalError:
                    raise  # locked for 10 s, a full disk
                except sqlite3.DatabaseError as exc:
                    return _restore_fail(
                        f"the store {store} is damaged ({exc}): move it and its -wal and -shm"
                        " files aside, then restore again"
                    )
                finally:
                    target.close()
            finally:
                backup.close()
    except (AlreadyRunning, CannotLock) as exc:
        return _restore_fail(str(exc))
    except sqlite3.Error as exc:
        return _restore_fail(f"cannot restore {store} from {source}: {exc}")
    print(f"restored {store} from {source}", file=out)
    return 0


def _damage(db: sqlite3.Connection) -> str | None:
    """What is wrong with a backup as a store: damaged, or not one of ours."""
    found = [row[0] for row in db.execute("PRAGMA integrity_check(5)")]
    if found != ["ok"]:
        return f"is damaged ({'; '.join(found)[:300]})"
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'").fetchone():
        return "is not a kurilwatch store"
    return None


def _restore_fail(message: str) -> int:
    print(f"kurilwatch restore: {message}", file=sys.stderr)
    return EXIT_USAGE
