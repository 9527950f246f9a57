"""Benchmark of a /trend chart: reading a topic's stories, counting them, drawing the PNG; against
an empty figure of the same size saved the same way, measured in the same run.

    .venv/bin/python bench/trend.py [--items 400000] [--matched 0.15] [--runs 9]

The store holds `--items` items over the last 180 days from 200 feeds, `--matched` of them
matched stories of the topic. Prints the median time of each stage, the chart's total as a
ratio to the baseline, and how late the event loop's 5 ms ticks came while charts were drawn on
a thread (as the bot draws them), against the same loop idle.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.cli import tune_runtime
from bot.insights.charts import draw_empty, draw_trend, render_trend
from bot.insights.trends import build_trend, caption, query_range, weekly_report
from store import Store, StoryPoint

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Tokyo")
TITLES = ("Kuril drills near Iturup", "Учения на Курилах", "北方領土で演習")


def fill(store: Store, count: int, matched: float) -> int:
    """`count` items over 200 feeds and 180 days; every 1/matched-th a story of `kuril`."""
    start = (NOW - timedelta(days=180)).timestamp()
    step = 180 * 86400 / count
    every = max(1, round(1 / matched))
    rows = (
        (
            f"feed-{n % 200}",
            f"guid-{n}",
            f"https://news{n % 300}.example/{n}",
            TITLES[n % 3],
            "text",
            start + n * step,
            start + n * step + 60,
            n + 1 if n % every == 0 or n % 7 else n,  # some items join the previous story
            '["kuril"]' if n % every == 0 else "[]",
        )
        for n in range(count)
    )
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO items (feed_id, guid, link, title, summary, published_at, fetched_at,"
            " story_id, topics) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        store.db.conn.executemany(
            "INSERT INTO feeds (id, url, title, primed, consecutive_errors) VALUES (?,?,?,1,0)",
            [(f"feed-{n}", f"https://f{n}.example/rss", f"Outlet {n}") for n in range(200)],
        )
    return count // every


def median(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


async def loop_lateness(work: Callable[[], Any] | None, seconds: float) -> float:
    """The largest delay of a 5 ms tick while `work()` (awaited repeatedly) runs, or idle."""
    worst = 0.0
    stop = asyncio.Event()

    async def ticks() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - due)

    ticker = asyncio.create_task(ticks())
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if work is None:
            await asyncio.sleep(0.05)
        else:
            await work()
    stop.set()
    await ticker
    return worst


def report_points(topics: list[str], count: int) -> list[StoryPoint]:
    """`count` stories over the last 14 days, each of two of `topics`, oldest first."""
    points = [
        StoryPoint(
            n,
            NOW - timedelta(minutes=(n * 29) % (14 * 1440)),
            (topics[n % len(topics)], topics[n * 7 % len(topics)]),
            "tass",
            "TASS",
            TITLES[n % 3],
            None,
            1,
        )
        for n in range(count)
    ]
    return sorted(points, key=lambda p: p.at)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=400_000)
    parser.add_argument("--matched", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    tune_runtime()  # as the daemon runs: the GIL passes every 1 ms

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        t = time.perf_counter()
        stories = fill(store, args.items, args.matched)
        filled = time.perf_counter() - t
        print(f"store: {args.items} items, {stories} stories of the topic ({filled:.1f} s to fill)")

        t = time.perf_counter()
        draw_empty()  # matplotlib's import and the fonts, once per process
        first = time.perf_counter() - t
        print(f"first drawing in a process (import matplotlib, load fonts): {first:.2f} s")

        baseline, _ = median(draw_empty, args.runs)
        sample = build_trend([], now=NOW, tz=TZ, days=30)
        print(f"baseline: empty 1200x700 figure saved as PNG: {baseline * 1000:.0f} ms")
        for many, count in ((300, 20_000), (2000, 60_000)):
            topics = [f"topic-{k}" for k in range(many)]
            points = report_points(topics, count)
            counted, _ = median(
                lambda topics=topics, points=points: weekly_report(
                    points, now=NOW, tz=TZ, topics=topics, titles={}, lang="en"
                ),
                3,
            )
            print(
                f"weekly report of {many} topics, {count} stories: counted in"
                f" {counted * 1000:.0f} ms = {counted / baseline:.1f}x the baseline"
            )
        for days in (30, 90):
            since, until = query_range(NOW, TZ, days)
            read, points = median(
                lambda since=since, until=until: store.story_points(
                    ["kuril"], since=since, until=until, outlets=False
                ),
                args.runs,
            )
            for by in ("lang", "outlet"):
                count, chart = median(
                    lambda points=points, days=days, by=by: build_trend(
                        points, now=NOW, tz=TZ, days=days, by=by
                    ),
                    args.runs,
                )
                drawn, png = median(
                    lambda chart=chart: draw_trend(chart, title="Kuril Islands", lang="ja"),
                    args.runs,
                )
                caption(chart, title="Kuril Islands", lang="en")
                sample = chart if (days, by) == (30, "lang") else sample
                total = read + count + drawn
                print(
                    f"{days}d by {by:6}: {len(points):5} stories; read {read * 1000:5.0f} ms,"
                    f" count {count * 1000:4.1f} ms, draw {drawn * 1000:4.0f} ms"
                    f" ({len(png) // 1024} KB);"
                    f" total {total * 1000:4.0f} ms = {total / baseline:.1f}x the baseline"
                )
        store.close()

    async def lateness() -> tuple[float, float]:
        idle = await loop_lateness(None, 2.0)
        busy = await loop_lateness(lambda: render_trend(sample, title="Kuril Islands"), 2.0)
        return idle, busy

    idle, busy = asyncio.run(lateness())
    print(
        f"event loop, largest lateness of a 5 ms tick: idle {idle * 1000:.1f} ms,"
        f" while charts are drawn on a thread {busy * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
