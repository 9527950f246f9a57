"""A chat's own alerts and lookups: /watch (with its preview of the last 30 days), /watches,
/unwatch, /mywatch (the watches' Atom feed), /latest and /search."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.render import alert_of, render_digest
from bot.telegram.context import args_of, changing_chat, ctx_of, esc, may_change, reply
from store import AsyncStore, PastItem, SearchError, Store, Watch
from watchers import bounded
from watchers.backtest import preview
from watchers.topics.query import QueryError, parse

MAX_QUERY = 300
MAX_LATEST = 20
MAX_WATCH_NUMBER = 10**6  # larger numbers are no watch's
PREVIEW_WINDOW = timedelta(days=30)
PREVIEW_ITEMS = 20_000  # the newest items of the window that are looked at, at most
PREVIEW_SHOWN = 3


def numbered(watches: Sequence[Watch]) -> str:
    return "\n".join(f"{n}. <code>{esc(w.query)}</code>" for n, w in enumerate(watches, 1))


def newest_items(store: Store, since: datetime, limit: int) -> list[PastItem]:
    return list(store.past_items(since, newest_first=True, limit=limit))


async def preview_lines(store: AsyncStore, query: str, now: datetime) -> str:
    """The preview paragraph of /watch's answer (HTML): how many stories of the last 30 days
    the query would have matched, and the latest three; read on the store thread, matched on a
    worker thread."""
    items = await store.run(newest_items, now - PREVIEW_WINDOW, PREVIEW_ITEMS)
    count, latest = await asyncio.to_thread(preview, items, query)
    days = PREVIEW_WINDOW.days
    scope = f"the last {days} days" + (
        f" (the newest {PREVIEW_ITEMS:,} items)" if len(items) >= PREVIEW_ITEMS else ""
    )
    if not count:
        return (
            f"It would have matched no story of {scope}: check the spelling, maybe a typo."
            " It is saved anyway."
        )
    lines = [f"In {scope} it would have matched {count} {'story' if count == 1 else 'stories'}:"]
    for item in latest[:PREVIEW_SHOWN]:
        title = (
            f'<a href="{esc(item.link)}">{esc(item.title)}</a>' if item.link else esc(item.title)
        )
        lines.append(f"• {item.date:%d %b} {title} ({esc(item.outlet)})")
    return "\n".join(lines)


async def watch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    query = " ".join(args_of(context)).strip()
    if not query:
        await reply(
            update,
            "Write what to watch for, in the topic query language, for example:\n"
            "<code>/watch Shikotan OR Шикотан OR 色丹</code>\n"
            '<code>/watch "peace treaty" AND Motegi</code>',
        )
        return
    if len(query) > MAX_QUERY:
        await reply(update, f"That query is too long: keep it under {MAX_QUERY} characters.")
        return
    try:
        parse(query)
    except QueryError as exc:
        pointer = " " * (exc.column - 1) + "^"
        await reply(
            update,
            f"I can't read that query: {esc(str(exc))}\n<pre>{esc(query)}\n{pointer}</pre>",
        )
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    shown = await preview_lines(ctx.store, query, ctx.clock())
    added = await ctx.store.run(
        Store.add_watch, chat_id, query, now=ctx.clock(), limit=ctx.max_watches
    )
    if added is None:
        await reply(
            update,
            f"You have {ctx.max_watches} watches, the most a chat may have."
            " Remove one with /unwatch first (/watches lists them).",
        )
        return
    if ctx.watches_changed is not None:
        await ctx.watches_changed()
    await reply(
        update,
        f"Watching for <code>{esc(query)}</code>. New stories that match come here, like topic"
        f" alerts. /watches lists your watches.\n\n{shown}",
    )


async def watches(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    mine = await ctx.store.run(Store.watches, chat.id)
    if not mine:
        await reply(update, "You have no watches. Add one with <code>/watch &lt;query&gt;</code>.")
        return
    await reply(
        update,
        f"<b>Your watches</b> ({len(mine)} of {ctx.max_watches})\n{numbered(mine)}\n\n"
        "Remove one with <code>/unwatch &lt;n&gt;</code>."
        + ("\n/mywatch gives their stories as a feed for your reader." if ctx.feeds_url else ""),
    )


async def mywatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The link to the chat's own Atom feed of what its watches matched, at an unguessable
    address (the token is the only secret; /stop forgets it)."""
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    if ctx.feeds_url is None:
        await reply(update, "Feeds are off on this bot (the operator has not set metrics.listen).")
        return
    if not await ctx.store.run(Store.watches, chat.id):
        await reply(
            update,
            "You have no watches yet: add one with <code>/watch &lt;query&gt;</code>, and its"
            " stories will be in your feed.",
        )
        return
    token = await ctx.store.run(Store.feed_token, chat.id, now=ctx.clock())
    url = f"{ctx.feeds_url}/w/{token}.atom"
    await reply(
        update,
        "The latest 50 stories your watches matched, as an Atom feed for your reader:\n"
        f"<code>{esc(url)}</code>\nKeep the address to yourself: anyone with it can read the feed.",
    )


