"""The daemon's APScheduler executor: each run of a coroutine job is a task on the event loop,
and a stop lets the runs in flight finish before it cancels what is left, quietly.

APScheduler's own AsyncIOExecutor cancels every run in flight when the scheduler shuts down,
and logs each cancelled run as a failed job, with a traceback: a run submitted in the same
turn of the event loop as the shutdown (a poll coming due as SIGTERM arrives) is cancelled
before its first step, which no job can catch. Here the shutdown only closes the door;
`stop` waits for the runs, and a run the stop has to cut short ends without an error.

It also follows the wall clock, by which APScheduler times every job: one set back (by hand,
or by NTP on a machine whose clock ran ahead) would leave each job waiting as much longer,
every feed's next poll included; its jobs move back by as much (`clock_set_back`), and so does
what `set_back` moves (the times the daemon stored from that clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.util import iscoroutinefunction_partial

log = logging.getLogger(__name__)

CLOCK_CHECK = 30.0  # seconds (on the monotonic clock) between two looks at the wall clock
CLOCK_SLACK = timedelta(seconds=5)  # a smaller step back (an NTP correction) is let be


def clock_set_back(
    wall: tuple[float, float], monotonic: tuple[float, float], slack: timedelta = CLOCK_SLACK
) -> timedelta | None:
    """How far the wall clock was set back between two readings (before, after) of it and of
    the monotonic clock; None when it was not, or by no more than `slack`. (A suspend moves
    the wall clock forward past the monotonic one: that is not a step back.)"""
    step = (wall[1] - wall[0]) - (monotonic[1] - monotonic[0])
    back = timedelta(seconds=-step)
    return back if back > slack else None


def retry_wait(failures: int, first: float, most: float) -> float:
    """Seconds to wait before the next try of a job's work after `failures` (1 or more) in a
    row: `first`, doubled at each failure, at most `most`."""
    return min(first * 2.0 ** min(failures - 1, 62), most)


class JobRuns(BaseExecutor):  # type: ignore[misc]  # APScheduler has no type hints
    """Runs coroutine jobs as tasks; `stop` after the scheduler's shutdown ends them."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        every: float = CLOCK_CHECK,
        set_back: Callable[[timedelta], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__()
        self._runs: set[asyncio.Task[list[Any]]] = set()
        self._closed = asyncio.Event()  # no run is submitted once it is set
        self._clocks = (wall, monotonic, every)
        self.set_back = set_back  # called with how far the wall clock was set back
        self._clock_watch: asyncio.Task[None] | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        if self._clock_watch is None:  # the scheduler starts on the event loop
            wall, monotonic, _ = self._clocks
            watch = self._follow_wall_clock(scheduler, (wall(), monotonic()))
            self._clock_watch = asyncio.get_running_loop().create_task(watch, name="wall clock")

    async def _follow_wall_clock(self, scheduler: Any, before: tuple[float, float]) -> None:
        """Until the shutdown: when the wall clock is set back, move every job back by as much
        (each would otherwise wait that much longer: its time is a wall-clock time)."""
        wall, monotonic, every = self._clocks
        owed, failed = timedelta(0), False  # the steps back the stored times still owe
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), every)
            now = wall(), monotonic()
            back = clock_set_back((before[0], now[0]), (before[1], now[1]))
            before = now
            if self._closed.is_set():
                return
            if back is not None:
                log.warning(
                    "the wall clock was set back by %s: the jobs move back by as much", back
                )
                for job in scheduler.get_jobs():
                    if job.next_run_time is not None:
                        job.modify(next_run_time=job.next_run_time - back)
                owed += back
            if not owed or self.set_back is None:
                continue
            try:
                await self.set_back(owed)
            except Exception as exc:  # a store locked by a backup: tried again at each look
                log.log(
                    logging.DEBUG if failed else logging.WARNING,
                    "moving the stored times back by %s failed (%s): tried again",
                    owed,
                    exc,
                )
                failed = True
            else:
                owed, failed = timedelta(0), False

    def shutdown(self, wait: bool = True) -> None:
        # called by the scheduler's shutdown, on the event loop (AsyncIOScheduler defers it
        # there); the runs in flight are left to `stop`
        self._closed.set()

    async def stop(self, grace: float) -> None:
        """Once the scheduler has shut down, wait up to `grace` seconds for the runs in flight,
        then cancel the rest (and wait as long again for them to end)."""
        await self._closed.wait()
        if not self._runs:
            return
        _, slow = await asyncio.wait(set(self._runs), timeout=grace)
        for task in slow:
            task.cancel()
        if slow:
            await asyncio.wait(slow, timeout=grace)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        if not iscoroutinefunction_partial(job.func):
            raise TypeError(f"job {job.id}: the daemon's jobs are coroutine functions")
        task = asyncio.get_running_loop().create_task(
            self._run(job, run_times), name=f"job {job.id}"
        )
        self._runs.add(task)
        task.add_done_callback(functools.partial(self._ended, job.id))

    def _ended(self, job_id: str, task: asyncio.Task[list[Any]]) -> None:
        self._runs.discard(task)
        if task.cancelled():  # cut short by `stop` (maybe before its first step): no failure
            self._run_job_success(job_id, [])
            return
        error = task.exception()
        if error is not None:
            self._run_job_error(job_id, error, error.__traceback__)
        else:
            self._run_job_success(job_id, task.result())

    async def _run(self, job: Any, run_times: list[datetime]) -> list[Any]:
        """APScheduler's `run_coroutine_job`, except that a cancellation is not logged as the
        job's failure: it propagates, and `_ended` takes it for the stop it is."""
        events = []
        store = job._jobstore_alias
        for run_time in run_times:
            late = datetime.now(UTC) - run_time
            grace = job.misfire_grace_time
            if grace is not None and late > timedelta(seconds=grace):
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, store, run_time))
                self._logger.warning('Run time of job "%s" was missed by %s', job, late)
                continue
            self._logger.info('Running job "%s" (scheduled at %s)', job, run_time)
            try:
                value = await job.func(*job.args, **job.kwargs)
            except Exception as exc:
                tb = "".join(traceback.format_tb(exc.__traceback__))
                events.append(
                    JobExecutionEvent(
                        EVENT_JOB_ERROR, job.id, store, run_time, exception=exc, traceback=tb
                    )
                )
                self._logger.exception('Job "%s" raised an exception', job)
            else:
                events.append(
                    JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, store, run_time, retval=value)
                )
                self._logger.info('Job "%s" executed successfully', job)
        return events


