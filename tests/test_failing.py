"""The admins hear once that a feed has failed for FAILING_AFTER, and once that it recovered:
the pure decision, and the notices a daemon's real polls give; and that a poll disabled a feed,
said in their language."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.daemon import Daemon
from bot.daemon.failing import DISABLED, FAILING, RECOVERED, Told, disabled_notice, failing_notice
from bot.i18n import Said, Span, loaded, texts
from store import AsyncStore, FeedState, Store
from tests.conftest import TOKEN, Clock, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from watchers.fetch import Fetcher
from watchers.poll import Poller
from watchers.poll_errors import REFUSED, PollError, disabled_by
from watchers.topics.compile import compile_topics

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
URL = "https://f.example/rss"


def ok(at: datetime, told: datetime | None = None) -> FeedState:
    return FeedState(
        id="f", url=URL, primed=True, last_attempt_at=at, last_success_at=at, told_since=told
    )


def failing(
    since: datetime, at: datetime, *, succeeded: bool = True, told: datetime | None = None
) -> FeedState:
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
        told_since=told,
    )


def told(message: str, span: timedelta, marker: datetime | None, error: str | None = None) -> Told:
    values = {"feed": "f", "url": URL, "span": Span(span.total_seconds())}
    said = Said(message, values if error is None else {**values, "error": error})
    return Told(said, marker)


def disabled(state: FeedState) -> FeedState:
    assert state.last_attempt_at is not None
    return replace(state, disabled_reason="not found", disabled_at=state.last_attempt_at)


CASES = [
    ("a short outage begins", failing(T0 + H, T0 + H), None),
    ("failing, not yet for long", failing(T0, T0 + 5 * H), None),
    (
        "crosses the threshold: told, and the run marked",
        failing(T0, T0 + 6 * H + timedelta(minutes=2)),
        told(FAILING, 6 * H + timedelta(minutes=2), T0, "HTTP 500"),
    ),
    ("past it, this run told: said once", failing(T0, T0 + 8 * H, told=T0), None),
    (
        "past it, not told (crossed in `poll --once`, or a crash before the notice)",
        failing(T0, T0 + 30 * H),
        told(FAILING, 30 * H, T0, "HTTP 500"),
    ),
    (
        "never succeeded: from its first poll",
        failing(T0, T0 + 9 * H, succeeded=False),
        told(FAILING, 9 * H, T0, "HTTP 500"),
    ),
    ("disabled: its own notice says it", disabled(failing(T0, T0 + 7 * H)), None),
    ("disabled once told: nothing more", disabled(failing(T0, T0 + 9 * H, told=T0)), None),
    (
        "answers after the admins were told: recovered, the mark cleared",
        ok(T0 + 7 * H, told=T0),
        told(RECOVERED, 7 * H, None),
    ),
    ("answers, never told (a short outage)", ok(T0 + 5 * H), None),
    ("keeps working", ok(T0 + H), None),
    ("the poll saved nothing (the store failed)", None, None),
    (
        "a new run: the told one recovered in a poll the daemon did not make",
        failing(T0 + 10 * H, T0 + 11 * H, told=T0),
        told(RECOVERED, 9 * H, None),
    ),
    (
        "a new run failing for long after that recovery was told",
        failing(T0 + 10 * H, T0 + 17 * H),
        told(FAILING, 7 * H, T0 + 10 * H, "HTTP 500"),
    ),
    (
        "spans are said to the minute",
        failing(T0, T0 + 6 * H + timedelta(seconds=95)),
        told(FAILING, 6 * H + timedelta(minutes=2), T0, "HTTP 500"),
    ),
]


@pytest.mark.parametrize(
    ("state", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_the_decision(state: FeedState | None, expected: Told | None) -> None:
    assert failing_notice("f", URL, state) == expected


def test_the_failing_notice_names_the_error_as_its_message() -> None:
    """A feed's error kept as a message is said in each admin's language (a state kept before
    errors were, as its English: the cases above)."""
    error = PollError(REFUSED, {"host": "f.example", "port": "443"})
    after = replace(
        failing(T0, T0 + 7 * H), last_error=error.line(), last_error_message=error.kept()
    )
    told = failing_notice("f", URL, after)
    assert told is not None
    said = told.said
    assert said.values["error"] == Said(REFUSED, {"host": "f.example", "port": "443"})
    russian = texts("ru").say(said)
    assert russian.endswith(
        "не работает уже 7 часов: не удалось подключиться к f.example:443: в соединении"
        " отказано. Её по-прежнему опрашивают; когда она заработает, вам сообщат."
    ), russian
    assert "f.example:443 に接続できません: 接続を拒否されました" in texts("ja").say(said)
    assert f"for 7 hours: {error.line()}." in texts("en").say(said)


def test_the_disabled_notice_names_the_reason_as_its_message() -> None:
    """Why a poll disabled a feed, kept as a message, is said in each admin's language; a state
    kept before reasons were (or none known) says the poll's English as it is."""
    reason = disabled_by(404, 7 * 24 * H, 7 * 24 * H)
    assert reason is not None
    english = "not found (HTTP 404) for 7.0d"
    state = replace(
        disabled(failing(T0, T0 + 7 * 24 * H)),
        disabled_reason=reason.line(),
        disabled_reason_message=reason.kept(),
    )
    said = disabled_notice("f", URL, state, english)
    assert said.message == DISABLED
    russian = texts("ru").say(said)
    assert russian.startswith(
        f"kurilwatch: лента f ({URL}) отключена: сервер 7 дней подряд отвечал «не найдено»"
        " (HTTP 404). "
    ), russian
    assert "サーバーが 7 日にわたって「見つかりません」（HTTP 404）と応答し続けました" in texts(
        "ja"
    ).say(said)
    assert "was disabled: not found (HTTP 404) for 7 days." in texts("en").say(said)
    for old in (replace(state, disabled_reason_message=None), None):
        assert f"отключена: {english}. " in texts("ru").say(disabled_notice("f", URL, old, english))


