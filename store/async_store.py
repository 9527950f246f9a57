"""Runs store calls in turn on one thread of its own, so that SQLite never blocks the event
loop; a close waits for the calls before it a bounded time, and a call that never answers (the
store locked by another process, its disk hung) holds no exit."""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from store.db import BUSY_TIMEOUT, Store

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class StoreClosed(RuntimeError):
    """A call made once the store's close has begun."""


class _Calls:
    """What the store's thread shares with its owner (not the owner itself, so that an owner
    never closed is collected, and its thread then ends): the calls to run, the one under way."""

    def __init__(self) -> None:
        self.work: queue.SimpleQueue[tuple[Future[Any], str, Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self.doing: str | None = None

    def serve(self) -> None:
        while (call := self.work.get()) is not None:
            future, name, work = call
            if future.set_running_or_notify_cancel():  # else cancelled before it began
                self.doing = name
                try:
                    future.set_result(work())
                except BaseException as exc:  # the caller's to raise
                    future.set_exception(exc)
                self.doing = None
            del call, future, work  # a result is the caller's to keep, not this thread's


class AsyncStore:
    """Owns a `Store` living on its own thread; `await run(Store.verb, ...)` calls a verb there.

    The thread is a daemon thread, not ThreadPoolExecutor's: those are joined at the
    interpreter's exit, and a call waiting out another process's lock (the busy timeout) kept
    the process past its stop, as `watchers.lookups` found for DNS lookups."""

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._calls = _Calls()
        self._thread: threading.Thread | None = None
        self._store: Store | None = None
        self._closing = False

    @property
    def path(self) -> str | Path:
        return self._path

    @property
    def doing(self) -> str | None:
        """The name of the call the store's thread runs now (None: it waits for one)."""
        return self._calls.doing

    async def open(self) -> AsyncStore:
        self._store = await self._submit(Store, self._path, busy_timeout=self._busy_timeout)
        return self

    async def run(
        self, verb: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if self._store is None and not self._closing:  # closing: `_submit` refuses it
            raise RuntimeError("store is not open")
        return await self._submit(verb, self._store, *args, **kwargs)

    async def close(self, within: float | None = None) -> None:
        """Close the store once the calls made before have run, refusing those made after;
        `within` seconds at most (None: however long they take). Past them the store is left
        as it is, said at error level: SQLite keeps what was committed, and the calls still
        run if it answers before the process ends."""
        if self._closing:
            return
        self._closing = True
        store, self._store = self._store, None
        if self._thread is None:
            return
        closed: Future[None] = Future()
        self._calls.work.put((closed, "close", store.close if store else lambda: None))
        self._calls.work.put(None)  # then the thread ends
        await asyncio.wait({asyncio.wrap_future(closed)}, timeout=within)
        if closed.done():
            closed.result()
            return
        log.error(
            "%s: the store did not answer within %g s (locked by another process, or its disk"
            " hangs; its call under way: %s); stopping without closing it: SQLite keeps what"
            " was committed",
            self._path,
            within,
            self._calls.doing or "none",
        )

    async def _submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closing:
            raise StoreClosed(f"the store {self._path} is closed")
        future: Future[T] = Future()
        name = getattr(fn, "__name__", "a call")
        self._calls.work.put((future, name, functools.partial(fn, *args, **kwargs)))
        if self._thread is None:
            thread = threading.Thread(target=self._calls.serve, name="store", daemon=True)
            try:
                thread.start()
            except BaseException:  # the system's thread limit: this call fails, never runs
                future.cancel()
                raise
            self._thread = thread
            weakref.finalize(self, self._calls.work.put, None)  # never closed: its thread ends
        return await asyncio.wrap_future(future)
