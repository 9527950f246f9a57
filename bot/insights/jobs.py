"""The scheduled side of trends: weekly reports sent as photos when due, and spike checks
that queue one notice per opted-in chat through the outbox (APScheduler jobs of the daemon)."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.interval import IntervalTrigger
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application

from bot.delivery import unrecorded
from bot.delivery.outcome import Action, Outcome, Path, outcome
from bot.delivery.plan import digest_times, notice_silent
from bot.delivery.retry import with_retries
from bot.delivery.threads import in_thread
from bot.i18n import texts
from bot.insights.charts import render_trend
from bot.insights.holds import Drawn, DrawnKey, Holds
from bot.insights.spikes import SpikeRule, detect, last_announced
from bot.insights.spikes import notices as spike_notices
from bot.insights.trends import plain_caption, query_range, spike_text, weekly_report
from bot.telegram.context import BotContext
from bot.telegram.texts import language
from store import ReportChat, Store
from watchers.job_runs import retry_wait
from watchers.text import counted

log = logging.getLogger(__name__)

REPORT_DAYS = 7
REPORT_CHECK = timedelta(minutes=1)  # how often due weekly reports are looked for
# a report Telegram did not take (down, a forum's topic closed, no rights to send photos) is
# tried again after 10 minutes (`outcome.REPORT_RETRY`), doubled at each refusal in a row up to
# this: a topic closed all week costs some 90 tries, not 1,000, and one reopened gets its
# report within 2 hours (and the minute of the check), the day it was due; a 429 waits what it
# names
REPORT_RETRY_MAX = timedelta(hours=2)
SPIKE_CHECK = timedelta(minutes=10)  # how often the topics are checked for spikes
SPIKE_RETRY = timedelta(minutes=1)  # a topic whose check failed is checked again this soon


def _zone(name: str | None, default: tzinfo) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


_At = datetime | None  # a time, or none yet


class ReportTimes:
    """When each chat's next weekly report is due, kept from one minutely check to the next:
    working it out for every chat at every check held the event loop 6 ms per 1,000 chats.
    One entry per chat with a report; a chat not listed at a check is forgotten."""

    def __init__(self) -> None:
        # chat -> ((report, zone, sent), the time its next report is after, that report's time)
        self._next: dict[int, tuple[tuple[str, tzinfo, datetime | None], _At, _At]] = {}

    def due(
        self,
        chats: Sequence[ReportChat],
        now: datetime,
        default: tzinfo,
        *,
        failed: Callable[[ReportChat, Exception], None] | None = None,
    ) -> list[tuple[ReportChat, tzinfo, datetime]]:
        """The chats whose report has come due (a report time after the last one sent, at or
        before `now`), each with its time zone and the latest such time. A report recorded as
        sent after `now` (the wall clock ran ahead, then was set back) counts as sent at the
        check that first finds it so: the next is due at its time, not the gap later. A chat
        whose times cannot be worked out (a report setting stored unreadable) is given to
        `failed`, if given, and left out."""
        kept = {}
        found = []
        for chat in chats:
            tz = _zone(chat.timezone, default)
            key = (chat.report, tz, chat.sent_at)
            known = self._next.get(chat.chat_id)
            try:
                if known is None or known[0] != key or (known[1] is not None and known[1] > now):
                    sent = None if chat.sent_at is None else min(chat.sent_at, now)
                    after = None if sent is None else digest_times(chat.report, sent, tz)[1]
                    known = (key, sent, after)
                kept[chat.chat_id] = known
                if known[2] is None or known[2] <= now:
                    found.append((chat, tz, digest_times(chat.report, now, tz)[0]))
            except Exception as exc:
                if failed is None:
                    raise
                failed(chat, exc)
        self._next = kept
        return found


def _since(due: datetime, now: datetime) -> timedelta:
    return timedelta(seconds=max(0, int((now - due).total_seconds())))


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
        self.holds = Holds()
        self._spike_retries: dict[str, tuple[int, datetime]] = {}  # topic -> (failures, when)
        self._spikes_checked = asyncio.Lock()

    async def send_reports(self) -> int:
        """Send every weekly report that has come due; the number sent. A chat whose report
        fails stops no other chat's: it is tried again later (`Holds`)."""
        if not self.ready():
            return 0
        ctx = self.ctx
        now = ctx.clock()
        sent = 0
        chats = await ctx.store.run(Store.report_chats)
        self.holds.keep({c.chat_id for c in chats})
        chats = [c for c in chats if not self.holds.held(c.chat_id, now)]
        for chat, tz, due in self.report_times.due(chats, now, ctx.tz, failed=self._failed):
            try:
                sent += await self._send_report(chat, tz, due)
            except Exception as exc:
                self._failed(chat, exc)
        return sent

    def _failed(self, chat: ReportChat, exc: Exception) -> None:
        count, again = self.holds.failed(chat.chat_id, self.ctx.clock())
        if count == 1:  # the traceback once; a chat that keeps failing gets a line each time
            log.error(
                "chat %d: weekly report failed (%s: %s); tried again at %s",
                chat.chat_id,
                type(exc).__name__,
                exc,
                f"{again:%Y-%m-%d %H:%M}",
                exc_info=exc,
            )
        else:
            log.warning(
                "chat %d: weekly report failed %d times in a row (%s); tried again at %s",
                chat.chat_id,
                count,
                exc,
                f"{again:%Y-%m-%d %H:%M}",
            )

    async def _send_report(self, chat: ReportChat, tz: tzinfo, due: datetime) -> int:
        """Send one chat's weekly report due at `due`; 1 if it went out. A report that waits is
        sent again as drawn for its first try, unless the kept ones fill their bounds."""
        ctx = self.ctx
        now = ctx.clock()
        if (out := self.holds.unrecorded(chat.chat_id)) is not None:  # sent: record it alone
            await self._record_sent(chat.chat_id, out)
            return 0
        titles = ctx.titles()
        topics = [t for t in await ctx.store.run(Store.subscriptions, chat.chat_id) if t in titles]
        if not topics:  # nothing to report on this week; one that waited is let go with it
            self.holds.out(chat.chat_id, due)
            await self._record_sent(chat.chat_id, due)
            return 0
        named = tuple(titles[t] for t in topics)
        key: DrawnKey = (due, language(chat.language_code), tz, tuple(topics), named)
        drawn = self.holds.drawn(chat.chat_id, key) or await self._draw(key)
        # not news to hold, as a spike notice is not: in quiet hours or a mute, no sound
        prefs = await ctx.store.run(Store.prefs, chat.chat_id)
        silent = prefs is not None and notice_silent(
            now, tz, quiet=prefs.quiet, muted_until=prefs.muted_until
        )
        thread = prefs.thread_id if prefs is not None else None  # a forum's topic
        if (result := await self._deliver(chat.chat_id, drawn, thread, silent)) is not None:
            if not await self._not_taken(chat.chat_id, due, drawn, result):
                return 0
            sent = 0
        else:
            sent = 1
            tries = self.holds.unsent_tries(chat.chat_id)
            log.info(
                "chat %d: weekly report sent%s",
                chat.chat_id,
                f" after {tries + 1} tries, {_since(due, ctx.clock())} after it was due"
                if tries
                else "",
            )
        self.holds.out(chat.chat_id, due)
        await self._record_sent(chat.chat_id, due)
        return sent

    async def _draw(self, key: DrawnKey) -> Drawn:
        """A chat's report, its chart drawn off the event loop, from the week's stories."""
        ctx = self.ctx
        due, lang, tz, topics, _ = key
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
        return Drawn(key, png, text)

    async def _deliver(
        self, chat_id: int, drawn: Drawn, thread: int | None, silent: bool
    ) -> Outcome | None:
        """Send the drawn report to the chat (its forum topic `thread`); None once Telegram has
        taken it, else what its refusal calls for. A caption Telegram cannot parse goes once
        more as plain text, as an alert's text does."""
        try:
            await self._send_photo(chat_id, drawn.png, drawn.caption, thread, silent, html=True)
            return None
        except TelegramError as exc:
            result = self._outcome(chat_id, exc, html=True)
            if result.action is not Action.PLAIN:
                return result
            log.error(
                "BUG: Telegram rejected the HTML of chat %d's weekly report (%s); sending it as"
                " plain text",
                chat_id,
                result.error,
            )
        plain = plain_caption(drawn.caption)
        try:
            await self._send_photo(chat_id, drawn.png, plain, thread, silent, html=False)
            return None
        except TelegramError as exc:
            return self._outcome(chat_id, exc, html=False)

    async def _send_photo(
        self,
        chat_id: int,
        png: bytes,
        caption: str,
        thread: int | None,
        silent: bool,
        *,
        html: bool,
    ) -> None:
        send = functools.partial(
            self.bot.send_photo,
            chat_id,
            png,
            caption=caption,
            parse_mode=ParseMode.HTML if html else None,
            disable_notification=silent,
        )
        await in_thread(self.ctx.store, chat_id, thread, lambda t: with_retries(
            functools.partial(send, message_thread_id=t)
        ))  # fmt: skip

    def _outcome(self, chat_id: int, exc: TelegramError, *, html: bool) -> Outcome:
        return outcome(
            exc,
            Path.REPORT,
            now=self.ctx.clock(),
            attempts=self.holds.refusals(chat_id),
            deadline=timedelta.max,  # none: it waits until the next week's replaces it
            max_backoff=REPORT_RETRY_MAX,
            html=html,
        )

    async def _not_taken(self, chat_id: int, due: datetime, drawn: Drawn, result: Outcome) -> bool:
        """Carry out what Telegram's refusal of the chat's report calls for, as an alert's
        (`outcome`); whether the report is skipped (this week's then recorded as sent)."""
        store, now = self.ctx.store, self.ctx.clock()
        if result.action is Action.MIGRATE:  # a group became a supergroup: sent there next run
            assert result.new_chat_id is not None
            await store.run(Store.migrate_chat, chat_id, result.new_chat_id, now=now)
        elif result.action is Action.GONE:
            await store.run(Store.deactivate_chat, chat_id, str(result.error), now=now)
        elif result.action is Action.GIVE_UP:
            log.error("chat %d: weekly report refused (%s); skipped", chat_id, result.error)
            return True
        else:  # out the flood wait named, or a while: Telegram down, or a topic closed
            wait = (result.at or now) - now
            tries = self.holds.unsent(chat_id, now, wait, counted=result.counted)
            kept = self.holds.keep_drawn(chat_id, drawn)  # not drawn again for its next try
            if tries == 1:  # an operator's line: why, and how long it may wait
                log.warning(
                    "chat %d: weekly report not sent (%s), due %s; it waits, tried again in %s,"
                    " then less often, up to every %s, until it is sent or the next week's is due",
                    chat_id,
                    result.error,
                    f"{due.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                    wait,
                    REPORT_RETRY_MAX,
                )
            else:
                log.debug(
                    "chat %d: weekly report not sent at try %d, %s after it was due (%s); again"
                    " in %s%s",
                    chat_id,
                    tries,
                    _since(due, now),
                    result.error,
                    wait,
                    "" if kept else " (drawn again then: too many reports wait)",
                )
        return False

    async def _record_sent(self, chat_id: int, due: datetime) -> None:
        """Store that the chat's report due at `due` went out. A write that a stop cuts, or
        that fails, is kept beside the store too and recorded at the next start
        (`bot.delivery.unrecorded`): the report is not sent again."""
        try:
            await self.ctx.store.run(Store.report_sent, chat_id, due, now=self.ctx.clock())
        except BaseException as exc:  # a stop, or a store that fails: held in memory until
            # the next check (`Holds`), which a stop before it would lose
            if self.holds.journal(chat_id, due):  # once: the hold's retries add no line
                kept = unrecorded.SentReport(chat_id, due, self.ctx.clock())
                stop = isinstance(exc, asyncio.CancelledError)
                await unrecorded.keep(self.ctx.store.path, kept, stop=stop)
            raise
        self.holds.done(chat_id)

    async def check_spikes(self) -> list[str]:
        """Look for spikes of the topics some chat wants notices for; queue one notice per
        chat for each; the topics that spiked. A topic whose check fails stops no other
        topic's: it is checked again soon (`retry_spikes`), not at the next check."""
        if not self.ready():
            return []
        async with self._spikes_checked:
            topics = await self.ctx.store.run(Store.spike_topics)
            return await self._check_topics(topics, self.ctx.clock())

    async def retry_spikes(self) -> list[str]:
        """Check again the topics whose check failed (a store locked past its busy timeout),
        each once its wait is over: 1 minute, doubled at each failure up to SPIKE_CHECK."""
        # a check running covers them (two at once would both record a topic's spike)
        if not self.ready() or not self._spike_retries or self._spikes_checked.locked():
            return []
        async with self._spikes_checked:
            now = self.ctx.clock()
            due = [t for t, (_, at) in self._spike_retries.items() if at <= now]
            return await self._check_topics(due, now) if due else []

    async def _check_topics(self, topics: Sequence[str], now: datetime) -> list[str]:
        ctx = self.ctx
        titles = ctx.titles()
        found = []
        for topic in topics:
            if topic not in titles:  # removed by a reload
                self._spike_retries.pop(topic, None)
                continue
            try:
                spiked = await self._check_topic(topic, now)
            except Exception as exc:
                self._spike_failed(topic, exc, now)
                continue
            if self._spike_retries.pop(topic, None) is not None:
                log.info("spike check of %s done again", topic)
            if spiked:
                found.append(topic)
        if found:
            ctx.wake()
        return found

    def _spike_failed(self, topic: str, exc: Exception, now: datetime) -> None:
        failures = self._spike_retries.get(topic, (0, now))[0] + 1
        wait = retry_wait(failures, SPIKE_RETRY.total_seconds(), SPIKE_CHECK.total_seconds())
        self._spike_retries[topic] = (failures, now + timedelta(seconds=wait))
        unexpected = not isinstance(exc, sqlite3.OperationalError)  # the store's: no bug
        log.log(
            logging.WARNING if failures == 1 else logging.DEBUG,
            "spike check of %s failed (%s: %s); again in %.0f s",
            topic,
            type(exc).__name__,
            exc,
            wait,
            exc_info=exc if unexpected and failures == 1 else None,
        )

    async def _check_topic(self, topic: str, now: datetime) -> bool:
        """Check one topic for a spike; queue its chats' notices; whether it spiked."""
        ctx, rule = self.ctx, self.rule
        stamped = await ctx.store.run(Store.last_spike_at, topic)
        if (last := last_announced(stamped, now)) != stamped:  # stored after now: from now on
            log.warning("spike of %s recorded at %s, after now: taken as now", topic, stamped)
            await ctx.store.run(Store.restamp_spikes, topic, now)
        if last is not None and now - last < rule.quiet:
            return False
        live = await ctx.store.run(Store.live_since, topic)
        # a feed's first poll records its recent items at once: no burst of coverage, and
        # its weeks of old items (a search feed's) no history
        points = await ctx.store.run(
            Store.story_points, [topic], since=rule.since(now), until=now, first_polls=False
        )
        spike = detect([p.at for p in points], now, live_since=live, last_spike_at=last, rule=rule)
        if spike is None:
            return False
        burst = [p for p in points if p.at >= now - rule.window]
        chats = await ctx.store.run(Store.spike_chats, topic)
        # a reload may have removed it while the store was read
        if (title := next((t.title for t in ctx.topics if t.id == topic), None)) is None:
            return False

        usual = (spike.count, spike.mean, spike.sd)

        def text(lang: str, zone: str | None) -> str:  # the one title, not the config's
            tr, tz = texts(lang), _zone(zone, ctx.tz)
            return spike_text(*usual, burst, title=tr._(title), lang=lang, tz=tz)

        # on a thread: a topic thousands of chats follow is thousands of notices
        notices = await asyncio.to_thread(spike_notices, chats, text)
        await ctx.store.run(Store.record_spike, topic, spike.count, notices, now=now)
        log.info(
            "spike of %s: %s in %s (threshold %.1f); %s told",
            topic,
            counted(spike.count, "story", "stories"),
            rule.window,
            spike.threshold,
            counted(len(notices), "chat", "chats"),
        )
        return True


def schedule(
    scheduler: Any,
    ctx: BotContext,
    app: Application[Any, Any, Any, Any, Any, Any],
    ready: Callable[[], bool],
) -> None:
    """Add the report and spike jobs to the daemon's APScheduler; they run once `ready` (the
    Telegram side running, the last stop's kept sends recorded)."""
    insights = Insights(ctx, app.bot, ready=ready)
    scheduler.add_job(
        insights.send_reports, trigger=IntervalTrigger(seconds=REPORT_CHECK.seconds), id="reports"
    )
    scheduler.add_job(
        insights.check_spikes, trigger=IntervalTrigger(seconds=SPIKE_CHECK.seconds), id="spikes"
    )
    scheduler.add_job(
        insights.retry_spikes,
        trigger=IntervalTrigger(seconds=SPIKE_RETRY.seconds),
        id="spike retries",
    )