class SkipsWarnedHourly(logging.Filter):
    """APScheduler warns at each run it skips because the job's last run is still going: the
    outbox's depth, looked at every 15 s, while the store is busy for minutes. The first skip
    of a job is told, then at most one an hour, with how many were skipped between."""

    def __init__(self, every: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every, self.clock = every, clock
        self._told: dict[str, tuple[float, int]] = {}  # job id -> (when told, skipped since)

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" not in str(record.msg) or not record.args:
            return True
        job = record.args[0] if isinstance(record.args, tuple) else None
        key, now = str(getattr(job, "id", job)), self.clock()
        told, skipped = self._told.get(key, (None, 0))
        if told is not None and now - told < self.every:
            self._told[key] = (told, skipped + 1)
            return False
        if len(self._told) >= MAX_WARNED_JOBS:  # jobs of feeds a reload removed
            self._told.pop(next(iter(self._told)))
        self._told.pop(key, None)
        self._told[key] = (now, 0)
        if skipped:
            record.msg = f"{record.msg} ({skipped} more skipped since the last warning)"
        return True


MAX_WARNED_JOBS = 1024
_SCHEDULER_LOG = logging.getLogger("apscheduler.scheduler.kurilwatch")
_SCHEDULER_LOG.addFilter(SkipsWarnedHourly())


def scheduler_with_runs(
    set_back: Callable[[timedelta], Awaitable[object]] | None = None,
) -> tuple[AsyncIOScheduler, JobRuns]:
    """An AsyncIOScheduler (in UTC) whose jobs run on a `JobRuns`, and that executor.

    A job comes due late when the machine slept over its time (the scheduler's timer is the
    event loop's, monotonic: it stands still meanwhile): it runs once, late, rather than being
    skipped as APScheduler's default grace of 1 s would (the daily housekeeping then waited
    another day, and every day for a machine asleep at that hour)."""
    runs = JobRuns(set_back=set_back)
    defaults = {"misfire_grace_time": None, "coalesce": True}
    scheduler = AsyncIOScheduler(
        timezone=UTC, executors={"default": runs}, job_defaults=defaults, logger=_SCHEDULER_LOG
    )
    return scheduler, runs
