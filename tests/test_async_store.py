"""AsyncStore's close when a call never answers (the store locked by another process, its disk
hung): waited for a bounded time and said, the calls after it refused, and no exit held."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from store import AsyncStore, Store, StoreClosed, migrations
from tests.conftest import ROOT, new_store

WAIT = 30.0  # bounds each wait for an event


def hangs_until(entered: threading.Event, release: threading.Event) -> Callable[[Store], int]:
    """A store call that says it began, then waits for the test."""

    def hung(store: Store) -> int:
        entered.set()
        release.wait(WAIT)
        return store.schema_version()

    return hung


async def test_a_close_waits_for_a_hung_call_its_bound_then_says_so_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    entered, release = threading.Event(), threading.Event()
    call = asyncio.create_task(store.run(hangs_until(entered, release)))
    try:
        assert await asyncio.to_thread(entered.wait, WAIT)
        async with asyncio.timeout(WAIT):
            await store.close(within=0.1)
        assert not call.done()
        with pytest.raises(StoreClosed):
            await store.run(Store.schema_version)
    finally:
        release.set()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert str(tmp_path / "kw.db") in errors[0]
    assert "did not answer within 0.1 s" in errors[0]
    assert "locked by another process, or its disk hangs" in errors[0]
    assert "hung" in errors[0]  # the call under way
    assert "SQLite keeps what was committed" in errors[0]
    # the call answers once the store does, and the store is closed after it
    assert await asyncio.wait_for(call, WAIT) == migrations.latest_version()
    assert store._thread is not None
    await asyncio.to_thread(store._thread.join, WAIT)
    assert not store._thread.is_alive()


async def test_a_close_runs_the_calls_before_it_and_refuses_those_after_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    entered, release = threading.Event(), threading.Event()
    call = asyncio.create_task(store.run(hangs_until(entered, release)))
    try:
        assert await asyncio.to_thread(entered.wait, WAIT)
        queued = asyncio.create_task(store.run(Store.schema_version))
        await asyncio.sleep(0)  # it is queued behind the hung call
        closing = asyncio.create_task(store.close(within=WAIT))
        await asyncio.sleep(0)  # the close has begun, and waits
        with pytest.raises(StoreClosed, match="closed"):
            await store.run(Store.schema_version)  # refused at once, not queued
        assert not closing.done()
    finally:
        release.set()
    await asyncio.wait_for(closing, WAIT)
    assert await call == await queued == migrations.latest_version()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


HUNG_AT_EXIT = """
import asyncio, sys, threading
from store import AsyncStore

async def main() -> None:
    store = await AsyncStore(sys.argv[1]).open()
    never = threading.Event()
    asyncio.ensure_future(store.run(lambda _: never.wait()))
    await asyncio.sleep(0)
    await store.close(within=0.1)
    print("closed", flush=True)

asyncio.run(main())
"""


def test_a_call_that_never_returns_holds_no_exit(tmp_path: Path) -> None:
    """ThreadPoolExecutor's threads are joined at the interpreter's exit: a store call waiting
    for another process's lock kept the process after its stop."""
    path = str(new_store(tmp_path / "kw.db"))
    result = subprocess.run(
        [sys.executable, "-c", HUNG_AT_EXIT, path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert (result.returncode, result.stdout) == (0, "closed\n"), result.stderr
    assert "did not answer within 0.1 s" in result.stderr


async def test_a_thread_that_cannot_start_fails_the_call_and_the_next_call_starts_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the system's thread limit the store's thread did not start, yet was kept: every call
    after it waited for ever. The call fails, runs never (its caller was told it failed), and
    the next call starts the thread."""
    store = AsyncStore(tmp_path / "kw.db")
    started = threading.Thread.start

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        await store.open()
    monkeypatch.setattr(threading.Thread, "start", started)
    await asyncio.wait_for(store.open(), 30)  # bounds a wait for the answer
    try:
        assert await store.run(Store.schema_version) == migrations.latest_version()
    finally:
        await store.close()
