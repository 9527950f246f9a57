"""/mywatch: the link to a chat's own Atom feed of the stories its watches matched, at an
unguessable address (the token is the only secret; /stop forgets it)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.context import ctx_of, esc, reply
from store import Store


async def mywatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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


HANDLERS = {"mywatch": mywatch}
