"""How and when a chat gets its alerts: /digest, /timezone, /quiet, /mute and /unmute; and
/settings, every setting of a chat with the command that changes it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.delivery.plan import (
    Plan,
    SettingError,
    next_digest_text,
    parse_digest,
    parse_quiet,
    plan,
    quiet_text,
    zone_label,
    zone_name,
)
from bot.i18n import EN, LANGUAGE_NAMES, Texts, listed, quoted
from bot.telegram import guards
from bot.telegram.context import (
    BotContext,
    args_of,
    changing_chat,
    ctx_of,
    esc,
    reply,
    some_ids,
    texts_of,
)
from bot.telegram.insights import settings_lines
from store import ChatPrefs, Store, Watch
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
    group: bool = False,
    looks: bool = False,
    tr: Texts = EN,
) -> str:
    """The chat's settings in a few lines, for /start and /list (a `group`'s topics are the
    group's, not the reader's); for a group's member who only `looks`, without the commands
    that change them, which answer a member "only its admins"."""
    tz = ctx.chat_tz(prefs)
    now = ctx.clock()
    lines = []
    if not short:
        topics = esc(some_ids(subscribed, tr) or tr._("none yet"))
        if group:
            lines.append(tr._("<b>This group's topics:</b> {topics}", topics=topics))
        else:
            lines.append(tr._("<b>Your topics:</b> {topics}", topics=topics))
        if looks:
            lines.append(tr._("<b>Watches:</b> {n}", n=watches))
        else:
            lines.append(tr._("<b>Watches:</b> {n} (/watch adds one)", n=watches))
    digest, quiet = (prefs.digest, prefs.quiet) if prefs else ("", "")
    when = next_digest_text(digest, now, tz, tr, quiet=quiet)
    lines.append(tr._("<b>Digest:</b> {digest}", digest=esc(when)))
    lines.append(tr._("<b>Time zone:</b> {zone}", zone=esc(zone_label(str(tz)))))
    news = prefs.news_langs if prefs and prefs.news_langs else ()
    names = listed(tr, (tr.language_name(n) for n in news if n in LANGUAGE_NAMES)) or tr._("all")
    if looks:
        lines.append(tr._("<b>News languages:</b> {langs}", langs=esc(names)))
    else:
        lines.append(tr._("<b>News languages:</b> {langs} (/lang)", langs=esc(names)))
    if prefs and prefs.quiet:
        lines.append(tr._("<b>Quiet hours:</b> {quiet}", quiet=esc(quiet_text(prefs.quiet, tr))))
    if prefs and prefs.muted_until and prefs.muted_until > now:
        lines.append(tr._("<b>Muted until</b> {when}", when=_at(prefs.muted_until, tz, tr)))
    return "\n".join(lines)


async def chat_state(
    ctx: BotContext, chat_id: int
) -> tuple[ChatPrefs | None, list[str], list[Watch]]:
    """What `describe` tells of a chat, read once: its settings, topics and watches."""
    prefs = await ctx.store.run(Store.prefs, chat_id)
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    return prefs, subscribed, await ctx.store.run(Store.watches, chat_id)


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
    tr = await texts_of(update, context)
    args = args_of(context)
    if not args:
        prefs = await _prefs(update, ctx)
        digest = prefs.digest if prefs else ""
        quiet = prefs.quiet if prefs else ""
        current = next_digest_text(digest, ctx.clock(), ctx.chat_tz(prefs), tr, quiet=quiet)
        await reply(
            update,
            tr._(
                "Digest: {current}.\nChange it with <code>/digest off</code>,"
                " <code>/digest daily 08:00</code> or <code>/digest weekly mon 08:00</code>.",
                current=esc(current),
            ),
        )
        return
    try:
        value = parse_digest(args)
    except SettingError as exc:
        await reply(update, esc(exc.text(tr)))
        return
    if not await _change(update, context, digest=value):
        return
    prefs = await _prefs(update, ctx)
    tz = ctx.chat_tz(prefs)
    if value:
        await reply(
            update,
            tr._(
                "Digest: {current}. Alerts wait for it, grouped by topic."
                " <code>/digest off</code> sends them as they come again.",
                current=esc(
                    next_digest_text(value, ctx.clock(), tz, tr, quiet=prefs.quiet if prefs else "")
                ),
            ),
        )
    else:
        await reply(update, tr._("Digest off: alerts are sent as they come."))


async def timezone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    args = args_of(context)
    if not args:
        prefs = await _prefs(update, ctx)
        zone = esc(zone_label(str(ctx.chat_tz(prefs))))
        if guards.in_group(update):
            text = tr._(
                "This group's time zone is {zone}. Change it with"
                " <code>/timezone Europe/Moscow</code> (an Area/City name).",
                zone=zone,
            )
        else:
            text = tr._(
                "Your time zone is {zone}. Change it with"
                " <code>/timezone Europe/Moscow</code> (an Area/City name).",
                zone=zone,
            )
        await reply(update, text)
        return
    name = await asyncio.to_thread(zone_name, args[0]) if len(args) == 1 else None
    if name is None:
        await reply(
            update,
            tr._(
                "{value} is not a time zone I know. Write an Area/City name such as"
                " <code>Europe/Moscow</code>, <code>Asia/Tokyo</code> or"
                " <code>Asia/Sakhalin</code>, or a whole-hour offset such as"
                " <code>UTC+3</code>.",
                value=esc(quoted(" ".join(args), tr=tr)),
            ),
        )
        return
    if await _change(update, context, timezone=name):
        local = ctx.clock().astimezone(ZoneInfo(name))
        offset = f"{local:%z}"
        await reply(
            update,
            tr._(
                "Time zone set to {zone} (UTC{offset}: it is {time} there now). Alert times,"
                " digests and quiet hours use it.",
                zone=esc(zone_label(name)),
                offset=f"{offset[:3]}:{offset[3:]}",
                time=f"{local:%H:%M}",
            ),
        )


async def quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    args = args_of(context)
    if not args:
        prefs = await _prefs(update, ctx)
        current = quiet_text(prefs.quiet if prefs else "", tr)
        await reply(
            update,
            tr._(
                "Quiet hours: {current}. Set them with <code>/quiet 23:00-07:00 silent</code>"
                " (alerts come without a sound) or <code>/quiet 23:00-07:00 hold</code> (they"
                " wait until the quiet hours end); <code>/quiet off</code> removes them.",
                current=esc(current),
            ),
        )
        return
    try:
        value = parse_quiet(args)
    except SettingError as exc:
        await reply(update, esc(exc.text(tr)))
        return
    if not await _change(update, context, quiet=value):
        return
    if not value:
        await reply(update, tr._("Quiet hours off."))
        return
    span, mode = value.split()
    prefs = await _prefs(update, ctx)
    zone = esc(zone_label(str(ctx.chat_tz(prefs))))
    if mode == "silent":
        text = tr._(
            "Quiet hours {span} ({zone}): alerts then come without a sound.", span=span, zone=zone
        )
    else:
        text = tr._(
            "Quiet hours {span} ({zone}): alerts then come when they end, together.",
            span=span,
            zone=zone,
        )
    if (prefs is None or not prefs.timezone) and guards.in_group(update):  # the bot's default
        text += "\n" + tr._(
            "This group has no time zone of its own, so that is {zone}: set the group's with"
            " <code>/timezone Europe/Moscow</code> (an Area/City name, or <code>UTC+3</code>).",
            zone=zone,
        )
    elif prefs is None or not prefs.timezone:  # kept in the bot's default zone, likely not theirs
        text += "\n" + tr._(
            "This chat has no time zone of its own, so that is {zone}: set yours with"
            " <code>/timezone Europe/Moscow</code> (an Area/City name, or <code>UTC+3</code>).",
            zone=zone,
        )
    await reply(update, text)


# the units a Russian or Japanese user writes, as the duration's own (h, m, d)
_MUTE_UNITS = {
    "h": ("часов", "часа", "час", "ч", "時間"),
    "m": ("минуты", "минуту", "минут", "мин", "分"),
    "d": ("дней", "дня", "день", "дн", "д", "日"),
}
# a number starts where its digits do: tried at each of a long run's digits, the pattern took
# seconds of the event loop over thousands of them
_MUTE_WORD = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*("
    + "|".join(sorted((w for ws in _MUTE_UNITS.values() for w in ws), key=len, reverse=True))
    + r")(?![^\W\d_])"
)
_UNIT_OF = {word: unit for unit, words in _MUTE_UNITS.items() for word in words}


def mute_span(args: Sequence[str]) -> timedelta:
    """How long /mute's one duration says: `2h`, `1h30m`, also `2ч`, `3 дня`, `2時間`, `30分`.
    ValueError for anything else, two durations too (`bounded.OutOfRange`, a ValueError,
    beyond ten years)."""
    text = _MUTE_WORD.sub(lambda m: m[1] + _UNIT_OF[m[2]], " ".join(args).lower())
    if len(text.split()) != 1:
        raise ValueError(text)
    return parse_duration(text.strip())


async def mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    args = args_of(context)
    if not args:
        await reply(
            update, tr._("For how long? Write <code>/mute 2h</code> or <code>/mute 1d</code>.")
        )
        return
    value = esc(quoted(" ".join(args), tr=tr))
    try:
        span = mute_span(args)
    except OutOfRange:  # a well-written duration of a century: the same answer as 31d
        span = MAX_MUTE + timedelta(days=1)
    except ValueError:
        await reply(
            update,
            tr._(
                "{value} is not a duration. Write <code>/mute 2h</code> or <code>/mute 1d</code>.",
                value=value,
            ),
        )
        return
    if not timedelta(minutes=1) <= span <= MAX_MUTE:
        await reply(
            update,
            tr._(
                "Cannot mute for {value}: mute for between 1 minute and 30 days, like"
                " <code>/mute 8h</code>.",
                value=value,
            ),
        )
        return
    until = ctx.clock() + span
    if not await _change(update, context, muted_until=until):
        return
    prefs = await _prefs(update, ctx)
    tz = ctx.chat_tz(prefs)
    when = _at(until, tz, tr)
    after = _after_mute(prefs, until, tz)  # what holds the alerts once the mute ends
    group = guards.in_group(update)
    if after.digest and group:
        text = tr._(
            "Muted until {when}. Alerts wait, then come with this group's digest; /unmute ends"
            " it now.",
            when=when,
        )
    elif after.digest:
        text = tr._(
            "Muted until {when}. Alerts wait, then come with your digest; /unmute ends it now.",
            when=when,
        )
    elif after.hold_until is not None and group:
        text = tr._(
            "Muted until {when}. Alerts wait, then come together when this group's quiet hours"
            " end, {end}; /unmute ends it now.",
            when=when,
            end=_at(after.hold_until, tz, tr),
        )
    elif after.hold_until is not None:
        text = tr._(
            "Muted until {when}. Alerts wait, then come together when your quiet hours end,"
            " {end}; /unmute ends it now.",
            when=when,
            end=_at(after.hold_until, tz, tr),
        )
    else:
        text = tr._(
            "Muted until {when}. Alerts wait and come together then; /unmute ends it now.",
            when=when,
        )
    await reply(update, text)


async def unmute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    prefs = await _prefs(update, ctx)
    if prefs is None or prefs.muted_until is None or prefs.muted_until <= ctx.clock():
        await reply(update, tr._("Alerts are not muted."))
        return
    now = ctx.clock()
    if not await _change(update, context, muted_until=now):
        return
    tz = ctx.chat_tz(prefs)
    after = _after_mute(prefs, now, tz)
    due = after.release_before
    if after.hold_until is None or (
        due is not None and await ctx.store.run(Store.count_pending, prefs.chat_id, due) > 0
    ):
        await reply(update, tr._("Unmuted: alerts held meanwhile come now, together."))
    elif after.digest:
        await reply(
            update,
            tr._(
                "Unmuted: alerts held meanwhile come with the next digest, {when}.",
                when=_at(after.hold_until, tz, tr),
            ),
        )
    elif guards.in_group(update):
        await reply(
            update,
            tr._(
                "Unmuted: alerts held meanwhile come together when this group's quiet hours end,"
                " {when}.",
                when=_at(after.hold_until, tz, tr),
            ),
        )
    else:
        await reply(
            update,
            tr._(
                "Unmuted: alerts held meanwhile come together when your quiet hours end, {when}.",
                when=_at(after.hold_until, tz, tr),
            ),
        )


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every setting of the chat in one message, and the command that changes each. Reads
    only: a chat never started gets the defaults."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    prefs, subscribed, watches = await chat_state(ctx, chat.id)
    muted = await ctx.store.run(Store.muted_sources, chat.id)
    lines = [
        tr._("<b>Settings of this chat</b>"),
        tr._("<b>Bot language:</b> {language}", language=tr.own_name),
        describe(ctx, prefs, subscribed, len(watches), group=chat.type != ChatType.PRIVATE, tr=tr),
    ]
    if prefs is None or not prefs.quiet:
        lines.append(tr._("<b>Quiet hours:</b> {quiet}", quiet=esc(quiet_text("", tr))))
    if muted:
        names = dict(ctx.feeds)
        shown = [names.get(feed, feed) for feed in muted[:20]]
        outlets = listed(tr, [*shown, "…"] if len(muted) > 20 else shown)
        lines.append(tr._("<b>Muted outlets:</b> {outlets}", outlets=esc(outlets)))
    lines.append(await settings_lines(ctx, chat.id, tr))
    text = (
        "\n".join(lines)
        + "\n\n"
        + tr._(
            "<b>To change them</b>\n"
            "/language en|ru|ja — the bot's language\n"
            "/lang ru en | all — news languages\n"
            "/topics — topics (the buttons, or /subscribe and /unsubscribe)\n"
            "/timezone Europe/Moscow — time zone\n"
            "/quiet 23:00-07:00 silent|hold — quiet hours\n"
            "/digest daily 08:00 — digest\n"
            "/mute 2h — pause alerts; /unmute resumes them\n"
            "/sources — mute outlets\n"
            "/report weekly mon 08:00 — weekly report; /spikes on|off — spike alerts"
        )
    )
    if chat.type != ChatType.PRIVATE:
        text += "\n\n" + tr._("In a group, only its admins can change these.")
    await reply(update, text)


def _at(moment: datetime, tz: tzinfo, tr: Texts) -> str:
    """ "Fri 27 Nov 14:00 JST": a time named with its zone, as /digest's next one is (a chat
    that set none reads the default zone's time as its own)."""
    zone = moment.astimezone(tz).tzname()
    return f"{tr.day_time(moment, tz)} {zone}" if zone else tr.day_time(moment, tz)


def _after_mute(prefs: ChatPrefs | None, end: datetime, tz: tzinfo) -> Plan:
    """The sender's plan at the moment a mute ends: a digest or quiet hours that hold may keep
    the alerts it held waiting."""
    if prefs is None:
        return Plan(release_before=end)
    return plan(end, tz, digest=prefs.digest, quiet=prefs.quiet, muted_until=end)


HANDLERS = {
    "digest": digest,
    "timezone": timezone,
    "quiet": quiet,
    "mute": mute,
    "unmute": unmute,
    "settings": settings,
}
