"""Benchmark of `kurilwatch backtest`: 30 days of a busy store re-matched with two configs.

    .venv/bin/python bench/backtest.py [--items 100000]

Fills a store with `--items` items spread over 30 days (the labelled corpus and filler news
in EN/RU/JA, as bench/match.py makes them: a quarter on topic, and filler dense with words of
the topics such as "treaty" and "договор"), then times, wall clock and CPU: reading the
period's items alone (the baseline), the backtest of an edit of one topic (a term and an
exclusion added to `kuril`), and the backtest of an edit of every shipped topic. Target:
under 10 s for 100,000.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config
from store import Store
from watchers.backtest import backtest

_spec = importlib.util.spec_from_file_location("bench_match", ROOT / "bench" / "match.py")
assert _spec is not None and _spec.loader is not None
bench_match = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_match)


def fill(path: Path, count: int, now: datetime) -> None:
    rng = random.Random(20)
    data = bench_match.items(count, rng, bench_match.names(200, rng))
    start = (now - timedelta(days=30)).timestamp()
    step = 30 * 86400 / count
    with Store(path) as store:
        store.db.execute("INSERT INTO feeds (id, url, title) VALUES ('wire', 'x', 'Wire')")
        store.db.conn.executemany(
            "INSERT INTO items (id, feed_id, guid, link, title, summary, fetched_at, story_id,"
            " topics) VALUES (?, 'wire', ?, ?, ?, ?, ?, ?, '[]')",
            (
                (
                    n + 1,
                    f"g{n}",
                    f"https://n.example/{n}",
                    item["title"],
                    item["summary"],
                    start + n * step,
                    n + 1 - (n % 3 == 2),  # every third item joins the story before it
                )
                for n, item in enumerate(data)
            ),
        )
        store.db.conn.commit()


def timed(label: str, fn: object) -> float:
    assert callable(fn)
    begin, cpu = time.perf_counter(), time.process_time()
    result = fn()
    elapsed = time.perf_counter() - begin
    print(f"{label:<40} {elapsed:6.2f} s ({time.process_time() - cpu:5.2f} s CPU)   {result}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    now = datetime.now(UTC)
    settings = load_config(ROOT / "config.yaml")
    old = {tid: t.query for tid, t in settings.topics.items()}
    one = dict(old, kuril=f"({old['kuril']} OR sakhalin) -drill")
    every = {tid: f"({q}) -drill" for tid, q in old.items()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kw.db"
        begin = time.perf_counter()
        fill(path, args.items, now)
        print(
            f"store of {args.items:,} items over 30 days filled in"
            f" {time.perf_counter() - begin:.1f} s"
        )
        since = now - timedelta(days=30)
        with Store(path) as store:
            read = timed(
                "read the period's items (baseline)",
                lambda: sum(1 for _ in store.past_items(since)),
            )

            def run(new: dict[str, str]) -> str:
                diffs = backtest(store.past_items(since), old, new)
                return json.dumps({d.topic_id: [len(d.gained), len(d.lost)] for d in diffs})

            one_s = timed("backtest, one topic edited", lambda: run(one))
            every_s = timed("backtest, every topic edited", lambda: run(every))
    print(f"one topic: {one_s / read:.1f}x the read; every topic: {every_s / read:.1f}x the read")
    print(
        f"target < 10 s for 100,000 items: {'met' if max(one_s, every_s) < 10 else 'NOT met'}"
        f" (one {one_s:.1f} s, every {every_s:.1f} s)"
    )


if __name__ == "__main__":
    main()
