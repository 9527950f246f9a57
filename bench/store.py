"""Benchmark of the store: dedup check + insert of new items with 1,000,000 items stored, against
the same database without its indexes, measured in the same run.

    .venv/bin/python bench/store.py [--stored 1000000] [--new 20000] [--batch 500]

Each batch is one `Store.ingest` call, as a poll makes it: known guids, then for every new item
its canonical URL and content fingerprint looked up, then the inserts, in one transaction.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import FeedState, ItemRecord, Store

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def fill(store: Store, count: int) -> None:
    """`count` stored items over 200 feeds and the last 90 days, written in bulk."""
    start = (NOW - timedelta(days=90)).timestamp()
    step = 90 * 86400 / count
    rows = (
        (
            f"feed-{n % 200}",
            f"guid-{n}",
            f"https://news{n % 300}.example/{n}",
            f"https://news{n % 300}.example/{n}",
            f"Stored item {n}",
            "text",
            start + n * step,
            start + n * step,
            n + 1,
            "[]",
            f"fp:{n:024x}",
        )
        for n in range(count)
    )
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO items (feed_id, guid, link, canonical_url, title, summary, published_at,"
            " fetched_at, story_id, topics, fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


def batches(total: int, size: int, offset: int) -> list[list[ItemRecord]]:
    out = []
    for b in range(total // size):
        out.append(
            [
                ItemRecord(
                    guid=f"new-{offset}-{b}-{i}",
                    link=f"https://fresh.example/{offset}/{b}/{i}",
                    canonical_url=f"https://fresh.example/{offset}/{b}/{i}",
                    title=f"New item {b}-{i}",
                    summary="text",
                    published_at=NOW,
                    fingerprint=f"fp:new-{offset}-{b}-{i}",
                )
                for i in range(size)
            ]
        )
    return out


def rate(store: Store, work: list[list[ItemRecord]]) -> float:
    count = sum(len(batch) for batch in work)
    start = time.perf_counter()
    for n, batch in enumerate(work):
        store.ingest(FeedState(id=f"feed-{n % 200}", url="u"), batch, now=NOW, alert=True)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline-new", type=int, default=500, help="the baseline is slow")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        started = time.perf_counter()
        fill(store, args.stored)
        print(f"{'filled':<48} {args.stored:>10,} items in {time.perf_counter() - started:.1f} s")
        ours = rate(store, batches(args.new, args.batch, 1))
        print(f"{'dedup + insert, indexed':<48} {ours:>10,.0f} items/s  (target >= 5,000)")
        for index in (
            "idx_items_canonical_url",
            "idx_items_fingerprint_fetched_at",
            "idx_items_feed_id_guid",
        ):
            store.db.execute(f"DROP INDEX IF EXISTS {index}")
        size = min(args.batch, args.baseline_new)
        baseline = rate(store, batches(args.baseline_new, size, 2))
        print(f"{'dedup + insert, no indexes (baseline)':<48} {baseline:>10,.0f} items/s")
        print(f"{'ratio':<48} {ours / baseline:>10,.0f}x")
        store.close()


if __name__ == "__main__":
    main()
