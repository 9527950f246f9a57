"""Soak benchmark: the real `kurilwatch run` for a long while, polling loopback feeds that keep
getting new items, its alerts delivered through the fake Bot API.

    .venv/bin/python bench/soak.py [--duration 600] [--feeds 40] [--every 5] [--chats 5]

Every feed is polled each second; each gets a new item every `--every` seconds (staggered
across feeds), one item in `--match-one-in` about the Kuril Islands, which `--chats` subscribed
chats get as alerts. Each item is a news report of an event of its own (`bench/headlines.py`:
story shapes, places, people, numbers and days drawn at random), so that the story logic keeps
most of them apart and delivery is loaded. The run starts with `--fill` seconds of new items
every `--fill-every` seconds on each feed and no chat subscribed yet: the state the daemon
bounds (the story index, 2,000 reports; the stem cache of each parse worker, 20,000 words;
SQLite's page cache; the search index's batch) is full before growth counts, as after a few
days of a real daemon; at the ordinary rate the story index would not be full after 10
minutes, and its filling would look like a leak.

Every `--sample` seconds it records, from /proc: the resident memory of the daemon and of its
child processes (the parse workers and multiprocessing's resource tracker), the daemon's open
descriptors and threads, the size of the SQLite write-ahead log and the outbox depth (alerts
pending or in flight). At the end new items stop, the outbox must drain, and Ctrl-C (SIGINT to
the group) must stop the daemon with 0 and no traceback.

Targets: after the first `--warmup` seconds (2 minutes, or a fifth of a shorter run) memory
grows by at most 10 MB, descriptors and threads no higher than during the warm-up, the WAL
under 64 MB, the outbox drained.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.headlines import Reports
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI
from watchers.stories import MAX_REPORTS

TOKEN = "123456:SOAK-TOKEN"
KEEP = 20  # items a feed document shows, newest first
MB = 1024 * 1024
WAL_LIMIT = 64 * MB
GROWTH_LIMIT = 10 * MB


def new_item(reports: Reports, feed: int, n: int, matching: bool) -> FeedEntry:
    """A report of an event of its own (`bench/headlines.py`): about the Kurils, or not."""
    title, summary = reports.next() if matching else reports.other()
    return FeedEntry(
        title,
        f"https://soak{feed}.example/{n}",
        guid=f"{feed}-{n}",
        summary=summary,
        published=datetime.now(UTC),
    )


class Feeds:
    """40 feeds on the fake feed server; `tick()` adds the items that are due."""

    def __init__(self, server: FeedServer, count: int, every: float, match_one_in: int) -> None:
        self.server, self.every, self.match_one_in = server, every, match_one_in
        self.count = count
        self.reports = Reports(15)
        self.items: list[list[FeedEntry]] = [[] for _ in range(count)]
        self.added = self.matching = 0
        self.filled = self.filled_matching = 0  # of those, added while filling
        self.started = time.monotonic()
        self.next_due = [self.started + every * (i + 1) / count for i in range(count)]
        for feed in range(count):
            self.items[feed] = [new_item(self.reports, feed, n, False) for n in range(3)]
            self._publish(feed)

    def pace(self, every: float) -> None:
        """From now on a new item every `every` seconds on each feed, staggered as at first."""
        now = time.monotonic()
        self.every = every
        self.next_due = [now + every * (i + 1) / self.count for i in range(self.count)]

    def path(self, feed: int) -> str:
        return f"/feed{feed}.xml"

    def _publish(self, feed: int) -> None:
        self.server.set_feed(self.path(feed), rss(self.items[feed][:KEEP], title=f"Soak {feed}"))

    def tick(self) -> None:
        now = time.monotonic()
        for feed in range(self.count):
            if now < self.next_due[feed]:
                continue
            while now >= self.next_due[feed]:  # several while filling
                self.next_due[feed] += self.every
                self.added += 1
                matching = self.added % self.match_one_in == 0
                self.matching += matching
                item = new_item(self.reports, feed, 1000 + self.added, matching)
                self.items[feed] = [item, *self.items[feed][: KEEP - 1]]
            self._publish(feed)


@dataclass
class Sample:
    at: float
    daemon_rss: int
    workers_rss: int
    workers: int
    fds: int
    threads: int
    wal: int
    outbox: int
    sent: int


def status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def rss_bytes(pid: int) -> int:
    return int(status(pid)["VmRSS"].split()[0]) * 1024


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children") as f:
            found += [int(p) for p in f.read().split()]
    return found


def outbox_depth(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')"
        ).fetchone()
    return int(row[0])


def sample(started: float, pid: int, db: Path, api: FakeBotAPI) -> Sample:
    kids = children(pid)
    wal = db.with_name(db.name + "-wal")
    return Sample(
        at=time.monotonic() - started,
        daemon_rss=rss_bytes(pid),
        workers_rss=sum(rss_bytes(k) for k in kids),
        workers=len(kids),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(status(pid)["Threads"]),
        wal=wal.stat().st_size if wal.exists() else 0,
        outbox=outbox_depth(db),
        sent=sum(1 for c in api.calls_of("sendMessage") if c.ok),
    )


def table(samples: list[Sample]) -> str:
    rows = [
        f"{'t (s)':>6} {'daemon MB':>10} {'children MB':>12} {'fds':>5} {'threads':>8}"
        f" {'WAL MB':>7} {'outbox':>7} {'sent':>6}"
    ]
    for s in samples:
        rows.append(
            f"{s.at:>6.0f} {s.daemon_rss / MB:>10.1f} {s.workers_rss / MB:>12.1f}"
            f" {s.fds:>5} {s.threads:>8} {s.wal / MB:>7.1f} {s.outbox:>7} {s.sent:>6}"
        )
    return "\n".join(rows)


def subscribe(api: FakeBotAPI, chats: int) -> None:
    for n in range(chats):
        chat = 5000 + n
        api.push_message(chat, "/subscribe kuril")
        api.wait_for_messages(chat, 1, timeout=60)


def write_config(
    folder: Path, server: FeedServer, feeds: Feeds, count: int, api: FakeBotAPI
) -> Path:
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config = {
        "store": {"path": str(folder / "soak.db")},
        "poll": {"interval": "1s", "timeout": "5s"},
        "telegram": {"api_base_url": api.base_url},
        "feeds": [{"id": f"soak{n}", "url": server.url(feeds.path(n))} for n in range(count)],
        "topics": shipped["topics"],
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--every", type=float, default=5, help="seconds between a feed's items")
    parser.add_argument("--match-one-in", type=int, default=12)
    parser.add_argument("--chats", type=int, default=5, help="chats subscribed to kuril")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=120, help="seconds before growth counts")
    parser.add_argument(
        "--fill", type=float, default=75, help="seconds of fast items first (0: none)"
    )
    parser.add_argument(
        "--fill-every", type=float, default=0.05, help="seconds between a feed's items meanwhile"
    )
    args = parser.parse_args()
    warmup = min(args.warmup, args.duration / 5)
    fill = min(args.fill, warmup * 0.75)

    with tempfile.TemporaryDirectory(prefix="kurilwatch-soak-") as tmp:
        folder = Path(tmp)
        server = FeedServer().start()
        api = FakeBotAPI(TOKEN).start()
        feeds = Feeds(server, args.feeds, args.every, args.match_one_in)
        config = write_config(folder, server, feeds, args.feeds, api)
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
        log = (folder / "daemon.log").open("w+")
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("kurilwatch")), "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        db = folder / "soak.db"
        try:
            api.wait_until_polling(timeout=120)
            server.wait_for_hits(feeds.path(args.feeds - 1), 2, timeout=120)  # primed
            print(
                f"soak: {args.feeds} feeds polled every second, an item per feed every"
                f" {args.every:g} s, {args.chats} subscribed chats, {args.duration:.0f} s;"
                f" first {fill:.0f} s an item per feed every {args.fill_every:g} s, no chats",
                flush=True,
            )
            samples: list[Sample] = []
            started = time.monotonic()
            next_sample = started
            filling = fill > 0
            if filling:
                feeds.pace(args.fill_every)
            else:
                subscribe(api, args.chats)
            while (now := time.monotonic()) < started + args.duration:
                if filling and now >= started + fill:
                    filling = False
                    feeds.filled, feeds.filled_matching = feeds.added, feeds.matching
                    feeds.pace(args.every)
                    subscribe(api, args.chats)
                feeds.tick()
                if now >= next_sample:
                    samples.append(sample(started, daemon.pid, db, api))
                    print(table(samples[-1:]).splitlines()[-1], flush=True)
                    next_sample += args.sample
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited with {daemon.returncode}")
                time.sleep(0.1)
            # no more new items: the outbox must drain (bounded, so a stuck queue shows)
            drained = False
            for _ in range(600):
                drained = outbox_depth(db) == 0
                if drained:
                    break
                time.sleep(0.1)
            samples.append(sample(started, daemon.pid, db, api))
        finally:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGINT)
            try:
                code = daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                code = daemon.wait()
            log.seek(0)
            output = log.read()
            log.close()
            api.stop()
            server.stop()

    print()
    print(table(samples))
    print()
    return verdict(samples, warmup, drained, code, output, feeds)


def verdict(
    samples: list[Sample], warmup: float, drained: bool, code: int, output: str, feeds: Feeds
) -> int:
    base = min(samples, key=lambda s: abs(s.at - warmup))  # the sample at minute 2
    early = samples[: samples.index(base) + 1]
    last = samples[-1]
    memory = lambda s: s.daemon_rss + s.workers_rss  # noqa: E731
    growth = max(memory(s) for s in samples if s.at >= base.at) - memory(base)
    checks = [
        (
            f"memory at {base.at:.0f} s {memory(base) / MB:.1f} MB"
            f" (daemon {base.daemon_rss / MB:.1f}),"
            f" at the end {memory(last) / MB:.1f} MB (daemon {last.daemon_rss / MB:.1f});"
            f" most above the {base.at:.0f} s figure: {growth / MB:+.1f} MB",
            growth <= GROWTH_LIMIT,
        ),
        (
            f"descriptors: {max(s.fds for s in early)} at most during warm-up,"
            f" {min(s.fds for s in samples)}-{max(s.fds for s in samples)} over the run,"
            f" {last.fds} at the end",
            last.fds <= max(s.fds for s in early),
        ),
        (
            f"threads: {max(s.threads for s in early)} at most during warm-up,"
            f" {last.threads} at the end",
            last.threads <= max(s.threads for s in early),
        ),
        (
            f"WAL peak {max(s.wal for s in samples) / MB:.1f} MB",
            max(s.wal for s in samples) < WAL_LIMIT,
        ),
        (
            f"outbox at the end: {last.outbox}, {last.sent} alerts sent",
            drained and last.outbox == 0,
        ),
        (
            f"Ctrl-C: exit {code}, {'a traceback' if 'Traceback' in output else 'no traceback'}",
            code == 0 and "Traceback" not in output,
        ),
    ]
    print(
        f"items added: {feeds.added}, about the Kurils: {feeds.matching}; while filling,"
        f" {feeds.filled} and {feeds.filled_matching}"
        + (
            ""
            if feeds.filled_matching >= MAX_REPORTS
            else f" (story index not yet full at {MAX_REPORTS})"
        )
    )
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    if "Traceback" in output:
        print(output[output.index("Traceback") :][:3000])
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
