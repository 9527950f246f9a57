"""The delivery worker against the fake Bot API: every Telegram failure keeps the alert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from bot.delivery import DeliverySettings, DeliveryWorker
from store import AsyncStore, FeedState, ItemRecord, Store
from tests.conftest import TOKEN, Clock
from tests.fakes.telegram_api import FakeBotAPI

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CHAT = 1001
GROUP = -2002


@pytest.fixture
async def parts(
    tmp_path: Path, bot_api: FakeBotAPI
) -> AsyncIterator[tuple[AsyncStore, DeliveryWorker, Clock]]:
    store = await AsyncStore(tmp_path / "kw.db").open()
    clock = Clock(T0)
    async with Bot(TOKEN, base_url=bot_api.base_url) as bot:
        worker = DeliveryWorker(
            store, bot, settings=DeliverySettings(private_gap=0, group_gap=0), clock=clock
        )
        yield store, worker, clock
    await store.close()


async def queue(store: AsyncStore, chat_id: int, guid: str = "1") -> None:
    await store.run(Store.upsert_subscriber, chat_id, now=T0 - timedelta(1))
    await store.run(Store.subscribe, chat_id, "kuril", now=T0 - timedelta(1))
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
    assert await worker.send_due() == (1, 1)
    [message] = bot_api.sent_messages(CHAT)
    assert message["parse_mode"] == "HTML"
    assert "Iturup &lt;airport&gt; &amp; port" in message["text"]
    assert message["link_preview_options"] == {"is_disabled": True}
    assert await outbox(store) == [(CHAT, "sent", 1, None)]
    assert await worker.send_due() == (0, 0)


async def test_flood_control_waits_and_resends_the_same_message(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT)
    bot_api.fail_retry_after("sendMessage", 3, chat_id=CHAT)
    assert await worker.send_due() == (1, 1)
    [(chat, state, attempts, error)] = await outbox(store)
    assert (chat, state, attempts) == (CHAT, "pending", 1) and "429" in (error or "")
    assert await worker.send_due() == (0, 0)  # not due before retry_after has passed
    clock.now += timedelta(seconds=3)
    worker._next_to_chat.clear()  # the loop clock's pause for this chat has passed too
    assert await worker.send_due() == (1, 1)
    assert len(bot_api.sent_messages(CHAT)) == 1
    assert await outbox(store) == [(CHAT, "sent", 2, None)]


async def test_blocked_chat_becomes_inactive_and_alerts_are_kept_as_dropped(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT, "1")
    await queue(store, CHAT, "2")
    bot_api.fail_blocked(CHAT)
    await worker.send_due()
    assert len(bot_api.calls_of("sendMessage")) == 1  # no retry storm
    assert [row[1] for row in await outbox(store)] == ["dropped", "dropped"]
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and not subscriber.active


async def test_chat_not_found_is_like_blocked(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    bot_api.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    await worker.send_due()
    assert [row[1] for row in await outbox(store)] == ["dropped"]


async def test_migrated_group_moves_and_gets_the_alert(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, GROUP)
    bot_api.migrate_chat(GROUP, -1009999)
    await worker.send_due()
    await worker.send_due()
    assert len(bot_api.sent_messages(-1009999)) == 1
    assert await store.run(Store.subscriptions, -1009999) == ["kuril"]
    assert await outbox(store) == [(-1009999, "sent", 2, None)]


async def test_unparsable_html_is_resent_as_plain_text(parts, bot_api: FakeBotAPI) -> None:  # type: ignore[no-untyped-def]
    store, worker, _ = parts
    await queue(store, CHAT)
    bot_api.fail_next(
        "sendMessage",
        status=400,
        description="Bad Request: can't parse entities: unsupported start tag",
    )
    await worker.send_due()
    [message] = bot_api.sent_messages(CHAT)
    assert message.get("parse_mode") is None
    assert message["text"].startswith("Iturup <airport> & port")
    assert [row[1] for row in await outbox(store)] == ["sent"]


async def test_server_errors_retry_with_backoff_until_the_deadline(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, clock = parts
    await queue(store, CHAT)
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway", times=2)
    await worker.send_due()
    [(_, state, attempts, error)] = await outbox(store)
    assert (state, attempts) == ("pending", 1) and "Bad Gateway" in (error or "")
    assert await worker.send_due() == (0, 0)  # backing off
    clock.now += timedelta(seconds=2)
    await worker.send_due()
    assert [row[1:3] for row in await outbox(store)] == [("pending", 2)]
    clock.now += timedelta(hours=25)  # past the deadline: failed, kept
    bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    await worker.send_due()
    assert [row[1] for row in await outbox(store)] == ["failed"]
    assert bot_api.sent_messages(CHAT) == []


async def test_more_outlets_edit_the_sent_alert_not_a_new_message(
    parts, bot_api: FakeBotAPI
) -> None:  # type: ignore[no-untyped-def]
    store, worker, _clock = parts
    await queue(store, CHAT)
    await worker.send_due()
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
    await worker.send_due()
    [edit] = bot_api.calls_of("editMessageText")
    assert edit.params["message_id"] == sent_message_id(bot_api, CHAT)
    assert "Also: Kyodo" in edit.params["text"] and edit.status == 200
    assert len(bot_api.sent_messages(CHAT)) == 1
    await worker.send_due()
    assert len(bot_api.calls_of("editMessageText")) == 1  # done once
    late = FeedState(id="nhk", url="u3", title="NHK")
    await store.run(
        Store.ingest,
        late,
        [ItemRecord("nhk-1", again.link, again.canonical_url, "x", "y", T0, ("kuril",))],
        now=T0 + timedelta(hours=50),
        alert=True,
    )
    await worker.send_due()
    assert len(bot_api.calls_of("editMessageText")) == 1  # past 48 hours: left as it is


def sent_message_id(api: FakeBotAPI, chat_id: int) -> int:
    [call] = [c for c in api.calls_of("sendMessage") if c.params["chat_id"] == chat_id and c.ok]
    return int(call.response["result"]["message_id"])
