"""What every command handler shares: the context, replies, and who may change a chat."""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import cast

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.delivery.plan import chat_tz
from bot.delivery.render import units
from bot.delivery.retry import with_retries
from bot.delivery.split import split_html
from bot.i18n import EN, Texts, language, listed, texts
from bot.telegram.upgrades import Upgrades
from store import AsyncStore, ChatPrefs, Store, Watch
from watchers.clock import Clock, utcnow
from watchers.text import shorten
from watchers.topics.compile import Topic

TOPIC_LINES = 30  # topics listed in /start's and /topics' text; the keyboard pages through all
TOPIC_CHARS = 2000  # the list's HTML at most, so that /start's whole text is one message
TOPIC_TITLE = 200  # a title longer than this is cut in the list
BUTTON_TITLE = 60  # and on its button: a page of long titles passes Telegram's 10 KB keyboard
ANSWER = 200  # a button press's answer (answerCallbackQuery), longer ones are refused


@dataclass
class BotContext:
    """What the handlers share, kept in `application.bot_data`."""

    store: AsyncStore
    topics: Sequence[Topic]
    clock: Clock = utcnow
    admins: frozenset[int] = frozenset()
    tz: tzinfo = UTC  # telegram.timezone: a chat's default
    max_watches: int = 10
    feeds: Sequence[tuple[str, str]] = ()  # (id, title) of the configured feeds, for /sources
    # the daemon files an added watch (the first) or drops a removed one (the second) in place
    watches_changed: Callable[[Watch | None, Watch | None], Awaitable[None]] | None = None
    # re-read the config; says what changed, in the language given, to the admin who asked
    # (left out of the admins' notices of it)
    reload: Callable[[Texts, int | None], Awaitable[str]] | None = None
    wake: Callable[[], None] = field(default=lambda: None)  # new notices or alerts queued
    # a /watch's preview was "shown", or "skipped" while the bot was busy (for /metrics)
    previewed: Callable[[str], None] = field(default=lambda outcome: None)
    # the bot was added to a chat (id, @username) it had left or never reached: if the config
    # lists it, its channels are recorded again (True); else nothing is done (False)
    channels_again: Callable[[int, str | None], Awaitable[bool]] | None = None
    feeds_url: str | None = None  # the HTTP listener's /feeds, when it is on
    feeds_soon: bool = False  # the listener is on, but `listen`'s port 0 is not bound yet
    queries: Mapping[str, str] = field(default_factory=dict)  # topic id -> query, for /feedback
    # the users refused an admin command lately (oldest first): logged at INFO once each
    refused_users: dict[int, None] = field(default_factory=dict)
    # the channels whose posted commands were logged at INFO (oldest first), once each
    told_channels: dict[int, None] = field(default_factory=dict)
    upgrades: Upgrades = field(default_factory=Upgrades)  # groups that became supergroups

    def topic_ids(self) -> list[str]:
        return [t.id for t in self.topics]

    def titles(self, tr: Texts = EN) -> dict[str, str]:
        """Topic id → title (the shipped config's titles in `tr`'s language)."""
        return {t.id: tr._(t.title) for t in self.topics}

    def topic_list(self, subscribed: Sequence[str] = (), tr: Texts = EN) -> str:
        """A line per topic (✅ = subscribed) for /start and /topics. Of a config of many
        topics, the subscribed first, at most `TOPIC_LINES` lines or `TOPIC_CHARS`
        characters, then how many more the keyboard's pages hold: one message, not dozens."""
        mine = set(subscribed)

        def line(topic: Topic) -> str:
            title = tr._(topic.title)
            if len(title) > TOPIC_TITLE:
                title = title[: TOPIC_TITLE - 1] + "…"
            mark = "✅" if topic.id in mine else "•"
            return f"{mark} <code>{esc(topic.id)}</code> — {esc(title)}"

        every = [line(t) for t in self.topics]
        if len(every) <= TOPIC_LINES and sum(len(one) + 1 for one in every) <= TOPIC_CHARS:
            return "\n".join(every)
        first = [t for t in self.topics if t.id in mine]
        first += [t for t in self.topics if t.id not in mine]
        lines: list[str] = []
        size = 0
        for topic in first[:TOPIC_LINES]:
            shown = line(topic)
            if lines and size + len(shown) + 1 > TOPIC_CHARS:  # as `every` is measured
                break
            lines.append(shown)
            size += len(shown) + 1
        more = len(first) - len(lines)
        lines.append(
            tr.ngettext(
                "… and {n} more topic: the buttons below show every topic, a page at a time.",
                "… and {n} more topics: the buttons below show every topic, a page at a time.",
                more,
            )
        )
        return "\n".join(lines)

    def chat_tz(self, prefs: ChatPrefs | None) -> tzinfo:
        return chat_tz(prefs, self.tz)