class FailingDaemon:
    """A daemon on a store, its poller on a clock set by each poll, and its one feed (answering
    500 at first): `poll_at(3 * H)` polls it at T0 + 3 h and gives the msgids of the admins'
    notices so far; `poll_once_at` polls it as `kurilwatch poll --once` does (a poller of its
    own, on a store of its own, that tells no one); `restart()` gives the daemon a new poller."""

    def __init__(
        self, config: Path, store: AsyncStore, fetcher: Fetcher, token: str | None
    ) -> None:
        self.settings = load_config(config)
        self.store, self.fetcher, self.clock = store, fetcher, Clock(T0)
        self.out = io.StringIO()  # what a daemon without a token prints
        self.daemon = Daemon(self.settings, token, config_path=config, out=self.out)
        self.daemon._store = store
        [self.feed] = self.settings.feeds
        self.url = str(self.feed.url)
        self.pollers: list[Poller] = []
        self.poller = self._poller(store)

    def _poller(self, store: AsyncStore) -> Poller:
        topics = compile_topics(self.settings.topics)
        poller = Poller(
            store=store,
            fetcher=self.fetcher,
            topics=topics,
            settings=self.settings.poll,
            clock=self.clock,
        )
        self.pollers.append(poller)
        return poller

    def restart(self) -> None:
        self.poller = self._poller(self.store)

    async def notices(self) -> list[str]:
        return [n["msgid"] for n in await self.store.run(Store.notices)]

    async def poll_at(self, at: timedelta) -> list[str]:
        self.clock.now = T0 + at
        await self.daemon._poll(self.poller, self.feed, "f")
        return await self.notices()

    async def poll_once_at(self, at: timedelta) -> list[str]:
        self.clock.now = T0 + at
        other = await AsyncStore(self.settings.store.path).open()
        try:
            await self._poller(other).poll(self.feed)
        finally:
            await other.close()
        return await self.notices()


