"""One daemon per store: an exclusive lock on `<store>.lock`, held for the daemon's life; and
`<store>.writers.lock`, held shared by the one-shot commands that write the store (`poll
--once`, `prune`) and exclusively by `restore`, which holds both.

flock, not a pid file: the kernel releases it when the process dies, however it dies, so a
lock left by a killed daemon is never stale. The file also says which pid holds it (the
exclusive holder only).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from store.base import make_folder


class AlreadyRunning(Exception):
    def __init__(self, path: Path, pid: str) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"another kurilwatch ({holder}) is running on this store; stop it first (lock: {path})"
        )


class CannotLock(Exception):
    def __init__(self, path: Path, error: OSError) -> None:
        reason = (
            f"{error.filename} is a file, not a folder"
            if isinstance(error, FileExistsError)
            else error.strerror
            if error.filename in (None, str(path))  # the path named once, not twice
            else f"{error.strerror}: {error.filename}"
        )
        super().__init__(
            f"cannot create the lock file {path}: {reason}; is store.path where the store"
            " should be, in a folder this user may write? (deploy/kurilwatch.service lets it"
            " write /var/lib/kurilwatch alone)"
        )


class Restoring(Exception):
    def __init__(self, path: Path, pid: str) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"a kurilwatch restore ({holder}) is replacing this store; run this again when it"
            f" is done (lock: {path})"
        )


class Writing(Exception):
    def __init__(self, path: Path) -> None:
        super().__init__(
            "a kurilwatch poll --once or prune is writing this store; let it finish, then"
            f" restore again (lock: {path})"
        )


class StoreLock:
    """The daemon's (and restore's) lock; with `writers`, the one-shot writers' lock instead,
    shared unless `exclusive`."""

    def __init__(self, store_path: Path, *, writers: bool = False, exclusive: bool = True) -> None:
        self.path = Path(f"{store_path}.writers.lock" if writers else f"{store_path}.lock")
        self._writers, self._exclusive = writers, exclusive
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            make_folder(self.path)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except PermissionError:
                if self._exclusive or not self.path.exists():
                    raise
                # made by another user (a restore run with sudo): a shared flock needs no write
                fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:  # a file where the store's folder should be, a read-only disk
            raise CannotLock(self.path, exc) from None
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if self._exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if not self._writers:
                raise AlreadyRunning(self.path, pid) from None
            raise (Writing(self.path) if self._exclusive else Restoring(self.path, pid)) from None
        if self._exclusive:
            # a note for whoever is refused: on a full disk the lock holds without it, and the
            # store's own writes name the disk
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            if self._exclusive:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
