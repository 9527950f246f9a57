"""Benchmark of many personal watches: 1,000 / 10,000 / 100,000 watch-like queries.

    .venv/bin/python bench/watches.py [--counts 1000,10000,100000] [--items 5000] [--cli]

Queries are bench/match.py's `generated_queries` (made-up names with a context word, an
exclusion or NEAR), drawn from at most 30,000 names (names run out beyond that: at 100,000
watches a name is watched by several chats, as popular ones are). For each count it prints:
matching items/s of the watch index in this process and its ratio to the shipped topics alone
(the same items, the same run); compiling the watches from scratch; adding one and removing one
watch with all of them stored; the RSS the index adds; and the bytes a parse worker receives
per feed (the configured topics only: watches are matched in the daemon's process).

With --start N, a start's `Watches.load` of N stored watches, each load in a process of its own
(as the daemon's first step): with the word forms and keys kept, then after a change of the
code that chooses keys (forms kept, every watch filed from its text); for each its wall and CPU
seconds, the peak RSS it adds (VmHWM, reset before it), and in another run the peak Python
memory traced (tracemalloc) and the forms cache it leaves; `--rounds` times, in turns.

With --cli, also `kurilwatch match` with the shipped config against one with the watches added
as topics: each timed on 20,000 and 40,000 items (the least CPU of three runs each), so that the
difference is the cost of 20,000 items without the start and the compile; prints the per-item
ratio, the compile, and peak RSS. As a check that the compile's drift does not swamp it, also
the CPU of items 20,001-40,000 within each 40,000 run (read from /proc at the 20,000th answer).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.match import generated_queries, items, names
from bot.config import load_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI
from watchers.topics.compile import compile_topics
from watchers.topics.engine import Document
from watchers.topics.frozen import frozen_after
from watchers.topics.index import QueryIndex

MAX_NAMES = 30_000


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def per_item(fn: object, docs: Sequence[Document]) -> float:
    """CPU seconds per item (best of three passes)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for doc in docs:
            fn(doc)  # type: ignore[operator]
        best = min(best, (time.process_time() - start) / len(docs))
    return best


