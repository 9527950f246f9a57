"""The store's files: `kurilwatch backup` (a consistent copy, also while the daemon runs) and
`kurilwatch restore` (a backup put in place of the store, through SQLite)."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import sqlite3
import stat
import sys
import threading
from contextlib import suppress
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from bot.cli import EXIT_USAGE
from bot.config import Config
from store.base import FOLDER_NOT_FILE, read_only_folder


def backup(settings: Config, target: Path, out: TextIO = sys.stdout) -> int:
    """A consistent copy of the store, taken while the daemon may be writing (SQLite backup).
    It is written under a hidden name beside `target` and takes `target`'s name only when
    complete: a copy that fails or is interrupted (Ctrl-C, SIGTERM) leaves nothing, so the
    next try may use the same name; one killed leaves its partial copy to the next backup."""
    store = settings.store.path
    try:
        taken = target.exists()
    except OSError as exc:  # a name too long for the file system
        return _backup_fail(f"cannot write {target}: {exc.strerror}")
    if taken:
        return _backup_fail(f"{target} exists; give a new file name")
    if not store.exists():
        return _backup_fail(f"no store at {store}")
    if store.is_dir():
        return _backup_fail(f"store {store}: {FOLDER_NOT_FILE}")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    held = None
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _remove_abandoned(target)
            # no more readable than the store (its chats, watches and the buttons' secret):
            # root's umask made a 0600 store's backup readable by every local user
            mode = stat.S_IMODE(store.stat().st_mode) & 0o666 | 0o600  # its owner writes it
            held = os.open(partial, os.O_RDWR | os.O_CREAT, mode)
            fcntl.flock(held, fcntl.LOCK_EX)  # while this backup lives (see _remove_abandoned)
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
        _remove_partial(partial)
        if held is not None:
            os.close(held)
    print(f"backed up {store} to {target} ({target.stat().st_size} bytes)", file=out)
    return 0


def _remove_partial(partial: Path) -> None:
    for leftover in ("", "-journal", "-wal", "-shm"):
        with suppress(OSError):  # none made: no folder, or a file where it should be
            Path(f"{partial}{leftover}").unlink()


def _remove_abandoned(target: Path) -> None:
    """Remove the partial copies that killed backups left beside `target` (SIGKILL, a power
    cut: nothing ran to remove them), each as large as the store, whatever name they were
    for (nightly backups are named by date): a hidden `.<name>.<pid>.partial` SQLite file
    whose flock can be taken has no backup alive writing it."""
    for partial in target.parent.glob(".*.partial"):
        if not _PARTIAL.fullmatch(partial.name):
            continue
        try:
            fd = os.open(partial, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.pread(fd, len(_SQLITE), 0) in (b"", _SQLITE):  # not another tool's file
                _remove_partial(partial)
        except OSError:  # a backup running
            pass
        finally:
            os.close(fd)


_PARTIAL = re.compile(r"\..+\.[0-9]+\.partial")
_SQLITE = b"SQLite format 3\x00"


def _copy_store(store: Path, copy: sqlite3.Connection) -> None:
    source = sqlite3.connect(f"{_uri(store)}?mode=ro", uri=True, timeout=1.0)
    try:
        # in one step: in steps, each commit of the daemon between two of them starts the
        # copy again, and a busy daemon's never ends; the store's WAL lets the daemon write
        # on while this reads. The callback (after each try while the store is locked) is
        # where a Ctrl-C or SIGTERM stops it: without one, sqlite3 retries for ever unstopped.
        source.backup(copy, progress=_no_progress)
    finally:
        source.close()


def _uri(path: Path) -> str:
    """A `file:` URI of `path`: SQLite would read a '#', '?' or '%' in the name as the URI's."""
    return f"file:{quote(str(path))}"


def _no_progress(status: int, remaining: int, total: int) -> None:
    """Python code run between tries, so that a pending signal is raised."""


class Busy(sqlite3.OperationalError):
    """The store stayed locked by another process past the connection's busy timeout."""


