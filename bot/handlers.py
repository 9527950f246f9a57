"""Telegram command handlers: parse the arguments, call the store, reply. Every command answers."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.retry import with_retries
from store import AsyncStore, Store
from watchers.match import Topic
from watchers.poll import Clock, utcnow

log = logging.getLogger(__name__)

COMMANDS = (
    ("start", "welcome and how to subscribe"),
    ("topics", "the topics you can follow"),
    ("subscribe", "follow a topic: /subscribe <id>"),
    ("unsubscribe", "stop following a topic: /unsubscribe <id>"),
    ("list", "your subscriptions"),
    ("stop", "stop all alerts and forget this chat"),
    ("help", "all commands"),
)


@dataclass
class BotContext:
    """What the handlers share, kept in `application.bot_data`."""

    store: AsyncStore
    topics: Sequence[Topic]
    clock: Clock = utcnow

    def topic_ids(self) -> list[str]:
        return [t.id for t in self.topics]

    def topic_list(self, subscribed: Sequence[str] = ()) -> str:
        return "\n".join(
            f"{'✅' if t.id in subscribed else '•'} <code>{_esc(t.id)}</code> — {_esc(t.title)}"
            for t in self.topics
        )


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _ctx(context: ContextTypes.DEFAULT_TYPE) -> BotContext:
    return cast(BotContext, context.bot_data["kurilwatch"])


async def _reply(update: Update, text: str) -> None:
    message = update.effective_message
    if message is not None:
        await with_retries(lambda: message.reply_text(text, parse_mode=ParseMode.HTML))


async def _register(update: Update, ctx: BotContext) -> int | None:
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    await ctx.store.run(
        Store.upsert_subscriber,
        chat.id,
        now=ctx.clock(),
        chat_type=chat.type,
        title=chat.title or chat.username or chat.first_name,
        language_code=user.language_code if user else None,
    )
    return chat.id


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = _ctx(context)
    chat_id = await _register(update, ctx)
    if chat_id is None:
        return
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    first = ctx.topic_ids()[0]
    text = (
        "👋 <b>kurilwatch</b> sends you news alerts on the Kuril Islands dispute and the "
        "Russia–Japan peace treaty, from Russian, Japanese and English sources: one alert "
        "per story, as it happens.\n\n"
        f"Topics:\n{ctx.topic_list(subscribed)}\n\n"
        f"Subscribe with <code>/subscribe {_esc(first)}</code> (or "
        "<code>/subscribe all</code>). /help lists every command."
    )
    await _reply(update, text)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    lines = [f"/{name} — {_esc(about)}" for name, about in COMMANDS]
    await _reply(update, "<b>Commands</b>\n" + "\n".join(lines))


async def topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = _ctx(context)
    chat = update.effective_chat
    subscribed = await ctx.store.run(Store.subscriptions, chat.id) if chat else []
    await _reply(update, f"<b>Topics</b> (✅ = subscribed)\n{ctx.topic_list(subscribed)}")


def _chosen(args: Sequence[str], ctx: BotContext) -> tuple[list[str], list[str]]:
    """Known and unknown topic ids among the arguments; `all` means every topic."""
    wanted = [a.strip().lower().lstrip("#") for a in args if a.strip()]
    if "all" in wanted:
        return ctx.topic_ids(), []
    known = [t for t in dict.fromkeys(wanted) if t in ctx.topic_ids()]
    unknown = [t for t in dict.fromkeys(wanted) if t not in ctx.topic_ids()]
    return known, unknown


def _valid_ids(ctx: BotContext) -> str:
    return ", ".join(f"<code>{_esc(t)}</code>" for t in ctx.topic_ids())


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = _ctx(context)
    known, unknown = _chosen(context.args or [], ctx)
    if unknown or not known:
        problem = (
            f"Unknown topic {', '.join(repr(u) for u in unknown)}. " if unknown else "Which topic? "
        )
        await _reply(
            update,
            _esc(problem) + f"Valid topics: {_valid_ids(ctx)}.\n"
            "Example: <code>/subscribe " + _esc(ctx.topic_ids()[0]) + "</code>",
        )
        return
    chat_id = await _register(update, ctx)
    if chat_id is None:
        return
    now = ctx.clock()
    added = [t for t in known if await ctx.store.run(Store.subscribe, chat_id, t, now=now)]
    already = [t for t in known if t not in added]
    parts = []
    if added:
        parts.append(
            f"Subscribed to {', '.join(added)}. New stories will be sent here as they come."
        )
    if already:
        parts.append(f"Already subscribed to {', '.join(already)}.")
    await _reply(update, _esc(" ".join(parts)))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = _ctx(context)
    known, unknown = _chosen(context.args or [], ctx)
    chat = update.effective_chat
    if chat is None:
        return
    if unknown or not known:
        problem = (
            f"Unknown topic {', '.join(repr(u) for u in unknown)}. " if unknown else "Which topic? "
        )
        await _reply(update, _esc(problem) + f"Valid topics: {_valid_ids(ctx)}.")
        return
    removed = [t for t in known if await ctx.store.run(Store.unsubscribe, chat.id, t)]
    missing = [t for t in known if t not in removed]
    parts = []
    if removed:
        parts.append(f"Unsubscribed from {', '.join(removed)}.")
    if missing:
        parts.append(f"You were not subscribed to {', '.join(missing)}.")
    await _reply(update, _esc(" ".join(parts)))


async def list_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = _ctx(context)
    chat = update.effective_chat
    if chat is None:
        return
    subscribed = await ctx.store.run(Store.subscriptions, chat.id)
    titles = {t.id: t.title for t in ctx.topics}
    if not subscribed:
        await _reply(update, "You follow no topics yet. /topics shows them; /subscribe adds one.")
        return
    lines = [
        f"• <code>{_esc(t)}</code> — {_esc(titles.get(t, '(no longer offered)'))}"
        for t in subscribed
    ]
    await _reply(update, "<b>Your subscriptions</b>\n" + "\n".join(lines))


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = _ctx(context)
    chat = update.effective_chat
    if chat is None:
        return
    await ctx.store.run(Store.forget_chat, chat.id)
    await _reply(
        update,
        "Stopped. I deleted this chat's subscriptions and queued alerts. "
        "Send /start to begin again.",
    )


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _reply(update, "I don't know that command. /help lists the ones I understand.")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "Sorry, something went wrong; please try again."
            )
        except Exception:
            log.debug("could not tell the user about the error", exc_info=True)


def install(application: Application[Any, Any, Any, Any, Any, Any], ctx: BotContext) -> None:
    """Register the handlers and the shared context on a PTB application."""
    application.bot_data["kurilwatch"] = ctx
    for name, callback in (
        ("start", start),
        ("help", help_command),
        ("topics", topics),
        ("subscribe", subscribe),
        ("unsubscribe", unsubscribe),
        ("list", list_command),
        ("stop", stop),
    ):
        application.add_handler(CommandHandler(name, callback))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_error_handler(on_error)


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, about) for name, about in COMMANDS]
