"""Hostile servers: every fault ends as a recorded error on its feed, with a sane next poll,
memory stays bounded, and the other feeds keep their schedule."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from store import AsyncStore, FeedState, Store
from tests.conftest import Clock, new_store
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, gzip_bomb, rss
from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.feed_jobs import FeedScheduler
from watchers.fetch import Fetcher, FetchLimits
from watchers.job_runs import scheduler_with_runs
from watchers.poll import Poller
from watchers.topics.compile import compile_topics

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOPICS = compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril*")})
ITEM = FeedEntry("Kuril news", "https://n.example/1", guid="1")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def poller(tmp_path: Path, clock: Clock) -> AsyncIterator[Poller]:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    fetcher = Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0, max_bytes=1_000_000))
    settings = PollConfig(
        interval=timedelta(minutes=5),
        max_backoff=timedelta(hours=6),
        gone_after=timedelta(days=2),
    )
    yield Poller(store=store, fetcher=fetcher, topics=TOPICS, settings=settings, clock=clock)
    await fetcher.aclose()
    await store.close()


def feed(url: str, fid: str = "f", **extra: object) -> FeedConfig:
    return FeedConfig.model_validate({"id": fid, "url": url, **extra})


async def state(poller: Poller, fid: str = "f") -> FeedState:
    found = await poller.store.run(Store.feed_state, fid)
    assert found is not None
    return found


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A port whose accept queue is full: connecting to it times out, on loopback."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, server]:
        sock.close()


ERRORS = [
    ("500", lambda s: s.set_route("/f", Route(status=500, body=b"oops")), "HTTP 500"),
    ("read timeout", lambda s: s.set_route("/f", Route(body=rss([ITEM]), delay=30)), "timed out"),
    (
        # a chunk every 0.5 s: each read comes within the 1 s read timeout, so only the total
        # timeout can end it (at 1.0 s apart the two raced)
        "2 KiB/s drip",
        lambda s: s.set_route("/f", Route(body=rss([ITEM] * 200), trickle=0.5)),
        "timed out after 3s in all",
    ),
    (
        "body over the cap",
        lambda s: s.set_route("/f", Route(body=b"<rss>" + b" " * 2_000_000 + b"</rss>")),
        "response larger than 1000000 bytes",
    ),
    (
        "gzip bomb",
        lambda s: s.set_route(
            "/f",
            Route(raw_encoded_body=gzip_bomb(300_000_000), headers={"Content-Encoding": "gzip"}),
        ),
        "response larger than 1000000 bytes",
    ),
    (
        "redirect loop",
        lambda s: s.set_route("/f", Route(status=302, redirect_to="/f")),
        "too many redirects",
    ),
    (
        "HTML instead of a feed",
        lambda s: s.set_route(
            "/f", Route(body=b"<html><body>Hi</body></html>", content_type="text/html")
        ),
        "not a feed",
    ),
]


@pytest.mark.parametrize(("name", "setup", "error"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_faults_are_recorded_and_back_off(
    poller: Poller,
    feed_server: FeedServer,
    clock: Clock,
    name: str,
    setup,
    error: str,  # type: ignore[no-untyped-def]
) -> None:
    setup(feed_server)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = await poller.poll(feed(feed_server.url("/f")))
    assert first.outcome == "error" and error in (first.error or ""), first
    second = await poller.poll(feed(feed_server.url("/f")))
    saved = await state(poller)
    assert saved.consecutive_errors == 2 and saved.last_error == second.error
    # doubling from the 5 minute interval, with jitter
    assert timedelta(minutes=8) <= saved.next_poll_at - clock.now <= timedelta(minutes=12)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


async def test_connection_refused_and_connect_timeout(
    poller: Poller, unaccepting_port: int
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    refused = await poller.poll(feed(f"http://127.0.0.1:{closed_port}/f", "refused"))
    assert refused.outcome == "error"
    assert refused.error == f"could not connect to 127.0.0.1:{closed_port}: connection refused"
    hanging = await poller.poll(feed(f"http://127.0.0.1:{unaccepting_port}/f", "hanging"))
    assert hanging.outcome == "error" and hanging.error == "timed out (connecting)"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            rss([ITEM]).replace(b"Kuril news", b"Kuril \xff\xfe news"),
            "application/rss+xml; charset=utf-8",
        ),
        (
            rss([FeedEntry("Курилы", "https://n.example/ru", guid="ru")]),
            "text/xml; charset=windows-1251",
        ),
    ],
    ids=["invalid UTF-8", "charset header contradicts the XML"],
)
async def test_encoding_trouble_still_yields_the_items(
    poller: Poller, feed_server: FeedServer, body: bytes, content_type: str
) -> None:
    feed_server.set_feed("/f", body, content_type=content_type)
    report = await poller.poll(feed(feed_server.url("/f")))
    assert report.outcome == "primed" and report.new_items == 1


async def test_retry_after_is_honoured(
    poller: Poller, feed_server: FeedServer, clock: Clock
) -> None:
    feed_server.set_route("/f", Route(status=429, headers={"Retry-After": "7200"}))
    report = await poller.poll(feed(feed_server.url("/f")))
    assert report.outcome == "error" and report.http_status == 429
    assert report.next_poll_at is not None and report.next_poll_at - clock.now >= timedelta(hours=2)


async def test_gone_disables_and_a_forced_poll_re_enables(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_route("/f", Route(status=410))
    report = await poller.poll(feed(feed_server.url("/f")))
    assert report.outcome == "disabled" and "410" in (report.error or "")
    assert report.next_poll_at is None  # disabled by this poll: the daemon tells the admins
    hits = feed_server.hits("/f")
    skipped = await poller.poll(feed(feed_server.url("/f")))
    assert skipped.outcome == "disabled" and feed_server.hits("/f") == hits
    # looked at again, unfetched: another process may have revived it
    assert skipped.next_poll_at == poller.clock() + poller.settings.max_interval
    feed_server.set_feed("/f", rss([ITEM]))
    revived = await poller.poll(feed(feed_server.url("/f")), force=True)
    assert revived.outcome == "primed"
    assert (await state(poller)).disabled_reason is None


async def test_a_feed_re_enabled_by_another_poller_is_polled_again(
    poller: Poller, feed_server: FeedServer
) -> None:
    # the daemon's poller keeps the states it saved; `kurilwatch poll --once --feed f` is
    # another poller on the same store
    feed_server.set_route("/f", Route(status=410))
    assert (await poller.poll(feed(feed_server.url("/f")))).outcome == "disabled"
    feed_server.set_feed("/f", rss([ITEM]))
    cli = Poller(
        store=poller.store, fetcher=poller.fetcher, topics=TOPICS, settings=poller.settings
    )
    assert (await cli.poll(feed(feed_server.url("/f")), force=True)).outcome == "primed"
    assert (await poller.poll(feed(feed_server.url("/f")))).outcome == "unchanged"


async def test_404_disables_only_after_gone_after(
    poller: Poller, feed_server: FeedServer, clock: Clock
) -> None:
    feed_server.set_route("/f", Route(status=404))
    assert (await poller.poll(feed(feed_server.url("/f")))).outcome == "error"
    clock.now += timedelta(days=1)
    assert (await poller.poll(feed(feed_server.url("/f")))).outcome == "error"
    clock.now += timedelta(days=1, minutes=1)
    report = await poller.poll(feed(feed_server.url("/f")))
    assert report.outcome == "disabled" and "404" in (report.error or "")


async def test_permanent_redirect_moves_the_feed_temporary_does_not(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/new", rss([ITEM]))
    feed_server.set_route("/temp", Route(status=302, redirect_to="/new"))
    feed_server.set_route("/old", Route(status=301, redirect_to="/temp"))
    await poller.poll(feed(feed_server.url("/old")))
    assert (await state(poller)).url == feed_server.url("/old")  # 301 then 302: not permanent
    feed_server.set_route("/old", Route(status=308, redirect_to="/new"))
    await poller.poll(feed(feed_server.url("/old")))
    moved = await state(poller)
    assert moved.url == feed_server.url("/new") and moved.config_url == feed_server.url("/old")
    await poller.poll(feed(feed_server.url("/old")))
    assert feed_server.requests("/new")[-1].headers.get("if-none-match")  # polled directly
    assert feed_server.requests("/old")[-1].status == 308 and len(feed_server.requests("/old")) == 2


async def test_a_permanent_redirect_to_what_is_not_a_feed_is_not_remembered(
    poller: Poller, feed_server: FeedServer
) -> None:
    # a redesigned site sends every old URL to its home page: the feed's URL is kept, so the
    # operator can see the error and the feed comes back if the old URL serves it again
    home = b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>"
    feed_server.set_route("/", Route(body=home, content_type="text/html; charset=utf-8"))
    feed_server.set_route("/old", Route(status=301, redirect_to="/"))
    moved = await poller.poll(feed(feed_server.url("/old")))
    assert moved.outcome == "error" and "not a feed" in (moved.error or "")
    assert (await state(poller)).url == feed_server.url("/old")
    feed_server.set_feed("/old", rss([ITEM]))
    assert (await poller.poll(feed(feed_server.url("/old")))).outcome == "primed"
    assert feed_server.hits("/") == 1


async def test_a_permanent_redirect_to_a_page_that_answers_304_is_not_remembered(
    poller: Poller, feed_server: FeedServer
) -> None:
    # a static home page older than the feed's Last-Modified answers the feed's validators
    # with 304: no feed answered there, and the feed must not read as unchanged at it for ever
    changed = T0 - timedelta(days=1)
    feed_server.set_route("/old", Route(body=rss([ITEM]), etag=False, last_modified=changed))
    assert (await poller.poll(feed(feed_server.url("/old")))).outcome == "primed"
    home = b"<!DOCTYPE html><html><head><title>Home</title></head><body>Hi</body></html>"
    page = Route(body=home, content_type="text/html", etag=False, last_modified=T0 - timedelta(7))
    feed_server.set_route("/", page)
    feed_server.set_route("/old", Route(status=301, redirect_to="/"))
    assert (await poller.poll(feed(feed_server.url("/old")))).outcome == "unchanged"
    assert (await state(poller)).url == feed_server.url("/old")


async def test_every_poll_after_the_first_is_conditional_and_304_skips_parsing(
    poller: Poller, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/f", rss([ITEM]))
    for _ in range(4):
        await poller.poll(feed(feed_server.url("/f")))
    first, *rest = feed_server.requests("/f")
    assert "if-none-match" not in first.headers
    assert all("if-none-match" in r.headers and r.status == 304 for r in rest)


async def test_ttl_and_cache_headers_stretch_the_interval(
    poller: Poller, feed_server: FeedServer, clock: Clock
) -> None:
    body = rss([ITEM], ttl=30)
    feed_server.set_route("/f", Route(body=body, headers={"Cache-Control": "max-age=600"}))
    report = await poller.poll(feed(feed_server.url("/f"), interval="1s"))
    assert report.next_poll_at is not None
    assert timedelta(minutes=28) <= report.next_poll_at - clock.now <= timedelta(minutes=32)


async def test_a_stuck_feed_does_not_hold_up_the_others(
    poller: Poller, feed_server: FeedServer
) -> None:
    poller.clock = lambda: datetime.now(UTC)
    feed_server.set_route("/slow", Route(body=rss([ITEM]), delay=30))
    feed_server.set_feed("/fast", rss([ITEM]))
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def poll(config: FeedConfig) -> datetime | None:
        report = await poller.poll(config)
        return report.next_poll_at

    feeds = FeedScheduler(scheduler, poll)
    feeds.add(feed(feed_server.url("/slow"), "slow", interval="1s"))
    feeds.add(feed(feed_server.url("/fast"), "fast", interval="1s"))
    scheduler.start()
    try:
        # three polls of the fast feed while the slow one hangs, times out and backs off
        await asyncio.to_thread(feed_server.wait_for_hits, "/fast", 3, 6)
        assert feed_server.hits("/slow") <= 1
        assert (await state(poller, "slow")).last_error == "timed out (reading)"
    finally:
        scheduler.shutdown(wait=False)


async def until(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), timeout=10)


@pytest.mark.parametrize("stall", [0.0, 0.15])
async def test_a_feed_changed_while_its_poll_runs_is_polled_with_its_new_config(
    stall: float,
) -> None:
    """A reload that edits a feed in mid-poll: the job it adds is refused (one run per feed),
    however long the event loop is busy when the run ends."""
    scheduler, runs = scheduler_with_runs()  # as the daemon makes it
    started: list[str | None] = []
    renamed = asyncio.Event()

    async def poll(config: FeedConfig) -> datetime | None:
        started.append(config.title)
        if config.title == "A, renamed":
            renamed.set()
            return None
        feeds.add(feed("http://a.example/", "a", title="A, renamed"))  # a reload, mid-poll
        await asyncio.sleep(0.05)
        if stall:  # another task's step already queued when this run ends (a parse, a GC)
            asyncio.get_running_loop().call_soon(time.sleep, stall)
        return datetime.now(UTC) + timedelta(hours=1)

    feeds = FeedScheduler(scheduler, poll)
    feeds.add(feed("http://a.example/", "a"))
    scheduler.start()
    try:
        await until(renamed)
        assert started == [None, "A, renamed"]
    finally:
        scheduler.shutdown(wait=False)
        await runs.stop(1)


async def test_a_poll_job_that_raises_is_run_again() -> None:
    """A failure after the poll (a console print to a full disk, the store locked while the
    admins are told) must not end the feed's polls."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    calls: list[FeedConfig] = []
    again = asyncio.Event()

    async def poll(config: FeedConfig) -> datetime | None:
        calls.append(config)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        again.set()
        return None

    feeds = FeedScheduler(scheduler, poll, retry=timedelta(milliseconds=100))
    feeds.add(feed("http://a.example/", "a"))
    scheduler.start()
    try:
        await until(again)
        assert len(calls) == 2
    finally:
        scheduler.shutdown(wait=False)


