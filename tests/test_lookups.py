"""Feed host names are looked up on threads of their own: lookups that hang leave the daemon's
own work off the event loop (asyncio.to_thread: digests, watches, reloads) its threads."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp.resolver import ThreadedResolver

from tests.conftest import ROOT
from tests.fakes.feed_server import FeedServer, rss
from watchers.fetch import Fetcher, FetchResult
from watchers.lookups import THREADS, ThreadResolver

DAEMON_THREADS = 4  # the event loop's default pool, made small (min(32, CPUs + 4) in a daemon)


class StuckNames:
    """socket.getaddrinfo, except that names under .stuck.test hang until `release` (a
    resolver that does not answer), counting the lookups under way."""

    def __init__(self, loop: asyncio.AbstractEventLoop, waiting_for: int) -> None:
        self.release = threading.Event()
        self.hanging = asyncio.Event()  # `waiting_for` lookups hang
        self._real = socket.getaddrinfo
        self._loop = loop
        self._waiting_for = waiting_for
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, host: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(host).endswith(".stuck.test"):
            return self._real(host, *args, **kwargs)
        with self._lock:
            self._count += 1
            if self._count == self._waiting_for:
                self._loop.call_soon_threadsafe(self.hanging.set)
        self.release.wait(60)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


@pytest.fixture
async def stuck(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[StuckNames]:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(DAEMON_THREADS))
    names = StuckNames(loop, min(DAEMON_THREADS, THREADS))  # as many as could hold them
    monkeypatch.setattr(socket, "getaddrinfo", names)
    yield names
    names.release.set()


async def _while_32_hang(fetcher: Fetcher, stuck: StuckNames) -> list[FetchResult]:
    """32 fetches (as many as may run at once) whose names hang: the daemon's to_thread work
    runs meanwhile; then the names are let go, and the fetches' results returned."""
    hanging = [
        asyncio.create_task(fetcher.fetch(f"http://feed{n}.stuck.test/rss")) for n in range(32)
    ]
    try:
        await asyncio.wait_for(stuck.hanging.wait(), timeout=10)
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "ran"), timeout=10) == "ran"
    finally:
        stuck.release.set()
        failed = await asyncio.gather(*hanging)
    return failed


async def test_lookups_that_hang_leave_the_daemons_threads_free(stuck: StuckNames) -> None:
    """32 feeds whose names do not resolve (as many as may be fetched at once): the daemon's
    to_thread work still runs (it waited for the lookups: 24.8 s of a 5 s hang)."""
    async with Fetcher() as fetcher:
        failed = await _while_32_hang(fetcher, stuck)
    assert {result.error for result in failed} == {
        f"could not resolve feed{n}.stuck.test" for n in range(32)
    }


async def test_behind_a_proxy_the_targets_lookups_leave_the_daemons_threads_free(
    stuck: StuckNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy each hop's host is looked up to be judged (watchers/proxied.py): on the
    fetcher's threads too."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    async with Fetcher() as fetcher:
        failed = await _while_32_hang(fetcher, stuck)
    # names that do not resolve here are the proxy's to reach: it is not there
    assert {result.error for result in failed} == {
        f"could not connect to 127.0.0.1:{port}: connection refused"
    }


async def test_the_addresses_a_name_resolves_to_are_judged_as_they_are_connected_to(
    feed_server: FeedServer,
) -> None:
    """localhost, resolved on the fetcher's threads: a page a public feed links to is not
    fetched from it, and a feed the config puts there is fetched as an intranet one."""
    feed_server.set_feed("/f.xml", rss([]))
    url = f"http://localhost:{feed_server.port}/f.xml"
    async with Fetcher() as fetcher:
        page = await fetcher.fetch(url, public_only=True)
        intranet = await fetcher.fetch(url)
    assert (page.error or "").startswith("refused to connect to localhost: a loopback address")
    assert intranet.error is None and intranet.intranet


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
async def test_names_resolve_as_aiohttps_own_resolver_resolves_them(host: str) -> None:
    ours = ThreadResolver(threads=1)
    try:
        for family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNSPEC):
            try:
                expected = await ThreadedResolver().resolve(host, 443, family)
            except OSError:
                with pytest.raises(OSError):
                    await ours.resolve(host, 443, family)
                continue
            assert await ours.resolve(host, 443, family) == expected
    finally:
        await ours.close()
    assert await ours.resolve("127.0.0.1", 80) != []  # a closed resolver starts again
    await ours.close()


# a process whose one lookup hangs for good: it closes the resolver and returns from main
HUNG_AT_EXIT = """
import asyncio, socket, sys, threading
from watchers.lookups import ThreadResolver

started = threading.Event()

def hang(*args, **kwargs):
    started.set()
    threading.Event().wait()  # a resolver that never answers

socket.getaddrinfo = hang

async def main():
    resolver = ThreadResolver()
    lookup = asyncio.ensure_future(resolver.resolve("feed.stuck.test", 80))
    await asyncio.to_thread(started.wait, 30)
    await resolver.close()
    lookup.cancel()
    print("closed", flush=True)

asyncio.run(main())
"""


def test_a_lookup_that_hangs_does_not_hold_the_process_exit(tmp_path: Path) -> None:
    """A stop closes the fetcher, but the lookup threads were joined at the interpreter's exit:
    a name whose lookup hangs held the process past the 10 s a stop may take."""
    script = tmp_path / "hung.py"
    script.write_text(HUNG_AT_EXIT)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,  # bounds the wait for the exit: it never comes if the threads are joined
    )
    assert (done.returncode, done.stdout) == (0, "closed\n"), done.stderr


async def test_lookups_in_turn_reuse_an_idle_thread_before_starting_another() -> None:
    """A thread was started for every lookup up to THREADS, idle ones or not; one lookup at a
    time needs one thread, and a lookup that hangs still gets the next one a thread of its own."""
    resolver = ThreadResolver()
    try:
        for _ in range(THREADS):
            assert await resolver.resolve("127.0.0.1", 80)
        assert resolver._pool is not None and resolver._pool._started == 1
        release = threading.Event()
        loop = asyncio.get_running_loop()
        hung = loop.run_in_executor(resolver._pool, release.wait)
        assert await resolver.resolve("127.0.0.1", 80)  # not queued behind the hung one
        assert resolver._pool._started == 2
        release.set()
        assert await hung
    finally:
        await resolver.close()


async def test_a_lookup_thread_that_cannot_start_fails_its_lookup_and_is_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the system's thread limit a thread that never started was counted among the 8: past
    8 such, every lookup waited for ever."""
    resolver = ThreadResolver()
    started = threading.Thread.start

    def refused(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    for _ in range(THREADS):
        with pytest.raises(RuntimeError, match="can't start new thread"):
            await resolver.resolve("127.0.0.1", 80)
    monkeypatch.setattr(threading.Thread, "start", started)
    try:
        assert await asyncio.wait_for(resolver.resolve("127.0.0.1", 80), 30)  # bounds the wait
    finally:
        await resolver.close()
