"""Trends for readers: /trend (a chart), /report (a weekly chart and top stories) and /spikes
(a notice when a topic's coverage bursts); the scheduled jobs behind the last two are in
`bot.insights.jobs`."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.delivery.plan import SettingError, next_digest_text, parse_digest
from bot.delivery.retry import with_retries
from bot.i18n import EN, N_, Quoted, Texts, quoted
from bot.insights.charts import MAX_CHARTS, render_trend
from bot.insights.spikes import SpikeRule
from bot.insights.trends import TrendArgError, build_trend, caption, parse_trend_args, query_range
from bot.telegram import guards
from bot.telegram.context import (
    BotContext,
    Slots,
    args_of,
    changing_chat,
    ctx_of,
    esc,
    reply,
    texts_of,
)
from store import ChatPrefs, Store

CHARTS = Slots(MAX_CHARTS)  # /trend requests in progress: each holds its period's stories


async def trend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    tr = await texts_of(update, context)
    subscribed = await ctx.store.run(Store.subscriptions, chat.id)
    ids = ctx.topic_ids()
    default = next((t for t in subscribed if t in ids), ids[0])
    try:
        topic, days, by = parse_trend_args(args_of(context), ids, default)
    except TrendArgError as exc:
        await reply(update, esc(exc.text(tr)))
        return
    if not CHARTS.take():
        await reply(update, tr._("Many charts are being drawn just now; try again in a minute."))
        return
    try:
        prefs = await ctx.store.run(Store.prefs, chat.id)
        tz, lang, now = ctx.chat_tz(prefs), tr.lang, ctx.clock()
        since, _ = query_range(now, tz, days)
        points = await ctx.store.run(
            Store.story_points, [topic], since=since, until=now, outlets=False
        )
        recorded = await ctx.store.run(Store.recording_since)
        # counting a 90-day window's stories takes tens of ms: off the event loop, as drawing is
        chart = await asyncio.to_thread(
            build_trend, points, now=now, tz=tz, days=days, by=by, recorded_since=recorded
        )
        del points  # not held while the chart waits its turn to be drawn
        title = ctx.titles(tr).get(topic, topic)
        png = await render_trend(chart, title=title, lang=lang)
    finally:
        CHARTS.give()
    text = caption(chart, title=title, lang=lang)
    await with_retries(lambda: message.reply_photo(png, caption=text, parse_mode=ParseMode.HTML))


def _report_help(tr: Texts, group: bool) -> str:
    if group:
        return tr._(
            "<code>/report weekly mon 08:00</code> sends a chart of this group's topics' week,"
            " the top stories and the change on the week before, every Monday at 08:00 (its"
            " time zone); <code>/report off</code> stops it."
        )
    return tr._(
        "<code>/report weekly mon 08:00</code> sends a chart of your topics' week, the top"
        " stories and the change on the week before, every Monday at 08:00 (your time zone);"
        " <code>/report off</code> stops it."
    )


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    tr = await texts_of(update, context)
    args = args_of(context)
    if not args:
        current, _ = await ctx.store.run(Store.report_of, chat.id)
        prefs = await ctx.store.run(Store.prefs, chat.id)
        shown = _schedule(current, ctx, prefs, tr)
        text = tr._("Weekly report: {schedule}.", schedule=esc(shown))
        await reply(update, f"{text}\n{_report_help(tr, guards.in_group(update))}")
        return
    words = [a.lower() for a in args]
    try:
        if words[0] not in ("weekly", "off"):
            raise SettingError(N_("{value}: the report is weekly"), value=Quoted(args[0]))
        if words != ["off"] and not (len(words) == 3 and words[0] == "weekly"):
            raise SettingError(
                N_(
                    "{value} is not a report setting; write /report weekly mon 08:00 or /report off"
                ),
                value=Quoted(" ".join(args)),
            )
        value = parse_digest(args)  # a day and a time, each checked as /digest checks them
    except SettingError as exc:
        await reply(update, f"{esc(exc.text(tr))}\n{_report_help(tr, guards.in_group(update))}")
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    await ctx.store.run(Store.set_report, chat_id, value, now=ctx.clock())
    if not value:
        await reply(update, tr._("Weekly report off."))
        return
    prefs = await ctx.store.run(Store.prefs, chat_id)
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    text = tr._("Weekly report: {schedule}.", schedule=esc(_schedule(value, ctx, prefs, tr)))
    if not subscribed and guards.in_group(update):
        first = tr._("Subscribe this group to a topic first: the report covers its topics.")
        text = tr.sentences(text, first)
    elif not subscribed:
        text = tr.sentences(
            text, tr._("Subscribe to a topic first: the report covers your topics.")
        )
    await reply(update, text)


def _schedule(report: str, ctx: BotContext, prefs: ChatPrefs | None, tr: Texts) -> str:
    """A report's schedule as /digest shows its own ("weekly, Friday 18:00 (next: ...)")."""
    if not report:
        # Translators: the weekly report is off
        return tr._("off")
    return next_digest_text(report, ctx.clock(), ctx.chat_tz(prefs), tr)


def _spikes_help(tr: Texts, group: bool) -> str:
    rule = SpikeRule()
    values = {
        "hours": rule.window.seconds // 3600,
        "days": rule.history_days,
        "least": rule.min_stories,
        "quiet": int(rule.quiet.total_seconds() // 3600),
    }
    if group:
        return tr._(
            "a notice when one of this group's topics has far more stories in {hours} hours than"
            " usual (mean + 3σ of the same hours on the last {days} days, and at least {least});"
            " at most one per topic per {quiet} hours",
            **values,
        )
    return tr._(
        "a notice when one of your topics has far more stories in {hours} hours than usual"
        " (mean + 3σ of the same hours on the last {days} days, and at least {least}); at most"
        " one per topic per {quiet} hours",
        **values,
    )


async def spikes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    tr = await texts_of(update, context)
    args = [a.lower() for a in args_of(context)]
    what = esc(_spikes_help(tr, guards.in_group(update)))
    if args not in (["on"], ["off"]):
        _, on = await ctx.store.run(Store.report_of, chat.id)
        if on:
            text = tr._("Spike alerts are on: {what}.", what=what)
        else:
            text = tr._("Spike alerts are off: {what}.", what=what)
        write = tr._("Write <code>/spikes on</code> or <code>/spikes off</code>.")
        if args:
            bad = tr._("{value} is neither on nor off.", value=esc(quoted(" ".join(args), tr=tr)))
            write = tr.sentences(bad, write)
        await reply(update, tr.sentences(text, write))
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    await ctx.store.run(Store.set_spikes, chat_id, args == ["on"], now=ctx.clock())
    if args == ["on"]:
        await reply(update, tr._("Spike alerts on: {what}.", what=what))
    else:
        await reply(update, tr._("Spike alerts off."))


HANDLERS = {"trend": trend, "report": report, "spikes": spikes}


async def settings_lines(ctx: BotContext, chat_id: int, tr: Texts = EN) -> str:
    """The chat's weekly report and spike alerts, in two lines (for /list)."""
    report, spikes_on = await ctx.store.run(Store.report_of, chat_id)
    prefs = await ctx.store.run(Store.prefs, chat_id)
    shown = tr._(
        "<b>Weekly report:</b> {schedule}", schedule=esc(_schedule(report, ctx, prefs, tr))
    )
    if spikes_on:
        return shown + "\n" + tr._("<b>Spike alerts:</b> on")
    return shown + "\n" + tr._("<b>Spike alerts:</b> off")
