"""The delivery worker against the fake Bot API: every Telegram failure keeps the alert."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.config import ChannelConfig
from bot.delivery.limits import DeliverySettings, Limits, SendLimits
from bot.delivery.worker import DeliveryWorker
from bot.telegram.updates import connection
from store import AsyncStore, FeedState, ItemRecord, Store
from tests.conftest import TOKEN, Clock, connections, handler_on, new_store, short_busy_timeout
from tests.fakes.telegram_api import FakeBotAPI

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CHAT = 1001
GROUP = -2002
ADMIN = 7007
NO_LIMITS = Limits(per_second=1000, private_per_second=1000, private_burst=10, group_per_minute=1e4)
FAST = DeliverySettings(limits=NO_LIMITS, admins=(ADMIN,))


@pytest.fixture
async def parts(
    tmp_path: Path, bot_api: FakeBotAPI
) -> AsyncIterator[tuple[AsyncStore, DeliveryWorker, Clock]]:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=clock)
        yield store, worker, clock
    await store.close()


async def queue(store: AsyncStore, chat_id: int | list[int], guid: str = "1") -> None:
    for chat in chat_id if isinstance(chat_id, list) else [chat_id]:
        await store.run(Store.upsert_subscriber, chat, now=T0 - timedelta(1))
        await store.run(Store.subscribe, chat, "kuril", now=T0 - timedelta(1))
    record = ItemRecord(
        guid=guid,
        link=f"https://n.example/{guid}",
        canonical_url=f"https://n.example/{guid}",
        title="Iturup <airport> & port",
        summary="Flights resume.",
        published_at=T0,
        topics=("kuril",),
    )
    await store.run(Store.ingest, FeedState(id="f", url="u"), [record], now=T0, alert=True)


async def configured(worker: DeliveryWorker, channel: ChannelConfig) -> int:
    """The config's channel entry applied (as at a start or reload, a day before T0); its id."""
    from bot.telegram.channels import add_channels

    await add_channels(worker.bot, worker.store, (channel,), now=T0 - timedelta(1))
    return (await worker.bot.get_chat(channel.chat)).id


async def two_for_a_daily_digest(store: AsyncStore, chat_id: int) -> None:
    """Two alerts queued for a chat that takes a digest at 18:00 Tokyo time (09:00 UTC)."""
    await queue(store, chat_id, "1")
    await store.run(Store.set_prefs, chat_id, now=T0, digest="daily 18:00", timezone="Asia/Tokyo")
    await queue(store, chat_id, "2")


async def step(worker: DeliveryWorker) -> int:
    """One pass of the worker, its sends awaited: the number of sends started."""
    started = await worker.send_due()
    await worker.drain()
    return started


async def outbox(store: AsyncStore) -> list[tuple[int, str, int, str | None]]:
    def rows(s: Store) -> list[tuple[int, str, int, str | None]]:
        return [
            (r["chat_id"], r["state"], r["attempts"], r["last_error"])
            for r in s.db.query("SELECT * FROM outbox ORDER BY id")
        ]

    return await store.run(rows)


