"""A chat's updates dropped behind its running command (`PerChatUpdates.max_queued`): a press
is answered, a burst of commands gets one "busy" reply, other chats go on as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram import CallbackQuery, Chat, Message, Update, User

from bot.config import Config
from bot.i18n import texts
from bot.telegram.busy import Answer, answer_for
from bot.telegram.chat import BotContext, install
from bot.telegram.updates import PerChatUpdates, build_application
from store import AsyncStore, Watch
from tests.conftest import TOKEN, Clock, new_store, running, shipped_topics
from tests.fakes.telegram_api import FakeBotAPI
from watchers.topics.compile import compile_topics

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
USER, OTHER = 5005, 7007
PRESS = "Busy, try again in a moment."
REPLY = "Too many commands at once in this chat: some were skipped. Send them again in a moment."
QUEUED = 2  # the cap the tests set: /watch runs, two wait, the rest are dropped


class SlowWatch:
    """/watch runs until `gate` is set (the change of the watches takes that long)."""

    def __init__(self) -> None:
        self.started, self.gate = asyncio.Event(), asyncio.Event()

    async def __call__(self, added: Watch | None, removed: Watch | None) -> None:
        self.started.set()
        await self.gate.wait()

    def again(self) -> None:
        self.started, self.gate = asyncio.Event(), asyncio.Event()


@asynccontextmanager
async def bot(
    bot_api: FakeBotAPI, tmp_path: Path, slow: SlowWatch
) -> AsyncIterator[PerChatUpdates]:
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    app = build_application(settings, TOKEN)
    processor = app.update_processor
    assert isinstance(processor, PerChatUpdates)
    processor.max_queued = QUEUED
    ctx = BotContext(
        store=store,
        topics=compile_topics(settings.topics).topics,
        clock=Clock(NOW),
        watches_changed=slow,
    )
    install(app, ctx)
    try:
        async with running(app):
            try:
                yield processor
            finally:
                slow.gate.set()  # a test that failed leaves no command running at the stop
    finally:
        await store.close()


def texts_to(bot_api: FakeBotAPI, chat_id: int) -> list[str]:
    return [str(m["text"]) for m in bot_api.sent_messages(chat_id)]


async def test_a_dropped_press_is_answered_in_the_users_language(
    bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """A press dropped behind a slow command was never answered: its button spun until
    Telegram gave up on it."""
    slow = SlowWatch()
    busy = texts("ru")._(PRESS)
    assert busy != PRESS  # translated
    async with bot(bot_api, tmp_path, slow):
        bot_api.push_message(USER, "/watch Habomai", language_code="ru")
        async with asyncio.timeout(10):
            await slow.started.wait()
        for _ in range(QUEUED):
            bot_api.push_message(USER, "/help", language_code="ru")
        pressed = f"cbq-{bot_api.push_callback_query(USER, 1, 't:kuril')}"
        await bot_api.wait_for_async(
            lambda: any(
                c.params.get("callback_query_id") == pressed
                for c in bot_api.calls_of("answerCallbackQuery")
            ),
            what="the dropped press answered",
        )
        [answer] = [
            c
            for c in bot_api.calls_of("answerCallbackQuery")
            if c.params.get("callback_query_id") == pressed
        ]
        assert answer.ok and answer.params["text"] == busy
        slow.gate.set()
        await bot_api.wait_for_messages_async(USER, 1 + QUEUED)
    assert len(bot_api.calls_of("answerCallbackQuery")) == 1  # the press never ran
    assert texts("ru")._(REPLY) not in texts_to(bot_api, USER)  # a press is told by its answer


async def test_a_burst_of_dropped_commands_gets_one_busy_reply_and_other_chats_none(
    bot_api: FakeBotAPI, tmp_path: Path
) -> None:
    """Commands dropped behind a slow one got no answer at all; one reply per dropped command
    would turn a flood into a flood of replies."""
    slow = SlowWatch()
    busy = texts("ja")._(REPLY)
    assert busy != REPLY

    def told() -> int:
        return texts_to(bot_api, USER).count(busy)

    def answered() -> int:  # /watch and the commands that waited
        return len(bot_api.sent_messages(USER)) - told()

    async with bot(bot_api, tmp_path, slow) as processor:
        for burst, place in ((1, "Habomai"), (2, "Shikotan")):  # each burst is told once
            bot_api.push_message(USER, f"/watch {place}", language_code="ja")
            async with asyncio.timeout(10):
                await slow.started.wait()
            for _ in range(QUEUED + 5):  # two wait, five are dropped
                bot_api.push_message(USER, "/help", language_code="ja")
            bot_api.push_message(OTHER, "/help")  # after the drops
            await bot_api.wait_for_messages_async(OTHER, burst)
            await bot_api.wait_for_async(lambda burst=burst: told() >= burst, what="busy")
            slow.gate.set()
            expected = burst * (1 + QUEUED)
            await bot_api.wait_for_async(lambda n=expected: answered() >= n, what="answers")
            # the last has answered, and now ends, and the burst with it (PTB's count of the
            # updates in progress has no event to wait for)
            async with asyncio.timeout(10):
                while processor.current_concurrent_updates:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            slow.again()
        # the queued commands ran and answered; of the dropped, one reply per burst
        assert told() == 2 and answered() == 2 * (1 + QUEUED)
    others = texts_to(bot_api, OTHER)
    assert len(others) == 2 and all("/help" in text for text in others)


def _update(
    chat_type: str = Chat.PRIVATE, text: str = "/help", *, press: bool = False, edited: bool = False
) -> Update:
    chat_id = USER if chat_type == Chat.PRIVATE else -100
    chat, user = Chat(chat_id, chat_type), User(USER, "u", False)
    message = Message(1, NOW, chat, user, text=text)
    if press:
        return Update(1, callback_query=CallbackQuery("q", user, "i", message=message, data="x"))
    if chat_type == Chat.CHANNEL:
        return Update(1, channel_post=message)
    return Update(1, edited_message=message) if edited else Update(1, message=message)


ME = "kurilwatch_test_bot"


@pytest.mark.parametrize(
    ("update", "told", "stopping", "expected"),
    [
        (_update(press=True), False, False, Answer.PRESS),
        (_update(press=True), True, False, Answer.PRESS),  # every press needs its answer
        (_update(Chat.SUPERGROUP, press=True), False, False, Answer.PRESS),
        (_update(press=True), False, True, Answer.NONE),  # a stop waits for nothing
        (_update(), False, False, Answer.REPLY),
        (_update(), True, False, Answer.NONE),  # once per burst
        (_update(), False, True, Answer.NONE),
        (_update(text="hello"), False, False, Answer.REPLY),  # a private chat's text is answered
        (_update(Chat.GROUP, "/help"), False, False, Answer.REPLY),
        (_update(Chat.SUPERGROUP, f"/help@{ME} x"), False, False, Answer.REPLY),
        (_update(Chat.SUPERGROUP, f"/nosuch@{ME}"), False, False, Answer.REPLY),
        (_update(Chat.GROUP, "/help@other_bot"), False, False, Answer.NONE),
        (_update(Chat.GROUP, "/nosuch"), False, False, Answer.NONE),  # another bot's
        (_update(Chat.GROUP, "hello all"), False, False, Answer.NONE),
        (_update(edited=True), False, False, Answer.NONE),
        (_update(Chat.CHANNEL, "/help"), False, False, Answer.NONE),  # every reader would see it
    ],
)
def test_what_a_dropped_update_gets(
    update: Update, told: bool, stopping: bool, expected: Answer
) -> None:
    assert answer_for(update, ME, told=told, stopping=stopping) is expected
