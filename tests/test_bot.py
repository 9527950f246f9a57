"""Bot commands through real python-telegram-bot and the fake Bot API; every command answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.daemon import build_application
from bot.telegram.chat import BotContext, install
from store import AsyncStore, Store
from tests.conftest import TOKEN, running, shipped_topics
from tests.fakes.telegram_api import FakeBotAPI
from watchers.topics.compile import compile_topics

CHAT = 5005


@pytest.fixture
async def store(tmp_path: Path, bot_api: FakeBotAPI) -> AsyncIterator[AsyncStore]:
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(tmp_path / "kw.db").open()
    app = build_application(settings, TOKEN)
    install(app, BotContext(store=store, topics=compile_topics(settings.topics)))
    async with running(app):
        yield store
    await store.close()


class Chat:
    """Sends commands as a user and returns the bot's reply."""

    def __init__(self, api: FakeBotAPI, chat_id: int = CHAT, **kwargs: object) -> None:
        self.api, self.chat_id, self.kwargs = api, chat_id, kwargs

    async def say(self, text: str) -> str:
        count = len(self.api.sent_messages(self.chat_id))
        self.api.push_message(self.chat_id, text, **self.kwargs)  # type: ignore[arg-type]
        replies = await self.api.wait_for_messages_async(self.chat_id, count + 1)
        return str(replies[count]["text"])


async def test_start_welcomes_and_shows_how_to_subscribe(
    store: AsyncStore, bot_api: FakeBotAPI
) -> None:
    text = await Chat(bot_api).say("/start")
    assert "kurilwatch" in text and "<code>/subscribe kuril</code>" in text
    assert "peace-treaty" in text
    subscriber = await store.run(Store.subscriber, CHAT)
    assert subscriber is not None and subscriber.active and subscriber.chat_type == "private"


async def test_subscribe_list_unsubscribe(store: AsyncStore, bot_api: FakeBotAPI) -> None:
    chat = Chat(bot_api)
    assert "Subscribed to kuril, peace-treaty" in await chat.say("/subscribe kuril peace-treaty")
    assert await store.run(Store.subscriptions, CHAT) == ["kuril", "peace-treaty"]
    assert "Already subscribed to kuril" in await chat.say("/subscribe kuril")
    listed = await chat.say("/list")
    assert "<code>kuril</code> — Kuril Islands" in listed
    assert "✅ <code>kuril</code>" in await chat.say("/topics")
    assert "Unsubscribed from kuril" in await chat.say("/unsubscribe kuril")
    assert "not subscribed to kuril" in await chat.say("/unsubscribe kuril")
    assert await store.run(Store.subscriptions, CHAT) == ["peace-treaty"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "/subscribe kurils",
            "Unknown topic 'kurils'. Valid topics: <code>kuril</code>, <code>peace-treaty</code>",
        ),
        ("/subscribe", "Which topic? Valid topics: <code>kuril</code>"),
        ("/unsubscribe nope", "Unknown topic 'nope'. Valid topics:"),
        ("/frobnicate", "I don't know that command. /help"),
        ("/help", "/subscribe — follow a topic"),
    ],
)
async def test_bad_arguments_get_a_helpful_reply(
    store: AsyncStore, bot_api: FakeBotAPI, command: str, expected: str
) -> None:
    assert expected in await Chat(bot_api).say(command)
    assert await store.run(Store.subscriptions, CHAT) == []


async def test_stop_forgets_the_chat(store: AsyncStore, bot_api: FakeBotAPI) -> None:
    chat = Chat(bot_api)
    await chat.say("/subscribe all")
    assert "Send /start to begin again" in await chat.say("/stop")
    assert await store.run(Store.subscriber, CHAT) is None
    assert "You follow no topics yet" in await chat.say("/list")


async def test_group_commands_addressed_to_the_bot(store: AsyncStore, bot_api: FakeBotAPI) -> None:
    group = Chat(bot_api, -300, chat_type="group", user_id=77, chat_title="Kuril watchers")
    assert "Only this group's admins" in await group.say("/subscribe@kurilwatch_test_bot kuril")
    assert await store.run(Store.subscriptions, -300) == []
    bot_api.set_admins(-300, [77])
    assert "Subscribed to kuril" in await group.say("/subscribe@kurilwatch_test_bot kuril")
    subscriber = await store.run(Store.subscriber, -300)
    assert subscriber is not None and subscriber.chat_type == "group"
    assert subscriber.title == "Kuril watchers"
