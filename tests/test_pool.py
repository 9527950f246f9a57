"""The parse pool: parsing and matching in worker processes, with the daemon's topics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool

import pytest

from tests.fakes.feed_server import FeedEntry, rss
from watchers.config import TopicConfig
from watchers.pool import ParsePool
from watchers.topics.compile import compile_topics
from watchers.worker import from_wire, read_feed, to_wire

TOPICS = {
    "kuril": TopicConfig(title="Kurils", query="Курилы OR Kuril*"),
    "treaty": TopicConfig(title="Treaty", query='"мирный договор"'),
}


WAIT = 20  # seconds, bounding each wait for an event


def _slow_feed() -> bytes:
    """A feed of 1.3 MB (a tenth of poll.max_bytes) whose parse takes minutes: html.parser
    looks for the end of each unclosed "<!--" of a summary to the end of the text (quadratic),
    and feedparser walks a deep nesting of elements slowly."""
    summary = "<![CDATA[Kuril " + "<!--" * 75_000 + "]]>"
    item = f"<item><title>Kuril</title><guid>1</guid><description>{summary}</description>"
    nested = "<x>" * 330_000
    channel = f"<channel><title>t</title>{item}{nested}</item></channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>".encode()


def _process_ended(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _loaded(module: str) -> bool:
    return module in sys.modules


async def test_workers_match_russian_forms_without_loading_the_dictionaries() -> None:
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 1)
    try:
        feed = rss(
            [
                FeedEntry("Учения на Курилах", "https://ria.example/1"),
                FeedEntry("Переговоры о мирном договоре", "https://ria.example/2"),
                FeedEntry("Погода в Москве", "https://ria.example/3", summary="Дождь и ветер."),
                FeedEntry("Kurilsk port reopens", "https://e.example/4"),
            ]
        )
        read = await pool.read(
            feed,
            feed_id="ria",
            url="https://ria.example/rss",
            headers={"content-type": "application/rss+xml; charset=utf-8"},
            spec=topics.spec,
        )
        assert [f.topics for f in read.facts] == [("kuril",), ("treaty",), (), ("kuril",)]
        assert read.facts[0].sketch is not None
        loop = asyncio.get_running_loop()
        assert not await loop.run_in_executor(pool._pool(), _loaded, "pymorphy3")
        # nor the store (sqlite_utils and every store module: 6 MB in each worker)
        assert not await loop.run_in_executor(pool._pool(), _loaded, "store")
    finally:
        await pool.aclose()


def test_a_spec_crosses_to_a_worker_as_bytes_unpacked_once() -> None:
    spec = compile_topics(TOPICS).spec
    first, again = pickle.loads(pickle.dumps(spec)), pickle.loads(pickle.dumps(spec))
    assert first == spec and again is first
    edited = compile_topics({"kuril": TopicConfig(title="Kurils", query="Iturup")}).spec
    assert pickle.loads(pickle.dumps(edited)) == edited != spec


def _die() -> None:
    os._exit(1)


async def test_a_dead_worker_is_an_error_on_that_feed_and_the_next_feed_gets_a_new_pool() -> None:
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 1)
    feed = rss([FeedEntry("Kuril Islands talks", "https://e.example/1")])
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    try:
        broken = pool._pool()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(BrokenProcessPool):
            await loop.run_in_executor(broken, _die)
        read = await pool.read(feed, feed_id="a", url="u", headers=headers, spec=topics.spec)
        assert read.parsed.error == "the parser process died on this feed"
        read = await pool.read(feed, feed_id="a", url="u", headers=headers, spec=topics.spec)
        assert read.parsed.error is None
        assert [f.topics for f in read.facts] == [("kuril",)]
        assert pool._executor is not broken
    finally:
        await pool.aclose()
    assert pool._executor is None


async def test_a_parse_past_its_limit_is_that_feeds_error_and_its_worker_is_stopped() -> None:
    """A feed whose parse would hold a worker for hours (and the feed's poll: never polled
    again, no error recorded): cut at the limit, an error of that feed, the worker killed."""
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 1, limit=1.0)
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    good = rss([FeedEntry("Kuril Islands talks", "https://e.example/1")])
    try:
        worker = await asyncio.get_running_loop().run_in_executor(pool._pool(), os.getpid)
        read = await asyncio.wait_for(
            pool.read(_slow_feed(), feed_id="a", url="u", headers=headers, spec=topics.spec), WAIT
        )
        assert read.parsed.error == "parsing took over 1 s; the parser was stopped"
        assert _process_ended(worker)
        read = await pool.read(good, feed_id="b", url="u", headers=headers, spec=topics.spec)
        assert read.parsed.error is None and [f.topics for f in read.facts] == [("kuril",)]
    finally:
        await pool.aclose()


async def test_a_sigterm_to_the_units_processes_leaves_the_workers_to_the_daemon() -> None:
    """systemd's stop sends SIGTERM to every process of the unit: a worker died at once, and
    the feed it parsed for a poll the stopping daemon lets finish was recorded as failed ('the
    parser process died on this feed', backed off). Their end is the daemon's, as Ctrl-C's is."""
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 1)
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    good = rss([FeedEntry("Kuril Islands talks", "https://e.example/1")])
    try:
        await pool.start()
        worker = await asyncio.get_running_loop().run_in_executor(pool._pool(), os.getpid)
        os.kill(worker, signal.SIGTERM)
        read = await pool.read(good, feed_id="b", url="u", headers=headers, spec=topics.spec)
        assert read.parsed.error is None
        assert await asyncio.get_running_loop().run_in_executor(pool._pool(), os.getpid) == worker
    finally:
        await pool.aclose()


