"""Benchmark of one item that matches thousands of chats' watches: how long the store thread
is held storing it and queueing its alerts, against the same chats subscribed to one topic.

    .venv/bin/python bench/watch_fanout.py [--chats 1000,10000,30000]

For each count, two stores of that many active private chats: in one each chat has a watch
the item matches (the item carries one `@w<id>` per watch), in the other each chat is
subscribed to the topic the item matches. Prints `Store.ingest`'s time for each and the ratio.
Then the poller's matching of such an item against that many distinct watches (none yet
compiled, as after a start): the event loop's longest stall, matched on the loop and on a
thread (`watchers.watches.matched_on_thread`, what the poller does).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import Store
from store.records import FeedState, ItemRecord
from watchers.items import Item
from watchers.topics.kept_index import KeptIndex
from watchers.watches import matched_on_thread
from watchers.worker import ItemFacts, with_watches


def ingest_seconds(folder: Path, chats: int, *, watched: bool) -> float:
    store = Store(folder / ("watched.db" if watched else "subscribed.db"))
    now = time.time()
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
            " VALUES (?, 'private', 1, ?, ?)",
            [(n, now, now) for n in range(chats)],
        )
        table, column = ("watches", "query") if watched else ("subscriptions", "topic_id")
        store.db.conn.executemany(
            f"INSERT INTO {table} (chat_id, {column}, created_at) VALUES (?, ?, ?)",
            [(n, "Shikotan" if watched else "kuril", now - 1) for n in range(chats)],
        )
    ids = [row[0] for row in store.db.execute("SELECT id FROM watches ORDER BY id")]
    topics = tuple(f"@w{n}" for n in ids) if watched else ("kuril",)
    state = FeedState("wire", "http://wire.example/rss", primed=True)
    record = ItemRecord(
        "g1", "http://wire.example/1", "http://wire.example/1", "Shikotan news", "",
        datetime.now(UTC), topics=topics, fingerprint="shikotan news",
    )  # fmt: skip
    started = time.perf_counter()
    result = store.ingest(state, [record], now=datetime.now(UTC), alert=True)
    took = time.perf_counter() - started
    assert result.queued == chats, result.queued
    store.close()
    return took


async def loop_stall(chats: int, *, thread: bool) -> float:
    """The event loop's longest stall (5 ms ticks) while one item is matched against `chats`
    distinct watches it wakes."""
    index = KeptIndex(learn=True)
    for n in range(chats):
        index.add_filed(f"Shikotan -Zyx{n}an", f"@w{n}", '[["w","shikotan"]]')
    item = Item("wire", "g1", None, None, "Shikotan news", "A plant opens on Shikotan", None)
    pairs = [(item, ItemFacts((), None, lang="en"))]
    stalls: list[float] = []

    async def ticks() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append(time.perf_counter() - before - 0.005)

    ticking = asyncio.create_task(ticks())
    await asyncio.sleep(0.05)
    if thread:
        matched = await matched_on_thread(index, asyncio.Lock(), pairs)
    else:
        matched = [(i, with_watches(index, i, f)) for i, f in pairs]
    await asyncio.sleep(0.05)
    ticking.cancel()
    assert len(matched[0][1].topics) == chats
    return max(stalls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", default="1000,10000,30000")
    args = parser.parse_args()
    for chats in map(int, args.chats.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            watched = ingest_seconds(Path(folder), chats, watched=True)
            subscribed = ingest_seconds(Path(folder), chats, watched=False)
        print(
            f"{chats:>6} chats: one item storing and queueing {watched:.3f} s through watches,"
            f" {subscribed:.3f} s through a topic ({watched / subscribed:.1f}x)"
        )
    for chats in map(int, args.chats.split(",")):
        before = asyncio.run(loop_stall(chats, thread=False))
        now = asyncio.run(loop_stall(chats, thread=True))
        print(
            f"{chats:>6} distinct watches woken by one item: the event loop stalled"
            f" {before:.3f} s matching on it, {now:.3f} s matching on a thread"
        )


if __name__ == "__main__":
    main()
