"""The delivery worker's own loop through store faults and failed "Also:" edits, against the
fake Bot API and a real SQLite file that another connection locks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from bot.delivery import unrecorded
from bot.delivery.outcome import EDIT_TRIES, tries_within, waited
from bot.delivery.worker import DeliveryWorker
from bot.metrics import Metrics
from store import AsyncStore, FeedState, ItemRecord, OutboxState, Store
from tests.conftest import TOKEN, Clock, connections, handler_on, new_store, short_busy_timeout
from tests.fakes.telegram_api import Call, FakeBotAPI
from tests.test_delivery import (
    ADMIN,
    CHAT,
    FAST,
    GROUP,
    T0,
    admins_reading,
    another_outlet,
    outbox,
    parts,
    queue,
    sent_message_id,
    step,
    two_for_a_daily_digest,
)

__all__ = ["parts"]  # the fixture, used by name


class _Records(logging.Handler):
    """Keeps the records it hears and wakes the test's loop at each."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.loop = asyncio.get_running_loop()
        self.heard = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.loop.call_soon_threadsafe(self.heard.set)

    def at(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]

    async def until(self, what: str, level: int, count: int = 1) -> None:
        async def wait() -> None:
            while sum(what in m for m in self.at(level)) < count:
                self.heard.clear()
                await self.heard.wait()

        await asyncio.wait_for(wait(), 20)


async def queue_at(store: AsyncStore, at: datetime, guid: str) -> None:
    """An alert of a new story for CHAT (subscribed by `queue`), queued at `at`."""
    record = ItemRecord(
        guid=guid,
        link=f"https://n.example/{guid}",
        canonical_url=f"https://n.example/{guid}",
        title=f"Shikotan story {guid}",
        summary="Ferry news.",
        published_at=at,
        topics=("kuril",),
    )
    await store.run(Store.ingest, FeedState(id="f", url="u"), [record], now=at, alert=True)


def to_chat(bot_api: FakeBotAPI) -> list[Call]:
    return [c for c in bot_api.calls_of("sendMessage") if c.params["chat_id"] == CHAT]


