"""The delivery worker: sends queued alerts from the outbox to Telegram, never losing one.

A row is marked `sending` before the request and `sent` after it, so a crash can repeat at most
the message in flight. Every Telegram failure maps to a retry, a move or a recorded drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bot.render import Alert, render_html, render_plain
from bot.retry import retry_after_seconds
from store import AsyncStore, Delivery, Store
from watchers.poll import Clock, utcnow

log = logging.getLogger(__name__)

SendText = Callable[..., Awaitable[Message]]
EDIT_RETRY = 30.0  # seconds before a failed "Also:" update to a chat is tried again


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    link_previews: bool = False
    deadline: timedelta = timedelta(hours=24)  # retry transient failures this long
    max_backoff: timedelta = timedelta(minutes=10)
    private_gap: float = 1.0  # seconds between two messages to one private chat
    group_gap: float = 3.0  # 20 per minute to a group or channel
    global_gap: float = 1 / 29  # Telegram allows ~30/s; the margin absorbs network jitter
    idle_wait: float = 5.0  # look at the outbox at least this often
    batch: int = 50


def to_alert(delivery: Delivery) -> Alert:
    item = delivery.item
    return Alert(
        title=item.title,
        link=item.link,
        source=delivery.feed_title or item.feed_id,
        published=item.published_at or item.fetched_at,
        summary=item.brief or item.summary,
        topics=delivery.topics,
        also=delivery.also,
        marks=item.marks,
    )


class DeliveryWorker:
    """Sends due outbox rows, oldest first, within Telegram's rate limits."""

    def __init__(
        self,
        store: AsyncStore,
        bot: Bot,
        *,
        settings: DeliverySettings | None = None,
        tz: tzinfo = UTC,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.bot = bot
        self.settings = settings or DeliverySettings()
        self.tz = tz
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_to_chat: dict[int, float] = {}
        self._next_any = 0.0

    def wake(self) -> None:
        """New rows were queued."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the send in flight, then return from `run`."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        requeued = await self.store.run(Store.requeue_inflight)
        if requeued:
            log.info("delivery: %d alerts were in flight at the last stop; resending", requeued)
        while not self._stopping:
            due, sent = await self.send_due()
            if not sent:
                await self._idle(due > 0)

    async def send_due(self) -> tuple[int, int]:
        """One pass over the due rows: (rows due, rows attempted); rate-limited chats wait.

        New alerts go first; then sent alerts whose story more outlets have carried since
        are edited to say so.
        """
        due = await self.store.run(Store.due_deliveries, self.clock(), self.settings.batch)
        attempted = 0
        for delivery in due:
            if self._stopping:
                break
            if self._ready(delivery.chat_id):
                await self._deliver(delivery)
                attempted += 1
        edits = await self.store.run(Store.due_edits, self.settings.batch)
        for delivery in edits:
            if self._stopping:
                break
            if self._ready(delivery.chat_id):
                await self._edit(delivery)
                attempted += 1
        return len(due) + len(edits), attempted

    async def _edit(self, delivery: Delivery) -> None:
        """Update a sent alert with the outlets that carried its story since."""
        if delivery.message_id is None:
            await self.store.run(Store.edit_done, delivery.id)
            return
        await self._pace(delivery.chat_id)
        try:
            await self.bot.edit_message_text(
                render_html(to_alert(delivery), tz=self.tz),
                chat_id=delivery.chat_id,
                message_id=delivery.message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(
                    is_disabled=not self.settings.link_previews
                ),
            )
        except RetryAfter as exc:
            self._next_to_chat[delivery.chat_id] = (
                asyncio.get_running_loop().time() + retry_after_seconds(exc)
            )
            return  # still pending: tried again after the pause
        except Forbidden as exc:
            await self.store.run(
                Store.deactivate_chat, delivery.chat_id, exc.message, now=self.clock()
            )
        except BadRequest as exc:  # not modified, deleted by the user, too old: nothing to do
            log.info(
                "chat %d: alert %d not updated: %s", delivery.chat_id, delivery.id, exc.message
            )
        except (NetworkError, TimeoutError) as exc:
            log.warning(
                "chat %d: alert %d update failed (%s); will retry",
                delivery.chat_id,
                delivery.id,
                exc,
            )
            return
        await self.store.run(Store.edit_done, delivery.id)

    async def _idle(self, waiting_for_rate: bool) -> None:
        timeout = self.settings.idle_wait
        if waiting_for_rate:
            loop_now = asyncio.get_running_loop().time()
            soonest = min(self._next_to_chat.values(), default=loop_now)
            timeout = min(timeout, max(0.05, soonest - loop_now))
        else:
            next_due = await self.store.run(Store.next_due_at)
            if next_due is not None:
                timeout = min(timeout, max(0.05, (next_due - self.clock()).total_seconds()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _ready(self, chat_id: int) -> bool:
        return asyncio.get_running_loop().time() >= self._next_to_chat.get(chat_id, 0.0)

    async def _pace(self, chat_id: int) -> None:
        loop = asyncio.get_running_loop()
        wait = self._next_any - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        now = loop.time()
        self._next_any = now + self.settings.global_gap
        gap = self.settings.group_gap if chat_id < 0 else self.settings.private_gap
        self._next_to_chat[chat_id] = now + gap

    async def _deliver(self, delivery: Delivery) -> None:
        chat_id = await self.store.run(Store.claim, delivery.id, now=self.clock())
        if chat_id is None:  # dropped or moved by an earlier failure in this pass
            return
        if chat_id != delivery.chat_id:
            delivery = replace(delivery, chat_id=chat_id)
        alert = to_alert(delivery)
        await self._pace(delivery.chat_id)
        try:
            message = await self._send(delivery.chat_id, render_html(alert, tz=self.tz), html=True)
        except BadRequest as exc:
            if "can't parse entities" in exc.message.lower():
                log.error(
                    "BUG: Telegram rejected the HTML of alert %d (%s); sending it as plain text",
                    delivery.id,
                    exc.message,
                )
                try:
                    message = await self._send(
                        delivery.chat_id, render_plain(alert, tz=self.tz), html=False
                    )
                except Exception as retry_exc:
                    await self._failure(delivery, retry_exc)
                    return
            else:
                await self._failure(delivery, exc)
                return
        except Exception as exc:
            await self._failure(delivery, exc)
            return
        await self.store.run(Store.mark_sent, delivery.id, message.message_id, now=self.clock())
        log.info(
            "chat %d: alert %d sent (item %d)", delivery.chat_id, delivery.id, delivery.item.id
        )

    async def _send(self, chat_id: int, text: str, *, html: bool) -> Message:
        return await self.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML if html else None,
            link_preview_options=LinkPreviewOptions(is_disabled=not self.settings.link_previews),
        )

    async def _failure(self, delivery: Delivery, exc: BaseException) -> None:
        now = self.clock()
        chat_id = delivery.chat_id
        if isinstance(exc, RetryAfter):
            wait = retry_after_seconds(exc)
            self._next_to_chat[chat_id] = asyncio.get_running_loop().time() + wait
            await self.store.run(
                Store.mark_retry,
                delivery.id,
                f"429: {exc.message}",
                at=now + timedelta(seconds=wait),
            )
            log.warning(
                "chat %d: flood control, retrying alert %d in %gs", chat_id, delivery.id, wait
            )
        elif isinstance(exc, ChatMigrated):
            await self.store.run(Store.migrate_chat, chat_id, exc.new_chat_id, now=now)
            await self.store.run(Store.mark_retry, delivery.id, "chat migrated", at=now)
            log.info(
                "chat %d: migrated to %d; alert %d will be resent",
                chat_id,
                exc.new_chat_id,
                delivery.id,
            )
        elif isinstance(exc, Forbidden) or (
            isinstance(exc, BadRequest) and "chat not found" in exc.message.lower()
        ):
            dropped = await self.store.run(Store.deactivate_chat, chat_id, exc.message, now=now)
            log.info(
                "chat %d: %s; chat marked inactive, %d alerts dropped",
                chat_id,
                exc.message,
                dropped,
            )
        elif isinstance(exc, BadRequest):
            await self.store.run(Store.mark_failed, delivery.id, f"400: {exc.message}")
            log.error("chat %d: alert %d rejected: %s", chat_id, delivery.id, exc.message)
        else:
            await self._retry_later(delivery, exc, now)

    async def _retry_later(self, delivery: Delivery, exc: BaseException, now: datetime) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if now - delivery.created_at > self.settings.deadline:
            await self.store.run(Store.mark_failed, delivery.id, error)
            log.error("chat %d: alert %d failed for good: %s", delivery.chat_id, delivery.id, error)
            return
        backoff = min(self.settings.max_backoff, timedelta(seconds=2 ** min(delivery.attempts, 20)))
        await self.store.run(Store.mark_retry, delivery.id, error, at=now + backoff)
        level = logging.WARNING if isinstance(exc, NetworkError) else logging.ERROR
        log.log(
            level,
            "chat %d: alert %d not sent (%s); retry in %s",
            delivery.chat_id,
            delivery.id,
            error,
            backoff,
        )
