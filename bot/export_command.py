"""The admins' /export [topic] [30d]: the matched stories of the period as a CSV document
(the columns of `kurilwatch export`), read on the store thread and written on a worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telegram import Update
from telegram.ext import ContextTypes

from bot.operator.export import csv_text
from bot.telegram.admin import admin_only
from bot.telegram.context import args_of, ctx_of, reply
from store import Store
from watchers.config import parse_duration


@admin_only
async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    message = update.effective_message
    if message is None:
        return
    topic, since = None, timedelta(days=30)
    for arg in args_of(context):
        if arg.lower() in ctx.topic_ids():
            topic = arg.lower()
            continue
        try:
            since = parse_duration(arg)
        except ValueError:
            await reply(update, "Write <code>/export [topic] [30d]</code>.")
            return
    now = ctx.clock()
    stories = await ctx.store.run(Store.stories, [topic] if topic else None, since=now - since)
    data = (await asyncio.to_thread(csv_text, stories)).encode()
    await message.reply_document(
        document=data,
        filename=f"kurilwatch-{topic or 'all'}-{now:%Y%m%d}.csv",
        caption=f"{len(stories)} stories since {now - since:%Y-%m-%d %H:%M} UTC",
    )


HANDLERS = {"export": export}
