"""Ctrl-C and SIGTERM for the commands that run an event loop: a clean stop, no traceback;
and for those that do not, a store's opening they can be stopped in (`open_store`).

A terminal sends SIGINT to the whole foreground process group; the parse workers ignore it
(watchers/pool.py) and the command that owns them stops them on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from store import Store

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


def open_store(path: str | Path, *, upgrade: bool = True) -> Store:
    """`Store(path)` for a one-shot command with no event loop, opened on a thread of its own
    while this one waits: a Ctrl-C or SIGTERM (KeyboardInterrupt, `bot.cli`) ends the wait at
    once. Python hears a signal between the main thread's bytecodes, and SQLite's wait for a
    store another process holds (its busy timeout, 10 s) or on a disk that hangs is one call.
    A store opened after the wait was given up is closed on that thread; a migration the exit
    cuts short is rolled back by SQLite (nothing is half-written)."""
    from store import Store

    opened: Future[Store] = Future()

    def opening() -> None:
        if opened.set_running_or_notify_cancel():
            try:
                opened.set_result(Store(path, upgrade=upgrade, any_thread=True))
            except BaseException as exc:  # the caller's to raise
                opened.set_exception(exc)

    threading.Thread(target=opening, name="store opening", daemon=True).start()
    try:
        return opened.result()
    except BaseException:
        if not opened.cancel():  # under way: closed once open (at once, if it is)
            opened.add_done_callback(_close_opened)
        raise


def _close_opened(opened: Future[Store]) -> None:
    if not opened.cancelled() and opened.exception() is None:
        opened.result().close()
