"""Channels (and groups) of the config: each gets every alert of its topics, as if subscribed,
in the language the config gives it. A channel Telegram could not be asked about for a passing
reason is tried again, at growing intervals, until it is recorded (`Channels`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from telegram import Bot
from telegram.constants import ChatType
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.config import ChannelConfig
from bot.delivery.retry import retry_after_seconds
from store import AsyncStore, ChatPrefs, Store, Watch

log = logging.getLogger(__name__)

RETRY_FIRST = 30.0  # seconds before a channel Telegram could not be asked about is tried again
RETRY_MAX = 1800.0  # doubled at each try up to this
MAX_SAID = 200  # characters of an error said in the log
WatchesChanged = Callable[[Watch | None, Watch | None], Awaitable[None]]


class Unreached(list[ChannelConfig]):
    """The channels to try again; after a 429, in how many seconds Telegram lets us."""

    retry_after: float | None = None


def passing(exc: TelegramError) -> bool:
    """Whether an error of getChat passes (a timeout, the network, Telegram's 5xx, a 429),
    rather than says that the bot cannot use the chat (400, 403)."""
    return isinstance(exc, RetryAfter) or (
        isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
    )


class Channels:
    """`add_channels`, at a start and at a reload that changes the channels, and again for the
    channels Telegram could not be asked about for a passing reason, at growing intervals until
    each is recorded: a channel that one timeout or 429 caught got no alert for months."""

    def __init__(
        self,
        first: float = RETRY_FIRST,
        most: float = RETRY_MAX,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.first, self.most, self.clock = first, most, clock
        self._again: asyncio.Task[None] | None = None
        self._adding = asyncio.Lock()  # one add at a time: the later config's is written last

    async def add(
        self,
        bot: Bot,
        store: AsyncStore,
        channels: Sequence[ChannelConfig],
        *,
        watches_changed: WatchesChanged | None = None,
    ) -> None:
        """Record the config's `channels`; those left unreached are tried again later (instead
        of those an earlier config left). One add at a time: two that overlapped (a reload's
        beside the start's) each began a retry, and the one `stop` could not reach wrote the
        earlier config's channels."""

        recorded: dict[int, str] = {}  # kept across the retries: the first entry wins there too

        async def add(some: Sequence[ChannelConfig]) -> Unreached:
            now = self.clock()
            return await add_channels(
                bot,
                store,
                some,
                now=now,
                watches_changed=watches_changed,
                recorded=recorded,
                listed=channels,
            )

        async with self._adding:
            self.stop()
            if unreached := await add(channels):
                self._again = asyncio.create_task(self._retry(add, unreached), name="channels")

    async def _retry(
        self,
        add: Callable[[Sequence[ChannelConfig]], Awaitable[Unreached]],
        unreached: Unreached,
    ) -> None:
        wait = self.first
        while unreached:
            # after a 429, Telegram's wait, not ours (30 s, up to 30 minutes)
            flood, unreached.retry_after = unreached.retry_after, None
            await asyncio.sleep(wait if flood is None else flood)
            wait = min(2 * wait, self.most)
            try:
                async with self._adding:
                    unreached = await add(unreached)
            except sqlite3.OperationalError as exc:  # locked or full: it passes too
                log.warning("channels not recorded yet: the store fails (%s)", exc)
            except Exception:  # a bug: said, and tried again all the same
                log.exception("channels not recorded yet")

    async def settled(self) -> None:
        """Wait until no channel is left to try again."""
        if self._again is not None:
            await asyncio.shield(self._again)

    def stop(self) -> None:
        if self._again is not None:
            self._again.cancel()
            self._again = None


def listed(entry: str, chat_id: int, username: str | None) -> bool:
    """Whether a config's `channels[].chat` (an @name in any case, or an id however written)
    is this chat."""
    if entry.lstrip("-").isdigit():
        return int(entry) == chat_id
    return username is not None and entry.lstrip("@").lower() == username.lower()


async def add_channels(
    bot: Bot,
    store: AsyncStore,
    channels: Sequence[ChannelConfig],
    *,
    now: datetime,
    watches_changed: WatchesChanged | None = None,
    recorded: dict[int, str] | None = None,
    listed: Sequence[ChannelConfig] = (),
) -> Unreached:
    """Record each channel as a chat subscribed to exactly its configured topics, speaking its
    configured language; a channel back after the bot was removed from it has its watches filed
    again (`watches_changed`). A chat named twice (by its @name and its id, which the config
    cannot tell are one) takes the first entry's settings, with an error naming both; so when
    `channels` are those of the config's `listed` left unreached, with the chats `recorded` of
    the others (chat id → its entry's chat), which this fills. The channels Telegram could not
    be asked about for a passing reason, to be tried again (after a 429, with its wait)."""
    configured = {} if recorded is None else recorded
    order = {entry.chat: at for at, entry in enumerate(listed or channels)}
    unreached = Unreached()
    for index, channel in enumerate(channels):
        try:
            chat = await bot.get_chat(
                int(channel.chat) if channel.chat.lstrip("-").isdigit() else channel.chat
            )
        except TelegramError as exc:
            if not passing(exc):
                log.error(
                    "channel %s: cannot use it (%s); is the bot an admin there?", channel.chat, exc
                )
                continue
            # (in one line: PTB's message of a proxy's error page holds all of the page)
            said = " ".join(str(exc).split())[:MAX_SAID]
            log.warning(
                "channel %s: Telegram unreachable (%s); tried again later", channel.chat, said
            )
            if isinstance(exc, RetryAfter):  # the others would be refused too
                unreached.extend(channels[index:])
                unreached.retry_after = retry_after_seconds(exc)
                break
            unreached.append(channel)
            continue
        if (other := configured.setdefault(chat.id, channel.chat)) != channel.chat:
            # (a later entry than this one, where it was recorded before this one was reached)
            later = order.get(other, 0) > order.get(channel.chat, 0)
            log.error(
                "channel %s is chat %d, which the config also lists as %s: the first entry's"
                " topics and settings are used; list the chat once",
                *((other, chat.id, channel.chat) if later else (channel.chat, chat.id, other)),
            )
            if not later:
                continue
            configured[chat.id] = channel.chat
        back = await store.run(
            Store.upsert_subscriber, chat.id, now=now, chat_type=chat.type, title=chat.title
        )
        if channel.language is not None:
            await store.run(Store.set_language, chat.id, channel.language)
        elif chat.type == ChatType.CHANNEL:
            # no one there can send /language: a language taken out of the config is gone
            # (a group keeps the one its admins chose)
            await store.run(Store.set_language, chat.id, None)
        prefs = await store.run(Store.prefs, chat.id)
        wanted = channel_prefs(channel, chat.type == ChatType.CHANNEL, prefs)
        if prefs is not None and wanted != (prefs.timezone, prefs.digest, prefs.quiet):
            zone, digest, quiet = wanted
            await store.run(
                Store.set_prefs, chat.id, now=now, timezone=zone, digest=digest, quiet=quiet
            )
        langs = channel_news_langs(channel, chat.type == ChatType.CHANNEL, prefs)
        if prefs is not None and langs != prefs.news_langs:
            await store.run(Store.set_news_langs, chat.id, langs)
        muted = channel_muted(channel, chat.type == ChatType.CHANNEL)
        if muted is not None and list(muted) != await store.run(Store.muted_sources, chat.id):
            await store.run(Store.set_muted_sources, chat.id, muted, now=now)
        if back and watches_changed is not None:  # a start while it was away left them out
            for watch in await store.run(Store.watches, chat.id):
                await watches_changed(watch, None)
        current = set(await store.run(Store.subscriptions, chat.id))
        for topic in set(channel.topics) - current:
            await store.run(Store.subscribe, chat.id, topic, now=now)
        for topic in current - set(channel.topics):
            await store.run(Store.unsubscribe, chat.id, topic)
        log.info("channel %s (%d): topics %s", channel.chat, chat.id, ", ".join(channel.topics))
    return unreached


def channel_prefs(
    channel: ChannelConfig, is_channel: bool, prefs: ChatPrefs | None
) -> tuple[str | None, str, str]:
    """The time zone, digest and quiet hours the config gives a chat: a key left out keeps a
    group's own (its admins set it), and is none in a channel (no one there can set it)."""
    own = (
        (prefs.timezone, prefs.digest, prefs.quiet) if prefs and not is_channel else (None, "", "")
    )
    zone, digest, quiet = own
    return (
        zone if channel.timezone is None else channel.timezone,
        digest if channel.digest is None else channel.digest,
        quiet if channel.quiet is None else channel.quiet,
    )


def channel_news_langs(
    channel: ChannelConfig, is_channel: bool, prefs: ChatPrefs | None
) -> tuple[str, ...]:
    """The news languages the config gives a chat (what /lang sets), as `channel_prefs`."""
    if channel.news_languages is not None:
        return channel.news_languages
    return prefs.news_langs if prefs and not is_channel else ()


def channel_muted(channel: ChannelConfig, is_channel: bool) -> tuple[str, ...] | None:
    """The feeds the config mutes for a chat (what /sources mutes), sorted as the store gives
    them; None where it says none for a group, which keeps its admins' own."""
    if channel.muted_sources is not None:
        return tuple(sorted(channel.muted_sources))
    return () if is_channel else None
