"""The daemon's watches: filed from the store with the cached Russian word forms and the keys
kept for them, changed in place, and a popular query's owners all found in the store."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from store import AsyncStore, Store, Watch
from tests.conftest import TOKEN, cli, connections, new_store, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI
from watchers import watches as watches_module
from watchers.topics import morph
from watchers.topics.filing import FILING_VERSION
from watchers.topics.morph import forget_forms
from watchers.watches import Watches


def _chat(store: Store, chat_id: int) -> None:
    now = time.time()
    store.db.execute(
        "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
        " VALUES (?, 'private', 1, ?, ?)",
        [chat_id, now, now],
    )


async def _store_of_chats(tmp_path: Path, chats: range) -> AsyncStore:
    """A store in `tmp_path` with these private chats recorded, opened for the daemon's use."""
    path = tmp_path / "kw.db"
    plain = Store(path)
    for chat in chats:
        _chat(plain, chat)
    plain.close()
    return await AsyncStore(path).open()


async def test_watches_load_with_cached_forms_and_change_in_place(tmp_path: Path) -> None:
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:
        first = await store.run(
            Store.add_watch, 1, "Зюйдокурилоид", now=datetime.now(UTC), limit=10
        )
        await store.run(Store.add_watch, 1, "Shikotan", now=datetime.now(UTC), limit=10)
        assert first is not None
        # a form no dictionary would give: found only if the cached forms are what is used
        await store.run(Store.save_word_forms, {"зюйдокурилоид": {"зюйдокурилоид", "курилоидами"}})
        watches = Watches()
        index = await watches.load(store)
        assert len(index) == 2
        found = index.match({"title": "Новости с курилоидами", "summary": ""})
        assert [m.topic_id for m in found] == [first.topic_id]

        added = Watch(99, 1, "Zyxwvutan OR Итуруп")
        await watches.add(added, store)
        assert [m.topic_id for m in index.match({"title": "Zyxwvutan外相会談"})] == ["@w99"]
        assert [m.topic_id for m in index.match({"title": "на Итурупе"})] == ["@w99"]
        cached = await store.run(Store.word_forms)
        assert "итурупе" in cached["итуруп"]  # the new word's forms, cached for the next start
        watches.remove(added)
        assert index.match({"title": "Zyxwvutan"}) == []
    finally:
        await store.close()


