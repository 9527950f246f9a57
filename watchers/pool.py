"""Where parsing runs: a pool of worker processes (or threads), never the event loop; beside
process workers, the title vector model's process (`watchers.model_process`).

feedparser is pure Python, so threads serialise on the GIL; on two cores a process pool parses
about twice as fast (bench/poll.py measures both). Workers are spawned, not forked, because the
daemon has threads of its own; those that `prestart` starts in a process with no other thread
yet (a command's start) are forked from it, with what it has imported so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Literal, TypeVar

from watchers import poll_errors as errors
from watchers.items import ParsedFeed
from watchers.model_process import ModelProcess, hangup_blocked, watch_parent
from watchers.poll_errors import PollError
from watchers.summary import Brief
from watchers.topics.compile import TopicSpec
from watchers.topics.morph import forms_of, give_forms
from watchers.worker import ReadFeed, from_wire, read_article, read_feed, read_feed_wire

PoolKind = Literal["processes", "threads"]
Forms = tuple[tuple[str, frozenset[str]], ...]
T = TypeVar("T")
WARM_LIMIT = 120.0  # seconds for a pool's workers to start
# seconds a parse (or an article page's reading) may take: 10 MB of a thousand items takes a
# few, hostile markup hours (html.parser is quadratic on some), holding the feed's poll and a
# worker; past it the workers are killed and the pool replaced
PARSE_LIMIT = 60.0
STOP_GRACE = 2.0  # seconds the workers have to end at a stop before they are killed


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class ParsePool:
    """Parses fetched bytes off the event loop; a crashed worker pool is replaced."""

    def __init__(
        self, kind: PoolKind = "processes", workers: int | None = None, limit: float = PARSE_LIMIT
    ) -> None:
        self.kind = kind
        self.workers = workers or default_workers()
        self.limit = limit
        self._closed = False  # by `aclose`: a call it broke is not tried again
        self._executor: Executor | None = None
        self._starting: list[Future[None]] = []  # the workers' warm-up, from `prestart`
        self._forms: Future[Forms] | None = None  # from `look_up_forms`
        # a call's limit counts from a free worker: one queued behind a long parse is not cut
        self._slots = asyncio.Semaphore(self.workers)
        self._warmed: Executor | None = None  # whose workers have started: not within a limit
        # what the story index embeds titles with: beside process workers, the model has a
        # process of its own too (a crash of its engine on some title ends that process, not
        # the daemon); beside threads, it runs in this one (None: `StoryIndex`'s own)
        self.model = ModelProcess() if kind == "processes" else None

    def _pool(self, fork: bool = False) -> Executor:
        if self._executor is None:
            if self.kind == "processes":
                with _sigint_blocked():  # its queues' semaphores may start the resource tracker
                    self._executor = ProcessPoolExecutor(
                        self.workers,
                        mp_context=multiprocessing.get_context("fork" if fork else "spawn"),
                        initializer=_worker_setup,
                        initargs=(os.getpid(),),
                    )
            else:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="parse")
        return self._executor

    def prestart(self) -> None:
        """Start the worker processes now, from code that has no event loop yet: a command's
        own start-up (its imports, the config) goes on while they start; `start` waits.

        With no other thread in this process yet (nothing a fork could catch holding a lock),
        they are forked: a spawned worker starts an interpreter and imports the parse stage
        again, 0.15 s of CPU each that the command's own start-up waited for on two cores.
        A pool that replaces a broken one is spawned."""
        if self.kind == "processes" and not self._starting:
            fork = (
                threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
            )
            pool = self._pool(fork)
            with _sigint_blocked():
                self._starting = [pool.submit(_warm) for _ in range(self.workers)]

    def look_up_forms(self, words: Sequence[str]) -> None:
        """Have a prestarted worker look up these Russian words' forms now, while this process
        goes on starting: loading the morphology dictionaries is 0.1 s of CPU that a command's
        start-up would otherwise wait for. `receive_forms` hands them to this process."""
        if self._starting and words and self._forms is None:
            with _sigint_blocked():
                self._forms = self._pool().submit(forms_of, list(words))

    async def receive_forms(self) -> None:
        """Hand this process the forms `look_up_forms` asked for (none, if the worker failed:
        compiling the topics then looks them up here)."""
        if self._forms is not None:
            with contextlib.suppress(Exception):
                forms: Forms = await asyncio.wrap_future(self._forms)
                give_forms(forms)

    async def start(self) -> None:
        """Start the workers now (they import feedparser), not on the first feed."""
        if self._starting:
            starting, self._starting = self._starting, []
            await asyncio.gather(*map(asyncio.wrap_future, starting))
            self._warmed = self._executor
            return
        await self._warm_up(self._pool())

    async def _warm_up(self, pool: Executor) -> None:
        """Start each worker of `pool` (spawned one a submit), so that no limit counts it."""
        await asyncio.gather(*(self._submit(pool, _warm) for _ in range(self.workers)))
        self._warmed = pool

    async def read(
        self,
        content: bytes,
        *,
        feed_id: str,
        url: str,
        headers: Mapping[str, str],
        spec: TopicSpec,
        lang: str | None = None,
        sketches: bool = True,
    ) -> ReadFeed:
        """Parse, and match each item against the topics of `spec`, in a worker; `sketches`:
        make the story sketches of the items that match."""
        call = functools.partial(
            read_feed_wire,
            content,
            feed_id=feed_id,
            url=url,
            headers=dict(headers),
            spec=spec,
            lang=lang,
            sketches=sketches,
        )
        try:
            return from_wire(await self._call(call))
        except BrokenProcessPool:
            return ReadFeed(ParsedFeed(None, (), PollError(errors.PARSER_DIED)), ())
        except TimeoutError:
            error = PollError(errors.PARSE_TOO_LONG, {"seconds": float(self.limit)})
            return ReadFeed(ParsedFeed(None, (), error), ())

    async def article(
        self, content: bytes, *, url: str, title: str, spec: TopicSpec
    ) -> Brief | None:
        """The brief of an article page, extracted in a worker; None on any failure."""
        call = functools.partial(read_article, content, url=url, title=title, spec=spec)
        try:
            return await self._call(call)
        except (BrokenProcessPool, TimeoutError):
            return None

    async def _call(self, call: Callable[[], T]) -> T:
        """`call` in a worker, within the limit. A worker that died (killed, out of memory)
        broke the pool: it is replaced, and the calls it broke that were not the cause (the
        pool was replaced before they heard) are tried once on the new one. A call past the
        limit is cut: the workers are killed (a process cannot be told to stop one call) and
        TimeoutError raised; threads cannot be killed, and go on while the poll does not wait."""
        for attempt in (1, 2):
            async with self._slots:
                if self._closed:  # stopped while this call waited for a worker
                    raise BrokenProcessPool("the parse pool was closed")
                pool = self._pool()  # (the one a call before this slot's may have replaced)
                try:
                    if self.kind == "processes" and pool is not self._warmed:
                        # a worker's start (seconds on a busy box) is not its parse
                        await asyncio.wait_for(self._warm_up(pool), WARM_LIMIT)
                    return await asyncio.wait_for(self._submit(pool, call), self.limit)
                except BrokenProcessPool:
                    retired = self._executor is not pool
                    await self._retire(pool, grace=0.0)
                    if attempt == 2 or not retired or self._closed:
                        raise
                except TimeoutError:
                    if self.kind == "processes":
                        await self._retire(pool, grace=0.0)
                    raise
        raise AssertionError("unreachable")

    def _submit(self, pool: Executor, call: Callable[[], T]) -> asyncio.Future[T]:
        """Hand `call` to the pool. A submit may start a worker: SIGINT (and SIGHUP) is blocked
        meanwhile, so the new process starts with it blocked and a Ctrl-C cannot interrupt its
        start-up before `_worker_setup` ignores it (the stdlib starts its resource tracker so
        too)."""
        loop = asyncio.get_running_loop()
        if self.kind == "threads":
            return loop.run_in_executor(pool, call)
        with _sigint_blocked():
            return loop.run_in_executor(pool, call)

    def close(self) -> None:
        """Stop the workers and wait for them (a blocking call; `aclose` from async code).

        Waiting matters: an executor left shutting down races the interpreter's exit hook,
        which then writes to a closed pipe (EBADF printed at exit on Python 3.11).
        """
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if self.model is not None:
            self.model.close()

    async def aclose(self) -> None:
        """Stop the workers without blocking the event loop; one still in a parse (a stop in
        the middle of a poll) is killed after STOP_GRACE seconds."""
        self._closed = True
        if self._executor is not None:
            await self._retire(self._executor, grace=STOP_GRACE)
        if self.model is not None:
            await asyncio.to_thread(self.model.close)

    async def _retire(self, executor: Executor, grace: float | None = None) -> None:
        """Shut `executor` down and wait for it; its worker processes still running after
        `grace` seconds (None: however long they take) are killed."""
        # only the pool that broke: a concurrent failure must not close its replacement
        if self._executor is executor:
            self._executor = None
        # ProcessPoolExecutor.terminate_workers is Python 3.14's; these are its processes
        processes = list((getattr(executor, "_processes", None) or {}).values())
        down = asyncio.ensure_future(
            asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        )
        if grace is not None and processes:
            done, _ = await asyncio.wait({down}, timeout=grace)
            if not done:
                for process in processes:
                    with contextlib.suppress(OSError, ValueError):  # ended, or closed
                        process.kill()
        # a pool whose worker died has its result queue closed by its manager thread, and
        # Python 3.11's shutdown closes it again: EBADF, with everything stopped
        with contextlib.suppress(OSError):
            await down


def _sigint_blocked() -> contextlib.AbstractContextManager[None]:
    return hangup_blocked(signal.SIGINT)


def _worker_setup(parent: int) -> None:
    """In a worker: ignore Ctrl-C, SIGTERM and SIGHUP, and exit once the daemon is gone.

    A terminal sends SIGINT to the whole process group (systemd's stop SIGTERM to the whole
    unit); the daemon shuts its workers down itself, and a worker interrupted in the middle of
    reading its queue would print a traceback. A SIGKILLed daemon cannot stop its pool, and the
    workers would otherwise wait on their queue for ever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # systemd's to every process of the unit too
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the daemon's reload, if sent to them all
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGHUP})  # by `_submit`
    watch_parent(parent)


def _warm() -> None:
    read_feed(
        b"<rss version='2.0'><channel><title>warm</title></channel></rss>",
        feed_id="-",
        url="",
        headers={},
        spec=TopicSpec(),
    )
