"""A large structure of long-lived objects (an index of many queries) built without the garbage
collector walking it, then kept out of its reach."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def frozen_after() -> Iterator[None]:
    """No garbage collection while a large index is built, and what exists after it frozen
    (`gc.freeze`): hundreds of thousands of long-lived objects that every full collection would
    otherwise walk again (0.4 s per 30,000 queries), and whose building set off collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
