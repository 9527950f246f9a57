"""The daemon's stop with every stage hung at once: a feed's fetch, Telegram (sends and
getUpdates), and an admins' notice written again while the store is locked; and with the store
held by another process for longer than a stop may take."""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, load_config
from bot.daemon import Daemon
from bot.delivery import unrecorded
from store import Store
from tests.conftest import TOKEN, handler_on, short_busy_timeout, write_config
from tests.fakes.feed_server import FeedServer, Route
from tests.fakes.telegram_api import FakeBotAPI

WAIT = 30.0  # bounds each wait for an event
PROMISE = 10.0  # seconds a stop may take (design.md: `kurilwatch run`)


LONG_BUSY = 60.0  # seconds: the busy timeout of `long_busy_timeout`, for a daemon's own store


def long_busy_timeout(store: Store) -> None:
    """A lock another connection holds is waited for 60 s: past any stop's promise."""
    store.db.execute("PRAGMA busy_timeout = 60000")


async def fetch_hangs(feed_server: FeedServer) -> None:
    """Wait for the daemon's fetch of /a.xml to be in flight (checked at the feed server's
    requests: the Bot API's, once a long poll ends, came up to 10 s after it)."""
    hangs = lambda: feed_server.in_flight("/a.xml") > 0  # noqa: E731
    await asyncio.to_thread(feed_server.wait_for, hangs, WAIT, "the fetch hangs")


def hangs_until(entered: threading.Event, release: threading.Event) -> Callable[[Store], None]:
    """A store call that says it began, then waits for the test (a disk that hangs)."""

    def hung(store: Store) -> None:
        entered.set()
        release.wait(4 * WAIT)  # past the stop's wait: set by the test

    return hung


def notice_states(path: Path) -> list[str]:
    """The states of the admins' notices in the store at `path`, once the daemon is gone."""
    with Store(path) as store:
        return [str(row["state"]) for row in store.notices()]


def _hung_feed_daemon(
    folder: Path, feed_server: FeedServer, bot_api: FakeBotAPI
) -> tuple[Config, Daemon]:
    """A daemon with an admin whose one feed's answer hangs, so its polls write nothing."""
    feed_server.set_route("/a.xml", Route(body=b"<rss/>", delay=WAIT))
    config = write_config(
        folder,
        {"a": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        admins=(9009,),
        extra={"poll": {"interval": "1s", "timeout": "60s"}},
    )
    settings = load_config(config)
    return settings, Daemon(settings, TOKEN, config_path=config)


async def test_a_stop_with_every_stage_hung_keeps_the_10_s_promise_and_the_alert(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI
) -> None:
    """Each stage's grace came after the one before (the job runs', the notices', the sends',
    then getUpdates' last call and the parse workers'): about 15 s. They now run side by side,
    and the alert whose send hung stays in the outbox for the next start."""
    settings, daemon = _hung_feed_daemon(tmp_path, feed_server, bot_api)
    running = asyncio.create_task(daemon.run())
    other = sqlite3.connect(settings.store.path, isolation_level=None, check_same_thread=False)
    try:
        await bot_api.wait_for_async(
            lambda: daemon.delivery is not None or running.done(), WAIT, "signed in"
        )
        assert daemon._store is not None and not running.done()
        await fetch_hangs(feed_server)
        bot_api.hold_answers()
        bot_api.stall_next("getUpdates", WAIT, times=1000)
        await daemon._store.run(Store.notify_admins, "queued", now=datetime.now(UTC))
        daemon._wake_delivery()
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, WAIT, "the send hangs")
        await daemon._store.run(short_busy_timeout)
        other.execute("BEGIN IMMEDIATE")  # a backup: the next notice is written again
        await daemon._tell_admins_surely("kurilwatch: feed {f} disabled", {"f": "a"})
        assert daemon._notices
        daemon.stop()
        assert await asyncio.wait_for(running, PROMISE) == 0
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        bot_api.release_answers()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
    states = notice_states(settings.store.path)
    assert states and "sent" not in states  # queued still: sent after the next start


