"""An httpx transport with a small connection pool per host, for the one shared client.

httpcore's pool looks at every pooled connection on each request and each response close (a
socket poll per idle connection, and a count of idle connections inside that loop): one pool of
32 connections cost about 1.5 ms of CPU per request. A pool per host, as big as the per-host cap,
keeps those scans short. Pools unused for a while are closed, so a host polled hourly does not
hold sockets open in between.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import httpx

Origin = tuple[bytes, bytes, int | None]


class PerHostTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        per_host: int,
        close_idle_after: float,
        keepalive_expiry: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_host = per_host
        # no request lasts longer than the fetcher's total timeout, so a pool unused for longer
        # has nothing in flight and may be closed
        self.close_idle_after = close_idle_after
        self.keepalive_expiry = keepalive_expiry
        self.clock = clock
        self._pools: dict[Origin, httpx.AsyncHTTPTransport] = {}
        self._ssl: ssl.SSLContext | None = None  # one for all pools: each costs ~20 ms to load
        self._last_used: dict[Origin, float] = {}
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        if now - self._last_sweep > self.close_idle_after:
            await self._close_idle(now)
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(origin)
        if pool is None:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(
                verify=self._ssl,
                limits=httpx.Limits(
                    max_connections=self.per_host,
                    max_keepalive_connections=self.per_host,
                    keepalive_expiry=self.keepalive_expiry,
                )
            )
        self._last_used[origin] = now
        return await pool.handle_async_request(request)

    async def _close_idle(self, now: float) -> None:
        self._last_sweep = now
        for origin, used in list(self._last_used.items()):
            if now - used > self.close_idle_after:
                del self._last_used[origin]
                await self._pools.pop(origin).aclose()

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        self._last_used.clear()
        for pool in pools.values():
            await pool.aclose()
