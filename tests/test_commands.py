"""Every subscriber and admin command, through real python-telegram-bot and the fake Bot API;
every command answers.

The handlers' clock is a `Clock` the tests move, so digests and mutes need no waiting.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot as PTBBot
from telegram import InlineKeyboardButton, Update

from bot.config import Config
from bot.delivery.limits import DeliverySettings, Limits
from bot.delivery.worker import DeliveryWorker
from bot.insights.trends import visible_length
from bot.telegram.arrival import Arrival, arrival
from bot.telegram.chat import BotContext, bot_commands, install, set_commands
from bot.telegram.context import esc
from bot.telegram.pages import PER_PAGE, page_of, paged, turned_to
from bot.telegram.prefs import _MUTE_WORD, mute_span
from bot.telegram.previews import MAX_PREVIEWS, PREVIEW_ITEMS, PREVIEWS
from bot.telegram.texts import COMMANDS
from bot.telegram.updates import build_application
from bot.telegram.upgrades import Upgrades
from store import AsyncStore, ChatPrefs, FeedState, ItemRecord, Store, Watch
from tests.conftest import ROOT, TOKEN, Clock, connections, new_store, running, shipped_topics
from tests.fakes.feed_server import FeedServer, Route
from tests.fakes.telegram_api import FakeBotAPI
from watchers.bounded import OutOfRange
from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.fetch import Fetcher
from watchers.poll import Poller
from watchers.topics.compile import compile_topics

USER = 5005
ADMIN = 9009
T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday; 12:00 in Tokyo


@dataclass
class Bot:
    store: AsyncStore
    api: FakeBotAPI
    clock: Clock
    recompiled: list[int] = field(default_factory=list)
    woken: list[int] = field(default_factory=list)
    ctx: BotContext | None = None
    watches_added: list[Watch] = field(default_factory=list)
    previewed: list[str] = field(default_factory=list)  # /watch previews: shown, skipped
    app: Any = None  # the PTB application

    async def say(self, text: str, chat_id: int = USER, **kwargs: Any) -> str:
        """Send `text` as a user in `chat_id`; the bot's (first) reply."""
        count = len(self.api.sent_messages(chat_id))
        self.api.push_message(chat_id, text, **kwargs)
        replies = await self.api.wait_for_messages_async(chat_id, count + 1)
        return str(replies[count]["text"])


