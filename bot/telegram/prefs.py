"""How and when a chat gets its alerts: /digest, /timezone, /quiet, /mute and /unmute."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.plan import SettingError, next_digest_text, parse_digest, parse_quiet
from bot.telegram.context import BotContext, args_of, changing_chat, ctx_of, esc, reply
from store import ChatPrefs, Store
from watchers.bounded import OutOfRange
from watchers.config import parse_duration

MAX_MUTE = timedelta(days=30)


def describe(
    ctx: BotContext,
    prefs: ChatPrefs | None,
    subscribed: Sequence[str],
    watches: int,
    *,
    short: bool = False,
) -> str:
    """The chat's settings in a few lines, for /start and /list."""
    tz = ctx.chat_tz(prefs)
    now = ctx.clock()
    lines = [] if short else [f"<b>Your topics:</b> {esc(', '.join(subscribed) or 'none yet')}"]
    if not short:
        lines.append(f"<b>Watches:</b> {watches} (/watch adds one)")
    digest = prefs.digest if prefs else ""
    lines.append(f"<b>Digest:</b> {esc(next_digest_text(digest, now, tz))}")
    lines.append(f"<b>Time zone:</b> {esc(str(tz))}")
    if prefs and prefs.quiet:
        lines.append(f"<b>Quiet hours:</b> {esc(prefs.quiet)}")
    if prefs and prefs.muted_until and prefs.muted_until > now:
        until = prefs.muted_until.astimezone(tz)
        lines.append(f"<b>Muted until</b> {until:%a %d %b %H:%M}")
    return "\n".join(lines)


async def _change(update: Update, context: ContextTypes.DEFAULT_TYPE, **changes: Any) -> bool:
    """Store the chat's new settings (admins only, in a group); False when refused."""
    ctx = ctx_of(context)
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return False
    await ctx.store.run(Store.set_prefs, chat_id, now=ctx.clock(), **changes)
    ctx.wake()  # held alerts may be due now
    return True


async def _prefs(update: Update, ctx: BotContext) -> ChatPrefs | None:
    chat = update.effective_chat
    return None if chat is None else await ctx.store.run(Store.prefs, chat.id)


async def digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    args = args_of(context)
    if not args:
        prefs = await _prefs(update, ctx)
        current = next_digest_text(prefs.digest if prefs else "", ctx.clock(), ctx.chat_tz(prefs))
        await reply(
            update,
            f"Digest: {esc(current)}.\nChange it with <code>/digest off</code>,"
            " <code>/digest daily 08:00</code> or <code>/digest weekly mon 08:00</code>.",
        )
        return
    try:
        value = parse_digest(args)
    except SettingError as exc:
        await reply(update, esc(str(exc)))
        return
    if not await _change(update, context, digest=value):
        return
    prefs = await _prefs(update, ctx)
    tz = ctx.chat_tz(prefs)
    if value:
        await reply(
            update,
            f"Digest: {esc(next_digest_text(value, ctx.clock(), tz))}. Alerts wait for it,"
            " grouped by topic. <code>/digest off</code> sends them as they come again.",
        )
    else:
        await reply(update, "Digest off: alerts are sent as they come.")


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    args = args_of(context)
    if len(args) != 1:
        prefs = await _prefs(update, ctx)
        await reply(
            update,
            f"Your time zone is {esc(str(ctx.chat_tz(prefs)))}. Change it with"
            " <code>/timezone Europe/Moscow</code> (an Area/City name).",
        )
        return
    name = await asyncio.to_thread(_zone_name, args[0])
    if name is None:
        await reply(
            update,
            f"{esc(repr(args[0]))} is not a time zone I know. Write an Area/City name such as"
            " <code>Europe/Moscow</code>, <code>Asia/Tokyo</code> or <code>Asia/Sakhalin</code>.",
        )
        return
    if await _change(update, context, timezone=name):
        await reply(
            update, f"Time zone set to {esc(name)}: alert times, digests and quiet hours use it."
        )


def _zone_name(text: str) -> str | None:
    """The canonical spelling of an IANA zone name, whatever its case; None if unknown.

    Reads the zone database (files) the first time: call it off the event loop.
    """
    if text.upper() == "UTC":
        return "UTC"
    name = _zone_names().get(text.strip().lower())
    if name is None or "/" not in name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    args = args_of(context)
    if not args:
        prefs = await _prefs(update, ctx)
        current = prefs.quiet if prefs and prefs.quiet else "none"
        await reply(
            update,
            f"Quiet hours: {esc(current)}. Set them with <code>/quiet 23:00-07:00 silent</code>"
            " (alerts come without a sound) or <code>/quiet 23:00-07:00 hold</code> (they wait"
            " until the quiet hours end); <code>/quiet off</code> removes them.",
        )
        return
    try:
        value = parse_quiet(args)
    except SettingError as exc:
        await reply(update, esc(str(exc)))
        return
    if not await _change(update, context, quiet=value):
        return
    if not value:
        await reply(update, "Quiet hours off.")
        return
    span, mode = value.split()
    how = "without a sound" if mode == "silent" else "when they end, together"
    await reply(update, f"Quiet hours {span} (your time zone): alerts then come {how}.")


async def mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    args = args_of(context)
    try:
        if len(args) != 1:
            raise ValueError
        span = parse_duration(args[0])
    except OutOfRange:  # a well-written duration of a century: the same answer as 31d
        span = MAX_MUTE + timedelta(days=1)
    except ValueError:
        await reply(update, "For how long? Write <code>/mute 2h</code> or <code>/mute 1d</code>.")
        return
    if not timedelta(minutes=1) <= span <= MAX_MUTE:
        await reply(update, "Mute for between 1 minute and 30 days, like <code>/mute 8h</code>.")
        return
    until = ctx.clock() + span
    if not await _change(update, context, muted_until=until):
        return
    prefs = await _prefs(update, ctx)
    local = until.astimezone(ctx.chat_tz(prefs))
    await reply(
        update,
        f"Muted until {local:%a %d %b %H:%M}. Alerts wait and come together then;"
        " /unmute ends it now.",
    )


async def unmute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    prefs = await _prefs(update, ctx)
    if prefs is None or prefs.muted_until is None or prefs.muted_until <= ctx.clock():
        await reply(update, "Alerts are not muted.")
        return
    if await _change(update, context, muted_until=ctx.clock()):
        await reply(update, "Unmuted: alerts held meanwhile come now, together.")


HANDLERS = {
    "digest": digest,
    "timezone": timezone,
    "quiet": quiet,
    "mute": mute,
    "unmute": unmute,
}
