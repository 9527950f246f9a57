"""The daemon's notices to the admins: queued in the store like alerts, and written again in the
background while the store fails to take them. Mixed into `bot.daemon.Daemon`."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TextIO, TypeAlias

from bot.daemon.telegram import STOP_GRACE
from bot.i18n import EN, Message, Values, msgids, stored
from bot.interrupt import stopped_within
from store import AsyncStore, Store

log = logging.getLogger("bot.daemon")  # its lines are the daemon's
# a feed's failing run a notice tells of: the feed's id and the run's start (None: recovered)
FeedTold: TypeAlias = tuple[str, datetime | None]


NOTICE_RETRY_MAX = 60.0  # seconds between two tries to queue an admins' notice, at most
NOTICES_HELD = 100  # admins' notices being tried again at once, at most
# seconds a notice cancelled at a stop waits for its write in flight: the store thread carries
# a write on whatever its caller does, so only its outcome tells what became of the notice
NOTICE_OUTCOME_WAIT = 1.0


class AdminNotices:
    """The daemon's notices to the admins (the daemon's fields and methods it uses are
    declared)."""

    token: str | None
    out: TextIO  # where a daemon without a token prints its alerts, and these notices
    _store: AsyncStore | None
    _stop: asyncio.Event
    _notices: dict[asyncio.Task[None], None]
    _wake_delivery: Callable[[], None]
    notice_outcome_wait: float = NOTICE_OUTCOME_WAIT

    async def _tell_admins(
        self,
        message: Message,
        values: Values,
        *,
        told: FeedTold | None = None,
        except_chat: int | None = None,
    ) -> None:
        """Queue a notice (a msgid, or a `Plural`, and its values: each admin reads it in their
        language), for every admin but `except_chat`; with `told`, record the feed's run it
        tells of in the same transaction."""
        if self.token and self._store is not None:
            text, now = EN.said(message, values), datetime.now(UTC)
            msgid, plural, counted = msgids(message)
            await self._store.run(
                Store.notify_admins,
                text,
                now=now,
                msgid=msgid,
                values=stored(values),
                plural=plural,
                counted=counted,
                told=told,
                except_chat=except_chat,
            )
            self._wake_delivery()

    async def _tell_admins_surely(
        self,
        message: Message,
        values: Values,
        *,
        told: FeedTold | None = None,
        except_chat: int | None = None,
    ) -> None:
        """`_tell_admins`; while the store fails (locked past its busy timeout by a backup or
        another writer) the notice is written again in the background, at growing intervals,
        until the store takes it: a notice said once (a feed disabled) is not said again. One
        said while others are written again waits behind them: the admins read them in order.
        Without a token (Telegram off) it is printed, as the alerts are."""
        if not self.token:
            return await self._print_notice(message, values, told)
        problem = "notices said before it are written again"
        if not self._notices:
            try:
                return await self._tell_admins(message, values, told=told, except_chat=except_chat)
            except sqlite3.OperationalError as exc:
                problem = f"the store fails: {exc}"
        text = EN.said(message, values)
        if len(self._notices) >= NOTICES_HELD:  # the log keeps it
            log.error("admins' notice not queued (%s): %s", problem, text)
            return
        log.warning("admins' notice not queued yet (%s); retrying: %s", problem, text)
        after = next(reversed(self._notices), None)
        retell = self._retell(message, values, after, told, except_chat)
        task = asyncio.create_task(retell, name="admins' notice")
        self._notices[task] = None
        task.add_done_callback(self._notices.pop)

    def _telling_all_but(self, chat: int | None) -> Callable[[Message, Values], Awaitable[None]]:
        """`_tell_admins_surely` for every admin but `chat` (None: every admin)."""
        return functools.partial(self._tell_admins_surely, except_chat=chat)

    async def _print_notice(self, message: Message, values: Values, told: FeedTold | None) -> None:
        """A notice printed in console mode, in English on one line; a feed's failing run it
        tells of is recorded (a restart does not print it again)."""
        text = ""
        for line in filter(None, map(str.strip, EN.said(message, values).splitlines())):
            text += (" " if not text or text.endswith(":") else "; ") + line
        try:
            print(f"admins' notice:{text}", end="\n\n", file=self.out, flush=True)
        except OSError as exc:  # stdout on a full disk, a closed pipe: the log keeps it
            log.error("admins' notice not printed (%s):%s", exc, text)
        if told is not None and self._store is not None:
            try:
                await self._store.run(Store.mark_told, *told)
            except sqlite3.OperationalError as exc:
                log.warning("feed %s: not recorded as told (the store fails: %s)", told[0], exc)

    async def _retell(
        self,
        message: Message,
        values: Values,
        after: asyncio.Task[None] | None,
        told: FeedTold | None = None,
        except_chat: int | None = None,
    ) -> None:
        wait, queued = 1.0, False
        write: asyncio.Task[None] | None = None
        try:
            if after is not None:  # a notice said before it is queued first, then this at once
                await asyncio.wait({after})
            # at once after the one before, unless a stop ended it: then no new write begins
            at_once = after is not None and not self._stop.is_set()
            while at_once or not await stopped_within(self._stop, wait):
                again = self._tell_admins(message, values, told=told, except_chat=except_chat)
                write = asyncio.ensure_future(again)
                try:
                    await asyncio.shield(write)
                    queued = True
                    log.info("admins' notice queued once the store took it")
                    return
                except sqlite3.OperationalError:  # from 1 s, doubling
                    wait = wait if at_once else min(2 * wait, NOTICE_RETRY_MAX)
                    at_once = False
        finally:  # a stop, however it came (cancelled when the store held it past the grace)
            if not queued:
                await self._said_at_stop(write, EN.said(message, values))

    async def _said_at_stop(self, write: asyncio.Task[None] | None, text: str) -> None:
        """Log what became of a notice a stop ended, once its write in flight (if any) has an
        outcome, waited for `notice_outcome_wait` at most; after that, when it has one."""
        if write is not None and not write.done():
            await asyncio.wait({write}, timeout=self.notice_outcome_wait)
        if write is None or write.done():
            _log_outcome(write, text)
            return
        log.warning(
            "stopping: admins' notice not queued yet, its write still waits on the store: %s",
            text,
        )
        write.add_done_callback(lambda landed: _log_outcome(landed, text))

    async def _finish_notices(self) -> None:
        """At a stop: the notices being written again end (a last try in flight finishes), each
        saying what became of it."""
        if self._notices:
            _, slow = await asyncio.wait(set(self._notices), timeout=STOP_GRACE / 2)
            for task in slow:
                task.cancel()
            if slow:  # each waits for its write in flight at most notice_outcome_wait
                await asyncio.wait(slow, timeout=2 * self.notice_outcome_wait)


def _log_outcome(write: asyncio.Task[None] | None, text: str) -> None:
    if write is not None and not write.cancelled() and write.exception() is None:
        log.info("admins' notice queued as the daemon stopped: %s", text)
    else:
        log.error("stopping: admins' notice never queued: %s", text)
