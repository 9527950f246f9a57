"""Feed host names looked up on threads of their own (an aiohttp resolver): lookups that hang
hold these, never the event loop's default threads, which the daemon's own work off the loop
(asyncio.to_thread: digests, watches, reloads, the unrecorded journal) runs on.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from aiohttp.abc import AbstractResolver, ResolveResult

# lookups at once; more wait their turn (and a fetch's connect timeout cancels its own wait).
# Few: aiohttp keeps each name's addresses 5 minutes, so a steady poll looks up little
THREADS = 8
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
_NAME = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
_ADDRCONFIG = socket.AI_ADDRCONFIG & getattr(socket, "AI_MASK", -1)

T = TypeVar("T")


class ThreadResolver(AbstractResolver):
    """socket.getaddrinfo as aiohttp's ThreadedResolver calls it (so names resolve as every
    other program's do: /etc/hosts, nsswitch), on at most `threads` threads of its own, started
    at the first lookup; `close` ends them (a lookup that hangs ends with the system resolver's
    timeout)."""

    def __init__(self, threads: int = THREADS) -> None:
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None

    async def _run(self, call: Callable[[], T]) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="lookup")
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