async def test_a_feed_waiting_for_a_worker_behind_a_long_parse_is_not_cut_by_its_limit() -> None:
    """One worker (a one-core server) and a feed whose parse is cut at the limit: a feed
    submitted behind it waited for the worker, not parsed, all that time; it was cut with it
    ('parsing took over ...') and backed off. Its limit counts from its parse's start."""
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 1, limit=2.0)
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    good = rss([FeedEntry("Kuril Islands talks", "https://e.example/1")])
    try:
        await pool.start()
        slow = asyncio.create_task(
            pool.read(_slow_feed(), feed_id="a", url="u", headers=headers, spec=topics.spec)
        )
        await asyncio.sleep(0)  # submitted first
        read = await asyncio.wait_for(
            pool.read(good, feed_id="b", url="u", headers=headers, spec=topics.spec), WAIT
        )
        assert read.parsed.error is None and [f.topics for f in read.facts] == [("kuril",)]
        assert (await asyncio.wait_for(slow, WAIT)).parsed.error is not None
    finally:
        await pool.aclose()


@pytest.mark.parametrize("reads", [1, 2])
async def test_a_stop_in_the_middle_of_a_long_parse_ends_its_worker_at_once(reads: int) -> None:
    """SIGTERM while a worker parses such a feed: the daemon waited for the parse to end, far
    past its 10 s to stop; now the worker is killed after a short grace."""
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 1)
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    worker = await asyncio.get_running_loop().run_in_executor(pool._pool(), os.getpid)
    polls = [
        asyncio.create_task(
            pool.read(_slow_feed(), feed_id=f"{n}", url="u", headers=headers, spec=topics.spec)
        )
        for n in range(reads)
    ]
    await asyncio.sleep(0)  # submitted
    await asyncio.wait_for(pool.aclose(), WAIT)
    assert _process_ended(worker)
    for poll in polls:  # the daemon's stop has cancelled them; each ends either way
        await asyncio.wait_for(asyncio.gather(poll, return_exceptions=True), WAIT)


def test_a_read_feed_crosses_to_the_daemon_unchanged() -> None:
    spec = compile_topics(TOPICS).spec
    body = rss(
        [
            FeedEntry("Курилы: учения", "https://n.example/1", guid="1", summary="Флот у Итурупа."),
            FeedEntry("Weather", "https://n.example/2", guid="2", summary="<p>Rain</p>"),
            FeedEntry(
                "Курилы: рейс отменён - ТАСС",
                "https://news.google.com/rss/articles/AU?oc=5",
                guid="3",
                source=("ТАСС", "https://tass.ru"),
            ),
        ]
    )
    read = read_feed(body, feed_id="f", url="https://n.example/", headers={}, spec=spec)
    assert read.facts[0].sketch is not None and read.facts[1].sketch is None
    assert (read.parsed.items[2].outlet, read.parsed.items[2].outlet_key) == ("ТАСС", "tass.ru")
    assert from_wire(pickle.loads(pickle.dumps(to_wire(read)))) == read