class Slots:
    """The requests of a costly kind in progress, all chats together, at most `most`: past
    it, a request is told the bot is busy (or goes without the costly part), so a burst of
    them cannot hold memory and threads without bound (/trend's charts, /watch's previews)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.taken = 0

    def take(self) -> bool:
        """A slot for one more request, or False when all are taken."""
        if self.taken >= self.most:
            return False
        self.taken += 1
        return True

    def give(self) -> None:
        self.taken -= 1


@dataclass(frozen=True, slots=True)
class Press:
    """A button press, with what every button handler starts from."""

    query: CallbackQuery
    data: str
    chat_id: int
    ctx: BotContext
    tr: Texts


async def press_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Press | None:
    """The press in `update`; None for one without data or a chat (nothing to answer)."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or query.data is None or chat is None:
        return None
    return Press(query, query.data, chat.id, ctx_of(context), await texts_of(update, context))


VALID_IDS = 20  # ids named in a reply to a wrong one; /topics has them all


def valid_ids(ctx: BotContext, tr: Texts) -> str:
    """The config's topic ids as a reply to a wrong one names them: the first `VALID_IDS`."""
    ids = ctx.topic_ids()
    shown = [f"<code>{esc(t)}</code>" for t in ids[:VALID_IDS]]
    more = len(ids) - VALID_IDS
    return listed(tr, [*shown, f"… (+{more}: /topics)"] if more > 0 else shown)


def some_ids(ids: Sequence[str], tr: Texts) -> str:
    """Topic ids as a reply names them: the first `VALID_IDS`, then how many more (/subscribe
    all of thousands named each, in a dozen messages)."""
    shown = listed(tr, ids[:VALID_IDS])
    more = len(ids) - VALID_IDS
    if more <= 0:
        return shown
    return f"{shown} " + tr.ngettext("… and {n} more topic", "… and {n} more topics", more)


def answer_text(text: str) -> str:
    """A press's answer cut to what Telegram takes, counted in UTF-16 units to be safe."""
    limit = ANSWER
    while units(out := shorten(text, limit)) > ANSWER:
        limit -= units(out) - ANSWER
    return out


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def ctx_of(context: ContextTypes.DEFAULT_TYPE) -> BotContext:
    return cast(BotContext, context.bot_data["kurilwatch"])


