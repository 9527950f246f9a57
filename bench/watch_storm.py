"""Benchmark of a /watch storm: how long an unrelated /help waits, and the storm's total time.

    .venv/bin/python bench/watch_storm.py [--chats 20] [--watches 5]

`chats` chats each send `watches` long /watch commands at once through python-telegram-bot and
the fake Bot API; one more chat sends /help in the middle. Run twice in the same process:
the way before issue 23 (updates one at a time, every /watch recompiling every watch) and the
daemon's way now (`bot.telegram.updates.PerChatUpdates`; each watch filed in place in the
daemon's index of watches, parsed on a thread).
Prints each run's /help wait and storm time, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram.ext import ApplicationBuilder

from bot.config import Config
from bot.daemon import Daemon
from bot.telegram.chat import BotContext, install
from bot.telegram.updates import build_application
from store import AsyncStore, Store, Watch
from tests.conftest import TOKEN, running, shipped_topics
from tests.fakes.telegram_api import FakeBotAPI
from watchers.config import TopicConfig
from watchers.topics.compile import compile_topics

HELP_CHAT = 1


def query(chat: int, n: int) -> str:
    words = " OR ".join(f'"остров{chat}x{n}y{k} мыс"' for k in range(6))
    return f"({words}) AND (Kuril{chat}n{n} OR Курил{chat}н{n}) -склад{n} -weather"


async def storm(
    api: FakeBotAPI, settings: Config, store: AsyncStore, *, new: bool, chats: int, watches: int
) -> tuple[float, float]:
    poller = SimpleNamespace(topics=None)
    changed: Callable[[Watch | None, Watch | None], Awaitable[None]]
    if new:
        daemon = Daemon(settings, None)
        changed = functools.partial(daemon._watches.changed, store)
        app = build_application(settings, TOKEN)
    else:

        async def recompile(added: Watch | None, removed: Watch | None) -> None:
            # as before: parsed on the loop, one compile of every watch per /watch
            configs = dict(settings.topics)
            for watch in await store.run(Store.watches):
                configs[watch.topic_id] = TopicConfig(title="watch", query=watch.query)
            poller.topics = await asyncio.to_thread(compile_topics, configs)

        changed = recompile
        app = ApplicationBuilder().token(TOKEN).base_url(settings.telegram.api_base_url).build()
    install(
        app,
        BotContext(
            store=store,
            topics=compile_topics(settings.topics).topics,
            max_watches=watches,
            watches_changed=changed,
            wake=lambda: None,
        ),
    )
    base = 1000 if new else 100_000
    async with running(app):
        started = time.perf_counter()
        for n in range(watches):
            for chat in range(chats):
                api.push_message(base + chat, f"/watch {query(chat, n)}")
            if n == watches // 2:
                api.push_message(base - HELP_CHAT, "/help")
                help_sent = time.perf_counter()
        await api.wait_for_messages_async(base - HELP_CHAT, 1, timeout=600)
        help_wait = time.perf_counter() - help_sent
        for chat in range(chats):
            await api.wait_for_messages_async(base + chat, watches, timeout=600)
        total = time.perf_counter() - started
    return help_wait, total


async def main(args: Any) -> None:
    api = FakeBotAPI(TOKEN).start()
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": api.base_url}}
    )
    try:
        results = {}
        for new in (False, True):
            with tempfile.TemporaryDirectory() as folder:
                store = await AsyncStore(Path(folder) / "kw.db").open()
                results[new] = await storm(
                    api, settings, store, new=new, chats=args.chats, watches=args.watches
                )
                await store.close()
    finally:
        api.stop()
    (old_help, old_total), (new_help, new_total) = results[False], results[True]
    print(f"{args.chats} chats x {args.watches} /watch, one /help in the middle")
    print(f"before: /help answered after {old_help:.2f} s, storm {old_total:.2f} s")
    print(f"now:    /help answered after {new_help:.2f} s, storm {new_total:.2f} s")
    print(f"/help wait {old_help / new_help:.1f}x shorter, storm {old_total / new_total:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--watches", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
