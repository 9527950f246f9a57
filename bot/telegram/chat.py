"""Telegram command handlers: parse the arguments, call the store, reply. Every command answers.

This module has the chat's basics (/start with its topic keyboard, /help, topics and
subscriptions, /list, /stop) and registers every handler; personal alerts and search are in
`bot.telegram.watches`, delivery modes in `bot.telegram.prefs`, admin commands in
`bot.telegram.admin`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeDefault,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.i18n import EN, Texts, quoted
from bot.telegram import admin, arrival, guards, insights, lookups, news_filters, story_buttons
from bot.telegram import prefs as prefs_commands
from bot.telegram import watches as watch_commands
from bot.telegram.context import (
    BUTTON_TITLE,
    TOPIC_CHARS,
    TOPIC_LINES,
    TOPIC_TITLE,
    BotContext,
    answer_text,
    args_of,
    changing_chat,
    ctx_of,
    esc,
    feed_ids,
    is_bot_admin,
    is_chat_admin,
    may_change,
    press_of,
    record_thread,
    register,
    reply,
    some_ids,
    texts_of,
    valid_ids,
)
from bot.telegram.failures import on_error
from bot.telegram.pages import label_pressed, page_of, paged, turned_to
from bot.telegram.texts import COMMANDS, LANGUAGES, WELCOME
from store import Store
from watchers.text import shorten

__all__ = ["BotContext", "bot_commands", "install", "set_commands"]

log = logging.getLogger(__name__)
TOGGLE = "t:"  # callback data of a topic button: "t:<topic id>", or "t#<hash>" for a long id
TURN = "tp:"  # callback data of a button that turns the topics' keyboard: "tp:<page>"


def topic_data(topic_id: str) -> str:
    """A topic button's callback data, within Telegram's 64 bytes (a topic id is any length;
    cut, it named no topic and the button never worked)."""
    data = f"{TOGGLE}{topic_id}"
    if len(data.encode()) <= 64:
        return data
    return "t#" + hashlib.sha256(topic_id.encode()).hexdigest()[:32]


def keyboard(
    ctx: BotContext,
    subscribed: Sequence[str],
    extra: Sequence[InlineKeyboardButton] = (),
    tr: Texts = EN,
    page: int = 0,
) -> InlineKeyboardMarkup:
    """One button per topic, a page of them at a time; pressing it toggles the subscription
    (✅ = subscribed); `extra` is a last row (/start's offer of news languages)."""
    buttons = [
        InlineKeyboardButton(
            news_filters.marked(shorten(tr._(t.title), BUTTON_TITLE), t.id in subscribed),
            callback_data=topic_data(t.id),
        )
        for t in ctx.topics
    ]
    rows = paged(buttons, page, TURN)
    return InlineKeyboardMarkup([*rows, list(extra)] if extra else rows)


def _offer(query: CallbackQuery) -> Sequence[InlineKeyboardButton]:
    """The news-language row of the keyboard pressed, if it is /start's (kept as it redraws)."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    extra = markup.inline_keyboard[-1] if markup and markup.inline_keyboard else ()
    if not any(str(b.callback_data or "").startswith(news_filters.NEWS) for b in extra):
        return ()
    return extra


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    if not await guards.may_restart(update, context):
        return
    admin = await guards.sets_up(update, context)  # a member's /start only looks
    chat_id = await register(update, ctx, by_admin=admin)
    if chat_id is None:
        return
    if admin:
        await record_thread(update, ctx, chat_id)  # in a forum, alerts go to this topic
    tr = await texts_of(update, context)
    group = update.effective_chat is not None and update.effective_chat.type in guards.GROUPS
    prefs, subscribed, watches = await prefs_commands.chat_state(ctx, chat_id)
    looks = group and not admin
    settings = prefs_commands.describe(
        ctx, prefs, subscribed, len(watches), group=group, looks=looks, tr=tr
    )
    if looks:  # its admins choose: a keyboard would only refuse a member
        about = tr._(
            "👋 <b>kurilwatch</b> sends this group news alerts on the Kuril Islands dispute and"
            " the Russia–Japan peace treaty. Its admins choose the topics it follows and its"
            " settings."
        )
        await reply(update, f"{about}\n\n{settings}\n\n" + tr._("/help lists every command."))
        return
    text = (
        tr._(WELCOME)
        + "\n\n"
        + ctx.topic_list(subscribed, tr)
        + "\n\n"
        + tr._(
            "Tap a topic below, or send <code>/subscribe {first}</code>"
            " (or <code>/subscribe all</code>).",
            first=esc(ctx.topic_ids()[0]),
        )
        + "\n\n"
        + settings
        + "\n\n"
        + tr._("/help lists every command.")
    )
    offer = news_filters.start_row(tr.lang, tr, prefs.news_langs if prefs else ())
    await reply(update, text, markup=keyboard(ctx, subscribed, offer, tr))


async def toggle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A topic button: subscribe or unsubscribe, then redraw the keyboard in place."""
    press = await press_of(update, context)
    if press is None:
        return
    query, ctx, tr, chat_id = press.query, press.ctx, press.tr, press.chat_id
    topic = next((t for t in ctx.topic_ids() if topic_data(t) == press.data), None)
    if topic is None:
        await query.answer(tr._("That topic is no longer offered; send /start again."))
        return
    if not await is_chat_admin(update, context):
        await query.answer(tr._("Only this group's admins can change its topics."), show_alert=True)
        return
    await register(update, ctx)
    shown = label_pressed(query)
    if shown is not None:
        leave = shown.startswith("✅")
    else:  # an old message's keyboard: the button toggles
        leave = topic in await ctx.store.run(Store.subscriptions, chat_id)
    if leave:
        await ctx.store.run(Store.unsubscribe, chat_id, topic)
        note = tr._("Unsubscribed from {topics}.", topics=topic)
    else:
        await ctx.store.run(Store.subscribe, chat_id, topic, now=ctx.clock())
        note = tr._("Subscribed to {topic}.", topic=topic)
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    await query.answer(answer_text(note))
    page = page_of(ctx.topic_ids().index(topic))
    try:
        await query.edit_message_reply_markup(
            keyboard(ctx, subscribed, _offer(query), tr, page=page)
        )
    except BadRequest as exc:  # "message is not modified" after a double tap
        log.debug("keyboard not updated: %s", exc.message)


async def turn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ or ▶ under a keyboard of more topics than a page shows: the other page, in place."""
    press = await press_of(update, context)
    if press is None:
        return
    page = turned_to(press.data, TURN)
    if page is None:  # forged: its spinner must stop all the same
        await press.query.answer(press.tr._("That button is no longer in use; send /start again."))
        return
    subscribed = await press.ctx.store.run(Store.subscriptions, press.chat_id)
    await press.query.answer()
    with contextlib.suppress(BadRequest):  # "message is not modified": a one-page keyboard
        await press.query.edit_message_reply_markup(
            keyboard(press.ctx, subscribed, _offer(press.query), press.tr, page=page)
        )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    group = guards.in_group(update)  # "this group's watches", not "your watches"
    lines = [f"/{c.name} — {esc(c.about(tr.lang, group))}" for c in COMMANDS if not c.admin]
    text = tr._("<b>Commands</b>") + "\n" + "\n".join(lines)
    if is_bot_admin(update, ctx):
        admin_lines = [f"/{c.name} — {esc(c.about(tr.lang))}" for c in COMMANDS if c.admin]
        text += "\n\n" + tr._("<b>Admin</b>") + "\n" + "\n".join(admin_lines)
    else:
        names = " ".join(f"/{c.name}" for c in COMMANDS if c.admin)
        text += "\n\n" + tr._("Admins also have {commands}.").format(commands=names)
    text += "\n\n" + tr._(
        "Under every alert: 🔕 mute this story, 🔔 follow it (each further report comes as a"
        " reply), 👎 not relevant."
    )
    await reply(update, text)


async def topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    subscribed = await ctx.store.run(Store.subscriptions, chat.id) if chat else []
    if chat is not None and chat.type in guards.GROUPS:
        head = tr._("<b>Topics</b> (✅ = this group follows it)")
    else:
        head = tr._("<b>Topics</b> (✅ = subscribed)")
    text = head + "\n" + ctx.topic_list(subscribed, tr)
    if await guards.sets_up(update, context):
        await reply(update, text, markup=keyboard(ctx, subscribed, (), tr))
    else:  # a member of a group: every press of a keyboard would only refuse
        await reply(update, text + "\n\n" + tr._("Only this group's admins can change its topics."))


def _chosen(
    args: Sequence[str], ctx: BotContext, kept: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Known and unknown topic ids among the arguments (`kuril, peace-treaty` too); `all`
    means every topic. `kept`: the chat's subscriptions, known too (a topic the config has
    dropped since is still theirs to unsubscribe from)."""
    ids = list(dict.fromkeys([*ctx.topic_ids(), *kept]))
    words = (word for arg in args for word in arg.split(","))
    wanted = [t for w in words if (t := w.strip().lower().lstrip("#"))]  # "#" alone is none
    if "all" in wanted:
        return ids, []
    known = [t for t in dict.fromkeys(wanted) if t in ids]
    unknown = [t for t in dict.fromkeys(wanted) if t not in ids]
    return known, unknown


def _problem(tr: Texts, ctx: BotContext, unknown: Sequence[str]) -> str:
    """Which topic ids were wrong, and the valid ones."""
    if unknown:
        problem = tr.ngettext(
            "Unknown topic {topics}.",
            "Unknown topics {topics}.",
            min(len(unknown), 2),  # no number is shown: Russian's form for 21 is the one for 1
            topics=esc(quoted(*unknown, tr=tr)),
        )
    else:
        problem = tr._("Which topic?")
    return tr.sentences(problem, tr._("Valid topics: {ids}.", ids=valid_ids(ctx, tr)))


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    known, unknown = _chosen(args_of(context), ctx)
    if unknown or not known:
        example = f"<code>/subscribe {esc(ctx.topic_ids()[0])}</code>"
        await reply(
            update,
            _problem(tr, ctx, unknown) + "\n" + tr._("Example: {example}", example=example),
        )
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    now = ctx.clock()
    added = await ctx.store.run(Store.subscribe_to, chat_id, known, now=now)
    already = [t for t in known if t not in added]
    parts = []
    if added:
        parts.append(
            tr.sentences(
                tr._("Subscribed to {topic}.", topic=some_ids(added, tr)),
                tr._("New stories will be sent here as they come."),
            )
        )
    if already:
        parts.append(tr._("Already subscribed to {topics}.", topics=some_ids(already, tr)))
    await reply(update, esc(tr.sentences(*parts)))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    subscribed = await ctx.store.run(Store.subscriptions, chat.id)
    known, unknown = _chosen(args_of(context), ctx, subscribed)
    if unknown or not known:
        await reply(update, _problem(tr, ctx, unknown))
        return
    if not await may_change(update, context):
        return
    removed = await ctx.store.run(Store.unsubscribe_from, chat.id, known)
    missing = [t for t in known if t not in removed]
    parts = []
    if removed:
        parts.append(tr._("Unsubscribed from {topics}.", topics=some_ids(removed, tr)))
    if missing and guards.in_group(update):
        not_yet = tr._("This group was not subscribed to {topics}.", topics=some_ids(missing, tr))
        parts.append(not_yet)
    elif missing:
        parts.append(tr._("You were not subscribed to {topics}.", topics=some_ids(missing, tr)))
    await reply(update, esc(tr.sentences(*parts)))


async def list_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    prefs, subscribed, watches = await prefs_commands.chat_state(ctx, chat.id)
    titles = ctx.titles(tr)
    group = chat.type in guards.GROUPS
    heading = tr._("<b>This group's topics</b>") if group else tr._("<b>Your subscriptions</b>")
    if subscribed:
        gone = tr._("(no longer offered)")
        lines: list[str] = []
        size = 0
        for t in subscribed[:TOPIC_LINES]:  # a bounded list, as /topics gives: one message
            title = titles.get(t, gone)
            title = title if len(title) <= TOPIC_TITLE else title[: TOPIC_TITLE - 1] + "…"
            line = f"• <code>{esc(t)}</code> — {esc(title)}"
            if lines and size + len(line) + 1 > TOPIC_CHARS:
                break
            lines.append(line)
            size += len(line) + 1
        if len(subscribed) > len(lines):
            more = len(subscribed) - len(lines)
            lines.append(tr.ngettext("… and {n} more topic", "… and {n} more topics", more))
        text = "\n".join([heading, *lines])
    elif group:
        text = tr._("This group follows no topics yet; its admins add them with /subscribe.")
    else:
        text = tr._("You follow no topics yet. /topics shows them; /subscribe adds one.")
    if watches:
        listed = await watch_commands.numbered(watches, tr, feed_ids(ctx))
        mine = tr._("<b>This group's watches</b>") if group else tr._("<b>Your watches</b>")
        text += f"\n\n{mine}\n{listed}"
    text += "\n\n" + prefs_commands.describe(
        ctx, prefs, subscribed, len(watches), short=True, tr=tr
    )
    text += "\n" + await insights.settings_lines(ctx, chat.id, tr)
    await reply(update, text)


async def stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None or not await may_change(update, context):
        return
    tr = await texts_of(update, context)  # before its language is forgotten too
    watched = await ctx.store.run(Store.watches, chat.id)
    await ctx.store.run(Store.forget_chat, chat.id)
    await reply(
        update,
        tr._(
            "Stopped. I deleted everything I kept about this chat: its topics, watches, settings"
            " and queued alerts. Send /start to begin again."
        ),
    )
    if ctx.watches_changed is not None:
        for watch in watched:
            await ctx.watches_changed(None, watch)


async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup (a new chat id): its record, choices and queued alerts move
    there now, not at the first send that fails (said in both chats: the second moves none)."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id is not None:
        old, new = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id is not None:
        old, new = message.migrate_from_chat_id, message.chat.id
    else:
        return
    ctx = ctx_of(context)
    ctx.upgrades.heard(new)
    await ctx.store.run(Store.migrate_chat, old, new, now=ctx.clock())
    log.info("chat %d: became the supergroup %d", old, new)


HANDLERS = {
    "start": start,
    "help": help_command,
    "topics": topics,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "list": list_command,
    "stop": stop,
    **watch_commands.HANDLERS,
    **lookups.HANDLERS,
    **prefs_commands.HANDLERS,
    **insights.HANDLERS,
    **news_filters.HANDLERS,
    **admin.HANDLERS,
}


def install(application: Application[Any, Any, Any, Any, Any, Any], ctx: BotContext) -> None:
    """Register the handlers and the shared context on a PTB application."""
    missing = {c.name for c in COMMANDS} ^ set(HANDLERS)
    assert not missing, f"commands and handlers differ: {missing}"
    application.bot_data["kurilwatch"] = ctx
    for name, callback in HANDLERS.items():
        application.add_handler(CommandHandler(name, callback, filters=guards.NEW_MESSAGES))
    application.add_handler(CallbackQueryHandler(toggle, pattern="^t[:#]"))
    application.add_handler(CallbackQueryHandler(turn, pattern=f"^{TURN}"))
    for pattern, callback in {**news_filters.CALLBACKS, **story_buttons.CALLBACKS}.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    application.add_handler(CallbackQueryHandler(guards.unknown_button))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
    application.add_handler(ChatMemberHandler(arrival.added, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(
        MessageHandler(filters.COMMAND & guards.NEW_MESSAGES, guards.unknown_command)
    )
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & guards.NEW_MESSAGES, guards.plain_text)
    )
    application.add_handler(MessageHandler(guards.CHANNEL_COMMANDS, guards.channel_command))
    application.add_handler(
        MessageHandler(
            filters.CaptionEntity(MessageEntity.BOT_COMMAND) & guards.NEW_MESSAGES,
            guards.caption_command,
        )
    )
    application.add_error_handler(on_error)


def bot_commands(lang: str = "en", group: bool = False) -> list[BotCommand]:
    """The public command menu in one language (admin commands are not in it); `group`: the
    groups' menu, which names the group's topics and watches."""
    return [BotCommand(c.name, c.about(lang, group)[:256]) for c in COMMANDS if not c.admin]


async def set_commands(bot: Any) -> None:
    """The menu in English (the default) and in each other language the bot speaks, for private
    chats and, in the group's wording, for every group chat."""
    for scope in (BotCommandScopeDefault(), BotCommandScopeAllGroupChats()):
        group = isinstance(scope, BotCommandScopeAllGroupChats)
        await bot.set_my_commands(bot_commands("en", group), scope=scope)
        for lang in LANGUAGES[1:]:
            await bot.set_my_commands(bot_commands(lang, group), scope=scope, language_code=lang)
