"""Benchmark of delivery: 3,000 alerts to 1,000 chats through the fake Bot API enforcing
Telegram's limits (30/s overall, 1/s per private chat after a small burst).

    .venv/bin/python bench/deliver.py [--chats 1000] [--stories 3]

Every send takes `--latency` seconds (default 50 ms, a real network), so the sender must
keep several in flight. Run 1: clean; prints messages per second and the number of 429
answers (targets: >= 28/s, zero 429). Run 2: 5% of sends answer 500 and 1% of the chats have
blocked the bot; every alert to the other chats must be sent, and the blocked chats' alerts
dropped, none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Bot

from bot.delivery.worker import DeliveryWorker
from store import AsyncStore
from tests.fakes.alerts import queue_stories
from tests.fakes.telegram_api import FakeBotAPI

TOKEN = "123456:BENCH-TOKEN"


def states(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def delivered(api: FakeBotAPI) -> int:
    return sum(1 for c in api.calls_of("sendMessage") if c.ok)


async def deliver(
    api: FakeBotAPI, folder: Path, chats: int, stories: int, expected: int
) -> tuple[float, Path]:
    db = folder / "kw.db"
    store = await AsyncStore(db).open()
    await store.run(queue_stories, chats, stories, datetime.now(UTC))
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        worker = DeliveryWorker(store, bot)
        task = asyncio.create_task(worker.run())
        start = time.perf_counter()
        # counting the fake's calls is O(n): look 5 times a second, not on every request
        while delivered(api) < expected:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - start
        worker.stop()
        await task
    await store.close()
    return elapsed, db


def show(label: str, value: str) -> None:
    print(f"{label:<52} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--stories", type=int, default=3)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds each send takes (a real network)"
    )
    args = parser.parse_args()
    total = args.chats * args.stories

    with tempfile.TemporaryDirectory() as tmp:
        api = FakeBotAPI(TOKEN, enforce_limits=True).start()
        api.latency = args.latency
        try:
            elapsed, db = asyncio.run(deliver(api, Path(tmp), args.chats, args.stories, total))
            refused = sum(1 for c in api.calls_of("sendMessage") if c.status == 429)
            show(f"clean run: {total} alerts to {args.chats} chats", f"{elapsed:6.1f} s")
            show("messages per second", f"{total / elapsed:6.1f}  (target >= 28)")
            show("429 answers", f"{refused:6d}  (target 0)")
            show("sends in flight at most", f"{api.max_in_flight:6d}")
            show("outbox states", str(states(db)))
        finally:
            api.stop()

    with tempfile.TemporaryDirectory() as tmp:
        api = FakeBotAPI(TOKEN, enforce_limits=True).start()
        api.latency = args.latency
        blocked = set(range(1, args.chats + 1, 100))  # 1% of the chats
        for chat in blocked:
            api.fail_blocked(chat)
        api.fail_share("sendMessage", 0.05, status=500, seed=7)
        expected = (args.chats - len(blocked)) * args.stories
        try:
            elapsed, db = asyncio.run(deliver(api, Path(tmp), args.chats, args.stories, expected))
            failed = sum(1 for c in api.calls_of("sendMessage") if c.status >= 500)
            sent = {
                (int(c.params["chat_id"]), c.params["text"].split("</b>")[0])
                for c in api.calls_of("sendMessage")
                if c.ok
            }
            show("faulty run: 5% 500s, 1% blocked chats", f"{elapsed:6.1f} s, {failed} 500s")
            show("alerts delivered to the other chats", f"{len(sent)} of {expected}")
            show("outbox states", str(states(db)))
            assert len(sent) == expected, "an alert was lost"
        finally:
            api.stop()


if __name__ == "__main__":
    main()
