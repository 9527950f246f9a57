"""The per-host transport: one small pool per origin, idle pools closed, over real HTTP."""

from __future__ import annotations

import httpx

from tests.fakes.feed_server import FeedServer, rss
from watchers.transport import PerHostTransport


async def test_one_pool_per_origin_and_idle_pools_closed(feed_server: FeedServer) -> None:
    now = [0.0]
    transport = PerHostTransport(per_host=2, close_idle_after=60, clock=lambda: now[0])
    feed_server.set_feed("/a.xml", rss([]))
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            assert (await client.get(feed_server.url("/a.xml"))).status_code == 200
        other = feed_server.url("/a.xml").replace("127.0.0.1", "localhost")
        assert (await client.get(other)).status_code == 200
        assert len(transport) == 2
        now[0] = 30.0
        assert (await client.get(feed_server.url("/a.xml"))).status_code == 200
        now[0] = 100.0  # localhost unused for 100 s, 127.0.0.1 for 70 s: both closed, then one
        assert (await client.get(other)).status_code == 200
        assert len(transport) == 1
