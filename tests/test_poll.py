"""Polling feeds over real HTTP into a real store: conditional GET, caps, errors as values."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import resource
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store import AsyncStore, Store, StoredItem
from tests.conftest import new_store, short_busy_timeout
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, gzip_bomb, rss
from tests.fakes.google_news import google_token
from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.fetch import USER_AGENT, Fetcher, FetchLimits
from watchers.fingerprint import content_fingerprint, fingerprint_version
from watchers.items import Item, content_key, reissued
from watchers.poll import Poller
from watchers.poll_report import PollReport
from watchers.topics.compile import compile_topics

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOPICS = compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril* OR iturup")})
OLD = FeedEntry("Old Kuril item", "https://n.example/old", guid="old")
NEW = FeedEntry("Iturup airport reopens", "https://n.example/new?utm_source=rss", guid="new")
OTHER = FeedEntry("Paris weather", "https://n.example/weather", guid="weather")


@contextlib.asynccontextmanager
async def polling(path: Path) -> AsyncIterator[Poller]:
    """A poller of TOPICS on the store at `path`, closed with its fetcher after."""
    store = await AsyncStore(new_store(path)).open()
    fetcher = Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0, max_bytes=1_000_000))
    settings = PollConfig(timeout=timedelta(seconds=1), max_bytes=1_000_000)
    try:
        yield Poller(
            store=store, fetcher=fetcher, topics=TOPICS, settings=settings, clock=lambda: T0
        )
    finally:
        await fetcher.aclose()
        await store.close()


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Poller]:
    async with polling(tmp_path / "kw.db") as made:
        yield made


async def subscribe_chat(poller: Poller, chat_id: int = 7) -> None:
    await poller.store.run(Store.upsert_subscriber, chat_id, now=T0 - timedelta(1))
    await poller.store.run(Store.subscribe, chat_id, "kuril", now=T0 - timedelta(1))


def feed(server: FeedServer, path: str, fid: str = "f") -> FeedConfig:
    return FeedConfig(id=fid, url=server.url(path))  # type: ignore[arg-type]


async def two_primed_feeds(poller: Poller, server: FeedServer) -> tuple[FeedConfig, FeedConfig]:
    """A subscribed chat and feeds a and b, each polled once (primed)."""
    await subscribe_chat(poller)
    server.set_feed("/a.xml", rss([OLD]))
    server.set_feed("/b.xml", rss([OTHER]))
    a, b = feed(server, "/a.xml", "a"), feed(server, "/b.xml", "b")
    await poller.poll(a)
    await poller.poll(b)
    return a, b


async def test_first_poll_primes_then_new_items_alert_subscribers(
    poller: Poller, feed_server: FeedServer
) -> None:
    await subscribe_chat(poller)
    feed_server.set_feed("/f.xml", rss([OLD]))
    first = await poller.poll(feed(feed_server, "/f.xml"))
    assert (first.outcome, first.new_items, first.queued) == ("primed", 1, 0)
    feed_server.set_feed("/f.xml", rss([NEW, OTHER, OLD]))
    second = await poller.poll(feed(feed_server, "/f.xml"))
    assert (second.outcome, second.new_items, second.queued) == ("new", 2, 1)
    assert [i.title for i in second.matched] == ["Iturup airport reopens"]
    [due] = await poller.store.run(Store.due_deliveries, T0)
    assert (due.chat_id, due.item.link) == (7, NEW.link)
    assert feed_server.requests("/f.xml")[0].headers["user-agent"] == USER_AGENT


async def test_the_report_and_the_log_count_the_items_that_matched_and_their_stories(
    poller: Poller, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A first poll's report said "1 new, 0 matched" while its log said "1 new items, 1 matched",
    and a report joining a known story counted as "0 matched": "matched" were the new stories
    alerted. Now both say how many items matched a topic, of them how many are new stories and
    how many joined a known one, and that a first poll alerts none."""
    caplog.set_level(logging.INFO, logger="watchers.poll")
    await subscribe_chat(poller)
    a, b = feed(feed_server, "/a.xml", "a"), feed(feed_server, "/b.xml", "b")
    feed_server.set_feed("/a.xml", rss([OLD]))
    feed_server.set_feed("/b.xml", rss([OTHER]))
    primed, other = await poller.poll(a), await poller.poll(b)
    assert (primed.matched, primed.joined, primed.recorded) == ((), (), 1)
    counts = "1 new item, 1 matched a topic (first poll: recorded, not alerted)"
    assert primed.line() == f"a: primed (HTTP 200), 1 entry, {counts}"
    feed_server.set_feed("/a.xml", rss([NEW, OLD]))
    story = await poller.poll(a)
    assert story.counts() == "1 new item, 1 matched a topic (1 new story), 1 alert queued"
    again = FeedEntry("Iturup airport reopens to flights", "https://n.example/new", guid="b1")
    feed_server.set_feed("/b.xml", rss([again, OTHER]))
    joined = await poller.poll(b)
    assert [i.title for i in joined.joined] == [again.title] and joined.matched == ()
    counts = (
        "1 new item, 1 matched a topic (0 new stories, 1 joined a known story), 0 alerts queued"
    )
    assert joined.line() == f"b: new (HTTP 200), 2 entries, {counts}"
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("feed ")]
    assert said == [f"feed {r.feed_id}: {r.counts()}" for r in (primed, other, story, joined)]


def test_console_modes_counts_say_the_alerts_printed() -> None:
    """Console mode (no token) logged "0 alerts queued" beside the alert it had just printed: it
    queues alerts for chats only (a store's chats of an earlier run with a token)."""
    story = StoredItem(
        id=1, feed_id="a", guid="1", link=None, title="t", summary="", published_at=None,
        fetched_at=datetime(2025, 1, 1, tzinfo=UTC), topics=("kuril",), story_id=1,
    )  # fmt: skip
    printed = PollReport("a", "new", 200, new_items=2, matched=(story,))
    said = "2 new items, 1 matched a topic (1 new story), 1 alert printed"
    assert printed.counts(console=True) == said
    assert replace(printed, queued=3).counts(console=True) == f"{said}, 3 queued for chats"
    assert printed.counts() == "2 new items, 1 matched a topic (1 new story), 0 alerts queued"