def in_process(count: int, n_items: int) -> dict[str, float]:
    rng = random.Random(7)
    pool = names(min(3 * count, MAX_NAMES), rng)
    data = items(n_items, rng, pool)
    queries = generated_queries(count, rng, pool)
    shipped = compile_topics(load_config(ROOT / "config.yaml").topics)
    before = rss_mb()
    start = time.process_time()
    index = QueryIndex(learn=True)
    with frozen_after():  # as the daemon files them
        for n, query in enumerate(queries.values()):
            index.add(query, f"@w{n}")
    compiled = time.process_time() - start
    grown = rss_mb() - before
    docs = [Document({"title": d["title"], "summary": d["summary"]}) for d in data]
    for doc in docs:  # learns the word frequencies, files hot keys' queries again
        index.match(doc)
    shipped_cost = per_item(shipped.matcher.match, docs)
    index_cost = per_item(index.match, docs)
    matched = sum(len(index.match(doc)) for doc in docs) / len(docs)
    adds, removes = [], []
    for n in range(50):
        query = f"Zyx{n}wvu OR Шикотан{n} OR 色丹{n}島"
        start = time.perf_counter()
        index.add(query, f"@new{n}")
        adds.append(time.perf_counter() - start)
        start = time.perf_counter()
        index.remove(query, f"@new{n}")
        removes.append(time.perf_counter() - start)
    spec = pickle.dumps(shipped.spec, protocol=pickle.HIGHEST_PROTOCOL)
    return {
        "watches": count,
        "distinct": index.distinct,
        "always": len(index.always),
        "index items/s": 1 / index_cost,
        "shipped items/s": 1 / shipped_cost,
        "ratio": (shipped_cost + index_cost) / shipped_cost,
        "watches matched/item": matched,
        "compile s": compiled,
        "add ms": sorted(adds)[len(adds) // 2] * 1000,
        "add max ms": max(adds) * 1000,
        "remove ms": sorted(removes)[len(removes) // 2] * 1000,
        "index MB": grown,
        "rss MB": rss_mb(),
        "spec bytes": len(spec),
    }


# Runs `kurilwatch match` as its own child and reports it: a child forked from this (large)
# process would report this process's peak RSS as its own (Linux keeps the larger across exec).
# It also reads the child's CPU time from /proc at its first answer and at its 20,000th.
_LAUNCHER = """
import json, os, subprocess, sys
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
marks = {1: 0.0, 20_000: 0.0}
with open(sys.argv[1], "rb") as stdin:
    proc = subprocess.Popen(sys.argv[2:], stdin=stdin, stdout=subprocess.PIPE)
    for number, _ in enumerate(proc.stdout, start=1):
        if number in marks:
            marks[number] = cpu(proc.pid)
    _, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status),
    "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
    "first": marks[1], "at20k": marks[20_000]}))
"""


def run_cli(config: Path, lines: Path) -> dict[str, float]:
    """One `kurilwatch match`: CPU seconds (all, at its first answer, at its 20,000th), wall
    seconds, peak RSS MB."""
    command = [sys.executable, "-m", "bot.cli", "match", "--config", str(config)]
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(lines), *command],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    got: dict[str, float] = json.loads(out)
    if got["status"]:
        raise SystemExit(f"kurilwatch match failed ({got['status']})")
    got["wall"] = time.perf_counter() - start
    return got


def cli(count: int) -> None:
    rng = random.Random(7)
    pool = names(min(3 * count, MAX_NAMES), rng)
    data = items(5_000, rng, pool)
    queries = generated_queries(count, rng, pool)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
        config["store"]["path"] = str(folder / "unused.db")
        shipped = folder / "shipped.yaml"
        shipped.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        for tid, query in queries.items():
            config["topics"][tid] = {"title": tid, "query": query}
        watched = folder / "watches.yaml"
        watched.write_text(
            yaml.dump(config, Dumper=yaml.CSafeDumper, allow_unicode=True), encoding="utf-8"
        )
        files = {}
        for lines in (20_000, 40_000):
            path = files[lines] = folder / f"items-{lines}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for n in range(lines):
                    item = data[n % len(data)]
                    out.write(json.dumps({"id": n, **item}, ensure_ascii=False) + "\n")
        results, later = {}, {}
        for label, path in (("shipped topics", shipped), (f"+{count:,} watches", watched)):
            # the least of three runs each, taken in turns (the machine's speed drifts): the
            # compile's CPU time drifts by seconds on a shared machine, as much as 20,000 items
            runs20, runs40 = [], []
            for _ in range(3):
                runs20.append(run_cli(path, files[20_000]))
                runs40.append(run_cli(path, files[40_000]))
            cpu20, cpu40 = min(r["cpu"] for r in runs20), min(r["cpu"] for r in runs40)
            wall20, wall40 = min(r["wall"] for r in runs20), min(r["wall"] for r in runs40)
            rss = max(r["rss"] for r in runs20 + runs40)
            item_cpu = (cpu40 - cpu20) / 20_000
            item_wall = (wall40 - wall20) / 20_000
            start_cpu = cpu20 - 20_000 * item_cpu
            results[label] = item_cpu
            # the same 20,000 items within each 40,000 run: no compile in the difference
            later[label] = min(r["cpu"] - r["at20k"] for r in runs40) / 20_000
            first = min(r["first"] for r in runs40)
            print(
                f"kurilwatch match, {label:<18} {item_cpu * 1e6:8.1f} us CPU/item"
                f" ({item_wall * 1e6:.1f} us wall), start+compile {start_cpu:6.2f} s CPU"
                f" (at the first answer: {first:.2f} s); items 20,001-40,000 within a run"
                f" {later[label] * 1e6:.1f} us CPU/item; peak RSS {rss:.0f} MB"
            )
        label = f"+{count:,} watches"
        ratio = results[label] / results["shipped topics"]
        print(
            f"kurilwatch match per item, {count:,} watches / shipped: {ratio:.2f}x"
            f" (target <= 3x); within runs: {later[label] / later['shipped topics']:.2f}x"
        )


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found.extend(int(c) for c in children)
    return found


class _Lines:
    """A daemon's stderr, read on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        import threading

        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip())
                self._cond.notify_all()

    def find(self, needle: str) -> str:
        with self._cond:
            return next((line.split(": ", 1)[-1] for line in self.lines if needle in line), "")

    def wait_for(self, needle: str, timeout: float = 120) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: any(needle in x for x in self.lines), timeout):
                self._proc.kill()
                raise SystemExit("\n".join(self.lines[-30:]))


def _store_with_watches(path: Path, count: int) -> list[str]:
    """A store with `count` watches of `count // 10` active chats (ten each); their queries."""
    from store import Store

    rng = random.Random(11)
    pool = names(min(3 * count, MAX_NAMES), rng)
    queries = list(generated_queries(count, rng, pool).values())
    store = Store(path)
    now = time.time()
    chats = max(1, count // 10)
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
            " VALUES (?, 'private', 1, ?, ?)",
            [(1000 + n, now, now) for n in range(chats)],
        )
        store.db.conn.executemany(
            "INSERT INTO watches (chat_id, query, created_at) VALUES (?, ?, ?)",
            [(1000 + n % chats, query, now) for n, query in enumerate(queries)],
        )
    store.close()
    return queries


def _stored_watch_item(queries: list[str]) -> tuple[int, FeedEntry]:
    """An item that a stored watch (the last of the form `A OR B`) matches, and its chat."""
    n = max(n for n, query in enumerate(queries) if n % 4 == 0)
    name = queries[n].split(" OR ")[0]
    chat = 1000 + n % max(1, len(queries) // 10)
    return chat, FeedEntry(f"{name} visits the islands", "https://news.example/w", guid="w")


def daemon(count: int) -> None:
    """The running daemon with `count` stored watches: start (twice: the first caches the word
    forms and what each watch is filed under; at the second, an item naming a stored watch waits
    in the feed: the watches are active when its alert arrives), /watch then an item, CPU and
    RSS."""
    token = "123456:BENCH-TOKEN"
    chat = 99
    old = [
        FeedEntry(f"Old story {n}", f"https://news.example/old{n}", guid=f"old{n}")
        for n in range(5)
    ]
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as feeds:
        folder = Path(tmp)
        api = FakeBotAPI(token).start()
        try:
            feeds.set_feed("/a.xml", rss(old))
            config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
            config.update(
                store={"path": str(folder / "kw.db")},
                poll={"interval": "1s", "timeout": "5s"},
                feeds=[{"id": "feed-a", "url": feeds.url("/a.xml")}],
                telegram={"api_base_url": api.base_url},
            )
            config.pop("channels", None)
            path = folder / "config.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
            watcher, stored_item = _stored_watch_item(_store_with_watches(folder / "kw.db", count))
            env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
            env.update(TELEGRAM_BOT_TOKEN=token, PYTHONUNBUFFERED="1")
            runs = ("first start (word forms looked up, keys chosen)", "start (forms, keys kept)")
            for run in runs:
                if not run.startswith("first"):  # the feed was primed by the first start
                    feeds.set_feed("/a.xml", rss([stored_item, *old]))
                start = time.perf_counter()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "run", "--config", str(path)],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                log = _Lines(proc)
                log.wait_for("kurilwatch running:")
                started = time.perf_counter() - start
                log.wait_for("watches:")
                filed = time.perf_counter() - start
                filed_cpu = _proc_cpu(proc.pid)
                print(
                    f"daemon, {count:,} watches, {run}: running (answers, polls) after"
                    f" {started:.2f} s, watches filed after {filed:.2f} s"
                    f" ({filed_cpu:.2f} s CPU); {log.find('watches:')}"
                )
                if run.startswith("first"):
                    proc.terminate()
                    proc.wait(20)
                    continue
                api.wait_for_messages(watcher, 1, timeout=60)
                print(
                    f"daemon: watches active after {time.perf_counter() - start:.2f} s"
                    f" ({_proc_cpu(proc.pid):.2f} s CPU): an item naming a stored watch, waiting"
                    " in the feed at the start, alerted its chat"
                )
                feeds.wait_for_hits("/a.xml", feeds.hits("/a.xml") + 2, timeout=30)
                api.wait_until_polling(timeout=30)
                daemon_rss = _proc_rss(proc.pid)
                workers = [_proc_rss(c) for c in _children(proc.pid)]
                api.push_message(chat, "/start")
                api.wait_for_messages(chat, 1, timeout=30)
                before = _proc_cpu(proc.pid)
                api.push_message(chat, "/watch Zyxwvutan")
                api.wait_for_messages(chat, 2, timeout=30)
                changed = time.perf_counter()
                change_cpu = _proc_cpu(proc.pid) - before
                feeds.set_feed(
                    "/a.xml",
                    rss(
                        [
                            FeedEntry(
                                "Zyxwvutan visits the islands", "https://news.example/z", guid="z"
                            ),
                            *old,
                        ]
                    ),
                )
                api.wait_for_messages(chat, 3, timeout=30)
                alerted = time.perf_counter() - changed
                print(
                    f"daemon: /watch then an item: alert {alerted:.2f} s after the reply (feed"
                    f" polled every 1 s); the daemon's CPU from /watch to its reply"
                    f" {change_cpu * 1000:.0f} ms (clock ticks of 10 ms, polls included)"
                )
                sizes = ", ".join(f"{w:.0f}" for w in workers)
                print(
                    f"daemon RSS {daemon_rss:.0f} MB (peak {_proc_rss(proc.pid, 'VmHWM'):.0f} MB);"
                    f" parse workers {sizes} MB"
                )
                proc.terminate()
                proc.wait(20)
        finally:
            api.stop()


def watch_change_cpu(count: int) -> None:
    """The daemon's CPU (all threads) for /watch and /unwatch with `count` watches filed, as
    `watchers.watches.Watches` does them (parse off the loop, file in place)."""
    import asyncio

    from store import AsyncStore, Watch
    from watchers.watches import Watches

    async def run(folder: Path) -> None:
        _store_with_watches(folder / "kw.db", count)
        store = await AsyncStore(folder / "kw.db").open()
        watches = Watches()
        labels = (
            "load, word forms looked up, keys chosen",
            "load, forms and keys kept",
            "load after a code change to the keys: forms kept, keys chosen again",
        )
        for label in labels:
            if label.startswith("load after"):  # as a new FILING_VERSION finds them
                await store.run(lambda s: s.db.execute("UPDATE watches SET filed_by = 'older'"))
            start, cpu = time.perf_counter(), time.process_time()
            await watches.load(store)
            print(
                f"Watches.load, {count:,} watches ({label}): {time.perf_counter() - start:.2f} s,"
                f" {time.process_time() - cpu:.2f} s CPU"
            )
        costs = []
        for n in range(20):
            watch = Watch(10**9 + n, 99, f"Zyxw{n}vutan OR Шикотан OR 色丹{n}")
            cpu = time.process_time()
            await watches.add(watch, store)
            watches.remove(watch)
            costs.append(time.process_time() - cpu)
        costs.sort()
        print(
            f"Watches.add + remove with {count:,} filed: {costs[len(costs) // 2] * 1000:.1f} ms CPU"
            f" (median of 20; max {costs[-1] * 1000:.1f} ms)"
        )
        await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp)))


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here


def _start_child(mode: str, path: str) -> None:
    """One start's load of the watches stored at `path` (`start_load`), as a JSON line."""
    import asyncio
    import gc
    import tracemalloc

    from store import AsyncStore
    from watchers.topics.morph import forms_held
    from watchers.watches import Watches

    async def run() -> dict[str, float]:
        store = await AsyncStore(path).open()
        if mode.startswith("rekey"):  # as a new FILING_VERSION finds them
            await store.run(lambda s: s.db.execute("UPDATE watches SET filed_by = 'older'"))
        traced = mode.endswith("traced")
        gc.collect()
        if traced:
            tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0] if traced else 0
        _reset_peak_rss()
        before = rss_mb()
        start, cpu = time.perf_counter(), time.process_time()
        index = await Watches().load(store)
        got = {
            "wall": time.perf_counter() - start,
            "cpu": time.process_time() - cpu,
            "hwm": _proc_rss(os.getpid(), "VmHWM") - before,
            "watches": len(index),
        }
        if traced:
            got["traced"] = (tracemalloc.get_traced_memory()[1] - base) / 2**20
            got["forms"], got["forms_bytes"] = forms_held()
        await store.close()
        return got

    print(json.dumps(asyncio.run(run())))


