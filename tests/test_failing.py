"""The admins hear once that a feed has failed for FAILING_AFTER, and once that it recovered:
the pure decision, and the notices a daemon's real polls give."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.daemon import Daemon
from bot.daemon.failing import FAILING, RECOVERED, failing_notice
from bot.i18n import Said, Span, loaded, texts
from store import AsyncStore, FeedState, Store
from tests.conftest import TOKEN, Clock, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from watchers.fetch import Fetcher
from watchers.poll import Poller
from watchers.poll_errors import REFUSED, PollError
from watchers.topics.compile import compile_topics

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
URL = "https://f.example/rss"


def ok(at: datetime) -> FeedState:
    return FeedState(id="f", url=URL, primed=True, last_attempt_at=at, last_success_at=at)


def failing(since: datetime, at: datetime, *, succeeded: bool = True) -> FeedState:
    return FeedState(
        id="f",
        url=URL,
        primed=succeeded,
        last_error="HTTP 500",
        last_status=500,
        consecutive_errors=3,
        errors_since=since,
        last_attempt_at=at,
        last_success_at=since - H if succeeded else None,
    )


def notice(message: str, span: timedelta, error: str | None = None) -> Said:
    values = {"feed": "f", "url": URL, "span": Span(span.total_seconds())}
    return Said(message, values if error is None else {**values, "error": error})


CASES = [
    ("a short outage begins", ok(T0), failing(T0 + H, T0 + H), None),
    ("failing, not yet for long", failing(T0, T0 + H), failing(T0, T0 + 5 * H), None),
    (
        "crosses the threshold",
        failing(T0, T0 + 5 * H),
        failing(T0, T0 + 6 * H + timedelta(minutes=2)),
        notice(FAILING, 6 * H + timedelta(minutes=2), "HTTP 500"),
    ),
    ("past it already: said once", failing(T0, T0 + 7 * H), failing(T0, T0 + 8 * H), None),
    (
        "never succeeded: from its first poll",
        failing(T0, T0 + 3 * H, succeeded=False),
        failing(T0, T0 + 9 * H, succeeded=False),
        notice(FAILING, 9 * H, "HTTP 500"),
    ),
    (
        "a restart after a long stop: crossed while down",
        failing(T0, T0 + H),
        failing(T0, T0 + 30 * H),
        notice(FAILING, 30 * H, "HTTP 500"),
    ),
    (
        "disabled by the same poll: its own notice says it",
        failing(T0, T0 + 5 * H),
        replace(failing(T0, T0 + 7 * H), disabled_reason="not found", disabled_at=T0 + 7 * H),
        None,
    ),
    (
        "recovers after failing for long",
        failing(T0, T0 + 6 * H),
        ok(T0 + 7 * H),
        notice(RECOVERED, 7 * H),
    ),
    ("recovers after a short outage", failing(T0, T0 + 5 * H), ok(T0 + 5 * H + H / 2), None),
    ("keeps working", ok(T0), ok(T0 + H), None),
    ("the poll saved nothing (the store failed)", failing(T0, T0 + 7 * H), None, None),
    ("no state known before (the store failed)", None, failing(T0, T0 + 7 * H), None),
    (
        "revived by hand while disabled: the operator knows",
        replace(failing(T0, T0 + 9 * H), disabled_reason="gone", disabled_at=T0 + 9 * H),
        ok(T0 + 10 * H),
        None,
    ),
    (
        "spans are said to the minute",
        failing(T0, T0 + 5 * H),
        failing(T0, T0 + 6 * H + timedelta(seconds=95)),
        notice(FAILING, 6 * H + timedelta(minutes=2), "HTTP 500"),
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_decision(
    before: FeedState | None, after: FeedState | None, expected: Said | None
) -> None:
    assert failing_notice("f", URL, before, after) == expected


def test_the_failing_notice_names_the_error_as_its_message() -> None:
    """A feed's error kept as a message is said in each admin's language (a state kept before
    errors were, as its English: the cases above)."""
    error = PollError(REFUSED, {"host": "f.example", "port": "443"})
    after = replace(
        failing(T0, T0 + 7 * H), last_error=error.line(), last_error_message=error.kept()
    )
    said = failing_notice("f", URL, failing(T0, T0 + 5 * H), after)
    assert said is not None
    assert said.values["error"] == Said(REFUSED, {"host": "f.example", "port": "443"})
    russian = texts("ru").say(said)
    assert russian.endswith(
        "не работает уже 7 часов: не удалось подключиться к f.example:443: в соединении"
        " отказано. Её по-прежнему опрашивают; когда она заработает, вам сообщат."
    ), russian
    assert "f.example:443 に接続できません: 接続を拒否されました" in texts("ja").say(said)
    assert f"for 7 hours: {error.line()}." in texts("en").say(said)


PollAt = Callable[[timedelta], Awaitable[list[str]]]


@contextlib.asynccontextmanager
async def failing_daemon(
    tmp_path: Path, feed_server: FeedServer
) -> AsyncIterator[tuple[PollAt, AsyncStore, str]]:
    """A daemon on a store, its poller on a clock set by each poll, and its one feed answering
    500: `poll_at(3 * H)` polls it at T0 + 3 h and gives the msgids of the admins' notices so
    far; the store, and the feed's url."""
    feed_server.set_route("/f.xml", Route(status=500))
    config = write_config(tmp_path, {"f": feed_server.url("/f.xml")}, admins=(9009,))
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    fetcher = Fetcher()
    clock = Clock(T0)
    poller = Poller(
        store=store,
        fetcher=fetcher,
        topics=compile_topics(settings.topics),
        settings=settings.poll,
        clock=clock,
    )
    daemon = Daemon(settings, TOKEN, config_path=config)
    daemon._store = store
    [feed] = settings.feeds

    async def poll_at(at: timedelta) -> list[str]:
        clock.now = T0 + at
        await daemon._poll(poller, feed, "f")
        return [n["msgid"] for n in await store.run(Store.notices)]

    try:
        yield poll_at, store, str(feed.url)
    finally:
        await poller.aclose()
        await fetcher.aclose()
        await store.close()


