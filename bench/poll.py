"""Benchmark of polling: many feeds on several loopback hosts with latency, against a naive
sequential loop of `feedparser.parse(url)` measured in the same run.

    .venv/bin/python bench/poll.py [--feeds 500] [--hosts 8] [--latency 0.1]

(a) the first cycle over every feed (fetch, parse, match, store); (b) a steady cycle where
nothing changed (every answer a 304); (c) the naive loop; the parse pool with threads and with
processes; the peak RSS of the polling process; and `kurilwatch poll --once` over 200 feeds on 8
hosts answering after 150 ms against the naive loop on the same feeds, twice: with one item in
7 about the Kurils, and with every item about them (as in a search feed for the topic), each
report a distinct event (`bench/headlines.py`). The feed server runs in a process of its own
(asyncio, keep-alive, ETag/304).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser
import yaml

from bench.headlines import Reports
from bot.cli import tune_runtime
from bot.config import load_config
from store import AsyncStore
from tests.fakes.feed_server import FeedEntry, rss
from watchers.config import FeedConfig
from watchers.fetch import Fetcher, FetchLimits
from watchers.poll import Poller
from watchers.pool import ParsePool, PoolKind
from watchers.topics.compile import compile_topics

SYLLABLES = "ka ri ro mo to na shi ku ne sa po le vi da ur an".split()
# 4,096 made-up words, drawn with a Zipf-like skew: item texts overlap the way news does, so
# story clustering meets the candidate load of real feeds (not thousands of near-copies)
VOCABULARY = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]


def feed_body(n: int, items: int, all_match: bool = False) -> bytes:
    """Feed `n`: made-up words with one item in 7 about the Kurils, or (`all_match`) news
    reports every one of which is."""
    now = datetime(2026, 11, 26, tzinfo=UTC)
    rng = random.Random(n)
    reports = Reports(n)
    entries = []
    for i in range(items):
        if all_match:
            title, summary = reports.next()
        else:
            words = rng.choices(VOCABULARY, WEIGHTS, k=48)
            title = " ".join(words[:8]) + (" Kuril" if i % 7 == 0 else "")
            summary = " ".join(words[8:])
        entries.append(
            FeedEntry(
                title=title,
                link=f"https://news{n % 50}.example/{n}/{i}",
                guid=f"{n}-{i}",
                summary=f"<p>{summary}</p>",
                published=now - timedelta(minutes=i),
            )
        )
    return rss(entries, title=f"Feed {n}")


# -- the feed server (a process of its own) --------------------------------------------------


def serve(
    hosts: list[str],
    port: int,
    feeds: int,
    items: int,
    latency: float,
    all_match: bool,
    ready: object,
) -> None:
    bodies = {f"/feed/{n}.xml": feed_body(n, items, all_match) for n in range(feeds)}
    etags = {path: '"' + hashlib.sha1(body).hexdigest() + '"' for path, body in bodies.items()}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                await asyncio.sleep(latency)
                body = bodies.get(path)
                if body is None:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                elif headers.get("if-none-match") == etags[path]:
                    writer.write(
                        f"HTTP/1.1 304 Not Modified\r\nETag: {etags[path]}\r\n\r\n".encode()
                    )
                else:
                    writer.write(
                        (
                            "HTTP/1.1 200 OK\r\n"
                            "Content-Type: application/rss+xml; charset=utf-8\r\n"
                            f"ETag: {etags[path]}\r\nContent-Length: {len(body)}\r\n\r\n"
                        ).encode()
                        + body
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, host, port, backlog=1024) for host in hosts]
        ready.set()  # type: ignore[attr-defined]
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


class FeedHosts:
    def __init__(
        self, feeds: int, hosts: int, latency: float, items: int = 30, all_match: bool = False
    ) -> None:
        self.hosts = [f"127.0.0.{h + 1}" for h in range(hosts)]
        self.port = 38000 + os.getpid() % 1000
        self.feeds, self.items, self.latency = feeds, items, latency
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        self.process = ctx.Process(
            target=serve,
            args=(self.hosts, self.port, feeds, items, latency, all_match, ready),
            daemon=True,
        )
        self.process.start()
        if not ready.wait(60):
            raise RuntimeError("feed server did not start")

    def urls(self, count: int | None = None) -> list[str]:
        return [
            f"http://{self.hosts[n % len(self.hosts)]}:{self.port}/feed/{n}.xml"
            for n in range(count or self.feeds)
        ]

    def stop(self) -> None:
        self.process.kill()
        self.process.join()


# -- measurements -----------------------------------------------------------------------------


STEADY_CYCLES = 3  # (b) is their median: one 0.2 s cycle can be 30% off the next


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of this process and of the given (live) child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (FileNotFoundError, IndexError):
            continue
    return total


def workers_of(pool: ParsePool) -> list[int]:
    executor = pool._executor
    processes = getattr(executor, "_processes", None) or {}
    return list(processes)


class Cycle(NamedTuple):
    wall: float
    cpu: float  # the polling process and its parse workers
    own: float  # the polling process alone
    outcomes: list[str]


async def cycle(poller: Poller, feeds: list[FeedConfig]) -> Cycle:
    pids = workers_of(poller.pool)
    own0, cpu0, wall0 = cpu_seconds([]), cpu_seconds(pids), time.perf_counter()
    reports = await asyncio.gather(*(poller.poll(f) for f in feeds))
    wall = time.perf_counter() - wall0
    cpu = cpu_seconds(workers_of(poller.pool)) - cpu0
    own = cpu_seconds([]) - own0
    return Cycle(wall, cpu, own, [r.outcome for r in reports])


class Run(NamedTuple):
    first: Cycle
    steady: Cycle  # the median of STEADY_CYCLES by CPU


async def ours(urls: list[str], kind: PoolKind, folder: Path) -> Run:
    settings = load_config(ROOT / "config.yaml")
    feeds = [FeedConfig.model_validate({"id": f"f{n}", "url": u}) for n, u in enumerate(urls)]
    store = await AsyncStore(folder / "bench.db").open()
    pool = ParsePool(kind)
    await pool.start()  # as the daemon does at start
    async with Fetcher(FetchLimits.of(settings.poll)) as fetcher:
        poller = Poller(
            store=store,
            fetcher=fetcher,
            topics=compile_topics(settings.topics),
            settings=settings.poll,
            pool=pool,
        )
        first = await cycle(poller, feeds)
        assert first.outcomes.count("primed") == len(feeds), set(first.outcomes)
        steady = []
        for _ in range(STEADY_CYCLES):
            steady.append(await cycle(poller, feeds))
            assert steady[-1].outcomes.count("unchanged") == len(feeds), set(steady[-1].outcomes)
        steady.sort(key=lambda c: c.cpu)
    await pool.aclose()
    await store.close()
    return Run(first, steady[len(steady) // 2])


def naive(urls: list[str]) -> float:
    start = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        assert parsed.entries, url
    return time.perf_counter() - start


def poll_once_cli(urls: list[str], folder: Path, matched: int) -> tuple[float, float]:
    """The wall time of one `kurilwatch poll --once` on an empty store, and its CPU (the
    command and its parse workers)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config["store"] = {"path": str(folder / "cli.db")}
    config["feeds"] = [{"id": f"f{n}", "url": u} for n, u in enumerate(urls)]
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    before = os.times()
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "poll", "--once", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - start
    after = os.times()
    cpu = after.children_user + after.children_system
    cpu -= before.children_user + before.children_system
    assert out.stdout.count(": primed") == len(urls), out.stdout[-500:]
    # a first poll reports no matches (it alerts none), so they are counted in the store (a
    # made-up word can be "kurile" too: at least `matched`)
    with sqlite3.connect(folder / "cli.db") as db:
        found = db.execute("SELECT count(*) FROM items WHERE topics LIKE '%\"kuril\"%'").fetchone()
    assert found[0] >= matched, (found[0], matched)
    return elapsed, cpu