async def test_sent_alert_is_html_and_marked_sent(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    assert await step(worker) == 1
    [message] = bot_api.sent_messages(CHAT)
    assert message["parse_mode"] == "HTML"
    assert "Iturup &lt;airport&gt; &amp; port" in message["text"]
    assert message["link_preview_options"] == {"is_disabled": True}
    assert await outbox(store) == [(CHAT, "sent", 1, None)]
    assert await step(worker) == 0


async def test_flood_control_waits_and_resends_the_same_message(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT)
    bot_api.fail_retry_after("sendMessage", 3, chat_id=CHAT)
    assert await step(worker) == 1
    [(chat, state, attempts, error)] = await outbox(store)
    # a 429 is no try of the alert's: its tries are kept for errors (see test_delivery_floods)
    assert (chat, state, attempts) == (CHAT, "pending", 0) and "429" in (error or "")
    assert await step(worker) == 0  # not due before retry_after has passed
    clock.now += timedelta(seconds=3)
    worker.limits = SendLimits(NO_LIMITS)  # the event loop's pause for the chat has passed too
    assert await step(worker) == 1
    assert len(bot_api.sent_messages(CHAT)) == 1
    assert await outbox(store) == [(CHAT, "sent", 1, None)]


async def test_blocked_chat_becomes_inactive_and_alerts_are_kept_as_dropped(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT, "1")
    await queue(store, CHAT, "2")
    bot_api.fail_blocked(CHAT)
    await step(worker)
    assert len(bot_api.calls_of("sendMessage")) == 1  # no retry storm
    assert [row[1] for row in await outbox(store)] == ["dropped", "dropped"]
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and not subscriber.active


async def test_chat_not_found_is_like_blocked(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["dropped"]


async def test_migrated_group_moves_and_gets_the_alert(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, GROUP)
    bot_api.migrate_chat(GROUP, -1009999)
    await step(worker)
    await step(worker)
    assert len(bot_api.sent_messages(-1009999)) == 1
    assert await store.run(Store.subscriptions, -1009999) == ["kuril"]
    assert await outbox(store) == [(-1009999, "sent", 2, None)]


async def test_a_migrated_group_already_subscribed_under_its_new_id_gets_the_alert_once(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, [GROUP, -1009999])  # the new supergroup subscribed on its own too
    bot_api.migrate_chat(GROUP, -1009999)
    for _ in range(4):
        await step(worker)
    assert len(bot_api.sent_messages(-1009999)) == 1
    assert len(bot_api.calls_of("sendMessage")) == 2  # the old id once, never again
    states = sorted((chat, state) for chat, state, _, _ in await outbox(store))
    assert states == [(-1009999, "sent"), (GROUP, "dropped")]


async def test_an_update_to_a_migrated_group_moves_the_chat_and_is_not_retried(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, GROUP)
    await step(worker)
    worker.limits = SendLimits(NO_LIMITS)  # the group's pause after the send has passed
    bot_api.migrate_chat(GROUP, -1009999)
    again = ItemRecord(
        "kyodo-1", "https://n.example/1", "https://n.example/1", "Iturup port", "x", T0, ("kuril",)
    )
    other = FeedState(id="kyodo", url="u2", title="Kyodo")
    await store.run(Store.ingest, other, [again], now=T0 + timedelta(hours=1), alert=True)
    for _ in range(3):
        await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 1  # not retried in a loop
    assert await store.run(Store.subscriptions, -1009999) == ["kuril"]
    assert await store.run(Store.subscriptions, GROUP) == []
    assert [row[0] for row in await outbox(store)] == [-1009999]


async def test_an_update_after_the_group_moved_never_edits_a_message_of_the_supergroup(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """The service message moved the group (chat.py `migrated`): its sent alert stayed in the old
    group's history, under a message id that means another message in the supergroup."""
    store, worker, _ = parts
    await queue(store, GROUP, "1")
    await step(worker)  # the group's message 1
    worker.limits = SendLimits(NO_LIMITS)
    await store.run(Store.migrate_chat, GROUP, -1009999, now=T0)
    other = ItemRecord(
        "2", "https://n.example/2", "https://n.example/2", "Habomai fishing quota", "y", T0,
        ("kuril",),
    )  # fmt: skip
    await store.run(Store.ingest, FeedState(id="f", url="u"), [other], now=T0, alert=True)
    await step(worker)  # the supergroup's message 1
    before = bot_api.calls_of("sendMessage")[-1].response["result"]
    assert before["message_id"] == 1  # as the group's alert
    again = ItemRecord(
        "kyodo-1", "https://n.example/1", "https://n.example/1", "Iturup port", "x", T0, ("kuril",)
    )
    kyodo = FeedState(id="kyodo", url="u2", title="Kyodo")
    await store.run(Store.ingest, kyodo, [again], now=T0 + timedelta(hours=1), alert=True)
    for _ in range(2):
        await step(worker)
    shown = bot_api.message(-1009999, before["message_id"])
    assert shown is not None and shown["text"] == before["text"]  # not rewritten as story 1
    assert bot_api.calls_of("editMessageText") == []


async def test_a_followed_storys_reply_after_the_group_moved_replies_to_nothing_there(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, GROUP, "1")
    await step(worker)  # the group's message 1, its story followed
    worker.limits = SendLimits(NO_LIMITS)
    await store.run(Store.control_story, GROUP, 1, "follow", now=T0)
    again = ItemRecord(
        "kyodo-1", "https://n.example/1", "https://n.example/1", "Iturup port", "x", T0, ("kuril",)
    )
    kyodo = FeedState(id="kyodo", url="u2", title="Kyodo")
    await store.run(Store.ingest, kyodo, [again], now=T0 + timedelta(hours=1), alert=True)
    bot_api.upgrade_group(GROUP, -1009999, user_id=CHAT)  # the supergroup's message 1
    await store.run(Store.migrate_chat, GROUP, -1009999, now=T0)  # as its service message does
    clock.now = T0 + timedelta(hours=1)
    await step(worker)
    [reply] = bot_api.sent_messages(-1009999)
    assert "Iturup port" in reply["text"]
    assert "reply_parameters" not in reply  # not a reply to the supergroup's first message


async def test_a_followed_storys_report_after_the_group_moved_still_reaches_the_supergroup(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """The moved alert names no message (its id is the old group's): a further report of the
    story the chat follows was then not queued at all, as for an alert not yet sent."""
    store, worker, clock = parts
    await queue(store, GROUP, "1")
    await step(worker)  # the group's message 1, its story followed
    worker.limits = SendLimits(NO_LIMITS)
    await store.run(Store.control_story, GROUP, 1, "follow", now=T0)
    bot_api.upgrade_group(GROUP, -1009999, user_id=CHAT)
    await store.run(Store.migrate_chat, GROUP, -1009999, now=T0)
    again = ItemRecord(
        "kyodo-1", "https://n.example/1", "https://n.example/1", "Iturup port", "x", T0, ("kuril",)
    )
    kyodo = FeedState(id="kyodo", url="u2", title="Kyodo")
    await store.run(Store.ingest, kyodo, [again], now=T0 + timedelta(hours=1), alert=True)
    clock.now = T0 + timedelta(hours=1)
    await step(worker)
    [reply] = bot_api.sent_messages(-1009999)
    assert "Iturup port" in reply["text"]
    assert "reply_parameters" not in reply


async def test_a_digest_to_a_migrated_group_is_sent_to_the_new_id(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await two_for_a_daily_digest(store, GROUP)
    bot_api.migrate_chat(GROUP, -1009999)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)  # refused: the group moved
    assert bot_api.sent_messages(-1009999) == []
    await step(worker)
    [digest] = bot_api.sent_messages(-1009999)
    assert "2 stories" in digest["text"]
    assert [row[:2] for row in await outbox(store)] == [(-1009999, "sent")] * 2


async def test_a_topic_unsubscribed_while_its_alerts_wait_for_the_digest_is_not_in_it(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    await store.run(Store.subscribe, CHAT, "peace-treaty", now=T0)
    both = ItemRecord(
        "3", "https://n.example/3", "https://n.example/3", "Kuril peace treaty talks", "z", T0,
        ("kuril", "peace-treaty"),
    )  # fmt: skip
    await store.run(Store.ingest, FeedState(id="f", url="u"), [both], now=T0, alert=True)
    assert await step(worker) == 0  # held for 18:00 Tokyo time
    assert await store.run(Store.unsubscribe, CHAT, "kuril")  # at noon: no more of it
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    # before, the digest brought both kuril stories, hours after the chat left the topic
    [message] = bot_api.sent_messages(CHAT)
    assert "Kuril peace treaty talks" in message["text"] and "Iturup" not in message["text"]
    assert "#kuril" not in message["text"]
    rows = [(state, error) for _, state, _, error in await outbox(store)]
    assert rows == [("dropped", "unsubscribed")] * 2 + [("sent", None)]


async def test_a_watch_removed_while_its_alert_waits_for_the_digest_takes_the_alert_with_it(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await store.run(Store.upsert_subscriber, CHAT, now=T0 - timedelta(1))
    await store.run(Store.set_prefs, CHAT, now=T0, digest="daily 18:00", timezone="Asia/Tokyo")
    watch = await store.run(Store.add_watch, CHAT, "Iturup", now=T0 - timedelta(1), limit=10)
    assert watch is not None
    record = ItemRecord(
        "1", "https://n.example/1", "https://n.example/1", "Iturup port", "x", T0,
        (f"@w{watch.id}",),
    )  # fmt: skip
    await store.run(Store.ingest, FeedState(id="f", url="u"), [record], now=T0, alert=True)
    assert await step(worker) == 0  # held for 18:00 Tokyo time
    assert await store.run(Store.remove_watch, CHAT, 1) is not None  # /unwatch 1 at noon
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    assert bot_api.sent_messages(CHAT) == []  # before, the digest brought it all the same
    assert [(state, error) for _, state, _, error in await outbox(store)] == [
        ("dropped", "watch removed")
    ]


async def test_a_configured_channel_speaks_the_language_the_config_gives_it(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """No member of a channel sends it a /language: the operator says which it speaks."""
    store, worker, _ = parts
    channel = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",), language="ru")
    chat_id = await configured(worker, channel)
    await queue(store, [], "1")
    await step(worker)
    [alert] = bot_api.sent_messages(chat_id)
    buttons = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
    assert "🔔 Следить" in buttons and "нояб." in alert["text"]  # not Nov


async def test_a_chat_the_config_lists_by_its_name_and_its_id_keeps_the_first_entry(
    parts, bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """The config cannot tell that @name and an id are one chat: the second entry silently
    replaced the first's topics and language. The first is kept, and the error names both."""
    from bot.telegram.channels import add_channels

    store, worker, _ = parts
    chat_id = (await worker.bot.get_chat("@kurilnews_ru")).id
    first = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",), language="ru")
    again = ChannelConfig(chat=str(chat_id), topics=("peace-treaty",), language="ja")
    with caplog.at_level(logging.ERROR, logger="bot.telegram.channels"):
        await add_channels(worker.bot, store, (first, again), now=T0 - timedelta(1))
    assert await store.run(Store.subscriptions, chat_id) == ["kuril"]
    assert await store.run(Store.language, chat_id) == "ru"
    [said] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert f"channel {chat_id} is chat {chat_id}" in said and "@kurilnews_ru" in said


@pytest.mark.parametrize("timed_out", ["first", "second"])
async def test_a_chat_listed_twice_keeps_the_first_entry_when_one_is_tried_again(
    parts, bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture, timed_out: str
) -> None:  # type: ignore[no-untyped-def]
    """@name and the chat's id both listed, one of them tried again after a 5xx: the retry
    knew nothing of the entry recorded before it, and the second entry's topics replaced the
    first's, without a word."""
    from bot.telegram.channels import Channels

    store, worker, _ = parts
    chat_id = (await worker.bot.get_chat("@kurilnews_ru")).id
    first = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    again = ChannelConfig(chat=str(chat_id), topics=("peace-treaty",))
    bot_api.fail_next(
        "getChat",
        status=500,
        description="Internal Server Error",
        chat_id=chat_id,
        after=0 if timed_out == "first" else 1,
    )
    channels = Channels(first=0.01)
    with caplog.at_level(logging.ERROR, logger="bot.telegram.channels"):
        await channels.add(worker.bot, store, (first, again))
        async with asyncio.timeout(10):
            await channels.settled()
    assert await store.run(Store.subscriptions, chat_id) == ["kuril"]
    [said] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        f"channel {chat_id} is chat {chat_id}, which the config also lists as @kurilnews_ru" in said
    )


def _fail_get_chat(bot_api: FakeBotAPI, fault: str) -> None:
    if fault == "timeout":
        bot_api.stall_next("getChat", 1.0)  # the bot gives up after 0.3 s
    elif fault == "gateway":
        bot_api.fail_gateway("getChat", times=2)
    elif fault == "server":
        bot_api.fail_next("getChat", status=500, description="Internal Server Error", times=2)
    else:
        bot_api.fail_retry_after("getChat", 1)


@pytest.mark.parametrize("fault", ["timeout", "gateway", "server", "flood"])
async def test_a_channel_telegram_could_not_be_asked_about_is_tried_again_until_recorded(
    tmp_path: Path, bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    """getChat ran once per channel, at the start and at a reload that changed the channels: a
    timeout, a 5xx or a 429 was read as "is the bot an admin there?", and the channel was
    skipped until a restart (months of no alerts)."""
    from bot.telegram.channels import Channels

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    news = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    talks = ChannelConfig(chat="@treaty_talks", topics=("peace-treaty",))
    channels = Channels(first=0.01)
    _fail_get_chat(bot_api, fault)
    request = connection(read_timeout=0.3)
    async with Bot(
        TOKEN, base_url=bot_api.base_url, request=request, get_updates_request=connection(1)
    ) as bot:
        with caplog.at_level(logging.WARNING, logger="bot.telegram.channels"):
            await channels.add(bot, store, (news, talks))
            if fault == "flood":  # the other channel waits too, unasked
                assert len(bot_api.calls_of("getChat")) == 1
            async with asyncio.timeout(10):
                await channels.settled()
        for channel in (news, talks):
            chat_id = (await bot.get_chat(channel.chat)).id
            assert await store.run(Store.subscriptions, chat_id) == list(channel.topics)
    said = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.channels"]
    assert said and all("Telegram unreachable" in line and len(line) < 300 for line in said)
    await store.close()


async def test_overlapping_adds_of_the_channels_leave_one_retry_the_later_configs(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A reload's add beside the start's: each began a retry of its channels, the later one
    replacing the earlier in `Channels`, so `stop` could not cancel the earlier, and it wrote
    the old config's channels until they were recorded."""
    from bot.telegram.channels import Channels

    store, worker, _ = parts
    down = (await worker.bot.get_chat("@treaty_talks")).id
    bot_api.fail_next("getChat", status=500, description="Internal Server Error", times=2)
    channels = Channels(first=3600)  # the retries wait: the test sees them, not what they do
    old = ChannelConfig(chat="@treaty_talks", topics=("kuril",))
    new = ChannelConfig(chat="@treaty_talks", topics=("peace-treaty",))
    await asyncio.gather(
        channels.add(worker.bot, store, (old,)), channels.add(worker.bot, store, (new,))
    )
    channels.stop()
    retrying = [t for t in asyncio.all_tasks() if t.get_name() == "channels" and not t.cancelling()]
    for task in retrying:
        task.cancel()
    assert retrying == []
    assert [c.params["chat_id"] for c in bot_api.calls_of("getChat")][-2:] == ["@treaty_talks"] * 2
    assert await store.run(Store.subscriptions, down) == []


async def test_a_channel_met_by_flood_control_is_tried_again_when_telegram_says(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """After a 429 the channels waited the retry's own 30 s (up to 30 minutes later), not the
    retry_after Telegram gave."""
    from bot.telegram.channels import Channels

    store, worker, _ = parts
    bot_api.fail_retry_after("getChat", 1)
    channels = Channels(first=3600)  # our own wait: never, within the test
    news = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    await channels.add(worker.bot, store, (news,))
    async with asyncio.timeout(30):
        await channels.settled()
    chat_id = (await worker.bot.get_chat(news.chat)).id
    assert await store.run(Store.subscriptions, chat_id) == ["kuril"]


async def test_a_channel_telegram_refuses_is_not_tried_again(
    parts, bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from bot.telegram.channels import Channels

    store, worker, _ = parts
    bot_api.fail_next("getChat", status=403, description="Forbidden: bot is not a member")
    channels = Channels(first=0.01)
    with caplog.at_level(logging.ERROR, logger="bot.telegram.channels"):
        await channels.add(
            worker.bot, store, (ChannelConfig(chat="@kurilnews_ru", topics=("kuril",)),)
        )
        await channels.settled()
    assert len(bot_api.calls_of("getChat")) == 1
    [said] = [r.getMessage() for r in caplog.records if r.name == "bot.telegram.channels"]
    assert "is the bot an admin there?" in said


async def test_a_channel_whose_language_is_removed_from_the_config_writes_english_again(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A reload applies the config's channels again: a `language:` taken out is one no more
    (the channel kept writing Russian, although a channel without one writes English)."""

    store, worker, _ = parts
    russian = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",), language="ru")
    await configured(worker, russian)
    plain = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    chat_id = await configured(worker, plain)
    await queue(store, [], "1")
    await step(worker)
    [alert] = bot_api.sent_messages(chat_id)
    buttons = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
    assert "🔔 Follow this story" in buttons and "#kuril" in alert["text"]


async def test_a_configured_channel_mutes_the_sources_the_config_gives_it_until_removed(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """No one in a channel can press /sources' buttons: the config says which feeds to mute."""
    store, worker, _ = parts
    muted = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",), muted_sources=("f",))
    chat_id = await configured(worker, muted)
    assert await store.run(Store.muted_sources, chat_id) == ["f"]
    await queue(store, [], "1")
    await step(worker)
    assert bot_api.sent_messages(chat_id) == []
    plain = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    await configured(worker, plain)
    assert await store.run(Store.muted_sources, chat_id) == []
    await queue(store, [], "2")
    await step(worker)
    assert len(bot_api.sent_messages(chat_id)) == 1


def test_a_group_keeps_its_admins_muted_sources_unless_the_config_names_some() -> None:
    from bot.telegram.channels import channel_muted

    plain = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    named = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",), muted_sources=("tass", "nhk"))
    assert channel_muted(plain, is_channel=False) is None
    assert channel_muted(plain, is_channel=True) == ()
    assert channel_muted(named, is_channel=False) == ("nhk", "tass")


async def test_a_configured_channel_takes_the_digest_the_config_gives_it_until_it_is_removed(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    from bot.telegram.channels import add_channels

    store, worker, clock = parts
    channel = ChannelConfig(
        chat="@kurilnews_ru", topics=("kuril",), timezone="Asia/Tokyo", digest="daily 18:00"
    )
    chat_id = await configured(worker, channel)
    await queue(store, [], "1")
    await queue(store, [], "2")
    assert await step(worker) == 0  # 21:00 in Tokyo: held for tomorrow's 18:00
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    assert await step(worker) == 1
    [digest] = bot_api.sent_messages(chat_id)
    assert digest["text"].startswith("<b>Digest</b> · 2 stories")
    plain = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    await add_channels(worker.bot, store, (plain,), now=clock.now)
    prefs = await store.run(Store.prefs, chat_id)
    assert (prefs.timezone, prefs.digest, prefs.quiet) == (None, "", "")


async def test_a_configured_channel_gets_only_the_news_languages_the_config_gives_it(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """No one in a channel can send /lang: `news_languages` says it; taken out, every one."""
    store, worker, _ = parts
    russian = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",), news_languages=("ru",))
    chat_id = await configured(worker, russian)

    async def english(guid: str) -> None:
        link = f"https://n.example/{guid}"
        record = ItemRecord(guid, link, link, f"Iturup port {guid}", "x", T0, ("kuril",), lang="en")
        await store.run(Store.ingest, FeedState(id="f", url="u"), [record], now=T0, alert=True)

    await english("1")
    assert await step(worker) == 0
    assert bot_api.sent_messages(chat_id) == []
    every = ChannelConfig(chat="@kurilnews_ru", topics=("kuril",))
    await configured(worker, every)
    assert (await store.run(Store.prefs, chat_id)).news_langs == ()
    await english("2")
    assert await step(worker) == 1


async def test_unparsable_html_is_resent_as_plain_text(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    bot_api.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: can't parse entities: unsupported start tag",
    )
    await step(worker)
    [message] = bot_api.sent_messages(CHAT)
    assert message.get("parse_mode") is None
    assert message["text"].startswith("Iturup <airport> & port")
    assert [row[1] for row in await outbox(store)] == ["sent"]


async def test_a_digest_in_html_telegram_cannot_parse_is_resent_as_plain_text(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    bot_api.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: can't parse entities: unsupported start tag",
    )
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    [message] = bot_api.sent_messages(CHAT)
    assert message.get("parse_mode") is None and "2 stories" in message["text"]
    assert message["text"].count("Iturup <airport> & port https://n.example/") == 2
    assert "<b>" not in message["text"]
    assert [row[1] for row in await outbox(store)] == ["sent", "sent"]


async def test_server_errors_retry_with_backoff_until_the_deadline(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT)
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway", times=2)
    await step(worker)
    [(_, state, attempts, error)] = await outbox(store)
    assert (state, attempts) == ("pending", 1) and "Bad Gateway" in (error or "")
    assert await step(worker) == 0  # backing off
    clock.now += timedelta(seconds=2)
    await step(worker)
    assert [row[1:3] for row in await outbox(store)] == [("pending", 2)]
    # a day of its own retries (every backoff waited, each try failing): failed, kept
    tries = 2
    while (rows := await outbox(store))[0][1] == "pending":
        clock.now += timedelta(minutes=10)
        bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
        await step(worker)
        tries += 1
    assert (
        rows[0][1] == "failed" and 140 < tries < 160 and "retried for 1 day" in (rows[0][3] or "")
    )
    assert bot_api.sent_messages(CHAT) == []


async def test_a_proxys_error_page_is_retried_and_recorded_in_a_line(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT)
    page = "<html><head><style>" + "body{margin:0} " * 2000 + "</style></head></html>"
    bot_api.fail_gateway("sendMessage", status=502, page=page)  # Telegram down behind a CDN
    await step(worker)
    [(_, state, _, error)] = await outbox(store)
    assert state == "pending" and (error or "").startswith("NetworkError: Bad Gateway (502)")
    assert len(error or "") <= 300
    clock.now += timedelta(seconds=2)
    await step(worker)
    assert len(bot_api.sent_messages(CHAT)) == 1
    assert [row[1] for row in await outbox(store)] == ["sent"]


async def test_an_alert_held_for_days_is_not_given_up_at_its_first_error(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """Held by /mute 2d (or queued before an outage): its deadline counts its own retries."""
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await store.run(Store.set_prefs, CHAT, now=T0, muted_until=T0 + timedelta(days=2))
    assert await step(worker) == 0
    clock.now = T0 + timedelta(days=2, seconds=1)
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["pending"]
    clock.now += timedelta(seconds=2)
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["sent"]


async def test_more_outlets_edit_the_sent_alert_not_a_new_message(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _clock = parts
    await queue(store, CHAT)
    await step(worker)
    [_sent] = bot_api.sent_messages(CHAT)
    again = ItemRecord(
        guid="other-1",
        link="https://n.example/1?utm_source=rss",
        canonical_url="https://n.example/1",
        title="Iturup airport and port reopen",
        summary="Flights resume.",
        published_at=T0,
        topics=("kuril",),
    )
    other = FeedState(id="kyodo", url="u2", title="Kyodo")
    await store.run(Store.ingest, other, [again], now=T0 + timedelta(hours=2), alert=True)
    await step(worker)
    [edit] = bot_api.calls_of("editMessageText")
    assert edit.params["message_id"] == sent_message_id(bot_api, CHAT)
    assert "Also: Kyodo" in edit.params["text"] and edit.status == 200
    assert len(bot_api.sent_messages(CHAT)) == 1
    await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 1  # done once
    late = FeedState(id="nhk", url="u3", title="NHK")
    await store.run(
        Store.ingest,
        late,
        [ItemRecord("nhk-1", again.link, again.canonical_url, "x", "y", T0, ("kuril",))],
        now=T0 + timedelta(hours=50),
        alert=True,
    )
    await step(worker)
    assert len(bot_api.calls_of("editMessageText")) == 1  # past 48 hours: left as it is


async def test_an_update_refused_for_the_token_waits_before_it_is_tried_again(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    await step(worker)
    again = ItemRecord(
        "kyodo-1", "https://n.example/1", "https://n.example/1", "Iturup port", "x", T0, ("kuril",)
    )
    other = FeedState(id="kyodo", url="u2", title="Kyodo")
    await store.run(Store.ingest, other, [again], now=T0 + timedelta(hours=1), alert=True)
    # the token revoked at @BotFather while the daemon runs: PTB raises InvalidToken
    bot_api.fail_next("editMessageText", status=401, description="Unauthorized", times=3)
    for _ in range(3):
        await step(worker)
    assert len(bot_api.calls_of("editMessageText")) <= 1  # not retried in a loop
    worker.limits = SendLimits(NO_LIMITS)  # the chat's pause has passed
    await step(worker)
    assert len(bot_api.calls_of("editMessageText")) <= 2  # but tried again after it


def sent_message_id(api: FakeBotAPI, chat_id: int) -> int:
    [call] = [c for c in api.calls_of("sendMessage") if c.params["chat_id"] == chat_id and c.ok]
    return int(call.response["result"]["message_id"])


async def test_sends_run_concurrently_up_to_the_setting_and_in_order_within_a_chat(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    chats = [CHAT + n for n in range(6)]
    for guid in ("1", "2"):
        await queue(store, chats, guid)
    bot_api.latency = 0.2
    settings = replace(FAST, concurrency=3)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=settings)
        task = asyncio.create_task(worker.run())
        await bot_api.wait_for_async(lambda: len(bot_api.sent_messages()) == 12, 10, "12 alerts")
        worker.stop()
        await task
    await store.close()
    assert bot_api.max_in_flight == 3
    for chat in chats:
        links = [m["text"].split('href="')[1].split('"')[0] for m in bot_api.sent_messages(chat)]
        assert links == ["https://n.example/1", "https://n.example/2"]


async def test_a_timed_out_send_is_retried_and_may_arrive_twice(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    await queue(store, CHAT)
    bot_api.stall_next("sendMessage", 1.0)
    request = connection(read_timeout=0.3)
    async with Bot(
        TOKEN,
        base_url=bot_api.base_url,
        request=request,
        get_updates_request=connection(pool_size=1),
    ) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=clock)
        assert await step(worker) == 1
        [(_, state, attempts, error)] = await outbox(store)
        assert (state, attempts) == ("pending", 1) and "TimedOut" in (error or "")
        clock.now += timedelta(seconds=2)
        assert await step(worker) == 1
    await bot_api.wait_for_async(
        lambda: len(bot_api.sent_messages(CHAT)) == 2, 5, "the stalled send"
    )
    assert [row[1:3] for row in await outbox(store)] == [("sent", 2)]
    await store.close()


async def test_admins_are_told_of_alerts_given_up(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["failed"]
    await step(worker)
    [notice] = bot_api.sent_messages(ADMIN)
    assert "could not be delivered and were given up: 1" in notice["text"]
    assert f"chat {CHAT}" in notice["text"] and "Message is too long" in notice["text"]
    assert notice.get("parse_mode") is None
    [row] = await store.run(Store.notices, ADMIN)
    assert row["state"] == "sent"
    assert await step(worker) == 0  # told once


async def admins_reading(
    store: AsyncStore, worker: DeliveryWorker, langs: tuple[str, ...] = ("ru", "ja")
) -> list[int]:
    """Admins who read Russian and Japanese (`langs`), each the worker's; their ids."""
    admins = [ADMIN + 1 + n for n in range(len(langs))]
    worker.settings = replace(worker.settings, admins=tuple(admins))
    for admin, lang in zip(admins, langs, strict=True):
        await store.run(Store.upsert_subscriber, admin, now=T0, language_code=lang)
    return admins


async def test_the_admins_read_the_alerts_given_up_in_their_language(  # type: ignore[no-untyped-def]
    parts, bot_api: FakeBotAPI
) -> None:
    """The notice of the alerts given up was translated but for its lines, English in any
    language ("- chat 2001, alert 1 (...): ..."), and the lines past ten were "... +2". Now
    only the alert's title and Telegram's own words stay as they came (after what they mean,
    said in the admin's language: they read "400: Message is too long" alone), and the lines
    past ten are counted in the admin's plural form."""
    store, worker, _ = parts
    ru, ja = await admins_reading(store, worker)
    chats = list(range(2001, 2013))
    await queue(store, chats)
    too_long = "Bad Request: message is too long"
    for chat in chats:
        bot_api.fail_next("sendMessage", status=400, description=too_long, chat_id=chat)
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["failed"] * 12
    await step(worker)
    [russian] = [m["text"].splitlines() for m in bot_api.sent_messages(ru)]
    [japanese] = [m["text"].splitlines() for m in bot_api.sent_messages(ja)]
    assert russian[0].startswith("kurilwatch: оповещения, которые так и не удалось доставить") and (
        ": 12 (" in russian[0]
    )
    title, error = re.escape("Iturup <airport> & port"), "400: Message is too long"
    # what Telegram's words mean in the admin's language, and the words themselves after it
    meaning = rf"сообщение длиннее, чем позволяет Telegram \(ответ Telegram: {error}\)"
    for line in russian[1:11]:
        assert re.fullmatch(rf"- чат 20\d\d, оповещение \d+ \({title}\): {meaning}", line), line
    assert russian[11:] == ["… и ещё 2 сбоя"]
    meaning = rf"メッセージが Telegram の許す長さを超えています（Telegram: {error}）"
    for line in japanese[1:11]:
        assert re.fullmatch(rf"- チャット 20\d\d、通知 \d+（{title}）: {meaning}", line), line
    assert japanese[11:] == ["…ほか2件"]


async def test_a_notice_reaches_each_admin_in_their_language(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await store.run(Store.upsert_subscriber, ADMIN, now=T0, language_code="ja")
    await store.run(Store.upsert_subscriber, CHAT, now=T0, language_code="ru")
    worker.settings = replace(FAST, admins=(ADMIN, CHAT))
    message = "kurilwatch: config not reloaded ({problems}); the running config stays."
    await store.run(
        Store.notify_admins,
        message.format(problems="feeds[0].url: bad"),
        now=T0,
        msgid=message,
        values={"problems": "feeds[0].url: bad"},
    )
    await step(worker)
    await step(worker)
    [ja] = bot_api.sent_messages(ADMIN)
    [ru] = bot_api.sent_messages(CHAT)
    assert "設定を再読込できませんでした（feeds[0].url: bad）" in ja["text"]
    assert "конфигурация не перечитана (feeds[0].url: bad)" in ru["text"]


async def test_a_notice_of_a_count_reads_in_its_form_in_each_admin_s_language(  # type: ignore[no-untyped-def]
    parts, bot_api: FakeBotAPI
) -> None:
    """A stored notice held one msgid: the reload report said "over the last 1 days", and in
    Russian "за последние 1 дн."; it now keeps its plural msgid and the value that counts."""
    from bot.i18n import EN, msgids, stored
    from bot.operator.backtest import reload_notice
    from watchers.backtest import TopicDiff

    store, worker, _ = parts
    await store.run(Store.upsert_subscriber, CHAT, now=T0, language_code="ru")
    worker.settings = replace(FAST, admins=(ADMIN, CHAT))
    for window in (timedelta(days=1), timedelta(days=5), timedelta(hours=36)):
        message, values = reload_notice([TopicDiff("kuril", "changed")], window)
        msgid, plural, counted = msgids(message)
        text = EN.said(message, values)
        await store.run(
            Store.notify_admins,
            text,
            now=T0,
            msgid=msgid,
            values=stored(values),
            plural=plural,
            counted=counted,
        )
    await step(worker)
    await step(worker)
    await step(worker)
    en = [m["text"] for m in bot_api.sent_messages(ADMIN)]
    ru = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert [t[:62] for t in en] == [
        "kurilwatch: config applied. Topic queries over the last 1 day ",
        "kurilwatch: config applied. Topic queries over the last 5 days",
        "kurilwatch: config applied. Topic queries over the last 1.5 da",
    ]
    assert "за последний 1 день (" in ru[0] and "за последние 5 дней (" in ru[1], ru
    # a store.retention of 36h: Russian writes the 1.5 days with a decimal comma
    assert "за последние 1,5 дня (" in ru[2], ru


async def test_a_daily_digest_holds_alerts_and_sends_them_together(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    assert await step(worker) == 0  # 12:00 UTC = 21:00 in Tokyo: the next digest is tomorrow
    assert bot_api.sent_messages(CHAT) == []
    prefs = await store.run(Store.prefs, CHAT)
    assert prefs.hold_until == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    assert await step(worker) == 1
    [digest] = bot_api.sent_messages(CHAT)
    assert digest["text"].startswith("<b>Digest</b> · 2 stories")
    assert digest["text"].count("https://n.example/") == 2
    assert [row[1] for row in await outbox(store)] == ["sent", "sent"]


async def test_a_digest_held_while_the_clock_ran_a_day_ahead_comes_when_it_is_set_back(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """The times stored while the wall clock ran a day ahead (the chat's hold, the alert's
    queueing) kept Thursday's digest back until Friday's once the clock was put right; the
    daemon moves stored times back by the clock's step."""
    store, worker, clock = parts
    await queue(store, CHAT, "0")
    assert await step(worker) == 1
    await store.run(Store.set_prefs, CHAT, now=T0, digest="daily 18:00", timezone="Asia/Tokyo")
    clock.now = T0 + timedelta(days=1)  # for a few minutes, a day ahead
    record = ItemRecord(
        "1", "https://n.example/1", "https://n.example/1", "Iturup port", "", T0, ("kuril",)
    )
    await store.run(Store.ingest, FeedState(id="f", url="u"), [record], now=clock.now, alert=True)
    assert await step(worker) == 0
    assert (await store.run(Store.prefs, CHAT)).hold_until == datetime(2026, 11, 28, 9, tzinfo=UTC)
    clock.now = T0 + timedelta(minutes=5)  # NTP sets it back
    assert await store.run(Store.move_back, timedelta(days=1), clock.now) == 3  # and next try
    assert (await store.run(Store.prefs, CHAT)).hold_until == datetime(2026, 11, 27, 9, tzinfo=UTC)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)  # Thursday's 18:00 in Tokyo
    assert await step(worker) == 1
    assert "https://n.example/1" in bot_api.sent_messages(CHAT)[-1]["text"]


async def test_quiet_hours_send_silently_or_hold_until_they_end(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await store.run(Store.set_prefs, CHAT, now=T0, quiet="11:00-13:00 silent")
    await step(worker)
    [silent] = bot_api.sent_messages(CHAT)
    assert silent["disable_notification"] is True
    await store.run(Store.set_prefs, CHAT, now=T0, quiet="11:00-13:00 hold")
    await queue(store, CHAT, "2")
    await queue(store, CHAT, "3")
    assert await step(worker) == 0
    clock.now = datetime(2026, 11, 26, 13, 0, 5, tzinfo=UTC)
    assert await step(worker) == 1
    later = bot_api.sent_messages(CHAT)[1:]
    assert len(later) == 1 and "2 stories" in later[0]["text"]  # the held ones together
    assert not later[0].get("disable_notification")


@pytest.mark.parametrize(
    "prefs",
    [
        {"quiet": "11:00-13:00 hold"},
        {"quiet": "11:00-13:00 silent"},
        {"muted_until": T0 + timedelta(1)},
    ],
)
async def test_a_notice_in_quiet_hours_or_a_mute_comes_at_once_without_a_sound(
    parts, bot_api: FakeBotAPI, prefs: dict[str, Any]
) -> None:  # type: ignore[no-untyped-def]
    """A spike or a broadcast is not held as news is, but does not ring at night."""
    store, worker, clock = parts
    await store.run(Store.upsert_subscriber, CHAT, now=T0)
    await store.run(Store.set_prefs, CHAT, now=T0, **prefs)
    await store.run(Store.broadcast, "The bot moves to a new server tonight.", now=T0)
    await step(worker)
    [notice] = bot_api.sent_messages(CHAT)
    assert notice["disable_notification"] is True
    clock.now = T0 + timedelta(days=2, hours=2)  # 14:00: neither quiet nor muted
    await store.run(Store.broadcast, "Back.", now=clock.now)
    await step(worker)
    assert not bot_api.sent_messages(CHAT)[1].get("disable_notification")


async def test_a_notice_of_astral_characters_is_cut_as_telegram_counts(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A notice was cut at 4,096 characters: 2,100 emoji are 4,200 UTF-16 units, refused."""
    store, worker, _ = parts
    await store.run(Store.upsert_subscriber, CHAT, now=T0)
    await store.run(Store.broadcast, "🎌" * 2100, now=T0)
    await step(worker)
    [notice] = bot_api.sent_messages(CHAT)
    assert notice["text"] == "🎌" * 2048, len(notice["text"])


@pytest.mark.parametrize("mode", ["silent", "hold"])
async def test_a_digest_due_in_quiet_hours_keeps_to_them(
    parts, bot_api: FakeBotAPI, mode: str
) -> None:  # type: ignore[no-untyped-def]
    """The digest at 18:00 Tokyo falls in quiet hours 17:00-19:00: no sound, or at their end."""
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    await store.run(Store.set_prefs, CHAT, now=T0, quiet=f"17:00-19:00 {mode}")
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)  # 18:00 in Tokyo
    await step(worker)
    if mode == "hold":
        assert bot_api.sent_messages(CHAT) == []
        clock.now = datetime(2026, 11, 27, 10, 0, 1, tzinfo=UTC)  # 19:00: the quiet hours end
        await step(worker)
    [digest] = bot_api.sent_messages(CHAT)
    assert "2 stories" in digest["text"]
    assert bool(digest.get("disable_notification")) is (mode == "silent")


async def test_a_muted_chat_gets_nothing_until_the_mute_ends(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await store.run(Store.set_prefs, CHAT, now=T0, muted_until=T0 + timedelta(hours=2))
    assert await step(worker) == 0
    clock.now = T0 + timedelta(hours=2, seconds=1)
    assert await step(worker) == 1
    [alert] = bot_api.sent_messages(CHAT)
    assert alert["text"].startswith('<a href="https://n.example/1">')  # one alert: not a digest


async def another_outlet(store: AsyncStore, at: datetime, guid: str = "1") -> None:
    """Kyodo's report of the story of `queue(guid)` (the same article), stored at `at`."""
    again = ItemRecord(
        guid=f"kyodo-{guid}",
        link=f"https://n.example/{guid}?utm_source=rss",
        canonical_url=f"https://n.example/{guid}",
        title="Iturup airport and port reopen",
        summary="Flights resume.",
        published_at=T0,
        topics=("kuril",),
    )
    kyodo = FeedState(id="kyodo", url="u-kyodo", title="KYODO")
    await store.run(Store.ingest, kyodo, [again], now=at, alert=True)


async def test_an_also_edit_leaves_a_digest_whole(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    assert await step(worker) == 1
    [digest] = bot_api.sent_messages(CHAT)
    assert "2 stories" in digest["text"]
    await another_outlet(store, clock.now + timedelta(minutes=5))
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    assert bot_api.calls_of("editMessageText") == []  # not rewritten as one alert


async def test_an_outlet_joining_a_story_sent_in_a_digest_costs_no_turn_of_the_limits(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A digest's stories name no message to edit. Each later outlet of each of them took a
    turn of the chat's limit and a slot of the overall one for an update that sends nothing:
    a thousand digest readers and a story that twenty outlets carry cost everyone's alerts
    minutes."""
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    assert await step(worker) == 1
    await another_outlet(store, clock.now + timedelta(minutes=5))
    worker.limits = SendLimits(NO_LIMITS)
    assert await step(worker) == 0  # nothing to send
    assert await store.run(Store.due_edits, 50, now=clock.now) == []
    assert worker.limits.busy(asyncio.get_running_loop().time()) == set()


async def test_a_report_that_comes_while_its_alert_is_sent_is_added_by_an_edit(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    bot_api.latency = 0.5
    assert await worker.send_due() == 1  # the send is on its way
    await bot_api.wait_for_async(lambda: bot_api.calls_of("sendMessage"), 10, "the send")
    await another_outlet(store, clock.now + timedelta(seconds=1))  # a poll meanwhile
    await worker.drain()
    bot_api.latency = 0
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    [edit] = bot_api.calls_of("editMessageText")
    assert "Also: KYODO" in edit.params["text"]


async def test_an_alert_shows_its_times_in_the_chats_own_time_zone(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT, "1")
    await store.run(Store.set_prefs, CHAT, now=T0, timezone="Asia/Tokyo")
    await step(worker)
    [alert] = bot_api.sent_messages(CHAT)
    assert "2026-11-26 21:00 JST" in alert["text"]  # published 12:00 UTC


async def test_lang_takes_out_of_a_waiting_digest_the_stories_it_refuses(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await digest_chat(store)
    for guid, title, lang in (("en-1", "Iturup port reopens", "en"), ("ru-1", "Порт открыт", "ru")):
        url = f"https://n.example/{guid}"
        report = ItemRecord(guid, url, url, title, "", T0, topics=("kuril",), lang=lang)
        await store.run(Store.ingest, FeedState(id=lang, url=lang), [report], now=T0, alert=True)
    await store.run(Store.set_news_langs, CHAT, ["ru"])  # "/lang ru": digests follow it
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    [digest] = bot_api.sent_messages(CHAT)
    assert "Порт открыт" in digest["text"] and "Iturup" not in digest["text"]


async def test_a_digest_too_long_for_one_message_is_not_sent_twice_when_a_later_part_fails(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await long_stories_for_a_digest(store, 30)
    bot_api.fail_retry_after("sendMessage", 120, after=1)  # the second message: 429
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    [first] = bot_api.sent_messages(CHAT)
    shown = first["text"].count("Story ")
    assert 0 < shown < 30 and f"{shown} stories" in first["text"]
    clock.now += timedelta(seconds=121)
    worker.limits = SendLimits(NO_LIMITS)
    while await step(worker):
        pass
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert sum(t.count("Story ") for t in texts) == 30  # each story once
    assert [row[1] for row in await outbox(store)] == ["sent"] * 30


@pytest.mark.parametrize(
    ("lang", "label"), [("en", "part {k} of {n}"), ("ru", "часть {k} из {n}"), ("ja", "{k}/{n}")]
)
async def test_a_digest_of_several_messages_numbers_its_parts(
    parts, bot_api: FakeBotAPI, lang: str, label: str
) -> None:  # type: ignore[no-untyped-def]
    """Each message of a long digest was titled "Digest · N stories", as if each were all."""
    store, worker, clock = parts
    await long_stories_for_a_digest(store, 30)
    await store.run(Store.set_language, CHAT, lang)
    worker.limits = SendLimits(NO_LIMITS)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    while await step(worker):
        pass
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert len(texts) >= 2 and sum(t.count("Story ") for t in texts) == 30
    for k, text in enumerate(texts, 1):
        assert label.format(k=k, n=len(texts)) in text.split("\n")[0], text.split("\n")[0]


async def test_a_digest_of_one_message_has_no_part_number(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await two_for_a_daily_digest(store, CHAT)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    [digest] = bot_api.sent_messages(CHAT)
    assert digest["text"].split("\n")[0] == "<b>Digest</b> · 2 stories"


async def test_a_digest_message_refused_fails_its_stories_alone(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await long_stories_for_a_digest(store, 45)
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: no", after=1)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    await step(worker)
    shown = sum(m["text"].count("Story ") for m in bot_api.sent_messages(CHAT))
    states = [row[1] for row in await outbox(store)]
    assert len(bot_api.sent_messages(CHAT)) >= 2  # the messages after the refused one went too
    assert states.count("sent") == shown and states.count("failed") == 45 - shown


async def digest_chat(store: AsyncStore) -> None:
    """CHAT, subscribed to kuril, takes a digest at 18:00 Tokyo time (09:00 UTC)."""
    await store.run(Store.upsert_subscriber, CHAT, now=T0 - timedelta(1))
    await store.run(Store.subscribe, CHAT, "kuril", now=T0 - timedelta(1))
    await store.run(Store.set_prefs, CHAT, now=T0, digest="daily 18:00", timezone="Asia/Tokyo")


async def long_stories_for_a_digest(store: AsyncStore, count: int) -> None:
    """`count` stories queued for CHAT's digest, a dozen or so to a message."""
    await digest_chat(store)
    for n in range(count):
        url = f"https://n.example/{n}"
        title, summary = f"Story {n} " + "word " * 38, "A sentence about it. " * 10
        report = ItemRecord(f"g{n}", url, url, title, summary, T0, topics=("kuril",))
        await store.run(Store.ingest, FeedState(id="f", url="u"), [report], now=T0, alert=True)


async def test_a_digest_of_one_long_story_is_one_message_sent_once(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A story whose link is full of `&` and that a dozen outlets carried is shortened to one
    message: a failure of a second part cannot make the chat get its first part twice."""
    store, worker, clock = parts
    await digest_chat(store)
    url = "https://n.example/story?" + "a=1&" * 500
    first = ItemRecord("g0", url, url, "Iturup port & airport", "Flights resume.", T0, ("kuril",))
    await store.run(Store.ingest, FeedState(id="f", url="u"), [first], now=T0, alert=True)
    for n in range(12):
        outlet = FeedState(id=f"o{n}", url=f"u{n}", title=f"Outlet {n} " + "&" * 50)
        again = ItemRecord(f"o{n}", url, url, "Iturup port reopens", "", T0, ("kuril",))
        await store.run(Store.ingest, outlet, [again], now=T0 + timedelta(minutes=n), alert=True)
    bot_api.fail_retry_after("sendMessage", 120, after=1)  # a second message would meet a 429
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    while await step(worker):
        clock.now += timedelta(seconds=121)
        worker.limits = SendLimits(NO_LIMITS)
    [digest] = bot_api.sent_messages(CHAT)
    text = digest["text"]
    assert "Iturup port &amp; airport" in text and "Flights resume." in text
    assert "Outlet 0" in text and "+" in text.split("Outlet 0")[1]  # "+N more" of the others
    assert [row[1] for row in await outbox(store)] == ["sent"]


async def test_a_report_that_comes_while_an_also_edit_is_on_its_way_gets_an_edit_of_its_own(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT, "1")
    await step(worker)
    await another_outlet(store, clock.now + timedelta(minutes=1))  # Kyodo: an edit is due
    bot_api.latency = 0.5
    worker.limits = SendLimits(NO_LIMITS)
    assert await worker.send_due() == 1  # the edit is on its way
    await bot_api.wait_for_async(lambda: bot_api.calls_of("editMessageText"), 10, "the edit")
    nhk = ItemRecord(
        "nhk-1", "https://n.example/1", "https://n.example/1", "x", "y", T0, ("kuril",)
    )
    await store.run(  # a poll meanwhile
        Store.ingest, FeedState(id="nhk", url="u3", title="NHK"), [nhk], now=clock.now, alert=True
    )
    await worker.drain()
    bot_api.latency = 0
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    edits = bot_api.calls_of("editMessageText")
    assert len(edits) == 2 and "Also: KYODO, NHK" in edits[1].params["text"]


async def test_a_report_that_comes_while_an_alert_waits_for_a_free_send_reaches_it(
    bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """The worker reads a batch of due alerts, then sends them one by one as sends free up:
    an outlet that joins a story meanwhile is on the alert, or edited in after it."""
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=replace(FAST, concurrency=1), clock=clock)
        await queue(store, [CHAT, CHAT + 1])
        bot_api.latency = 0.5
        dispatching = asyncio.create_task(worker.send_due())  # CHAT's send takes the only slot
        await bot_api.wait_for_async(lambda: bot_api.calls_of("sendMessage"), 10, "a send")
        await another_outlet(store, clock.now + timedelta(seconds=1))  # a poll meanwhile
        await dispatching
        await worker.drain()
        bot_api.latency = 0
        worker.limits = SendLimits(NO_LIMITS)
        await step(worker)
        await step(worker)
        for chat in (CHAT, CHAT + 1):
            [sent] = bot_api.sent_messages(chat)
            edits = [
                e.params["text"]
                for e in bot_api.calls_of("editMessageText")
                if e.params["chat_id"] == chat
            ]
            assert "Also: KYODO" in "".join([sent["text"], *edits]), chat
    await store.close()


async def test_lang_while_an_alert_waits_for_a_free_send_sends_the_report_the_chat_wants(
    bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """/lang points a waiting alert to the story's report in the chat's language: an alert the
    worker had read before it, and sends once a send frees up, is that report, not the old."""
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=replace(FAST, concurrency=1), clock=clock)
        for chat in (CHAT, CHAT + 1):
            await store.run(Store.upsert_subscriber, chat, now=T0 - timedelta(1))
            await store.run(Store.subscribe, chat, "kuril", now=T0 - timedelta(1))
        url = "https://n.example/story"
        for feed, lang, title in (
            ("tass-en", "en", "Iturup airport"),
            ("tass-ru", "ru", "Аэропорт Итурупа"),
        ):
            record = ItemRecord(feed, url, url, title, "", T0, topics=("kuril",), lang=lang)
            state = FeedState(id=feed, url=f"u-{feed}", title=feed.upper(), primed=True)
            await store.run(Store.ingest, state, [record], now=T0, alert=True)
        bot_api.hold_answers()  # CHAT's send takes the only slot until the /lang is stored
        dispatching = asyncio.create_task(worker.send_due())
        try:
            await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, 10, "a send in flight")
            await store.run(Store.set_news_langs, CHAT + 1, ["ru"])  # /lang ru meanwhile
        finally:
            bot_api.release_answers()
        await dispatching
        await worker.drain()
        [sent] = bot_api.sent_messages(CHAT + 1)
        assert "Аэропорт Итурупа" in sent["text"] and "Iturup airport" not in sent["text"]
    await store.close()


async def test_a_switch_to_the_chats_language_while_its_alert_is_sent_is_edited_in(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A Russian chat's alert of Kyodo's English report is on its way when the chat mutes Kyodo
    and TASS's Russian report joins the story: the row shows TASS's report now, with the same
    (empty) "Also:" line the message went with. The message is edited to TASS's report: the
    worker compared only the "Also:" line, and the chat kept the report of an outlet it muted."""
    store, worker, clock = parts
    await store.run(Store.upsert_subscriber, CHAT, now=T0 - timedelta(1))
    await store.run(Store.subscribe, CHAT, "kuril", now=T0 - timedelta(1))
    await store.run(Store.set_language, CHAT, "ru")
    url = "https://n.example/story"

    async def report(feed: str, name: str, lang: str, title: str) -> None:
        record = ItemRecord(feed, url, url, title, "", T0, topics=("kuril",), lang=lang)
        state = FeedState(id=feed, url=f"u-{feed}", title=name, primed=True)
        await store.run(Store.ingest, state, [record], now=clock.now, alert=True)

    def shown(plain: Store) -> tuple[str, str]:
        row = plain.db.query(
            "SELECT i.guid, o.also FROM outbox o JOIN items i ON i.id = o.item_id"
            " WHERE o.chat_id = ?",
            [CHAT],
        )
        [(guid, also)] = [(r["guid"], r["also"]) for r in row]
        return guid, also

    await report("kyodo", "Kyodo", "en", "Iturup airport reopens")
    bot_api.hold_answers()  # the alert is in flight until the switch is stored
    sending = asyncio.create_task(step(worker))
    try:
        await bot_api.wait_for_async(lambda: bot_api.in_flight > 0, 10, "the send in flight")
        await store.run(Store.toggle_source, CHAT, "kyodo", now=clock.now)
        await report("tass-ru", "ТАСС", "ru", "Аэропорт Итурупа снова открыт")
        assert await store.run(shown) == ("tass-ru", "[]")  # switched, its "Also:" as it was
    finally:
        bot_api.release_answers()
    await sending
    [sent] = bot_api.sent_messages(CHAT)
    assert "Iturup airport reopens" in sent["text"]
    worker.limits = SendLimits(NO_LIMITS)
    assert await step(worker) == 1
    [edit] = bot_api.calls_of("editMessageText")
    assert "Аэропорт Итурупа снова открыт" in edit.params["text"], edit.params["text"]
    assert "Iturup airport" not in edit.params["text"]
    assert await store.run(Store.due_edits, 50, now=clock.now) == []


async def test_a_chat_back_after_blocking_the_bot_gets_a_later_report_of_a_story_it_missed(
    parts: tuple[AsyncStore, DeliveryWorker, Clock],
) -> None:
    store, _, _ = parts
    other = CHAT + 1
    await queue(store, [CHAT, other])
    await store.run(Store.deactivate_chat, CHAT, "Forbidden: bot was blocked by the user", now=T0)
    back = await store.run(Store.upsert_subscriber, CHAT, now=T0 + timedelta(hours=1))
    assert back  # unblocked, and /start again
    await another_outlet(store, T0 + timedelta(hours=2))

    def rows(plain: Store, chat: int) -> list[tuple[str, str]]:
        return [
            (r["state"], r["guid"])
            for r in plain.db.query(
                "SELECT o.state, i.guid FROM outbox o JOIN items i ON i.id = o.item_id"
                " WHERE o.chat_id = ?",
                [chat],
            )
        ]

    # the alert dropped while the chat was gone comes back with the story's new report; a chat
    # that has the story's alert gets no second one
    assert await store.run(rows, CHAT) == [("pending", "kyodo-1")]
    assert await store.run(rows, other) == [("pending", "1")]


async def test_a_digest_of_many_messages_keeps_to_the_chats_limit(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await long_stories_for_a_digest(store, 60)  # five messages or so
    bot_api.enforce_limits = True  # a burst of 3, then 1 a second, as Telegram answers
    clock = Clock(datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC))
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        # half Telegram's 1 a second: the fake counts when a request arrives, and a busy
        # machine may delay one request by a good part of a second more than the next
        settings = replace(FAST, limits=Limits(private_per_second=0.5))
        worker = DeliveryWorker(store, bot, settings=settings, clock=clock)
        task = asyncio.create_task(worker.run())
        await bot_api.wait_for_async(
            lambda: sum(m["text"].count("Story ") for m in bot_api.sent_messages(CHAT)) == 60,
            20,
            "the whole digest",
        )
        worker.stop()
        await task
    calls = bot_api.calls_of("sendMessage")
    assert len(calls) >= 4 and [c.status for c in calls if not c.ok] == []  # no 429 met
    assert [row[1] for row in await outbox(store)] == ["sent"] * 60
    await store.close()


class _Heard(logging.Handler):
    """Sets an event of the test's loop at the first record it hears."""

    def __init__(self, event: asyncio.Event) -> None:
        super().__init__()
        self.event, self.loop = event, asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


async def test_an_alert_sent_while_the_store_is_locked_is_not_sent_again_at_the_next_start(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await queue(store, CHAT)
    await store.run(short_busy_timeout)
    bot_api.stall_next("sendMessage", 1.0)  # the store is locked before the answer comes
    complained = asyncio.Event()
    other = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=Clock(T0))
        with handler_on("bot.delivery", _Heard(complained), logging.WARNING):
            assert await worker.send_due() == 1
            other.execute("BEGIN IMMEDIATE")  # another writer: a backup, an operator's command
            await asyncio.wait_for(complained.wait(), 10)
            other.execute("ROLLBACK")
            await worker.drain()
        await store.run(Store.requeue_inflight)  # what the next start does first
        await step(worker)
    other.close()
    assert len(bot_api.sent_messages(CHAT)) == 1
    assert [row[1] for row in await outbox(store)] == ["sent"]
    await store.close()


async def test_an_alert_refused_while_the_store_is_locked_is_tried_again_without_a_restart(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await queue(store, CHAT)
    await store.run(short_busy_timeout)
    bot_api.stall_next("sendMessage", 1.0)  # the store is locked before the answer comes
    bot_api.fail_next("sendMessage", status=500, description="Internal Server Error")
    complained = asyncio.Event()
    other = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    clock = Clock(T0)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        worker = DeliveryWorker(store, bot, settings=FAST, clock=clock)
        with handler_on("bot.delivery", _Heard(complained), logging.WARNING):
            assert await worker.send_due() == 1
            other.execute("BEGIN IMMEDIATE")  # another writer: a backup, an operator's command
            await asyncio.wait_for(complained.wait(), 10)
            other.execute("ROLLBACK")
            await worker.drain()
        clock.now += timedelta(seconds=2)  # the retry's pause
        await step(worker)
    other.close()
    assert len(bot_api.sent_messages(CHAT)) == 1
    assert [row[1] for row in await outbox(store)] == ["sent"]
    await store.close()


class _LockAt(logging.Handler):
    """Another writer takes the store at a log line with `lock_at` in it, and lets it go at
    the worker's first complaint that it could not record."""

    def __init__(self, other: sqlite3.Connection, lock_at: str) -> None:
        super().__init__()
        self.other, self.lock_at, self.locked = other, lock_at, False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not self.locked and self.lock_at in message:
            self.other.execute("BEGIN IMMEDIATE")
            self.locked = True
        elif self.locked and record.levelno >= logging.WARNING and self.other.in_transaction:
            self.other.execute("ROLLBACK")


async def test_the_rest_of_a_digest_put_back_while_the_store_is_locked_is_not_left_sending(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await long_stories_for_a_digest(store, 45)  # several messages
    await store.run(short_busy_timeout)
    clock = Clock(datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC))
    other = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    async with Bot(TOKEN, base_url=bot_api.base_url, **connections()) as bot:
        # one message to the chat, then its limit: the rest go back to the queue
        settings = replace(FAST, limits=Limits(private_burst=1, private_per_second=0.01))
        worker = DeliveryWorker(store, bot, settings=settings, clock=clock)
        # the store is taken by another writer just after the first message is recorded
        with handler_on("bot.delivery", _LockAt(other, "digest of")):
            assert await worker.send_due() == 1
            await worker.drain()
    other.close()
    states = [row[1] for row in await outbox(store)]
    assert len(bot_api.sent_messages(CHAT)) == 1
    assert "sending" not in states  # else not sent before the next start
    shown = sum(m["text"].count("Story ") for m in bot_api.sent_messages(CHAT))
    assert 0 < states.count("sent") == shown
    await store.close()


@pytest.mark.parametrize("cut", ["limit", "429"])
async def test_a_digest_cut_short_numbers_its_remaining_parts_on(
    parts, bot_api: FakeBotAPI, cut: str
) -> None:  # type: ignore[no-untyped-def]
    """A digest of several messages cut after its first by the chat's limit (or a 429): its
    remaining messages were numbered from 1 again ("part 1 of 3", then "part 1 of 2"), or
    came as single alerts when no more than a burst was left."""
    store, worker, clock = parts
    await long_stories_for_a_digest(store, 30)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    if cut == "limit":  # one message to the chat, then its limit: the rest wait
        worker.limits = SendLimits(Limits(private_burst=1, private_per_second=0.01))
    else:
        bot_api.fail_retry_after("sendMessage", 60, chat_id=CHAT, after=1)
    assert await step(worker) == 1
    [first] = [m["text"].split("\n")[0] for m in bot_api.sent_messages(CHAT)]
    assert "part 1 of " in first
    parts_of = int(first.rsplit(" ", 1)[1].rstrip(")"))
    clock.now += timedelta(seconds=61)
    worker.limits = SendLimits(NO_LIMITS)
    while await step(worker):
        pass
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert sum(t.count("Story ") for t in texts) == 30  # each story once
    heads = [t.split("\n")[0] for t in texts]
    assert all(f"part {k} of {parts_of}" in head for k, head in enumerate(heads, 1)), heads


async def test_the_last_stories_of_a_burst_digest_cut_short_come_as_its_last_part(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A burst digest cut after its first message with no more than a burst left: those came
    as single alerts after "part 1 of 2", and its part 2 never came."""
    store, worker, _ = parts
    await queue(store, CHAT, "first")  # subscribes CHAT, no digest of its own
    for n in range(worker.settings.burst_digest + 4):
        url = f"https://n.example/{n}"
        title, summary = f"Story {n} " + "word " * 38, "A sentence about it. " * 10
        report = ItemRecord(f"g{n}", url, url, title, summary, T0, topics=("kuril",))
        await store.run(Store.ingest, FeedState(id="f", url="u"), [report], now=T0, alert=True)
    worker.limits = SendLimits(Limits(private_burst=1, private_per_second=0.01))
    assert await step(worker) == 1
    [first] = [m["text"].split("\n")[0] for m in bot_api.sent_messages(CHAT)]
    assert "part 1 of 2" in first
    worker.limits = SendLimits(NO_LIMITS)
    while await step(worker):
        pass
    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert len(texts) == 2 and "part 2 of 2" in texts[1].split("\n")[0], texts[1][:80]
    assert [row[1] for row in await outbox(store)] == ["sent"] * (worker.settings.burst_digest + 5)


async def test_a_digest_whose_send_is_cut_by_a_stop_numbers_on_after_the_restart(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """A digest's second message hanging as the daemon stops (its send cancelled after the
    stop's grace), or a crash while it is on its way: its rows stay `sending` and are sent
    after the next start, which numbered them from 1 again ("part 1 of 2" after "part 1 of
    3")."""
    store, worker, clock = parts
    await long_stories_for_a_digest(store, 30)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    bot_api.hold_answers(after=1)  # the first message is answered, the second hangs
    try:
        assert await worker.send_due() == 1
        await bot_api.wait_for_async(
            lambda: len(bot_api.sent_messages(CHAT)) == 1 and bot_api.in_flight == 1,
            10,
            "the second message hangs",
        )
        drain = asyncio.create_task(worker.drain())
        await asyncio.sleep(0)
        drain.cancel()  # the stop's grace is over: the Telegram side is cancelled
        await asyncio.wait({drain})
    finally:
        bot_api.release_answers()
    [first] = [m["text"].split("\n")[0] for m in bot_api.sent_messages(CHAT)]
    assert "part 1 of " in first
    parts_of = int(first.rsplit(" ", 1)[1].rstrip(")"))
    assert parts_of > 2
    await bot_api.wait_for_async(lambda: bot_api.in_flight == 0, 10, "the hung call answered")
    sent_before = len(bot_api.sent_messages(CHAT))  # the hung one, carried out by Telegram
    assert await store.run(Store.requeue_inflight) > 0  # the next start
    while await step(worker):
        pass
    heads = [m["text"].split("\n")[0] for m in bot_api.sent_messages(CHAT)[sent_before:]]
    expected = [f"part {k} of {parts_of}" for k in range(2, parts_of + 1)]
    assert all(e in h for e, h in zip(expected, heads, strict=True)), heads


# -- forums: a supergroup with topics ------------------------------------------------------

FORUM = -1007000
TOPIC = 77  # the forum's topic where its admin sent /subscribe


def threads_of(api: FakeBotAPI, chat_id: int) -> list[int | None]:
    return [m.get("message_thread_id") for m in api.sent_messages(chat_id)]


async def test_a_forums_alerts_follow_ups_and_notices_go_to_the_topic_it_was_set_up_in(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """/subscribe sent in a forum's topic was answered there ("New stories will be sent
    here"), but its alerts, follow-ups and broadcasts went without the topic: to General."""
    store, worker, clock = parts
    await queue(store, FORUM, "1")
    await store.run(Store.set_thread, FORUM, TOPIC)
    await step(worker)
    await store.run(Store.control_story, FORUM, 1, "follow", now=T0)
    await another_outlet(store, T0 + timedelta(minutes=1))  # a reply to the alert
    await store.run(Store.broadcast, "The bot moves to a new server tonight.", now=T0)
    clock.now = T0 + timedelta(minutes=2)
    for _ in range(2):
        worker.limits = SendLimits(NO_LIMITS)  # the chat's turn of the limits, at once
        await step(worker)
    sent = bot_api.sent_messages(FORUM)
    assert len(sent) == 3 and "reply_parameters" in sent[1] and "new server" in sent[2]["text"]
    assert threads_of(bot_api, FORUM) == [TOPIC, TOPIC, TOPIC]
    await store.run(Store.set_thread, FORUM, None)  # set up again from General
    await queue(store, FORUM, "2")
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    assert threads_of(bot_api, FORUM)[-1] is None


async def test_a_forums_digest_goes_to_its_topic_every_message_of_it(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await store.run(Store.upsert_subscriber, FORUM, now=T0 - timedelta(1))
    await store.run(Store.subscribe, FORUM, "kuril", now=T0 - timedelta(1))
    await store.run(Store.set_prefs, FORUM, now=T0, digest="daily 18:00", timezone="Asia/Tokyo")
    await store.run(Store.set_thread, FORUM, TOPIC)
    for n in range(30):  # a digest of three messages or so
        url = f"https://n.example/{n}"
        title, summary = f"Story {n} " + "word " * 38, "A sentence about it. " * 10
        report = ItemRecord(f"g{n}", url, url, title, summary, T0, topics=("kuril",))
        await store.run(Store.ingest, FeedState(id="f", url="u"), [report], now=T0, alert=True)
    clock.now = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)
    while await step(worker):
        worker.limits = SendLimits(NO_LIMITS)
    threads = threads_of(bot_api, FORUM)
    assert len(threads) > 1 and set(threads) == {TOPIC}
    assert {row[1] for row in await outbox(store)} == {"sent"}


async def test_a_deleted_forum_topic_gets_its_alert_in_general_and_is_forgotten(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """The topic the forum was set up in is deleted: the alert goes to General, not lost, and
    the chat's next alerts go there at once."""
    store, worker, _ = parts
    await queue(store, FORUM, "1")
    await store.run(Store.set_thread, FORUM, TOPIC)
    gone = "Bad Request: message thread not found"
    bot_api.fail_next("sendMessage", status=400, description=gone, chat_id=FORUM)
    with handler_on("bot.delivery.threads", records := _Kept()):
        await step(worker)
    [tried] = [c.params for c in bot_api.calls_of("sendMessage") if not c.ok]
    assert tried["message_thread_id"] == TOPIC
    assert threads_of(bot_api, FORUM) == [None]
    assert [row[1] for row in await outbox(store)] == ["sent"]
    prefs = await store.run(Store.prefs, FORUM)
    assert prefs is not None and prefs.thread_id is None
    assert any(f"topic {TOPIC} is gone" in line for line in records.lines)
    await queue(store, FORUM, "2")
    worker.limits = SendLimits(NO_LIMITS)
    await step(worker)
    assert threads_of(bot_api, FORUM) == [None, None]
    assert len(bot_api.calls_of("sendMessage")) == 3  # the topic is not tried again
    assert bot_api.sent_messages(ADMIN) == []  # nothing given up
    # the topic answers again (topics switched back on) and an admin sets the forum up in it
    await store.run(Store.set_thread, FORUM, TOPIC)
    await queue(store, FORUM, "3")
    worker.limits = SendLimits(NO_LIMITS)  # the group's gap runs on the loop's clock
    await step(worker)
    assert threads_of(bot_api, FORUM) == [None, None, TOPIC]  # not General for good


async def test_a_forum_whose_general_topic_is_closed_keeps_its_alert_until_it_is_reopened(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    """TOPIC_CLOSED was read as a refusal: the alert was given up at its first try."""
    store, worker, clock = parts
    await queue(store, FORUM, "1")
    closed = "Bad Request: TOPIC_CLOSED"
    bot_api.fail_next("sendMessage", status=400, description=closed, chat_id=FORUM, times=2)
    for _ in range(2):  # its admins reopen it after a while
        await step(worker)
        assert [row[1] for row in await outbox(store)] == ["pending"]
        clock.now = await store.run(Store.next_due_at) or clock.now
        worker.limits = SendLimits(NO_LIMITS)  # the chat's turn of the limits, at once
    await step(worker)
    assert [row[1] for row in await outbox(store)] == ["sent"]
    assert len(bot_api.sent_messages(FORUM)) == 1
    assert bot_api.sent_messages(ADMIN) == []  # nothing given up


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