@pytest.fixture
def other(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another writer of the store's file: a backup, an operator's command."""
    connection = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


async def test_a_store_locked_while_alerts_are_claimed_pauses_delivery_and_it_resumes(
    tmp_path: Path, bot_api: FakeBotAPI, other: sqlite3.Connection
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await store.run(short_busy_timeout)
    await queue(store, CHAT, "1")
    clock = Clock(T0)
    heard = _Records()
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=clock)
        with handler_on("bot.delivery", heard, logging.DEBUG):
            running = asyncio.create_task(worker.run())
            await heard.until("sent (item", logging.INFO)
            # a second alert, due once the clock moves: claimed only while the store is locked
            await queue_at(store, T0 + timedelta(seconds=1), "2")
            other.execute("BEGIN IMMEDIATE")
            clock.now = T0 + timedelta(seconds=1)
            worker.wake()
            await heard.until("store", logging.DEBUG, 2)  # tried again, and again
            assert not running.done()  # the daemon's Telegram side goes on
            other.execute("ROLLBACK")
            await bot_api.wait_for_messages_async(CHAT, 2)
            await heard.until("works again", logging.INFO)
            worker.stop()
            await asyncio.wait_for(running, 10)
    failures = [m for m in heard.at(logging.ERROR) + heard.at(logging.WARNING) if "store" in m]
    assert len(failures) == 1  # one line for the episode, not one per try
    assert len(bot_api.sent_messages(CHAT)) == 2  # nothing lost, nothing twice
    assert [row[1] for row in await outbox(store)] == ["sent", "sent"]
    await store.close()


async def test_a_store_locked_when_delivery_starts_delays_it_only(
    tmp_path: Path, bot_api: FakeBotAPI, other: sqlite3.Connection
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await store.run(short_busy_timeout)
    await queue(store, CHAT, "1")
    heard = _Records()
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=Clock(T0))
        with handler_on("bot.delivery", heard, logging.DEBUG):
            other.execute("BEGIN IMMEDIATE")
            running = asyncio.create_task(worker.run())
            await heard.until("store", logging.DEBUG, 2)
            assert not running.done()
            other.execute("ROLLBACK")
            await bot_api.wait_for_messages_async(CHAT, 1)
            worker.stop()
            await asyncio.wait_for(running, 10)
    assert [row[1] for row in await outbox(store)] == ["sent"]
    await store.close()


async def edit_due(store: AsyncStore, worker: DeliveryWorker) -> None:
    """CHAT's alert sent, then another outlet's report of its story: an "Also:" edit is due."""
    await queue(store, CHAT, "1")
    await step(worker)
    await another_outlet(store, T0 + timedelta(minutes=1))


async def test_an_update_that_fails_does_not_hold_the_chats_new_alerts(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_next("editMessageText", status=500, description="Internal Server Error")
    await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 1
    # before the update's retry is due (1 s): whether it would go in the same pass as the new
    # alert depended on how soon the alert's send was done, so on the machine's load
    await queue_at(store, T0 + timedelta(seconds=0.5), "2")
    clock.now = T0 + timedelta(seconds=0.5)
    assert await step(worker) == 1  # the new alert goes out now, not after the update
    assert len(bot_api.sent_messages(CHAT)) == 2
    assert len(bot_api.calls_of("editMessageText")) == 1  # the update waits for its retry
    clock.now += timedelta(seconds=2)
    await step(worker)
    edits = bot_api.calls_of("editMessageText")
    assert len(edits) == 2 and "Also: KYODO" in edits[1].params["text"]
    await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 2  # done


# a channel's admins took the bot's rights: Telegram answers, and says no at every try
NO_RIGHTS = "Bad Request: need administrator rights in the channel chat"


async def test_an_update_that_keeps_failing_is_given_up_after_a_few_tries(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """An update Telegram refuses, not one it cannot be reached for (that waits for it: see
    test_an_update_waits_out_a_telegram_outage_and_says_so_once)."""
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_next("editMessageText", status=400, description=NO_RIGHTS, times=100)
    heard = _Records()
    with handler_on("bot.delivery", heard, logging.INFO):
        for _ in range(20):
            await step(worker)
            clock.now += timedelta(minutes=10)  # the longest pause between two tries
    tries = len(bot_api.calls_of("editMessageText"))
    assert tries == EDIT_TRIES  # not every 30 s for 48 hours
    assert any("given up" in m for m in heard.at(logging.WARNING))
    assert await store.run(Store.due_edits, 50, now=clock.now) == []


async def test_an_update_waits_out_a_telegram_outage_and_says_so_once(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """Telegram down for three hours: the update was given up after 8 tries (4 minutes), each
    such update with a warning of its own, while alerts wait for the deadline; now it waits
    too, and the log has the outage's first failure and the line when it is over."""
    store, worker, clock = parts
    await queue(store, [CHAT, CHAT + 1])
    assert await step(worker) == 2
    await another_outlet(store, T0 + timedelta(minutes=1))  # both alerts to be edited
    tries = 18
    bot_api.fail_gateway("editMessageText", times=2 * tries)
    heard = _Records()
    with handler_on("bot.delivery", heard, logging.DEBUG):
        for _ in range(tries):
            assert await step(worker) == 2
            clock.now += worker.settings.max_backoff
        assert await step(worker) == 2  # Telegram is back
    for chat in (CHAT, CHAT + 1):
        shown = bot_api.message(chat, sent_message_id(bot_api, chat))
        assert shown is not None and "Also: KYODO" in shown["text"]
    warned = heard.at(logging.WARNING) + heard.at(logging.ERROR)
    assert len(warned) == 1 and "update failed" in warned[0], warned
    back = [m for m in heard.at(logging.INFO) if "reachable again" in m]
    assert len(back) == 1 and f"after {2 * tries}" in back[0], back


async def test_an_update_is_given_up_once_telegram_has_been_down_for_its_deadline(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    worker.settings = replace(worker.settings, deadline=timedelta(hours=2))
    await edit_due(store, worker)
    bot_api.fail_gateway("editMessageText", times=1000)
    heard = _Records()
    with handler_on("bot.delivery", heard, logging.DEBUG):
        for _ in range(30):
            await step(worker)
            clock.now += worker.settings.max_backoff
    tries = len(bot_api.calls_of("editMessageText"))
    assert EDIT_TRIES < tries < 30  # tried for its two hours, then no more
    assert await store.run(Store.due_edits, 50, now=clock.now) == []
    given_up = [r for r in heard.records if "update given up" in r.getMessage()]
    assert len(given_up) == 1 and "retried for 2:00:00" in given_up[0].getMessage()
    assert len(heard.at(logging.WARNING) + heard.at(logging.ERROR)) == 1  # the outage, once


async def test_flood_control_on_an_update_holds_the_chat_as_telegram_does(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_retry_after("editMessageText", 5)
    await step(worker)
    await queue_at(store, T0 + timedelta(minutes=2), "2")
    clock.now = T0 + timedelta(minutes=2)
    assert await step(worker) == 0  # Telegram said wait: the chat waits
    assert len(bot_api.sent_messages(CHAT)) == 1


async def test_the_admins_report_of_alerts_given_up_waits_out_a_locked_store(
    tmp_path: Path, bot_api: FakeBotAPI, other: sqlite3.Connection
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await store.run(short_busy_timeout)
    await queue(store, CHAT)
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=Clock(T0))
        await step(worker)  # given up: the admins are told at the next pass
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError):  # `run` pauses and tries again
            await worker.send_due()
        other.execute("ROLLBACK")
        await step(worker)
        await step(worker)
    [notice] = bot_api.sent_messages(ADMIN)
    assert "could not be delivered and were given up: 1" in notice["text"]
    await store.close()


async def _due(store: AsyncStore, kind: str) -> Clock:
    """An alert for CHAT, a digest due for CHAT or a notice for ADMIN, queued; the time then."""
    if kind == "digest":
        await two_for_a_daily_digest(store, CHAT)
        return Clock(datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC))  # 18:00 in Tokyo
    if kind == "notice":
        await store.run(Store.notify_admins, "kurilwatch: config reloaded", now=T0)
    else:
        await queue(store, CHAT)
    return Clock(T0)


@contextlib.asynccontextmanager
async def answered_slowly(
    tmp_path: Path, bot_api: FakeBotAPI, kind: str = "alert", journal_wait: float = 20.0
) -> AsyncIterator[tuple[AsyncStore, Bot, DeliveryWorker, _Records]]:
    """A send due (`_due`) on a store that times out fast, answered after 1 s (time to lock
    the store first), and the worker's log lines heard; a send kept at a stop waits
    `journal_wait` seconds at most for its file."""
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await store.run(short_busy_timeout)
    clock = await _due(store, kind)
    bot_api.stall_next("sendMessage", 1.0)
    heard = _Records()
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=clock, journal_wait=journal_wait)
        with handler_on("bot.delivery", heard, logging.DEBUG):
            yield store, bot, worker, heard


async def test_a_send_recorded_through_a_long_lock_is_logged_once_not_at_every_try(
    tmp_path: Path, bot_api: FakeBotAPI, other: sqlite3.Connection
) -> None:
    async with answered_slowly(tmp_path, bot_api) as (store, _bot, worker, heard):
        assert await worker.send_due() == 1
        other.execute("BEGIN IMMEDIATE")
        await heard.until("could not record", logging.DEBUG, 3)
        other.execute("ROLLBACK")
        await worker.drain()
    assert len([m for m in heard.at(logging.WARNING) if "could not record" in m]) == 1
    assert any("recorded after" in m for m in heard.at(logging.INFO))
    assert [row[1] for row in await outbox(store)] == ["sent"]
    await store.close()


