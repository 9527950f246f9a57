"""A chat's own alerts and lookups: /watch, /watches, /unwatch, /latest and /search."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.render import alert_of, render_digest
from bot.telegram.context import args_of, changing_chat, ctx_of, esc, may_change, reply
from bot.watch_preview import preview_lines
from store import SearchError, Store, Watch
from watchers import bounded
from watchers.topics.query import QueryError, parse

MAX_QUERY = 300
MAX_LATEST = 20
MAX_WATCH_NUMBER = 10**6  # larger numbers are no watch's


def numbered(watches: Sequence[Watch]) -> str:
    return "\n".join(f"{n}. <code>{esc(w.query)}</code>" for n, w in enumerate(watches, 1))


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
    "unwatch": unwatch,
    "latest": latest,
    "search": search,
}