async def test_a_daemon_polling_a_failing_feed_tells_the_admins_once_and_of_its_recovery(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A feed answering 500 for a day was visible only in /feeds, `kurilwatch feeds` and
    /metrics: an unattended daemon's admins never heard of it."""
    async with failing_daemon(tmp_path, feed_server) as (poll_at, store, url):
        assert await poll_at(0 * H) == []
        assert await poll_at(3 * H) == []
        assert await poll_at(6 * H) == [FAILING]
        assert await poll_at(9 * H) == [FAILING]  # nothing more while it fails
        feed_server.set_feed("/f.xml", rss([FeedEntry("Kuril news", "https://n.example/1")]))
        assert await poll_at(10 * H) == [FAILING, RECOVERED]
        feed_server.set_route("/f.xml", Route(status=500))
        assert await poll_at(11 * H) == [FAILING, RECOVERED]  # a short outage: no noise
        feed_server.set_feed("/f.xml", rss([FeedEntry("Kuril news", "https://n.example/1")]))
        assert await poll_at(12 * H) == [FAILING, RECOVERED]

        failed, recovered = await store.run(Store.notices)
        russian = texts("ru").said(failed["msgid"], loaded(json.loads(failed["vals"])))
        # the poll's error in the admin's language too, not the English of last_error
        assert "не работает уже 6 часов: сервер ответил HTTP 500 (Internal Server Error)." in (
            russian
        )
        assert url in russian
        assert "failing for 6 hours: HTTP 500 Internal Server Error." in failed["text"]
        assert "10 hours" in recovered["text"]


async def test_a_feed_said_failing_is_said_recovered_after_the_clock_is_set_back(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The clock ran a day ahead while the feed failed: once put right, each poll's time came
    before the stored start of its failing, its span was negative, and its recovery went
    unsaid though the admins had been promised it."""
    async with failing_daemon(tmp_path, feed_server) as (poll_at, store, _):
        assert await poll_at(0 * H) == []
        assert await poll_at(7 * H) == [FAILING]
        back = timedelta(days=1)  # the clock put right
        assert await poll_at(8 * H - back) == [FAILING]  # still failing: said already
        feed_server.set_feed("/f.xml", rss([FeedEntry("Kuril news", "https://n.example/1")]))
        assert await poll_at(9 * H - back) == [FAILING, RECOVERED]
        *_, recovered = await store.run(Store.notices)
        # 7 h counted before the clock went back, 1 h after it (the step itself is not known)
        assert "8 hours" in recovered["text"]