async def unwatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    args = args_of(context)
    if chat is None:
        return
    number = bounded.clamped(args[0], MAX_WATCH_NUMBER) if len(args) == 1 else None
    if number is None:
        await reply(update, "Which one? Write <code>/unwatch 2</code>; /watches numbers them.")
        return
    if not await may_change(update, context):
        return
    removed = await ctx.store.run(Store.remove_watch, chat.id, number)
    if removed is None:
        count = len(await ctx.store.run(Store.watches, chat.id))
        await reply(
            update,
            f"There is no watch number {esc(args[0])}: you have {count}. /watches lists them.",
        )
        return
    if ctx.watches_changed is not None:
        await ctx.watches_changed()
    await reply(update, f"Stopped watching for <code>{esc(removed.query)}</code>.")


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest [topic] [n]: the newest stories, of one topic or of all."""
    ctx = ctx_of(context)
    topic_ids, count = ctx.topic_ids(), 5
    for arg in args_of(context):
        if (number := bounded.clamped(arg, MAX_LATEST + 1)) is not None:
            count = number  # ASCII digits only: '²'.isdigit() is true, int('²') fails
        elif arg.lower().lstrip("#") in ctx.topic_ids():
            topic_ids = [arg.lower().lstrip("#")]
        else:
            valid = ", ".join(f"<code>{esc(t)}</code>" for t in ctx.topic_ids())
            await reply(
                update,
                f"Unknown topic {esc(repr(arg))}. Write <code>/latest [topic] [n]</code>;"
                f" topics: {valid}.",
            )
            return
    if not 1 <= count <= MAX_LATEST:
        await reply(update, f"Ask for 1 to {MAX_LATEST} stories, like <code>/latest 10</code>.")
        return
    found = await ctx.store.run(Store.latest, topic_ids, limit=count)
    if not found:
        await reply(update, "No stories yet. They appear here once the feeds bring some.")
        return
    chat = update.effective_chat
    prefs = await ctx.store.run(Store.prefs, chat.id) if chat else None
    alerts = [
        alert_of(item, source, [t for t in item.topics if t in topic_ids]) for item, source in found
    ]
    await reply(
        update,
        render_digest(alerts, titles=ctx.titles(), tz=ctx.chat_tz(prefs), heading="Latest"),
    )


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    words = " ".join(args_of(context)).strip()
    if not words:
        await reply(
            update,
            'Write what to look for: <code>/search Shikotan</code>, <code>/search "peace'
            ' treaty" Motegi</code>, <code>/search Курил*</code>.',
        )
        return
    try:
        found = await ctx.store.run(Store.search, words[:MAX_QUERY], limit=10)
    except SearchError as exc:
        await reply(update, esc(str(exc)))
        return
    if not found:
        await reply(update, f"Nothing stored matches {esc(repr(words))}.")
        return
    chat = update.effective_chat
    prefs = await ctx.store.run(Store.prefs, chat.id) if chat else None
    alerts = [alert_of(item, topics=["search"]) for item in found]
    await reply(
        update,
        render_digest(
            alerts,
            titles={"search": f"Found for {words}"},
            tz=ctx.chat_tz(prefs),
            heading="Search",
        ),
    )


HANDLERS = {
    "watch": watch,
    "watches": watches,
    "mywatch": mywatch,
    "unwatch": unwatch,
    "latest": latest,
    "search": search,
}
