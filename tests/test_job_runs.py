"""The daemon's job executor: a stop lets the runs in flight end, and one that it cuts short, or
that it cancels before its first step, is not logged as a failed job (no traceback)."""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import load_config
from bot.daemon import Daemon
from tests.conftest import handler_on, write_config
from watchers.job_runs import JobRuns, clock_set_back, retry_wait, scheduler_with_runs

WAIT = 10  # seconds, bounding each wait for an event


class Records(logging.Handler):
    """The records of the `apscheduler` loggers; `seen` is set by the first at `level` or up."""

    def __init__(self, level: int) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.at = level
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if record.levelno >= self.at:
            self.seen.set()

    def problems(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING or r.exc_info]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records(logging.WARNING)
    with handler_on("apscheduler", handler):
        yield handler


def due_now(scheduler: AsyncIOScheduler, job: object, **options: object) -> None:
    scheduler.add_job(job, "date", run_date=datetime.now(UTC), **options)


async def test_a_run_submitted_as_the_scheduler_shuts_down_still_runs_and_nothing_is_logged(
    records: Records,
) -> None:
    # start() queues the scheduler's wakeup and shutdown() queues the shutdown right behind
    # it: the wakeup submits the due run and the shutdown comes before the run's first step,
    # as when SIGTERM meets a poll coming due in the same turn of the event loop
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler, runs = scheduler_with_runs()
    due_now(scheduler, job)
    scheduler.start()
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    assert ran.is_set()
    assert records.problems() == []


async def test_apschedulers_own_executor_logs_that_run_as_a_failed_job_with_a_traceback(
    records: Records,
) -> None:
    """Why JobRuns exists: should APScheduler stop doing this, this test fails and JobRuns
    can go."""

    async def job() -> None:
        raise AssertionError("never runs: cancelled before its first step")

    scheduler = AsyncIOScheduler(timezone=UTC)
    due_now(scheduler, job)
    scheduler.start()
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(records.seen.wait(), WAIT)
    [error] = [r for r in records.records if r.levelno >= logging.ERROR]
    assert error.getMessage().startswith("Error running job")
    assert error.exc_info is not None and error.exc_info[0] is asyncio.CancelledError


async def test_a_run_still_going_after_the_grace_is_cancelled_quietly(records: Records) -> None:
    started, cleaned_up = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # a send or a store call that hangs
        finally:
            cleaned_up.set()

    scheduler, runs = scheduler_with_runs()
    due_now(scheduler, job)
    scheduler.start()
    await asyncio.wait_for(started.wait(), WAIT)
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(runs.stop(grace=0), WAIT)
    assert cleaned_up.is_set()
    assert records.problems() == []


async def test_stop_waits_for_a_run_in_flight_within_the_grace(records: Records) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        await release.wait()
        finished.set()

    scheduler, runs = scheduler_with_runs()
    due_now(scheduler, job)
    scheduler.start()
    await asyncio.wait_for(started.wait(), WAIT)
    scheduler.shutdown(wait=False)
    stopping = asyncio.create_task(runs.stop(grace=WAIT))
    await asyncio.sleep(0)
    assert not stopping.done()  # the run is still in flight: stop waits for it
    release.set()
    await asyncio.wait_for(stopping, WAIT)
    assert finished.is_set()
    assert records.problems() == []


async def test_a_job_that_fails_is_still_logged_with_its_traceback(records: Records) -> None:
    async def job() -> None:
        raise ValueError("a bug in a job")

    scheduler, runs = scheduler_with_runs()
    due_now(scheduler, job, name="buggy")
    scheduler.start()
    await asyncio.wait_for(records.seen.wait(), WAIT)
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    [error] = [r for r in records.records if r.levelno >= logging.ERROR]
    assert "raised an exception" in error.getMessage() and "buggy" in error.getMessage()
    assert error.exc_info is not None and error.exc_info[0] is ValueError


async def test_a_run_later_than_its_misfire_grace_is_skipped_with_a_warning(
    records: Records,
) -> None:
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler, runs = scheduler_with_runs()
    late = datetime.now(UTC) - timedelta(hours=1)
    scheduler.add_job(job, "date", run_date=late, misfire_grace_time=1)
    scheduler.start()
    await asyncio.wait_for(records.seen.wait(), WAIT)
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    assert not ran.is_set()
    assert any("was missed by" in r.getMessage() for r in records.records)


