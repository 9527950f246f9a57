"""Feed host names looked up on threads of their own (an aiohttp resolver): lookups that hang
hold these, never the event loop's default threads, which the daemon's own work off the loop
(asyncio.to_thread: digests, watches, reloads, the unrecorded journal) runs on.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from aiohttp.abc import AbstractResolver, ResolveResult

# lookups at once; more wait their turn (and a fetch's connect timeout cancels its own wait).
# Few: aiohttp keeps each name's addresses 5 minutes, so a steady poll looks up little
THREADS = 8
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
_NAME = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
_ADDRCONFIG = socket.AI_ADDRCONFIG & getattr(socket, "AI_MASK", -1)

T = TypeVar("T")


_Job = tuple[Future[Any], Callable[[], Any]]


class _Lookups(Executor):
    """At most `threads` daemon threads, one started for work that finds none idle, as in
    ThreadPoolExecutor, whose threads are joined at the interpreter's exit: a lookup that never
    returns held the process after a stop."""

    def __init__(self, threads: int) -> None:
        self._work: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._most, self._started, self._closed = threads, 0, False
        self._lock = threading.Lock()
        self._idle = threading.Semaphore(0)  # one release per thread waiting for work

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the lookups are closed")
            self._work.put((future, functools.partial(fn, *args, **kwargs)))
            if not self._idle.acquire(blocking=False) and self._started < self._most:
                name = f"lookup-{self._started + 1}"
                try:
                    threading.Thread(target=self._serve, name=name, daemon=True).start()
                except BaseException:  # the system's thread limit: this lookup fails, never runs
                    future.cancel()
                    raise
                self._started += 1
        return future

    def _serve(self) -> None:
        while (job := self._work.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                self._idle.release()
            else:
                try:
                    result = call()
                except BaseException as exc:  # the caller's to raise
                    self._idle.release()
                    future.set_exception(exc)
                    del exc
                else:
                    # idle before the caller hears: its next lookup, submitted at once, takes
                    # this thread rather than starting another
                    self._idle.release()
                    future.set_result(result)
                    del result
            del job, future, call  # a result is the caller's to keep, not this thread's

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Threads end once their lookup returns; none is waited for."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        job = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if job is not None:
                        job[0].cancel()
            for _ in range(self._started):
                self._work.put(None)


class ThreadResolver(AbstractResolver):
    """socket.getaddrinfo as aiohttp's ThreadedResolver calls it (so names resolve as every
    other program's do: /etc/hosts, nsswitch), on at most `threads` threads of its own, started
    as lookups come; `close` ends them (a lookup that hangs ends with the system resolver's
    timeout, or with the process: its thread holds no exit)."""

    def __init__(self, threads: int = THREADS) -> None:
        self._threads = threads
        self._pool: _Lookups | None = None

    async def _run(self, call: Callable[[], T]) -> T:
        if self._pool is None:
            self._pool = _Lookups(self._threads)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        lookup = functools.partial(
            socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, _ADDRCONFIG
        )
        found: list[ResolveResult] = []
        for kind, _, proto, _, address in await self._run(lookup):
            if kind not in (socket.AF_INET, socket.AF_INET6) or len(address) < 2:
                continue
            where, number = str(address[0]), int(address[1])
            if kind == socket.AF_INET6:
                if len(address) < 4:
                    continue  # a Python built without IPv6
                if address[3]:  # a link-local address's scope: its name with it (fe80::1%eth0)
                    named = functools.partial(socket.getnameinfo, address[:4], _NAME)
                    where, service = await self._run(named)
                    number = int(service)
            found.append(
                ResolveResult(
                    hostname=host, host=where, port=number, family=kind, proto=proto, flags=_NUMERIC
                )
            )
        return found

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
