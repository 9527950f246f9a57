"""Trends for readers: /trend (a chart), /report (a weekly chart and top stories) and /spikes
(a notice when a topic's coverage bursts), with the scheduled jobs behind the last two."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.interval import IntervalTrigger
from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.charts import render_trend
from bot.context import BotContext, args_of, changing_chat, ctx_of, esc, reply
from bot.retry import with_retries
from bot.schedule import SettingError, digest_times, next_digest_text, parse_digest
from bot.spikes import SpikeRule, detect
from bot.texts import language
from bot.trends import (
    TrendArgError,
    build_trend,
    caption,
    label,
    parse_trend_args,
    query_range,
    spike_text,
    weekly_report,
)
from store import Store

log = logging.getLogger(__name__)

REPORT_DAYS = 7
REPORT_CHECK = timedelta(minutes=1)  # how often due weekly reports are looked for
SPIKE_CHECK = timedelta(minutes=10)  # how often the topics are checked for spikes


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


def _zone(name: str | None, default: tzinfo) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


class Insights:
    """The scheduled side: weekly reports as photos, spike notices through the outbox."""

    def __init__(
        self, ctx: BotContext, bot: Bot, *, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self.ctx = ctx
        self.bot = bot
        self.ready = ready  # False while the Telegram side is not signed in
        self.rule = SpikeRule()

    async def send_reports(self) -> int:
        """Send every weekly report that has come due; the number sent."""
        if not self.ready():
            return 0
        ctx = self.ctx
        now = ctx.clock()
        titles = ctx.titles()
        sent = 0
        for chat in await ctx.store.run(Store.report_chats):
            tz = _zone(chat.timezone, ctx.tz)
            due, _ = digest_times(chat.report, now, tz)
            if chat.sent_at is not None and due <= chat.sent_at:
                continue
            topics = [t for t in chat.topics if t in titles]
            if not topics:  # nothing to report on this week
                await ctx.store.run(Store.report_sent, chat.chat_id, due)
                continue
            lang = language(chat.language_code)
            since, _ = query_range(due, tz, REPORT_DAYS)
            points = await ctx.store.run(Store.story_points, topics, since=since, until=due)
            chart, text = weekly_report(
                points, now=due, tz=tz, topics=topics, titles=titles, lang=lang
            )
            png = await render_trend(chart, title=label(lang, "report"), lang=lang, titles=titles)
            try:
                await with_retries(
                    lambda chat_id=chat.chat_id, text=text, png=png: self.bot.send_photo(  # type: ignore[misc]
                        chat_id, png, caption=text, parse_mode=ParseMode.HTML
                    )
                )
            except ChatMigrated as exc:  # a group became a supergroup: sent there next run
                await ctx.store.run(
                    Store.migrate_chat, chat.chat_id, exc.new_chat_id, now=ctx.clock()
                )
                continue
            except (Forbidden, BadRequest) as exc:
                if isinstance(exc, Forbidden) or "chat not found" in exc.message.lower():
                    await ctx.store.run(
                        Store.deactivate_chat, chat.chat_id, exc.message, now=ctx.clock()
                    )
                    continue
                log.error("chat %d: weekly report refused (%s); skipped", chat.chat_id, exc)
            except TelegramError as exc:  # tried again at the next run
                log.warning("chat %d: weekly report not sent (%s)", chat.chat_id, exc)
                continue
            else:
                sent += 1
                log.info("chat %d: weekly report sent", chat.chat_id)
            await ctx.store.run(Store.report_sent, chat.chat_id, due)
        return sent

    async def check_spikes(self) -> list[str]:
        """Look for spikes of the topics some chat wants notices for; queue one notice per
        chat for each; the topics that spiked."""
        if not self.ready():
            return []
        ctx, rule = self.ctx, self.rule
        now = ctx.clock()
        titles = ctx.titles()
        found = []
        for topic in await ctx.store.run(Store.spike_topics):
            if topic not in titles:
                continue
            last = await ctx.store.run(Store.last_spike_at, topic)
            if last is not None and now - last < rule.quiet:
                continue
            first = await ctx.store.run(Store.first_story_at, topic)
            points = await ctx.store.run(
                Store.story_points, [topic], since=rule.since(now), until=now
            )
            spike = detect(
                [p.at for p in points], now, first_story_at=first, last_spike_at=last, rule=rule
            )
            if spike is None:
                continue
            burst = [p for p in points if p.at >= now - rule.window]
            chats = await ctx.store.run(Store.spike_chats, topic)
            notices = {
                c.chat_id: spike_text(
                    spike.count,
                    spike.mean,
                    spike.sd,
                    burst,
                    title=titles[topic],
                    lang=language(c.language_code),
                    tz=_zone(c.timezone, ctx.tz),
                )
                for c in chats
            }
            await ctx.store.run(Store.record_spike, topic, spike.count, notices, now=now)
            log.info(
                "spike of %s: %d stories in %s (threshold %.1f); %d chats told",
                topic,
                spike.count,
                rule.window,
                spike.threshold,
                len(notices),
            )
            found.append(topic)
        if found:
            ctx.wake()
        return found


def schedule(scheduler: Any, insights: Insights) -> None:
    """Add the report and spike jobs to the daemon's APScheduler."""
    scheduler.add_job(
        insights.send_reports, trigger=IntervalTrigger(seconds=REPORT_CHECK.seconds), id="reports"
    )
    scheduler.add_job(
        insights.check_spikes, trigger=IntervalTrigger(seconds=SPIKE_CHECK.seconds), id="spikes"
    )


async def settings_lines(ctx: BotContext, chat_id: int) -> str:
    """The chat's weekly report and spike alerts, in two lines (for /list)."""
    report, spikes_on = await ctx.store.run(Store.report_of, chat_id)
    prefs = await ctx.store.run(Store.prefs, chat_id)
    shown = next_digest_text(report, ctx.clock(), ctx.chat_tz(prefs)) if report else "off"
    return (
        f"<b>Weekly report:</b> {esc(shown)}\n<b>Spike alerts:</b> {'on' if spikes_on else 'off'}"
    )