async def test_workers_started_before_the_event_loop_read_a_first_polls_feed_unsketched() -> None:
    topics = compile_topics(TOPICS)
    pool = ParsePool("processes", 2)
    pool.prestart()  # as `kurilwatch poll` does before it imports the rest
    try:
        await pool.start()  # waits for those workers instead of starting others
        workers = set(pool._pool()._processes)  # type: ignore[attr-defined]
        assert len(workers) == 2
        summary = "Учения прошли на Курилах. Участвовали 500 военных."
        feed = rss([FeedEntry("Учения на Курилах", "https://ria.example/1", summary=summary)])
        headers = {"content-type": "application/rss+xml; charset=utf-8"}
        first = await pool.read(
            feed, feed_id="r", url="u", headers=headers, spec=topics.spec, sketches=False
        )
        later = await pool.read(feed, feed_id="r", url="u", headers=headers, spec=topics.spec)
        assert first.facts[0].topics == later.facts[0].topics == ("kuril",)
        assert first.facts[0].brief == later.facts[0].brief != ""
        assert first.facts[0].sketch is None and later.facts[0].sketch is not None
        assert set(pool._pool()._processes) == workers  # type: ignore[attr-defined]
    finally:
        await pool.aclose()


PRESTART = """
import asyncio, os, threading
from watchers.pool import ParsePool
from watchers.topics.compile import TopicSpec

def method(pool):
    return pool._pool()._mp_context.get_start_method()

async def replaced(pool):
    await pool.start()
    os.kill(next(iter(pool._pool()._processes)), 9)
    body = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
    for _ in range(2):  # the first read meets the dead worker
        read = await pool.read(body, feed_id="f", url="u", headers={}, spec=TopicSpec())
    print(read.parsed.title, method(pool))
    await pool.aclose()

alone = ParsePool("processes", 1)
alone.prestart()
print(method(alone))
asyncio.run(replaced(alone))
stop = threading.Event()
waiting = threading.Thread(target=stop.wait)
waiting.start()
busy = ParsePool("processes", 1)
busy.prestart()
print(method(busy))
busy.close()
stop.set()
"""


def test_prestart_forks_workers_only_in_a_process_with_no_other_thread() -> None:
    """A fork copies only the calling thread: a lock another thread held would stay held in
    the child. Workers prestarted alone are forked; with a thread running, or to replace a
    dead worker's pool, they are spawned."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", PRESTART], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["fork", "t spawn", "spawn", ""]


FORMS_COMPILE = """
import asyncio, hashlib, pickle, sys
from bot.config import load_config
from watchers.pool import ParsePool
from watchers.topics.compile import compile_topics, russian_words

topics = load_config("config.yaml").topics
pool = ParsePool("processes", 1)
if sys.argv[1] == "worker":
    pool.prestart()
    pool.look_up_forms(russian_words(t.query for t in topics.values()))

async def main():
    await pool.receive_forms()
    compiled = compile_topics(topics)
    spec = pickle.dumps((compiled.spec.queries, sorted((w, sorted(f)) for w, f in compiled.spec.forms)))
    print("pymorphy3" in sys.modules, len(compiled.spec.forms), hashlib.sha256(spec).hexdigest())
    await pool.aclose()

asyncio.run(main())
"""


def test_topics_compiled_with_a_workers_word_forms_are_the_ones_compiled_here() -> None:
    """`kurilwatch poll` has a prestarted worker look the topics' Russian word forms up while
    it starts (`ParsePool.look_up_forms`): the same forms and spec, and no dictionaries here."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    answers = []
    for where in ("worker", "here"):
        result = subprocess.run(
            [sys.executable, "-c", FORMS_COMPILE, where],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        answers.append(result.stdout.split())
    (worker_loaded, worker_words, worker_spec), (here_loaded, here_words, here_spec) = answers
    assert (worker_loaded, here_loaded) == ("False", "True")
    assert worker_words == here_words != "0"
    assert worker_spec == here_spec
