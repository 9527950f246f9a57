"""One daemon per store: an exclusive lock on `<store>.lock`, held for the daemon's life.

flock, not a pid file: the kernel releases it when the process dies, however it dies, so a
lock left by a killed daemon is never stale. The file also says which pid holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


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
            else f"{error.strerror}: {error.filename}"
        )
        super().__init__(f"cannot create the lock file {path}: {reason}")


class StoreLock:
    def __init__(self, store_path: Path) -> None:
        self.path = Path(f"{store_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a file where the store's folder should be, a read-only disk
            raise CannotLock(self.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(self.path, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
