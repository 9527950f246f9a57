"""Trends for readers: /trend (a chart), /report (a weekly chart and top stories) and /spikes
(a notice when a topic's coverage bursts); the scheduled jobs behind the last two are in
`bot.insights.jobs`."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.delivery.plan import SettingError, next_digest_text, parse_digest
from bot.delivery.retry import with_retries
from bot.insights.charts import render_trend
from bot.insights.spikes import SpikeRule
from bot.insights.trends import TrendArgError, build_trend, caption, parse_trend_args, query_range
from bot.telegram.context import BotContext, args_of, changing_chat, ctx_of, esc, reply
from bot.telegram.texts import language
from store import Store


def _user_lang(update: Update) -> str:
    user = update.effective_user
    return language(user.language_code if user else None)


async def trend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    subscribed = await ctx.store.run(Store.subscriptions, chat.id)
    ids = ctx.topic_ids()
    default = next((t for t in subscribed if t in ids), ids[0])
    try:
        topic, days, by = parse_trend_args(args_of(context), ids, default)
    except TrendArgError as exc:
        await reply(update, esc(str(exc)))
        return
    prefs = await ctx.store.run(Store.prefs, chat.id)
    tz, lang, now = ctx.chat_tz(prefs), _user_lang(update), ctx.clock()
    since, _ = query_range(now, tz, days)
    points = await ctx.store.run(Store.story_points, [topic], since=since, until=now, outlets=False)
    chart = build_trend(points, now=now, tz=tz, days=days, by=by)
    title = ctx.titles().get(topic, topic)
    png = await render_trend(chart, title=title, lang=lang)
    text = caption(chart, title=title, lang=lang)
    await with_retries(lambda: message.reply_photo(png, caption=text, parse_mode=ParseMode.HTML))


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    args = args_of(context)
    how = (
        "<code>/report weekly mon 08:00</code> sends a chart of your topics' week, the top"
        " stories and the change on the week before, every Monday at 08:00 (your time zone);"
        " <code>/report off</code> stops it."
    )
    if not args:
        current, _ = await ctx.store.run(Store.report_of, chat.id)
        prefs = await ctx.store.run(Store.prefs, chat.id)
        shown = next_digest_text(current, ctx.clock(), ctx.chat_tz(prefs)) if current else "off"
        await reply(update, f"Weekly report: {esc(shown)}.\n{how}")
        return
    try:
        if args[0].lower() not in ("weekly", "off"):
            raise SettingError("the report is weekly")
        value = parse_digest(args)
    except SettingError as exc:
        await reply(update, f"{esc(str(exc).replace('/digest', '/report'))}.\n{how}")
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    await ctx.store.run(Store.set_report, chat_id, value, now=ctx.clock())
    if not value:
        await reply(update, "Weekly report off.")
        return
    prefs = await ctx.store.run(Store.prefs, chat_id)
    subscribed = await ctx.store.run(Store.subscriptions, chat_id)
    note = "" if subscribed else " Subscribe to a topic first: the report covers your topics."
    await reply(
        update,
        f"Weekly report: {esc(next_digest_text(value, ctx.clock(), ctx.chat_tz(prefs)))}." + note,
    )


async def spikes(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    chat = update.effective_chat
    if chat is None:
        return
    args = [a.lower() for a in args_of(context)]
    rule = SpikeRule()
    what = (
        f"a notice when one of your topics has far more stories in {rule.window.seconds // 3600}"
        f" hours than usual (mean + 3σ of the same hours on the last {rule.history_days} days,"
        f" and at least {rule.min_stories}); at most one per topic per"
        f" {int(rule.quiet.total_seconds() // 3600)} hours"
    )
    if args not in (["on"], ["off"]):
        _, on = await ctx.store.run(Store.report_of, chat.id)
        await reply(
            update,
            f"Spike alerts are {'on' if on else 'off'}: {esc(what)}."
            " Write <code>/spikes on</code> or <code>/spikes off</code>.",
        )
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    await ctx.store.run(Store.set_spikes, chat_id, args == ["on"], now=ctx.clock())
    if args == ["on"]:
        await reply(update, f"Spike alerts on: {esc(what)}.")
    else:
        await reply(update, "Spike alerts off.")


HANDLERS = {"trend": trend, "report": report, "spikes": spikes}


async def settings_lines(ctx: BotContext, chat_id: int) -> str:
    """The chat's weekly report and spike alerts, in two lines (for /list)."""
    report, spikes_on = await ctx.store.run(Store.report_of, chat_id)
    prefs = await ctx.store.run(Store.prefs, chat_id)
    shown = next_digest_text(report, ctx.clock(), ctx.chat_tz(prefs)) if report else "off"
    return (
        f"<b>Weekly report:</b> {esc(shown)}\n<b>Spike alerts:</b> {'on' if spikes_on else 'off'}"
    )