async def reply(update: Update, text: str, *, markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer in the chat (split when longer than a message), retrying through flood control."""
    message = update.effective_message
    if message is None:
        return
    parts = split_html(text)
    for n, part in enumerate(parts):
        keyboard = markup if n == len(parts) - 1 else None
        await with_retries(
            lambda part=part, keyboard=keyboard: message.reply_text(  # type: ignore[misc]
                part, parse_mode=ParseMode.HTML, reply_markup=keyboard
            )
        )


_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


async def register(update: Update, ctx: BotContext, *, by_admin: bool = True) -> int | None:
    """Record (or reactivate) the chat; its id. A group takes the language of the admin who
    sets it up (`by_admin`): a member's /start only looks."""
    chat = update.effective_chat
    if chat is None:
        return None
    user = update.effective_user
    back = await ctx.store.run(
        Store.upsert_subscriber,
        chat.id,
        now=ctx.clock(),
        chat_type=chat.type,
        title=chat.title or chat.username or chat.first_name,
        # a group's alerts fall back on it: a member's would speak for the group
        language_code=(
            user.language_code if user and (by_admin or chat.type not in _GROUPS) else None
        ),
    )
    if by_admin and chat.type in _GROUPS and user and user.language_code:
        # a group speaks the language of whoever set it up, until an admin says /language;
        # an anonymous admin (Telegram's GroupAnonymousBot) has none: the next admin's counts
        await ctx.store.run(Store.adopt_language, chat.id, language(user.language_code))
    if back and ctx.watches_changed is not None:
        # a chat back after blocking the bot: a start while it was away left its watches out
        for watch in await ctx.store.run(Store.watches, chat.id):
            await ctx.watches_changed(watch, None)
    return chat.id


async def texts_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Texts:
    """The language to answer in: the chat's own (/language, a group's setup), else the
    sender's Telegram language (in a private chat, recorded for its alerts when it changed)."""
    chat, user = update.effective_chat, update.effective_user
    code = user.language_code if user else None
    store = ctx_of(context).store
    if chat is None:
        stored = None
    elif chat.type == ChatType.PRIVATE:  # records the app's language for the alerts too
        stored = await store.run(Store.private_language, chat.id, code)
    else:
        stored = await store.run(Store.language, chat.id)
    return texts(stored or code)


async def is_chat_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """In a group or a channel, whether the sender is one of its admins; in a private chat,
    True. (A channel's readers press the buttons under its alerts.)"""
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if update.callback_query is None and message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id  # an anonymous admin posts as the group
    user = update.effective_user
    if user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def may_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Commands that change a group's settings are for its admins; others are told so. In a
    forum, its messages go to the topic they are changed in from now on (`record_thread`)."""
    if not await _admin_or_told(update, context):
        return False
    if (chat := update.effective_chat) is not None:
        await record_thread(update, ctx_of(context), chat.id)
    return True


async def _admin_or_told(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    if await is_chat_admin(update, context):
        return True
    tr = await texts_of(update, context)
    await reply(update, tr._("Only this group's admins can change its alerts and settings."))
    return False


async def changing_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    """The id of the chat a command is about to change (recorded, or reactivated), or None
    when the sender may not change it (and was told so)."""
    if not await _admin_or_told(update, context):
        return None
    ctx = ctx_of(context)
    if (chat_id := await register(update, ctx)) is not None:
        await record_thread(update, ctx, chat_id)
    return chat_id


async def record_thread(update: Update, ctx: BotContext, chat_id: int) -> None:
    """A command that sets a chat up (/start, a setting) sent in a forum's topic: the chat's
    alerts, digests, reports and notices go to that topic; sent in General (or in a chat of no
    topics), to the chat itself. A button's press leaves it as it is."""
    message = update.message
    if message is None:
        return
    thread = message.message_thread_id if message.is_topic_message else None
    await ctx.store.run(Store.set_thread, chat_id, thread)


def is_bot_admin(update: Update, ctx: BotContext) -> bool:
    user = update.effective_user
    return user is not None and user.id in ctx.admins


def feed_ids(ctx: BotContext) -> list[str]:
    """The ids of the config's feeds, which a watch's `source:` names."""
    return [feed_id for feed_id, _ in ctx.feeds]


def args_of(context: ContextTypes.DEFAULT_TYPE) -> list[str]:
    """A command's arguments, NFKC-normalised: a Japanese keyboard types ０８:００ and ２ｈ."""
    return [unicodedata.normalize("NFKC", a) for a in (context.args or []) if a.strip()]
