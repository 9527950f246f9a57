"""Telegram command handlers: parse the arguments, call the store, reply. Every command answers.

This module has the chat's basics (/start with its topic keyboard, /help, topics and
subscriptions, /list, /stop) and registers every handler; personal alerts and search are in
`bot.telegram.watches`, delivery modes in `bot.telegram.prefs`, admin commands in
`bot.telegram.admin`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram import admin, guards, insights
from bot.telegram import prefs as prefs_commands
from bot.telegram import watches as watch_commands
from bot.telegram.context import (
    BotContext,
    args_of,
    changing_chat,
    ctx_of,
    esc,
    is_bot_admin,
    is_chat_admin,
    may_change,
    register,
    reply,
)
from bot.telegram.texts import COMMANDS, LANGUAGES, WELCOME, language
from store import ChatPrefs, Store

__all__ = ["BotContext", "bot_commands", "install", "set_commands"]

log = logging.getLogger(__name__)
TOGGLE = "t:"  # callback data of a topic button: "t:<topic id>"


def keyboard(ctx: BotContext, subscribed: Sequence[str]) -> InlineKeyboardMarkup:
    """One button per topic; pressing it toggles the subscription (✅ = subscribed)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"{'✅' if t.id in subscribed else '➕'} {t.title}",
                    callback_data=f"{TOGGLE}{t.id}"[:64],
                )
            ]
            for t in ctx.topics
        ]
    )


async def settings_text(ctx: BotContext, chat_id: int) -> str:
    """The chat's current settings, in a few lines."""
    prefs = await ctx.store.run(Store.prefs, chat_id)
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    watches = await ctx.store.run(Store.watches, chat_id)
    return prefs_commands.describe(ctx, prefs, subscribed, len(watches))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    if not await guards.may_restart(update, context):
        return
    chat_id = await register(update, ctx)
    if chat_id is None:
        return
    user = update.effective_user
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    first = esc(ctx.topic_ids()[0])
    text = (
        WELCOME[language(user.language_code if user else None)]
        + f"\n\n{ctx.topic_list(subscribed)}\n\nTap a topic below, or send"
        f" <code>/subscribe {first}</code> (or <code>/subscribe all</code>).\n\n"
        + await settings_text(ctx, chat_id)
        + "\n\n/help lists every command."
    )
    await reply(update, text, markup=keyboard(ctx, subscribed))