async def test_a_daily_job_whose_time_passed_while_the_machine_slept_runs_once_late(
    records: Records,
) -> None:
    """The daemon's housekeeping (daily) after a suspend over its time: the scheduler's timer
    is monotonic and stood still, so it wakes hours after the run time. The run is late, not
    missed: skipped, it waited another day (and every day, for a machine asleep at that hour)."""
    ran: list[datetime] = []
    done = asyncio.Event()

    async def job() -> None:
        ran.append(datetime.now(UTC))
        done.set()

    scheduler, runs = scheduler_with_runs()
    slept = datetime.now(UTC) - timedelta(hours=3)  # due as the machine went to sleep
    scheduler.add_job(job, IntervalTrigger(hours=24), next_run_time=slept - timedelta(days=2))
    scheduler.start()
    ran_or_missed = [asyncio.create_task(done.wait()), asyncio.create_task(records.seen.wait())]
    await asyncio.wait(ran_or_missed, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    for task in ran_or_missed:
        task.cancel()
    assert len(ran) == 1  # once, however many of its days were missed
    assert records.problems() == []


async def test_a_poll_due_as_the_wall_clock_is_set_back_an_hour_comes_due_as_it_was(
    records: Records,
) -> None:
    """A wall clock set back an hour (by hand, or by NTP on a machine whose clock ran ahead):
    APScheduler times its jobs by it, so each feed's next poll (and every other job) waited an
    hour longer. The clock is injected: the test sets it back, not the machine's."""
    polled = asyncio.Event()

    async def poll() -> None:
        polled.set()

    set_back, moved = 0.0, []

    async def move_back(back: timedelta) -> None:  # the daemon's: its stored times
        moved.append(back)

    runs = JobRuns(wall=lambda: time.time() - set_back, every=0.01, set_back=move_back)
    scheduler = AsyncIOScheduler(timezone=UTC, executors={"default": runs})
    scheduler.start()
    # due a second from now; then the clock goes back an hour: it is due in an hour and a second
    scheduler.add_job(poll, "date", run_date=datetime.now(UTC) + timedelta(seconds=1))
    set_back = 3600.0
    for job in scheduler.get_jobs():  # what the machine's clock would have made of it
        job.modify(next_run_time=job.next_run_time + timedelta(hours=1))
    try:
        await asyncio.wait_for(polled.wait(), WAIT)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    assert [r.getMessage() for r in records.records if r.levelno >= logging.WARNING] == []
    assert len(moved) == 1 and abs(moved[0] - timedelta(hours=1)) < timedelta(seconds=5)


async def test_stored_times_a_locked_store_could_not_move_back_are_moved_at_a_later_look(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A step back found while a backup held the store was logged, and the stored times
    (a chat's digest hold) were never moved: the next look saw no step back."""
    caplog.set_level(logging.DEBUG, logger="watchers.job_runs")
    set_back, calls, moved = 0.0, [], asyncio.Event()

    async def move_back(back: timedelta) -> None:
        calls.append(back)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        moved.set()

    runs = JobRuns(wall=lambda: time.time() - set_back, every=0.01, set_back=move_back)
    scheduler = AsyncIOScheduler(timezone=UTC, executors={"default": runs})
    scheduler.start()
    set_back = 86400.0
    try:
        await asyncio.wait_for(moved.wait(), WAIT)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    assert len(calls) == 3 and calls[0] == calls[2]
    assert abs(calls[2] - timedelta(days=1)) < timedelta(seconds=5)
    failures = [r for r in caplog.records if "stored times back" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING, logging.DEBUG]


def test_only_a_wall_clock_set_back_past_the_slack_is_a_step_back() -> None:
    slack = timedelta(seconds=5)
    assert clock_set_back((1000.0, 1030.0), (50.0, 80.0), slack) is None  # in step
    assert clock_set_back((1000.0, 1028.0), (50.0, 80.0), slack) is None  # an NTP correction
    assert clock_set_back((1000.0, 4630.0), (50.0, 80.0), slack) is None  # woke from a suspend
    assert clock_set_back((5000.0, 1430.0), (50.0, 80.0), slack) == timedelta(seconds=3600)


async def test_a_job_that_is_not_a_coroutine_function_is_refused(records: Records) -> None:
    ran = []
    scheduler, runs = scheduler_with_runs()
    due_now(scheduler, lambda: ran.append(1))  # it would block the event loop
    scheduler.start()
    await asyncio.wait_for(records.seen.wait(), WAIT)
    scheduler.shutdown(wait=False)
    await asyncio.wait_for(runs.stop(grace=WAIT), WAIT)
    assert ran == []
    [error] = [r for r in records.records if r.levelno >= logging.ERROR]
    assert error.exc_info is not None and error.exc_info[0] is TypeError


async def test_the_daemon_stopped_as_its_scheduler_starts_logs_no_failed_job(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon's own path: a stop requested while it starts (a SIGTERM during start-up)
    shuts the scheduler down in the turn that submits the first polls and the queue check."""
    settings = load_config(write_config(tmp_path, {"gone": "http://127.0.0.1:9/gone.xml"}))
    daemon = Daemon(settings, None, out=io.StringIO())

    class Started(logging.Handler):  # said in the turn that starts the scheduler
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("kurilwatch running"):
                daemon.stop()

    with handler_on("bot.daemon", Started()):  # a stop before the start: no scheduler at all
        assert await asyncio.wait_for(daemon.run(), 60) == 0
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r.getMessage() for r in failures] == []


def test_a_job_skipped_again_and_again_is_warned_of_once_an_hour() -> None:
    """The outbox's depth is looked at every 15 s: while the store is busy for minutes, each
    look was skipped with a warning (240 lines an hour)."""
    from types import SimpleNamespace

    from watchers.job_runs import SkipsWarnedHourly

    now = [0.0]
    skips = SkipsWarnedHourly(every=3600.0, clock=lambda: now[0])
    message = 'Execution of job "%s" skipped: maximum number of running instances reached (%d)'

    def skipped(job: str) -> logging.LogRecord | None:
        record = logging.LogRecord(
            "s", logging.WARNING, "", 0, message, (SimpleNamespace(id=job), 1), None
        )
        return record if skips.filter(record) else None

    assert skipped("queue") is not None and skipped("poll a") is not None  # each job's first
    for _ in range(239):
        now[0] += 15
        assert skipped("queue") is None
    now[0] += 15
    told = skipped("queue")
    assert told is not None and told.getMessage().endswith(
        "(239 more skipped since the last warning)"
    )
    other = logging.LogRecord("s", logging.WARNING, "", 0, "Run time of job was missed", (), None)
    assert skips.filter(other)  # other warnings pass


def test_a_retry_waits_longer_after_each_failure_up_to_a_bound() -> None:
    assert [retry_wait(n, 60.0, 3600.0) for n in (1, 2, 3, 6, 7, 8, 10_000)] == [
        60.0,
        120.0,
        240.0,
        1920.0,
        3600.0,
        3600.0,
        3600.0,
    ]


async def test_housekeeping_that_meets_a_locked_store_is_tried_again_soon(
    tmp_path: Path,
) -> None:
    """The daily housekeeping met a store locked past its busy timeout (a backup, `kurilwatch
    prune` running at that hour): the run failed, and nothing was pruned until the next day
    (and never, for a backup that runs daily at that hour). Now it is tried again soon."""
    import sqlite3

    from store import AsyncStore, FeedState, Store
    from tests.conftest import short_busy_timeout
    from watchers.fetch import Fetcher
    from watchers.poll import Poller
    from watchers.topics.compile import compile_topics

    settings = load_config(write_config(tmp_path, {}))
    then = datetime.now(UTC) - timedelta(days=400)
    with Store(settings.store.path) as kept:  # an admins' notice sent long ago: pruned
        kept.notify_admins("feed x disabled", now=then)
        kept.fan_out_notices([])
        assert len(kept.notices()) == 1
        kept.save_feed_state(FeedState(id="gone", url="u"))  # a feed the config no longer has
    store = await AsyncStore(settings.store.path).open()
    await store.run(short_busy_timeout)
    fetcher = Fetcher()
    poller = Poller(
        store=store, fetcher=fetcher, topics=compile_topics(settings.topics), settings=settings.poll
    )
    daemon = Daemon(settings, None, out=io.StringIO(), housekeeping_retry=0.05)
    warned = Records(logging.WARNING)
    other = sqlite3.connect(settings.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the store as housekeeping starts
    try:
        with handler_on("bot.daemon", warned):
            keeping = asyncio.create_task(daemon._housekeeping(store, poller))
            await asyncio.wait_for(warned.seen.wait(), WAIT)
            other.execute("ROLLBACK")
            await asyncio.wait_for(keeping, WAIT)
        assert "housekeeping: the store fails (database is locked)" in warned.problems()[0]
        assert await store.run(Store.notices) == []
        assert await store.run(Store.feed_states) == []
    finally:
        other.close()
        await poller.aclose()
        await fetcher.aclose()
        await store.close()
