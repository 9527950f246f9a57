"""The store's file size over a simulated year of items, pruned daily with the daemon's retention
settings: peak and final size with the free pages given back after each prune, and without.

    .venv/bin/python bench/store_size.py [--days 365] [--per-day 2000] [--burst 3]

Items as feeds carry them (titles ~80 characters, summaries ~600, words of a Zipf-like
vocabulary so the search index grows as with news), `--per-day` a day (50 feeds of 40), a
month of heavy news (`--burst` times that, the year's second month) among them; each day's
items are stored in polls of 20 by `Store.ingest`, then `Store.prune` runs as the daemon's
housekeeping does, and (the first run) `Store.give_back_free_pages` until it returns 0. Sizes
are `page_count * page_size` and the file's size once the WAL is checkpointed, taken daily.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import StoreConfig
from store import FeedState, ItemRecord, Store

START = datetime(2026, 1, 1, tzinfo=UTC)
POLL = 20  # items a poll stores
FEEDS = 50
MB = 1024 * 1024


def vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 11))) for _ in range(size)]
    return words, [1 / (rank + 1) for rank in range(size)]


class Items:
    """Made-up items of realistic sizes, numbered so no two are the same item."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.words, weights = vocabulary(self.rng)
        self.cumulative = list(itertools.accumulate(weights))
        self.number = 0

    def text(self, length: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cumulative, k=length // 6 + 4)
        return " ".join(words)[:length]

    def poll(self, count: int) -> list[ItemRecord]:
        out = []
        for _ in range(count):
            self.number += 1
            n = self.number
            url = f"https://news{n % 300}.example/2026/{n:08d}/{self.text(30).replace(' ', '-')}"
            out.append(
                ItemRecord(
                    guid=url,
                    link=url,
                    canonical_url=url,
                    title=self.text(self.rng.randint(60, 100)),
                    summary=self.text(self.rng.randint(400, 800)),
                    published_at=None,
                    topics=("kuril",) if n % 20 == 0 else (),  # 5% matched
                    fingerprint=f"{self.rng.getrandbits(96):024x}",
                    lang="en",
                )
            )
        return out


def sizes(store: Store, path: Path) -> tuple[int, int]:
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, _, page_size = store.file_pages()
    return pages * page_size, os.path.getsize(path)


def year(folder: Path, args: argparse.Namespace, *, give_back: bool) -> tuple[int, int, int]:
    """(peak bytes, final bytes, final file size) of one simulated run."""
    kept = StoreConfig()  # the daemon's defaults: text 90 days, keys 365
    path = folder / ("given-back.db" if give_back else "kept.db")
    items = Items()
    peak = 0
    with Store(path) as store:
        for day in range(args.days):
            burst = 31 <= day < 59
            count = args.per_day * (args.burst if burst else 1)
            polls = max(count // POLL, 1)
            for n in range(polls):
                at = START + timedelta(days=day, seconds=n * 86400 / polls)
                feed = FeedState(id=f"feed-{n % FEEDS}", url="u")
                store.ingest(feed, items.poll(POLL), now=at, alert=False)
            now = START + timedelta(days=day + 1)
            store.prune(now=now, text_for=kept.retention, keys_for=kept.keys_retention)
            if give_back:
                while store.give_back_free_pages():
                    pass
            size, _ = sizes(store, path)
            peak = max(peak, size)
            if (day + 1) % 30 == 0:
                print(f"  day {day + 1:>3}: {size / MB:7.1f} MB", flush=True)
        final, on_disk = sizes(store, path)
    return peak, final, on_disk


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=3, help="times --per-day in the 2nd month")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for give_back in (True, False):
            name = "given back after each prune" if give_back else "kept (before: reused only)"
            print(f"{name}:", flush=True)
            started = time.perf_counter()
            peak, final, on_disk = results[name] = year(Path(tmp), args, give_back=give_back)
            print(
                f"  peak {peak / MB:.1f} MB, final {final / MB:.1f} MB (file {on_disk / MB:.1f}),"
                f" {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    print(f"\n{args.days} days, {args.per_day:,} items a day, {args.burst}x that in month 2:")
    print(f"{'free pages':<30} {'peak MB':>9} {'final MB':>9} {'file MB':>9}")
    for name, (peak, final, on_disk) in results.items():
        print(f"{name:<30} {peak / MB:>9.1f} {final / MB:>9.1f} {on_disk / MB:>9.1f}")


if __name__ == "__main__":
    main()
