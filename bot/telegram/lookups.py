"""A chat's lookups of the stored stories: /latest (the newest, of a topic or of all) and
/search (the full-text index)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.render import alert_of, render_digest
from bot.i18n import cut, listed, quoted, reason
from bot.telegram.context import args_of, ctx_of, esc, reply, texts_of, valid_ids
from bot.telegram.watches import MAX_QUERY
from store import SearchError, Store
from store.search import widened
from watchers import bounded

MAX_LATEST = 20
SEARCH_EXAMPLES = (
    "<code>/search Shikotan</code>",
    '<code>/search "peace treaty" Motegi</code>',
    "<code>/search Курил*</code>",
)


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest [topic] [n]: the newest stories, of one topic or of all."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    topic_ids, count, asked = ctx.topic_ids(), 5, ""
    for arg in args_of(context):
        if (number := bounded.clamped(arg, MAX_LATEST + 1)) is not None:
            count, asked = number, arg  # ASCII digits only: '²'.isdigit() is true, int('²') fails
        elif arg.lower().lstrip("#") in ctx.topic_ids():
            topic_ids = [arg.lower().lstrip("#")]
        else:
            valid = valid_ids(ctx, tr)
            await reply(
                update,
                tr._(
                    "Unknown topic {topic}. Write <code>/latest [topic] [n]</code>;"
                    " topics: {valid}.",
                    topic=esc(quoted(arg, tr=tr)),
                    valid=valid,
                ),
            )
            return
    if not 1 <= count <= MAX_LATEST:
        await reply(
            update,
            tr._(
                "{value} is out of range. Ask for 1 to {most} stories, like"
                " <code>/latest 10</code>.",
                value=esc(quoted(asked, tr=tr)),
                most=MAX_LATEST,
            ),
        )
        return
    chat = update.effective_chat
    prefs = await ctx.store.run(Store.prefs, chat.id) if chat else None
    langs = list(prefs.news_langs) if prefs else []
    found = await ctx.store.run(Store.latest, topic_ids, limit=count, langs=langs)
    if not found:
        await reply(update, tr._("No stories yet. They appear here once the feeds bring some."))
        return
    alerts = [
        alert_of(item, source, [t for t in item.topics if t in topic_ids]) for item, source in found
    ]
    await reply(
        update,
        render_digest(
            alerts, titles=ctx.titles(tr), tz=ctx.chat_tz(prefs), heading=tr._("Latest"), tr=tr
        ),
    )


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    words = " ".join(args_of(context)).strip()
    if not words:
        await reply(
            update,
            tr._("Write what to look for: {examples}.", examples=listed(tr, SEARCH_EXAMPLES)),
        )
        return
    chat = update.effective_chat
    prefs = await ctx.store.run(Store.prefs, chat.id) if chat else None
    langs = list(prefs.news_langs) if prefs else []
    try:
        found = await ctx.store.run(Store.search, words[:MAX_QUERY], limit=10, langs=langs)
    except SearchError as exc:
        # the reason itself says "cannot search for 'x': ..." (or what else is wrong)
        why = reason(exc, tr)
        await reply(update, esc(why[:1].upper() + why[1:]))
        return
    if not found:
        told = tr._("Nothing stored matches {words}.", words=esc(quoted(words, tr=tr)))
        if (wider := widened(words[:MAX_QUERY])) is not None:
            example = f"<code>/search {esc(cut(wider))}</code>"
            told = tr.sentences(
                told,
                tr._(
                    "Words are found as written; their other forms too with a '*': {example}",
                    example=example,
                ),
            )
        await reply(update, told)
        return
    alerts = [alert_of(item, source, topics=()) for item, source in found]
    await reply(
        update,
        render_digest(
            alerts,
            titles={"": tr._("Found for {words}", words=cut(words))},
            tz=ctx.chat_tz(prefs),
            heading=tr._("Search"),
            tr=tr,
        ),
    )


HANDLERS = {"latest": latest, "search": search}
