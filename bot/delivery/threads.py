"""A forum's topic that a chat's messages go to, and its General topic once that one is gone.

A forum supergroup takes its alerts, digests, weekly reports and notices in the topic its
settings were last made in (`subscribers.thread_id`, recorded by the commands). A topic deleted
since answers "message thread not found": the message goes to General instead, never lost, and
the chat's topic is forgotten, so its next messages go to General at once.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import BadRequest

from bot.delivery.outcome import Failure, failure_of
from store import AsyncStore, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


async def in_thread(
    store: AsyncStore,
    chat_id: int,
    thread_id: int | None,
    send: Callable[[int | None], Awaitable[T]],
    gone: set[tuple[int, int]] | None = None,
) -> T:
    """`send(thread_id)`; when Telegram says that topic is gone, `send(None)` (to General),
    the topic forgotten. `gone`: the topics found gone so far, sent to General without a try
    (the rows of a digest read before its first message found it gone)."""
    if thread_id is None or (gone is not None and (chat_id, thread_id) in gone):
        return await send(None)
    try:
        return await send(thread_id)
    except BadRequest as exc:
        if failure_of(exc) is not Failure.THREAD_GONE:
            raise
        reason = exc.message
    if gone is not None:
        gone.add((chat_id, thread_id))
    try:
        forgotten = await store.run(Store.forget_thread, chat_id, thread_id)
    except sqlite3.DatabaseError as exc:  # it is tried again at the next message's refusal
        log.error("chat %d: its gone forum topic %d is not forgotten: %s", chat_id, thread_id, exc)
    else:
        if forgotten:
            log.warning(
                "chat %d: its forum topic %d is gone (%s); its messages go to General now",
                chat_id,
                thread_id,
                reason,
            )
    return await send(None)