@contextlib.asynccontextmanager
async def failing_daemon(
    tmp_path: Path, feed_server: FeedServer, token: str | None = TOKEN
) -> AsyncIterator[FailingDaemon]:
    feed_server.set_route("/f.xml", Route(status=500))
    config = write_config(tmp_path, {"f": feed_server.url("/f.xml")}, admins=(9009,))
    store = await AsyncStore(load_config(config).store.path).open()
    fetcher = Fetcher()
    failing = FailingDaemon(config, store, fetcher, token)
    try:
        yield failing
    finally:
        for poller in failing.pollers:
            await poller.aclose()
        await fetcher.aclose()
        await store.close()


def answers(feed_server: FeedServer) -> None:
    feed_server.set_feed("/f.xml", rss([FeedEntry("Kuril news", "https://n.example/1")]))


async def test_a_daemon_polling_a_failing_feed_tells_the_admins_once_and_of_its_recovery(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A feed answering 500 for a day was visible only in /feeds, `kurilwatch feeds` and
    /metrics: an unattended daemon's admins never heard of it."""
    async with failing_daemon(tmp_path, feed_server) as failing:
        poll_at, store, url = failing.poll_at, failing.store, failing.url
        assert await poll_at(0 * H) == []
        assert await poll_at(3 * H) == []
        assert await poll_at(6 * H) == [FAILING]
        assert await poll_at(9 * H) == [FAILING]  # nothing more while it fails
        answers(feed_server)
        assert await poll_at(10 * H) == [FAILING, RECOVERED]
        feed_server.set_route("/f.xml", Route(status=500))
        assert await poll_at(11 * H) == [FAILING, RECOVERED]  # a short outage: no noise
        answers(feed_server)
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
    async with failing_daemon(tmp_path, feed_server) as failing:
        poll_at, store = failing.poll_at, failing.store
        assert await poll_at(0 * H) == []
        assert await poll_at(7 * H) == [FAILING]
        back = timedelta(days=1)  # the clock put right
        assert await poll_at(8 * H - back) == [FAILING]  # still failing: said already
        answers(feed_server)
        assert await poll_at(9 * H - back) == [FAILING, RECOVERED]
        *_, recovered = await store.run(Store.notices)
        # 7 h counted before the clock went back, 1 h after it (the step itself is not known)
        assert "8 hours" in recovered["text"]


CROSSINGS = {
    "`poll --once`": False,
    "`poll --once`, the daemon restarted": True,
    "the daemon, which crashed before its notice": True,
}


@pytest.mark.parametrize("crossing", list(CROSSINGS))
async def test_a_failing_run_crossing_6_hours_unsaid_is_told_by_the_daemons_next_poll(
    tmp_path: Path, feed_server: FeedServer, crossing: str
) -> None:
    """The decision was on the state before and after each daemon poll: when a `poll --once`
    or a daemon that crashed between saving the poll and writing its notice made the poll that
    crossed 6 h, the daemon's next poll read that state as before and judged it said already:
    the admins never heard."""
    async with failing_daemon(tmp_path, feed_server) as failing:
        assert await failing.poll_at(0 * H) == []
        if crossing.startswith("the daemon"):
            failing.clock.now = T0 + 6 * H
            await failing.poller.poll(failing.feed)  # saved; its notice never written
        else:
            assert await failing.poll_once_at(6 * H) == []  # `poll --once` tells no one
        if CROSSINGS[crossing]:
            failing.restart()
        assert await failing.poll_at(7 * H) == [FAILING]
        failing.restart()
        assert await failing.poll_at(8 * H) == [FAILING]  # not again after a restart
        assert await failing.poll_once_at(9 * H) == [FAILING]
        answers(feed_server)
        assert await failing.poll_at(10 * H) == [FAILING, RECOVERED]
        failing.restart()
        assert await failing.poll_at(11 * H) == [FAILING, RECOVERED]
        *_, recovered = await failing.store.run(Store.notices)
        assert "10 hours" in recovered["text"]


async def test_a_recovery_only_a_poll_once_saw_is_told_by_the_daemons_next_poll(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The feed answered to a `poll --once` and failed again before the daemon polled it:
    the daemon saw only a new, short run of failures, and the recovery it had promised the
    admins was never told."""
    async with failing_daemon(tmp_path, feed_server) as failing:
        assert await failing.poll_at(0 * H) == []
        assert await failing.poll_at(7 * H) == [FAILING]
        answers(feed_server)
        assert await failing.poll_once_at(8 * H) == [FAILING]
        feed_server.set_route("/f.xml", Route(status=500))
        assert await failing.poll_at(9 * H) == [FAILING, RECOVERED]
        *_, recovered = await failing.store.run(Store.notices)
        assert "8 hours" in recovered["text"]  # to the success `poll --once` saw
        assert await failing.poll_at(10 * H) == [FAILING, RECOVERED]  # a new, short outage


async def test_a_feed_recovering_in_the_first_poll_after_the_clock_is_set_back_says_its_span(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The clock ran a day ahead while the feed failed, and the first poll once it was put
    right got an answer: its recovery counted from a start a day ahead of that poll."""
    async with failing_daemon(tmp_path, feed_server) as failing:
        assert await failing.poll_at(0 * H) == []
        assert await failing.poll_at(7 * H) == [FAILING]
        answers(feed_server)
        assert await failing.poll_at(8 * H - timedelta(days=1)) == [FAILING, RECOVERED]
        *_, recovered = await failing.store.run(Store.notices)
        # counted to the last poll that failed (the step back itself is not known)
        assert "7 hours" in recovered["text"]


async def test_a_console_daemon_prints_a_failing_feed_and_its_recovery_once_each(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """With Telegram off the daemon prints its alerts; that a feed had failed for 6 hours, or
    recovered, went nowhere (not even the log)."""
    async with failing_daemon(tmp_path, feed_server, token=None) as failing:
        for hours in (0, 7):
            await failing.poll_at(hours * H)
        failing.restart()
        await failing.poll_at(8 * H)  # not again after a restart
        answers(feed_server)
        await failing.poll_at(9 * H)
        assert await failing.notices() == []  # nothing queued for a Telegram that is off
    failed, recovered = [line for line in failing.out.getvalue().splitlines() if line]
    said = f"admins' notice: kurilwatch: feed f ({failing.url})"
    assert failed.startswith(f"{said} has been failing for 7 hours: HTTP 500"), failed
    assert failed.endswith(". It is still polled, and you will be told when it recovers.")
    assert recovered == f"{said} recovered after failing for 9 hours.", recovered


@pytest.mark.parametrize(
    ("status", "at", "russian", "english"),
    [
        (
            410,
            0 * H,
            "отключена: сервер сообщает, что лента удалена навсегда (HTTP 410). ",
            "was disabled: the server says the feed is gone for good (HTTP 410). ",
        ),
        (
            404,
            7 * 24 * H,
            "отключена: сервер 7 дней подряд отвечал «не найдено» (HTTP 404). ",
            "was disabled: not found (HTTP 404) for 7 days. ",
        ),
    ],
    ids=["410", "404 for gone_after"],
)
async def test_a_daemon_disabling_a_feed_tells_the_admins_why_in_their_language(
    tmp_path: Path,
    feed_server: FeedServer,
    status: int,
    at: timedelta,
    russian: str,
    english: str,
) -> None:
    """A Russian admin read "лента f (…) отключена: the server says the feed is gone for good
    (HTTP 410)": the poll's English reason inside the Russian notice."""
    async with failing_daemon(tmp_path, feed_server) as failing:
        feed_server.set_route("/f.xml", Route(status=status))
        if at:
            assert await failing.poll_at(0 * H) == []
        assert await failing.poll_at(at) == [DISABLED]  # not told it failed: it is disabled
        state = await failing.store.run(Store.feed_state, "f")
        assert state is not None and state.disabled_reason  # English, as before
        [notice] = await failing.store.run(Store.notices)
        said = texts("ru").said(notice["msgid"], loaded(json.loads(notice["vals"])))
        assert f"kurilwatch: лента f ({failing.url}) {russian}" in said, said
        assert english in notice["text"], notice["text"]
