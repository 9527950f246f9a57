"""The store file's size: incremental auto-vacuum (new stores, and old ones switched by m030's
VACUUM, data intact) and the free pages a prune leaves given back, by the store and the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import random
import sqlite3
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.config import Config, load_config
from bot.daemon import Daemon
from store import AsyncStore, FeedState, ItemRecord, Store, migrations
from store.space import GIVE_BACK_STEP, INCREMENTAL, KEEP_FREE, pages_to_free, short_of_room
from tests.conftest import cli, handler_on, kurilwatch, write_config
from watchers.fetch import Fetcher
from watchers.poll import Poller
from watchers.topics.compile import compile_topics

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WORDS = random.Random(7)


def text(length: int) -> str:
    """Made-up words: text that neither compresses nor repeats from row to row."""
    return "".join(WORDS.choice(string.ascii_lowercase + "     ") for _ in range(length))


def records(prefix: str, count: int) -> list[ItemRecord]:
    return [
        ItemRecord(
            guid=f"{prefix}-{n}",
            link=f"https://news.example/{prefix}/{n}",
            canonical_url=f"https://news.example/{prefix}/{n}",
            title=text(80),
            summary=text(600),
            published_at=None,
            fingerprint=f"fp:{prefix}-{n}",
        )
        for n in range(count)
    ]


def fill(store: Store, *, at: datetime, count: int = 3000) -> None:
    """`count` items fetched at `at`, in polls of 100 as the daemon stores them."""
    for start in range(0, count, 100):
        feed = FeedState(id=f"feed-{start % 700}", url="u")
        store.ingest(feed, records(f"{at:%j}-{start}", 100), now=at, alert=False)


def sizes(store: Store, path: Path) -> tuple[int, int]:
    """(page_count * page_size, the file's size) once the WAL is written back."""
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, _, page_size = store.file_pages()
    return pages * page_size, os.path.getsize(path)


def give_back(store: Store, step: int = GIVE_BACK_STEP) -> list[int]:
    steps = []
    while freed := store.give_back_free_pages(step=step):
        steps.append(freed)
    return steps


def test_pages_to_free_keeps_a_small_reserve_and_takes_bounded_steps() -> None:
    assert pages_to_free(0, 1000) == 0
    assert pages_to_free(5, 1000) == 0  # within the reserve: a day's items reuse them
    used = 100_000
    reserve = int(used * KEEP_FREE)
    assert pages_to_free(reserve, used + reserve) == 0
    assert pages_to_free(reserve + 10, used + reserve + 10) == 10
    assert pages_to_free(50_000, used + 50_000) == GIVE_BACK_STEP
    assert pages_to_free(50_000, used + 50_000, step=64) == 64
    assert pages_to_free(900, 1000, step=1000) == 899  # a small file's reserve: 1 page
    assert pages_to_free(1000, 1000) == min(1000, GIVE_BACK_STEP)  # nothing used: no reserve


def test_pages_to_free_never_asks_more_than_is_free() -> None:
    for free in range(0, 3000, 37):
        for pages in range(free, 6000, 211):
            count = pages_to_free(free, pages, step=256)
            assert 0 <= count <= min(free, 256)


def test_a_new_store_is_incremental_from_its_creation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="store.space"), Store(tmp_path / "kw.db") as store:
        (mode,) = store.db.execute("PRAGMA auto_vacuum").fetchone()
        assert mode == INCREMENTAL
    assert not [r for r in caplog.records if "VACUUM" in r.getMessage()]  # none was needed


