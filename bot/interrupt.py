"""Ctrl-C and SIGTERM for the commands that run an event loop: a clean stop, no traceback.

A terminal sends SIGINT to the whole foreground process group; the parse workers ignore it
(watchers/pool.py) and the command that owns them stops them on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

EXIT_INTERRUPTED = 130  # a one-shot command cut short, as shells report a Ctrl-C'd command
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals(stop: Callable[[], object]) -> None:
    """Call `stop` on SIGINT or SIGTERM, from the running event loop."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop)


async def cancel_on_signals(work: Coroutine[Any, Any, int]) -> int:
    """Run a one-shot command; SIGINT or SIGTERM cancels it (its `finally` blocks close what
    it opened) and the exit status is EXIT_INTERRUPTED. A second signal changes nothing."""
    task = asyncio.ensure_future(work)
    interrupted = False

    def stop() -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            task.cancel()

    stop_on_signals(stop)
    try:
        return await task
    except asyncio.CancelledError:
        if interrupted:
            return EXIT_INTERRUPTED
        raise


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, less if `stop` is set meanwhile; whether it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


class Stopped(Exception):
    """A stop came before the work `before_stop` awaited ended."""


async def before_stop(stop: asyncio.Event, work: Awaitable[T]) -> T:
    """`work`'s result, unless `stop` is set first: then `work` is cancelled and `Stopped`
    raised (a store call under way goes on on the store's thread: the store's close bounds
    the wait for it)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():  # the stop, or this call cancelled
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled() and stop.is_set():
        raise Stopped
    return task.result()
