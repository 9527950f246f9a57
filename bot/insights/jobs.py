"""The scheduled side of trends: weekly reports sent as photos when due, and spike checks
that queue one notice per opted-in chat through the outbox (APScheduler jobs of the daemon)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.interval import IntervalTrigger
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.delivery.plan import digest_times, notice_silent
from bot.delivery.retry import retry_after_seconds, with_retries
from bot.i18n import texts
from bot.insights.charts import render_trend
from bot.insights.spikes import SpikeRule, detect
from bot.insights.trends import query_range, spike_text, weekly_report
from bot.telegram.context import BotContext
from bot.telegram.texts import language
from store import ReportChat, Store

log = logging.getLogger(__name__)

REPORT_DAYS = 7
REPORT_CHECK = timedelta(minutes=1)  # how often due weekly reports are looked for
REPORT_RETRY = timedelta(minutes=10)  # a report not sent waits this long (or its 429's wait)
SPIKE_CHECK = timedelta(minutes=10)  # how often the topics are checked for spikes


def _zone(name: str | None, default: tzinfo) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


class ReportTimes:
    """When each chat's next weekly report is due, kept from one minutely check to the next:
    working it out for every chat at every check held the event loop 6 ms per 1,000 chats.
    One entry per chat with a report; a chat not listed at a check is forgotten. A report that
    failed waits (`put_off`): tried at every check, Telegram down for a day drew and tried each
    due chat's report 1,440 times, with a warning each."""

    def __init__(self) -> None:
        self._next: dict[int, tuple[tuple[str, tzinfo, datetime | None], datetime | None]] = {}
        self._later: dict[int, tuple[datetime, int]] = {}  # chat -> (not before, failed tries)

    def put_off(self, chat_id: int, until: datetime) -> int:
        """The chat's report failed: not tried again before `until`; the tries failed so far."""
        tries = self._later.get(chat_id, (until, 0))[1] + 1
        self._later[chat_id] = (until, tries)
        return tries

    def done(self, chat_id: int) -> int:
        """The chat's report is sent (or settled); the tries that had failed before."""
        return self._later.pop(chat_id, (None, 0))[1]

    def due(
        self, chats: Sequence[ReportChat], now: datetime, default: tzinfo
    ) -> list[tuple[ReportChat, tzinfo, datetime]]:
        """The chats whose report has come due (a report time after the last one sent, at or
        before `now`), each with its time zone and the latest such time."""
        kept = {}
        found = []
        for chat in chats:
            tz = _zone(chat.timezone, default)
            key = (chat.report, tz, chat.sent_at)
            known = self._next.get(chat.chat_id)
            if known is None or known[0] != key:
                sent = chat.sent_at
                known = (key, None if sent is None else digest_times(chat.report, sent, tz)[1])
            kept[chat.chat_id] = known
            if chat.chat_id in self._later and self._later[chat.chat_id][0] > now:
                continue
            if known[1] is None or known[1] <= now:
                found.append((chat, tz, digest_times(chat.report, now, tz)[0]))
        self._next = kept
        self._later = {c: later for c, later in self._later.items() if c in kept}
        return found


class Insights:
    """The scheduled side: weekly reports as photos, spike notices through the outbox."""

    def __init__(
        self, ctx: BotContext, bot: Bot, *, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self.ctx = ctx
        self.bot = bot
        self.ready = ready  # False while the Telegram side is not signed in
        self.rule = SpikeRule()
        self.report_times = ReportTimes()

    async def send_reports(self) -> int:
        """Send every weekly report that has come due; the number sent."""
        if not self.ready():
            return 0
        ctx = self.ctx
        now = ctx.clock()
        titles = ctx.titles()
        sent = 0
        chats = await ctx.store.run(Store.report_chats)
        for chat, tz, due in self.report_times.due(chats, now, ctx.tz):
            topics = [
                t for t in await ctx.store.run(Store.subscriptions, chat.chat_id) if t in titles
            ]
            if not topics:  # nothing to report on this week
                await ctx.store.run(Store.report_sent, chat.chat_id, due)
                continue
            lang = language(chat.language_code)
            tr = texts(lang)
            since, _ = query_range(due, tz, REPORT_DAYS)
            points = await ctx.store.run(Store.story_points, topics, since=since, until=due)
            named = ctx.titles(tr)  # the topics' titles in the chat's language
            recorded = await ctx.store.run(Store.recording_since)
            chart, text = await asyncio.to_thread(  # off the event loop, as drawing is
                weekly_report,
                points,
                now=due,
                tz=tz,
                topics=topics,
                titles=named,
                lang=lang,
                recorded_since=recorded,
            )
            png = await render_trend(chart, title=tr._("Weekly report"), lang=lang, titles=named)
            # not news to hold, as a spike notice is not: in quiet hours or a mute, no sound
            prefs = await ctx.store.run(Store.prefs, chat.chat_id)
            silent = prefs is not None and notice_silent(
                now, tz, quiet=prefs.quiet, muted_until=prefs.muted_until
            )
            try:
                send = functools.partial(
                    self.bot.send_photo,
                    chat.chat_id,
                    png,
                    caption=text,
                    parse_mode=ParseMode.HTML,
                    disable_notification=silent,
                )
                await with_retries(send)
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
            except TelegramError as exc:  # tried again after a pause, said once
                flood = retry_after_seconds(exc) if isinstance(exc, RetryAfter) else 0.0
                pause = max(REPORT_RETRY, timedelta(seconds=flood))
                tries = self.report_times.put_off(chat.chat_id, now + pause)
                level = logging.WARNING if tries == 1 else logging.DEBUG
                log.log(
                    level,
                    "chat %d: weekly report not sent (%s); again in %s",
                    chat.chat_id,
                    exc,
                    pause,
                )
                continue
            else:
                sent += 1
                tries = self.report_times.done(chat.chat_id)
                log.info(
                    "chat %d: weekly report sent%s",
                    chat.chat_id,
                    f" after {tries + 1} tries" if tries else "",
                )
            await ctx.store.run(Store.report_sent, chat.chat_id, due)
            self.report_times.done(chat.chat_id)  # a refused report's tries too
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
            # a feed's first poll records its recent items at once: no burst of coverage
            points = await ctx.store.run(
                Store.story_points, [topic], since=rule.since(now), until=now, first_polls=False
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
                    title=ctx.titles(texts(c.language_code))[topic],
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


def schedule(
    scheduler: Any, ctx: BotContext, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    """Add the report and spike jobs to the daemon's APScheduler, once `app` is running."""
    insights = Insights(ctx, app.bot, ready=lambda: app.running)
    scheduler.add_job(
        insights.send_reports, trigger=IntervalTrigger(seconds=REPORT_CHECK.seconds), id="reports"
    )
    scheduler.add_job(
        insights.check_spikes, trigger=IntervalTrigger(seconds=SPIKE_CHECK.seconds), id="spikes"
    )