def _child_load(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--start-child", mode, str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    got: dict[str, float] = json.loads(out.splitlines()[-1])
    return got


def start_load(count: int, rounds: int) -> None:
    """`--start`: a start's load of `count` stored watches, each in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kw.db"
        _store_with_watches(path, count)
        first = _child_load("first", path)  # looks the forms up, keeps them and the keys
        print(f"start, {count:,} watches, first load: {first['wall']:.2f} s")
        labels = {"kept": "forms and keys kept", "rekey": "after a change to the keys"}
        for n in range(rounds):
            for mode, label in labels.items():
                plain = _child_load(mode, path)
                traced = _child_load(f"{mode}-traced", path)
                print(
                    f"start {n + 1}, load ({label}): {plain['wall']:.2f} s wall,"
                    f" {plain['cpu']:.2f} s CPU, peak RSS +{plain['hwm']:.0f} MB;"
                    f" traced peak {traced['traced']:.1f} MB, forms cache"
                    f" {traced['forms']:,.0f} words, {traced['forms_bytes'] / 2**20:.1f} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--cli", action="store_true", help="also time `kurilwatch match`")
    parser.add_argument("--cli-count", type=int, default=100_000)
    parser.add_argument("--daemon", type=int, default=0, help="run the daemon with N watches")
    parser.add_argument("--start", type=int, default=0, help="a start's load of N watches")
    parser.add_argument("--rounds", type=int, default=3, help="--start's rounds")
    parser.add_argument("--start-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.start_child:
        _start_child(*args.start_child)
        return
    if args.start:
        start_load(args.start, args.rounds)
        return
    for count in (int(c) for c in args.counts.split(",") if c):
        row = in_process(count, args.items)
        print(
            " | ".join(
                f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in row.items()
            )
        )
    if args.cli:
        cli(args.cli_count)
    if args.daemon:
        watch_change_cpu(args.daemon)
        daemon(args.daemon)


if __name__ == "__main__":
    main()