async def test_etag_is_sent_back_and_304_skips_parsing(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    first, second = feed_server.requests("/f.xml")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"].strip('"') and second.status == 304
    assert report.outcome == "unchanged" and report.http_status == 304


async def test_last_modified_is_sent_back(poller: Poller, feed_server: FeedServer) -> None:
    feed_server.set_route(
        "/f.xml", Route(body=rss([OLD]), etag=False, last_modified=T0 - timedelta(hours=1))
    )
    await poller.poll(feed(feed_server, "/f.xml"))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert feed_server.requests("/f.xml")[1].headers["if-modified-since"].endswith("GMT")
    assert report.http_status == 304


async def test_gzip_is_inflated(poller: Poller, feed_server: FeedServer) -> None:
    feed_server.set_route("/f.xml", Route(body=rss([OLD, NEW]), gzip=True))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert report.new_items == 2
    assert "gzip" in feed_server.requests("/f.xml")[0].headers["accept-encoding"]


async def test_gzip_bomb_is_cut_at_the_size_cap(poller: Poller, feed_server: FeedServer) -> None:
    feed_server.set_route(
        "/bomb.xml",
        Route(raw_encoded_body=gzip_bomb(500_000_000), headers={"Content-Encoding": "gzip"}),
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = await poller.poll(feed(feed_server, "/bomb.xml"))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert report.outcome == "error"
    assert report.error == "response larger than 1000000 bytes"
    assert grown_mb < 100


async def test_slow_feed_times_out_as_an_error_value(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_route("/slow.xml", Route(body=rss([OLD]), delay=30))
    # the 1 s timeout ends the poll: a wait bounded well inside the 30 s delay
    report = await asyncio.wait_for(poller.poll(feed(feed_server, "/slow.xml")), timeout=20)
    assert report.outcome == "error" and "timed out" in (report.error or "")
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.consecutive_errors == 1 and not state.primed


@pytest.mark.parametrize(
    ("route", "error"),
    [
        (Route(status=404, body=b"gone"), "HTTP 404"),
        (
            Route(body=b"<html><body>Welcome</body></html>", content_type="text/html"),
            "not a feed: the server sent an HTML page (Content-Type text/html)",
        ),
        (
            Route(body=rss([OLD] * 50), truncate_at=100),
            "broken response body: Not enough data to satisfy content length header",
        ),
        (Route(status=301, redirect_to="/loop.xml"), "too many redirects"),
        (Route(body=b""), "empty response (HTTP 200)"),
        (Route(body=b"\r\n  \n"), "empty response (HTTP 200)"),
        (Route(status=204, etag=False), "empty response (HTTP 204)"),
    ],
)
async def test_broken_answers_are_recorded_on_the_feed(
    poller: Poller, feed_server: FeedServer, route: Route, error: str
) -> None:
    feed_server.set_route("/loop.xml", route)
    report = await poller.poll(feed(feed_server, "/loop.xml"))
    assert report.outcome == "error"
    assert error in (report.error or "")
    again = await poller.poll(feed(feed_server, "/loop.xml"))
    assert again.outcome == "error"
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.consecutive_errors == 2 and state.last_error == again.error


async def test_a_store_that_fails_is_no_error_of_the_feed(
    poller: Poller, feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store locked (or full) while feeds are polled: no feed backs off for it, it is said
    once, not with a traceback per feed, and the next poll once it works stores everything."""
    await poller.store.run(short_busy_timeout)
    feed_server.set_feed("/a.xml", rss([OLD, NEW]))
    feed_server.set_feed("/b.xml", rss([OTHER]))
    a, b = feed(feed_server, "/a.xml", "a"), feed(feed_server, "/b.xml", "b")
    other = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.INFO, logger="watchers.poll"):
            failed = [await poller.poll(f) for f in (a, b, a)]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(r.outcome == "error" and "store" in (r.error or "") for r in failed)
    assert all(r.next_poll_at == failed[0].next_poll_at for r in failed)  # no backoff
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert not any(r.exc_info for r in caplog.records)
    with caplog.at_level(logging.INFO, logger="watchers.poll"):
        again = await poller.poll(a)
    assert again.outcome == "primed" and again.items == 2
    assert "works again" in caplog.records[-1].getMessage()
    for fid in ("a", "b"):
        state = await poller.store.run(Store.feed_state, fid)
        assert state is None or state.consecutive_errors == 0


async def test_an_empty_answer_is_an_error_that_keeps_the_feed_and_its_items(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    feed_server.set_route("/f.xml", Route(body=b""))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert report.outcome == "error" and report.error == "empty response (HTTP 200): no feed in it"
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.primed and state.consecutive_errors == 1
    feed_server.set_feed("/f.xml", rss([NEW, OLD]))
    again = await poller.poll(feed(feed_server, "/f.xml"))
    assert (again.outcome, again.new_items) == ("new", 1)  # OLD was kept as known


async def test_a_long_retry_after_is_kept_on_the_feed_for_a_restart(
    poller: Poller, feed_server: FeedServer
) -> None:
    from watchers.poll_timing import first_poll_at

    feed_server.set_feed("/f.xml", rss([OLD]))
    assert (await poller.poll(feed(feed_server, "/f.xml"))).outcome == "primed"
    busy = Route(status=429, headers={"Retry-After": str(20 * 3600)})
    feed_server.set_route("/f.xml", busy)
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert report.outcome == "error"
    # a restart reads the state afresh: the backoff alone (max_backoff) would poll it sooner
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.retry_not_before == T0 + timedelta(hours=20)
    settings = PollConfig(max_backoff=timedelta(hours=6))
    first = first_poll_at(state, feed(feed_server, "/f.xml"), settings, T0 + timedelta(hours=1))
    assert first == T0 + timedelta(hours=20)
    feed_server.set_feed("/f.xml", rss([OLD]))
    assert (await poller.poll(feed(feed_server, "/f.xml"))).outcome in ("unchanged", "new")
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.retry_not_before is None  # a good answer forgets it


async def test_redirect_is_followed(poller: Poller, feed_server: FeedServer) -> None:
    feed_server.set_feed("/new.xml", rss([OLD]))
    feed_server.set_route("/old.xml", Route(status=301, redirect_to=feed_server.url("/new.xml")))
    report = await poller.poll(feed(feed_server, "/old.xml"))
    assert report.outcome == "primed" and report.new_items == 1


async def test_a_redirect_into_a_private_network_is_the_feeds_error(
    poller: Poller, feed_server: FeedServer
) -> None:
    from tests.test_fetch import one_loopback_public

    intranet = FeedServer(host="127.0.0.2").start()
    try:
        intranet.set_feed("/latest/meta-data/", rss([NEW]))
        poller.fetcher = Fetcher(FetchLimits(timeout=1.0), classify=one_loopback_public)
        feed_server.set_feed("/f.xml", rss([OLD]))
        assert (await poller.poll(feed(feed_server, "/f.xml"))).outcome == "primed"
        to = intranet.url("/latest/meta-data/")
        feed_server.set_route("/f.xml", Route(status=302, redirect_to=to))
        report = await poller.poll(feed(feed_server, "/f.xml"))
    finally:
        await poller.fetcher.aclose()
        intranet.stop()
    assert report.outcome == "error" and report.next_poll_at is not None
    assert report.error is not None and "refused a redirect to 127.0.0.2" in report.error
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.consecutive_errors == 1 and state.last_error == report.error
    assert state.next_poll_at == report.next_poll_at
    assert intranet.hits("/latest/meta-data/") == 0
    assert await poller.store.run(Store.count_items, "f") == 1


async def test_same_story_on_two_feeds_is_one_story(
    poller: Poller, feed_server: FeedServer
) -> None:
    a, b = await two_primed_feeds(poller, feed_server)
    variant = FeedEntry(NEW.title, "http://www.n.example/new/?utm_medium=feed#top", guid="b-new")
    feed_server.set_feed("/a.xml", rss([NEW, OLD]))
    feed_server.set_feed("/b.xml", rss([variant, OTHER]))
    first, second = await poller.poll(a), await poller.poll(b)
    assert (first.queued, second.queued) == (1, 0)
    assert second.new_items == 1 and second.matched == ()


async def test_brotli_is_inflated(poller: Poller, feed_server: FeedServer) -> None:
    import brotli

    body = rss([OLD, NEW])
    feed_server.set_route(
        "/br.xml", Route(raw_encoded_body=brotli.compress(body), headers={"Content-Encoding": "br"})
    )
    report = await poller.poll(feed(feed_server, "/br.xml"))
    assert report.new_items == 2
    assert "br" in feed_server.requests("/br.xml")[0].headers["accept-encoding"]


async def test_a_brotli_bomb_is_cut_at_the_size_cap(
    poller: Poller, feed_server: FeedServer
) -> None:
    import brotli

    # quality 5: 77 bytes that inflate to 50 MB, as quality 11's 80 do, in 0.06 s of CPU, not 0.6
    bomb = brotli.compress(b"<" * 50_000_000, quality=5)
    feed_server.set_route(
        "/bomb.br", Route(raw_encoded_body=bomb, headers={"Content-Encoding": "br"})
    )
    report = await poller.poll(feed(feed_server, "/bomb.br"))
    assert report.error == "response larger than 1000000 bytes"


async def test_same_body_without_validators_is_not_parsed_again(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_route("/plain.xml", Route(body=rss([OLD]), etag=False))
    first = await poller.poll(feed(feed_server, "/plain.xml"))
    second = await poller.poll(feed(feed_server, "/plain.xml"))
    assert first.outcome == "primed"
    assert (second.outcome, second.http_status) == ("unchanged", 200)


async def test_a_304_to_a_request_without_validators_is_an_error(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A proxy or a broken server that answers 304 to an unconditional GET must not make the
    feed look unchanged for ever: nothing was compared, so it is an error, backed off."""
    feed_server.set_route("/f.xml", Route(status=304, etag=False))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert "if-none-match" not in feed_server.requests("/f.xml")[0].headers
    assert report.outcome == "error" and "304" in (report.error or "")
    state = await poller.store.run(Store.feed_state, "f")
    assert state is not None and state.consecutive_errors == 1 and not state.primed
    assert state.next_poll_at is not None and state.last_error == report.error


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_a_compressed_body_cut_short_is_an_error_and_its_validators_are_not_kept(
    poller: Poller, feed_server: FeedServer, encoding: str
) -> None:
    """A body whose compressed stream ends early (a proxy or server cut it, with a matching
    Content-Length) is not a shorter feed: nothing of it is stored, and its ETag is not sent
    back, so the next poll fetches the whole feed again."""
    import zlib

    import brotli

    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    before = await poller.store.run(Store.feed_state, "f")
    body = rss([NEW, *[replace(OTHER, guid=f"w{n}", link=f"{OTHER.link}/{n}") for n in range(40)]])
    whole = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](body)
    headers = {"Content-Encoding": encoding, "ETag": '"cut"'}
    feed_server.set_route(
        "/f.xml", Route(raw_encoded_body=whole[: len(whole) // 2], headers=headers)
    )
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert report.outcome == "error" and "cut short" in (report.error or "")
    state = await poller.store.run(Store.feed_state, "f")
    assert before is not None and state is not None and state.consecutive_errors == 1
    assert state.etag == before.etag != '"cut"'
    assert await poller.store.run(Store.count_items, "f") == 1
    feed_server.set_route("/f.xml", Route(raw_encoded_body=whole, headers=headers))
    again = await poller.poll(feed(feed_server, "/f.xml"))
    assert feed_server.requests("/f.xml")[-1].headers.get("if-none-match") == before.etag
    assert (again.outcome, again.new_items) == ("new", 41)


async def test_a_gzip_body_of_several_members_is_read_whole(
    poller: Poller, feed_server: FeedServer
) -> None:
    """Gzip allows members one after another (a server that compresses as it streams); the
    items of the later members are not lost."""
    body = rss([NEW, *[replace(OTHER, guid=f"w{n}", link=f"{OTHER.link}/{n}") for n in range(9)]])
    half = len(body) // 2
    members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    headers = {"Content-Encoding": "gzip"}
    feed_server.set_route("/f.xml", Route(raw_encoded_body=members, headers=headers))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert (report.outcome, report.items) == ("primed", 10)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", rss([NEW])),
        ("deflate", rss([NEW])),
        ("br", rss([NEW])),
        ("UTF-8", rss([NEW])),
        ("none", b"\xef\xbb\xbf\n" + rss([NEW])),
        (
            "gzip",
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": ['
            b'{"id": "1", "url": "https://a.example/1", "title": "Kuril news"}]}',
        ),
    ],
)
async def test_a_content_encoding_that_misnames_a_plain_body_still_gives_the_items(
    poller: Poller, feed_server: FeedServer, encoding: str, body: bytes
) -> None:
    """A server that says gzip (or UTF-8) and sends the document as it is: browsers and
    feedparser read it as sent, and so is it read here."""
    headers = {"Content-Encoding": encoding}
    feed_server.set_route("/f.xml", Route(raw_encoded_body=body, headers=headers))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert (report.outcome, report.items, report.error) == ("primed", 1, None)


async def test_an_unknown_content_encoding_of_what_is_no_document_is_named(
    poller: Poller, feed_server: FeedServer
) -> None:
    headers = {"Content-Encoding": "zstd"}
    feed_server.set_route("/f.xml", Route(raw_encoded_body=b"\x28\xb5\x2f\xfd...", headers=headers))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert report.error == "bad response body: unsupported Content-Encoding 'zstd'"


async def test_items_that_share_one_guid_are_each_stored_and_alerted(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A generator that gives every item the site's URL as its guid: each item is its own,
    the one with a new link is alerted, and those seen before are not, under either guid."""
    await subscribe_chat(poller)
    same = "https://n.example/"
    old = [replace(OLD, guid=same), replace(OTHER, guid=same)]
    feed_server.set_feed("/f.xml", rss(old))
    first = await poller.poll(feed(feed_server, "/f.xml"))
    assert (first.outcome, first.new_items) == ("primed", 2)
    feed_server.set_feed("/f.xml", rss([replace(NEW, guid=same), *old]))
    second = await poller.poll(feed(feed_server, "/f.xml"))
    assert (second.outcome, second.new_items, second.queued) == ("new", 1, 1)
    assert [i.title for i in second.matched] == [NEW.title]


async def test_items_that_all_link_to_the_front_page_are_each_stored_and_alerted(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A feed whose every item links to the site's front page (its guid that link too): the
    link is no item's address, so each new item is new, and each item known stays known."""
    await subscribe_chat(poller)
    front = "https://n.example/"
    first_items = [replace(OLD, link=front, guid=None), replace(OTHER, link=front, guid=None)]
    feed_server.set_feed("/f.xml", rss(first_items))
    first = await poller.poll(feed(feed_server, "/f.xml"))
    assert (first.outcome, first.new_items) == ("primed", 2)
    later = [replace(NEW, link=front, guid=None), *first_items]
    feed_server.set_feed("/f.xml", rss(later))
    second = await poller.poll(feed(feed_server, "/f.xml"))
    assert (second.outcome, second.new_items, second.queued) == ("new", 1, 1)
    assert [i.title for i in second.matched] == [NEW.title]
    fourth = replace(NEW, title="Storm cuts power across the Kuril Islands", link=front, guid=None)
    feed_server.set_feed("/f.xml", rss([fourth, *later]))
    third = await poller.poll(feed(feed_server, "/f.xml"))
    assert (third.outcome, third.new_items, third.queued) == ("new", 1, 1)
    assert [i.title for i in third.matched] == [fourth.title]


@pytest.mark.parametrize("guid", ["latest", "https://n.example/"])
async def test_a_one_item_feed_under_one_guid_and_front_page_link_alerts_each_new_item(
    poller: Poller, feed_server: FeedServer, guid: str
) -> None:
    """A "latest news" feed of one item whose guid and link never change: each poll's item
    kept the first one's guid and URL, so it read as that item with its title corrected and
    never alerted. A front page is no item's address; a title under it changed is new."""
    await subscribe_chat(poller)
    front = "https://n.example/"
    feed_server.set_feed("/f.xml", rss([replace(OLD, link=front, guid=guid)]))
    first = await poller.poll(feed(feed_server, "/f.xml"))
    assert (first.outcome, first.new_items) == ("primed", 1)
    feed_server.set_feed("/f.xml", rss([replace(NEW, link=front, guid=guid)]))
    second = await poller.poll(feed(feed_server, "/f.xml"))
    assert (second.outcome, second.new_items, second.queued) == ("new", 1, 1)
    assert [i.title for i in second.matched] == [NEW.title]
    third = await poller.poll(feed(feed_server, "/f.xml"))  # the same item again: known
    assert third.new_items == 0


@pytest.mark.parametrize(
    ("url", "front"),
    [
        ("https://n.example/", True),
        ("https://n.example/index.html", True),
        ("https://n.example/Index.PHP", True),
        ("https://n.example/?p=12", False),  # a blog's permalink
        ("https://n.example/news/index.html", False),  # a section, or an article's folder
        ("https://n.example/2026/kuril", False),
    ],
)
def test_a_front_page_is_a_sites_root_only(url: str, front: bool) -> None:
    from watchers.items import front_page

    assert front_page(url) is front


class RecordingStore(AsyncStore):
    """A real store that records the verbs it was asked to run."""

    verbs: list[str]

    async def run(self, verb: Any, *args: Any, **kwargs: Any) -> Any:
        self.verbs.append(verb.__name__)
        return await super().run(verb, *args, **kwargs)


async def test_unchanged_polls_ending_together_are_saved_in_one_round_trip(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    store = RecordingStore(new_store(tmp_path / "kw.db"))
    store.verbs = []
    await store.open()
    now = [T0]
    settings = PollConfig(timeout=timedelta(seconds=1))
    async with Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0)) as fetcher:
        poller = Poller(
            store=store, fetcher=fetcher, topics=TOPICS, settings=settings, clock=lambda: now[0]
        )
        feeds = [feed(feed_server, f"/{n}.xml", f"f{n}") for n in range(6)]
        for config in feeds:
            feed_server.set_feed(f"/{config.id[1:]}.xml", rss([OLD]))
            await poller.poll(config)
        now[0] = T0 + timedelta(minutes=10)
        store.verbs.clear()
        reports = await asyncio.gather(*(poller.poll(config) for config in feeds))
        assert {r.outcome for r in reports} == {"unchanged"}
        # saved by the time each poll returns, in fewer round trips than polls
        for config in feeds:
            state = await store.run(Store.feed_state, config.id)
            assert state is not None and state.last_success_at == now[0]
        assert "save_feed_state" not in store.verbs
        assert 1 <= store.verbs.count("save_feed_states") < len(feeds)
        # a save that fails fails each poll that waited for it: an error report, never raised
        await store.close()
        now[0] += timedelta(minutes=10)
        failed = await asyncio.gather(*(poller.poll(c) for c in feeds))
        assert all(f.outcome == "error" and "is closed" in (f.error or "") for f in failed)
        await poller.aclose()


async def test_a_feed_whose_etag_is_not_utf8_is_stored_and_polled_without_it(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A Latin-1 server's `ETag: "caf\\xe9"` came as lone surrogates, which SQLite cannot
    bind: the state rolled the ingest back, and none of the feed's items was ever stored."""
    await subscribe_chat(poller)
    feed_server.set_route("/f.xml", Route(body=rss([OLD]), headers={"ETag": '"café"'}))
    first = await poller.poll(feed(feed_server, "/f.xml"))
    assert (first.outcome, first.error) == ("primed", None)
    feed_server.set_route("/f.xml", Route(body=rss([NEW, OLD]), headers={"ETag": '"café"'}))
    second = await poller.poll(feed(feed_server, "/f.xml"))
    assert (second.outcome, second.queued) == ("new", 1)
    assert "if-none-match" not in feed_server.requests("/f.xml")[1].headers


class SpoilingFetcher(Fetcher):
    """A real fetcher that, once told to, gives one URL's answers an ETag SQLite cannot bind."""

    def __init__(self, limits: FetchLimits) -> None:
        super().__init__(limits)
        self.spoiled: str | None = None

    async def fetch(self, url: str, **kwargs: Any) -> Any:
        fetched = await super().fetch(url, **kwargs)
        if url != self.spoiled:
            return fetched
        return replace(fetched, headers={**fetched.headers, "etag": '"caf\udce9"'})


async def test_a_state_the_store_refuses_fails_its_own_poll_not_those_saved_with_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Unchanged polls that end together save their states in one transaction: one state the
    store refused failed it, and every other feed of the batch was recorded as failed too."""
    fetcher = SpoilingFetcher(FetchLimits(timeout=1.0, total_timeout=3.0))
    async with polling(tmp_path / "kw.db") as poller:
        poller.fetcher = fetcher
        try:
            feeds = [feed(feed_server, f"/{n}.xml", f"f{n}") for n in range(3)]
            for config in feeds:
                feed_server.set_feed(f"/{config.id[1:]}.xml", rss([OLD]))
                await poller.poll(config)
            fetcher.spoiled = str(feeds[0].url)
            reports = await asyncio.gather(*(poller.poll(config) for config in feeds))
            assert "UnicodeEncodeError" in (reports[0].error or "")
            assert [(r.outcome, r.error) for r in reports[1:]] == [("unchanged", None)] * 2
            for config in feeds[1:]:
                assert feed_server.requests(f"/{config.id[1:]}.xml")[-1].status == 304
        finally:
            await fetcher.aclose()


LONG = (
    "Russia will station additional coastal defence units on Iturup island next spring, the"
    " district commander told reporters in Yuzhno-Sakhalinsk on Tuesday, adding that new"
    " barracks and a repair depot are being built near the airfield."
)


async def test_a_reissued_item_with_new_guid_link_and_title_is_not_alerted_again(
    poller: Poller, feed_server: FeedServer
) -> None:
    await subscribe_chat(poller)
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    first = FeedEntry(
        "Iturup to get more troops", "https://n.example/a-1", guid="a-1", summary=LONG
    )
    feed_server.set_feed("/f.xml", rss([first, OLD]))
    assert (await poller.poll(feed(feed_server, "/f.xml"))).queued == 1
    edited = FeedEntry(
        "Iturup to get more troops, commander says",
        "https://n.example/a-1-upd",
        guid="a-1-v2",
        summary=LONG,
    )
    feed_server.set_feed("/f.xml", rss([edited, OLD]))
    again = await poller.poll(feed(feed_server, "/f.xml"))
    assert (again.new_items, again.queued, again.matched) == (1, 0, ())


async def test_an_item_past_retention_that_moves_to_another_link_is_not_alerted_again(
    poller: Poller, feed_server: FeedServer
) -> None:
    """An item whose text is pruned (store.retention) kept its guid but not its title, so when
    its feed moved it to another URL under the same guid, it looked like another item given
    that guid (URL and title both differ) and was alerted again as a new story."""
    await subscribe_chat(poller)
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    first = FeedEntry("Iturup to get more troops", "https://n.example/a-1", guid="a-1")
    feed_server.set_feed("/f.xml", rss([first, OLD]))
    assert (await poller.poll(feed(feed_server, "/f.xml"))).queued == 1
    await poller.store.run(lambda s: s.db.execute("UPDATE outbox SET state = 'sent'"))
    later = T0 + timedelta(days=100)
    pruned = await poller.store.run(
        Store.prune, now=later, text_for=timedelta(days=90), keys_for=timedelta(days=365)
    )
    assert pruned == (2, 0)  # compacted: its text is gone, its keys are kept
    poller.clock = lambda: later
    moved = replace(first, link="https://n.example/archive/a-1")
    feed_server.set_feed("/f.xml", rss([moved, OLD]))
    again = await poller.poll(feed(feed_server, "/f.xml"))
    assert (again.new_items, again.queued) == (0, 0)
    # another item given the guid is still new
    other = FeedEntry("Iturup airport reopens", "https://n.example/b-1", guid="a-1")
    feed_server.set_feed("/f.xml", rss([other, OLD]))
    assert (await poller.poll(feed(feed_server, "/f.xml"))).queued == 1


async def test_an_item_moved_to_another_url_weeks_later_is_not_alerted_again(
    poller: Poller, feed_server: FeedServer
) -> None:
    """An item without a guid of its own (its link serves as one) that its feed moved to another
    URL more than a week after it was first seen came with a new guid and URL, and its text was
    matched only a week back: it was alerted again as a new story. Now a feed's own earlier
    items are matched by their text's fingerprint for as long as their keys are kept."""
    await subscribe_chat(poller)
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    first = FeedEntry("Iturup to get more troops", "https://n.example/2026/a-1", summary=LONG)
    feed_server.set_feed("/f.xml", rss([first, OLD]))
    assert (await poller.poll(feed(feed_server, "/f.xml"))).queued == 1
    await poller.store.run(lambda s: s.db.execute("UPDATE outbox SET state = 'sent'"))

    async def moved_after(days: int) -> PollReport:
        later = T0 + timedelta(days=days)
        keep = {"text_for": timedelta(days=90), "keys_for": timedelta(days=365)}
        await poller.store.run(Store.prune, now=later, **keep)
        poller.clock = lambda: later
        moved = replace(first, link=f"https://n.example/archive/{days}/a-1")
        feed_server.set_feed("/f.xml", rss([moved, OLD]))
        return await poller.poll(feed(feed_server, "/f.xml"))

    again = await moved_after(10)  # past the week in which any feed's text is matched
    assert (again.new_items, again.queued, again.matched) == (1, 0, ())
    again = await moved_after(100)  # its text pruned (store.retention), its keys kept
    assert (again.new_items, again.queued, again.matched) == (1, 0, ())


async def test_an_item_keyed_before_normalisation_changed_is_not_alerted_again_when_reissued(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Soft hyphens came to be dropped from words: an item stored before that upgrade had
    another fingerprint than its re-issue after it (new guid, link and title), which was
    alerted as a new story. A start keys the recent items again (once per version)."""
    summary = LONG.replace("Iturup", "Itu\u00adrup").replace("barracks", "bar\u00adracks")
    first = FeedEntry("Iturup to get more troops", "https://n.example/a-1", guid="a-1",
                      summary=summary)  # fmt: skip
    reissued = FeedEntry("Kuril garrison: barracks and depot planned", "https://n.example/b",
                         guid="b", summary=summary)  # fmt: skip
    fetcher = Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0, max_bytes=1_000_000))
    settings = PollConfig(timeout=timedelta(seconds=1), max_bytes=1_000_000)
    for step in ("stored before", "after the upgrade"):
        store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
        poller = Poller(
            store=store, fetcher=fetcher, topics=TOPICS, settings=settings, clock=lambda: T0
        )
        try:
            await poller.load_stories()
            if step == "stored before":
                await subscribe_chat(poller)
                feed_server.set_feed("/f.xml", rss([OLD]))
                await poller.poll(feed(feed_server, "/f.xml"))
                feed_server.set_feed("/f.xml", rss([first, OLD]))
                assert (await poller.poll(feed(feed_server, "/f.xml"))).queued == 1
            else:
                feed_server.set_feed("/f.xml", rss([reissued, OLD]))  # in place of the first
                again = await poller.poll(feed(feed_server, "/f.xml"))
                assert (again.new_items, again.queued) == (1, 0)
        finally:
            await store.close()
        with sqlite3.connect(tmp_path / "kw.db") as db:
            if step == "stored before":  # as the code before keyed it: the soft hyphen split
                db.execute(  # a word in two
                    "UPDATE items SET fingerprint = ? WHERE guid = 'a-1'",
                    [content_fingerprint(summary.replace("\u00ad", " "))],
                )
            db.execute("DELETE FROM code_versions")
        db.close()
    await fetcher.aclose()
    with Store(new_store(tmp_path / "kw.db")) as keys, sqlite3.connect(tmp_path / "kw.db") as other:
        other.execute("BEGIN IMMEDIATE")  # another writer: a start does not wait for it
        assert keys.refingerprint(fingerprint_version(), content_fingerprint, now=T0) is None
        other.rollback()
        # keyed again, the items keep the poll's keys
        assert keys.refingerprint(fingerprint_version(), content_fingerprint, now=T0) == 0
        assert keys.refingerprint("another", lambda _: None, now=T0) == 2  # the mark was kept
    other.close()


async def test_short_summaries_never_merge_different_items(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(feed(feed_server, "/f.xml"))
    a = FeedEntry(
        "Kuril quake", "https://n.example/q1", guid="q1", summary="Read more on our site."
    )
    b = FeedEntry(
        "Kuril ferry", "https://n.example/q2", guid="q2", summary="Read more on our site."
    )
    feed_server.set_feed("/f.xml", rss([a, b, OLD]))
    report = await poller.poll(feed(feed_server, "/f.xml"))
    assert len(report.matched) == 2


async def test_the_same_story_reworded_by_another_outlet_joins_it(
    poller: Poller, feed_server: FeedServer
) -> None:
    a, b = await two_primed_feeds(poller, feed_server)
    tass = FeedEntry(
        "Russia to deploy Bastion missile systems on Iturup",
        "https://tass.example/1",
        guid="t1",
        summary="Russia will deploy Bastion coastal missile systems on Iturup island in the"
        " Kuril chain next year, the Eastern Military District said on Tuesday.",
    )
    kyodo = FeedEntry(
        "Bastion missile systems to be deployed on Iturup, Russia says",
        "https://kyodo.example/9",
        guid="k9",
        summary="The Eastern Military District said on Tuesday that Russia will deploy"
        " Bastion coastal missile systems on Iturup island next year.",
    )
    unrelated = FeedEntry(
        "Iturup airport closed by fog",
        "https://kyodo.example/10",
        guid="k10",
        summary="Flights to Iturup island were cancelled on Tuesday because of dense fog.",
    )
    feed_server.set_feed("/a.xml", rss([tass, OLD]))
    feed_server.set_feed("/b.xml", rss([kyodo, unrelated, OTHER]))
    first, second = await poller.poll(a), await poller.poll(b)
    assert first.queued == 1
    assert second.queued == 1 and [i.title for i in second.matched] == [unrelated.title]


TASS = FeedEntry(
    "Russia to deploy Bastion missile systems on Iturup",
    "https://tass.example/1",
    guid="t1",
    summary="Russia will deploy Bastion coastal missile systems on Iturup island in the Kuril"
    " chain next year, the Eastern Military District said on Tuesday.",
)
KYODO = FeedEntry(
    "Bastion missile systems to be deployed on Iturup, Russia says",
    "https://kyodo.example/9",
    guid="k9",
    summary="The Eastern Military District said on Tuesday that Russia will deploy Bastion"
    " coastal missile systems on Iturup island next year.",
)
FOG = FeedEntry(
    "Iturup airport closed by fog",
    "https://kyodo.example/10",
    guid="k10",
    summary="Flights to Iturup island were cancelled on Tuesday because of dense fog.",
)


async def test_reports_of_one_story_in_one_answer_alert_once(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A search feed (Google News) lists several outlets' reports of one story at once; the
    alert of the first names the others."""
    a, _ = await two_primed_feeds(poller, feed_server)
    tass = replace(TASS, source=("TASS", "https://tass.example"))
    kyodo = replace(KYODO, source=("Kyodo", "https://kyodo.example"))
    feed_server.set_feed("/a.xml", rss([tass, FOG, kyodo, OLD]))
    report = await poller.poll(a)
    assert report.queued == 2 and [i.title for i in report.matched] == [TASS.title, FOG.title]
    [also] = await poller.store.run(
        lambda s: [r["also"] for r in s.db.query("SELECT also FROM outbox WHERE item_id = 3")]
    )
    assert also == '["Kyodo"]'
    stories = await poller.store.run(
        lambda s: {r["guid"]: r["story_id"] for r in s.db.query("SELECT guid, story_id FROM items")}
    )
    assert stories["k9"] == stories["t1"] != stories["k10"]
    assert len(poller.stories) == 4  # the primed OLD and the answer's three, each once


async def test_a_guid_repeated_in_an_answer_carries_no_report_into_another_story(
    poller: Poller, feed_server: FeedServer
) -> None:
    a, _ = await two_primed_feeds(poller, feed_server)
    # a broken feed gives one guid and link to two items of other texts: each is its own item
    # (see distinct_guids), in a story of its own events, and one item given twice is one
    repeated = [
        replace(FOG, guid="dup"),
        replace(TASS, guid="dup", link=FOG.link),
        replace(FOG, guid="dup"),
        KYODO,
        OLD,
    ]
    feed_server.set_feed("/a.xml", rss(repeated))
    report = await poller.poll(a)
    assert [i.title for i in report.matched] == [FOG.title, TASS.title]  # KYODO joins TASS
    stories = await poller.store.run(
        lambda s: {
            r["title"]: r["story_id"] for r in s.db.query("SELECT title, story_id FROM items")
        }
    )
    assert stories[FOG.title] != stories[TASS.title] == stories[KYODO.title]


@pytest.mark.parametrize(
    ("url", "title", "guid"),
    [
        ("https://n.example/b", "B", "latest https://n.example/b"),  # another item
        ("https://n.example/a", "A, corrected", "latest"),  # a corrected title
        ("https://n.example/a2", "A", "latest"),  # the same title at a moved page
        ("https://n.example/a", "A", "latest"),  # the item again
        (None, "B", f"latest {content_key('B', '')}"),  # another item without a link
    ],
)
def test_a_guid_given_another_item_is_keyed_apart(url: str | None, title: str, guid: str) -> None:
    item = Item("f", "latest", url, url, title, "", None)
    stored = {"latest": ("https://n.example/a", "A"), "other": (None, "X")}
    assert [i.guid for i in reissued((item,), stored)] == [guid]
    unknown = replace(item, guid="new")
    assert reissued((unknown,), stored)[0] is unknown


async def test_a_guid_reused_for_each_new_item_alerts_each_new_item(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A one-item "latest" feed that gives every new item the same guid."""
    await subscribe_chat(poller)
    latest = feed(feed_server, "/latest.xml", "latest")
    first = FeedEntry("Kuril ferry timetable", "https://n.example/ferry", guid="latest")
    feed_server.set_feed("/latest.xml", rss([first]))
    assert (await poller.poll(latest)).outcome == "primed"
    second = FeedEntry("Iturup airport reopens", "https://n.example/airport", guid="latest")
    feed_server.set_feed("/latest.xml", rss([second]))
    report = await poller.poll(latest)
    assert (report.outcome, report.new_items, report.queued) == ("new", 1, 1)
    assert [i.title for i in report.matched] == [second.title]
    # a corrected title of the same item (its link kept) is that item, not news
    corrected = replace(second, title="Iturup airport reopens after repairs")
    feed_server.set_feed("/latest.xml", rss([corrected]))
    assert (await poller.poll(latest)).new_items == 0
    # and the item before, given again, is known too
    feed_server.set_feed("/latest.xml", rss([first]))
    assert (await poller.poll(latest)).new_items == 0
    third = FeedEntry(
        "Earthquake of magnitude 6 shakes the Kurils", "https://n.example/quake", guid="latest"
    )
    feed_server.set_feed("/latest.xml", rss([third]))
    assert (await poller.poll(latest)).queued == 1
    assert await poller.store.run(Store.count_items, "latest") == 3
    queued = await poller.store.run(
        lambda s: [r["item_id"] for r in s.db.query("SELECT item_id FROM outbox ORDER BY id")]
    )
    assert queued == [2, 3]


async def test_a_feed_that_changes_its_guids_does_not_alert_its_first_polls_items(
    poller: Poller, feed_server: FeedServer
) -> None:
    await subscribe_chat(poller)
    backlog = [
        FeedEntry(f"Kuril item {n} about Iturup port works", f"https://n.example/{n}", guid=f"a{n}")
        for n in range(5)
    ]
    feed_server.set_feed("/r.xml", rss(backlog))
    rotating = feed(feed_server, "/r.xml", "r")
    assert (await poller.poll(rotating)).outcome == "primed"
    # new guids, and edited titles (items unchanged under new guids are not stored again)
    reissued = [replace(e, guid=f"b{e.guid}", title=f"{e.title}, updated") for e in backlog]
    feed_server.set_feed("/r.xml", rss(reissued))
    again = await poller.poll(rotating)
    assert again.new_items == 5 and again.queued == 0


async def test_one_story_from_two_feeds_polled_at_once_alerts_once(
    poller: Poller, feed_server: FeedServer
) -> None:
    a, b = await two_primed_feeds(poller, feed_server)
    feed_server.set_feed("/a.xml", rss([TASS, OLD]))
    feed_server.set_feed("/b.xml", rss([KYODO, OTHER]))
    first, second = await asyncio.gather(poller.poll(a), poller.poll(b))
    assert first.queued + second.queued == 1


SEIZED = FeedEntry(
    "Russian border guards seize Japanese fishing boat off Iturup",
    "https://kyodo.example/seized",
    summary="Russian border guards detained a Japanese fishing boat and its crew of five off"
    " Iturup island on Tuesday, the FSB said.",
    published=T0 - timedelta(hours=20),
)
RELEASED = FeedEntry(
    "Russia releases Japanese fishing boat seized off Iturup",
    "https://tass.example/released",
    summary="Russian border guards released the Japanese fishing boat and its crew of five"
    " detained off Iturup island, the FSB said on Wednesday.",
    published=T0 - timedelta(hours=2),
)


@pytest.mark.parametrize(
    ("arrival", "second_alerts"), [((SEIZED, RELEASED), True), ((RELEASED, SEIZED), False)]
)
async def test_a_follow_up_alerts_but_an_earlier_stage_arriving_after_it_joins_it(
    poller: Poller,
    feed_server: FeedServer,
    arrival: tuple[FeedEntry, FeedEntry],
    second_alerts: bool,
) -> None:
    # the order subscribers learn of reports, not the feeds' dates: the release alerts after
    # the seizure, but a seizure fetched after the release was alerted is no news
    a, b = await two_primed_feeds(poller, feed_server)
    feed_server.set_feed("/a.xml", rss([arrival[0], OLD]))
    feed_server.set_feed("/b.xml", rss([arrival[1], OTHER]))
    assert (await poller.poll(a)).queued == 1
    poller.clock = lambda: T0 + timedelta(hours=1)
    second = await poller.poll(b)
    assert second.queued == int(second_alerts)
    assert len(second.matched) == int(second_alerts)


async def test_two_stages_of_an_event_in_one_answer_alert_in_the_order_they_happened(
    poller: Poller, feed_server: FeedServer
) -> None:
    a, _ = await two_primed_feeds(poller, feed_server)
    feed_server.set_feed("/a.xml", rss([RELEASED, SEIZED, OLD]))  # newest first, as feeds list
    report = await poller.poll(a)
    assert [i.title for i in report.matched] == [SEIZED.title, RELEASED.title]
    assert report.queued == 2


async def test_the_story_index_is_rebuilt_after_a_restart(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/a.xml", rss([OLD, NEW]))
    await poller.poll(feed(feed_server, "/a.xml"))
    before = len(poller.stories)
    poller.stories = type(poller.stories)()
    await poller.load_stories()
    assert len(poller.stories) == before >= 1


async def test_only_items_that_match_a_topic_are_clustered(
    poller: Poller, feed_server: FeedServer
) -> None:
    weather = FeedEntry(
        "Paris weather for the weekend",
        "https://n.example/w2",
        guid="w2",
        summary="Rain on Saturday in Paris, sun on Sunday, and a cold wind from the north.",
    )
    quake = FeedEntry(
        "Earthquake of magnitude 5.9 off Iturup",
        "https://n.example/q",
        guid="q",
        summary="An earthquake of magnitude 5.9 struck off Iturup in the Kuril Islands today.",
    )
    feed_server.set_feed("/f.xml", rss([weather, quake]))
    await poller.poll(feed(feed_server, "/f.xml"))
    assert len(poller.stories) == 1


ARTICLE_PAGE = """<!doctype html><html><head><title>Motegi: talks go on</title>
<script>var tracker = 1;</script></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<div class="share">Share on Facebook · Share on X</div>
<article><h1>Japan to continue peace treaty talks with Russia</h1>
<p>The Japanese government aims to continue holding talks with Russia on a peace treaty,
Foreign Minister Toshimitsu Motegi said on Friday at a press conference in Tokyo.</p>
<p>"We plan to continue persistent talks based on our main stance, which supposes that a peace
treaty will be signed after the territorial dispute over the Kuril Islands is resolved," he said.</p>
<p>The two countries have never signed a treaty ending the Second World War.</p></article>
<p>Rate it</p><footer>© News agency · Advertising · Contacts</footer>
<img src="/pixel.gif" width="1" height="1"></body></html>"""


async def test_full_text_feeds_summarise_the_article_page(
    poller: Poller, feed_server: FeedServer
) -> None:
    await subscribe_chat(poller)
    config = FeedConfig(id="inforos", url=feed_server.url("/f.xml"), full_text=True)  # type: ignore[arg-type]
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(config)
    feed_server.set_feed("/article", ARTICLE_PAGE.encode(), content_type="text/html; charset=utf-8")
    talks = FeedEntry(
        "Japan to continue peace treaty talks with Russia, Kuril dispute unresolved",
        feed_server.url("/article"),
        guid="talks",
        summary="Read more on our site.",
    )
    gone = FeedEntry(
        "Kuril Islands ferry resumes",
        feed_server.url("/missing"),
        guid="ferry",
        summary="The Kuril Islands ferry Igor Farkhutdinov sails again.",
    )
    feed_server.set_feed("/f.xml", rss([talks, gone, OLD]))
    report = await poller.poll(config)
    by_title = {item.title: item for item in report.matched}
    article = by_title[talks.title]
    assert article.brief.startswith("The Japanese government aims to continue holding talks")
    assert "Motegi" in article.brief and "Share on" not in article.brief
    assert "Kuril" in article.marks
    # a page that cannot be fetched leaves the feed's own text
    assert by_title[gone.title].brief == "The Kuril Islands ferry Igor Farkhutdinov sails again."
    assert feed_server.hits("/article") == 1 and feed_server.hits("/missing") == 1


async def test_a_public_full_text_feeds_article_page_is_not_fetched_from_a_private_network(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """127.0.0.1 stands for the public internet, 127.0.0.2 for a private network."""
    from tests.test_fetch import one_loopback_public

    intranet = FeedServer(host="127.0.0.2").start()
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    fetcher = Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0), classify=one_loopback_public)
    try:
        settings = PollConfig(timeout=timedelta(seconds=1))
        poller = Poller(
            store=store, fetcher=fetcher, topics=TOPICS, settings=settings, clock=lambda: T0
        )
        await subscribe_chat(poller)
        page = ARTICLE_PAGE.encode()
        titles = {
            "pub": "Japan to continue peace treaty talks with Russia, Kuril dispute unresolved",
            "in": "Kuril ferry Igor Farkhutdinov sails again to Iturup after repairs",
        }
        for path in ("/admin/pub", "/admin/in"):
            intranet.set_feed(path, page, content_type="text/html; charset=utf-8")
        public = FeedConfig(id="pub", url=feed_server.url("/f.xml"), full_text=True)  # type: ignore[arg-type]
        inside = FeedConfig(id="in", url=intranet.url("/f.xml"), full_text=True)  # type: ignore[arg-type]
        for config, server in ((public, feed_server), (inside, intranet)):
            server.set_feed("/f.xml", rss([OLD]))
            await poller.poll(config)
            link = intranet.url(f"/admin/{config.id}")
            entry = FeedEntry(titles[config.id], link, guid=config.id, summary="Kuril.")
            server.set_feed("/f.xml", rss([entry, OLD]))
            [item] = (await poller.poll(config)).matched
            assert item.brief.startswith("Kuril" if config is public else "The Japanese government")
        assert (intranet.hits("/admin/pub"), intranet.hits("/admin/in")) == (0, 1)
    finally:
        await fetcher.aclose()
        await store.close()
        intranet.stop()


async def test_a_full_text_feed_with_rotating_guids_fetches_each_article_page_once(
    poller: Poller, feed_server: FeedServer
) -> None:
    """An unchanged item under a new guid is not new: its article page is not fetched again at
    every poll (a feed polled each minute would fetch each of its pages each minute)."""
    await subscribe_chat(poller)
    config = FeedConfig(id="rot", url=feed_server.url("/f.xml"), full_text=True)  # type: ignore[arg-type]
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(config)
    feed_server.set_feed("/article", ARTICLE_PAGE.encode(), content_type="text/html; charset=utf-8")
    talks = FeedEntry(
        "Japan to continue peace treaty talks with Russia, Kuril dispute unresolved",
        feed_server.url("/article"),
        summary="Read more on our site.",
    )
    for poll in range(3):
        feed_server.set_feed("/f.xml", rss([replace(talks, guid=f"talks#{poll}"), OLD]))
        report = await poller.poll(config)
        assert report.new_items == (1 if poll == 0 else 0)
    assert feed_server.hits("/article") == 1


class RecordingFetcher(Fetcher):
    """A real fetcher that remembers every URL it was asked for."""

    def __init__(self, limits: FetchLimits) -> None:
        super().__init__(limits)
        self.asked: list[str] = []

    async def fetch(self, url: str, **kwargs: Any) -> Any:
        self.asked.append(url)
        return await super().fetch(url, **kwargs)


async def test_full_text_of_a_google_news_item_reads_the_article_never_google(
    poller: Poller, feed_server: FeedServer
) -> None:
    fetcher = RecordingFetcher(FetchLimits(timeout=1.0, total_timeout=3.0, max_bytes=1_000_000))
    poller.fetcher = fetcher
    try:
        await subscribe_chat(poller)
        config = FeedConfig(id="gnews", url=feed_server.url("/g.xml"), full_text=True)  # type: ignore[arg-type]
        feed_server.set_feed("/g.xml", rss([OLD]))
        await poller.poll(config)
        feed_server.set_feed(
            "/article", ARTICLE_PAGE.encode(), content_type="text/html; charset=utf-8"
        )
        title = "Japan to continue peace treaty talks with Russia, Kuril dispute unresolved"
        known = FeedEntry(
            f"{title} - TASS",
            f"https://news.google.com/rss/articles/{google_token(feed_server.url('/article'))}?oc=5",
            guid="known",
            summary=f"{title} TASS",
            source=("TASS", "https://tass.com"),
        )
        opaque = FeedEntry(
            "Ferry Igor Farkhutdinov resumes Kuril sailings after storm - Kyodo",
            "https://news.google.com/rss/articles/CBMingFBVV95cUxQbVozdDRxMHY4WGsxYlI5c1l3SmQy?oc=5",
            guid="opaque",
            summary="Ferry Igor Farkhutdinov resumes Kuril sailings after storm Kyodo",
            source=("Kyodo", "https://english.kyodonews.net"),
        )
        feed_server.set_feed("/g.xml", rss([known, opaque, OLD]))
        report = await poller.poll(config)
        by_title = {item.title: item for item in report.matched}
        assert by_title[title].brief.startswith("The Japanese government aims to continue")
        assert (
            by_title["Ferry Igor Farkhutdinov resumes Kuril sailings after storm"].brief == ""
        )  # nothing but the title
        assert feed_server.hits("/article") == 1
        assert not [url for url in fetcher.asked if "news.google.com" in url]
    finally:
        await fetcher.aclose()


async def article_feed(
    poller: Poller, server: FeedServer, fid: str, items: int, hold: threading.Event | None = None
) -> FeedConfig:
    """A primed full_text feed whose next poll gives `items` matched items, each with its own
    article page under /p/<fid>/; `hold` holds every page's answer until it is set."""
    config = FeedConfig(id=fid, url=server.url(f"/{fid}.xml"), full_text=True)  # type: ignore[arg-type]
    server.set_feed(f"/{fid}.xml", rss([OLD]))
    await poller.poll(config)
    entries = []
    for n in range(items):
        page = Route(body=ARTICLE_PAGE.encode(), content_type="text/html; charset=utf-8", hold=hold)
        server.set_route(f"/p/{fid}/{n}", page)
        link = server.url(f"/p/{fid}/{n}")
        entries.append(FeedEntry(f"Kuril Islands report {fid}{n}", link, summary="More on site."))
    server.set_feed(f"/{fid}.xml", rss([*entries, OLD]))
    return config


def full_texts(report: PollReport) -> list[bool]:
    return [
        i.brief.startswith("The Japanese government") for i in (*report.matched, *report.joined)
    ]


async def pages_asked(server: FeedServer, prefix: str, count: int) -> None:
    """Wait until the server has received `count` requests under `prefix`."""

    def enough() -> bool:
        return server.received(prefix) >= count

    await asyncio.to_thread(server.wait_for, enough, 10.0, f"{count} of {prefix}")


@contextlib.asynccontextmanager
async def patient_fetcher(poller: Poller) -> AsyncIterator[None]:
    """Held pages wait out no fetch timeout, and no cap per host counts them."""
    poller.fetcher = fetcher = Fetcher(FetchLimits(timeout=60.0, total_timeout=120.0, per_host=64))
    try:
        yield
    finally:
        await fetcher.aclose()


async def test_a_full_text_feeds_burst_holds_a_bounded_number_of_article_pages(
    poller: Poller, feed_server: FeedServer
) -> None:
    """Every unseen matched item's page was fetched at once, each then waiting for a parse
    worker with its page in hand: a burst of a thousand items (after downtime, or a hostile
    feed) of pages of up to 10 MB held gigabytes. Now the poller holds a few more pages than it
    has parse workers (a feed all of them but one), and every item still gets its page's text."""
    gate = threading.Event()
    async with patient_fetcher(poller):
        config = await article_feed(poller, feed_server, "a", 12, hold=gate)
        share = poller.articles.room - 1
        assert share < 12
        polling = asyncio.create_task(poller.poll(config))
        try:
            await asyncio.to_thread(
                feed_server.wait_for, lambda: feed_server.received("/p/") >= share, 10.0, "pages"
            )
            # every item's turn was handed out long before the first request arrived
            assert poller.articles.held == share
            assert feed_server.received("/p/") == share
        finally:
            gate.set()
        report = await polling
    assert full_texts(report) == [True] * 12
    assert feed_server.most_in_flight("/p/") <= share
    assert [feed_server.hits(f"/p/a/{n}") for n in range(12)] == [1] * 12
    assert poller.articles.held == 0


async def test_full_text_feeds_polled_at_once_share_the_pollers_room_for_pages(
    poller: Poller, feed_server: FeedServer
) -> None:
    """The room is the poller's, not each feed's: many feeds polled at once (a start, or a
    wave of them due together) hold no more pages than one."""
    gate = threading.Event()

    async with patient_fetcher(poller):
        room = poller.articles.room
        a = await article_feed(poller, feed_server, "a", room - 1, hold=gate)
        b = await article_feed(poller, feed_server, "b", 8, hold=gate)
        polls = [asyncio.create_task(poller.poll(a))]
        try:
            await pages_asked(
                feed_server, "/p/a/", room - 1
            )  # a's pages all asked for, none answered
            polls.append(asyncio.create_task(poller.poll(b)))
            # b's items were all handed out at once, before its first request arrived
            await pages_asked(feed_server, "/p/b/", 1)
            assert poller.articles.held == room
            assert feed_server.received("/p/") == room
        finally:
            gate.set()
        reports = await asyncio.gather(*polls)
    assert [full_texts(r) for r in reports] == [[True] * (room - 1), [True] * 8]
    assert feed_server.most_in_flight("/p/") <= room


async def test_a_full_text_feeds_burst_leaves_a_page_to_the_other_feeds(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A feed's burst of pages that answer slowly (up to a minute each) took the whole room:
    every other full_text feed's pages waited behind the burst, for hours at a thousand."""
    gate = threading.Event()

    async with patient_fetcher(poller):
        share = poller.articles.room - 1
        slow = await article_feed(poller, feed_server, "a", 12, hold=gate)
        other = await article_feed(poller, feed_server, "b", 3)
        polling = asyncio.create_task(poller.poll(slow))
        try:
            await pages_asked(feed_server, "/p/a/", share)
            async with asyncio.timeout(10):  # behind the burst, it waited for the gate
                report = await poller.poll(other)
            assert full_texts(report) == [True] * 3
            assert feed_server.received("/p/a/") == share  # the burst kept to its share
        finally:
            gate.set()
        assert full_texts(await polling) == [True] * 12


async def test_a_stop_cuts_a_full_text_poll_waiting_for_pages_and_frees_their_room(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A stop cancels the poll: its fetches in flight and its items waiting for room end at
    once, and the room they took is free for the next poll."""
    gate = threading.Event()
    async with patient_fetcher(poller):
        held = await article_feed(poller, feed_server, "a", 12, hold=gate)
        free = await article_feed(poller, feed_server, "b", 6)
        polling = asyncio.create_task(poller.poll(held))
        share = poller.articles.room - 1
        await asyncio.to_thread(
            feed_server.wait_for, lambda: feed_server.received("/p/") >= share, 10.0, "pages"
        )
        polling.cancel()
        async with asyncio.timeout(10):  # the held pages would wait for ever
            with pytest.raises(asyncio.CancelledError):
                await polling
        assert poller.articles.held == 0
        async with asyncio.timeout(10):
            report = await poller.poll(free)
    assert full_texts(report) == [True] * 6
    assert feed_server.received("/p/") == share + 6


async def test_a_restart_keeps_the_title_vectors_of_the_window(tmp_path: Path) -> None:
    """Vectors computed for a lookup are stored, and a new poller's index starts with them."""
    from watchers.stories import StoryIndex
    from watchers.story_sketch import sketch

    calls: list[list[str]] = []

    def embed(titles: Sequence[str]) -> Any:
        import numpy as np

        calls.append(list(titles))
        return np.ones((len(titles), 4), np.float32) / 2

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    try:
        now = datetime(2026, 11, 26, 12, tzinfo=UTC)
        first = StoryIndex(embed=embed)
        report = sketch("Bastion missiles on Iturup", "Russia deploys Bastion missiles on Iturup.")
        first.add(1, 1, report, now)
        first.find(sketch("Bastion systems deployed on Iturup", "Bastion missiles on Iturup."), now)
        assert calls and first.fresh
        saved = [(t, v.astype("float16").tobytes()) for t, v in first.fresh.items()]
        await store.run(Store.save_title_vectors, saved, now=now)
        poller = Poller(
            store=store,
            fetcher=None,  # type: ignore[arg-type]
            topics=None,  # type: ignore[arg-type]
            settings=None,  # type: ignore[arg-type]
            clock=lambda: now,
            stories=StoryIndex(embed=embed),
        )
        await poller.load_stories()
        assert set(poller.stories.vectors) == {title for title, _ in saved}
        await poller.aclose()
    finally:
        await store.close()


async def test_a_story_that_another_process_stored_is_joined(
    tmp_path: Path, poller: Poller, feed_server: FeedServer
) -> None:
    """`kurilwatch poll --once` while the daemon runs: two pollers, two indexes, one store."""
    a, b = await two_primed_feeds(poller, feed_server)
    await poller.load_stories()
    other = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    try:
        once = Poller(
            store=other,
            fetcher=poller.fetcher,
            topics=TOPICS,
            settings=poller.settings,
            clock=lambda: T0,
        )
        await once.load_stories()
        feed_server.set_feed("/a.xml", rss([TASS, OLD]))
        assert (await once.poll(a)).queued == 1
        await once.aclose()
    finally:
        await other.close()
    poller.clock = lambda: T0 + timedelta(minutes=10)
    feed_server.set_feed("/b.xml", rss([KYODO, OTHER]))
    assert (await poller.poll(b)).queued == 0  # the daemon's own poll joins TASS's story


async def test_a_feed_that_makes_new_guids_at_every_fetch_stores_its_items_once(
    poller: Poller, feed_server: FeedServer
) -> None:
    """Some feeds number their guids per request: the same items, unchanged, must not be
    stored again at every poll for as long as the keys are kept (a year of rows a poll)."""
    await subscribe_chat(poller)
    items = [
        FeedEntry(f"Kuril item {n} about Iturup port works", f"https://n.example/{n}", summary=LONG)
        for n in range(5)
    ]
    rotating = feed(feed_server, "/r.xml", "r")
    for poll in range(4):
        feed_server.set_feed("/r.xml", rss([replace(e, guid=f"{e.link}#{poll}") for e in items]))
        report = await poller.poll(rotating)
        assert report.new_items == (5 if poll == 0 else 0) and report.queued == 0
    assert await poller.store.run(Store.count_items, "r") == 5
    edited = replace(items[0], guid="edited", title="Kuril item 0 about Iturup port works, updated")
    feed_server.set_feed("/r.xml", rss([edited, *items[1:]]))
    assert (await poller.poll(rotating)).new_items == 1  # an edit is a report of its own


async def test_a_feed_pointed_at_another_url_by_the_operator_primes_it_again(
    poller: Poller, feed_server: FeedServer
) -> None:
    """A config edit that gives a feed id another URL (another outlet's feed, or a search
    feed's new query) starts that URL afresh: its backlog is recorded, not alerted."""
    await subscribe_chat(poller)
    feed_server.set_feed("/a.xml", rss([OLD]))
    assert (await poller.poll(feed(feed_server, "/a.xml"))).outcome == "primed"
    backlog = [FeedEntry(f"Kuril archive item {n}", f"https://m.example/{n}") for n in range(5)]
    feed_server.set_feed("/b.xml", rss(backlog))
    moved = await poller.poll(feed(feed_server, "/b.xml"))
    assert (moved.outcome, moved.new_items, moved.queued) == ("primed", 5, 0)
    feed_server.set_feed("/b.xml", rss([NEW, *backlog]))
    then = await poller.poll(feed(feed_server, "/b.xml"))
    assert (then.outcome, then.queued) == ("new", 1)


async def test_a_topic_a_reload_removes_during_a_poll_alerts_none_of_its_chats(
    poller: Poller, feed_server: FeedServer
) -> None:
    """The parse worker matched a poll's items against the topics of its start; a reload that
    removed a topic while the poll went on (here, while it fetched an article page) still
    queued that topic's alerts to its chats. Now an item keeps only the topics the running
    config has when it is stored; a topic that stays alerts as before."""
    from watchers.topics.compile import Topic

    poller.topics = compile_topics(
        {
            "kuril": TopicConfig(title="Kuril", query="kuril*"),
            "gone": TopicConfig(title="Gone", query="ferry"),
        }
    )
    await subscribe_chat(poller, 7)  # kuril
    await poller.store.run(Store.upsert_subscriber, 8, now=T0 - timedelta(1))
    await poller.store.run(Store.subscribe, 8, "gone", now=T0 - timedelta(1))
    config = FeedConfig(id="f", url=feed_server.url("/f.xml"), full_text=True)  # type: ignore[arg-type]
    feed_server.set_feed("/f.xml", rss([OLD]))
    await poller.poll(config)
    # the pages are answered after the fetch's 1 s timeout: the feed's own text stays
    for page in ("/a1", "/a2"):
        feed_server.set_route(page, Route(body=b"<html></html>", delay=30.0))
    both = FeedEntry(
        "Kuril Islands ferry resumes",
        feed_server.url("/a1"),
        guid="both",
        summary="The Igor Farkhutdinov sails to Iturup and Kunashir again after repairs.",
    )
    only = FeedEntry(
        "Night ferry to Sakhalin cancelled",
        feed_server.url("/a2"),
        guid="only",
        summary="A storm in the Tatar Strait keeps the Vanino crossing in port until Monday.",
    )
    feed_server.set_feed("/f.xml", rss([both, only, OLD]))
    polling = asyncio.create_task(poller.poll(config))
    await asyncio.to_thread(
        feed_server.wait_for, lambda: feed_server.in_flight("/a1") > 0, 10.0, "the page"
    )
    # what a reload's recompile does: the running config has no topic "gone" from here on
    poller.topics = compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril*")})
    assert list(poller.topics) == [Topic("kuril", "Kuril")]
    report = await polling
    assert report.new_items == 2
    assert report.queued == 1
    due = await poller.store.run(Store.due_deliveries, T0 + timedelta(1))
    assert [(d.chat_id, d.item.title) for d in due] == [(7, both.title)]
    assert [(i.title, i.topics) for i in report.matched] == [(both.title, ("kuril",))]


def damage_index(path: Path, index: str) -> None:
    """A new store whose `index` reads as garbage (a bad disk sector), its other pages whole."""
    with Store(path) as store:
        (root,) = store.db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", [index]
        ).fetchone()
        (size,) = store.db.execute("PRAGMA page_size").fetchone()
    with open(path, "r+b") as file:  # the store closed: its log is in the file
        file.seek((root - 1) * size)
        file.write(b"\xa5" * size)


async def test_a_damaged_store_is_no_error_of_the_feed(
    feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store damaged under the daemon (a bad sector in an index): each poll failed as an
    internal error of its feed, so every feed logged a traceback and backed off as if it were
    broken, and nothing said what to do; now it is the store's failure, said once with what to
    do, and no feed backs off."""
    path = tmp_path / "kw.db"
    damage_index(path, "idx_items_feed_id_guid")
    feed_server.set_feed("/a.xml", rss([OLD, NEW]))
    feed_server.set_feed("/b.xml", rss([OTHER]))
    a, b = feed(feed_server, "/a.xml", "a"), feed(feed_server, "/b.xml", "b")
    async with polling(path) as poller:
        with caplog.at_level(logging.INFO, logger="watchers.poll"):
            failed = [await poller.poll(f) for f in (a, b, a)]
        states = [await poller.store.run(Store.feed_state, fid) for fid in ("a", "b")]
    assert all(r.outcome == "error" and "store" in (r.error or "") for r in failed), failed
    assert all(r.next_poll_at == failed[0].next_poll_at for r in failed)  # no backoff
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert not any(r.exc_info for r in caplog.records)
    said = caplog.records[0].getMessage()
    assert str(path) in said and "kurilwatch restore" in said, said
    assert all(s is None or s.consecutive_errors == 0 for s in states)


async def test_a_damaged_search_index_is_the_stores_failure_too(
    feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged full-text index raises SQLITE_CORRUPT_VTAB, an extended code of
    SQLITE_CORRUPT, which was not read as damage: each poll failed as its feed's internal
    error, a traceback per feed, the feed backing off; now it is the store's, said once."""
    path = tmp_path / "kw.db"
    with Store(path) as store:  # the index's structure record garbled (a bad disk sector)
        store.db.execute("UPDATE items_fts_data SET block = x'ffffffffff'")
        # as if a thousand items waited to be indexed: the next poll's ingest indexes them
        store.db.execute("UPDATE search_progress SET indexed_to = -1000")
        store.db.conn.commit()
    feed_server.set_feed("/a.xml", rss([OLD, NEW]))
    a = feed(feed_server, "/a.xml", "a")
    async with polling(path) as poller:
        with caplog.at_level(logging.INFO, logger="watchers.poll"):
            failed = [await poller.poll(a) for _ in range(2)]
        state = await poller.store.run(Store.feed_state, "a")
    assert all(r.outcome == "error" and "store" in (r.error or "") for r in failed), failed
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    said = caplog.records[0].getMessage()
    assert "is damaged" in said and "kurilwatch restore" in said, said
    assert state is None or state.consecutive_errors == 0
