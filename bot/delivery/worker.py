"""The delivery worker: sends queued alerts from the outbox to Telegram, never losing one.

A row is marked `sending` before the request and `sent` after it, so a crash can repeat at most
the messages in flight (`concurrency`). Every Telegram failure maps to a retry, a move or a
recorded drop; alerts given up after the deadline are reported to the admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode

from bot.delivery import settle, unrecorded
from bot.delivery.buttons import AlertButtons
from bot.delivery.digests import DigestSending
from bot.delivery.limits import DeliverySettings, SendLimits
from bot.delivery.outcome import Action, Failure, GivenUp, Outcome, Path, failure_of, outcome
from bot.delivery.plan import Plan, chat_tz, notice_silent, plan, zone
from bot.delivery.render import (
    fit_units,
    notice_text,
    render_html,
    render_plain,
    to_alert,
)
from bot.delivery.threads import in_thread
from bot.i18n import texts
from bot.metrics import Metrics
from store import AsyncStore, ChatPrefs, Delivery, Notice, OutboxState, Store
from store.base import store_failure
from watchers.clock import Clock, utcnow
from watchers.text import counted

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _ready(delivery: Delivery) -> Delivery:
    return delivery  # an edit has no claim: it is marked done after it


class DeliveryWorker(DigestSending):
    """Sends due outbox rows and notices, oldest first and fair across chats, within limits.

    One dispatcher picks the next row whose chat may be sent to, waits for a free slot of the
    overall limit, and starts the send as a task; at most `concurrency` run at once and never
    two to the same chat, so one chat's alerts keep their order.
    """

    def __init__(
        self,
        store: AsyncStore,
        bot: Bot,
        *,
        settings: DeliverySettings | None = None,
        tz: tzinfo = UTC,
        clock: Clock = utcnow,
        metrics: Metrics | None = None,
        journal_wait: float = unrecorded.JOURNAL_WAIT,
    ) -> None:
        self.store = store
        self.journal_wait = journal_wait  # a send a stop cut waits this long for its line
        self.metrics = metrics
        self.bot = bot
        self.settings = settings or DeliverySettings()
        self.tz = tz
        self.clock = clock
        self.limits = SendLimits(self.settings.limits)
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()  # set by `stop`
        self._stopping = False
        self.kept_recorded = False  # the sends the last stop kept are recorded (`unrecorded`)
        self._slots = asyncio.Semaphore(self.settings.concurrency)
        self._inflight: set[int] = set()  # chats with a send in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._given_up = GivenUp()
        self._reach = settle.Unreachable()  # an outage of Telegram told once, not at every try
        self._buttons = AlertButtons(store)

    def apply(self, settings: DeliverySettings) -> None:
        """New settings from a reloaded config; the concurrency stays until a restart."""
        self.settings = replace(settings, concurrency=self.settings.concurrency)
        if settings.limits != self.limits.limits:
            self.limits.limits = settings.limits
        self._wake.set()

    def wake(self) -> None:
        """New rows were queued."""
        self._wake.set()

    def stop(self) -> None:
        """Let the sends in flight finish, start no more, then return from `run`."""
        self._stopping = True
        self._halt.set()
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `stop`; a store that fails (locked, full) pauses it, with a backoff."""
        outage, requeued = settle.Outage(), None
        cut: float | None = None  # the loop's time the stop's grace ended, if it did
        try:
            while not self._stopping:
                try:
                    if requeued is None:
                        await self._buttons.load()
                        await unrecorded.record_kept(self.store)  # before they are requeued
                        self.kept_recorded = True
                        requeued = await self.store.run(Store.requeue_inflight)
                        if requeued:
                            log.info(
                                "delivery: %s in flight; resending",
                                counted(requeued, "alert was", "alerts were"),
                            )
                    if not await self.send_due():
                        await self._idle()
                except sqlite3.DatabaseError as exc:  # locked, full or damaged; else a bug
                    if (failure := store_failure(exc, self.store.path)) is None:
                        raise
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._halt.wait(), outage.failed(failure))
                    continue
                outage.over()
        except asyncio.CancelledError:  # the stop's grace is over: the sends in flight too
            cut = asyncio.get_running_loop().time()
            for task in list(self._tasks):  # (a send waiting to record keeps it for the start)
                task.cancel()
            raise
        finally:
            await self.drain()
            # past the grace, within the sends' journal wait: nothing cancels the worker again
            until = None if cut is None else cut + self.journal_wait
            await settle.report_at_stop(self.store, self._given_up, now=self.clock(), until=until)

    async def drain(self) -> None:
        """Wait for the sends in flight."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send_due(self) -> int:
        """Start the sends that are due and allowed now; the number started.

        New alerts go first, then notices to admins, then sent alerts whose story more outlets
        have carried since (edited to say so).
        """
        self._wake.clear()
        await self._report_given_up()
        started = 0
        due = await self.store.run(
            Store.due_deliveries, self.clock(), self.settings.batch, exclude=self._busy()
        )
        prefs = await self.store.run(Store.prefs_of, [d.chat_id for d in due])
        now = self.clock()
        for delivery in due:
            started += await self._dispatch(delivery, self._plan(prefs.get(delivery.chat_id), now))
        await self.store.run(Store.fan_out_notices, self.settings.admins)
        notices = await self.store.run(
            Store.due_notices, self.clock(), self.settings.batch, exclude=self._busy()
        )
        chats = await self.store.run(Store.prefs_of, [n.chat_id for n in notices])
        for notice in notices:
            claim_notice = functools.partial(self._claim_notice, notice)
            notify = functools.partial(self._notify, silent=self._silent(chats.get(notice.chat_id)))
            started += await self._start(notice.chat_id, claim_notice, notify)
        edits = await self.store.run(
            Store.due_edits, self.settings.batch, exclude=self._busy(), now=self.clock()
        )
        for delivery in edits:
            started += await self._start(
                delivery.chat_id, functools.partial(_ready, delivery), self._edit
            )
        return started

    def _plan(self, prefs: ChatPrefs | None, now: datetime) -> Plan:
        if prefs is None:
            return Plan()
        tz = chat_tz(prefs, self.tz)
        return plan(now, tz, digest=prefs.digest, quiet=prefs.quiet, muted_until=prefs.muted_until)

    def _silent(self, prefs: ChatPrefs | None) -> bool:
        return prefs is not None and notice_silent(
            self.clock(), chat_tz(prefs, self.tz), quiet=prefs.quiet, muted_until=prefs.muted_until
        )

    async def _dispatch(self, delivery: Delivery, decision: Plan) -> bool:
        """Send the chat's oldest alert, or its held alerts as one digest, or hold them."""
        chat_id = delivery.chat_id
        before = decision.release_before
        if before is not None and delivery.created_at < before:
            if decision.digest or delivery.digest_part or await self._pending(chat_id, before) > 1:
                claim = functools.partial(self._claim_digest, chat_id, before)
                send = functools.partial(self._send_digest, chat_id, silent=decision.silent)
                return await self._start(chat_id, claim, send)
        elif decision.hold_until is not None:
            await self.store.run(Store.set_hold, chat_id, decision.hold_until)
            return False
        elif self.settings.burst_digest and self._may_start(chat_id):
            # a burst (a thousand matches in one poll) becomes one digest, not an hour of alerts
            now, burst = self.clock() + timedelta(microseconds=1), self.settings.burst_digest
            # as is the rest of a digest cut short, however few are left
            if delivery.digest_part or await self._pending(chat_id, now) > burst:
                claim = functools.partial(self._claim_digest, chat_id, now)
                send = functools.partial(self._send_digest, chat_id, silent=decision.silent)
                return await self._start(chat_id, claim, send)
        claim_one = functools.partial(self._claim, delivery)
        deliver = functools.partial(self._deliver, silent=decision.silent)
        return await self._start(chat_id, claim_one, deliver)

    async def _pending(self, chat_id: int, before: datetime) -> int:
        return await self.store.run(Store.count_pending, chat_id, before)

    def _busy(self) -> set[int]:
        return self._inflight | self.limits.busy(asyncio.get_running_loop().time())

    async def _start(
        self,
        chat_id: int,
        claim: Callable[[], Awaitable[T | None]],
        send: Callable[[T], Awaitable[None]],
    ) -> bool:
        """Claim a row and start sending it when its chat may be sent to; False if not now.

        The claim (the row marked `sending`) comes before the pause for the overall limit, so
        the request leaves right at its slot: store latency must not bunch requests up.
        """
        if not self._may_start(chat_id):
            return False
        loop = asyncio.get_running_loop()
        self._inflight.add(chat_id)
        await self._slots.acquire()
        try:
            job = None if self._stopping else await claim()
            if job is None:  # gone meanwhile: sent, dropped or moved by an earlier failure
                self._done(chat_id)
                return False
            at = self.limits.take(chat_id, loop.time())
            if at > loop.time():
                await asyncio.sleep(at - loop.time())
        except BaseException:
            self._done(chat_id)
            raise
        task = asyncio.create_task(self._send_task(chat_id, at, send(job)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _may_start(self, chat_id: int) -> bool:
        return not (
            self._stopping
            or chat_id in self._inflight
            or not self.limits.ready(chat_id, asyncio.get_running_loop().time())
        )

    async def _send_task(self, chat_id: int, slot: float, send: Awaitable[None]) -> None:
        self.limits.departed(slot, asyncio.get_running_loop().time())
        try:
            await send
        except Exception:
            # a bug or a store failure: the row stays `sending` and is resent at the next start
            log.exception("chat %d: sending failed unexpectedly", chat_id)
        finally:
            self._done(chat_id)

    def _done(self, chat_id: int) -> None:
        self._inflight.discard(chat_id)
        self._slots.release()
        self._wake.set()

    async def _idle(self) -> None:
        if self._stopping:  # a stop during `send_due`, whose start clears its wake
            return
        loop = asyncio.get_running_loop()
        timeout = self.settings.idle_wait
        soonest = self.limits.soonest(loop.time())
        if soonest is not None:
            timeout = min(timeout, max(0.01, soonest - loop.time()))
        next_due = await self.store.run(Store.next_due_at)
        now = self.clock()
        if next_due is not None and next_due > now:
            # due rows of busy chats wait for `soonest` or for a send to finish (a wake)
            timeout = min(timeout, max(0.05, (next_due - now).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _hold(self, chat_id: int, seconds: float) -> None:
        """Flood control: nothing to the chat for `seconds` (at most a day, as read), which a
        restart keeps to as well."""
        self.limits.hold(chat_id, asyncio.get_running_loop().time() + seconds)
        until = self.clock() + timedelta(seconds=seconds)
        await settle.recorded(self.store, Store.hold_flood, chat_id, until)

    async def _edit(self, delivery: Delivery) -> None:
        """Update a sent alert with the outlets that carried its story since."""
        if delivery.message_id is None:
            await self.store.run(Store.edit_done, delivery.id)
            return
        try:
            self._reach.reached(await self.bot.edit_message_text(
                render_html(to_alert(delivery), tz=self._tz(delivery), tr=texts(delivery.language)),
                chat_id=delivery.chat_id,
                message_id=delivery.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=await self._buttons.of(delivery),  # an edit without them drops them
                link_preview_options=LinkPreviewOptions(
                    is_disabled=not self.settings.link_previews
                ),
            ))  # fmt: skip
        except Exception as exc:
            now = self.clock()
            tried = replace(delivery, attempts=delivery.edit_tries)  # its tries as an update
            result = self._outcome(exc, Path.EDIT, now, tried, queued_at=delivery.created_at)
            if result.hold is not None:  # flood control only: the chat's new alerts go on
                await self._hold(delivery.chat_id, result.hold)
            pending = not await settle.failed_edit(self.store, delivery, result, now=now)
            if result.action is Action.RAISE:
                raise
            if pending:
                return  # tried again after its pause
        await self.store.run(Store.edit_done, delivery.id, delivery.also, delivery.item.id)

    async def _claim(self, delivery: Delivery) -> Delivery | None:
        # the row as claimed, not as read with its batch: it may have changed while it waited
        return await self.store.run(Store.claim_delivery, delivery.id, now=self.clock())

    async def _claim_notice(self, notice: Notice) -> Notice | None:
        claimed = await self.store.run(Store.claim_notice, notice.id, now=self.clock())
        return notice if claimed else None

    async def _notify(self, notice: Notice, *, silent: bool = False) -> None:
        """Send a notice to an admin (or a broadcast to a chat), as plain text."""
        try:
            text = fit_units(notice_text(notice))
            await self._send(
                notice.chat_id, text, html=False, silent=silent, thread=notice.thread_id
            )
        except Exception as exc:
            now = self.clock()
            result = self._outcome(exc, Path.NOTICE, now, notice)
            if result.hold is not None:
                await self._hold(notice.chat_id, result.hold)
            await settle.failed_notice(self.store, notice, result, now=now)
            return
        sent, now = OutboxState.SENT, self.clock()
        try:
            await settle.recorded(self.store, Store.settle_notice, notice.id, sent, now=now)
        except asyncio.CancelledError:  # a stop cut the tries: recorded at the next start
            kept = unrecorded.SentNotice(notice.id, now)
            await unrecorded.keep(self.store.path, kept, wait=self.journal_wait)
            raise

    async def _report_given_up(self, *, force: bool = False) -> None:
        await settle.report_given_up(self.store, self._given_up, now=self.clock(), force=force)

    async def _deliver(self, delivery: Delivery, *, silent: bool = False) -> None:
        alert, tz = to_alert(delivery), self._tz(delivery)
        tr = texts(delivery.language)
        buttons = await self._buttons.of(delivery)
        send = functools.partial(
            self._send,
            delivery.chat_id,
            silent=silent,
            markup=buttons,
            reply_to=delivery.reply_to or None,  # 0: its alert is in a group's history (moved)
            thread=delivery.thread_id,
        )
        try:
            message = await send(render_html(alert, tz=tz, tr=tr), html=True)
        except Exception as exc:
            if failure_of(exc) is not Failure.UNPARSABLE:
                await self._failure(delivery, exc)
                return
            log.error(
                "BUG: Telegram rejected the HTML of alert %d (%s); sending it as plain text",
                delivery.id,
                getattr(exc, "message", exc),
            )
            try:
                message = await send(render_plain(alert, tz=tz, tr=tr), html=False)
            except Exception as retry_exc:
                await self._failure(delivery, retry_exc, html=False)
                return
        now = self.clock()
        try:
            await settle.recorded(
                self.store,
                Store.mark_sent,
                delivery.id,
                message.message_id,
                now=now,
                also=delivery.also,
                item_id=delivery.item.id,  # the report shown: /lang or a poll may switch it
            )
        except asyncio.CancelledError:  # a stop cut the tries: recorded at the next start
            sent = unrecorded.Sent(
                delivery.id, message.message_id, now, delivery.also, delivery.item.id
            )
            await unrecorded.keep(self.store.path, sent, wait=self.journal_wait)
            raise
        self._count("sent", delivery.created_at, now)
        log.info(
            "chat %d: alert %d sent (item %d)", delivery.chat_id, delivery.id, delivery.item.id
        )

    async def _send(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        silent: bool = False,
        markup: InlineKeyboardMarkup | None = None,
        reply_to: int | None = None,
        thread: int | None = None,
        gone: set[tuple[int, int]] | None = None,
    ) -> Message:
        """Send to the chat (in a forum, to its `thread`: General once that topic is gone)."""
        send = functools.partial(
            self.bot.send_message,
            chat_id,
            text,
            parse_mode=ParseMode.HTML if html else None,
            disable_notification=silent,
            link_preview_options=LinkPreviewOptions(is_disabled=not self.settings.link_previews),
            reply_markup=markup,
            reply_parameters=None
            if reply_to is None
            else ReplyParameters(reply_to, allow_sending_without_reply=True),
        )
        return self._reach.reached(await in_thread(
            self.store,
            chat_id,
            thread,
            lambda topic: send(message_thread_id=topic),
            gone,
        ))  # fmt: skip

    def _count(
        self, outcome: str, queued_at: datetime | None = None, now: datetime | None = None
    ) -> None:
        if self.metrics is not None:
            self.metrics.delivered(outcome, queued_at, now)

    def _tz(self, delivery: Delivery) -> tzinfo:
        """The time zone an alert's times are shown in: the chat's own, else the config's."""
        return zone(delivery.timezone, self.tz)

    def _outcome(
        self, exc: BaseException, path: Path, now: datetime, row: Delivery | Notice, **kw: Any
    ) -> Outcome:
        deadline, max_backoff = self.settings.deadline, self.settings.max_backoff
        return self._reach.heard(exc, outcome(
            exc, path, now=now, attempts=row.attempts,
            deadline=deadline, max_backoff=max_backoff, **kw,
        ), row.chat_id)  # fmt: skip

    async def _failure(self, delivery: Delivery, exc: BaseException, *, html: bool = True) -> None:
        now = self.clock()
        chat_id = delivery.chat_id
        result = self._outcome(exc, Path.SEND, now, delivery, html=html)
        self._count(result.metric or "error")
        if result.hold is not None:
            await self._hold(chat_id, result.hold)
        if result.action is Action.GIVE_UP and not result.waits:
            await settle.give_up(self.store, delivery, result, self._given_up)
        else:  # a chat without rights: the alerts given up with this one are counted too
            with_it = await settle.failed_send(self.store, delivery, result, now, self._given_up)
            if with_it and self.metrics is not None:
                self.metrics.delivered(result.metric or "error", count=with_it)
