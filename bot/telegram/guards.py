"""What the bot does not act on: edited commands, channel posts and their automatic forwards,
other bots' commands in groups, unknown buttons, and a non-admin's /start of a group its
admins stopped; and what it says to a private chat's message that is no command (and to the
log, of a command posted in a channel)."""

from __future__ import annotations

import logging
import unicodedata

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes, filters

from bot.i18n import cut
from bot.telegram.context import ctx_of, esc, is_chat_admin, reply, texts_of
from store import Store

# Commands run from new messages only: an edit of `/broadcast text` must not send it again
# (Telegram delivers the edit as an `edited_message` update carrying the same command).
# Channel posts were never commands (PTB's default is messages and their edits), and an answer
# there would go to every reader of the channel; nor are their copies that Telegram forwards
# to the channel's discussion group (an answer there would sit under the post).
NEW_MESSAGES = filters.UpdateType.MESSAGE & ~filters.IS_AUTOMATIC_FORWARD

GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
CHANNEL_COMMANDS = filters.UpdateType.CHANNEL_POST & filters.COMMAND
MAX_TOLD_CHANNELS = 1000  # channels remembered as told, so each is logged at INFO once

log = logging.getLogger(__name__)


def command_target(text: str) -> str | None:
    """The bot a command names: '/help@other_bot x' → 'other_bot'; None when it names none."""
    first = text.split(None, 1)[0] if text.strip() else ""
    _, at, target = first.partition("@")
    return target if at else None


def addressed_to_us(text: str, chat_type: str | None, username: str | None) -> bool:
    """Whether an unknown command is ours to answer: one naming this bot, or, outside groups
    (where other bots read the same messages), one naming no bot."""
    target = command_target(text)
    if target is not None:
        return username is not None and target.lower() == username.lower()
    return chat_type not in GROUPS


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    chat = update.effective_chat
    if message is None or not addressed_to_us(
        message.text or "", chat.type if chat else None, context.bot.username
    ):
        return
    tr = await texts_of(update, context)
    await reply(update, tr._("I don't know that command. /help lists the ones I understand."))


async def plain_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A private chat's text that is no command (a new subscriber's "hello", a topic's name)
    got silence, as if the bot were dead: say where to begin. Groups' talk is not for us."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    tr = await texts_of(update, context)
    word = unicodedata.normalize("NFKC", message.text or "").strip().lower()
    if word in ctx_of(context).topic_ids():
        command = f"<code>/subscribe {esc(word)}</code>"
        await reply(update, tr._("To follow this topic, send {command}.", command=command))
        return
    await reply(
        update,
        tr._("I answer commands: /start shows the topics to follow, /help lists every command."),
    )


async def channel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A channel's owner posts /start there to set the bot up, and met silence, in the channel
    and in the log alike: a channel gets its alerts from `channels:` in the config. Log its id,
    which a private channel shows nowhere else, and the lines to add (once a channel at INFO).
    Nothing is posted: an answer there would reach every reader."""
    post, chat = update.channel_post, update.effective_chat
    if post is None or chat is None:
        return
    if not addressed_to_us(post.text or "", chat.type, context.bot.username):
        return
    ctx = ctx_of(context)
    known = await ctx.store.run(Store.subscriber, chat.id)
    if known is not None and known.active:  # configured: its topics are the config's
        log.debug("channel %d: a post began with a command; channels take no commands", chat.id)
        return
    told = ctx.told_channels
    first = chat.id not in told
    told[chat.id] = told.pop(chat.id, None)
    while len(told) > MAX_TOLD_CHANNELS:
        del told[next(iter(told))]
    topics = ", ".join(ctx.topic_ids()[:3])
    log.log(
        logging.INFO if first else logging.DEBUG,
        "channel %d (%s): a post began with a command, and channels take no commands (an"
        " answer would reach every reader); to send it alerts, add to the config"
        " `channels: [{chat: '%d', topics: [%s]}]` and make the bot an admin that may post"
        " there",
        chat.id,
        chat.title or chat.username or "untitled",
        chat.id,
        topics,
    )


async def caption_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo's or a file's caption that begins with a command of ours: Telegram marks it as
    a command, but commands are read from text messages only; say how to send it."""
    message = update.effective_message
    chat = update.effective_chat
    caption = message.caption if message is not None else None
    if not caption or not caption.startswith("/"):
        return
    if not addressed_to_us(caption, chat.type if chat else None, context.bot.username):
        return
    tr = await texts_of(update, context)
    await reply(
        update,
        tr._(
            "I read commands in text messages only, not in a caption: send {command} as a"
            " message of its own.",
            command=f"<code>{esc(cut(_visible(caption.strip().splitlines()[0])))}</code>",
        ),
    )


def _visible(text: str) -> str:
    """`text` with its invisible format characters (a right-to-left override turns the rest
    of the reply's line around) shown as �, as /watch shows a query it cannot read."""
    return "".join("\ufffd" if unicodedata.category(c) == "Cf" else c for c in text)


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button whose data no handler knows (an old keyboard, or forged data): stop its spinner."""
    if update.callback_query is not None:
        tr = await texts_of(update, context)
        await update.callback_query.answer(
            tr._("That button is no longer in use; send /start again.")
        )


def in_group(update: Update) -> bool:
    """Whether `update` comes from a group, whose topics, watches and settings are the
    group's (its admins change them), not its sender's own: a reply names them so."""
    return update.effective_chat is not None and update.effective_chat.type in GROUPS


async def sets_up(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether /start comes from who may set the chat up (its language, the forum topic its
    alerts go to), or /topics and /watches from who may change what they list: anyone in a
    private chat; in a group an admin, asked of Telegram, and a member as far as we know when
    Telegram cannot say."""
    if update.effective_chat is None or update.effective_chat.type not in GROUPS:
        return True
    try:
        return await is_chat_admin(update, context)
    except TelegramError as exc:
        log.info(
            "/start in chat %d: not asked if its sender is an admin (%s)",
            update.effective_chat.id,
            exc,
        )
        return False


async def may_restart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """False (and the sender told so) when a non-admin's /start would start a group that is
    not running (stopped with /stop, or left): only the group's admins start its alerts."""
    chat = update.effective_chat
    if chat is None or chat.type not in GROUPS:
        return True
    known = await ctx_of(context).store.run(Store.subscriber, chat.id)
    if (known is not None and known.active) or await is_chat_admin(update, context):
        return True
    tr = await texts_of(update, context)
    await reply(
        update, tr._("Alerts are not running in this group; only its admins can start them.")
    )
    return False


def broadcast_text(text: str) -> str:
    """Everything after the command, newlines included: '/broadcast\\nline 1\\nline 2'."""
    parts = text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""