@pytest.mark.parametrize("kind", ["alert", "digest", "notice"])
async def test_a_send_a_stop_cut_from_its_record_is_recorded_at_the_next_start_not_resent(
    tmp_path: Path, bot_api: FakeBotAPI, other: sqlite3.Connection, kind: str
) -> None:
    """The store locked from the send's answer until the stop's grace ran out: the row is left
    `sending`, which the next start queued again and sent twice. The send is kept beside the
    store and recorded at the next start instead."""
    async with answered_slowly(tmp_path, bot_api, kind) as (store, bot, worker, heard):
        first = asyncio.create_task(worker.run())
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, 20, "the send")
        other.execute("BEGIN IMMEDIATE")
        await heard.until("could not record", logging.WARNING)
        first.cancel()  # the stop's grace is over, the worker waiting for more to send
        await asyncio.wait({first}, timeout=20)
        assert first.done()  # the send waiting for the store was cut too
        await heard.until("recorded at the next start", logging.WARNING)
        other.execute("ROLLBACK")
        rows = 2 if kind == "digest" else 1
        assert await _states(store, kind) == ["sending"] * rows
        assert unrecorded.journal(store.path).exists()
        again = DeliveryWorker(store, bot, settings=FAST, clock=worker.clock)
        assert not again.kept_recorded  # weekly reports wait for it (`Daemon._insights_ready`)
        running = asyncio.create_task(again.run())
        await heard.until("delivery: 1 send made before the last stop recorded", logging.INFO)
        assert again.kept_recorded
        again.stop()
        await asyncio.wait_for(running, 20)
    assert await _states(store, kind) == ["sent"] * rows
    to = ADMIN if kind == "notice" else CHAT
    assert len([c for c in bot_api.calls_of("sendMessage") if c.params["chat_id"] == to]) == 1
    assert not unrecorded.journal(store.path).exists()
    await store.close()


async def _states(store: AsyncStore, kind: str) -> list[str]:
    if kind != "notice":
        return [row[1] for row in await outbox(store)]
    return [n["state"] for n in await store.run(Store.notices) if n["state"] != "fanned"]


async def test_the_file_of_sends_kept_unrecorded_is_its_users_alone(tmp_path: Path) -> None:
    """It names the chats sent what, as the store does, and was made 0644 under umask 022."""
    old = os.umask(0o022)
    try:
        await unrecorded.keep(
            tmp_path / "kw.db", unrecorded.SentNotice(14, datetime(2026, 12, 2, tzinfo=UTC))
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(unrecorded.journal(tmp_path / "kw.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("every_task", [False, True], ids=["its-task", "every-task"])
async def test_a_kept_send_is_written_off_the_event_loop_and_awaited_through_a_second_stop(
    tmp_path: Path, every_task: bool
) -> None:
    """`keep` wrote its file on the event loop (a disk that hangs hung every chat's sends);
    now on a thread, and still on disk before what awaits it returns, even if a second cancel
    comes while the write waits: to its task, or to every task (as `asyncio.run`'s end does,
    which once cancelled the write's own task, and `keep` returned with the line unwritten).
    The file is a FIFO here: its write waits for a reader."""
    path = unrecorded.journal(tmp_path / "kw.db")
    os.mkfifo(path, 0o600)
    loop_ran, read = threading.Event(), []

    def reader() -> None:
        if not loop_ran.wait(timeout=20):  # the loop never ran: the write held it
            read.append("(the loop was blocked)")
        with path.open(encoding="utf-8") as fifo:
            read.append(fifo.read())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        at = datetime(2026, 12, 2, tzinfo=UTC)
        kept = unrecorded.SentNotice(14, at)
        before = asyncio.all_tasks()
        keeping = asyncio.create_task(unrecorded.keep(tmp_path / "kw.db", kept, wait=60))
        for _ in range(5):
            await asyncio.sleep(0)
        # a second stop while the write waits: it is waited for all the same
        for task in asyncio.all_tasks() - before if every_task else {keeping}:
            task.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        assert not keeping.done()
        loop_ran.set()
        await asyncio.wait({keeping}, timeout=20)
        assert keeping.cancelled()  # the cancel is not lost either
    finally:
        loop_ran.set()
        thread.join(timeout=20)
    assert len(read) == 1 and '"kind": "notice", "id": 14' in read[0], read


@contextlib.contextmanager
def journal_held(store_path: Path) -> Iterator[Path]:
    """The file of kept sends as a FIFO nobody reads: its writes wait, as on a disk that hangs
    (NFS, a full device stalling). Read at the end, so the write's thread ends."""
    path = unrecorded.journal(store_path)
    os.mkfifo(path, 0o600)
    try:
        yield path
    finally:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))


@pytest.mark.parametrize("stop", [True, False], ids=["at-a-stop", "store-failed"])
async def test_a_kept_send_the_disk_holds_is_waited_for_at_most_its_bound_then_said_lost(
    tmp_path: Path, stop: bool
) -> None:
    """A write of the file that hangs held `keep`, and so the stop, for ever: now it waits
    `wait` seconds at most (through a stop's cancel), then says which file and what may be
    sent twice, and goes on; the write, if it ends later, still keeps the send."""
    heard = _Records()
    with handler_on("bot.delivery", heard), journal_held(tmp_path / "kw.db") as path:
        at = datetime(2026, 12, 2, tzinfo=UTC)
        sent = unrecorded.SentDigest((7, 8, 9), at, (10,), 1)
        keeping = asyncio.create_task(
            unrecorded.keep(tmp_path / "kw.db", sent, stop=stop, wait=0.05)
        )
        if stop:
            await asyncio.sleep(0)
            keeping.cancel()  # a stop's, while the write waits
        await asyncio.wait({keeping}, timeout=20)
        assert keeping.done()
        assert keeping.cancelled() == stop  # the cancel is not lost
        (error,) = heard.at(logging.ERROR)
        assert f"{path}: not written within 0.05 s" in error
        assert "a digest of 3 alerts sent but not recorded" in error
        assert "may be sent again at the next start" in error
        assert ("the stop goes on" in error) == stop
        # the disk comes back: the line lands late, and keeps the send all the same
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            await heard.until("recorded at the next start", logging.WARNING)
            assert '"kind": "digest", "ids": [7, 8, 9]' in os.read(reader, 4096).decode()
        finally:
            os.close(reader)


async def test_a_stop_goes_on_when_the_disk_holds_the_file_of_sends_it_cut(
    tmp_path: Path, bot_api: FakeBotAPI, other: sqlite3.Connection
) -> None:
    """The store locked past the stop's grace, and the file of kept sends on a disk that
    hangs: the worker waited for the file for ever, and the stop with it."""
    async with answered_slowly(tmp_path, bot_api, journal_wait=0.05) as (store, _, worker, heard):
        first = asyncio.create_task(worker.run())
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, 20, "the send")
        assert worker.kept_recorded  # the file read at the start, before it hangs
        with journal_held(tmp_path / "kw.db") as path:
            other.execute("BEGIN IMMEDIATE")
            await heard.until("could not record", logging.WARNING)
            first.cancel()  # the stop's grace is over
            await asyncio.wait({first}, timeout=20)
            assert first.done()
            other.execute("ROLLBACK")
            lost = [m for m in heard.at(logging.ERROR) if "not written within" in m]
            assert len(lost) == 1 and str(path) in lost[0], heard.at(logging.ERROR)
            assert "alert 1 sent but not recorded" in lost[0]
            assert await _states(store, "alert") == ["sending"]  # sent again after the start
    await store.close()


