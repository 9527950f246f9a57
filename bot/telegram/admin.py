"""Commands for the operators in `telegram.admins`: /stats, /feeds, /reload, /broadcast,
/export and /feedback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, timedelta
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.commands import stats_lines
from bot.delivery.render import ago, units
from bot.i18n import kept_said, quoted
from bot.operator.export import csv_text
from bot.operator.feedback import feedback_text
from bot.telegram.context import args_of, ctx_of, esc, is_bot_admin, reply, texts_of
from bot.telegram.guards import broadcast_text
from store import Store
from watchers.config import parse_duration

log = logging.getLogger(__name__)

MAX_BROADCAST = 3000
MAX_REPORT = 3500  # characters of /feedback's report in one message
MAX_REFUSED_USERS = 1000  # the users whose refused admin commands are logged at DEBUG

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def first_refusal(seen: dict[int, None], user_id: int, most: int = MAX_REFUSED_USERS) -> bool:
    """Whether a refused admin command is `user_id`'s first of the last `most` users refused
    (`seen`, oldest first, is updated): only that one is logged at INFO, so a user repeating
    /stats does not fill the log."""
    if user_id in seen:
        seen[user_id] = seen.pop(user_id)  # the newest again
        return False
    seen[user_id] = None
    while len(seen) > most:
        del seen[next(iter(seen))]
    return True


def admin_only(handler: Handler) -> Handler:
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not is_bot_admin(update, ctx_of(context)):
            user, chat = update.effective_user, update.effective_chat
            if user is not None and chat is not None:  # an operator setting up learns the id
                told = first_refusal(ctx_of(context).refused_users, user.id)
                log.log(
                    logging.INFO if told else logging.DEBUG,
                    "chat %d: user %d is not in telegram.admins: /%s refused (add the id there"
                    " to let them use admin commands)",
                    chat.id,
                    user.id,
                    handler.__name__,
                )
            tr = await texts_of(update, context)
            await reply(update, tr._("Sorry, only the bot's admins may use that command."))
            return
        await handler(update, context)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


@admin_only
async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    now = ctx.clock()
    figures = await ctx.store.run(Store.stats, now=now)
    lines = stats_lines(figures, now, tr)
    await reply(update, tr._("<b>Stats</b>") + "\n" + "\n".join(esc(line) for line in lines))


@admin_only
async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    now = ctx.clock()
    states = await ctx.store.run(Store.feed_states)
    if ctx.feeds:  # the config's: a feed removed from it is no longer shown (its state stays)
        configured = {feed_id for feed_id, _ in ctx.feeds}
        states = [s for s in states if s.id in configured]
    if not states:
        await reply(update, tr._("No feed has been polled yet."))
        return
    lines = [tr._("<b>Feeds</b>")]
    for state in sorted(states, key=lambda s: (s.disabled_reason is None, -s.consecutive_errors)):
        if state.disabled_reason:
            # why, in the admin's language (a feed disabled before such messages: its English)
            why = kept_said(state.disabled_reason_message, state.disabled_reason)
            mark, detail = "⛔", tr._("disabled: {reason}", reason=tr.say(why))
        elif state.consecutive_errors:
            mark = "⚠️"
            detail = tr.ngettext(
                "{n} error in a row: {error}",
                "{n} errors in a row: {error}",
                state.consecutive_errors,
                # in the admin's language (a state kept before such messages: its English)
                error=tr.say(kept_said(state.last_error_message, state.last_error or "?")),
            )
        else:
            mark, detail = "✅", tr._("status {status}", status=state.last_status)
        parts = [tr._("last success: {ago}", ago=ago(state.last_success_at, now, tr))]
        parts.append(esc(detail[:200]))
        if state.next_poll_at and state.next_poll_at > now and not state.disabled_reason:
            parts.append(tr._("next poll {when}", when=ago(state.next_poll_at, now, tr)))
        # the parts as a reload's summary's are separated (Japanese: ；)
        lines.append(f"{mark} <code>{esc(state.id)}</code> — " + tr._("; ").join(parts))
    await reply(update, "\n".join(lines))


@admin_only
async def reload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    if ctx.reload is None:
        await reply(update, tr._("Reloading is not available in this process."))
        return
    sender = update.effective_user.id if update.effective_user is not None else None
    await reply(update, esc(await ctx.reload(tr, sender)))


@admin_only
async def broadcast(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    message = update.effective_message
    text = ""
    if message is not None and message.text:
        text = broadcast_text(message.text)
    if not text:
        await reply(
            update, tr._("Write the message after the command: <code>/broadcast text</code>.")
        )
        return
    if units(text) > MAX_BROADCAST:  # as Telegram counts: an emoji is two
        await reply(update, tr._("Keep a broadcast under {n} characters.", n=MAX_BROADCAST))
        return
    queued = await ctx.store.run(Store.broadcast, text, now=ctx.clock())
    ctx.wake()
    await reply(
        update,
        tr.ngettext(
            "Queued for {n} chat; it goes out within Telegram's limits.",
            "Queued for {n} chats; it goes out within Telegram's limits.",
            queued,
        ),
    )


@admin_only
async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/export [topic] [30d]: the matched stories of the period as a CSV document (the columns
    of `kurilwatch export`), read on the store thread and written on a worker."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
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
            await reply(
                update,
                tr._(
                    "{value} is neither a topic nor a period. Write"
                    " <code>/export [topic] [30d]</code>.",
                    value=esc(quoted(arg, tr=tr)),
                ),
            )
            return
    now = ctx.clock()
    topics = [topic] if topic else ctx.topic_ids()  # not the chats' watches (@w…)
    stories = await ctx.store.run(Store.stories, topics, since=now - since)
    # with a byte order mark: a spreadsheet (Excel) opening the file reads it as UTF-8, not as
    # the system's code page that turns Russian and Japanese titles into mojibake
    data = (await asyncio.to_thread(csv_text, stories)).encode("utf-8-sig")
    await message.reply_document(
        document=data,
        filename=f"kurilwatch-{topic or 'all'}-{now:%Y%m%d}.csv",
        caption=tr.ngettext(
            "{n} story since {since}",
            "{n} stories since {since}",
            len(stories),
            since=tr.when(now - since, UTC),
        ),
    )


@admin_only
async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/feedback [30d]: the "Not relevant" presses of the period by topic, the terms that
    matched them and a suggested exclusion (`kurilwatch feedback`)."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    args = args_of(context)
    try:
        if len(args) > 1:
            raise ValueError
        period = parse_duration(args[0]) if args else timedelta(days=30)
    except ValueError:
        await reply(
            update,
            tr._(
                "{value} is not a period. Write <code>/feedback [30d]</code>.",
                value=esc(quoted(" ".join(args), tr=tr)),
            ),
        )
        return
    since = ctx.clock() - period
    lines = await feedback_text(ctx.store, ctx.queries, since, tr)
    if not lines:
        await reply(update, tr._("No 'Not relevant' press in this period."))
        return
    text = "\n".join(lines)
    if len(text) > MAX_REPORT:
        text = text[:MAX_REPORT].rsplit("\n", 1)[0] + "\n…"
    await reply(update, tr._("<b>Not relevant</b>") + f"\n<pre>{esc(text)}</pre>")


HANDLERS = {
    "stats": stats,
    "feeds": feeds,
    "reload": reload,
    "broadcast": broadcast,
    "export": export,
    "feedback": feedback,
}