@pytest.fixture
async def bot(
    tmp_path: Path, bot_api: FakeBotAPI, request: pytest.FixtureRequest
) -> AsyncIterator[Bot]:
    topics = getattr(request, "param", None) or shipped_topics()  # indirect: other topics
    settings = Config.model_validate(
        {"topics": topics, "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    harness = Bot(store, bot_api, Clock(T0))

    async def recompile(added: Watch | None, removed: Watch | None) -> None:
        harness.recompiled.append(1)
        if added is not None:
            harness.watches_added.append(added)

    app = build_application(settings, TOKEN)
    ctx = BotContext(
        store=store,
        topics=compile_topics(settings.topics).topics,
        clock=harness.clock,
        admins=frozenset({ADMIN}),
        max_watches=3,
        watches_changed=recompile,
        wake=lambda: harness.woken.append(1),
        previewed=harness.previewed.append,
    )
    install(app, ctx)
    harness.ctx, harness.app = ctx, app
    async with running(app):
        yield harness
    await store.close()


async def test_start_shows_a_topic_keyboard_that_toggles_in_place(bot: Bot) -> None:
    text = await bot.say("/start", language_code="ru")
    assert "присылает новости" in text and "<b>Сводка:</b> выключена" in text
    [welcome] = bot.api.sent_messages(USER)
    buttons = welcome["reply_markup"]["inline_keyboard"]
    # the topics, then the offer of news languages: the user's own first
    assert [row[0]["callback_data"] for row in buttons] == ["t:kuril", "t:peace-treaty", "nl:=ru"]
    message_id = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    bot.api.push_callback_query(USER, message_id, "t:kuril")
    await bot.api.wait_for_async(
        lambda: bot.api.calls_of("editMessageReplyMarkup"), 10, "the keyboard redrawn"
    )
    assert await bot.store.run(Store.subscriptions, USER) == ["kuril"]
    [answer] = bot.api.calls_of("answerCallbackQuery")
    assert answer.params["text"] == "Подписка на kuril оформлена."
    edited = bot.api.message(USER, message_id)
    assert edited is not None
    assert edited["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Курильские острова"
    assert edited["reply_markup"]["inline_keyboard"][2][0]["callback_data"] == "nl:=ru"
    bot.api.push_callback_query(USER, message_id, "t:kuril")
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("answerCallbackQuery")) == 2, 10, "the second tap"
    )
    assert await bot.store.run(Store.subscriptions, USER) == []


LONG_ID = "kuril-islands-" + "and-the-peace-treaty-" * 3  # 76 characters


@pytest.mark.parametrize(
    "bot", [{**shipped_topics(), LONG_ID: {"title": "Long", "query": "kuril"}}], indirect=True
)
async def test_a_topic_of_a_long_id_has_a_button_that_works(bot: Bot) -> None:
    await bot.say("/topics")
    [listing] = bot.api.sent_messages(USER)
    data = listing["reply_markup"]["inline_keyboard"][2][0]["callback_data"]
    assert len(data.encode()) <= 64
    message_id = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    bot.api.push_callback_query(USER, message_id, data)
    [answer] = await asyncio.to_thread(bot.api.wait_for_calls, "answerCallbackQuery")
    assert answer.params["text"] == f"Subscribed to {LONG_ID}."
    assert await bot.store.run(Store.subscriptions, USER) == [LONG_ID]


VERY_LONG_ID = "kuril-" + "x" * 220


async def pressed(bot: Bot, command: str, row: int) -> str:
    """The answer to a press of the first button of `row` under the reply to `command`, once
    the keyboard is redrawn; a refused answer (Telegram's 200 characters) fails."""
    await bot.say(command, language_code="ru")
    [listing] = bot.api.sent_messages(USER)
    data = listing["reply_markup"]["inline_keyboard"][row][0]["callback_data"]
    message_id = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    bot.api.push_callback_query(USER, message_id, data)
    [answer] = await asyncio.to_thread(bot.api.wait_for_calls, "answerCallbackQuery")
    assert answer.status == 200, answer.response
    await asyncio.to_thread(bot.api.wait_for_calls, "editMessageReplyMarkup")
    return str(answer.params["text"])


@pytest.mark.parametrize(
    "bot", [{**shipped_topics(), VERY_LONG_ID: {"title": "Long", "query": "kuril"}}], indirect=True
)
async def test_a_press_naming_a_long_topic_gets_an_answer_telegram_takes(bot: Bot) -> None:
    """The answer "Subscribed to <id>." of a 226-character id passes answerCallbackQuery's
    200: refused, the keyboard was not redrawn and the user read "Sorry, something went
    wrong"."""
    assert (await pressed(bot, "/topics", 2)).endswith("…")
    assert await bot.store.run(Store.subscriptions, USER) == [VERY_LONG_ID]


async def test_a_press_naming_a_long_source_gets_an_answer_telegram_takes(bot: Bot) -> None:
    assert bot.ctx is not None
    bot.ctx.feeds = (("tass-en", "TASS " + "— world news in English " * 12),)
    assert (await pressed(bot, "/sources", 0)).startswith("Источник")
    assert await bot.store.run(Store.muted_sources, USER) == ["tass-en"]


async def test_sources_says_it_takes_no_argument_and_still_offers_its_keyboard(bot: Bot) -> None:
    """'/sources tass-en' showed the keyboard as if the word had been read: the user was left
    to think the outlet was muted."""
    assert bot.ctx is not None
    bot.ctx.feeds = (("tass-en", "TASS"), ("kyodo", "Kyodo"))
    text = await bot.say("/sources tass-en", language_code="ru")
    assert "«tass-en»" in text or "'tass-en'" in text, text
    assert "/sources" in text and "ничего" in text, text
    labels = [
        r[0]["text"] for r in bot.api.sent_messages(USER)[-1]["reply_markup"]["inline_keyboard"]
    ]
    assert labels == ["🔊 TASS (tass-en)", "🔊 Kyodo (kyodo)"]
    assert await bot.store.run(Store.muted_sources, USER) == []
    assert "takes" not in await bot.say("/sources")


LONG_TITLES = {
    f"t{n}": {"title": "Курильские острова и мирный договор " * 20, "query": "kuril"}
    for n in range(10)
}


@pytest.mark.parametrize("bot", [LONG_TITLES], indirect=True)
async def test_start_with_long_topic_titles_fits_its_keyboard(bot: Bot) -> None:
    """Ten titles of 720 Cyrillic characters on their buttons passed Telegram's 10 KB of a
    keyboard: /start and /topics were refused."""
    text = await bot.say("/start", language_code="ru")
    assert "присылает новости" in text, text[:200]
    [listing] = bot.api.sent_messages(USER)
    labels = [row[0]["text"] for row in listing["reply_markup"]["inline_keyboard"][:10]]
    assert all(label.endswith("…") and len(label) <= 64 for label in labels), labels


MANY_TOPICS = {
    f"region-{n:04d}-kuril-news": {"title": f"T{n}", "query": "kuril"} for n in range(600)
}


async def replies_to(bot: Bot, command: str, lang: str) -> list[dict[str, Any]]:
    """Every message the bot sent for `command`: a chat's updates are answered in order, so
    those before the answer to a /help sent after it."""
    before = len(bot.api.sent_messages(USER))
    await bot.say(command, language_code=lang)
    await bot.say("/help", language_code=lang)
    return bot.api.sent_messages(USER)[before:-1]


@pytest.mark.parametrize("bot", [MANY_TOPICS], indirect=True)
async def test_start_and_latest_of_a_config_of_hundreds_of_topics_are_one_message(
    bot: Bot,
) -> None:
    """/start after /subscribe all named every topic id (5 messages of 600 topics), and so
    did /latest of an unknown topic (6)."""
    await bot.say("/subscribe all", language_code="ru")
    [start] = await replies_to(bot, "/start", "ru")
    assert "… и ещё 580 тем" in start["text"], start["text"][:300]
    [latest] = await replies_to(bot, "/latest nosuchtopic", "ja")
    assert "(+580: /topics)" in latest["text"]
    assert "</code>、<code>" in latest["text"] and "、… (+580" in latest["text"]  # not ", "


async def test_twenty_one_unknown_topics_are_named_in_the_plural(bot: Bot) -> None:
    """The form was chosen by the count, which is not shown: 21 took Russian's form for 1."""
    ids = " ".join(f"a{n}" for n in range(21))
    answer = await bot.say(f"/subscribe {ids}", language_code="ru")
    assert answer.startswith("Неизвестные темы «a0», «a1»"), answer[:80]
    # a hash alone is no topic: it was "Unknown topic ''"
    assert (await bot.say("/subscribe #")).startswith("Which topic?")

    await bot.say("/start")
    await bot.store.run(Store.deactivate_chat, USER, "Forbidden: blocked", now=T0)
    await bot.say("/start")
    subscriber = await bot.store.run(Store.subscriber, USER)
    assert subscriber is not None and subscriber.active


async def test_a_chat_back_after_blocking_the_bot_has_its_watches_matched_again(bot: Bot) -> None:
    """A restart while a chat had blocked the bot leaves its watches out of the daemon's
    index; when it is back, they are filed again."""
    await bot.say("/watch Shikotan")
    [watch] = bot.watches_added
    await bot.store.run(Store.deactivate_chat, USER, "Forbidden: blocked", now=T0)
    await bot.say("/start")
    assert bot.watches_added == [watch, watch]
    await bot.say("/start")  # an active chat's commands file nothing again
    assert len(bot.watches_added) == 2


async def test_watch_watches_unwatch_and_their_mistakes(bot: Bot) -> None:
    assert "Write what to watch for" in await bot.say("/watch")
    bad = await bot.say('/watch "Shikotan')
    assert "column 1" in bad and "unclosed quote" in bad and "<pre>" in bad
    assert "Watching for <code>Shikotan</code>" in await bot.say("/watch Shikotan")
    assert bot.recompiled == [1]
    await bot.say("/watch Итуруп")
    await bot.say("/watch 色丹")
    assert "the most a chat may have" in await bot.say("/watch Habomai")
    listed = await bot.say("/watches")
    assert "1. <code>Shikotan</code>" in listed and "3. <code>色丹</code>" in listed
    assert "/watches numbers them" in await bot.say("/unwatch two")
    assert "no watch number 7" in await bot.say("/unwatch 7")
    assert "Stopped watching for <code>Итуруп</code>" in await bot.say("/unwatch 2")
    assert [w.query for w in await bot.store.run(Store.watches, USER)] == ["Shikotan", "色丹"]
    assert len(bot.recompiled) == 4


async def test_a_chat_over_a_lowered_watch_limit_is_told_its_count_and_the_limit(
    bot: Bot,
) -> None:
    """The operator lowered telegram.max_watches below what a chat had: /watch answered "You
    have 1 watch, the most a chat may have" to a chat of 3 (the limit, said as its count), and
    "Remove one", which left it over the limit still."""
    for query in ("Shikotan", "Итуруп", "色丹"):
        await bot.say(f"/watch {query}")
    assert bot.ctx is not None
    assert "You have 3 watches, the most a chat may have." in await bot.say("/watch Habomai")
    bot.ctx.max_watches = 1  # as a reload sets it; the chat keeps its 3
    answer = await bot.say("/watch Habomai")
    assert "You have 3 watches; the most a chat may have is 1." in answer, answer
    assert "Remove 3 with /unwatch first (/watches lists them)." in answer, answer
    answer = await bot.say("/watch Habomai", language_code="ru")
    assert "У вас 3 запроса, а в одном чате их может быть не больше 1." in answer, answer
    assert "Сначала удалите 3 запроса командой /unwatch" in answer, answer
    answer = await bot.say("/watch Habomai", language_code="ja")
    assert "キーワードは3件登録済みですが、上限は1件です。" in answer, answer
    bot.ctx.max_watches = 0
    answer = await bot.say("/watch Habomai")
    assert "may have is 0" not in answer and "The bot's operator allows no watches." in answer
    assert "/unwatch" not in answer, answer
    assert [w.query for w in await bot.store.run(Store.watches, USER)] == [
        "Shikotan",
        "Итуруп",
        "色丹",
    ]


async def test_a_second_watch_of_the_same_query_is_told_so_and_stores_nothing(bot: Bot) -> None:
    # it was answered "Watching for", as a new watch, and stored a duplicate when written
    # with other spaces, capitals or full-width letters
    await bot.say("/watch Shikotan OR Итуруп")
    await bot.say("/watch Habomai")
    await bot.say("/watch 色丹")  # the most this chat may have (3)
    for same in (
        "/watch Shikotan OR Итуруп",
        "/watch  shikotan   OR  ИТУРУП ",
        "/watch ＳＨＩＫＯＴＡＮ OR итуруп",
    ):
        answer = await bot.say(same)
        assert "You already watch this query" in answer and "Watching for" not in answer
        assert "1. <code>Shikotan OR Итуруп</code>" in answer, answer
        assert "the most a chat may have" not in answer  # not counted against the limit
    answer = await bot.say("/watch habomai", language_code="ru")
    assert "2. <code>Habomai</code>" in answer and "Watching" not in answer
    assert "Вы уже отслеживаете этот запрос" in answer, answer
    answer = await bot.say("/watch 色丹", language_code="ja")
    assert "3. <code>色丹</code>" in answer and "この検索式はすでに登録されています" in answer, (
        answer
    )
    watched = [w.query for w in await bot.store.run(Store.watches, USER)]
    assert watched == ["Shikotan OR Итуруп", "Habomai", "色丹"]
    assert len(bot.recompiled) == 3  # the index was not told of a new watch
    # another query is another watch: the limit answers it as before
    assert "the most a chat may have" in await bot.say("/watch Shikotan OR Итуруп OR Kunashir")


async def test_a_watch_in_typographic_quotes_is_a_phrase(bot: Bot) -> None:
    """A Russian keyboard types «ёлочки», a phone “smart quotes”: `/watch «мирный договор»` was
    saved as two words a story must both contain, anywhere in it."""
    answer = await bot.say("/watch «мирный договор»", language_code="ru")
    assert "<code>«мирный договор»</code>" in answer, answer
    answer = await bot.say('/watch "мирный договор"', language_code="ru")
    assert "Вы уже отслеживаете этот запрос" in answer, answer  # the same phrase
    assert "Watching for" in await bot.say("/watch “peace treaty” Motegi")
    assert "You already watch" in await bot.say('/watch "peace treaty" AND motegi')
    watched = [w.query for w in await bot.store.run(Store.watches, USER)]
    assert watched == ["«мирный договор»", "“peace treaty” Motegi"]


def test_the_same_query_is_found_after_the_normalisation_a_query_gets() -> None:
    from bot.telegram.watches import same_query

    watched = ["Shikotan OR Итуруп", "=Kuril", "北方領土"]
    assert same_query(watched, "shikotan  OR  итуруп") == 0
    assert same_query(watched, "=Kuril") == 1
    assert same_query(watched, "=kuril") is None  # `=` keeps the capitals
    assert same_query(watched, "Kuril") is None
    assert same_query(watched, "Shikotan or Итуруп") is None  # `or` is a word
    assert same_query(watched, "Итуруп OR Shikotan") is None  # another query, if alike
    assert same_query(["a0 NEAR b0 " * 5], "a0") is None  # a saved query that no longer parses


async def test_a_watch_of_too_many_nears_is_refused_naming_the_limit(bot: Bot) -> None:
    nears = " ".join(f"a{i} NEAR b{i}" for i in range(14))
    answer = await bot.say(f"/watch {nears}", language_code="ru")
    assert "больше 4 NEAR" in answer and "позиция 48" in answer, answer
    assert await bot.store.run(Store.watches, USER) == []
    assert bot.recompiled == []


async def test_an_operator_without_a_term_before_it_is_told_so(bot: Bot) -> None:
    """`/watch AND Shikotan` was answered "column 1: AND needs a term after it", and a term
    stood right after it."""
    for lang, said in (
        ("en", "column 1: a term is missing before AND"),
        ("ru", "перед AND не хватает слова"),
        ("ja", "AND の前に語が必要です"),
    ):
        answer = await bot.say("/watch AND Shikotan", language_code=lang)
        assert said in answer, answer
    assert await bot.store.run(Store.watches, USER) == []


async def test_topics_may_be_separated_by_commas(bot: Bot) -> None:
    assert "Subscribed to kuril, peace-treaty" in await bot.say("/subscribe kuril, peace-treaty")
    assert "Unsubscribed from kuril, peace-treaty" in await bot.say(
        "/unsubscribe kuril,peace-treaty"
    )


async def test_a_saved_watch_that_no_longer_parses_is_marked_with_why(bot: Bot) -> None:
    too_many = " ".join(f"a{i} NEAR b{i}" for i in range(5))  # saved before NEARs were capped
    await bot.store.run(Store.add_watch, USER, too_many, now=T0, limit=3)
    await bot.say("/watch Shikotan")
    listed = await bot.say("/watches", language_code="ru")
    assert "1. <code>a0 NEAR b0" in listed and "больше не отслеживается: больше 4 NEAR" in listed
    assert "2. <code>Shikotan</code>\n" in listed, listed
    assert "больше не отслеживается" in await bot.say("/list", language_code="ru")


async def test_language_names_the_argument_it_does_not_know(bot: Bot) -> None:
    """A "/language russian" was answered like a bare /language, as if it had been read."""
    answer = await bot.say("/language russian", language_code="ja")
    assert "russian" in answer and "<code>/language ru</code>" in answer, answer
    assert await bot.say("/language", language_code="ja") != answer
    assert "русский" in await bot.say("/language ru")


async def test_the_bots_language_is_named_mid_sentence_as_the_language_writes_it(
    bot: Bot,
) -> None:
    """Russian writes a language's name lower-case mid-sentence: "Здесь я говорю на языке:
    Русский." read as a button's label; the buttons keep the capitalised endonym."""
    assert await bot.say("/language ru") == "Теперь я говорю здесь на языке: русский."
    assert "на языке: русский." in await bot.say("/language")
    settings = await bot.say("/settings")
    assert "<b>Язык бота:</b> русский\n" in settings, settings
    await bot.say("/lang")
    labels = [
        b["text"] for b in bot.api.sent_messages(USER)[-1]["reply_markup"]["inline_keyboard"][0]
    ]
    assert labels == ["➕ English", "➕ Русский", "➕ 日本語"]
    assert "<b>ボットの言語:</b> 日本語" in await bot.say("/language ja") + await bot.say(
        "/settings"
    )
    assert await bot.say("/language en") == "I will speak English here."


async def test_a_huge_bad_argument_is_quoted_back_short_in_one_message(bot: Bot) -> None:
    huge = "&" * 4000  # each escaped to five characters: it came back as five messages
    commands = [
        f"/{name} {huge}"
        for name in ("subscribe", "unsubscribe", "latest", "search", "lang", "timezone", "trend")
    ]
    commands.append("/unwatch 1" + "0" * 4000)
    commands.append(f"/language {huge}")
    for command in commands:
        answer = await bot.say(command, language_code="ru")
        assert len(answer) < 500 and "…" in answer, (command[:20], answer[:200])
    await bot.say("/unmute")
    assert len(bot.api.sent_messages(USER)) == len(commands) + 1


async def test_latest_and_search_over_stored_stories(bot: Bot) -> None:
    assert "No stories yet" in await bot.say("/latest")
    feed = FeedState(id="tass-en", url="u", title="TASS")
    records = [
        ItemRecord(
            f"g{n}",
            f"https://tass.example/{n}",
            f"https://tass.example/{n}",
            title,
            "text",
            T0,
            topics,
        )
        for n, (title, topics) in enumerate(
            [
                ("Shikotan fish plant expands", ("kuril",)),
                ("Motegi: peace treaty talks go on", ("peace-treaty",)),
                ("Weather in Moscow", ()),
            ]
        )
    ]
    await bot.store.run(Store.ingest, feed, records, now=T0, alert=False)
    latest = await bot.say("/latest")
    assert "Shikotan fish plant" in latest and "Motegi" in latest and "Weather" not in latest
    only = await bot.say("/latest kuril 1")
    assert "Shikotan" in only and "Motegi" not in only and "1 story" in only
    assert "Unknown topic 'kurils'" in await bot.say("/latest kurils")
    assert "Ask for 1 to 20 stories" in await bot.say("/latest 50")
    found = await bot.say("/search shikotan")
    # the outlet as /latest names it (it was the feed's id), and no hashtag of no topic
    assert "Shikotan fish plant" in found and "TASS ·" in found and "tass-en" not in found
    assert "#" not in found and "TASS ·" in latest
    assert "Nothing stored matches" in await bot.say("/search Habomai")
    assert "Cannot search for '\"unclosed'" in await bot.say('/search "unclosed')
    assert "Write what to look for" in await bot.say("/search")
    # the examples listed in Japanese, ending as Japanese does: no "." after the last one
    asked = await bot.say("/search", language_code="ja")
    assert "Shikotan</code>、<code>/search" in asked and asked.endswith("Курил*</code>"), asked


@pytest.mark.parametrize(("lang", "marks"), [("en", "''"), ("ru", "«»"), ("ja", "「」")])
async def test_search_and_query_errors_quote_the_user_s_words_in_the_reader_s_marks(
    bot: Bot, lang: str, marks: str
) -> None:
    """/search's and /watch's errors quoted a Russian or a Japanese reader's words as Python
    writes a string ('x'), not «x» or 「x」 as every other reply does."""
    o, c = marks
    said = await bot.say('/search "unclosed', language_code=lang)
    assert f'{o}"unclosed{c}' in said, said
    said = await bot.say("/search k* OR f*", language_code=lang)
    assert f"{o}k* OR f*{c}" in said and f"{o}k*{c}" in said, said
    said = await bot.say("/watch Shikotan @@", language_code=lang)
    assert f"{o}@@{c}" in said, said
    said = await bot.say("/watch author:x", language_code=lang)
    assert f"{o}author:{c}" in said, said
    if lang != "en":
        assert "'" not in said.split("<pre>")[0], said


async def test_a_japanese_reply_puts_no_space_beside_the_words_it_quotes(bot: Bot) -> None:
    """「2x」 は期間として…: the user's words came back in 「」 with ASCII spaces around them."""
    for command, said in [
        ("/mute 2x", "「2x」は期間として読めません"),
        ("/subscribe nope", "「nope」というトピックはありません"),
        ("/search Habomai", "「Habomai」に一致するニュースはありません"),
        ("/search k*", "「k*」を検索できません: 「k*」は前方一致には短すぎます"),
        ("/timezone Mars/Base", "「Mars/Base」というタイムゾーン"),
        ("/language xx", "「xx」は対応している言語ではありません"),
    ]:
        text = await bot.say(command, language_code="ja")
        assert said in text and "」 " not in text, text


async def test_a_search_of_a_word_in_another_form_than_stored_says_how_to_find_it(
    bot: Bot,
) -> None:
    """A Russian subscriber's /search Курилы found nothing beside stored news of "на Курилах"
    (words are found only as written), and the reply said no more: a dead end."""
    feed = FeedState(id="tass-ru", url="u", title="ТАСС")
    record = ItemRecord(
        "g1", "https://tass.example/1", "https://tass.example/1",
        "На Курилах прошли учения", "text", T0, ("kuril",),
    )  # fmt: skip
    await bot.store.run(Store.ingest, feed, [record], now=T0, alert=False)
    told = await bot.say("/search Курилы", language_code="ru")
    assert "ничего не найдено" in told and "<code>/search Курил*</code>" in told, told
    found = await bot.say("/search Курил*", language_code="ru")
    assert "На Курилах прошли учения" in found
    # only the words that can take another form are widened; operators and phrases stay
    told = await bot.say('/search Kurils AND "peace talk" NOT учения*')
    assert '<code>/search Kuril* AND "peace talk" NOT учения*</code>' in told, told
    assert "other forms" not in await bot.say("/search Курил*")  # found: no hint


def test_a_search_is_widened_only_where_a_word_can_take_another_form() -> None:
    from store.search import widened

    assert widened("Курилы") == "Курил*"
    assert widened("Kurils OR islands") == "Kuril* OR island*"
    assert widened("Курил*") is None  # nothing to widen
    assert widened('"Курилы"') is None  # a phrase is asked for as written
    assert widened("北方領土") is None  # Japanese does not inflect; its runs match inside words
    assert widened("ab OR NOT") is None  # too short a stem; operators
    assert widened("lang:ru") is None  # a field's name


async def test_a_command_on_a_damaged_store_logs_what_to_do_not_a_traceback(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged search index (a bad disk sector) made /search fail into PTB's error handler,
    logged as a bug with its traceback; it is the store's, and the log says what to do."""
    feed = FeedState(id="tass", url="u", title="TASS")
    record = ItemRecord(
        "g",
        "https://tass.example/1",
        "https://tass.example/1",
        "Shikotan fish",
        "t",
        T0,
        ("kuril",),
    )
    await bot.store.run(Store.ingest, feed, [record], now=T0, alert=False)
    assert "Shikotan fish" in await bot.say("/search shikotan")
    with Store(bot.store.path) as store:  # the index's structure record garbled
        store.db.execute("UPDATE items_fts_data SET block = x'ffffffffff'")
        store.db.conn.commit()
    with caplog.at_level(logging.ERROR, logger="bot.telegram.failures"):
        assert "something went wrong" in await bot.say("/search shikotan")
    [said] = [r for r in caplog.records if r.name == "bot.telegram.failures"]
    assert said.exc_info is None and "kurilwatch restore" in said.getMessage()
    assert str(bot.store.path) in said.getMessage()


async def test_digest_timezone_quiet_with_their_mistakes(bot: Bot) -> None:
    await bot.say("/start")
    assert "Time zone set to Asia/Tokyo" in await bot.say("/timezone asia/tokyo")
    assert "not a time zone I know" in await bot.say("/timezone Mars/Olympus")
    assert "Your time zone is Asia/Tokyo" in await bot.say("/timezone")
    reply = await bot.say("/digest daily 18:00")
    assert "daily 18:00 (next: Fri 27 Nov 18:00 JST)" in reply
    assert "is not a time of day" in await bot.say("/digest daily 25:61")
    # full-width digits, as a Japanese keyboard types them
    assert "daily 08:00" in await bot.say("/digest daily \uff10\uff18:\uff10\uff10")
    assert "write /digest off" in await bot.say("/digest hourly")
    assert "Digest off" in await bot.say("/digest off")
    assert "weekly, Monday 07:30" in await bot.say("/digest weekly monday 7:30")
    assert "without a sound" in await bot.say("/quiet 23:00-07:00")
    assert "choose silent or hold" in await bot.say("/quiet 23:00-07:00 loudly")
    assert "when they end" in await bot.say("/quiet 22:00-06:00 hold")
    prefs = await bot.store.run(Store.prefs, USER)
    assert (prefs.timezone, prefs.digest, prefs.quiet) == (
        "Asia/Tokyo",
        "weekly mon 07:30",
        "22:00-06:00 hold",
    )
    assert bot.woken  # held alerts are looked at again
    assert "Quiet hours off" in await bot.say("/quiet off")


async def test_quiet_hours_name_the_zone_they_are_kept_in(bot: Bot) -> None:
    """'/quiet 23:00-07:00' was confirmed '(your time zone)' to a chat that had set none: kept
    in UTC, Tokyo's quiet hours fell 08:00-16:00, without a word. The reply names the zone,
    and how to set one while it is the default."""
    answer = await bot.say("/quiet 23:00-07:00", language_code="ja")
    assert "23:00-07:00（UTC）" in answer and "/timezone Asia/Tokyo" in answer
    await bot.say("/timezone Asia/Tokyo")
    answer = await bot.say("/quiet 23:00-07:00 hold", language_code="ru")
    assert "23:00-07:00 (Asia/Tokyo)" in answer and "/timezone" not in answer


async def test_a_weekday_written_in_the_chats_language(bot: Bot) -> None:
    """/help in Russian and Japanese says 'weekly <день>' and 'weekly <曜日>': the day is taken
    as they write it too."""
    for command, lang, said in (
        ("/digest weekly 月 08:00", "ja", "月曜日 08:00"),
        ("/digest weekly 金曜日 8:00", "ja", "金曜日 08:00"),
        ("/digest weekly 水曜 08:00", "ja", "水曜日 08:00"),
        ("/digest weekly пн 08:00", "ru", "понедельник 08:00"),
        ("/digest weekly Пятница 08:00", "ru", "пятница 08:00"),
        ("/report weekly вс 09:00", "ru", "воскресенье 09:00"),
    ):
        assert said in await bot.say(command, language_code=lang), command
    # a mistake and the forms shown are answered with the days as the chat writes them
    assert "напишите пн, вт, … или вс" in await bot.say(
        "/digest weekly П 08:00", language_code="ru"
    )
    assert "<code>/digest weekly пн 08:00</code>" in await bot.say("/digest", language_code="ru")
    assert "<code>/report weekly 月 08:00</code>" in await bot.say("/report", language_code="ja")
    assert "月、火、水" in await bot.say("/digest weekly 8 08:00", language_code="ja")
    assert await bot.store.run(Store.prefs, USER) is not None


async def test_timezone_as_an_offset_and_the_offset_it_sets_told(bot: Bot) -> None:
    """'UTC+3' or '+09:00' is how many write their zone; and Etc/GMT+3 is UTC-3 (POSIX's sign),
    which the reply says, with the time there now, rather than leave every time 6 hours off."""
    await bot.say("/start")
    answer = await bot.say("/timezone UTC+3")
    assert "Time zone set to UTC+3 (UTC+03:00: it is 06:00 there now)" in answer
    assert await bot.store.run(Store.prefs, USER) is not None
    assert "Fri 27 Nov 08:00 +03" in await bot.say("/digest daily 08:00")
    assert "<b>Time zone:</b> UTC+3" in await bot.say("/list")
    assert "(UTC+09:00: it is 12:00 there now)" in await bot.say("/timezone +09:00")
    assert "(UTC+09:00: it is 12:00 there now)" in await bot.say("/timezone GMT\uff0b9")
    assert "(UTC+00:00: it is 03:00 there now)" in await bot.say("/timezone UTC")
    answer = await bot.say("/timezone Etc/GMT+3")
    assert "Time zone set to UTC-3 (UTC-03:00: it is 00:00 there now)" in answer
    assert "(UTC+03:00: it is 06:00 there now)" in await bot.say("/timezone europe/moscow")
    for wrong in ("+05:30", "UTC+15", "MSK"):
        assert "not a time zone I know" in await bot.say(f"/timezone {wrong}")


async def test_quiet_hours_are_described_in_the_chats_language(bot: Bot) -> None:
    """/list and /quiet showed the stored "23:00-07:00 hold" to a Russian or Japanese chat."""
    await bot.say("/quiet 23:00-07:00 hold", language_code="ru")
    current = (await bot.say("/quiet", language_code="ru")).split(".")[0]
    assert current == "Тихие часы: 23:00-07:00, оповещения ждут их конца"
    assert "23:00-07:00, оповещения ждут их конца" in await bot.say("/list", language_code="ru")
    await bot.say("/quiet 23:00-07:00 silent", language_code="ja")
    listed = await bot.say("/list", language_code="ja")
    assert "23:00-07:00、音なしで通知" in listed and "silent" not in listed


async def test_a_digest_due_in_quiet_hours_that_hold_names_their_end_as_its_time(
    bot: Bot,
) -> None:
    """The digest at 18:00 waits for quiet hours 17:00-19:00 that hold to end: it comes at
    19:00, and /digest and /list say so."""
    await bot.say("/timezone Asia/Tokyo")  # 12:00 there
    await bot.say("/quiet 17:00-19:00 hold")
    assert "daily 18:00 (next: Fri 27 Nov 19:00 JST)" in await bot.say("/digest daily 18:00")
    assert "daily 18:00 (next: Fri 27 Nov 19:00 JST)" in await bot.say("/list")
    await bot.say("/quiet 17:00-19:00 silent")  # sent at 18:00, without a sound
    assert "daily 18:00 (next: Fri 27 Nov 18:00 JST)" in await bot.say("/digest")


@pytest.mark.parametrize(
    ("written", "span"),
    [
        ("2h", timedelta(hours=2)),
        ("2ч", timedelta(hours=2)),
        ("2 часа", timedelta(hours=2)),
        ("90мин", timedelta(minutes=90)),
        ("1ч30мин", timedelta(hours=1, minutes=30)),
        ("1д", timedelta(days=1)),
        ("3 дня", timedelta(days=3)),
        ("2時間", timedelta(hours=2)),
        ("30分", timedelta(minutes=30)),
        ("1日", timedelta(days=1)),
        ("2Ч", timedelta(hours=2)),
    ],
)
def test_mute_takes_the_units_of_each_language(written: str, span: timedelta) -> None:
    assert mute_span(written.split()) == span


@pytest.mark.parametrize("written", ["forever", "2 hours please", "ч", "2x", "2 2", "2ч 3ч"])
def test_mute_refuses_what_is_no_duration(written: str) -> None:
    with pytest.raises(ValueError):
        mute_span(written.split())


def test_mute_reads_a_number_from_where_its_digits_start() -> None:
    """Tried again at each digit of a long run, the unit pattern held the event loop for 2 s
    over 8,180 digits (4,096 circled numbers, as NFKC reads them)."""
    assert _MUTE_WORD.match("1234ч", 1) is None
    assert _MUTE_WORD.match("1234ч", 0) is not None
    with pytest.raises(OutOfRange):  # read whole, as the duration it is: out of range
        mute_span(["1" * 8000 + "h"])


async def test_mute_in_russian_and_japanese_units(bot: Bot) -> None:
    """The Russian and Japanese help say "2h", but a user writes 2ч or 2時間: refused."""
    assert "Пауза до" in await bot.say("/mute 2ч", language_code="ru")
    prefs = await bot.store.run(Store.prefs, USER)
    assert prefs is not None and prefs.muted_until == T0 + timedelta(hours=2)
    assert "まで通知を一時停止" in await bot.say("/mute 1日", language_code="ja")


async def test_mute_and_unmute_with_the_clock(bot: Bot) -> None:
    await bot.say("/start")
    assert "For how long?" in await bot.say("/mute")
    assert "'forever' is not a duration" in await bot.say("/mute forever")
    assert "between 1 minute and 30 days" in await bot.say("/mute 90d")
    assert "Muted until Fri 27 Nov 05:00" in await bot.say("/mute 2h")
    prefs = await bot.store.run(Store.prefs, USER)
    assert prefs.muted_until == T0 + timedelta(hours=2)
    bot.clock.now = T0 + timedelta(hours=3)
    assert "not muted" in await bot.say("/unmute")
    bot.clock.now = T0
    await bot.say("/mute 1d")
    assert "Unmuted" in await bot.say("/unmute")


async def test_mute_names_the_zone_of_the_time_it_ends(bot: Bot) -> None:
    """'Muted until Fri 27 Nov 05:00' to a Tokyo user who had set no time zone read as 05:00
    there, nine hours off: the time is in UTC, and says so, as /digest's next time does."""
    assert "Muted until Fri 27 Nov 05:00 UTC." in await bot.say("/mute 2h")
    await bot.say("/timezone Asia/Tokyo")
    assert "11月27日（金）14:00 JSTまで" in await bot.say("/mute 2h", language_code="ja")
    assert "<b>Muted until</b> Fri 27 Nov 14:00 JST" in await bot.say("/list")
    await bot.say("/quiet 11:00-15:00 hold")
    assert "quiet hours end, Fri 27 Nov 15:00 JST" in await bot.say("/unmute")


async def test_mute_and_unmute_say_when_a_digest_or_quiet_hours_send_what_was_held(
    bot: Bot,
) -> None:
    """A chat that takes digests gets its held alerts with a digest, and one in quiet hours
    that hold gets them at their end, not "now": the replies say so."""
    await bot.say("/timezone Asia/Tokyo")  # 12:00 there
    await bot.say("/digest daily 18:00")
    muted = await bot.say("/mute 2h")
    assert "Muted until Fri 27 Nov 14:00" in muted and "digest" in muted
    unmuted = await bot.say("/unmute")
    assert "come now" not in unmuted and "next digest, Fri 27 Nov 18:00" in unmuted
    await bot.say("/digest off")
    await bot.say("/quiet 11:00-15:00 hold")
    muted = await bot.say("/mute 1h")
    assert "Muted until Fri 27 Nov 13:00" in muted and "quiet hours end, Fri 27 Nov 15:00" in muted
    unmuted = await bot.say("/unmute")
    assert "come now" not in unmuted and "quiet hours end, Fri 27 Nov 15:00" in unmuted
    await bot.say("/quiet off")
    await bot.say("/mute 1h")
    assert "come now, together" in await bot.say("/unmute")


async def test_stop_says_what_it_deleted(bot: Bot) -> None:
    await bot.say("/subscribe kuril")
    await bot.say("/watch Shikotan")
    assert "topics, watches, settings and queued alerts" in await bot.say("/stop")
    assert await bot.store.run(Store.watches, USER) == []
    assert await bot.store.run(Store.prefs, USER) is None


async def test_a_group_changes_only_through_its_admins(bot: Bot) -> None:
    group: dict[str, Any] = {"chat_id": -400, "chat_type": "supergroup", "user_id": 77}
    for command in ("/watch Shikotan", "/digest daily 08:00", "/mute 1h", "/stop"):
        assert "Only this group's admins" in await bot.say(command, **group)
    assert await bot.store.run(Store.watches, -400) == []
    assert "No stories yet" in await bot.say("/latest", **group)  # reading is for everyone
    bot.api.set_admins(-400, [77])
    assert "Watching for" in await bot.say("/watch Shikotan", **group)


async def test_a_members_start_in_a_group_says_its_topics_are_the_admins_choice(bot: Bot) -> None:
    """A member's /start in a group said "Tap a topic below" over a keyboard whose every press
    answered "only admins", and /start and /list called the group's topics "yours"."""
    bot.api.set_admins(-405, [77])
    admin: dict[str, Any] = {"chat_id": -405, "chat_type": "supergroup", "user_id": 77}
    member: dict[str, Any] = {"chat_id": -405, "chat_type": "supergroup", "user_id": 55}
    await bot.say("/language ru", **admin)
    await bot.say("/subscribe kuril", **admin)
    text = await bot.say("/start", language_code="ru", **member)
    assert "Нажмите" not in text and "администратор" in text, text
    assert "<b>Темы этой группы:</b> kuril" in text, text
    assert "reply_markup" not in bot.api.sent_messages(-405)[-1]  # no keyboard that refuses
    text = await bot.say("/start", language_code="ru", **admin)  # an admin's has the keyboard
    assert "Нажмите" in text and "<b>Темы этой группы:</b> kuril" in text, text
    assert bot.api.sent_messages(-405)[-1]["reply_markup"]["inline_keyboard"][0]
    assert "<b>Темы этой группы</b>" in await bot.say("/list", **member)
    assert "<b>Темы этой группы:</b>" in await bot.say("/settings", **member)
    assert "<b>Your topics:</b>" in await bot.say("/start")  # a private chat's are its own
    assert "<b>Your subscriptions</b>" in await bot.say("/subscribe kuril") + await bot.say("/list")
    await bot.say("/language ja", **admin)
    assert "<b>このグループのトピック:</b>" in await bot.say("/start", **member)
    await bot.say("/language en", **admin)
    text = await bot.say("/start", **member)
    assert "<b>This group's topics:</b> kuril" in text and "admins" in text, text


async def test_a_members_start_and_mywatch_offer_no_command_only_an_admin_may_send(
    bot: Bot,
) -> None:
    """A member's /start said its admins choose, then "Запросы: 1 (/watch — добавить)" and
    "Языки новостей: все (/lang)"; a member's /mywatch ended "/mywatch new выдаст новый", and
    each of those commands answered the member "only its admins"."""
    bot.api.set_admins(-409, [77])
    assert bot.ctx is not None
    bot.ctx.feeds_url = "http://127.0.0.1:9/feeds"
    admin: dict[str, Any] = {"chat_id": -409, "chat_type": "supergroup", "user_id": 77}
    member: dict[str, Any] = {"chat_id": -409, "chat_type": "supergroup", "user_id": 55}
    await bot.say("/language ru", **admin)
    await bot.say("/watch Shikotan", **admin)
    text = await bot.say("/start", **member)
    assert "<b>Запросы:</b> 1\n" in text and "/watch" not in text, text
    assert "<b>Языки новостей:</b> все\n" in text and "/lang" not in text, text
    text = await bot.say("/mywatch", **member)
    assert "/feeds/w/" in text and "администратор группы" in text, text
    assert "Only this group's admins" not in text
    refused = await bot.say("/mywatch new", **member)  # as it says: not the member's to send
    assert "только её администраторы" in refused, refused
    text = await bot.say("/start", **admin)  # an admin's keep them
    assert "<b>Запросы:</b> 1 (/watch — добавить)" in text and "(/lang)" in text, text
    text = await bot.say("/mywatch", **admin)
    assert "<code>/mywatch new</code> выдаст новый" in text, text
    await bot.say("/language ja", **admin)
    text = await bot.say("/start", **member)
    assert "<b>登録キーワード:</b> 1\n" in text and "/watch" not in text, text
    text = await bot.say("/mywatch", **member)
    assert "グループの管理者が <code>/mywatch new</code>" in text, text


async def test_a_members_topics_and_watches_in_a_group_are_the_group_s_and_its_admins_choice(
    bot: Bot,
) -> None:
    """A member's /topics in a group drew a keyboard whose every press answered "only admins",
    and /watches and /list called the group's watches "yours" (RU "Ваши запросы")."""
    bot.api.set_admins(-406, [77])
    admin: dict[str, Any] = {"chat_id": -406, "chat_type": "supergroup", "user_id": 77}
    member: dict[str, Any] = {"chat_id": -406, "chat_type": "supergroup", "user_id": 55}
    await bot.say("/language ru", **admin)
    await bot.say("/subscribe kuril", **admin)
    text = await bot.say("/topics", **member)
    assert "✅ = группа подписана" in text and "только её администраторы" in text, text
    assert "reply_markup" not in bot.api.sent_messages(-406)[-1]  # no keyboard that refuses
    text = await bot.say("/topics", **admin)  # an admin's has it
    assert "✅ = группа подписана" in text and "только её администраторы" not in text, text
    assert bot.api.sent_messages(-406)[-1]["reply_markup"]["inline_keyboard"][0]
    text = await bot.say("/watches", **member)
    assert "У этой группы пока нет запросов" in text and "администратор" in text, text
    await bot.say("/watch Shikotan", **admin)
    text = await bot.say("/watches", **member)
    assert "<b>Запросы этой группы</b> (1 из 3)" in text and "Ваши" not in text, text
    assert "/unwatch" in text and "администратор" in text, text
    text = await bot.say("/watches", **admin)
    assert "<b>Запросы этой группы</b> (1 из 3)" in text and "Удалить:" in text, text
    text = await bot.say("/list", **member)
    assert "<b>Запросы этой группы</b>" in text and "Ваши" not in text, text
    await bot.say("/language ja", **admin)
    assert "<b>このグループの登録キーワード</b>（1/3）" in await bot.say("/watches", **member)
    await bot.say("/language en", **admin)
    text = await bot.say("/watches", **member)
    assert "<b>This group's watches</b> (1 of 3)" in text and "Your" not in text, text
    assert "<b>Topics</b> (✅ = this group follows it)" in await bot.say("/topics", **member)
    # a private chat's are its own, with the keyboard
    assert "<b>Topics</b> (✅ = subscribed)" in await bot.say("/topics")
    assert bot.api.sent_messages(USER)[-1]["reply_markup"]["inline_keyboard"][0]
    await bot.say("/watch Kunashir")
    assert "<b>Your watches</b> (1 of 3)" in await bot.say("/watches")


# "your" of what is a chat's own: in a group, its admin read it of the group's
YOURS = re.compile(r"\byour\b|\byou (?:have|were|already)\b", re.IGNORECASE)
YOURS_RU = re.compile(r"\b(?:[Вв]аш\w*|[Вв]ы|[Уу] вас)\b")


async def test_a_groups_admin_is_told_of_the_group_s_watches_and_settings_not_their_own(
    bot: Bot,
) -> None:
    """After a /watch in a group its admin read "/watches lists your watches"; /unwatch,
    /mywatch, /unsubscribe, /mute, /unmute, /timezone, /quiet, /report and /spikes said
    "your" (RU "ваши", "у вас") of what is the group's. They name the group's, as /watches and
    /list do; a private chat's stay its own."""
    bot.api.set_admins(-408, [77])
    admin: dict[str, Any] = {"chat_id": -408, "chat_type": "supergroup", "user_id": 77}
    assert bot.ctx is not None
    bot.ctx.feeds_url = "http://127.0.0.1:9/feeds"
    expected = [
        ("/mywatch", "This group has no watches yet: its admins add them with"),
        ("/report weekly mon 08:00", "Subscribe this group to a topic first: the report covers"),
        ("/subscribe kuril", "Subscribed to kuril."),
        ("/unsubscribe peace-treaty", "This group was not subscribed to peace-treaty."),
        ("/watch Shikotan", "/watches lists this group's watches."),
        ("/watch Shikotan", "This group already watches this query (/watches lists them):"),
        ("/watch Iturup", "/watches lists this group's watches."),
        ("/watch Kunashir", "/watches lists this group's watches."),
        ("/watch Habomai", "This group has 3 watches, the most a chat may have."),
        ("/watches", "/mywatch gives their stories as an Atom feed."),
        ("/unwatch 9", "There is no watch number 9: this group has 3."),
        ("/mywatch", "The latest 50 stories this group's watches matched, as an Atom feed"),
        ("/mywatch x", "Write /mywatch for this group's feed's address"),
        ("/timezone", "This group's time zone is UTC."),
        ("/quiet 23:00-07:00 hold", "This group has no time zone of its own, so that is UTC"),
        ("/mute 1h", "come together when this group's quiet hours end"),
        ("/unmute", "come together when this group's quiet hours end"),
        ("/quiet off", "Quiet hours off."),
        ("/digest daily 08:00", "Digest: daily 08:00"),
        ("/mute 1h", "Alerts wait, then come with this group's digest;"),
        ("/report", "sends a chart of this group's topics' week"),
        ("/spikes", "a notice when one of this group's topics has far more stories"),
    ]
    for command, says in expected:
        text = await bot.say(command, **admin)
        assert says in text and not YOURS.search(text), (command, text)
    # in the group's language: the group's, never the reader's own
    await bot.say("/language ru", **admin)
    for command in ("/watch Iturup", "/unwatch 9", "/unsubscribe peace-treaty", "/timezone"):
        text = await bot.say(command, **admin)
        assert "групп" in text and not YOURS_RU.search(text), (command, text)
    for command in ("/mute 1h", "/report", "/spikes", "/mywatch", "/watch Habomai"):
        text = await bot.say(command, **admin)
        assert not YOURS_RU.search(text), (command, text)
    # "Вы подписались на kuril": the admin read of the group's subscription as their own
    for command in ("/subscribe kuril", "/subscribe kuril", "/unsubscribe kuril"):
        text = await bot.say(command, **admin)
        assert "kuril" in text and not YOURS_RU.search(text), (command, text)
    await bot.say("/language ja", **admin)
    for command in ("/watch Iturup", "/unwatch 9", "/timezone", "/report", "/spikes", "/mywatch"):
        text = await bot.say(command, **admin)
        assert "このグループ" in text, (command, text)
    # a private chat's are its own
    assert "/watches lists your watches." in await bot.say("/watch Shikotan")
    assert "Your time zone is UTC." in await bot.say("/timezone")
    assert "There is no watch number 9: you have 1." in await bot.say("/unwatch 9")


async def test_start_reads_the_chat_s_topics_and_settings_once(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/start read the chat's subscriptions and settings twice: once for its settings lines,
    once for the keyboard."""
    read: list[str] = []
    for verb in ("subscriptions", "prefs"):
        real = getattr(Store, verb)

        def counted(store: Store, *args: Any, _real: Any = real, _verb: str = verb) -> Any:
            read.append(_verb)
            return _real(store, *args)

        monkeypatch.setattr(Store, verb, counted)
    await bot.say("/subscribe kuril")
    read.clear()
    text = await bot.say("/start")
    assert "<b>Your topics:</b> kuril" in text, text
    assert sorted(read) == ["prefs", "subscriptions"]


FORUM = -1007000
FORUM_CHAT = {"id": FORUM, "type": "supergroup", "title": "Kuril forum", "is_forum": True}


async def in_forum(bot: Bot, text: str, topic: int | None, user_id: int = 77) -> dict[str, Any]:
    """`text` sent in a forum's topic (None: its General topic); the bot's answer."""
    count = len(bot.api.sent_messages(FORUM))
    message: dict[str, Any] = {
        "message_id": 100 + count,
        "date": 1,
        "chat": FORUM_CHAT,
        "from": {"id": user_id, "is_bot": False, "first_name": "A", "language_code": "en"},
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }
    if topic is not None:  # as Telegram writes a topic's message; General's carry neither
        message |= {"message_thread_id": topic, "is_topic_message": True}
    bot.api.push_update({"message": message})
    return (await bot.api.wait_for_messages_async(FORUM, count + 1))[count]


async def test_a_forum_gets_its_alerts_in_the_topic_its_settings_were_last_made_in(
    bot: Bot,
) -> None:
    """A forum's admin sent /subscribe in topic 77 and was answered there ("New stories will
    be sent here"), but nothing stored the topic: every alert went to General."""
    bot.api.set_admins(FORUM, [77])
    answer = await in_forum(bot, "/subscribe kuril", 77)
    assert "sent here" in answer["text"] and answer["message_thread_id"] == 77

    async def topic() -> int | None:
        prefs = await bot.store.run(Store.prefs, FORUM)
        assert prefs is not None
        return prefs.thread_id

    assert await topic() == 77
    bot.clock.now += timedelta(minutes=1)
    url = "https://n.example/1"
    record = ItemRecord("1", url, url, "Iturup airport", "", bot.clock.now, topics=("kuril",))
    await bot.store.run(
        Store.ingest, FeedState(id="f", url="u"), [record], now=bot.clock.now, alert=True
    )
    settings = DeliverySettings(limits=Limits(per_second=1000, group_per_minute=1e4))
    async with PTBBot(TOKEN, base_url=bot.api.base_url, **connections()) as ptb:
        worker = DeliveryWorker(bot.store, ptb, settings=settings, clock=bot.clock)
        await worker.send_due()
        await worker.drain()
    alert = bot.api.sent_messages(FORUM)[-1]
    assert "Iturup airport" in alert["text"] and alert["message_thread_id"] == 77
    await in_forum(bot, "/list", 5)  # reading the settings moves nothing
    await in_forum(bot, "/subscribe kuril", 6, user_id=78)  # nor a refused change
    await in_forum(bot, "/start", 6, user_id=78)  # nor a member's /start, which only looks
    await in_forum(bot, "/start", None, user_id=78)
    assert await topic() == 77
    await in_forum(bot, "/timezone Asia/Tokyo", None)  # a setting made in General
    assert await topic() is None
    await in_forum(bot, "/start", 88)
    assert await topic() == 88
    await in_forum(bot, "/unsubscribe kuril", 89)
    assert await topic() == 89


async def test_the_apology_for_a_failed_command_is_in_the_groups_language(bot: Bot) -> None:
    """Every reply in a group is in the group's language; "something went wrong" was in the
    sender's own."""
    bot.api.set_admins(-402, [77])
    group: dict[str, Any] = {"chat_id": -402, "chat_type": "supergroup"}
    await bot.say("/start", language_code="ru", user_id=77, **group)
    bot.api.fail_next("getChatMember", status=400, description="Bad Request: member lookup")
    answer = await bot.say("/mute 1h", language_code="en", user_id=88, **group)
    assert answer == "Что-то пошло не так; попробуйте ещё раз."


async def test_an_anonymous_admins_start_leaves_the_groups_language_to_the_next_admin(
    bot: Bot,
) -> None:
    """An anonymous admin posts as the group, from Telegram's GroupAnonymousBot, which has no
    language: its /start set the group to English for good, and the Japanese admin who set the
    quiet hours next was answered, and the group alerted, in English."""
    group = {"id": -100600, "type": "supergroup", "title": "千島"}
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group"}  # no language_code
    bot.api.push_update(
        {
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": group,
                "from": anonymous,
                "sender_chat": group,
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }
        }
    )
    await bot.api.wait_for_messages_async(-100600, 1)
    assert "kurilwatch" in bot.api.sent_messages(-100600)[0]["text"]
    bot.api.set_admins(-100600, [78])
    admin: dict[str, Any] = {"chat_id": -100600, "chat_type": "supergroup", "user_id": 78}
    answer = await bot.say("/quiet 23:00-07:00", language_code="ja", **admin)
    assert "通知しない時間 23:00-07:00" in answer
    assert await bot.store.run(Store.language, -100600) == "ja"


async def test_a_members_start_in_a_group_leaves_its_language_to_the_admins(bot: Bot) -> None:
    """A group set up by an anonymous admin has no language yet: a member's /start, which
    only looks, gave the group the member's language for every alert, until an admin's
    /language."""
    group = {"id": -100601, "type": "supergroup", "title": "千島"}
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    bot.api.push_update(
        {
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": group,
                "from": anonymous,
                "sender_chat": group,
                "text": "/subscribe kuril",
                "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
            }
        }
    )
    await bot.api.wait_for_messages_async(-100601, 1)
    bot.api.set_admins(-100601, [78])
    member: dict[str, Any] = {"chat_id": -100601, "chat_type": "supergroup", "user_id": 55}
    assert "kuril" in await bot.say("/start", language_code="ja", **member)
    assert await bot.store.run(Store.language, -100601) is None
    prefs = await bot.store.run(Store.prefs, -100601)  # what the group's alerts are written in
    assert prefs is not None and prefs.language_code is None
    # Telegram failing to say who is an admin: a member's /start is answered all the same
    bot.api.fail_next("getChatMember", status=500, description="Internal Server Error")
    assert "kuril" in await bot.say("/start", language_code="ja", **member)
    assert await bot.store.run(Store.language, -100601) is None
    admin: dict[str, Any] = {"chat_id": -100601, "chat_type": "supergroup", "user_id": 78}
    await bot.say("/start", language_code="ru", **admin)
    assert await bot.store.run(Store.language, -100601) == "ru"


async def test_a_groups_command_deleted_before_its_answer_is_still_answered(bot: Bot) -> None:
    """A group's answer quotes the command: one deleted meanwhile (by its sender, or by a bot
    that cleans up commands) made Telegram refuse the answer, and the apology after it."""
    bot.api.set_admins(-404, [77])
    update = bot.api.push_message(-404, "/subscribe kuril", chat_type="supergroup", user_id=77)
    [command] = [u["message"] for u in bot.api.pending_updates if u["update_id"] == update]
    bot.api.delete_users_message(-404, command["message_id"])  # before the bot could answer
    [answer] = await bot.api.wait_for_messages_async(-404, 1)
    assert "kuril" in answer["text"]
    [call] = bot.api.calls_of("sendMessage")
    assert call.ok and call.params["reply_parameters"]["allow_sending_without_reply"] is True
    assert await bot.store.run(Store.subscriptions, -404) == ["kuril"]


async def test_a_refused_admin_command_logs_the_user_id_the_operator_needs(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # a new operator, with the shipped `admins: []`, was told "only the bot's admins" and had
    # no way to learn the user id that telegram.admins wants
    caplog.set_level(logging.INFO)
    assert "only the bot's admins" in await bot.say("/stats")
    assert f"user {USER} is not in telegram.admins" in caplog.text
    assert "/stats" in caplog.text


async def test_a_command_posted_in_a_channel_logs_its_id_and_the_config_to_add(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # an owner who posted /start in their channel met silence, in the channel and in the log,
    # and had no way to learn the numeric id `channels[].chat` wants for a private channel
    caplog.set_level(logging.DEBUG, logger="bot.telegram.guards")
    channel = -1001234567890

    def told(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "bot.telegram.guards" and r.levelno == level
        ]

    bot.api.push_message(channel, "/start", chat_type="channel", chat_title="Kuril news")
    await bot.api.wait_for_async(lambda: told(logging.INFO), 10, "the channel's line")
    [line] = told(logging.INFO)
    assert line.startswith(f"channel {channel} (Kuril news): a post began with a command")
    assert f"channels: [{{chat: '{channel}', topics: [kuril, peace-treaty]}}]" in line
    bot.api.push_message(channel, "/subscribe kuril", chat_type="channel")
    await bot.api.wait_for_async(lambda: told(logging.DEBUG), 10, "the second, quieter")
    assert len(told(logging.INFO)) == 1
    assert bot.api.sent_messages(channel) == []  # nothing posted to the channel's readers


async def test_a_command_posted_in_a_channel_the_store_fails_to_read_posts_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # the post's store read failed (a store locked or gone), and the error handler answered
    # "Sorry, something went wrong; please try again." in the channel, to every reader
    channel = -1001234567890
    await bot.store.close()  # every read fails from here on

    def errors() -> int:
        return sum(r.getMessage() == "error while handling an update" for r in caplog.records)

    for n in (1, 2):  # the second waits for the first's error handler: one chat, in order
        bot.api.push_message(channel, "/start", chat_type="channel", chat_title="Kuril news")
        await bot.api.wait_for_async(lambda n=n: errors() == n, 10, "the failed read")
    assert bot.api.calls_of("sendMessage") == []  # nothing posted to the channel's readers


async def test_a_refused_admin_command_is_logged_at_info_once_per_user(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # a hostile user repeating /stats filled the log with one INFO line a try
    caplog.set_level(logging.DEBUG, logger="bot.telegram.admin")

    def refusals(user: int, level: int) -> int:
        return sum(
            1
            for r in caplog.records
            if r.name == "bot.telegram.admin"
            and r.levelno == level
            and f"user {user} is not in telegram.admins" in r.getMessage()
        )

    for command in ("/stats", "/stats", "/feeds", "/stats"):
        assert "only the bot's admins" in await bot.say(command)
    assert refusals(USER, logging.INFO) == 1
    assert refusals(USER, logging.DEBUG) == 3  # each later one, for whoever looks closer
    assert "only the bot's admins" in await bot.say("/stats", chat_id=555, user_id=555)
    assert refusals(555, logging.INFO) == 1  # another user's first is told too


def test_the_refusals_told_at_info_are_bounded() -> None:
    from bot.telegram.admin import MAX_REFUSED_USERS, first_refusal

    seen: dict[int, None] = {}
    assert [first_refusal(seen, 1), first_refusal(seen, 1)] == [True, False]
    for user in range(2, MAX_REFUSED_USERS + 2):
        assert first_refusal(seen, user)
    assert len(seen) == MAX_REFUSED_USERS
    assert first_refusal(seen, 1)  # the oldest was forgotten: told again, once


async def test_admin_commands_are_refused_to_others(bot: Bot) -> None:
    await bot.say("/start")
    await bot.say("/start", chat_id=ADMIN)
    for command in ("/stats", "/feeds", "/reload", "/broadcast hello"):
        assert "only the bot's admins" in await bot.say(command)
    stats = await bot.say("/stats", chat_id=ADMIN)
    assert "Subscribers: 2 active, 0 inactive" in stats and "Queue: 0 waiting" in stats
    assert "No feed has been polled yet" in await bot.say("/feeds", chat_id=ADMIN)
    await bot.store.run(
        Store.save_feed_state,
        FeedState(id="nhk", url="u", consecutive_errors=3, last_error="HTTP 503"),
    )
    assert "3 errors in a row: HTTP 503" in await bot.say("/feeds", chat_id=ADMIN)
    assert "not available" in await bot.say("/reload", chat_id=ADMIN)
    assert "Write the message" in await bot.say("/broadcast", chat_id=ADMIN)
    assert "Queued for 2 chats" in await bot.say("/broadcast New topic soon", chat_id=ADMIN)
    # 1,600 emoji are 3,200 units as Telegram counts: refused, not queued to be cut
    assert "Keep a broadcast under" in await bot.say("/broadcast " + "🎌" * 1600, chat_id=ADMIN)
    notices = await bot.store.run(Store.notices)
    assert {n["chat_id"] for n in notices} == {USER, ADMIN}
    assert {n["text"] for n in notices} == {"New topic soon"}


async def test_feeds_lists_the_configured_feeds_not_every_feed_ever_polled(bot: Bot) -> None:
    await bot.say("/start", chat_id=ADMIN)
    for feed_id in ("tass", "gone"):
        state = FeedState(id=feed_id, url="u", consecutive_errors=3, last_error="HTTP 503")
        await bot.store.run(Store.save_feed_state, state)
    assert bot.ctx is not None
    bot.ctx.feeds = (("tass", "TASS"),)  # a reload removed "gone" from the config
    text = await bot.say("/feeds", chat_id=ADMIN)
    assert "<code>tass</code>" in text and "gone" not in text


async def test_feeds_reads_in_the_admins_language_with_its_punctuation(bot: Bot) -> None:
    # a Japanese admin read "最終成功 なし; 3回連続のエラー: HTTP 503、次の取得は0分後": an
    # English "; " between Japanese parts, and a poll 40 s away as "in 0 min"
    await bot.say("/start", chat_id=ADMIN, language_code="ja")
    state = FeedState(
        id="tass",
        url="u",
        consecutive_errors=3,
        last_error="HTTP 503",
        next_poll_at=T0 + timedelta(seconds=40),
    )
    await bot.store.run(Store.save_feed_state, state)
    text = await bot.say("/feeds", chat_id=ADMIN, language_code="ja")
    assert "最終成功: なし；3回連続のエラー: HTTP 503；次の取得は40秒後" in text, text
    await bot.say("/language ru", chat_id=ADMIN)
    text = await bot.say("/feeds", chat_id=ADMIN)
    assert "последний успешный опрос: никогда; 3 ошибки подряд" in text, text
    assert "следующий опрос через 40 с" in text, text
    await bot.say("/language en", chat_id=ADMIN)
    text = await bot.say("/feeds", chat_id=ADMIN)
    assert "last success: never; 3 errors in a row: HTTP 503; next poll in 40 s" in text, text


async def test_feeds_says_a_poll_under_a_second_away_is_ahead_not_past(bot: Bot) -> None:
    """A feed polled every few seconds read "следующий опрос 0 с назад" (next poll 0 s ago):
    a moment 0.6 s ahead was counted as 0 s, and 0 as the past."""
    await bot.say("/start", chat_id=ADMIN, language_code="ru")
    soon = T0 + timedelta(milliseconds=600)
    state = FeedState(id="tass", url="u", last_success_at=T0, last_status=200, next_poll_at=soon)
    await bot.store.run(Store.save_feed_state, state)
    text = await bot.say("/feeds", chat_id=ADMIN, language_code="ru")
    assert "статус 200; следующий опрос через 1 с" in text, text


async def test_feeds_says_a_feeds_error_in_the_admins_language(bot: Bot) -> None:
    """A Russian admin read "1 ошибка подряд: could not connect to 127.0.0.1:…: connection
    refused": the poll's English inside the Russian reply. A row kept before errors were kept as
    messages reads as its English."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    feed = FeedConfig.model_validate({"id": "tass", "url": f"http://127.0.0.1:{closed_port}/f"})
    topics = compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril*")})
    async with Fetcher() as fetcher:
        poller = Poller(
            store=bot.store, fetcher=fetcher, topics=topics, settings=PollConfig(), clock=bot.clock
        )
        report = await poller.poll(feed)
        await poller.aclose()
    english = f"could not connect to 127.0.0.1:{closed_port}: connection refused"
    assert report.error == english
    old = FeedState(id="nhk", url="u", consecutive_errors=2, last_error="HTTP 503")
    await bot.store.run(Store.save_feed_state, old)
    await bot.say("/start", chat_id=ADMIN, language_code="ru")
    text = await bot.say("/feeds", chat_id=ADMIN, language_code="ru")
    refused = f"не удалось подключиться к 127.0.0.1:{closed_port}: в соединении отказано"
    assert f"1 ошибка подряд: {refused}" in text, text
    assert "2 ошибки подряд: HTTP 503" in text, text
    await bot.say("/language ja", chat_id=ADMIN)
    text = await bot.say("/feeds", chat_id=ADMIN)
    assert f"127.0.0.1:{closed_port} に接続できません: 接続を拒否されました" in text, text
    await bot.say("/language en", chat_id=ADMIN)
    assert english in await bot.say("/feeds", chat_id=ADMIN)


async def test_feeds_says_why_a_feed_was_disabled_in_the_admins_language(
    bot: Bot, feed_server: FeedServer
) -> None:
    """A Russian admin read "отключена: the server says the feed is gone for good (HTTP 410)":
    the poll's English reason inside the Russian reply. A feed disabled before reasons were
    kept as messages reads as its English."""
    feed_server.set_route("/gone.xml", Route(status=410))
    feed = FeedConfig.model_validate({"id": "tass", "url": feed_server.url("/gone.xml")})
    topics = compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril*")})
    async with Fetcher() as fetcher:
        poller = Poller(
            store=bot.store, fetcher=fetcher, topics=topics, settings=PollConfig(), clock=bot.clock
        )
        report = await poller.poll(feed)
        await poller.aclose()
    english = "the server says the feed is gone for good (HTTP 410)"
    assert (report.outcome, report.error) == ("disabled", english)
    state = await bot.store.run(Store.feed_state, "tass")
    assert state is not None and state.disabled_reason == english  # `kurilwatch feeds` reads it
    old = FeedState(id="nhk", url="u", consecutive_errors=9, disabled_reason="gone", disabled_at=T0)
    await bot.store.run(Store.save_feed_state, old)
    await bot.say("/start", chat_id=ADMIN, language_code="ru")
    text = await bot.say("/feeds", chat_id=ADMIN, language_code="ru")
    assert "отключена: сервер сообщает, что лента удалена навсегда (HTTP 410)" in text, text
    assert "отключена: gone" in text, text
    await bot.say("/language ja", chat_id=ADMIN)
    text = await bot.say("/feeds", chat_id=ADMIN)
    assert "停止中: サーバーによると、フィードは完全に削除されました（HTTP 410）" in text, text
    await bot.say("/language en", chat_id=ADMIN)
    assert f"disabled: {english}" in await bot.say("/feeds", chat_id=ADMIN)


async def test_a_leaked_watch_feed_address_is_replaced_without_losing_the_watches(
    bot: Bot,
) -> None:
    assert bot.ctx is not None
    bot.ctx.feeds_url = "https://news.example.org/feeds"
    await bot.say("/watch Shikotan")
    first = re.search(r"/w/([\w-]+)\.atom", await bot.say("/mywatch"))[1]  # type: ignore[index]
    answer = await bot.say("/mywatch new")
    assert "old address no longer works" in answer
    second = re.search(r"/w/([\w-]+)\.atom", answer)[1]  # type: ignore[index]
    assert second != first
    assert await bot.store.run(Store.chat_of_feed_token, first) is None  # the leaked one is dead
    assert await bot.store.run(Store.chat_of_feed_token, second) == USER
    assert second in await bot.say("/mywatch")  # and the new one stays
    assert [w.query for w in await bot.store.run(Store.watches, USER)] == ["Shikotan"]
    assert "/mywatch new" in await bot.say("/mywatch please")  # a bad argument is told so
    assert await bot.store.run(Store.chat_of_feed_token, second) == USER


async def test_settings_shows_every_setting_with_the_command_that_changes_it(bot: Bot) -> None:
    """Telegram asks bots to answer /settings; it fell to "I don't know that command"."""
    await bot.say("/subscribe kuril", language_code="ru")
    await bot.say("/timezone Asia/Tokyo", language_code="ru")
    await bot.say("/mute 2h", language_code="ru")
    text = await bot.say("/settings", language_code="ru")
    for shown in ("русский", "kuril", "Asia/Tokyo", "<b>Сводка:</b>", "<b>Пауза до</b>"):
        assert shown in text, shown
    for command in ("/language", "/lang", "/subscribe", "/timezone", "/quiet", "/digest"):
        assert f"{command} " in text or f"{command})" in text, command
    assert "/unmute" in text and "/sources" in text
    assert "администратор" not in text  # a private chat: its own to change
    group: dict[str, Any] = {"chat_id": -403, "chat_type": "supergroup", "user_id": 77}
    in_group = await bot.say("/settings", language_code="ja", **group)
    assert "日本語" in in_group and "管理者" in in_group
    assert "/settings " in await bot.say("/help")
    assert "settings" in [c.command for c in bot_commands("ja")]


def member_of(user: dict[str, Any], status: str, **rights: bool) -> dict[str, Any]:
    """A ChatMember of `status` with every field Telegram sends (PTB requires them)."""
    member: dict[str, Any] = {"user": user, "status": status}
    if status == "kicked":
        member.update(until_date=0)
    if status == "restricted":
        allowed = ("change_info", "invite_users", "pin_messages", "send_polls", "manage_topics")
        allowed += ("send_other_messages", "add_web_page_previews", "send_audios", "edit_tag")
        allowed += ("send_documents", "send_photos", "send_videos", "send_video_notes")
        allowed += ("send_voice_notes", "react_to_messages", "send_messages")
        member.update({f"can_{right}": False for right in allowed})
        member.update(is_member=True, until_date=0)
    if status == "administrator":
        allowed = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages")
        allowed += ("can_manage_video_chats", "can_restrict_members", "can_promote_members")
        allowed += ("can_change_info", "can_invite_users", "can_post_stories")
        allowed += ("can_edit_stories", "can_delete_stories")
        member.update(dict.fromkeys(allowed, False))
    return {**member, **rights}


def joined(bot_id: int, chat: dict[str, Any], old: str, new: str, **rights: bool) -> dict[str, Any]:
    """The update Telegram sends when the bot's own membership of `chat` changes."""
    bot_user = {"id": bot_id, "is_bot": True, "first_name": "Kurilwatch Test"}
    return {
        "my_chat_member": {
            "chat": chat,
            "from": {"id": 77, "is_bot": False, "first_name": "Ann", "language_code": "ru"},
            "date": 1,
            "old_chat_member": member_of(bot_user, old),
            "new_chat_member": member_of(bot_user, new, **rights),
        }
    }


@pytest.mark.parametrize(
    ("chat_type", "old", "new", "rights", "expected"),
    [
        ("group", "left", "member", {}, Arrival.GREET),
        ("supergroup", "kicked", "administrator", {}, Arrival.GREET),
        ("supergroup", "left", "restricted", {"can_send_messages": True}, Arrival.GREET),
        ("supergroup", "left", "restricted", {"can_send_messages": False}, Arrival.MUTED),
        ("group", "member", "administrator", {}, Arrival.NONE),  # promoted: added before
        ("supergroup", "administrator", "member", {}, Arrival.NONE),
        ("supergroup", "member", "left", {}, Arrival.NONE),
        ("channel", "left", "administrator", {}, Arrival.CHANNEL),
        ("private", "kicked", "member", {}, Arrival.NONE),  # a user unblocked the bot
    ],
)
def test_arrival_decides_when_an_addition_is_greeted(
    chat_type: str, old: str, new: str, rights: dict[str, bool], expected: Arrival
) -> None:
    chat = {"id": -1, "type": chat_type, "title": "x"}
    change = Update.de_json(joined(1, chat, old, new, **rights) | {"update_id": 1}, None)
    assert change.my_chat_member is not None
    member = change.my_chat_member
    assert arrival(chat_type, member.old_chat_member, member.new_chat_member) == expected


async def test_added_to_a_group_it_greets_once_in_the_adders_language(bot: Bot) -> None:
    """It was silent until someone sent /start: no one knew how to subscribe the group."""
    group = {"id": -404, "type": "group", "title": "Курилы"}
    bot.api.push_update(joined(bot.api.bot_id, group, "left", "member"))
    [greeting] = await bot.api.wait_for_messages_async(-404, 1)
    assert "kurilwatch" in greeting["text"] and "/start" in greeting["text"]
    assert "администратор" in greeting["text"]  # who subscribes it
    # made an admin later: the same addition, no second greeting
    bot.api.push_update(
        joined(bot.api.bot_id, group, "member", "administrator", can_post_messages=True)
    )
    await bot.say("/help", chat_id=-404, chat_type="group", user_id=77)
    texts = [m["text"] for m in bot.api.sent_messages(-404)]
    assert len(texts) == 2 and "<b>Команды</b>" not in texts[0]


async def test_added_to_a_channel_or_without_the_right_to_post_it_says_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    channel = {"id": -100405, "type": "channel", "title": "Kuril news"}
    bot.api.push_update(
        joined(bot.api.bot_id, channel, "left", "administrator", can_post_messages=True)
    )
    muted = {"id": -100406, "type": "supergroup", "title": "Read only"}
    bot.api.push_update(
        joined(bot.api.bot_id, muted, "left", "restricted", can_send_messages=False)
    )
    await bot.api.wait_for_async(
        lambda: "-100405" in caplog.text and "-100406" in caplog.text, 10, "both logged"
    )
    assert "channels" in caplog.text  # how a channel is set up: config.yaml's channels
    assert "may not post" in caplog.text
    assert bot.api.sent_messages(-100405) == [] and bot.api.sent_messages(-100406) == []


async def test_a_configured_channel_the_bot_is_added_back_to_gets_its_alerts_again(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """Its admin removed the bot (to give it its rights again, say), a send was refused, and
    the channel was set inactive; added back, it got nothing until the daemon's next start.
    Only the config's chats are asked about again."""
    from bot.config import ChannelConfig
    from bot.telegram.channels import add_channels, listed

    caplog.set_level(logging.INFO)
    configured = (ChannelConfig(chat="@kurilnews", topics=("kuril",)),)
    assert bot.ctx is not None and bot.app is not None
    found = await bot.app.bot.get_chat("@kurilnews")  # the fake makes the channel
    channel = {"id": found.id, "type": "channel", "title": "Kuril news", "username": "KurilNews"}

    async def channels_again(chat_id: int, username: str | None) -> bool:  # as the daemon's
        if not any(listed(c.chat, chat_id, username) for c in configured):
            return False
        await add_channels(bot.app.bot, bot.store, configured, now=T0)
        return True

    bot.ctx.channels_again = channels_again
    assert await channels_again(found.id, "KurilNews")
    await bot.store.run(Store.deactivate_chat, found.id, "bot is not a member", now=T0)
    bot.api.push_update(joined(bot.api.bot_id, channel, "left", "administrator"))
    await bot.api.wait_for_async(lambda: "its alerts resume" in caplog.text, 10, "added back")
    known = await bot.store.run(Store.subscriber, found.id)
    assert known is not None and known.active
    assert await bot.store.run(Store.subscriptions, found.id) == ["kuril"]
    # a channel not in the config, added back, stays as it was, and Telegram is not asked
    asked = len(bot.api.calls_of("getChat"))
    await bot.store.run(Store.upsert_subscriber, -100408, now=T0, chat_type="channel")
    await bot.store.run(Store.deactivate_chat, -100408, "bot is not a member", now=T0)
    other = {"id": -100408, "type": "channel", "title": "Other"}
    bot.api.push_update(joined(bot.api.bot_id, other, "left", "administrator"))
    await bot.api.wait_for_async(lambda: "-100408 (Other)" in caplog.text, 10, "logged")
    known = await bot.store.run(Store.subscriber, -100408)
    assert known is not None and not known.active
    assert len(bot.api.calls_of("getChat")) == asked


@pytest.mark.parametrize("bot_joins", ["after", "before"])
async def test_a_group_that_becomes_a_supergroup_is_not_greeted_again(
    bot: Bot, bot_joins: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram reports the bot's membership of the new supergroup as an addition (left, then
    member), before the upgrade's service messages or after them: the group heard the greeting
    when the bot was added to it."""
    caplog.set_level(logging.INFO)
    old, new = -4343, -1004343
    group = {"id": old, "type": "group", "title": "Курилы"}
    bot.api.push_update(joined(bot.api.bot_id, group, "left", "member"))
    await bot.api.wait_for_messages_async(old, 1)
    bot.api.upgrade_group(old, new, user_id=77, bot_joins=bot_joins)
    decided = ("not greeted again", f"added to the group {new}")
    await bot.api.wait_for_async(lambda: any(d in caplog.text for d in decided), 10, "decided")
    assert decided[0] in caplog.text and decided[1] not in caplog.text
    assert bot.api.sent_messages(new) == []


async def test_added_to_a_supergroup_it_greets_once_though_it_waits_for_an_upgrade(
    bot: Bot,
) -> None:
    chat = {"id": -1004444, "type": "supergroup", "title": "Kuril watchers"}
    bot.api.push_update(joined(bot.api.bot_id, chat, "left", "member"))
    [greeting] = await bot.api.wait_for_messages_async(-1004444, 1)
    assert "kurilwatch" in greeting["text"]


def test_an_upgrade_long_past_does_not_keep_the_bot_added_back_from_greeting() -> None:
    now = [0.0]

    async def run() -> tuple[bool, bool]:
        upgrades = Upgrades(fresh=60.0, clock=lambda: now[0])
        upgrades.heard(-1001)
        now[0] = 30.0
        soon = await upgrades.upgraded(-1001, within=0)
        now[0] = 3600.0  # removed from the supergroup since, and added back
        return soon, await upgrades.upgraded(-1001, within=0)

    assert asyncio.run(run()) == (True, False)


def test_an_upgrade_heard_is_remembered_for_a_bounded_number_of_chats() -> None:
    async def run() -> tuple[bool, bool, bool]:
        upgrades = Upgrades(kept=2)
        upgrades.heard(-1001)
        first = await upgrades.upgraded(-1001, within=0)
        upgrades.heard(-1002)
        upgrades.heard(-1003)  # -1001 forgotten: the oldest of three
        return (
            first,
            await upgrades.upgraded(-1003, within=0),
            await upgrades.upgraded(-1001, within=0),
        )

    assert asyncio.run(run()) == (True, True, False)


def test_help_names_the_optional_arguments_readme_gives() -> None:
    """/help said /trend [topic] [7d|30d|90d]: a subscriber never learnt `outlets`, which
    README's table (and the command) take."""
    readme = (ROOT / "README.md").read_text()
    for command in COMMANDS:
        usage = re.search(rf"/{command.name}\b(.*)$", command.description)
        row = re.search(rf"^\| `/{command.name}\b([^`]*)` \|", readme, re.M)
        if usage is None or row is None:
            continue
        optional = set(re.findall(r"\[[^\]]*\]", usage.group(1)))
        documented = {o.replace("\\|", "|") for o in re.findall(r"\[[^\]]*\]", row.group(1))}
        if optional:
            assert optional == documented, (command.name, optional, documented)


async def test_help_lists_every_command_and_readme_documents_them(bot: Bot) -> None:
    public = await bot.say("/help")
    admin = await bot.say("/help", chat_id=ADMIN)
    readme = (ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert f"/{command.name} " in (admin if command.admin else public)
        assert f"/{command.name} " in admin
        assert re.search(rf"`/{command.name}\b", readme), f"/{command.name} not in README"
    for lang in ("en", "ru", "ja"):  # a subscriber is told of every admin command, none left out
        told = await bot.say("/help", chat_id=USER + 1, language_code=lang)
        missing = [c.name for c in COMMANDS if c.admin and f"/{c.name}" not in told]
        assert missing == [], (lang, missing)


async def test_the_menu_is_set_per_language(bot_api: FakeBotAPI) -> None:
    from telegram import Bot as PTBBot

    async with PTBBot(TOKEN, base_url=bot_api.base_url, **connections()) as ptb:
        await set_commands(ptb)
    calls = bot_api.calls_of("setMyCommands")
    assert [c.params.get("language_code") for c in calls] == [None, "ru", "ja"] * 2
    scopes = [(c.params.get("scope") or {}).get("type", "default") for c in calls]
    assert scopes == ["default"] * 3 + ["all_group_chats"] * 3
    names = [c["command"] for c in calls[0].params["commands"]]
    assert "watch" in names and "stats" not in names
    assert calls[1].params["commands"][0]["description"] == "приветствие, темы и настройки"


# the commands whose menu line said "your" (or "you can follow") of what, in a group, is the group's
GROUP_WORDED = ("start", "topics", "list", "watch", "watches", "mywatch", "timezone")


async def test_a_group_s_menu_names_the_group_s_topics_and_watches(bot_api: FakeBotAPI) -> None:
    """In groups the menu said "your topics, watches and settings", "your watches", "your time
    zone" (RU "ваши запросы") of what is the group's, while its answers say "this group's".
    Telegram keeps a menu per scope and language: every group chat gets the group's wording, in
    each language; a private chat's menu is as it was."""
    from telegram import BotCommandScopeAllGroupChats, BotCommandScopeDefault

    menus: dict[tuple[str, str | None], dict[str, str]] = {}
    async with PTBBot(TOKEN, base_url=bot_api.base_url, **connections()) as ptb:
        await set_commands(ptb)
        for where, scope in (
            ("private", BotCommandScopeDefault()),
            ("group", BotCommandScopeAllGroupChats()),
        ):
            for lang in (None, "ru", "ja"):
                menu = await ptb.get_my_commands(scope=scope, language_code=lang)
                menus[where, lang] = {c.command: c.description for c in menu}
    assert list(menus["group", None]) == list(menus["private", None]) == list(menus["group", "ja"])
    for lang in ("ru", "ja"):  # a private chat's menu, unchanged
        assert menus["private", lang] == {c.command: c.description for c in bot_commands(lang)}
    private, group = menus["private", None], menus["group", None]
    assert private["list"] == "your topics, watches and settings"
    assert private["timezone"] == "your time zone: /timezone Europe/Moscow"
    assert group["list"] == "this group's topics, watches and settings"
    assert group["watches"] == "this group's watches"
    assert group["timezone"] == "this group's time zone: /timezone Europe/Moscow"
    assert not [d for d in group.values() if YOURS.search(d) or "you can" in d]
    assert {n for n in group if group[n] != private[n]} == set(GROUP_WORDED)
    ru, ja = menus["group", "ru"], menus["group", "ja"]
    assert not [d for d in ru.values() if YOURS_RU.search(d)]
    assert all("этой группы" in ru[n] or "эту группу" in ru[n] for n in GROUP_WORDED), ru
    assert all("このグループ" in ja[n] for n in GROUP_WORDED), ja
    assert menus["private", "ru"]["watches"] == "ваши запросы"


async def test_help_in_a_group_names_the_group_s_topics_and_watches(bot: Bot) -> None:
    """/help in a group said "/list — your topics, watches and settings"; it lists the group's
    wording, in the group's language. A private chat's /help is its own, as before."""
    bot.api.set_admins(-409, [77])
    admin: dict[str, Any] = {"chat_id": -409, "chat_type": "supergroup", "user_id": 77}
    member: dict[str, Any] = {"chat_id": -409, "chat_type": "group", "user_id": 78}
    for who in (admin, member):
        text = await bot.say("/help", **who)
        assert "/list — this group's topics, watches and settings" in text, text
        assert "/mywatch — this group's watches as an Atom feed" in text
        assert "/topics — the topics this group can follow" in text
        assert not YOURS.search(text) and "you can" not in text, text
    private = await bot.say("/help")
    for command in COMMANDS:
        if not command.admin:
            assert f"/{command.name} — {esc(command.about('en'))}\n" in private, command.name
    assert "/list — your topics, watches and settings" in private and "group" not in private
    await bot.say("/language ru", **admin)
    text = await bot.say("/help", **admin)
    assert "/watches — запросы этой группы" in text and not YOURS_RU.search(text), text
    assert "/watches — ваши запросы" in await bot.say("/help", language_code="ru")
    await bot.say("/language ja", **admin)
    text = await bot.say("/help", **member)
    assert "/watches — このグループの登録キーワード" in text, text
    assert "/watches — 登録キーワード" in await bot.say("/help", language_code="ja")


# -- the chat's basics (these were tests/test_bot.py, on a harness of its own) -----------------


async def test_start_welcomes_and_shows_how_to_subscribe(bot: Bot) -> None:
    text = await bot.say("/start")
    assert "kurilwatch" in text and "<code>/subscribe kuril</code>" in text
    assert "peace-treaty" in text
    subscriber = await bot.store.run(Store.subscriber, USER)
    assert subscriber is not None and subscriber.active and subscriber.chat_type == "private"


async def test_subscribe_list_unsubscribe(bot: Bot) -> None:
    assert "Subscribed to kuril, peace-treaty" in await bot.say("/subscribe kuril peace-treaty")
    assert await bot.store.run(Store.subscriptions, USER) == ["kuril", "peace-treaty"]
    assert "Already subscribed to kuril" in await bot.say("/subscribe kuril")
    listed = await bot.say("/list")
    assert "<code>kuril</code> — Kuril Islands" in listed
    assert "✅ <code>kuril</code>" in await bot.say("/topics")
    assert "Unsubscribed from kuril" in await bot.say("/unsubscribe kuril")
    assert "not subscribed to kuril" in await bot.say("/unsubscribe kuril")
    assert await bot.store.run(Store.subscriptions, USER) == ["peace-treaty"]


def _refuse_topic(store: Store, topic: str) -> None:
    store.db.execute(
        "CREATE TRIGGER refuse_topic BEFORE INSERT ON subscriptions"
        f" WHEN NEW.topic_id = '{topic}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )


async def test_subscribe_all_that_fails_halfway_subscribes_to_none(bot: Bot) -> None:
    """/subscribe all wrote one topic at a time: a failure halfway left the chat with the
    topics before it; now all or none, and the chat is told it failed."""
    await bot.store.run(_refuse_topic, "peace-treaty")  # the last of the shipped topics
    answer = await bot.say("/subscribe all")
    assert "went wrong" in answer
    assert await bot.store.run(Store.subscriptions, USER) == []


async def test_unsubscribe_all_that_fails_halfway_unsubscribes_from_none(bot: Bot) -> None:
    """/unsubscribe all removed one topic per store call: a failure halfway left the chat
    subscribed to the topics after it alone; now all or none, and the chat is told it failed."""
    await bot.say("/subscribe all")
    subscribed = await bot.store.run(Store.subscriptions, USER)
    assert subscribed == ["kuril", "peace-treaty"]

    def refuse(store: Store) -> None:
        store.db.execute(
            "CREATE TRIGGER refuse_leaving BEFORE DELETE ON subscriptions"
            " WHEN OLD.topic_id = 'peace-treaty' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )

    await bot.store.run(refuse)
    assert "went wrong" in await bot.say("/unsubscribe all")
    assert await bot.store.run(Store.subscriptions, USER) == subscribed


async def test_a_reply_of_several_sentences_is_joined_as_its_language_writes_them(
    bot: Bot,
) -> None:
    """Japanese puts no space after "。"; Russian and English put one between sentences."""
    answer = await bot.say("/subscribe kuril", language_code="ja")
    assert "kuril を購読しました。新しいニュースはすぐにここへ届きます。" in answer, answer
    answer = await bot.say("/unsubscribe kuril peace-treaty", language_code="ja")
    assert "kuril の購読をやめました。peace-treaty は購読していませんでした。" in answer, answer
    answer = await bot.say("/subscribe kuril", language_code="ru")
    assert "Подписка на kuril оформлена. Новые события будут приходить сюда сразу." in answer, (
        answer
    )
    answer = await bot.say("/subscribe kuril peace-treaty", language_code="ru")
    assert "peace-treaty оформлена. Новые события будут приходить сюда сразу. Подписка" in answer, (
        answer
    )


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
async def test_bad_arguments_get_a_helpful_reply(bot: Bot, command: str, expected: str) -> None:
    assert expected in await bot.say(command)
    assert await bot.store.run(Store.subscriptions, USER) == []


async def test_stop_forgets_the_chat(bot: Bot) -> None:
    await bot.say("/subscribe all")
    assert "Send /start to begin again" in await bot.say("/stop")
    assert await bot.store.run(Store.subscriber, USER) is None
    assert "You follow no topics yet" in await bot.say("/list")


async def test_a_plain_word_in_a_private_chat_says_where_to_begin(bot: Bot) -> None:
    # a new subscriber's "hello" (or a topic's name) got silence, as if the bot were dead
    assert "/start" in await bot.say("hello")
    assert "/help — список всех команд" in await bot.say("Курилы", language_code="ru")
    assert "/subscribe kuril" in await bot.say("kuril")
    assert await bot.store.run(Store.subscriptions, USER) == []
    # in a group, talk among members is none of the bot's business: only the command answers
    group: dict[str, Any] = {"chat_id": -301, "chat_type": "group", "user_id": 77}
    bot.api.push_message(text="hello", **group)
    assert "I don't know that command" in await bot.say("/frob@kurilwatch_test_bot", **group)
    assert len(bot.api.sent_messages(-301)) == 1


async def test_group_commands_addressed_to_the_bot(bot: Bot) -> None:
    group: dict[str, Any] = {
        "chat_id": -300,
        "chat_type": "group",
        "user_id": 77,
        "chat_title": "Kuril watchers",
    }
    assert "Only this group's admins" in await bot.say(
        "/subscribe@kurilwatch_test_bot kuril", **group
    )
    assert await bot.store.run(Store.subscriptions, -300) == []
    bot.api.set_admins(-300, [77])
    assert "Subscribed to kuril" in await bot.say("/subscribe@kurilwatch_test_bot kuril", **group)
    subscriber = await bot.store.run(Store.subscriber, -300)
    assert subscriber is not None and subscriber.chat_type == "group"
    assert subscriber.title == "Kuril watchers"


async def test_a_group_upgraded_to_a_supergroup_moves_there_at_once(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = -4242, -1004242
    group: dict[str, Any] = {"chat_id": old, "chat_type": "group", "user_id": 77}
    bot.api.set_admins(old, [77])
    await bot.say("/subscribe kuril", **group)
    await bot.say("/watch Shikotan", **group)
    await bot.say("/timezone Asia/Tokyo", **group)
    bot.api.upgrade_group(old, new, user_id=77)
    await bot.api.wait_for_async(lambda: not bot.api.pending_updates, 10, "both service messages")
    bot.api.set_admins(new, [77])
    # an update of the supergroup after the service messages is handled after them
    listed = await bot.say("/list", chat_id=new, chat_type="supergroup", user_id=77)
    assert "kuril" in listed and "Shikotan" in listed and "Asia/Tokyo" in listed, listed
    assert await bot.store.run(Store.subscriber, old) is None
    assert await bot.store.run(Store.subscriptions, new) == ["kuril"]
    assert [w.chat_id for w in await bot.store.run(Store.watches)] == [new]
    bot.api.upgrade_group(old, new, user_id=77)  # told again: nothing changes, nothing raised
    assert "kuril" in await bot.say("/list", chat_id=new, chat_type="supergroup", user_id=77)
    prefs = await bot.store.run(Store.prefs, new)
    assert prefs is not None and prefs.timezone == "Asia/Tokyo"
    assert not bot.api.sent_messages(old)[3:]  # nothing said in the old group after the move
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_watch_previews_the_last_30_days_and_saves_even_with_no_match(bot: Bot) -> None:
    feed = FeedState(id="tass", url="u", title="TASS")
    titles = [f"Shikotan story {n}" for n in range(5)] + ["Weather in Paris"]
    for n, title in enumerate(titles):  # one poll an hour, the first 40 days ago
        fetched = T0 - timedelta(days=40) if n == 0 else T0 - timedelta(hours=10 - n)
        record = ItemRecord(f"g{n}", f"https://tass.example/{n}", None, title, "text", None)
        await bot.store.run(Store.ingest, feed, [record], now=fetched, alert=False)
    answer = await bot.say("/watch Shikotan")
    assert "Watching for <code>Shikotan</code>" in answer
    assert "would have matched 4 stories" in answer
    shown = re.findall(r"Shikotan story \d", answer)
    assert shown == ["Shikotan story 4", "Shikotan story 3", "Shikotan story 2"]  # newest first
    assert "(TASS)" in answer
    typo = await bot.say("/watch Shikotab")
    assert "would have matched no story" in typo and "typo" in typo
    assert "Shikotab" in await bot.say("/watches")  # saved anyway


async def test_a_chat_at_its_watch_limit_is_refused_before_any_preview(bot: Bot) -> None:
    """The preview (up to 20,000 items read and matched) was made before the limit was looked
    at: a chat at its limit paid for a preview it was never shown."""
    await _shikotan_stories(bot, 2)
    for query in ("Shikotan", "Итуруп", "色丹"):
        assert "Watching for" in await bot.say(f"/watch {query}")
    assert bot.previewed == ["shown"] * 3
    answer = await bot.say("/watch Shikotan OR Habomai")
    assert "the most a chat may have" in answer and "would have matched" not in answer
    assert bot.previewed == ["shown"] * 3  # no preview was made for it
    assert len(await bot.store.run(Store.watches, USER)) == 3


SKIPPED = {
    "en": "The preview of the last 30 days is skipped: the bot is busy just now."
    " Send the same /watch later to see it.",
    "ru": "Обзор за последние 30 дн. пропущен: бот сейчас занят."
    " Отправьте ту же команду /watch позже, чтобы его увидеть.",
    "ja": "ただいま混み合っているため、過去30日間のプレビューは省略しました。"
    "後で同じ /watch を送ると表示されます。",
}


async def test_watches_past_the_preview_bound_are_saved_and_answered_without_a_preview(
    bot: Bot,
) -> None:
    """While MAX_PREVIEWS previews are made (their slots taken), a burst of /watch from many
    chats: every watch is saved, filed and answered, in its chat's language, saying its preview
    is skipped; none reads or matches the stored items meanwhile."""
    await _shikotan_stories(bot, 1)
    held = [PREVIEWS.take() for _ in range(MAX_PREVIEWS)]
    assert all(held) and not PREVIEWS.take()
    chats = {USER + 100 + n: ("en", "ru", "ja")[n % 3] for n in range(4 * MAX_PREVIEWS + 1)}
    try:
        for chat_id, lang in chats.items():
            bot.api.push_message(chat_id, "/watch Shikotan", language_code=lang)
        answers = {
            chat_id: (await bot.api.wait_for_messages_async(chat_id, 1))[0]["text"]
            for chat_id in chats
        }
    finally:
        for _ in held:
            PREVIEWS.give()
    for chat_id, lang in chats.items():
        assert answers[chat_id].endswith("\n\n" + SKIPPED[lang]), answers[chat_id]
        assert "<code>Shikotan</code>" in answers[chat_id]
    assert bot.previewed == ["skipped"] * len(chats)
    assert sorted(w.chat_id for w in await bot.store.run(Store.watches)) == sorted(chats)
    assert sorted(w.chat_id for w in bot.watches_added) == sorted(chats)
    # the previews done, the next watch has its own
    assert "would have matched 1 story" in await bot.say("/watch Shikotan")
    assert bot.previewed[-1] == "shown"
    # and a chat whose preview was skipped asks for it with the same /watch: nothing is stored
    # again, and the answer says the watch is there and previews it
    again, lang = next(iter(chats.items()))
    bot.api.push_message(again, "/watch  shikotan ", language_code=lang)
    [*_, answer] = await bot.api.wait_for_messages_async(again, 2)
    assert "1. <code>Shikotan</code>" in answer["text"], answer["text"]
    found = {
        "en": "would have matched 1 story:",
        "ru": "нашёл бы 1 событие:",
        "ja": "1件が一致します",
    }
    assert found[lang] in answer["text"] and SKIPPED[lang] not in answer["text"], answer["text"]
    assert bot.previewed[-1] == "shown"
    assert sum(w.chat_id == again for w in await bot.store.run(Store.watches)) == 1


async def test_a_burst_of_watches_is_answered_whole_and_gives_every_preview_slot_back(
    bot: Bot,
) -> None:
    """Many /watch from different chats at once: each answer has its preview or says it is
    skipped, never neither; every watch is saved; and every slot taken is given back."""
    await _shikotan_stories(bot, 1)
    chats = [USER + 200 + n for n in range(4 * MAX_PREVIEWS)]
    for chat_id in chats:
        bot.api.push_message(chat_id, "/watch Shikotan")
    for chat_id in chats:
        [answer] = await bot.api.wait_for_messages_async(chat_id, 1)
        text = answer["text"]
        assert ("would have matched 1 story" in text) != (SKIPPED["en"] in text), text
    assert len(bot.previewed) == len(chats)
    assert bot.previewed.count("shown") >= 1  # the first takes a free slot
    assert set(bot.previewed) <= {"shown", "skipped"}
    assert PREVIEWS.taken == 0
    assert sorted(w.chat_id for w in await bot.store.run(Store.watches)) == chats


async def _shikotan_stories(bot: Bot, count: int) -> None:
    feed = FeedState(id="tass", url="u", title="TASS")
    at = T0 - timedelta(days=1)
    for n in range(count):
        record = ItemRecord(f"s{n}", f"https://tass.example/s{n}", None, f"Shikotan {n}", "", at)
        await bot.store.run(Store.ingest, feed, [record], now=at, alert=False)


async def test_a_watch_preview_links_a_story_whose_link_has_a_quote(bot: Bot) -> None:
    """The preview wrote the link into href with `"` as it was: Telegram refused the HTML and
    the subscriber read "Sorry" for a watch that was saved."""
    feed = FeedState(id="tass", url="u", title="TASS")
    at = T0 - timedelta(days=1)
    links = ['https://news.example/search?q="shikotan"', "javascript:alert(1)"]
    for n, link in enumerate(links):
        record = ItemRecord(f"g{n}", link, link, f"Shikotan visit {n}", "", at)
        await bot.store.run(Store.ingest, feed, [record], now=at, alert=False)
    answer = await bot.say("/watch Shikotan", language_code="ru")
    assert (
        '<a href="https://news.example/search?q=&quot;shikotan&quot;">Shikotan visit 0</a>'
        in answer
    )
    assert "• " in answer and "javascript" not in answer


async def test_a_watch_with_operators_in_lower_case_says_they_are_read_as_words(bot: Bot) -> None:
    # "Shikotan or Kunashir" wants all three words, "or" too: it was saved with no word of it
    answer = await bot.say("/watch Shikotan or Kunashir")
    assert "Watching for" in answer
    assert answer.endswith(
        "<code>or</code> is read as a word a story must contain; the operators are written in"
        " capitals: AND, OR, NOT."
    ), answer
    ru = await bot.say("/watch Шикотан или Кунашир", language_code="ru")
    assert ru.endswith(
        "<code>или</code> — это слово, которое должно быть в новости;"
        " операторы пишутся латиницей заглавными буквами: AND, OR, NOT."
    ), ru
    meant = await bot.say("/watch Shikotan OR Kunashir")
    assert "AND, OR, NOT" not in meant


async def test_watch_writes_the_number_of_items_looked_at_as_the_chats_language_does(
    bot: Bot,
) -> None:
    """In Russian "20,000" reads as twenty: there it is "20 000"."""
    feed = FeedState(id="tass", url="u", title="TASS")
    records = [
        ItemRecord(f"g{n}", f"https://tass.example/{n}", None, f"Fishing report {n}", "", None)
        for n in range(PREVIEW_ITEMS)
    ]
    await bot.store.run(Store.ingest, feed, records, now=T0 - timedelta(hours=1), alert=False)
    assert "(новейшие 20\xa0000 записей)" in await bot.say("/watch Shikotan", language_code="ru")
    assert "(the newest 20,000 items)" in await bot.say("/watch Iturup")


MANY = {f"topic-{n:03}": {"title": f"Topic {n}", "query": f"word{n}"} for n in range(130)}


def _keyboard(bot: Bot, message_id: int) -> list[list[dict[str, Any]]]:
    message = bot.api.message(USER, message_id)
    assert message is not None
    return list(message["reply_markup"]["inline_keyboard"])


async def _pressed(bot: Bot, message_id: int, data: str) -> list[list[dict[str, Any]]]:
    """Press a button of the message; its keyboard once redrawn."""
    edits = len(bot.api.calls_of("editMessageReplyMarkup"))
    bot.api.push_callback_query(USER, message_id, data)
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("editMessageReplyMarkup")) > edits, 10, "a redraw"
    )
    return _keyboard(bot, message_id)


async def _turn_pages(bot: Bot, command: str, first: str) -> None:
    sent = len(bot.api.calls_of("sendMessage"))
    await bot.say(command)  # a long list is sent in parts, the keyboard under the last

    def keyboard_sent() -> list[Any]:
        calls = bot.api.calls_of("sendMessage")[sent:]
        return [c for c in calls if "reply_markup" in c.params]

    await bot.api.wait_for_async(lambda: bool(keyboard_sent()), 10, "the keyboard")
    [call] = keyboard_sent()
    message_id = call.response["result"]["message_id"]
    rows = _keyboard(bot, message_id)
    assert len(rows) == 21 and rows[0][0]["callback_data"] == first
    assert [b["text"] for b in rows[-1]] == ["◀", "1/7", "▶"]
    page_two = await _pressed(bot, message_id, rows[-1][2]["callback_data"])
    assert page_two[-1][1]["text"] == "2/7"
    # a button pressed on page 2 redraws page 2, not page 1
    pressed = page_two[3][0]["callback_data"]
    redrawn = await _pressed(bot, message_id, pressed)
    assert redrawn[-1][1]["text"] == "2/7" and redrawn[3][0]["callback_data"] == pressed
    back = await _pressed(bot, message_id, redrawn[-1][0]["callback_data"])
    assert back[-1][1]["text"] == "1/7"


@pytest.mark.parametrize("bot", [MANY], indirect=True)
async def test_a_keyboard_of_more_topics_or_sources_than_a_message_holds_turns_pages(
    bot: Bot,
) -> None:
    # Telegram refuses more than 100 buttons in a message (the fake does too): /topics and
    # /sources of 130 show 20 a page, with a row that turns the page
    assert bot.ctx is not None
    bot.ctx.feeds = [(f"feed-{n:03}", f"Outlet {n}") for n in range(130)]
    await _turn_pages(bot, "/topics", "t:topic-000")
    await _turn_pages(bot, "/sources", "src:feed-000")
    assert await bot.store.run(Store.subscriptions, USER) == ["topic-023"]
    assert await bot.store.run(Store.muted_sources, USER) == ["feed-023"]


THOUSANDS = {f"topic-{n:04}": {"title": f"Topic {n}", "query": f"word{n}"} for n in range(2000)}


@pytest.mark.parametrize("bot", [THOUSANDS], indirect=True)
async def test_start_and_topics_of_thousands_of_topics_are_one_message_each(bot: Bot) -> None:
    # the text lists the chat's own topics first and a bounded number of the others; the
    # keyboard's pages hold them all (their list used to come as dozens of messages)
    assert "Subscribed" in await bot.say("/subscribe topic-1500")
    for command in ("/topics", "/start"):
        sent = len(bot.api.calls_of("sendMessage"))
        bot.api.push_message(USER, command)
        await bot.api.wait_for_async(
            lambda sent=sent: any(
                "reply_markup" in c.params for c in bot.api.calls_of("sendMessage")[sent:]
            ),
            10,
            "the keyboard",
        )
        [call] = bot.api.calls_of("sendMessage")[sent:]
        text = call.params["text"]
        assert visible_length(text) <= 4096, command
        assert "✅ <code>topic-1500</code> — Topic 1500" in text
        assert "• <code>topic-0000</code> — Topic 0" in text
        more = re.search(r"… and (\d+) more topics", text)
        assert more is not None and int(more.group(1)) + text.count("<code>topic-") == 2000
        rows = _keyboard(bot, call.response["result"]["message_id"])
        assert [b["text"] for b in rows[PER_PAGE]] == ["◀", "1/100", "▶"]
    ru = await bot.say("/topics", language_code="ru")
    assert re.search(r"… и ещё \d+ тем", ru)
    # a wrong id is answered with some of the valid ones, in one message
    for command in ("/subscribe nope", "/unsubscribe nope"):
        sent = len(bot.api.sent_messages(USER))
        answer = await bot.say(command)
        assert "Unknown topic" in answer and "… (+1980: /topics)" in answer
        await bot.say("/help")  # the reply to a later command follows it directly
        assert len(bot.api.sent_messages(USER)) == sent + 2, command


@pytest.mark.parametrize("bot", [THOUSANDS], indirect=True)
async def test_subscribe_all_list_and_unsubscribe_all_of_thousands_answer_in_one_message(
    bot: Bot,
) -> None:
    """/subscribe all named every one of 2,000 ids, and /list listed each with its title: a
    dozen messages and more; now a bounded number, and how many more."""
    for command, said in (
        ("/subscribe all", "Subscribed to topic-0000, topic-0001"),
        ("/list", "• <code>topic-0000</code> — Topic 0"),
        ("/unsubscribe all", "Unsubscribed from topic-0000, topic-0001"),
    ):
        sent = len(bot.api.sent_messages(USER))
        answer = await bot.say(command)
        assert said in answer and re.search(r"and 19\d\d more topics", answer), command
        await bot.say("/help")  # the reply to a later command follows it directly
        assert len(bot.api.sent_messages(USER)) == sent + 2, command
        if command == "/subscribe all":
            assert len(await bot.store.run(Store.subscriptions, USER)) == 2000
    assert await bot.store.run(Store.subscriptions, USER) == []


# 20 topics whose list's lines, each with its line break, come to 2,001 characters: one more
# than the list holds ("• <code>t-00</code> — " is 22 characters before the title)
JUST_OVER = {
    f"t-{n:02}": {"title": "T" * (78 if n == 19 else 77), "query": f"word{n}"} for n in range(20)
}


@pytest.mark.parametrize("bot", [JUST_OVER], indirect=True)
async def test_a_topic_list_one_character_too_long_names_how_many_more(bot: Bot) -> None:
    text = bot.ctx.topic_list()
    more = re.search(r"… and (\d+) more topics?", text)
    assert more is not None and int(more.group(1)) + text.count("<code>t-") == 20
    assert int(more.group(1)) > 0  # never "… and 0 more topics"


@given(count=st.integers(0, 300), page=st.integers(-3, 40))
def test_every_button_is_on_one_page_and_a_page_fits_a_message(count: int, page: int) -> None:
    buttons = [InlineKeyboardButton(str(n), callback_data=str(n)) for n in range(count)]
    pages = max(1, -(-count // PER_PAGE))
    shown = []
    for number in range(pages):
        rows = paged(buttons, number, "x:")
        turning = rows[-1] if pages > 1 else []
        assert sum(len(row) for row in rows) <= PER_PAGE + 3 < 100
        assert [turned_to(str(b.callback_data), "x:") for b in turning] == (
            [(number - 1) % pages, number, (number + 1) % pages] if pages > 1 else []
        )
        shown += [row[0].text for row in (rows[:-1] if pages > 1 else rows)]
        assert all(
            page_of(int(row[0].text)) == number for row in (rows[:-1] if pages > 1 else rows)
        )
    assert shown == [str(n) for n in range(count)]
    assert paged(buttons, page, "x:") == paged(buttons, min(max(page, 0), pages - 1), "x:")
    assert turned_to("x:-1", "x:") is None and turned_to("x:１", "x:") is None


def test_a_group_keeps_the_settings_its_admins_chose_where_the_config_says_none() -> None:
    """A channel's settings are the config's alone (no one there can send /digest); a group's
    admins can, so a key left out keeps theirs, and a key given overrides it."""
    from bot.config import ChannelConfig
    from bot.telegram.channels import channel_news_langs, channel_prefs

    own = ChatPrefs(-100, "supergroup", None, "Asia/Tokyo", "daily 08:00", "", None, None, True)
    config = ChannelConfig(chat="-100", topics=("kuril",), quiet="23:00-07:00 hold")
    assert channel_prefs(config, False, own) == ("Asia/Tokyo", "daily 08:00", "23:00-07:00 hold")
    assert channel_prefs(config, True, own) == (None, "", "23:00-07:00 hold")
    assert channel_prefs(config, False, None) == (None, "", "23:00-07:00 hold")
    assert ChannelConfig(chat="-100", topics=("kuril",), timezone="utc+9").timezone == "Etc/GMT-9"
    chosen = replace(own, news_langs=("ja",))
    assert channel_news_langs(config, False, chosen) == ("ja",)
    assert channel_news_langs(config, True, chosen) == ()
    ru = ChannelConfig(chat="-100", topics=("kuril",), news_languages=("ru",))
    assert channel_news_langs(ru, False, chosen) == ("ru",)


async def test_mywatch_while_the_listener_binds_any_port_says_wait_not_a_dead_address(
    bot: Bot,
) -> None:
    """`listen: 127.0.0.1:0` gives the port only once bound: /mywatch sent in the daemon's first
    seconds gave an address with port 0, and nothing for it to say "feeds are off" either."""
    assert bot.ctx is not None
    bot.ctx.feeds_soon = True
    await bot.say("/watch Shikotan")
    answer = await bot.say("/mywatch")
    assert "again in a few seconds" in answer and "/w/" not in answer
    assert "Feeds are off" not in answer
    bot.ctx.feeds_url, bot.ctx.feeds_soon = "http://127.0.0.1:8123/feeds", False  # bound
    assert "http://127.0.0.1:8123/feeds/w/" in await bot.say("/mywatch")


async def test_an_admins_reload_is_answered_once_and_the_other_admins_get_its_notice(
    bot: Bot, tmp_path: Path
) -> None:
    """/reload answered its sender with what the reload did, and the notice of the same reload
    (fanned out to every admin) reached the sender too: two messages for one command."""
    from bot.config import load_config
    from bot.daemon import Daemon
    from tests.conftest import write_config

    other = 9010
    assert bot.ctx is not None
    config = write_config(tmp_path, {}, admins=(ADMIN, other))
    assert load_config(config).store.path == bot.store.path  # the daemon's store is the bot's
    daemon = Daemon(load_config(config), TOKEN, config_path=config, config_settle=0)
    daemon._store, bot.ctx.reload = bot.store, daemon.reload
    bot.ctx.admins = frozenset({ADMIN, other})
    await bot.say("/start", chat_id=other)
    config.write_text(config.read_text().replace("timeout: 5s", "timeout: 7s"))
    answer = await bot.say("/reload", chat_id=ADMIN)
    assert answer == "Reloaded: a restart is needed for poll.timeout"
    settings = DeliverySettings(admins=(ADMIN, other))
    bot.clock.now = datetime.now(UTC)  # the notice's time, the daemon's clock's
    async with PTBBot(TOKEN, base_url=bot.api.base_url, **connections()) as ptb:
        worker = DeliveryWorker(bot.store, ptb, settings=settings, clock=bot.clock)
        await worker.send_due()
        await worker.drain()
    told = "kurilwatch: config applied; a restart is needed for poll.timeout, read only at start."
    assert [m["text"] for m in bot.api.sent_messages(ADMIN)] == [answer]
    assert bot.api.sent_messages(other)[-1]["text"] == told