async def test_a_store_without_watches_files_them_without_a_word_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every start of a fresh install logged "watches: filing 0 stored watches" and "watches: 0
    filed (0 distinct queries, 0 of them under the keys the store kept, 0 for every item)":
    jargon about nothing. Now no watches are filed at DEBUG; stored ones are told at INFO."""
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:
        with caplog.at_level("INFO", logger="watchers.watches"):
            await Watches().load(store)
        assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"] == []
        await store.run(Store.add_watch, 1, "Shikotan", now=datetime.now(UTC), limit=10)
        with caplog.at_level("INFO", logger="watchers.watches"):
            await Watches().load(store)
        told = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
        assert told[0] == "watches: filing 1 stored watch"
        assert told[1].startswith("watches: 1 filed (1 distinct query, 0 of them under the keys")
    finally:
        await store.close()


async def test_watch_and_unwatch_while_the_stored_watches_are_filed(tmp_path: Path) -> None:
    # at a start the stored watches are filed on a thread (tens of seconds for 100,000);
    # an /unwatch meanwhile went to the index being replaced, so the removed watch went on
    # alerting until the next start
    store = await _store_of_chats(tmp_path, range(1, 3))
    try:
        now = datetime.now(UTC)
        gone = await store.run(Store.add_watch, 1, "Zyxwvutan", now=now, limit=10)
        kept = await store.run(Store.add_watch, 2, "Qwertyan", now=now, limit=10)
        assert gone is not None and kept is not None
        watches = Watches()
        gate = threading.Event()
        # the store's one thread held, so the filing waits for its read of the watches
        held = asyncio.ensure_future(store.run(lambda _: gate.wait(30)))
        loading = asyncio.create_task(watches.load(store))
        await asyncio.sleep(0)  # the load has asked for the watches

        async def unwatch() -> None:  # as /unwatch does: the store first, then the index
            removed = await store.run(Store.remove_watch, 1, 1)
            assert removed == gone
            await watches.changed(store, None, removed)

        removing = asyncio.create_task(unwatch())
        added = Watch(99, 2, "Asdfghan")  # and a /watch meanwhile
        adding = asyncio.create_task(watches.changed(store, added, None))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(held, loading, removing, adding)
        found = watches.index.match({"title": "Zyxwvutan, Qwertyan and Asdfghan"})
        assert [m.topic_id for m in found] == [kept.topic_id, "@w99"]
    finally:
        await store.close()


async def test_housekeeping_while_the_stored_watches_are_filed_reaches_the_new_index(
    tmp_path: Path,
) -> None:
    """The daily housekeeping ran while a start filed the watches: a watch the store dropped
    after the filing read it (a group's, as it became a supergroup with the same watch) was
    taken off the index being replaced, and the new one matched it until the next day."""
    store = await _store_of_chats(tmp_path, range(-1002, -1000))
    try:
        now = datetime.now(UTC)
        for chat in (-1001, -1002):
            await store.run(Store.add_watch, chat, "Shikotan", now=now, limit=10)
        watches = Watches()
        loading = asyncio.create_task(watches.load(store))
        await asyncio.sleep(0)  # the load holds its lock and has asked for the watches
        # the store's one thread runs in order: the move after the load's read of the watches
        moving = asyncio.ensure_future(store.run(Store.migrate_chat, -1001, -1002, now=now))
        keeping = asyncio.create_task(watches.housekeeping(store))  # waits for the read
        await asyncio.gather(loading, moving, keeping)
        [watch] = await store.run(Store.watches, -1002)
        assert len(watches.index) == 1
        assert [m.topic_id for m in watches.index.match({"title": "Shikotan"})] == [watch.topic_id]
    finally:
        await store.close()


def test_a_query_of_many_chats_finds_every_one(tmp_path: Path) -> None:
    store = Store(new_store(tmp_path / "kw.db"))
    now = time.time()
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
            " VALUES (?, 'private', 1, ?, ?)",
            [(n, now, now) for n in range(25_000)],
        )
        store.db.conn.executemany(
            "INSERT INTO watches (id, chat_id, query, created_at) VALUES (?, ?, 'Shikotan', ?)",
            [(n + 1, n, now) for n in range(25_000)],
        )
    chats = store.watch_chats([f"@w{n + 1}" for n in range(25_000)])
    assert len(chats) == 25_000 and chats[7] == ["@w8"]
    store.close()


async def test_watches_kept_keys_are_used_only_when_the_same_code_chose_them(
    tmp_path: Path,
) -> None:
    store = await _store_of_chats(tmp_path, range(1, 4))
    try:
        now = datetime.now(UTC)
        kept = await store.run(Store.add_watch, 1, "Zyxwvutan AND minister", now=now, limit=10)
        stale = await store.run(Store.add_watch, 2, "Qwertyan", now=now, limit=10)
        new = await store.run(Store.add_watch, 3, "Asdfghan", now=now, limit=10)
        assert kept is not None and stale is not None and new is not None
        # filed under its common word: any required term is correct, only costlier
        await store.run(Store.save_watch_filings, FILING_VERSION, [(kept.id, '[["w","minister"]]')])
        # keys chosen by other code (say, another normaliser) are not used
        await store.run(Store.save_watch_filings, "older", [(stale.id, '[["w","nothing"]]')])
        index = await Watches().load(store)
        assert index.filed_under(kept.query) == (("w", "minister"),)
        assert index.filed_under(stale.query) == (("w", "qwertyan"),)
        found = index.match({"title": "Minister Zyxwvutan meets Qwertyan and Asdfghan"})
        assert [m.topic_id for m in found] == [kept.topic_id, stale.topic_id, new.topic_id]
        rows = await store.run(Store.filed_watches, FILING_VERSION)
        assert [filed for _, filed in rows] == [
            '[["w","minister"]]',
            '[["w","qwertyan"]]',  # filed anew from its text, and kept for the next start
            '[["w","asdfghan"]]',
        ]
        watches = Watches()
        await watches.load(store)
        added = await store.run(Store.add_watch, 2, "Lkjhgan", now=now, limit=10)
        assert added is not None
        await watches.add(added, store)
        assert watches.index.filed_under("Lkjhgan") == (("w", "lkjhgan"),)
        rows = await store.run(Store.filed_watches, FILING_VERSION)
        assert rows[-1] == (added, '[["w","lkjhgan"]]')  # /watch keeps what it filed it under
    finally:
        await store.close()


CHAT, OTHER_CHAT = 5151, 6161


def test_a_watch_stored_before_a_start_alerts_from_the_keys_kept_for_it(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    old = FeedEntry("Old weather report", "https://news.example/old", guid="old")
    feed_server.set_feed("/a.xml", rss([old]))
    config = write_config(
        tmp_path, {"feed-a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)
    bot_api.push_message(CHAT, "/watch Zyxwvutan")
    assert "Watching for" in bot_api.wait_for_messages(CHAT, 1, timeout=20)[0]["text"]
    assert daemon.stop() == 0

    db = tmp_path / "kw.db"
    with sqlite3.connect(db) as conn:
        [(filed, version)] = conn.execute("SELECT filed_under, filed_by FROM watches").fetchall()
        assert version == FILING_VERSION and "zyxwvutan" in filed
        # another chat's watch, kept under keys some older code chose (wrong ones now)
        now = time.time()
        conn.execute(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
            " VALUES (?, 'private', 1, ?, ?)",
            [OTHER_CHAT, now, now],
        )
        conn.execute(
            "INSERT INTO watches (chat_id, query, created_at, filed_under, filed_by)"
            " VALUES (?, 'Qwertyan', ?, '[[\"w\",\"nothing\"]]', 'older')",
            [OTHER_CHAT, now],
        )
    # the items wait in the feed: the first poll after the start matches them
    feed_server.set_feed(
        "/a.xml",
        rss(
            [
                FeedEntry("Zyxwvutan visits the islands", "https://news.example/z", guid="z"),
                FeedEntry("Qwertyan visits the islands", "https://news.example/q", guid="q"),
                old,
            ]
        ),
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    line = daemon.stderr.wait_for("watches: 2 filed", timeout=30)
    assert "1 of them under the keys the store kept" in line
    [alert] = bot_api.wait_for_messages(CHAT, 2, timeout=30)[1:]
    assert "Zyxwvutan visits the islands" in alert["text"] and "#watch" in alert["text"]
    [other] = bot_api.wait_for_messages(OTHER_CHAT, 1, timeout=30)
    assert "Qwertyan visits the islands" in other["text"]
    assert daemon.stop() == 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT filed_under, filed_by FROM watches ORDER BY id").fetchall()
    assert rows[1] == ('[["w","qwertyan"]]', FILING_VERSION)  # filed anew and kept
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


def test_poll_once_matches_the_chats_watches(tmp_path: Path, feed_server: FeedServer) -> None:
    """The daemon takes an item `poll --once` stored as known: it must have been matched."""
    old = FeedEntry("Old news", "https://n.example/0", guid="0")
    feed_server.set_feed("/a.xml", rss([old]))
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")})
    assert cli("poll", "--once", "--config", str(config)).returncode == 0  # primes
    store = Store(new_store(tmp_path / "kw.db"))
    store.upsert_subscriber(CHAT, now=datetime.now(UTC))
    store.add_watch(CHAT, "Zyxwvutan", now=datetime.now(UTC), limit=10)
    store.close()
    visit = FeedEntry(
        "Zyxwvutan minister visits Tokyo",
        "https://n.example/1",
        guid="1",
        summary="The Zyxwvutan minister arrived in Tokyo for talks on Monday.",
    )
    feed_server.set_feed("/a.xml", rss([visit, old]))
    result = cli("poll", "--once", "--config", str(config))
    assert (
        result.returncode == 0
        and "1 matched a topic (1 new story), 1 alert queued" in result.stdout
    ), result.stdout
    with sqlite3.connect(tmp_path / "kw.db") as conn:
        assert conn.execute("SELECT chat_id FROM outbox").fetchall() == [(CHAT,)]


async def test_the_cached_word_forms_of_removed_watches_are_pruned(tmp_path: Path) -> None:
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:
        now = datetime.now(UTC)
        watches = Watches()
        await watches.load(store)
        for query in ("Итуруп", "Шикотан OR Habomai"):
            added = await store.run(Store.add_watch, 1, query, now=now, limit=10)
            assert added is not None
            await watches.changed(store, added, None)
        assert set(await store.run(Store.word_forms)) == {"итуруп", "шикотан"}
        removed = await store.run(Store.remove_watch, 1, 1)  # /unwatch 1: Итуруп
        await watches.changed(store, None, removed)
        await watches.housekeeping(store)
        # a cache as large as the watches, not every word ever watched
        assert set(await store.run(Store.word_forms)) == {"шикотан"}
        again = await store.run(Store.add_watch, 1, "Итуруп", now=now, limit=10)
        await watches.changed(store, again, None)
        assert "итурупе" in (await store.run(Store.word_forms))["итуруп"]  # cached again
    finally:
        await store.close()


async def test_the_watches_of_chats_that_blocked_the_bot_leave_the_index(tmp_path: Path) -> None:
    store = await _store_of_chats(tmp_path, range(1, 51))
    try:
        now = datetime.now(UTC)
        for chat in range(1, 51):
            await store.run(Store.add_watch, chat, f"Zyx{chat}an OR Shikotan", now=now, limit=10)
        watches = Watches()
        await watches.load(store)
        for chat in range(2, 51):  # months of chats blocking the bot, the daemon never restarted
            await store.run(Store.deactivate_chat, chat, "Forbidden: blocked", now=now)
        await watches.housekeeping(store)
        assert len(watches.index) == 1
        assert [m.topic_id for m in watches.index.match({"title": "Shikotan"})] == ["@w1"]
    finally:
        await store.close()


async def test_a_watch_a_move_to_a_supergroup_dropped_leaves_the_index(tmp_path: Path) -> None:
    """A group that becomes a supergroup which has the same watch already: the group's watch is
    dropped from the store as its rows move, and no path told the index, which matched it
    against every item until a restart."""
    store = await _store_of_chats(tmp_path, range(-1002, -1000))
    try:
        now = datetime.now(UTC)
        for chat in (-1001, -1002):  # the group, and the supergroup it becomes
            await store.run(Store.add_watch, chat, "Shikotan", now=now, limit=10)
        watches = Watches()
        await watches.load(store)
        await store.run(Store.migrate_chat, -1001, -1002, now=now)
        await watches.housekeeping(store)
        assert len(watches.index) == 1
        [watch] = await store.run(Store.watches, -1002)
        assert [m.topic_id for m in watches.index.match({"title": "Shikotan"})] == [watch.topic_id]
    finally:
        await store.close()


async def test_a_configured_channel_back_after_removing_the_bot_has_its_watches_filed_again(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    from telegram import Bot

    from bot.config import ChannelConfig
    from bot.telegram.channels import add_channels

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    try:
        now = datetime.now(UTC)
        async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
            channel = (ChannelConfig(chat="@kurilnews", topics=("kuril",)),)
            await add_channels(bot, store, channel, now=now)
            chat_id = (await bot.get_chat("@kurilnews")).id
            await store.run(Store.add_watch, chat_id, "Shikotan", now=now, limit=10)
            await store.run(Store.deactivate_chat, chat_id, "Forbidden: kicked", now=now)
            watches = Watches()
            await watches.load(store)  # a start while the bot was out of the channel
            assert watches.index.match({"title": "Shikotan"}) == []

            async def changed(added: Watch | None, removed: Watch | None) -> None:
                await watches.changed(store, added, removed)

            await add_channels(bot, store, channel, now=now, watches_changed=changed)
        assert len(watches.index.match({"title": "Shikotan plant opens"})) == 1
    finally:
        await store.close()


async def test_a_polls_new_items_are_matched_against_the_watches_off_the_event_loop(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """An item may wake thousands of watches: evaluating them (and compiling them, after a
    start) took seconds of the event loop, when no chat got an answer; now a thread does it."""
    from watchers.config import FeedConfig, PollConfig
    from watchers.fetch import Fetcher, FetchLimits
    from watchers.poll import Poller
    from watchers.topics.compile import compile_topics
    from watchers.topics.engine import Match
    from watchers.topics.kept_index import KeptIndex

    threads: list[int] = []

    class Watched(KeptIndex):
        def match(self, fields: Any, *, explain: bool = False) -> list[Match]:
            threads.append(threading.get_ident())
            return super().match(fields, explain=explain)

    store = await _store_of_chats(tmp_path, range(1, 2))
    now = datetime.now(UTC)
    added = await store.run(Store.add_watch, 1, "Zyxwvutan", now=now, limit=10)
    assert added is not None
    index = Watched(learn=True)
    index.add(added.query, added.topic_id)
    feed = FeedConfig(id="a", url=feed_server.url("/a.xml"))  # type: ignore[arg-type]
    old = FeedEntry("Old news", "https://n.example/0", guid="0")
    visit = FeedEntry("Zyxwvutan minister visits Tokyo", "https://n.example/1", guid="1")
    settings = PollConfig(timeout=timedelta(seconds=1))
    async with Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0)) as fetcher:
        poller = Poller(store=store, fetcher=fetcher, topics=compile_topics({}), settings=settings)
        poller.watches = index
        try:
            feed_server.set_feed("/a.xml", rss([old]))
            await poller.poll(feed)  # primes
            feed_server.set_feed("/a.xml", rss([visit, old]))
            report = await poller.poll(feed)
        finally:
            await poller.aclose()
            await store.close()
    assert report.queued == 1
    assert threads and threading.get_ident() not in threads


async def test_a_damaged_cache_of_filings_and_word_forms_files_the_watches_from_their_text(
    tmp_path: Path,
) -> None:
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:
        now = datetime.now(UTC)
        for query in ("Итуруп", "Shikotan"):
            assert await store.run(Store.add_watch, 1, query, now=now, limit=10) is not None
        await Watches().load(store)  # keeps their filings and the forms of итуруп

        def damage(plain: Store) -> None:  # a torn write, an edit by hand
            plain.db.execute("UPDATE word_forms SET forms = 'итурупе'")
            plain.db.execute("UPDATE watches SET filed_under = '[[' WHERE query = 'Shikotan'")

        await store.run(damage)
        index = await Watches().load(store)
        assert [m.topic_id for m in index.match({"title": "На Итурупе"})] == ["@w1"]
        assert [m.topic_id for m in index.match({"title": "Shikotan"})] == ["@w2"]
        # the cache is whole again: the next start files them from it
        assert "итурупе" in (await store.run(Store.word_forms))["итуруп"]
        assert len(await Watches().load(store)) == 2
    finally:
        await store.close()


async def test_watches_that_cannot_be_filed_leave_the_polls_and_new_watches_going(
    tmp_path: Path,
) -> None:
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:
        await store.run(Store.add_watch, 1, "Итуруп", now=datetime.now(UTC), limit=10)

        def break_it(plain: Store) -> None:  # what no filing can get past
            plain.db.execute("ALTER TABLE subscribers RENAME TO subscribers_gone")

        await store.run(break_it)
        watches = Watches()
        index = await watches.load(store)  # every poll awaits this: it must not raise
        await watches.add(Watch(7, 1, "Kunashir"), store)
        assert [m.topic_id for m in index.match({"title": "Kunashir"})] == ["@w7"]
    finally:
        await store.close()


async def test_forms_a_damaged_cache_gave_are_dropped_with_it(tmp_path: Path) -> None:
    """Forms read from a cache found damaged (by a filing of it that failed) are looked up
    again, not reused from memory nor written back."""
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:
        now = datetime.now(UTC)
        for query in ("Курилоград", "Shikotan"):
            assert await store.run(Store.add_watch, 1, query, now=now, limit=10) is not None
        await Watches().load(store)

        def damage(plain: Store) -> None:  # a form lost, and a filing torn
            plain.db.execute("UPDATE word_forms SET forms = '[\"курилоград\"]'")
            plain.db.execute("UPDATE watches SET filed_under = '[[' WHERE query = 'Shikotan'")

        await store.run(damage)
        forget_forms()  # as a new process starts
        index = await Watches().load(store)
        assert [m.topic_id for m in index.match({"title": "В Курилограде"})] == ["@w1"]
        assert "курилограде" in (await store.run(Store.word_forms))["курилоград"]
    finally:
        await store.close()


async def test_a_start_filing_more_words_than_the_forms_cache_holds_uses_the_stored_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start that files the watches from their text (after a change to the keys) is given
    every stored word's forms, more than the cache of forms holds: each word's are given again
    as its watches are filed. Past the bound they were looked up again, in an order that drops
    the next ones needed: 20,000 of bench/watches.py's 26,000 words, 6 s more."""
    store = await _store_of_chats(tmp_path, range(1, 2))
    syllables = ("ка", "ро", "ми", "ту", "не")
    words = [f"{a}{b}{c}ид" for a in syllables for b in syllables for c in syllables[:2]]
    try:
        now = datetime.now(UTC)
        for word in words:
            assert await store.run(Store.add_watch, 1, word, now=now, limit=100) is not None
        # a form no dictionary would give: filed under only if the stored forms are used
        await store.run(Store.save_word_forms, {word: {word, f"{word}ыйз"} for word in words})
        forget_forms()  # as a new process starts
        monkeypatch.setattr(morph, "FORMS_BYTES", 4_000)  # some 6 of these words
        index = await Watches().load(store)
        assert len(index) == len(words)
        unmarked = [w for w in words if ("w", f"{w}ыйз") not in index.filed_under(w)]
        assert unmarked == []
        assert morph.forms_held()[1] <= 4_000
    finally:
        forget_forms()
        await store.close()


class _FormsReadStore(AsyncStore):
    """A real store that records how many words' forms each of its reads of them returned."""

    reads: list[int]

    async def run(self, verb: Any, *args: Any, **kwargs: Any) -> Any:
        got = await super().run(verb, *args, **kwargs)
        if verb.__name__.startswith("word_forms"):
            self.reads.append(len(got))
        return got


async def test_a_start_reads_the_stored_forms_a_page_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start read every stored word's forms at once, 58 MB for bench/watches.py's 100,000
    watches, and held them all while it filed, past the 32 MiB the cache of forms keeps. Now
    each page read is given to the cache, and a filing from the watches' text reads again,
    a page at most at a time, the stored forms the cache dropped: it still looks none up."""
    plain = Store(tmp_path / "kw.db")
    _chat(plain, 1)
    plain.close()
    store = _FormsReadStore(tmp_path / "kw.db")
    await store.open()
    syllables = ("ка", "ро", "ми", "ту", "не")
    words = [f"{a}{b}{c}ид" for a in syllables for b in syllables for c in syllables[:2]]
    queries = [f"{words[n]} OR {words[(7 * n + 3) % len(words)]}" for n in range(len(words))]
    looked_up: list[str] = []

    def look_up(word: str) -> frozenset[str]:
        looked_up.append(word)
        return frozenset((word,))

    try:
        now = datetime.now(UTC)
        for query in queries:
            assert await store.run(Store.add_watch, 1, query, now=now, limit=100) is not None
        # a form no dictionary would give: filed under only if the stored forms are used
        await store.run(Store.save_word_forms, {word: {word, f"{word}ыйз"} for word in words})
        monkeypatch.setattr(morph, "FORMS_BYTES", 4_000)  # some 6 of these words
        monkeypatch.setattr(morph, "_looked_up", look_up)
        monkeypatch.setattr(watches_module, "FORMS_PAGE", 4, raising=False)
        for start in ("from their text", "under the keys kept", "after a change to the keys"):
            if start.startswith("after"):  # as a new FILING_VERSION finds them
                await store.run(lambda s: s.db.execute("UPDATE watches SET filed_by = 'older'"))
            forget_forms()  # as a new process starts
            store.reads = []
            index = await Watches().load(store)
            assert len(index) == len(queries), start
            assert store.reads and max(store.reads) <= 4, start
            assert sum(store.reads) >= len(words), start  # the cache was given every word's
            for query in queries:
                marked = {("w", f"{word}ыйз") for word in query.split(" OR ")}
                assert marked <= set(index.filed_under(query)), (start, query)
            assert looked_up == [], start
            assert morph.forms_held()[1] <= 4_000, start
    finally:
        forget_forms()
        await store.close()


async def test_a_word_the_store_no_longer_has_is_looked_up_once_its_read_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored word's forms read for its first watch come back without it (the daily prune
    took it meanwhile): that watch is filed with the forms looked up, and the filing goes on."""
    store = await _store_of_chats(tmp_path, range(1, 2))
    looked_up: list[str] = []

    def look_up(word: str) -> frozenset[str]:
        looked_up.append(word)
        return frozenset((word,))

    read = Store.word_forms_of

    def losing(plain: Store, words: list[str]) -> dict[str, frozenset[str]]:
        return {w: f for w, f in read(plain, words).items() if w != "ромид"}

    try:
        now = datetime.now(UTC)
        for query in ("Ромид", "Ромид OR Камид", "Камид"):
            assert await store.run(Store.add_watch, 1, query, now=now, limit=10) is not None
        forms = {word: {word, f"{word}ыйз"} for word in ("ромид", "камид")}
        await store.run(Store.save_word_forms, forms)
        monkeypatch.setattr(morph, "_looked_up", look_up)
        monkeypatch.setattr(Store, "word_forms_of", losing)
        index = await Watches().load(store)
        assert len(index) == 3
        assert looked_up == ["ромид"]
        assert ("w", "камидыйз") in index.filed_under("Камид")
    finally:
        forget_forms()
        await store.close()


async def test_a_start_gives_the_stored_forms_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keeping a word's forms sizes each of them (the bound of the cache): a start gives every
    stored word's, 26,000 for bench/watches.py's 100,000 watches, ~0.1 s of it, on the event
    loop it was (a dict's update before the cache was bounded)."""
    store = await _store_of_chats(tmp_path, range(1, 2))
    words = [f"{a}{b}ид" for a in ("ка", "ро", "ми") for b in ("ту", "не", "ла")]
    loop_thread = threading.get_ident()
    kept_on: list[int] = []
    put = morph._KEPT.put

    def recorded(word: str, forms: frozenset[str]) -> None:
        kept_on.append(threading.get_ident())
        put(word, forms)

    try:
        now = datetime.now(UTC)
        for word in words:
            assert await store.run(Store.add_watch, 1, word, now=now, limit=100) is not None
        await Watches().load(store)  # files them, and keeps their forms for the next start
        forget_forms()  # as a new process starts
        monkeypatch.setattr(morph._KEPT, "put", recorded)
        index = await Watches().load(store)
        assert len(index) == len(words) and len(kept_on) >= len(words)
        assert loop_thread not in kept_on
    finally:
        forget_forms()
        await store.close()


async def test_a_load_that_fails_leaves_no_record_of_later_changes(tmp_path: Path) -> None:
    """A load records /watch and /unwatch only while it files (to replay them on its index):
    one that failed before its filing records none, for as long as the daemon runs."""
    store = await _store_of_chats(tmp_path, range(1, 2))
    try:

        def break_it(plain: Store) -> None:  # what no filing can get past
            plain.db.execute("ALTER TABLE subscribers RENAME TO subscribers_gone")

        await store.run(break_it)
        watches = Watches()
        await watches.load(store)
        for n in range(3):
            await watches.add(Watch(n, 1, f"Kunashir {n}"), store)
        assert watches._meanwhile is None
    finally:
        await store.close()


def _store_of_watches(path: Path, count: int) -> None:
    """A store of one chat with `count` distinct watches, never filed (as after an upgrade)."""
    store = Store(path)
    _chat(store, 1)
    now = time.time()
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO watches (chat_id, query, created_at) VALUES (1, ?, ?)",
            [(f"word{n} OR другое{n} AND (x{n} NEAR/3 y{n})", now) for n in range(count)],
        )
    store.close()


def test_a_stop_while_the_watches_are_first_filed_cuts_the_filing_with_one_line(
    tmp_path: Path, start_daemon: Any
) -> None:
    # the filing (tens of seconds for 100,000 watches) went on after a stop: past the 10 s
    # a stop may take, then two tracebacks from a store already closed
    count = 100_000
    _store_of_watches(tmp_path / "kw.db", count)
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, interval="1h")
    daemon = start_daemon("run", "--config", str(config))
    daemon.stderr.wait_for(f"watches: filing {count} stored watches", timeout=60)
    assert daemon.stop() == 0  # within the 10 s a stop may take
    log = daemon.stderr.text
    assert "Traceback" not in log and "ERROR" not in log, log
    assert f"watches: {count} filed" not in log  # cut short, not waited for
    stopped = [line for line in daemon.stderr.lines if "watches: filing stopped" in line]
    assert len(stopped) == 1 and "the next start files them" in stopped[0], log
    # nothing is recorded as filed: the next start files every watch from its text
    with sqlite3.connect(tmp_path / "kw.db") as db:
        assert db.execute("SELECT count(*) FROM watches WHERE filed_by IS NOT NULL").fetchone() == (
            0,
        )


