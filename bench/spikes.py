"""Benchmark of the spike check's store work (every 10 minutes, on the store thread): for each
topic some chat wants spike notices for, what `Insights.check_spikes` reads from the store; and
of the weekly reports' check (every minute) with `--chats` chats that have a report.

    .venv/bin/python bench/spikes.py [--stories 100000] [--topics 2000] [--chats 10000]

The store holds `--stories` matched stories over the last 180 days (a third of them with a
second report, from another outlet), of `--topics` topics (a few common, most rare, some never
matched), and twice as many unmatched items. The baseline, measured in the same run, is one
pass over the whole items table (`SELECT count(*), sum(length(topics)) FROM items`). Prints the
median time per topic of each read, and a whole check of every topic as a ratio to the baseline;
then a spike of one topic that `--chats` chats (three languages, four time zones) want notices
of, with `--topics` topics in the config: how late a 5 ms tick of the event loop came while the
check queued their notices, against the same loop idle; last, a report check that finds no
report due: the store's part, and the event loop's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.cli import tune_runtime
from bot.config import Config
from bot.insights.jobs import Insights, ReportTimes
from bot.insights.spikes import SpikeRule
from bot.telegram.context import BotContext
from store import AsyncStore, Store
from watchers.topics.compile import compile_topics

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
DAYS = 180


def fill(store: Store, stories: int, topics: int, seed: int = 1) -> list[str]:
    """The items of `stories` matched stories (and unmatched items); the topic ids."""
    rng = random.Random(seed)
    ids = [f"topic-{n}" for n in range(topics)]
    start = (NOW - timedelta(days=DAYS)).timestamp()
    total = stories * 3 + stories // 3
    step = DAYS * 86400 / total
    rows = []
    story = 0
    last_head = 0
    for n in range(1, total + 1):
        at = start + n * step
        kind = n % 10
        if kind < 3 and story < stories:  # a new matched story, of one to three topics
            story += 1
            last_head = n
            # a few topics are common, most rare; the last tenth never matched
            picked = {ids[min(int(rng.paretovariate(0.6)) - 1, topics * 9 // 10 - 1)]}
            if rng.random() < 0.3:
                picked.add(rng.choice(ids[: topics * 9 // 10]))
            matched = '["' + '","'.join(sorted(picked)) + '"]'
            head = n
        elif kind == 3 and last_head:  # another outlet's report of the last story
            matched, head = '["' + ids[rng.randrange(topics * 9 // 10)] + '"]', last_head
        else:
            matched, head = "[]", n
        rows.append(
            (
                n,
                f"feed-{n % 200}",
                f"guid-{n}",
                f"https://news{n % 300}.example/{n}",
                "A title",
                "text",
                at - 600,
                at,
                head,
                matched,
            )
        )
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO items (id, feed_id, guid, link, title, summary, published_at,"
            " fetched_at, story_id, topics) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        store.db.conn.executemany(
            "INSERT INTO feeds (id, url, title, primed, consecutive_errors) VALUES (?,?,?,1,0)",
            [(f"feed-{n}", f"https://f{n}.example/rss", f"Outlet {n}") for n in range(200)],
        )
    return ids


def add_report_chats(store: Store, chats: int, topics: list[str]) -> None:
    """`chats` chats with weekly reports in four zones, sent two days ago, 20 topics each."""
    zones = ["Asia/Tokyo", "Europe/Moscow", None, "America/New_York"]
    sent = (NOW - timedelta(days=2)).timestamp()
    with store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at,"
            " report, report_sent_at, timezone) VALUES (?, 'private', 1, 0, 0, ?, ?, ?)",
            [
                (n, f"weekly {('mon', 'tue', 'fri')[n % 3]} {n % 24:02d}:30", sent, zones[n % 4])
                for n in range(chats)
            ],
        )
        store.db.conn.executemany(
            "INSERT INTO subscriptions (chat_id, topic_id, created_at) VALUES (?, ?, 0)",
            [
                (n, topics[(n + k) % len(topics)])
                for n in range(chats)
                for k in range(min(20, len(topics)))
            ],
        )


def median(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def loop_lateness(work: Callable[[], Any] | None) -> tuple[float, float]:
    """The largest delay of a 5 ms tick while `work()` is awaited once (or the loop idles for
    0.5 s), and the time it took."""
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
    await asyncio.sleep(0.05)
    t = time.perf_counter()
    await (asyncio.sleep(0.5) if work is None else work())
    took = time.perf_counter() - t
    stop.set()
    await ticker
    return worst, took


def spiking_store(path: Path, chats: int) -> None:
    """Two stories a day of `spiking` for 20 days, 12 in the last 5 hours; `chats` chats in
    three languages and four zones that want its spike notices."""
    rows = []
    times = [NOW - timedelta(days=d, hours=3 + 5 * k) for d in range(1, 21) for k in range(2)]
    times += [NOW - timedelta(minutes=10 + 25 * k) for k in range(12)]
    for n, at in enumerate(times, 1):
        title = f"Spiking story {n}"
        rows.append((n, "f", f"g{n}", f"https://x.example/{n}", title, "", *[at.timestamp()] * 2))
    zones = ["Asia/Tokyo", "Europe/Moscow", None, "America/New_York"]
    with Store(path) as store, store.db.atomic():
        store.db.conn.executemany(
            "INSERT INTO items (id, feed_id, guid, link, title, summary, published_at,"
            " fetched_at, story_id, topics) VALUES (?,?,?,?,?,?,?,?,?1,'[\"spiking\"]')",
            rows,
        )
        store.db.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at,"
            " spikes, language_code, timezone) VALUES (?, 'private', 1, 0, 0, 1, ?, ?)",
            [(n, ("ru", "ja", "en")[n % 3], zones[n % 4]) for n in range(1, chats + 1)],
        )
        store.db.conn.executemany(
            "INSERT INTO subscriptions (chat_id, topic_id, created_at) VALUES (?, 'spiking', 0)",
            [(n,) for n in range(1, chats + 1)],
        )


async def spike_lateness(path: Path, topics: int) -> tuple[float, float, float, int]:
    """The event loop idle, then while the spike of `spiking` is checked and its notices
    queued: the largest lateness of a 5 ms tick of each, the check's time, the notices."""
    config = {f"topic-{n}": {"title": f"Topic {n}", "query": f"word{n}"} for n in range(topics)}
    config["spiking"] = {"title": "Kuril Islands", "query": "kuril"}
    compiled = compile_topics(Config.model_validate({"topics": config}).topics).topics
    store = await AsyncStore(path).open()
    try:
        ctx = BotContext(store=store, topics=compiled, clock=lambda: NOW)
        insights = Insights(ctx, cast(Any, None))  # a spike check sends nothing itself
        idle, _ = await loop_lateness(None)
        busy, took = await loop_lateness(insights.check_spikes)
        return idle, busy, took, len(await store.run(Store.notices))
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=100, help="topics timed one by one")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tune_runtime()  # as the daemon runs: the GIL passes every 1 ms
    rule = SpikeRule()
    since = rule.since(NOW)

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        t = time.perf_counter()
        topics = fill(store, args.stories, args.topics)
        items = store.count_items()
        print(
            f"store: {items} items, {args.stories} matched stories of {args.topics} topics"
            f" ({time.perf_counter() - t:.1f} s to fill)"
        )
        baseline = median(
            lambda: store.db.execute("SELECT count(*), sum(length(topics)) FROM items").fetchall(),
            args.runs,
        )
        print(f"baseline: one pass over the items table: {baseline * 1000:.1f} ms")
        # a random sample: a few topics hold most stories, and a stride would overweight them
        sample = random.Random(2).sample(topics, min(args.sample, len(topics)))
        reads: dict[str, Callable[[str], Any]] = {
            "last_spike_at": store.last_spike_at,
            "live_since": store.live_since,
            "story_points": lambda topic: store.story_points(
                [topic], since=since, until=NOW, first_polls=False
            ),
        }
        per_topic = 0.0
        for name, read in reads.items():
            took = median(lambda read=read: [read(topic) for topic in sample], args.runs)
            each = took / len(sample)
            per_topic += each
            print(f"{name:15}: {each * 1000:7.2f} ms per topic")
        tick = per_topic * len(topics)
        print(
            f"a spike check of all {len(topics)} topics: about {tick:.1f} s of the store thread"
            f" = {tick / baseline:.0f}x the baseline (every 10 minutes)"
        )
        path = Path(folder) / "spike.db"
        spiking_store(path, args.chats)
        idle, busy, took, told = asyncio.run(spike_lateness(path, args.topics))
        print(
            f"a spike's notices to {told} chats, {args.topics + 1} topics in the config: the"
            f" check {took * 1000:.0f} ms; a 5 ms tick of the event loop came at most"
            f" {busy * 1000:.1f} ms late (idle: {idle * 1000:.1f} ms)"
        )
        add_report_chats(store, args.chats, topics)
        times = ReportTimes()
        now = NOW.replace(minute=1)  # no report is due at hh:01
        read = median(store.report_chats, args.runs)
        chats = store.report_chats()
        times.due(chats, now, UTC)  # the first check after a start works out every chat's
        picked = median(lambda: times.due(chats, now, UTC), args.runs)
        print(
            f"a weekly report check of {args.chats} chats, none due: store {read * 1000:.1f} ms"
            f" = {read / baseline:.2f}x the baseline, event loop {picked * 1000:.1f} ms"
            " (every minute)"
        )
        store.close()


if __name__ == "__main__":
    main()