def _give_up_when_busy(status: int, remaining: int, total: int) -> None:
    """Stop a backup into the store once its busy timeout has passed: sqlite3 would try again
    for ever, silently, while another process (an sqlite3 shell) holds a write on it."""
    if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        raise Busy("database is locked")


def _backup_fail(message: str) -> int:
    print(f"kurilwatch backup: {message}", file=sys.stderr)
    return EXIT_USAGE


def restore(settings: Config, source: Path, out: TextIO = sys.stdout) -> int:
    """Put a backup in place of the store, through SQLite rather than as a file: a copied file
    meets the -wal log the store's last run may have left (a crash, a kill), and the next open
    replays that log onto it, damaging it. Refused while a daemon runs on the store; a backup
    that is damaged, not a store, or from a newer kurilwatch changes nothing."""
    store = settings.store.path
    unusable = _unreadable(source) or _unwritable(store)
    if unusable:
        return _restore_fail(f"{unusable}; the store was not changed")
    files = (store, Path(f"{store}.lock"), Path(f"{store}.writers.lock"))
    # the folders a restore on a new machine makes (data/), then the files
    folders = [f for f in reversed(store.absolute().parents) if not f.exists()]
    made = folders + [path for path in files if not path.exists()]
    try:
        return _restore(store, source, out)
    finally:
        # owned as the folder they were made in: the store's, or the one data/ was made in
        _hand_over([path for path in made if path.exists()], store, (folders or [store])[0])


class _StopsHeld:
    """Ctrl-C and SIGTERM noted, not acted on, while a restore replaces the store: a stop
    raised as the copy's last step returned left the store replaced, its kept sends not set
    aside, and "interrupted" said. Until `point_of_no_return` a stop still ends it unchanged."""

    def __enter__(self) -> _StopsHeld:
        self.asked = False
        self._before = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._before[number] = signal.signal(number, self._note)
        return self

    def _note(self, signum: int, frame: object) -> None:
        self.asked = True

    def point_of_no_return(self) -> None:
        if self.asked:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._before.items():
            signal.signal(number, handler)


def _restore(store: Path, source: Path, out: TextIO) -> int:
    with _StopsHeld() as stops:
        code = _restore_held(store, source, out, stops)
    if stops.asked and code == 0:
        print("kurilwatch restore: a stop came while the store was replaced; it was finished",
              file=sys.stderr)  # fmt: skip
    return code


def _restore_held(store: Path, source: Path, out: TextIO, stops: _StopsHeld) -> int:
    from sqlite_utils import Database

    from bot.lock import AlreadyRunning, CannotLock, StoreLock, Writing
    from store.migrations import unknown_migrations

    try:
        # the daemon's lock, then the one-shot writers' (poll --once, prune): none may write
        # while the backup is put in place
        with StoreLock(store), StoreLock(store, writers=True):
            had_shm = Path(f"{source}-shm").exists()
            backup = _open_backup(source)
            try:
                try:
                    problem = _damage(backup)
                    newer = [] if problem else unknown_migrations(Database(backup))
                except sqlite3.OperationalError as exc:  # not a damage: SQLite could not read
                    problem, newer = _unopened(source, exc), []
                except sqlite3.DatabaseError as exc:
                    problem, newer = f"is not a kurilwatch store, or is damaged ({exc})", []
                if newer:
                    problem = f"written by a newer kurilwatch (its schema has {', '.join(newer)})"
                if problem:
                    return _restore_fail(f"{source}: {problem}; the store was not changed")
                stops.point_of_no_return()
                target = sqlite3.connect(store, timeout=10)
                try:  # the old log is read in first, then every page is written over, at once
                    backup.backup(target, progress=_give_up_when_busy)
                    target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except Busy:
                    return _restore_fail(
                        f"cannot restore {store} from {source}: another process is writing it"
                        " (waited 10 s): end it (an sqlite3 shell left in a transaction),"
                        " then restore again; the store was not changed"
                    )
                except sqlite3.OperationalError:
                    raise  # a full disk
                except sqlite3.DatabaseError as exc:
                    return _restore_fail(
                        f"the store {store} is damaged ({exc}): move it and its -wal and -shm"
                        " files aside, then restore again"
                    )
                finally:
                    target.close()
            finally:
                _close_backup(backup, source, had_shm)
    except (AlreadyRunning, CannotLock, Writing) as exc:
        return _restore_fail(f"{exc}; the store was not changed")
    except sqlite3.Error as exc:
        return _restore_fail(f"cannot restore {store} from {source}: {_unwritable(store) or exc}")
    print(f"restored {store} from {source}", file=out)
    # sends kept for the store's rows, not the backup's; `.recording`: a start was recording them
    for kept in (Path(f"{store}.unrecorded"), Path(f"{store}.unrecorded.recording")):
        with suppress(OSError):
            kept.replace(f"{kept}.before-restore")
            print(f"{kept} (sends made before the last stop) set aside as {kept}.before-restore",
                  file=out)  # fmt: skip
    return 0