async def test_a_kept_send_cut_short_or_out_of_range_is_skipped_and_the_others_read(
    tmp_path: Path,
) -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    path = unrecorded.journal(tmp_path / "kw.db")
    await unrecorded.keep(tmp_path / "kw.db", unrecorded.Sent(7, 70, at, ("NHK",)))
    with path.open("a", encoding="utf-8") as out:
        out.write('{"delivery_id": 8, "mess')  # the write a full disk cut
        out.write('\n{"delivery_id": 9, "message_id": 1, "at": 1e300, "also": []}')
        out.write('\n{"delivery_id": 99999999999999999999, "message_id": 1, "at": 0, "also": []}')
        out.write('\n{"kind": "digest", "ids": [1, -2], "at": 0}')
        out.write('\n{"kind": "digest", "ids": 3, "at": 0}')
        out.write('\n{"kind": "poll", "id": 3, "at": 0}\n[1, 2]\n"text"\n' + "[" * 100_000)
        out.write('\n{"delivery_id": true, "message_id": 1, "at": 0, "also": []}')
        out.write('\n{"delivery_id": 2.9, "message_id": 1, "at": 0, "also": []}')
        out.write('\n{"delivery_id": 3, "message_id": 1, "at": 0, "also": "NHK"}')
        out.write('\n{"kind": "digest", "ids": [1], "rest": [], "part": 1e18, "at": 0}')
    await unrecorded.keep(tmp_path / "kw.db", unrecorded.Sent(10, None, at, ()))
    await unrecorded.keep(tmp_path / "kw.db", unrecorded.SentDigest((11, 12), at, (13,), 2))
    await unrecorded.keep(tmp_path / "kw.db", unrecorded.SentNotice(14, at))
    await unrecorded.keep(tmp_path / "kw.db", unrecorded.SentDigest((), at, (15, 16), 3))
    with path.open("a", encoding="utf-8") as out:
        out.write('\n{"kind": "report", "chat": true, "due": 0, "at": 0}')
        out.write('\n{"kind": "report", "chat": 5, "at": 0}\n')
    await unrecorded.keep(
        tmp_path / "kw.db", unrecorded.SentReport(-1001, at - timedelta(hours=1), at)
    )
    reading = unrecorded.read(path)
    assert len(reading.bad) == 15 and reading.cut == ""
    assert reading.kept == [
        unrecorded.Sent(7, 70, at, ("NHK",)),
        unrecorded.Sent(10, None, at, ()),
        unrecorded.SentDigest((11, 12), at, (13,), 2),
        unrecorded.SentNotice(14, at),
        unrecorded.SentDigest((), at, (15, 16), 3),
        unrecorded.SentReport(-1001, at - timedelta(hours=1), at),
    ]