def test_an_old_store_is_switched_to_incremental_with_its_data_intact(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m030_incremental_vacuum")
    old.enable_wal()
    assert old.execute("PRAGMA auto_vacuum").fetchone() == (0,)
    old["feeds"].insert({"id": "a", "url": "http://a/", "primed": 1, "consecutive_errors": 0})
    rows = [
        {"id": n, "feed_id": "a", "guid": f"g{n}", "title": f"Title {n}", "summary": text(600),
         "fetched_at": NOW.timestamp(), "story_id": n, "topics": "[]"}
        for n in range(1, 1001)
    ]  # fmt: skip
    old["items"].insert_all(rows)
    old.close()
    with caplog.at_level(logging.INFO, logger="store.space"), Store(path) as store:
        (mode,) = store.db.execute("PRAGMA auto_vacuum").fetchone()
        assert mode == INCREMENTAL
        assert store.schema_version() == migrations.latest_version()
        assert store.count_items() == 1000
        got = {r["id"]: (r["title"], r["summary"]) for r in store.db.query("SELECT * FROM items")}
        assert got == {r["id"]: (r["title"], r["summary"]) for r in rows}
        assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        state = store.feed_state("a")
        assert state is not None and state.primed
    said = [r.getMessage() for r in caplog.records if r.name == "store.space"]
    assert len(said) == 2, said  # one line before the VACUUM, one after, with sizes
    assert "one-time VACUUM" in said[0] and " MB" in said[0]
    assert "VACUUM done" in said[1] and " MB -> " in said[1]
    with Store(path):  # the migration is done once
        pass
    assert len([r for r in caplog.records if r.name == "store.space"]) == 2


def test_a_prune_alone_keeps_the_file_and_giving_back_shrinks_it(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with Store(path) as store:
        fill(store, at=NOW - timedelta(days=400))  # past keys_retention: deleted
        fill(store, at=NOW - timedelta(days=200))  # past retention: compacted
        fill(store, at=NOW - timedelta(days=1), count=300)  # kept whole
        before_bytes, before_file = sizes(store, path)
        store.prune(now=NOW, text_for=timedelta(days=90), keys_for=timedelta(days=365))
        pruned_bytes, pruned_file = sizes(store, path)
        assert pruned_bytes >= before_bytes and pruned_file >= before_file  # no smaller
        pages, free, page_size = store.file_pages()
        assert free > 500  # the deleted and compacted items' pages (the search index keeps
        # its deletions' markers until its segments merge)
        steps = give_back(store, step=64)
        assert len(steps) > 1 and all(0 < s <= 64 for s in steps)  # bounded steps
        after_bytes, after_file = sizes(store, path)
        _, left, _ = store.file_pages()
        assert after_bytes <= (pages - (free - left)) * page_size  # the freed pages, gone
        assert after_bytes < before_bytes and after_file < before_file
        assert after_file == after_bytes
        assert pages_to_free(left, after_bytes // page_size) == 0  # what is left: the reserve
        assert store.count_items() == 3300
        assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_giving_back_with_nothing_free_changes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "kw.db") as store:
        fill(store, at=NOW, count=200)
        before = store.file_pages()
        assert store.give_back_free_pages() == 0
        assert store.file_pages() == before


@contextlib.asynccontextmanager
async def housekept(settings: Config) -> AsyncIterator[AsyncStore]:
    """The store after the daemon's daily housekeeping (its prune and give-back) ran on it."""
    store = await AsyncStore(settings.store.path).open()
    fetcher = Fetcher()
    poller = Poller(
        store=store, fetcher=fetcher, topics=compile_topics(settings.topics), settings=settings.poll
    )
    daemon = Daemon(settings, None, out=io.StringIO())
    try:
        await asyncio.wait_for(daemon._keep_house(store, poller), 60)
        yield store
    finally:
        await poller.aclose()
        await fetcher.aclose()
        await store.close()


async def test_the_daemons_daily_housekeeping_gives_the_pruned_pages_back(
    tmp_path: Path,
) -> None:
    settings = load_config(write_config(tmp_path, {}))
    path = Path(settings.store.path)
    then = datetime.now(UTC) - timedelta(days=400)
    with Store(path) as kept:
        fill(kept, at=then)
        fill(kept, at=datetime.now(UTC) - timedelta(days=1), count=300)
        before, before_file = sizes(kept, path)
    async with housekept(settings) as store:
        assert await store.run(Store.count_items) == 300
        pages, free, page_size = await store.run(Store.file_pages)
        assert pages_to_free(free, pages) == 0  # every free page past the reserve given back
        assert pages * page_size < before
    assert await asyncio.to_thread(os.path.getsize, path) < before_file


def test_kurilwatch_prune_gives_the_pruned_pages_back(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    path = Path(load_config(config).store.path)
    with Store(path) as kept:
        fill(kept, at=datetime.now(UTC) - timedelta(days=400))
        fill(kept, at=datetime.now(UTC) - timedelta(days=1), count=300)
        before, before_file = sizes(kept, path)
    pruned = kurilwatch("prune", "--config", str(config))
    assert pruned.returncode == 0, pruned.stderr
    assert "3000 older than 365 days deleted" in pruned.stdout
    assert "MB of free pages given back to the file system" in pruned.stdout
    with Store(path) as store:
        after, after_file = sizes(store, path)
        pages, free, _ = store.file_pages()
        assert pages_to_free(free, pages) == 0
        assert store.count_items() == 300
    assert after < before and after_file < before_file


async def test_a_store_whose_vacuum_was_skipped_says_so_at_the_daily_prune(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """m030's VACUUM skipped (the disk short of room) is recorded as applied: each day's prune
    then says that the file does not shrink, and how to switch it, not nothing."""
    settings = load_config(write_config(tmp_path, {}))
    path = Path(settings.store.path)
    with Store(path) as kept:
        fill(kept, at=datetime.now(UTC) - timedelta(days=400), count=200)
    unswitch(path)
    async with housekept(settings) as store:
        assert await store.run(Store.count_items) == 0
        assert not await store.run(Store.gives_back)  # no VACUUM while the daemon runs
    assert "does not shrink after a prune" in caplog.text and "VACUUM" in caplog.text


async def test_a_store_whose_vacuum_was_skipped_is_switched_at_the_daemons_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With room now, the daemon's start runs the VACUUM again, before its first poll, the
    data intact."""
    settings = load_config(write_config(tmp_path, {}))
    path = Path(settings.store.path)
    with Store(path) as kept:
        fill(kept, at=datetime.now(UTC) - timedelta(days=1), count=100)
    unswitch(path)
    daemon = Daemon(settings, None, out=io.StringIO())
    loop = asyncio.get_running_loop()

    class Switched(logging.Handler):  # then a stop (one asked for at once: no start at all)
        def emit(self, record: logging.LogRecord) -> None:
            if "VACUUM done" in record.getMessage():
                loop.call_soon_threadsafe(daemon.stop)

    with caplog.at_level(logging.INFO, logger="store.space"), handler_on("store.space", Switched()):
        assert await asyncio.wait_for(daemon.run(), 30) == 0
    assert "VACUUM done" in caplog.text
    with Store(path) as store:
        assert store.gives_back() and store.count_items() == 100


def test_a_disk_short_of_room_for_the_vacuum_is_named(tmp_path: Path) -> None:
    short = short_of_room(str(tmp_path / "kw.db"), 1 << 60)
    assert short is not None and short.startswith("needs ") and " MB free in " in short
    assert short_of_room(str(tmp_path / "kw.db"), 0) is None


def unswitch(path: Path) -> None:
    """The store as m030 leaves it when its VACUUM was skipped: auto-vacuum NONE."""
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("PRAGMA auto_vacuum = NONE")
    plain.execute("VACUUM")
    plain.close()


def test_kurilwatch_prune_on_a_store_whose_vacuum_was_skipped_says_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    path = Path(load_config(config).store.path)
    with Store(path) as kept:
        fill(kept, at=datetime.now(UTC) - timedelta(days=400), count=200)
    unswitch(path)
    pruned = cli("prune", "--config", str(config))
    assert pruned.returncode == 0, pruned.stderr
    assert "does not shrink after a prune" in pruned.stdout and "VACUUM" in pruned.stdout