def _hand_over(made: list[Path], store: Path, first: Path) -> None:
    """Give the files a restore made (the store moved aside: damaged) to the owner of the
    store's folder, the user the daemon runs as (the unit's DynamicUser): made by root (sudo),
    the daemon could not write them. A new store is as readable as the daemon makes one."""
    with suppress(OSError):
        if store in made:
            store.chmod(0o600)
        folder = first.parent.stat()
        if os.geteuid() == 0 and folder.st_uid != 0:
            for path in made:
                os.chown(path, folder.st_uid, folder.st_gid)


def _unreadable(source: Path) -> str | None:
    """Why `source` cannot be read as a backup, if it cannot: missing, a folder, or a file (or
    folder on its path) this user may not read."""
    try:
        mode = source.stat().st_mode
        if stat.S_ISREG(mode):
            with open(source, "rb"):
                pass
    except FileNotFoundError:
        return f"no backup at {source}"
    except OSError as exc:
        return (
            f"cannot read the backup {source}: {exc.strerror}: run as a user who may read it and"
            " its folder, or copy it where this user may"
        )
    if stat.S_ISDIR(mode):
        return f"{source} is a folder, not a backup file"
    return None if stat.S_ISREG(mode) else f"{source} is not a regular file"


def _unwritable(store: Path) -> str | None:
    """Why this user may not write the store, if so: its folder (SQLite makes the -wal and -shm
    files beside it), the store itself, or those files left by another user; or a folder
    where the store should be."""
    if store.is_dir():
        return f"store {store}: {FOLDER_NOT_FILE}"
    folder = store.parent
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"cannot write the store {store}: its folder {folder} is read-only to this user, and"
            " SQLite writes the store's -wal and -shm files beside it: run as the user the daemon"
            " runs as"
        )
    for path in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return (
                f"cannot write the store {store}: Permission denied: {path}: run as the user the"
                " daemon runs as"
            )
    return None


def _unopened(source: Path, error: sqlite3.OperationalError) -> str:
    if not os.access(source.parent, os.W_OK):  # the -wal beside it: see _open_backup
        return (
            f"cannot be read here ({error}): its folder {source.parent} is read-only to this user,"
            " and SQLite writes a -shm file beside a backup's -wal file to read them: copy both"
            " to a folder you may write and restore from there"
        )
    return f"cannot be read ({error})"


def _open_backup(source: Path) -> sqlite3.Connection:
    """The backup, read only. SQLite makes a -wal and a -shm file beside a WAL database even to
    read it (and fails in a folder this user may read but not write: /var/backups), so the
    backup is read as immutable, unless a -wal file beside it holds pages that only a normal
    open reads (`_close_backup` removes the -shm file that makes)."""
    uri = f"{_uri(source)}?mode=ro"
    wal = Path(f"{source}-wal")
    if not (wal.exists() and wal.stat().st_size):
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True)


def _close_backup(backup: sqlite3.Connection, source: Path, had_shm: bool) -> None:
    """Close the backup, and remove the -shm file that reading its -wal made beside it."""
    backup.close()
    if not had_shm:
        with suppress(OSError):
            Path(f"{source}-shm").unlink()


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