async def test_a_filing_cut_by_a_stop_records_nothing_and_the_next_files_every_watch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="watchers.watches")
    count = 3000
    _store_of_watches(tmp_path / "kw.db", count)
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    class Started(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "stored watches" in record.getMessage():
                loop.call_soon_threadsafe(started.set)

    handler = Started()
    logging.getLogger("watchers.watches").addHandler(handler)
    try:
        stopping = asyncio.Event()  # the daemon's
        loading = asyncio.create_task(Watches().load(store, stopping))
        await asyncio.wait_for(started.wait(), 30)
        stopping.set()
        with pytest.raises(asyncio.CancelledError):
            await loading
        assert (
            await store.run(
                lambda s: s.db.execute(
                    "SELECT count(*) FROM watches WHERE filed_by IS NOT NULL"
                ).fetchone()[0]
            )
            == 0
        )
        index = await Watches().load(store)  # the next start
        assert len(index) == count
        assert index.match({"title": "word7 x7 y7"})[0].topic_id.startswith("@w")
        filed = await store.run(Store.filed_watches, FILING_VERSION)
        assert all(keys is not None for _, keys in filed)
    finally:
        logging.getLogger("watchers.watches").removeHandler(handler)
        await store.close()


async def test_watches_written_with_typographic_quotes_before_they_quoted_are_filed(
    tmp_path: Path,
) -> None:
    """421615e made «…» and “…” quotes and refused `«Росатом».`: its new FILING_VERSION had
    every stored watch parsed anew at the next start, and these were skipped (0 of 3 filed)."""
    store = await _store_of_chats(tmp_path, range(1, 4))
    try:
        now = datetime.now(UTC)
        for chat, query in enumerate(("«Росатом».", "Minister “Hayashi”.", "Газета «Ведомости"), 1):
            await store.run(Store.add_watch, chat, query, now=now, limit=10)
        index = await Watches().load(store)
        assert len(index) == 3
        found = index.match({"title": "Росатом и газета «Ведомости»: Minister Hayashi"})
        assert sorted(m.topic_id for m in found) == ["@w1", "@w2", "@w3"]
        assert len(await store.run(Store.filed_watches, FILING_VERSION)) == 3
    finally:
        await store.close()
