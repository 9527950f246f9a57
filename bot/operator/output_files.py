"""Files a command writes (`kurilwatch trend`'s chart and CSV): whole, or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path


def write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` under a hidden name beside it, then give it the name: a command
    stopped half-way (Ctrl-C, a full disk) leaves the file as it was, not cut off. What is not
    a plain file (a FIFO, /dev/stdout), or is in a folder where no other file may be made, is
    written as it is; a file that may not be written is refused as writing it would be.
    Raises OSError."""
    if os.path.abspath(path).startswith(("/dev/", "/proc/")):  # a stream, whatever it leads to
        with path.open("ab") as stream:  # not cut: `--csv /dev/stdout >> counts.csv` appends
            stream.write(data)
        return
    try:
        plain = stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        plain = True
    if not plain:
        path.write_bytes(data)
        return
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    path = Path(os.path.realpath(path))  # a link's file is replaced, not the link
    partial = path.with_name(f".{secrets.token_hex(4)}.partial")  # short: any name fits
    try:
        made = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except PermissionError:  # a folder where no file may be made, but this one written
        path.write_bytes(data)
        return
    try:
        with os.fdopen(made, "wb") as out:
            out.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(partial, stat.S_IMODE(path.stat().st_mode))  # a file replaced keeps its mode
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