async def test_a_kept_sends_file_longer_than_is_read_says_so(tmp_path: Path) -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    await unrecorded.keep(tmp_path / "kw.db", unrecorded.Sent(7, 70, at, ("NHK",)))
    path = unrecorded.journal(tmp_path / "kw.db")
    with path.open("a", encoding="utf-8") as out:
        out.write(("x" * 999 + "\n") * (unrecorded.MAX_BYTES // 1000 + 1))
    reading = unrecorded.read(path)
    assert reading.kept == [unrecorded.Sent(7, 70, at, ("NHK",))]
    assert reading.cut == f"the part past its first {unrecorded.MAX_BYTES} bytes"


async def nhk_joins(store: AsyncStore, at: datetime) -> None:
    """NHK's report of the story of `edit_due`'s alert, stored at `at`."""
    nhk = ItemRecord(
        "nhk-1", "https://n.example/1", "https://n.example/1", "x", "y", T0, ("kuril",)
    )
    state = FeedState(id="nhk", url="u-nhk", title="NHK")
    await store.run(Store.ingest, state, [nhk], now=at, alert=True)


async def test_an_outlet_that_comes_at_an_updates_last_try_gets_tries_of_its_own(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    # refused (no rights) for minutes: the update's last try is next when NHK joins, and it
    # fails, and so does the next
    bot_api.fail_next("editMessageText", status=400, description=NO_RIGHTS, times=EDIT_TRIES + 1)
    for _ in range(EDIT_TRIES - 1):
        clock.now += timedelta(minutes=10)
        await step(worker)
    await nhk_joins(store, clock.now)
    for _ in range(3):
        clock.now += timedelta(minutes=10)
        await step(worker)
    await step(worker)
    ok = [e for e in bot_api.calls_of("editMessageText") if e.ok]
    assert len(ok) == 1 and "Also: KYODO, NHK" in ok[0].params["text"]
    shown = bot_api.message(CHAT, sent_message_id(bot_api, CHAT))
    assert shown is not None and "Also: KYODO, NHK" in shown["text"]


async def test_an_outlet_gives_a_failing_update_one_more_chance_not_an_endless_one(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_next("editMessageText", status=400, description=NO_RIGHTS, times=1000)
    for _ in range(EDIT_TRIES - 1):
        clock.now += timedelta(minutes=10)
        await step(worker)
    await nhk_joins(store, clock.now)
    for _ in range(3 * EDIT_TRIES):  # the rights never come back
        clock.now += timedelta(minutes=10)
        await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 2 * EDIT_TRIES - 1
    assert await store.run(Store.due_edits, 50, now=clock.now) == []


async def test_a_channel_that_has_not_given_the_bot_its_rights_yet_gets_its_alerts_once_it_does(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    no_rights = "Bad Request: need administrator rights in the channel chat"
    bot_api.fail_next("sendMessage", status=400, description=no_rights, times=4)
    for _ in range(4):  # two alerts, each refused twice while the channel's admins look
        await step(worker)
        clock.now += timedelta(minutes=10)
    assert [row[1] for row in await outbox(store)] == ["pending", "pending"]
    await step(worker)
    await step(worker)
    assert len(bot_api.sent_messages(CHAT)) == 2  # neither was given up
    assert [row[1] for row in await outbox(store)] == ["sent", "sent"]
    assert bot_api.sent_messages(ADMIN) == []  # nothing to report


async def test_a_channel_without_rights_for_hours_is_one_error_and_one_line_when_it_has_them(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A channel whose admins took the bot's right to post: each of its alerts waits until
    delivery.deadline, and each try of each was an error line (a line per alert every
    max_backoff). Now the chat's first refusal is told, and the send that goes through again."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    no_rights = "Bad Request: need administrator rights in the channel chat"
    tries = 12  # a chat's alerts go in order: one try each pass
    bot_api.fail_next("sendMessage", status=400, description=no_rights, times=tries)
    heard = _Records()
    with handler_on("bot.delivery", heard, logging.DEBUG):
        for _ in range(tries):
            assert await step(worker) == 1
            clock.now += worker.settings.max_backoff
        assert bot_api.sent_messages(CHAT) == []
        await step(worker)  # the rights are given back
        await step(worker)
    assert len(bot_api.sent_messages(CHAT)) == 2
    told = heard.at(logging.WARNING) + heard.at(logging.ERROR)
    assert len(told) == 1 and f"chat {CHAT}" in told[0] and "administrator rights" in told[0]
    back = [m for m in heard.at(logging.INFO) if "may post there again" in m]
    assert len(back) == 1 and f"chat {CHAT}" in back[0] and f"after {tries} sends" in back[0]


async def test_a_channel_without_rights_is_tried_once_at_a_time_not_once_per_alert(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """Each queued alert of a channel that took the bot's right to post was tried on its own
    backoff: three alerts, three tries each time. Now the chat's other alerts wait with the
    refused one: one try at a time for the chat, and all are sent when the rights are back."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    await queue_at(store, T0, "3")
    no_rights = "Bad Request: have no rights to send a message"
    window = timedelta(minutes=10)
    tries = next(n for n in range(100) if waited(n, worker.settings.max_backoff) > window)
    bot_api.fail_next("sendMessage", status=400, description=no_rights, chat_id=CHAT, times=tries)
    for _ in range(100):  # the clock goes to each next try, the rights still taken
        due = await store.run(Store.next_due_at)
        if due is None or due > T0 + window:
            break
        clock.now = max(clock.now, due)
        await step(worker)
    assert len(to_chat(bot_api)) == tries  # as many as one alert's backoff
    assert bot_api.sent_messages(CHAT) == []
    assert [row[1] for row in await outbox(store)] == ["pending"] * 3
    clock.now = await store.run(Store.next_due_at) or clock.now  # the rights are back
    for _ in range(3):
        await step(worker)
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert len(texts) == 3 and "Iturup" in texts[0] and "story 3" in texts[2]
    assert [row[1] for row in await outbox(store)] == ["sent"] * 3
    assert bot_api.sent_messages(ADMIN) == []


async def test_a_channel_without_rights_past_the_deadline_gives_up_the_alerts_that_waited_it(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """The alerts that waited with the refused one as long as the deadline allows are given up
    with it, not tried one by one afterwards; one queued since waits its own deadline out."""
    store, worker, clock = parts
    worker.settings = replace(worker.settings, deadline=timedelta(minutes=5))
    tries = tries_within(worker.settings.deadline, worker.settings.max_backoff)
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    no_rights = "Bad Request: have no rights to send a message"
    bot_api.fail_next("sendMessage", status=400, description=no_rights, chat_id=CHAT, times=999)

    async def next_try() -> None:
        clock.now = max(clock.now, await store.run(Store.next_due_at) or clock.now)
        await step(worker)

    for _ in range(5):
        await next_try()
    await queue_at(store, clock.now, "3")
    for _ in range(tries - 5):
        await next_try()
    assert [row[1] for row in await outbox(store)] == ["pending"] * 3
    heard = _Records()
    with handler_on("bot.delivery", heard, logging.DEBUG):
        await next_try()  # its deadline is over: the two that waited it with it go too
    assert [row[1] for row in await outbox(store)] == ["failed", "failed", "pending"]
    [told] = heard.at(logging.ERROR)  # once for the chat, not once per alert
    assert f"chat {CHAT}: 2 alerts" in told and "no rights to send" in told
    assert len(to_chat(bot_api)) == tries + 1
    for _ in range(6):
        await next_try()
    assert [row[1] for row in await outbox(store)] == ["failed"] * 3
    assert await store.run(Store.next_due_at) is None
    assert bot_api.sent_messages(CHAT) == []
    report = bot_api.sent_messages(ADMIN)[0]["text"]
    assert "given up: 2 " in report and f"- chat {CHAT}, 2 alerts" in report


async def test_a_channel_s_alerts_given_up_together_are_told_in_the_admins_language(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """The line of a chat's alerts given up together, and how long they were retried, were
    English in a Russian or Japanese notice ("chat 1001, 2 alerts (the first 1) (...): ...
    (retried for 0:05:00)"); then Telegram's words stood alone in it, untold what they mean."""
    store, worker, clock = parts
    ru, ja = await admins_reading(store, worker)
    worker.settings = replace(worker.settings, deadline=timedelta(minutes=5))
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    no_rights = "Bad Request: have no rights to send a message"
    bot_api.fail_next("sendMessage", status=400, description=no_rights, chat_id=CHAT, times=999)
    while await store.run(Store.next_due_at) is not None:
        clock.now = max(clock.now, await store.run(Store.next_due_at) or clock.now)
        await step(worker)
    await step(worker)  # the notice
    assert [row[1] for row in await outbox(store)] == ["failed", "failed"]
    [russian] = [m["text"].splitlines()[1:] for m in bot_api.sent_messages(ru)]
    [japanese] = [m["text"].splitlines()[1:] for m in bot_api.sent_messages(ja)]
    cause = "BadRequest: Have no rights to send a message"
    assert russian == [
        f"- чат {CHAT}, 2 оповещения (первое — 1) (Iturup <airport> & port): у бота нет права"
        f" писать в этот чат; попытки повторялись 5 минут (ответ Telegram: {cause})"
    ], russian
    assert japanese == [
        f"- チャット {CHAT}、通知2件（最初は 1）（Iturup <airport> & port）: そのチャットに投稿する"
        f"権限がボットにありません。5 分にわたり再試行しました（Telegram: {cause}）"
    ], japanese


async def test_alerts_given_up_are_sent_once_queued_again(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    """`kurilwatch resend`: what an outage longer than the deadline left failed goes out, and
    before the chat's later alerts; a gone chat's alerts and older ones stay as they were."""
    store, worker, clock = parts
    await queue(store, [CHAT, GROUP], "1")
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["failed", "failed"]
    await store.run(Store.deactivate_chat, GROUP, "Forbidden: bot was kicked", now=clock.now)
    await queue_at(store, T0 + timedelta(minutes=1), "2")
    clock.now = T0 + timedelta(minutes=1)
    requeued = await store.run(Store.requeue_failed, T0 - timedelta(hours=1), now=clock.now)
    assert requeued == {CHAT: 1}
    assert await store.run(Store.requeue_failed, T0 - timedelta(hours=1), now=clock.now) == {}
    await step(worker)
    await step(worker)
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert len(texts) == 2 and "Iturup" in texts[0] and "Shikotan story 2" in texts[1]
    assert sorted(row[1] for row in await outbox(store)) == ["failed", "sent", "sent"]
    assert await store.run(Store.requeue_failed, T0 + timedelta(hours=1), now=clock.now) == {}


async def test_telegram_down_for_hours_is_one_warning_and_one_line_when_it_is_back(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A day of Telegram (or the network to it) down: every chat's alert is tried again every
    max_backoff; the log says so as it starts and as it ends, not at every try of every chat."""
    store, worker, clock = parts
    chats = [CHAT + n for n in range(5)]
    await queue(store, chats)
    tries = 12
    bot_api.fail_gateway("sendMessage", times=len(chats) * tries)
    heard = _Records()
    with handler_on("bot.delivery", heard, logging.DEBUG):
        for _ in range(tries):
            assert await step(worker) == len(chats)
            clock.now += worker.settings.max_backoff
        assert len(bot_api.sent_messages()) == 0
        assert await step(worker) == len(chats)  # Telegram is back
    assert all(len(bot_api.sent_messages(chat)) == 1 for chat in chats)
    warned = heard.at(logging.WARNING) + heard.at(logging.ERROR)
    assert len(warned) == 1, warned  # the outage, once
    assert "502" in warned[0] or "Bad Gateway" in warned[0]
    back = [m for m in heard.at(logging.INFO) if "again" in m]
    assert len(back) == 1 and str(len(chats) * tries) in back[0], back


async def test_a_setting_changed_while_a_chat_is_held_for_rights_does_not_end_the_hold(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A group the bot may not post to is held until its next try; an admin's /quiet (any
    setting) made the sender decide its holds afresh, which dropped that hold too: an alert
    queued since was tried at once, and each such refusal counted as a try of every alert
    waiting, giving them up hours before the deadline."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    no_rights = "Bad Request: have no rights to send a message"
    bot_api.fail_next("sendMessage", status=400, description=no_rights, chat_id=CHAT, times=999)
    for _ in range(8):  # the chat is held a few minutes between tries by now
        clock.now = max(clock.now, await store.run(Store.next_due_at) or clock.now)
        await step(worker)
    tried = len(to_chat(bot_api))
    held_until = await store.run(Store.next_due_at)
    assert held_until is not None and held_until > clock.now
    await queue_at(store, clock.now, "2")
    await store.run(Store.set_prefs, CHAT, now=clock.now, quiet="23:00-07:00 silent")
    assert await store.run(Store.next_due_at) == held_until
    await step(worker)
    assert len(to_chat(bot_api)) == tried  # no try before the hold ends
    assert [row[2] for row in await outbox(store)] == [8, 0]


async def test_an_alert_its_reader_deleted_is_not_edited_again_at_each_later_outlet(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    await worker.bot.delete_message(CHAT, sent_message_id(bot_api, CHAT))
    await step(worker)  # Telegram: "message to edit not found"
    assert not bot_api.calls_of("editMessageText")[-1].ok
    for n in range(3):  # three more outlets carry the story over the day
        outlet = ItemRecord(
            f"o{n}", "https://n.example/1", "https://n.example/1", "x", "y", T0, ("kuril",)
        )
        clock.now += timedelta(hours=1)
        state = FeedState(id=f"o{n}", url=f"u-o{n}", title=f"Outlet {n}")
        await store.run(Store.ingest, state, [outlet], now=clock.now, alert=True)
        await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 1  # refused once, not once per outlet
    assert await store.run(Store.due_edits, 50, now=clock.now) == []
    await queue_at(store, clock.now, "2")  # the chat's next story is alerted as ever
    await step(worker)
    assert len(bot_api.sent_messages(CHAT)) == 2


async def test_an_alert_resent_after_a_restart_with_its_new_outlet_is_not_edited_in_vain(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    [alert] = await store.run(Store.due_deliveries, clock.now)
    assert await store.run(Store.claim_delivery, alert.id, now=clock.now)  # on its way...
    await another_outlet(store, T0 + timedelta(minutes=1))  # ...when Kyodo joins its story
    await store.run(Store.requeue_inflight)  # the daemon killed before its send was recorded
    await step(worker)
    [sent] = bot_api.sent_messages(CHAT)
    assert "Also: KYODO" in sent["text"]
    await step(worker)
    # before, an edit to the same text followed, refused "message is not modified"
    assert bot_api.calls_of("editMessageText") == []
    assert await store.run(Store.due_edits, 50, now=clock.now) == []


async def test_the_update_that_found_the_bot_blocked_waits_for_the_chat_to_come_back(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_blocked(CHAT)
    await step(worker)  # 403: the chat is marked gone
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and not subscriber.active
    await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 1  # not tried while it is gone
    bot_api.unblock(CHAT)
    await store.run(Store.upsert_subscriber, CHAT, now=clock.now)  # its /start
    await step(worker)
    # before, the update that met the 403 was dropped, unlike those of its other alerts
    shown = bot_api.message(CHAT, sent_message_id(bot_api, CHAT))
    assert shown is not None and "Also: KYODO" in shown["text"]


async def test_an_update_that_finds_the_chat_gone_marks_it_gone_as_a_send_does(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_next("editMessageText", status=400, description="Bad Request: chat not found")
    await step(worker)
    # before, only the update was dropped: the chat stayed active, and its next alerts went on
    # failing one by one
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and not subscriber.active
    await queue_at(store, clock.now, "2")  # a gone chat is queued nothing
    assert await step(worker) == 0
    await store.run(Store.upsert_subscriber, CHAT, now=clock.now)  # back: its /start
    await step(worker)
    shown = bot_api.message(CHAT, sent_message_id(bot_api, CHAT))
    assert shown is not None and "Also: KYODO" in shown["text"]  # the update waited for it


async def test_a_chat_back_days_after_it_blocked_the_bot_gets_no_update_of_an_old_alert(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await edit_due(store, worker)
    bot_api.fail_blocked(CHAT)
    await step(worker)  # 403: the update waits for the chat
    bot_api.unblock(CHAT)
    clock.now += timedelta(days=3)  # its story's updates ended a day ago
    await store.run(Store.upsert_subscriber, CHAT, now=clock.now)  # its /start
    await step(worker)
    # before, the alert of three days ago was rewritten, however long the chat had been away
    assert len(bot_api.calls_of("editMessageText")) == 1
    assert await store.run(Store.due_edits, 50, now=clock.now) == []


async def test_a_digest_failing_past_its_deadline_gives_up_only_the_alerts_that_waited_it(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A burst sent as one digest, Telegram down: at the digest's deadline every alert in it was
    given up, also one queued minutes before. Now each alert keeps its own deadline: those that
    waited theirs out are given up, the one queued since waits and is sent when Telegram is
    back."""
    store, worker, clock = parts
    worker.metrics = Metrics(stale_after=timedelta(minutes=1), stuck_after=timedelta(minutes=1))
    worker.settings = replace(worker.settings, deadline=timedelta(minutes=5))
    tries = tries_within(worker.settings.deadline, worker.settings.max_backoff)
    await queue(store, CHAT, "0")
    for n in range(1, worker.settings.burst_digest + 1):  # more than a burst: one digest
        await queue_at(store, T0, str(n))
    bot_api.fail_gateway("sendMessage", times=tries + 1)  # then Telegram is back

    async def next_try() -> None:
        clock.now = max(clock.now, await store.run(Store.next_due_at) or clock.now)
        await step(worker)

    for _ in range(tries - 1):
        await next_try()
    await queue_at(store, clock.now, "late")  # queued a few minutes before the deadline
    await next_try()
    assert {row[1] for row in await outbox(store)} == {"pending"}
    await next_try()  # the first alerts' deadline is over: they are given up, not the new one
    states = [row[1] for row in await outbox(store)]
    assert states == ["failed"] * (worker.settings.burst_digest + 1) + ["pending"]
    # each alert given up is counted, as one given up alone is (a digest's tries are not)
    counted = worker.metrics.registry.get_sample_value(
        "kurilwatch_deliveries_total", {"outcome": "error"}
    )
    assert counted == worker.settings.burst_digest + 1
    await next_try()
    report = bot_api.sent_messages(ADMIN)[0]["text"]
    assert f"given up: {worker.settings.burst_digest + 1} " in report
    [alert] = bot_api.sent_messages(CHAT)
    assert "Shikotan story late" in alert["text"]
    assert [row[1] for row in await outbox(store)][-1] == "sent"


async def test_alerts_given_up_with_a_refused_one_are_each_counted_in_the_metrics(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A channel without rights at the deadline: its three alerts are given up together, and
    kurilwatch_deliveries_total counted the one refusal tried, not the two given up with it."""
    store, worker, clock = parts
    worker.metrics = Metrics(stale_after=timedelta(minutes=1), stuck_after=timedelta(minutes=1))
    worker.settings = replace(worker.settings, deadline=timedelta(minutes=5))
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    await queue_at(store, T0, "3")
    no_rights = "Bad Request: have no rights to send a message"
    bot_api.fail_next("sendMessage", status=400, description=no_rights, chat_id=CHAT, times=999)
    for _ in range(100):
        if {row[1] for row in await outbox(store)} == {"failed"}:
            break
        clock.now = max(clock.now, await store.run(Store.next_due_at) or clock.now)
        await step(worker)
    assert [row[1] for row in await outbox(store)] == ["failed"] * 3
    counted = worker.metrics.registry.get_sample_value(
        "kurilwatch_deliveries_total", {"outcome": "no_rights"}
    )
    assert counted == len(to_chat(bot_api)) + 2  # each try, and the two given up with the last


@pytest.mark.parametrize("digest", [True, False])
async def test_an_alert_in_flight_when_its_topic_is_left_never_comes_back(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI, digest: bool
) -> None:
    """/unsubscribe while a digest (or an alert) of the topic is on its way, and the send
    fails: its rows were put back pending as they were, and sent at the retry, seconds after
    the chat said it wants no more of the topic."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    if digest:
        await store.run(Store.set_prefs, CHAT, now=T0, digest="daily 18:00", timezone="Asia/Tokyo")
        await queue(store, CHAT, "2")
        clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)  # the digest is due
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway", chat_id=CHAT)
    bot_api.hold_answers()
    try:
        assert await worker.send_due() == 1
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, 10, "a send in flight")
        assert await store.run(Store.unsubscribe, CHAT, "kuril")  # while it is on its way
    finally:
        bot_api.release_answers()
    await worker.drain()
    for _ in range(3):  # its retries
        clock.now += worker.settings.max_backoff
        await step(worker)
    assert bot_api.sent_messages(CHAT) == []
    assert {(state, error) for _, state, _, error in await outbox(store)} == {
        ("dropped", "unsubscribed")
    }


async def test_a_burst_digest_refused_for_want_of_rights_holds_the_chat_as_an_alert_does(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A channel that took the bot's right to post, met by a burst digest: the digest's rows
    were retried on their own backoff and the chat was not held, so each alert queued since was
    tried (and refused) at once, each refusal a try of every alert waiting."""
    store, worker, clock = parts
    await queue(store, CHAT, "0")
    for n in range(1, worker.settings.burst_digest + 1):  # more than a burst: one digest
        await queue_at(store, T0, str(n))
    no_rights = "Bad Request: need administrator rights in the channel chat"
    bot_api.fail_next("sendMessage", status=400, description=no_rights, chat_id=CHAT, times=999)
    await step(worker)
    [digest] = to_chat(bot_api)
    assert "Digest" in digest.params["text"]
    held_until = await store.run(Store.next_due_at)
    assert held_until is not None and held_until > clock.now
    chat = await store.run(lambda s: s._one("SELECT refused_until FROM subscribers", []))
    assert chat is not None and chat["refused_until"] == held_until.timestamp()
    await queue_at(store, clock.now, "late")
    await step(worker)
    assert len(to_chat(bot_api)) == 1  # no try before the chat's hold ends
    assert await store.run(Store.next_due_at) == held_until
    clock.now = held_until
    await step(worker)
    assert len(to_chat(bot_api)) == 2  # the chat's next try: all of it, one digest again
    assert "12 stories" in to_chat(bot_api)[1].params["text"]


async def test_a_damaged_store_pauses_delivery_and_says_what_to_do(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    """A store damaged under the daemon (a bad sector in the outbox's index) ended the delivery
    loop with the error, and so the daemon: restarted by systemd every 10 s to fail again, a
    traceback each time; now delivery pauses as for a locked store, saying once what to do."""
    from tests.test_poll import damage_index

    damage_index(tmp_path / "kw.db", "idx_outbox_state_chat_id_next_attempt_at")
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    heard = _Records()
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=Clock(T0))
        with handler_on("bot.delivery", heard, logging.DEBUG):
            running = asyncio.create_task(worker.run())
            paused = asyncio.create_task(heard.until("delivery paused", logging.ERROR))
            await asyncio.wait({paused, running}, return_when=asyncio.FIRST_COMPLETED)
            assert not running.done(), running.exception()  # the Telegram side goes on
            await paused
            worker.stop()
            await asyncio.wait_for(running, 10)
    [said] = heard.at(logging.ERROR)
    assert f"the store {tmp_path / 'kw.db'} is damaged" in said and "kurilwatch restore" in said
    await store.close()


async def test_a_kept_digest_part_numbers_the_rest_of_the_digest_on_at_the_next_start(
    tmp_path: Path,
) -> None:
    """A stop that cut the numbering of a digest's rest after its part 1 was recorded: kept,
    the rest are numbered on at the next start (else its next message is "part 1" again)."""
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await two_for_a_daily_digest(store, CHAT)
    due = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    first, rest = await store.run(Store.claim_digest, CHAT, due, now=due)
    await store.run(Store.settle_many, [first.id], OutboxState.SENT, now=due)
    await unrecorded.keep(store.path, unrecorded.SentDigest((), due, (rest.id,), 1))
    assert await unrecorded.record_kept(store) == 1
    await store.run(Store.requeue_inflight)
    [again] = await store.run(Store.claim_digest, CHAT, due, now=due)
    assert (again.id, again.digest_part) == (rest.id, 1)
    await store.close()