async def test_a_stop_while_updates_start_sends_nothing(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI
) -> None:
    """A stop that came while the updates were starting (Telegram slow to answer the
    deleteWebhook of getUpdates' start): the delivery worker started after it all the same,
    and sent the queued alerts and notices until the sends' grace cut it, 5 s after."""
    feed_server.set_route("/a.xml", Route(body=b"<rss/>"))
    config = write_config(
        tmp_path, {"a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url, admins=(9009,)
    )
    settings = load_config(config)
    with Store(settings.store.path) as store:
        store.notify_admins("queued before the start", now=datetime.now(UTC))
    bot_api.stall_next("deleteWebhook", 2.0)  # shorter than PTB's read timeout (5 s)
    daemon = Daemon(settings, TOKEN, config_path=config)
    running = asyncio.create_task(daemon.run())
    try:
        await bot_api.wait_for_async(
            lambda: (
                (
                    daemon._app is not None
                    and daemon._app.updater is not None
                    and daemon._app.updater.running
                )
                or running.done()
            ),
            WAIT,
            "the updates starting",
        )
        assert not running.done()
        daemon.stop()
        assert await asyncio.wait_for(running, PROMISE) == 0
    finally:
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
    assert bot_api.sent_messages(9009) == []


async def test_a_stop_while_telegram_hangs_logs_one_plain_line_not_a_traceback(
    tmp_path: Path,
    feed_server: FeedServer,
    bot_api: FakeBotAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PTB's last getUpdates at a stop (to confirm what was read) timed out against a hung
    Telegram and was logged as an ERROR with three chained tracebacks, which an operator reads
    as a crash; the stop is deliberate, and says so in one warning line."""
    feed_server.set_route("/a.xml", Route(body=b"<rss/>"))
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url)
    daemon = Daemon(load_config(config), TOKEN, config_path=config)
    running = asyncio.create_task(daemon.run())
    try:
        await bot_api.wait_for_async(
            lambda: daemon.delivery is not None or running.done(), WAIT, "signed in"
        )
        assert not running.done()
        bot_api.stall_next("getUpdates", WAIT, times=1000)
        daemon.stop()
        assert await asyncio.wait_for(running, PROMISE) == 0
    finally:
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    said = [r for r in caplog.records if "updates read" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "TimedOut" in said[0].getMessage()


async def test_a_channels_try_hung_at_a_stop_is_cut_beside_the_sends_grace(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI
) -> None:
    """The wait for a reload's channels, tried again while the store failed, came after every
    other stage's grace: 2.5 s more, after the 5 s of the sends'. It now runs beside them: the
    channels' try is cut while a send may still finish (here the fake answers it then)."""
    import yaml

    feed_server.set_route("/a.xml", Route(body=b"<rss/>"))
    config = write_config(
        tmp_path, {"a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url, admins=(9009,)
    )
    settings = load_config(config)
    daemon = Daemon(settings, TOKEN, config_path=config, config_settle=0)
    running = asyncio.create_task(daemon.run())
    other = sqlite3.connect(settings.store.path, isolation_level=None, check_same_thread=False)
    trying, never = asyncio.Event(), asyncio.Event()

    async def hung(app: object, store: object) -> None:  # a try that Telegram never answers
        trying.set()
        await never.wait()

    try:
        await bot_api.wait_for_async(
            lambda: daemon.delivery is not None or running.done(), WAIT, "signed in"
        )
        assert daemon._store is not None and not running.done()
        edited = yaml.safe_load(config.read_text())
        edited["channels"] = [{"chat": "@kurilnews_ru", "topics": ["kuril"]}]
        config.write_text(yaml.safe_dump(edited, allow_unicode=True))
        await daemon._store.run(short_busy_timeout)
        other.execute("BEGIN IMMEDIATE")  # a backup: the reload's channels wait for it
        said = await daemon.reload()
        assert "channels not recorded yet" in said, said
        daemon._add_channels = hung  # type: ignore[method-assign]
        other.execute("ROLLBACK")
        async with asyncio.timeout(WAIT):
            await trying.wait()  # the next try, 1 s later
        retrying = daemon._channels_retry
        assert retrying is not None
        bot_api.hold_answers()
        await daemon._store.run(Store.notify_admins, "queued", now=datetime.now(UTC))
        daemon._wake_delivery()
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, WAIT, "the send hangs")
        retrying.add_done_callback(lambda _: bot_api.release_answers())  # cut: the send ends
        daemon.stop()
        assert await asyncio.wait_for(running, PROMISE) == 0
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        bot_api.release_answers()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
    states = notice_states(settings.store.path)
    assert "sent" in states, states  # within the sends' grace, not cut with them


async def test_a_stop_while_another_process_holds_the_store_leaves_it_and_keeps_the_send(
    tmp_path: Path,
    feed_server: FeedServer,
    bot_api: FakeBotAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A notice sent while another process held the store's write lock: its record waited for
    the lock (the busy timeout: 10 s, here 60 s), the sends' grace cut it, and then the store's
    close waited for it all the same, and the interpreter's exit for the store's thread: 15 s,
    past the promise. The store is now left unclosed after a bounded wait, said in one line,
    and the send is kept beside it for the next start."""
    settings, daemon = _hung_feed_daemon(tmp_path, feed_server, bot_api)  # no poll writes
    running = asyncio.create_task(daemon.run())
    other = sqlite3.connect(settings.store.path, isolation_level=None, check_same_thread=False)
    recording = asyncio.Event()
    store = None
    try:
        await bot_api.wait_for_async(
            lambda: daemon.delivery is not None or running.done(), WAIT, "signed in"
        )
        store = daemon._store
        assert store is not None and not running.done()
        await fetch_hangs(feed_server)  # started: its writes at the start are done
        run = store.run

        async def observed(verb: Any, *args: Any, **kwargs: Any) -> Any:
            if verb is Store.settle_notice:
                recording.set()
            return await run(verb, *args, **kwargs)

        store.run = observed  # type: ignore[method-assign]
        bot_api.hold_answers()
        await store.run(Store.notify_admins, "queued", now=datetime.now(UTC))
        daemon._wake_delivery()
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, WAIT, "the send")
        await store.run(long_busy_timeout)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, for longer than a stop
        bot_api.release_answers()  # sent: its record waits for the lock
        async with asyncio.timeout(WAIT):
            await recording.wait()
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        bot_api.release_answers()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
        thread = getattr(store, "_thread", None)
        if thread is not None:  # the store's thread, left in the record: it ends now
            await asyncio.to_thread(thread.join, WAIT)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert str(settings.store.path) in errors[0] and "settle_notice" in errors[0]
    assert "locked by another process" in errors[0]
    kept = unrecorded.read(unrecorded.journal(settings.store.path)).kept
    assert [type(k) for k in kept] == [unrecorded.SentNotice]  # recorded at the next start


async def test_a_stop_while_a_polls_state_waits_for_another_processs_lock_is_bounded(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A poll that found its feed unchanged saves its state in a batch written beside the poll
    (`Poller._save_together`): the stop cut the poll, then the poller's close waited for that
    write, which waited out another process's lock (the busy timeout, here 60 s) before the
    store's bounded close was reached. The write is cut with the polls; the store's close says
    the call under way."""
    feed_server.set_route("/a.xml", Route(body=b"<rss/>"))
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")})
    settings = load_config(config)
    daemon = Daemon(settings, None, out=io.StringIO(), config_path=config)
    running = asyncio.create_task(daemon.run())
    other = sqlite3.connect(settings.store.path, isolation_level=None, check_same_thread=False)
    answer, saving = threading.Event(), asyncio.Event()
    store = None
    try:
        await asyncio.to_thread(feed_server.wait_for_hits, "/a.xml", 1, WAIT)
        feed_server.set_route("/a.xml", Route(body=b"<rss/>", hold=answer))
        await fetch_hangs(feed_server)  # the next poll: the first is done, its state saved
        store = daemon._store
        assert store is not None and not running.done()
        run = store.run

        async def observed(verb: Any, *args: Any, **kwargs: Any) -> Any:
            if verb is Store.save_feed_states:
                saving.set()
            return await run(verb, *args, **kwargs)

        store.run = observed  # type: ignore[method-assign]
        await store.run(long_busy_timeout)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, for longer than a stop
        answer.set()  # unchanged: the poll's state is saved, and waits for the lock
        async with asyncio.timeout(WAIT):
            await saving.wait()
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    finally:
        answer.set()
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
        thread = getattr(store, "_thread", None)
        if thread is not None:  # the store's thread, left in the write: it ends now
            await asyncio.to_thread(thread.join, WAIT)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert str(settings.store.path) in errors[0] and "save_feed_states" in errors[0]


async def test_a_stop_with_alerts_given_up_and_a_store_that_hangs_is_bounded(
    tmp_path: Path,
    feed_server: FeedServer,
    bot_api: FakeBotAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The delivery worker queues the admins' report of the alerts given up as it ends. Cut by
    the sends' grace while it waited for a store that does not answer (its disk hangs; another
    process's lock, for the busy timeout), it then waited for that report's write without a
    bound, and the daemon for it: the stop never ended. The report is cut within the sends'
    grace, and said."""
    feed_server.set_route("/a.xml", Route(body=b"<rss/>"))
    config = write_config(
        tmp_path, {"a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url, admins=(9009,)
    )
    settings = load_config(config)
    daemon = Daemon(settings, TOKEN, config_path=config)
    running = asyncio.create_task(daemon.run())
    entered, release = threading.Event(), threading.Event()
    idle, waiting = asyncio.Event(), asyncio.Event()
    store = None
    try:
        await bot_api.wait_for_async(
            lambda: daemon.delivery is not None or running.done(), WAIT, "signed in"
        )
        await asyncio.to_thread(feed_server.wait_for_hits, "/a.xml", 1, WAIT)  # started
        store, delivery = daemon._store, daemon.delivery
        assert store is not None and delivery is not None and not running.done()
        delivery._given_up.add("chat 7, alert 1 (a title): Forbidden: bot was blocked")
        delivery._given_up.reported_at = datetime.now(UTC)  # reported lately: told at the stop
        run = store.run

        async def observed(verb: Any, *args: Any, **kwargs: Any) -> Any:
            if verb is Store.next_due_at:
                idle.set()  # the worker has started, and waits for work
            if verb is Store.due_deliveries and entered.is_set():
                waiting.set()  # the worker's loop waits for the store
            return await run(verb, *args, **kwargs)

        store.run = observed  # type: ignore[method-assign]
        async with asyncio.timeout(WAIT):
            await idle.wait()
        hung = asyncio.ensure_future(store.run(hangs_until(entered, release)))
        assert await asyncio.to_thread(entered.wait, WAIT)  # the store's thread hangs
        daemon._wake_delivery()
        async with asyncio.timeout(WAIT):
            await waiting.wait()
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    finally:
        release.set()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
        thread = getattr(store, "_thread", None)
        if thread is not None:  # the store's thread, left in the call: it ends now
            await asyncio.to_thread(thread.join, WAIT)
    assert not hung.cancelled() and hung.done()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("report of 1 alert given up" in e for e in errors), errors
    assert any(str(settings.store.path) in e and "hung" in e for e in errors), errors


class _Said(logging.Handler):
    """Sets `event` (of the test's loop) at the first record whose line holds `words`."""

    def __init__(self, event: asyncio.Event, words: str) -> None:
        super().__init__()
        self.event, self.words, self.loop = event, words, asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.loop.call_soon_threadsafe(self.event.set)


def new_store_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "store" and t not in before]


async def test_a_stop_while_the_start_waits_for_another_process_lock_ends_the_daemon(
    tmp_path: Path, bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A start's writes (here the VACUUM that switches an older store to incremental
    auto-vacuum) waited out another process's write lock, the busy timeout (10 s, here 60 s),
    each before the stop was even looked at: a SIGTERM then took tens of seconds. The start now
    gives way to the stop, and the store is left as a stop leaves one that does not answer."""
    config = write_config(
        tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, api_base_url=bot_api.base_url
    )
    settings = load_config(config)
    Store(settings.store.path).close()
    older = sqlite3.connect(settings.store.path, isolation_level=None)
    older.execute("PRAGMA auto_vacuum = NONE")  # as a store made before m030 was
    older.execute("VACUUM")
    older.close()
    threads = set(threading.enumerate())
    other = sqlite3.connect(settings.store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer, held past any stop
    daemon = Daemon(settings, TOKEN, config_path=config, store_busy_timeout=LONG_BUSY)
    vacuuming = asyncio.Event()
    running = asyncio.create_task(daemon.run())
    try:
        with handler_on("store.space", _Said(vacuuming, "one-time VACUUM")):
            async with asyncio.timeout(WAIT):
                await vacuuming.wait()  # the start waits for the lock now
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
        for thread in new_store_threads(threads):  # left in its VACUUM: it ends now
            await asyncio.to_thread(thread.join, WAIT)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert str(settings.store.path) in errors[0] and "switch_to_incremental" in errors[0]
    assert bot_api.calls_of("getMe") == []  # nothing of the Telegram side was begun


async def test_a_stop_while_the_start_waits_for_a_store_that_hangs_closes_what_it_opened(
    tmp_path: Path, bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A store that stops answering once opened (its disk hangs; here a call of the test's
    holds its thread) while the start reads it: the stop ends the start where it waits, and
    the parse workers and the model's process it started are ended with the daemon."""
    config = write_config(
        tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, api_base_url=bot_api.base_url
    )
    settings = load_config(config)
    children = set(multiprocessing.active_children())
    threads = set(threading.enumerate())
    daemon = Daemon(settings, TOKEN, config_path=config)
    hung = threading.Event()

    def disk_hangs(store: Store) -> None:
        hung.wait(2 * WAIT)

    running = asyncio.create_task(daemon.run())
    held = None
    try:
        await bot_api.wait_for_async(
            lambda: daemon._store is not None or running.done(), WAIT, "the store open"
        )
        assert daemon._store is not None and not running.done()
        held = asyncio.ensure_future(daemon._store.run(disk_hangs))
        poller = daemon._poller
        assert poller is not None
        await bot_api.wait_for_async(
            lambda: daemon._store is not None and daemon._store.doing == "disk_hangs",
            WAIT,
            "the store hangs",
        )
        await bot_api.wait_for_async(
            lambda: poller.pool._executor is not None, WAIT, "the parse workers starting"
        )
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    finally:
        hung.set()
        if not running.done():
            running.cancel()
            await asyncio.wait({running})
        if held is not None:
            await asyncio.wait({held}, timeout=WAIT)
        for thread in new_store_threads(threads):
            await asyncio.to_thread(thread.join, WAIT)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert str(settings.store.path) in errors[0] and "disk_hangs" in errors[0]
    assert set(multiprocessing.active_children()) <= children  # workers and model ended