async def test_feeds_added_and_removed_by_reloads_leave_no_state_in_the_poller(
    poller: Poller, feed_server: FeedServer
) -> None:
    """Months of reloads that add and remove feeds (search feeds come and go): the poller
    keeps the state of the configured feeds only, also of one removed while it was polled."""
    feed_server.set_feed("/f.xml", rss([ITEM]))
    scheduler = AsyncIOScheduler(timezone=UTC)
    polled: asyncio.Queue[str] = asyncio.Queue()
    gate = asyncio.Event()

    async def poll(config: FeedConfig) -> datetime | None:
        if config.id == "in-flight":
            polled.put_nowait("started")
            await until(gate)
        await poller.poll(config)
        polled.put_nowait(config.id)
        return None

    feeds = FeedScheduler(scheduler, poll, forget=poller.forget)
    scheduler.start()
    try:
        for n in range(30):
            feeds.add(feed(feed_server.url("/f.xml"), f"search-{n}"))
            assert await asyncio.wait_for(polled.get(), 10) == f"search-{n}"
            feeds.remove(f"search-{n}")
        feeds.add(feed(feed_server.url("/f.xml"), "in-flight"))
        assert await asyncio.wait_for(polled.get(), 10) == "started"
        feeds.remove("in-flight")  # removed while its poll runs
        gate.set()
        assert await asyncio.wait_for(polled.get(), 10) == "in-flight"
        for _ in range(100):  # the run's end, as the scheduler sees it
            if not poller.saved:
                break
            await asyncio.sleep(0)
        assert poller.saved == {}
    finally:
        scheduler.shutdown(wait=False)