def show(label: str, value: str) -> None:
    print(f"{label:<58} {value}")


def show_load() -> None:
    """The machine's load average: on a shared machine, other work slows wall times."""
    show("load average (1, 5, 15 min)", ", ".join(f"{n:.1f}" for n in os.getloadavg()))


def main() -> None:
    tune_runtime()  # as `kurilwatch` does at start
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--naive-feeds", type=int, default=0, help="default: all the feeds")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of (a) and (b) with processes, and of poll --once"
    )
    parser.add_argument(
        "--poll-once-only", action="store_true", help="only the two poll --once measurements"
    )
    args = parser.parse_args()
    show("machine", f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}")
    show_load()
    if args.poll_once_only:
        for all_match in (False, True):
            poll_once(all_match, args.runs)
        return

    hosts = FeedHosts(args.feeds, args.hosts, args.latency)
    try:
        urls = hosts.urls()
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for kind, runs in (("threads", 1), ("processes", args.runs)):
                # the median run (by first-cycle wall time), each on an empty store: on a
                # shared 2-core machine one run can be 20% off the next
                tries = sorted(
                    (
                        asyncio.run(ours(urls, kind, Path(tmp) / f"{kind}{n}"))  # type: ignore[arg-type]
                        for n in range(runs)
                    ),
                    key=lambda run: run.first.wall,
                )
                results[kind] = median = tries[len(tries) // 2]
                first, steady = median
                spread = (
                    f" (of {', '.join(f'{t.first.wall:.2f}' for t in tries)})"
                    if len(tries) > 1
                    else ""
                )
                show(
                    f"(a) first cycle, {args.feeds} feeds, parse in {kind}",
                    f"{first.wall:7.2f} s wall, {first.cpu:6.2f} s CPU{spread}",
                )
                show(
                    "  of which the polling process itself",
                    f"{first.own:7.2f} s CPU ({100 * first.own / first.wall:.0f}% of a core)",
                )
                show(
                    f"(b) steady cycle (all 304; median of {STEADY_CYCLES}), {kind}",
                    f"{steady.wall:7.2f} s wall, {steady.cpu:6.2f} s CPU"
                    f" = {100 * steady.cpu / first.cpu:.1f}% of (a)",
                )
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            show(
                "peak RSS of the polling process (both runs)", f"{rss_mb:7.0f} MB  (target <= 150)"
            )
            count = args.naive_feeds or args.feeds
            naive_wall = naive(urls[:count]) * args.feeds / count
            show(
                f"(c) naive sequential feedparser.parse(url), {count} feeds",
                f"{naive_wall:7.2f} s wall" + (" (scaled)" if count != args.feeds else ""),
            )
            best = min(results, key=lambda k: results[k].first.wall)
            show(
                f"(a)/(c) speed-up, best pool: {best}",
                f"{naive_wall / results[best].first.wall:7.1f}x  (target >= 20x)",
            )
    finally:
        hosts.stop()

    for all_match in (False, True):
        poll_once(all_match, args.runs)


def poll_once(all_match: bool, runs: int) -> None:
    """`kurilwatch poll --once` over 200 feeds of 30 items on 8 hosts answering after 150 ms,
    against the naive loop over the same feeds."""
    feeds, items = 200, 30
    hosts = FeedHosts(feeds, 8, 0.15, items, all_match)
    matched = feeds * items if all_match else feeds * len(range(0, items, 7))
    which = "every item matching" if all_match else "1 item in 7 matching"
    try:
        urls = hosts.urls()
        tries = []
        for _ in range(runs):  # the median of fresh runs, each on an empty store
            with tempfile.TemporaryDirectory() as tmp:
                tries.append(poll_once_cli(urls, Path(tmp), matched))
        walls, cpus = sorted(t[0] for t in tries), sorted(t[1] for t in tries)
        cli = walls[len(walls) // 2]
        naive_wall = naive(urls)
        show(
            f"kurilwatch poll --once, {feeds} feeds, 8 hosts, 150 ms, {which}",
            f"{cli:7.2f} s wall (median of {', '.join(f'{t[0]:.2f}' for t in tries)})",
        )
        show(
            "  its CPU, the command and its parse workers",
            f"{cpus[len(cpus) // 2]:7.2f} s (median of {', '.join(f'{t[1]:.2f}' for t in tries)})",
        )
        show("  naive sequential loop, same feeds", f"{naive_wall:7.2f} s wall")
        show("  speed-up", f"{naive_wall / cli:7.1f}x  (target >= 15x)")
        show_load()
    finally:
        hosts.stop()


if __name__ == "__main__":
    main()
