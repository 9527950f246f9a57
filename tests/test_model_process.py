"""The model in a process of its own: the same vectors, and a crash, a hang or an error of its
engine costs that process, not the caller, which gets a new one at its next call."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from store import AsyncStore, Store
from tests.conftest import ROOT, new_store
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.embedding import Vectors, embed_titles
from watchers.fetch import Fetcher, FetchLimits
from watchers.model_process import ModelFailed, ModelProcess
from watchers.poll import Poller
from watchers.pool import ParsePool
from watchers.topics.compile import compile_topics

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _engine(titles: Sequence[str]) -> Vectors:
    """A stand-in engine that crashes in C, hangs or raises on the title that says so."""
    if "crash" in titles:
        ctypes.string_at(0)  # a read at address 0: SIGSEGV, as a fault in the engine's C code
    if "hang" in titles:
        threading.Event().wait()
    if "raise" in titles:
        raise ValueError("cannot read this")
    return np.full((len(titles), 4), len(titles), dtype=np.float32)


@pytest.fixture
def model() -> Iterator[ModelProcess]:
    process = ModelProcess(_engine)
    yield process
    process.close()


def test_the_process_gives_the_models_own_vectors() -> None:
    titles = ["Bear mauls angler on Iturup", "国後島で地震"]
    process = ModelProcess()
    try:
        assert np.allclose(process(titles), embed_titles(titles), atol=1e-6)
    finally:
        process.close()
    assert process.pid is None


def test_a_crash_of_the_engine_ends_its_process_and_the_next_call_starts_another(
    model: ModelProcess,
) -> None:
    assert model(["a", "b"]).shape == (2, 4)
    first = model.pid
    with pytest.raises(ModelFailed, match="ended by signal SIGSEGV"):
        model(["crash"])
    assert model(["a"]).tolist() == [[1.0] * 4]
    assert model.pid not in (None, first)


def test_an_engine_that_hangs_is_ended(model: ModelProcess) -> None:
    model(["a"])  # started, with the time that takes
    model.answer_within = 0.5  # the engine never answers: any bound fails it
    with pytest.raises(ModelFailed, match=r"gave no answer in 0\.5 s"):
        model(["hang"])
    model.answer_within = 60
    assert model(["a", "b", "c"])[0, 0] == 3.0


def test_an_error_of_the_engine_is_told_and_its_process_goes_on(model: ModelProcess) -> None:
    model(["a"])
    running = model.pid
    with pytest.raises(ModelFailed, match="ValueError: cannot read this"):
        model(["raise"])
    assert model(["a"]).shape == (1, 4) and model.pid == running


def test_a_sigterm_to_the_units_processes_leaves_the_model_to_the_daemon(
    model: ModelProcess,
) -> None:
    """systemd's stop sends SIGTERM to every process of the unit: the model's died at once, and
    a story lookup of a poll the stopping daemon lets finish failed (its report left apart from
    its story: an alert again). Its end is the daemon's, as Ctrl-C's is."""
    model(["a"])
    running = model.pid
    assert running is not None
    os.kill(running, signal.SIGTERM)
    assert model(["a", "b"]).shape == (2, 4) and model.pid == running


def test_a_call_after_the_close_starts_no_process(model: ModelProcess) -> None:
    """The daemon's stop closes the model while a story lookup may still run on its thread
    (the poller leaves it to end): its call started a new process, and loaded the model, in a
    daemon that was stopping, which then waited for it at its exit."""
    model(["a"])
    model.close()
    with pytest.raises(ModelFailed, match="closed"):
        model(["a"])
    assert model.pid is None


async def test_the_daemons_poller_embeds_in_the_models_process_and_outlives_its_crash(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A poller beside process workers (the daemon's, `poll --once`'s) uses the pool's model
    process; when that process dies, the next reports still alert, each on its own."""
    pool = ParsePool("processes", 1)
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    fetcher = Fetcher(FetchLimits(timeout=5.0, total_timeout=10.0, max_bytes=1_000_000))
    poller = Poller(
        store=store,
        fetcher=fetcher,
        topics=compile_topics({"kuril": TopicConfig(title="Kuril", query="iturup")}),
        settings=PollConfig(timeout=timedelta(seconds=5), max_bytes=1_000_000),
        pool=pool,
        clock=lambda: T0,
    )
    feeds = {
        name: FeedConfig(id=name, url=feed_server.url(f"/{name}.xml"))  # type: ignore[arg-type]
        for name in ("tass", "kyodo", "nhk")
    }
    try:
        await store.run(Store.upsert_subscriber, 7, now=T0 - timedelta(1))
        await store.run(Store.subscribe, 7, "kuril", now=T0 - timedelta(1))
        for name, feed in feeds.items():  # first polls: primed, nothing alerted
            feed_server.set_feed(f"/{name}.xml", rss([]))
            await poller.poll(feed)
        assert poller.stories.embed is pool.model and pool.model is not None
        feed_server.set_feed(
            "/tass.xml", rss([_entry("Russia to deploy Bastion missiles on Iturup", 1)])
        )
        feed_server.set_feed(
            "/kyodo.xml", rss([_entry("Bastion missiles to be deployed on Iturup, Russia says", 2)])
        )
        assert (await poller.poll(feeds["tass"])).queued == 1
        joined = await poller.poll(feeds["kyodo"])
        assert (joined.outcome, joined.queued) == ("new", 0)  # the model compared the titles
        running = pool.model.pid
        assert running is not None and running != os.getpid()
        os.kill(running, signal.SIGKILL)  # as a fault in the engine's C code would end it
        feed_server.set_feed("/nhk.xml", rss([_entry("Iturup airport closed by fog", 3)]))
        report = await poller.poll(feeds["nhk"])
        assert (report.outcome, report.queued) == ("new", 1)
    finally:
        await poller.aclose()
        await pool.aclose()
        await fetcher.aclose()
        await store.close()
    assert pool.model.pid is None


def _entry(title: str, n: int) -> FeedEntry:
    return FeedEntry(title, f"https://n.example/{n}", guid=str(n))


def test_a_hung_engine_ends_when_the_daemon_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed daemon cannot end its children: one hung in the engine never reads the end
    of its input, and watches for its parent instead."""
    script = (
        "import sys, threading, time\n"
        "from tests.test_model_process import _engine\n"
        "from watchers.model_process import ModelProcess\n"
        "model = ModelProcess(_engine)\n"
        "threading.Thread(target=model, args=(['hang'],), daemon=True).start()\n"
        "while model.pid is None: time.sleep(0.01)\n"
        "print(model.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    daemon = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert daemon.stdout is not None
        child = int(daemon.stdout.readline())
        os.kill(daemon.pid, signal.SIGKILL)
    finally:
        daemon.kill()
        daemon.wait()
    deadline = time.monotonic() + 30  # bounds the wait for the child's end, times nothing
    while Path(f"/proc/{child}").exists() and _running(child):
        assert time.monotonic() < deadline, "the model's process outlived the daemon"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False
