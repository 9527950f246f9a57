"""Benchmark of one item that matches thousands of chats' watches: how long the store thread
is held storing it and queueing its alerts, against the same chats subscribed to one topic.

    .venv/bin/python bench/watch_fanout.py [--chats 1000,10000,30000]

For each count, two stores of that many active private chats: in one each chat has a watch
the item matches (the item carries one `@w<id>` per watch), in the other each chat is
subscribed to the topic the item matches. Prints `Store.ingest`'s time for each and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import Store
from store.records import FeedState, ItemRecord


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


if __name__ == "__main__":
    main()
