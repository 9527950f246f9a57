"""A chat's held alerts (a digest, a burst) sent as digest messages, each settled once sent;
mixed into the delivery worker, whose sends, limits and failure outcomes it uses."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Message
from telegram.error import BadRequest

from bot.delivery import settle, unrecorded
from bot.delivery.limits import DeliverySettings, SendLimits
from bot.delivery.outcome import Action, Failure, GivenUp, Outcome, Path, failure_of
from bot.delivery.render import digest_of, digest_sizes, plain_of
from bot.metrics import Metrics
from store import AsyncStore, Delivery, Notice, OutboxState, Store
from watchers.clock import Clock
from watchers.text import counted

log = logging.getLogger("bot.delivery.worker")


class DigestSending:
    """The digest half of `DeliveryWorker`."""

    store: AsyncStore
    settings: DeliverySettings
    limits: SendLimits
    metrics: Metrics | None
    clock: Clock
    journal_wait: float
    _stopping: bool
    _given_up: GivenUp

    if TYPE_CHECKING:  # the worker's own

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
        ) -> Message: ...

        def _outcome(
            self, exc: BaseException, path: Path, now: datetime, row: Delivery | Notice, **kw: Any
        ) -> Outcome: ...

        async def _hold(self, chat_id: int, seconds: float) -> None: ...

        def _tz(self, delivery: Delivery) -> tzinfo: ...

        def _count(
            self, outcome: str, queued_at: datetime | None = None, now: datetime | None = None
        ) -> None: ...

    async def _claim_digest(self, chat_id: int, before: datetime) -> list[Delivery] | None:
        rows = await self.store.run(Store.claim_digest, chat_id, before, now=self.clock())
        return rows or None

    async def _send_digest(self, chat_id: int, rows: list[Delivery], *, silent: bool) -> None:
        """The held alerts as digests of as many of them as one message holds, each settled
        once sent: a failure leaves only the alerts not yet shown to be sent again."""
        tz = self._tz(rows[0])  # measured off the event loop: up to 8 digests
        sizes = await asyncio.to_thread(digest_sizes, rows, self.settings.topic_titles, tz)
        before = max(d.digest_part for d in rows)  # a digest cut short, taken up again
        gone: set[tuple[int, int]] = set()  # its topic found deleted by an earlier message
        for n, count in enumerate(sizes, before + 1):
            shown, rows = rows[:count], rows[count:]
            text = digest_of(shown, self.settings.topic_titles, tz, (n, before + len(sizes)))
            parts = self._send_one_digest(chat_id, text, shown, rows, n, silent=silent, gone=gone)
            if not await parts:
                await self._continued([*shown, *rows], n - 1)
                return
            # numbered on before the next is sent: a stop may cut its send, or a crash end us
            await self._continued(rows, n)
            if rows and not await self._next_slot(chat_id):
                # the chat's limit (or a stop) comes first: the rest wait for the chat's turn
                await settle.recorded(self.store, Store.release_claimed, [d.id for d in rows])
                return

    async def _continued(self, rows: list[Delivery], parts: int) -> None:
        """The rest of a digest (put back, or on its way) after `parts` of its messages were
        sent: numbered on."""
        if parts and rows:
            ids = [d.id for d in rows]
            try:
                await settle.recorded(self.store, Store.continue_digest, ids, parts)
            except asyncio.CancelledError:  # else the next start numbers part `parts` again
                kept = unrecorded.SentDigest((), self.clock(), tuple(ids), parts)
                await unrecorded.keep(self.store.path, kept, wait=self.journal_wait)
                raise

    async def _next_slot(self, chat_id: int) -> bool:
        """Take the next send to `chat_id` of the limits if the chat may be sent to now."""
        loop = asyncio.get_running_loop()
        if self._stopping or not self.limits.ready(chat_id, loop.time()):
            return False
        at = self.limits.take(chat_id, loop.time())
        if at > loop.time():
            await asyncio.sleep(at - loop.time())
        self.limits.departed(at, loop.time())
        return True

    async def _send_one_digest(
        self,
        chat_id: int,
        text: str,
        rows: list[Delivery],
        later: list[Delivery],
        part: int,
        *,
        silent: bool,
        gone: set[tuple[int, int]] | None = None,
    ) -> bool:
        """Send one digest of `rows`; on a failure settle them and the `later` rows alike (but
        after a refusal, `rows` alone): a 429 or a network error too, as for an alert, never
        waited out in the send's slot (a stop would wait for it). Whether to go on."""
        send = functools.partial(
            self._send, chat_id, silent=silent, thread=rows[0].thread_id, gone=gone
        )
        try:  # one message: a second part failing would send the first again with the retry
            try:
                await send(text, html=True)
            except BadRequest as exc:
                if failure_of(exc) is not Failure.UNPARSABLE:
                    raise
                log.error(
                    "BUG: Telegram rejected the HTML of a digest (%s); sent as plain text", exc
                )
                await send(plain_of(text), html=False)
        except Exception as exc:
            now, failed = self.clock(), [*rows, *later]
            result = self._outcome(exc, Path.DIGEST, now, max(failed, key=lambda d: d.attempts))
            if result.hold is not None:
                await self._hold(chat_id, result.hold)
            # refused (400) fails this message's stories; the later ones are messages of their own
            alone = result.action is Action.GIVE_UP and not result.waits
            given_up = await settle.failed_digest(
                self.store, chat_id, rows if alone else failed, result, now, self._given_up
            )
            if given_up and self.metrics is not None:
                self.metrics.delivered(result.metric or "error", count=given_up)
            return alone
        now, ids = self.clock(), [d.id for d in rows]
        try:  # its rows name no message: an "Also:" edit would rewrite the digest as one alert
            await settle.recorded(self.store, Store.settle_many, ids, OutboxState.SENT, now=now)
        except asyncio.CancelledError:  # a stop cut the tries: recorded at the next start
            rest = tuple(d.id for d in later)
            sent = unrecorded.SentDigest(tuple(ids), now, rest, part)
            await unrecorded.keep(self.store.path, sent, wait=self.journal_wait)
            raise
        for row in rows:
            self._count("sent", row.created_at, now)
        log.info("chat %d: digest of %s sent", chat_id, counted(len(rows), "alert", "alerts"))
        return True
