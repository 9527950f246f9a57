"""The fetcher over real HTTP: kept-alive connections, the caps, proxies from the environment."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from watchers.fetch import USER_AGENT, Fetcher, FetchLimits
from watchers.parse import parse_feed


async def test_connections_are_kept_alive_between_fetches(feed_server: FeedServer) -> None:
    feed_server.set_feed("/a.xml", rss([]))
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(feed_server.url("/a.xml"))
        again = await fetcher.fetch(feed_server.url("/a.xml"), etag=first.headers["etag"])
    assert (first.status, again.status) == (200, 304)
    hits = feed_server.requests("/a.xml")
    assert hits[0].connection == hits[1].connection
    assert hits[0].headers["user-agent"] == USER_AGENT
    assert "br" in hits[0].headers["accept-encoding"]


@pytest.mark.parametrize("location", [None, "feed.xml", "/elsewhere/feed.xml"])
async def test_relative_links_resolve_against_where_a_redirect_led(
    feed_server: FeedServer, location: str | None
) -> None:
    body = rss([FeedEntry("A", "item/1.html"), FeedEntry("B", "item/2.html", guid="b")])
    headers = {"Content-Location": location} if location else {}
    feed_server.set_route("/news/feed.xml", Route(body=body, headers=headers))
    feed_server.set_route("/rss", Route(status=302, redirect_to=feed_server.url("/news/feed.xml")))
    url = feed_server.url("/rss")
    async with Fetcher() as fetcher:
        fetched = await fetcher.fetch(url)
    assert fetched.content is not None
    parsed = parse_feed(fetched.content, feed_id="f", url=url, headers=fetched.headers)
    folder = "/elsewhere/" if location and location.startswith("/") else "/news/"
    assert [i.link for i in parsed.items] == [
        feed_server.url(f"{folder}item/1.html"),
        feed_server.url(f"{folder}item/2.html"),
    ]


async def test_per_host_cap_holds_under_load(feed_server: FeedServer) -> None:
    feed_server.set_route("/slow.xml", Route(body=rss([]), delay=0.2))
    busiest = 0

    async def watch() -> None:
        nonlocal busiest
        while True:
            busiest = max(busiest, feed_server.in_flight("/slow.xml"))
            await asyncio.sleep(0.01)

    async with Fetcher(FetchLimits(per_host=2)) as fetcher:
        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(
            *(fetcher.fetch(feed_server.url("/slow.xml")) for _ in range(6))
        )
        watcher.cancel()
    assert [r.status for r in results] == [200] * 6
    assert busiest == 2
    assert not fetcher._hosts  # no host's cap outlives its fetches (article pages: any host)


async def test_proxies_come_from_the_environment(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.set_feed("/via-proxy.xml", rss([]))
    monkeypatch.setenv("HTTP_PROXY", feed_server.url(""))
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    async with Fetcher(FetchLimits(timeout=2.0, total_timeout=4.0)) as fetcher:
        # the fake server plays the proxy: it is asked for the absolute URL, and answers
        proxied = await fetcher.fetch("http://feeds.invalid/via-proxy.xml")
        direct = await fetcher.fetch("http://direct.invalid/via-proxy.xml")
    assert proxied.status == 200 and proxied.content
    assert direct.error is not None and "direct.invalid" in direct.error
