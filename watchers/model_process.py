"""The title vector model in a process of its own, for the daemon: its C engine reads feeds'
titles, and a crash of it (a signal, an abort, a hang) must cost that process, not the daemon.

A process that died or stopped answering is ended and started afresh at the next call; the
story index leaves reports apart and tries the model again with backoff meanwhile
(`watchers.stories`)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and the model load in the process, with its first titles
    from watchers.embedding import Vectors

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], "Vectors"]
# seconds a call may take, the model's loading included (about 1 s, longer on a busy machine):
# more is a hung engine
ANSWER_WITHIN = 120.0
STOP_WITHIN = 5.0
PARENT_CHECK = 0.5  # seconds between a child's looks at whether the daemon still runs
CALL_GRACE = 1.0  # seconds a closing waits for a call in progress (a batch takes less) to end


class ModelFailed(RuntimeError):
    """The model's process did not give the vectors: it failed, died or did not answer."""


class ModelProcess:
    """`embed` (the model's `embed_titles` by default), called in a spawned process of its own,
    one call at a time; a callable as `StoryIndex` takes."""

    def __init__(self, embed: Embed | None = None, answer_within: float = ANSWER_WITHIN) -> None:
        self.embed = embed
        self.answer_within = answer_within
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._closed = False  # by `close`: no process is started again

    @property
    def pid(self) -> int | None:
        """The process's id, while one runs."""
        return None if self._process is None else self._process.pid

    def __call__(self, titles: Sequence[str]) -> Vectors:
        with self._lock:
            if self._closed:
                raise ModelFailed("the model's process was closed (the daemon stops)")
            conn = self._conn if self._alive() and self._conn is not None else self._start()
            try:
                conn.send(list(titles))
                if not conn.poll(self.answer_within):
                    raise TimeoutError
                ok, answer = conn.recv()
            except (EOFError, OSError, TimeoutError) as exc:
                hung = isinstance(exc, TimeoutError)
                why = self._end(kill=hung)
                if hung:
                    why = f"gave no answer in {self.answer_within:g} s; ended"
                raise ModelFailed(f"the model's process {why}") from None
            if not ok:
                raise ModelFailed(answer)
            vectors: Vectors = answer
            return vectors

    def close(self) -> None:
        """End the process; one in the middle of a call is killed, and that call fails, as
        do the calls after it."""
        self._closed = True
        if self._lock.acquire(timeout=CALL_GRACE):
            try:
                self._end()
            finally:
                self._lock.release()
        elif (process := self._process) is not None:
            process.kill()

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _start(self) -> Connection:
        self._end()  # what is left of one that died
        # spawned: the daemon has threads, which a fork could catch holding a lock
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, self.embed, os.getpid()),
            name="kurilwatch-model",
            daemon=True,
        )
        with hangup_blocked():
            process.start()
        theirs.close()
        self._process, self._conn = process, ours
        log.debug("the model's process %d started", process.pid)
        return ours

    def _end(self, kill: bool = False) -> str:
        """End the process, if one is there (`kill`: at once, it hangs); how it ended."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()  # a live process reads the end of its input and returns
        if process is None:
            return "was not running"
        if kill:
            process.kill()
        process.join(STOP_WITHIN)
        if process.is_alive():
            process.kill()
            process.join(STOP_WITHIN)
        code = process.exitcode
        process.close()
        if code is not None and code < 0:
            try:
                return f"ended by signal {signal.Signals(-code).name}"
            except ValueError:
                return f"ended by signal {-code}"
        return f"ended with exit status {code}"


@contextmanager
def hangup_blocked(*others: signal.Signals) -> Iterator[None]:
    """SIGHUP (and `others`) blocked in this thread meanwhile: a child process started now
    starts with it blocked. SIGHUP is the daemon's reload, and `systemctl kill -s HUP` or
    `pkill -HUP kurilwatch` sends it to every process: it killed the parse workers and the
    stdlib's resource tracker (which unblocks only SIGINT and SIGTERM: SIGHUP stays blocked)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, *others})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def watch_parent(parent: int) -> None:
    """In a child process: exit once `parent` is gone (SIGKILLed: it cannot end its children,
    and one busy in a call, or waiting on a queue, would not hear of it)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _serve(conn: Connection, embed: Embed | None, parent: int) -> None:
    """The process: vectors for each list of titles read, until its input ends."""
    # Ctrl-C, and systemd's SIGTERM to each process of the unit at a stop, are the daemon's to
    # handle: it closes this process (which also ends when the daemon is gone: its input ends,
    # or, if its engine hangs in a call, its parent watch sees it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the daemon's reload, if sent to them all
    watch_parent(parent)
    if embed is None:
        from watchers.embedding import embed_titles

        embed = embed_titles
    while True:
        try:
            titles = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, object] = (True, embed(titles))
        except Exception as exc:  # told to the daemon, which backs off
            answer = (False, f"{type(exc).__name__}: {str(exc)[:300]}")
        conn.send(answer)
