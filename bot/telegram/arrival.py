"""The bot added to a group: one greeting, in the language of whoever added it, that says what
the bot does and how an admin subscribes the group (it was silent until someone sent /start)."""

from __future__ import annotations

import logging
from enum import Enum

from telegram import Chat, ChatMember, ChatMemberRestricted, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot.delivery.retry import with_retries
from bot.telegram.context import ctx_of, esc, texts_of
from store import Store

log = logging.getLogger(__name__)

_IN = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


class Arrival(Enum):
    """What a change of the bot's own membership calls for."""

    NONE = "none"  # not an addition (a promotion, a removal, a private chat's block)
    GREET = "greet"
    CHANNEL = "channel"  # set up in config.yaml, not by commands: logged
    MUTED = "muted"  # added without the right to post: logged


def _is_in(member: ChatMember) -> bool:
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return member.status in _IN


def arrival(chat_type: str, old: ChatMember, new: ChatMember, *, upgraded: bool = False) -> Arrival:
    """Whether the bot was just added to the chat, and what to do about it. A change within
    the chat (made an admin, its rights changed) is the same addition: no second greeting; so
    is the bot's membership of a supergroup that was a group it was in (`upgraded`), which
    Telegram reports as an addition."""
    if _is_in(old) or not _is_in(new) or upgraded:
        return Arrival.NONE
    if chat_type == ChatType.CHANNEL:
        return Arrival.CHANNEL
    if chat_type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return Arrival.NONE
    if isinstance(new, ChatMemberRestricted) and not new.can_send_messages:
        return Arrival.MUTED
    return Arrival.GREET


async def added(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.my_chat_member
    if change is None:
        return
    chat = change.chat
    what = arrival(chat.type, change.old_chat_member, change.new_chat_member)
    if what is Arrival.GREET and chat.type == ChatType.SUPERGROUP:
        upgraded = await ctx_of(context).upgrades.upgraded(chat.id)
        what = arrival(chat.type, change.old_chat_member, change.new_chat_member, upgraded=upgraded)
        if upgraded:
            log.info(
                "the group became the supergroup %d (%s): not greeted again", chat.id, chat.title
            )
    if what is not Arrival.NONE and await _back(chat, context):
        return
    if what is Arrival.CHANNEL:
        log.info(
            "added to the channel %d (%s): a channel is set up in config.yaml's channels,"
            " not by commands",
            chat.id,
            chat.title,
        )
        return
    if what is Arrival.MUTED:
        log.info(
            "added to the group %d (%s), but may not post there: no greeting", chat.id, chat.title
        )
        return
    if what is not Arrival.GREET:
        return
    tr = await texts_of(update, context)  # the group's own language, else the adder's
    ids = ctx_of(context).topic_ids()
    text = tr._(
        "👋 Hello! I am <b>kurilwatch</b>: I send news alerts on the Kuril Islands dispute and"
        " the Russia–Japan peace treaty, from Russian, Japanese and English sources, one alert"
        " per story, as it happens.\n\nAn admin of this group subscribes it: /start shows the"
        " topics to tap, or send <code>/subscribe {first}</code>. /settings shows this group's"
        " settings, /help every command.",
        first=esc(ids[0]) if ids else "all",
    )
    try:
        await with_retries(
            lambda: context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
        )
    except (BadRequest, Forbidden) as exc:  # no right to post after all (the group's rules)
        log.info("added to the group %d (%s), but could not greet it: %s", chat.id, chat.title, exc)
        return
    log.info("added to the group %d (%s): greeted it", chat.id, chat.title)


async def _back(chat: Chat, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the chat is one of the config's channels (or groups) that the bot had left, now
    recorded again: removed and added back (to give it its rights again, say), it got no
    alert until the daemon's next start. Other chats are not asked about."""
    ctx = ctx_of(context)
    if ctx.channels_again is None:
        return False
    known = await ctx.store.run(Store.subscriber, chat.id)
    if known is not None and known.active:
        return False
    if not await ctx.channels_again(chat.id, chat.username):  # not the config's
        return False
    again = await ctx.store.run(Store.subscriber, chat.id)
    if again is None or not again.active:  # Telegram would not let it be used (said in the log)
        return False
    log.info("added back to the config's chat %d: its alerts resume", chat.id)
    return True
