"""Long faults against the fake Bot API: hours of flood control (429) spend none of a row's
tries, so the server errors that follow are retried for the whole deadline; a chat that blocks
the bot mid-queue is sent nothing more."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.delivery.limits import SendLimits
from bot.delivery.worker import DeliveryWorker
from store import AsyncStore, Store
from tests.conftest import Clock
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_delivery import (
    CHAT,
    NO_LIMITS,
    T0,
    another_outlet,
    outbox,
    parts,
    queue,
    step,
    two_for_a_daily_digest,
)
from tests.test_delivery_faults import nhk_joins, queue_at

__all__ = ["parts"]  # the fixture, used by name

FLOODS = 160  # hours of "retry after" (less than a day), then one server error


async def flooded(
    api: FakeBotAPI, worker: DeliveryWorker, clock: Clock, method: str, *, wait: int
) -> None:
    """Telegram answers every try 429 "retry after `wait`" FLOODS times, each waited out."""
    for _ in range(FLOODS):
        api.fail_retry_after(method, wait, chat_id=CHAT)
        assert await step(worker) == 1
        clock.now += timedelta(seconds=wait)
        worker.limits = SendLimits(NO_LIMITS)  # the chat's hold has passed too
    assert len(api.calls_of(method)) == FLOODS


async def test_hours_of_flood_control_use_up_none_of_an_alerts_tries(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    store, worker, clock = parts
    await queue(store, CHAT)
    await flooded(bot_api, worker, clock, "sendMessage", wait=60)  # 2 h 40 min
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await step(worker)
    [(_, state, _, error)] = await outbox(store)
    assert state == "pending" and "Bad Gateway" in (error or "")  # not given up
    clock.now += timedelta(seconds=2)  # its first backoff, not the longest
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["sent"]
    assert len(bot_api.sent_messages(CHAT)) == 1


async def test_hours_of_flood_control_use_up_none_of_a_digests_tries(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)  # the digest is due
    # longer than a reply waits in place: each 429 goes back to the outbox (5 h 20 min)
    await flooded(bot_api, worker, clock, "sendMessage", wait=120)
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["pending", "pending"]
    clock.now += timedelta(seconds=2)
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    [digest] = bot_api.sent_messages(CHAT)
    assert "2 stories" in digest["text"]
    assert [row[1] for row in await outbox(store)] == ["sent", "sent"]


async def test_hours_of_flood_control_use_up_none_of_a_broadcasts_tries(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    store, worker, clock = parts
    await store.run(Store.upsert_subscriber, CHAT, now=T0)
    assert await store.run(Store.broadcast, "Maintenance at 22:00 UTC.", now=T0) == 1
    await flooded(bot_api, worker, clock, "sendMessage", wait=60)
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await step(worker)
    [row] = await store.run(Store.notices, CHAT)
    assert row["state"] == "pending" and "Bad Gateway" in row["last_error"]
    clock.now += timedelta(seconds=2)
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    [sent] = bot_api.sent_messages(CHAT)
    assert sent["text"] == "Maintenance at 22:00 UTC."


async def test_flood_control_on_a_digest_holds_no_send_slot_and_no_stop(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """A digest met by 429 "retry after 30" goes back to the outbox for its chat's hold, as an
    alert does: it does not sleep in its send slot, retrying, while a stop waits for it."""
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    bot_api.fail_retry_after("sendMessage", 30, chat_id=CHAT, times=10)
    running = asyncio.create_task(worker.run())
    await bot_api.wait_for_async(lambda: bot_api.calls_of("sendMessage"), 10, "the digest")
    worker.stop()
    await asyncio.wait_for(running, 10)  # the daemon's promise: stopped within 10 s
    assert len(bot_api.calls_of("sendMessage")) == 1
    rows = await outbox(store)
    assert [row[1:3] for row in rows] == [("pending", 0)] * 2  # no try spent
    assert all("Flood control" in (row[3] or "") for row in rows)


async def test_a_chat_that_blocks_the_bot_mid_queue_is_sent_nothing_more(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """Its first refusal (403) is the last request: not its queued broadcast, not the "Also:"
    update of an alert it had, not a follow-up of a story it follows."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await step(worker)

    def story(plain: Store) -> int:
        return int(plain.db.execute("SELECT story_id FROM outbox").fetchone()[0])

    await store.run(Store.control_story, CHAT, await store.run(story), "follow", now=T0)
    await queue_at(store, T0 + timedelta(minutes=1), "2")
    await store.run(Store.broadcast, "Maintenance at 22:00 UTC.", now=T0)
    bot_api.fail_blocked(CHAT)  # the user blocks the bot
    clock.now = T0 + timedelta(minutes=2)
    await another_outlet(store, clock.now)  # an "Also:" update and a follow-up due
    for _ in range(5):
        clock.now += timedelta(minutes=10)
        worker.limits = SendLimits(NO_LIMITS)
        await step(worker)
    await nhk_joins(store, clock.now)  # more of the story while it is away
    for _ in range(5):
        clock.now += timedelta(minutes=10)
        worker.limits = SendLimits(NO_LIMITS)
        await step(worker)
    refused = [c for c in bot_api.calls if c.params.get("chat_id") == CHAT and not c.ok]
    assert len(refused) == 1 and refused[0].status == 403
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and not subscriber.active
    # back (unblocked, /start): its alert is brought up to date, as it would have been
    bot_api.unblock(CHAT)
    assert await store.run(Store.upsert_subscriber, CHAT, now=clock.now)
    await step(worker)
    [edit] = [c for c in bot_api.calls_of("editMessageText") if c.ok]
    assert "Also: KYODO, NHK" in edit.params["text"]


async def test_a_broadcast_refused_as_blocked_marks_the_chat_gone(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    store, worker, _ = parts
    for chat in (CHAT, CHAT + 1):
        await store.run(Store.upsert_subscriber, chat, now=T0)
    bot_api.fail_blocked(CHAT)  # blocked the bot long ago, and no alert has said so yet
    await store.run(Store.broadcast, "Maintenance at 22:00 UTC.", now=T0)
    await step(worker)
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and not subscriber.active
    assert [n["state"] for n in await store.run(Store.notices, CHAT)] == ["dropped"]
    assert await store.run(Store.broadcast, "Back at 23:00 UTC.", now=T0) == 1
    await step(worker)
    assert len([c for c in bot_api.calls if c.params.get("chat_id") == CHAT]) == 1
    assert len(bot_api.sent_messages(CHAT + 1)) == 2


async def test_a_flood_hold_outlasts_a_restart_and_the_chats_alerts_keep_their_order(
    parts: tuple[AsyncStore, DeliveryWorker, Clock], bot_api: FakeBotAPI
) -> None:
    """429 "retry after 3600" on a chat's first alert, then a restart: the hold was in memory
    only, so the new worker sent the chat's second alert at once (into the flood again, and
    before the first, which waited for its own retry)."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await queue_at(store, T0, "2")
    bot_api.fail_retry_after("sendMessage", 3600, chat_id=CHAT)
    assert await step(worker) == 1
    assert bot_api.sent_messages(CHAT) == []
    restarted = DeliveryWorker(store, worker.bot, settings=worker.settings, clock=clock)
    assert await store.run(Store.requeue_inflight) == 0
    clock.now += timedelta(minutes=30)
    assert await step(restarted) == 0  # still held
    assert await store.run(Store.next_due_at) == T0 + timedelta(seconds=3600)
    clock.now = T0 + timedelta(seconds=3600)
    for _ in range(2):
        assert await step(restarted) == 1
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert len(texts) == 2 and "Iturup" in texts[0] and "Shikotan story 2" in texts[1]