async def toggle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A topic button: subscribe or unsubscribe, then redraw the keyboard in place."""
    query = update.callback_query
    if query is None or query.data is None or not query.data.startswith(TOGGLE):
        return
    ctx = ctx_of(context)
    topic = query.data.removeprefix(TOGGLE)
    chat = update.effective_chat
    if chat is None or topic not in ctx.topic_ids():
        await query.answer("That topic is no longer offered; send /start again.")
        return
    if not await is_chat_admin(update, context):
        await query.answer("Only this group's admins can change its topics.", show_alert=True)
        return
    await register(update, ctx)
    if topic in await ctx.store.run(Store.subscriptions, chat.id):
        await ctx.store.run(Store.unsubscribe, chat.id, topic)
        note = f"Unsubscribed from {topic}."
    else:
        await ctx.store.run(Store.subscribe, chat.id, topic, now=ctx.clock())
        note = f"Subscribed to {topic}."
    subscribed = await ctx.store.run(Store.subscriptions, chat.id)
    await query.answer(note)
    try:
        await query.edit_message_reply_markup(keyboard(ctx, subscribed))
    except BadRequest as exc:  # "message is not modified" after a double tap
        log.debug("keyboard not updated: %s", exc.message)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    user = update.effective_user
    lang = language(user.language_code if user else None)
    lines = [f"/{c.name} — {esc(c.about(lang))}" for c in COMMANDS if not c.admin]
    text = "<b>Commands</b>\n" + "\n".join(lines)
    if is_bot_admin(update, ctx):
        admin_lines = [f"/{c.name} — {esc(c.about(lang))}" for c in COMMANDS if c.admin]
        text += "\n\n<b>Admin</b>\n" + "\n".join(admin_lines)
    else:
        text += "\n\nAdmins also have /stats, /feeds, /reload and /broadcast."
    await reply(update, text)


async def topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    subscribed = await ctx.store.run(Store.subscriptions, chat.id) if chat else []
    await reply(
        update,
        f"<b>Topics</b> (✅ = subscribed)\n{ctx.topic_list(subscribed)}",
        markup=keyboard(ctx, subscribed),
    )


def _chosen(args: Sequence[str], ctx: BotContext) -> tuple[list[str], list[str]]:
    """Known and unknown topic ids among the arguments; `all` means every topic."""
    wanted = [a.strip().lower().lstrip("#") for a in args if a.strip()]
    if "all" in wanted:
        return ctx.topic_ids(), []
    known = [t for t in dict.fromkeys(wanted) if t in ctx.topic_ids()]
    unknown = [t for t in dict.fromkeys(wanted) if t not in ctx.topic_ids()]
    return known, unknown


def _valid_ids(ctx: BotContext) -> str:
    return ", ".join(f"<code>{esc(t)}</code>" for t in ctx.topic_ids())


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    known, unknown = _chosen(args_of(context), ctx)
    if unknown or not known:
        problem = (
            f"Unknown topic {', '.join(repr(u) for u in unknown)}. " if unknown else "Which topic? "
        )
        await reply(
            update,
            esc(problem) + f"Valid topics: {_valid_ids(ctx)}.\n"
            "Example: <code>/subscribe " + esc(ctx.topic_ids()[0]) + "</code>",
        )
        return
    chat_id = await changing_chat(update, context)
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
    await reply(update, esc(" ".join(parts)))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    known, unknown = _chosen(args_of(context), ctx)
    chat = update.effective_chat
    if chat is None:
        return
    if unknown or not known:
        problem = (
            f"Unknown topic {', '.join(repr(u) for u in unknown)}. " if unknown else "Which topic? "
        )
        await reply(update, esc(problem) + f"Valid topics: {_valid_ids(ctx)}.")
        return
    if not await may_change(update, context):
        return
    removed = [t for t in known if await ctx.store.run(Store.unsubscribe, chat.id, t)]
    missing = [t for t in known if t not in removed]
    parts = []
    if removed:
        parts.append(f"Unsubscribed from {', '.join(removed)}.")
    if missing:
        parts.append(f"You were not subscribed to {', '.join(missing)}.")
    await reply(update, esc(" ".join(parts)))


async def list_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    subscribed = await ctx.store.run(Store.subscriptions, chat.id)
    watches = await ctx.store.run(Store.watches, chat.id)
    prefs: ChatPrefs | None = await ctx.store.run(Store.prefs, chat.id)
    titles = ctx.titles()
    if subscribed:
        lines = [
            f"• <code>{esc(t)}</code> — {esc(titles.get(t, '(no longer offered)'))}"
            for t in subscribed
        ]
        text = "<b>Your subscriptions</b>\n" + "\n".join(lines)
    else:
        text = "You follow no topics yet. /topics shows them; /subscribe adds one."
    if watches:
        text += "\n\n<b>Your watches</b>\n" + watch_commands.numbered(watches)
    text += "\n\n" + prefs_commands.describe(ctx, prefs, subscribed, len(watches), short=True)
    text += "\n" + await insights.settings_lines(ctx, chat.id)
    await reply(update, text)


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None or not await may_change(update, context):
        return
    await ctx.store.run(Store.forget_chat, chat.id)
    await reply(
        update,
        "Stopped. I deleted everything I kept about this chat: its topics, watches, settings and"
        " queued alerts. Send /start to begin again.",
    )
    if ctx.watches_changed is not None:
        await ctx.watches_changed()


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "Sorry, something went wrong; please try again."
            )
        except Exception:
            log.debug("could not tell the user about the error", exc_info=True)


HANDLERS = {
    "start": start,
    "help": help_command,
    "topics": topics,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "list": list_command,
    "stop": stop,
    **watch_commands.HANDLERS,
    **prefs_commands.HANDLERS,
    **insights.HANDLERS,
    **admin.HANDLERS,
}


def install(application: Application[Any, Any, Any, Any, Any, Any], ctx: BotContext) -> None:
    """Register the handlers and the shared context on a PTB application."""
    missing = {c.name for c in COMMANDS} ^ set(HANDLERS)
    assert not missing, f"commands and handlers differ: {missing}"
    application.bot_data["kurilwatch"] = ctx
    for name, callback in HANDLERS.items():
        application.add_handler(CommandHandler(name, callback, filters=guards.NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(toggle, pattern=f"^{TOGGLE}"))
    application.add_handler(CallbackQueryHandler(guards.unknown_button))
    application.add_handler(
        MessageHandler(filters.COMMAND & guards.NEW_MESSAGES, guards.unknown_command)
    )
    application.add_error_handler(on_error)


def bot_commands(lang: str = "en") -> list[BotCommand]:
    """The public command menu in one language (admin commands are not in it)."""
    return [BotCommand(c.name, c.about(lang)[:256]) for c in COMMANDS if not c.admin]


async def set_commands(bot: Any) -> None:
    """The menu in English (the default) and in each other language the bot speaks."""
    await bot.set_my_commands(bot_commands("en"), scope=BotCommandScopeDefault())
    for lang in LANGUAGES[1:]:
        await bot.set_my_commands(bot_commands(lang), language_code=lang)
