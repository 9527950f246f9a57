"""Files a command writes (`kurilwatch trend`'s chart and CSV): whole, or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` under a hidden name beside it, then give it the name: a command
    stopped half-way (Ctrl-C, a full disk) leaves the file as it was, not cut off. What is not
    a plain file (a FIFO, /dev/stdout), or is in a folder where no other file may be made, is
    written as it is. Raises OSError."""
    try:
        plain = stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        plain = True
    if not plain:
        path.write_bytes(data)
        return
    path = Path(os.path.realpath(path))  # a link's file is replaced, not the link
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        made = partial.open("wb")
    except PermissionError:  # a folder where no file may be made, but this one written
        path.write_bytes(data)
        return
    try:
        with made:
            made.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(partial, stat.S_IMODE(path.stat().st_mode))  # a file replaced keeps its mode
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
