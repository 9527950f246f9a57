"""Runs store calls on one dedicated thread so that SQLite never blocks the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from store.db import Store

P = ParamSpec("P")
T = TypeVar("T")


class AsyncStore:
    """Owns a `Store` living on its own thread; `await run(Store.verb, ...)` calls a verb there."""

    def __init__(self, path: str | Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._store: Store | None = None

    @property
    def path(self) -> str | Path:
        return self._path

    async def open(self) -> AsyncStore:
        self._store = await self._submit(Store, self._path)
        return self

    async def run(
        self, verb: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if self._store is None:
            raise RuntimeError("store is not open")
        return await self._submit(verb, self._store, *args, **kwargs)

    async def close(self) -> None:
        if self._store is not None:
            await self._submit(self._store.close)
            self._store = None
        self._executor.shutdown(wait=True)

    async def _submit(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
