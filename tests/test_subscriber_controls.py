"""What subscribers decide reaches them, end to end through python-telegram-bot, the delivery
worker and the fake Bot API: the bot's language, news languages, muted sources, the buttons
under alerts, and watches narrowed by `lang:`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot as PTBBot

from bot.config import Config
from bot.daemon import build_application
from bot.delivery.buttons import sign
from bot.delivery.limits import DeliverySettings, Limits
from bot.delivery.worker import DeliveryWorker
from bot.telegram.chat import BotContext, install
from store import AsyncStore, FeedState, ItemRecord, Store
from tests.conftest import TOKEN, Clock, connections, new_store, running, shipped_topics
from tests.fakes.telegram_api import FakeBotAPI
from watchers.config import TopicConfig
from watchers.items import Item
from watchers.topics.compile import compile_topics, matcher_of
from watchers.worker import item_facts

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
ALICE, BORIS, KENJI = 5001, 5002, 5003  # en, ru and ja users
NO_LIMITS = Limits(per_second=1000, private_per_second=1000, private_burst=10, group_per_minute=1e4)
FEEDS = (("tass-en", "TASS"), ("tass-ru", "ТАСС"), ("kyodo", "Kyodo"), ("nhk", "NHK"))


@dataclass
class Harness:
    store: AsyncStore
    api: FakeBotAPI
    clock: Clock
    worker: DeliveryWorker
    guid: int = 0

    async def say(self, text: str, chat_id: int, **kwargs: Any) -> str:
        count = len(self.api.sent_messages(chat_id))
        self.api.push_message(chat_id, text, **kwargs)
        replies = await self.api.wait_for_messages_async(chat_id, count + 1)
        return str(replies[count]["text"])

    async def press(self, chat_id: int, message_id: int, data: str) -> str:
        """Press a button; the text of the callback's answer."""
        count = len(self.api.calls_of("answerCallbackQuery"))
        self.api.push_callback_query(chat_id, message_id, data)
        await self.api.wait_for_async(
            lambda: len(self.api.calls_of("answerCallbackQuery")) > count, 10, "an answer"
        )
        return str(self.api.calls_of("answerCallbackQuery")[count].params.get("text", ""))

    async def report(
        self,
        feed: str,
        title: str,
        *,
        lang: str,
        url: str,
        topics: tuple[str, ...] = ("kuril",),
        summary: str | None = None,
    ) -> None:
        """One feed's report, stored as a poll stores it (same URL: same story)."""
        self.guid += 1
        self.clock.now += timedelta(minutes=1)
        record = ItemRecord(
            guid=str(self.guid),
            link=url,
            canonical_url=url,
            title=title,
            summary=f"{title}. More text follows here." if summary is None else summary,
            published_at=self.clock.now,
            topics=topics,
            lang=lang,
        )
        state = FeedState(id=feed, url=f"https://{feed}.example/rss", title=dict(FEEDS)[feed])
        await self.store.run(Store.ingest, state, [record], now=self.clock.now, alert=True)

    async def deliver(self) -> None:
        """Send everything due (one alert per chat a pass), edits included."""
        while await self.worker.send_due():
            await self.worker.drain()

    def alerts(self, chat_id: int) -> list[dict[str, Any]]:
        """The alerts sent to a chat (messages with the story buttons)."""
        return [
            m
            for m in self.api.sent_messages(chat_id)
            if "a:" in str(m.get("reply_markup", {}).get("inline_keyboard", ""))
        ]


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (b["text"], b["callback_data"])
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
    ]


def message_id(api: FakeBotAPI, chat_id: int, text_part: str) -> int:
    for call in api.calls_of("sendMessage"):
        if call.params["chat_id"] in (chat_id, str(chat_id)) and text_part in call.params["text"]:
            return int(call.response["result"]["message_id"])
    raise AssertionError(f"no message with {text_part!r} to {chat_id}")


@pytest.fixture
async def h(tmp_path: Path, bot_api: FakeBotAPI) -> AsyncIterator[Harness]:
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    app = build_application(settings, TOKEN)
    ctx = BotContext(
        store=store, topics=compile_topics(settings.topics).topics, clock=clock, feeds=FEEDS
    )
    install(app, ctx)
    async with PTBBot(TOKEN, base_url=bot_api.base_url, **connections()) as bot, running(app):
        worker = DeliveryWorker(
            store,
            bot,
            settings=DeliverySettings(
                limits=NO_LIMITS,
                topic_titles={tid: t.title for tid, t in settings.topics.items()},
            ),
            clock=clock,
        )
        yield Harness(store, bot_api, clock, worker)
    await store.close()


async def test_russian_and_japanese_users_get_help_errors_and_alert_chrome_in_their_language(
    h: Harness,
) -> None:
    help_ru = await h.say("/help", BORIS, language_code="ru")
    assert "<b>Команды</b>" in help_ru and "все команды" in help_ru
    assert "Я не знаю такой команды" in await h.say("/frobnicate", BORIS, language_code="ru")
    assert "«forever» — не длительность" in await h.say("/mute forever", BORIS, language_code="ru")
    bad = await h.say('/watch "Шикотан', BORIS, language_code="ru")
    assert "Не удалось разобрать запрос: позиция 1: кавычка не закрыта" in bad
    assert "引用符が閉じていません" in await h.say('/watch "色丹', KENJI, language_code="ja")
    help_ja = await h.say("/help", KENJI, language_code="ja")
    assert "<b>コマンド</b>" in help_ja and "コマンド一覧" in help_ja
    assert "そのコマンドはありません" in await h.say("/frobnicate", KENJI, language_code="ja")
    assert "kuril を購読しました" in await h.say("/subscribe kuril", KENJI, language_code="ja")
    await h.say("/subscribe kuril", BORIS, language_code="ru")
    await h.say("/subscribe kuril", ALICE, language_code="en")

    await h.report("tass-en", "Shikotan port reopens", lang="en", url="https://n.example/1")
    await h.deliver()
    await h.report(
        "kyodo", "Shikotan port reopens, Kyodo says", lang="en", url="https://n.example/1"
    )
    await h.deliver()

    for chat, when, also, mute in (
        (BORIS, "27 нояб. 2026, 03:01 UTC", "Также: Kyodo", "🔕 Не следить"),
        (KENJI, "2026年11月27日 3:01 UTC", "他の報道: Kyodo", "🔕 このニュースをミュート"),
        (ALICE, "2026-11-27 03:01 UTC", "Also: Kyodo", "🔕 Mute this story"),
    ):
        [alert] = h.alerts(chat)
        assert when in alert["text"]
        assert buttons(alert)[0][0] == mute
        edited = h.api.message(chat, message_id(h.api, chat, "Shikotan port reopens"))
        assert edited is not None and also in edited["text"]
        assert buttons(edited)[0][0] == mute  # the edit keeps the buttons


async def test_a_private_chat_that_switches_its_app_to_russian_gets_russian_alerts_too(
    h: Harness,
) -> None:
    """Replies followed the app's current language, alerts the one recorded at /subscribe:
    Russian replies, English alerts. Until /language, both follow the latest message."""
    await h.say("/subscribe kuril", ALICE, language_code="en")
    assert "<b>Команды</b>" in await h.say("/help", ALICE, language_code="ru")
    await h.report("tass-en", "Shikotan port reopens", lang="en", url="https://n.example/1")
    await h.deliver()
    [alert] = h.alerts(ALICE)
    assert buttons(alert)[0][0] == "🔕 Не следить"
    # a language chosen with /language stays, whatever the app's
    await h.say("/language ja", ALICE, language_code="ru")
    assert "<b>コマンド</b>" in await h.say("/help", ALICE, language_code="en")
    await h.report("tass-en", "Iturup bridge", lang="en", url="https://n.example/2")
    await h.deliver()
    assert buttons(h.alerts(ALICE)[1])[0][0] == "🔕 このニュースをミュート"


async def test_lang_ru_keeps_english_stories_out_and_lets_russian_ones_in(h: Harness) -> None:
    await h.say("/subscribe kuril", BORIS, language_code="ru")
    await h.say("/subscribe kuril", ALICE)
    answer = await h.say("/lang ru", BORIS, language_code="ru")
    assert "только новости на языках: русский" in answer
    assert "не язык новостей" in await h.say("/lang de", BORIS, language_code="ru")
    await h.report("tass-en", "Kuril airport opens", lang="en", url="https://n.example/en")
    await h.report("tass-ru", "Аэропорт на Курилах открыт", lang="ru", url="https://n.example/ru")
    await h.deliver()
    assert ["Аэропорт на Курилах открыт" in m["text"] for m in h.alerts(BORIS)] == [True]
    assert len(h.alerts(ALICE)) == 2  # a chat without the filter gets both
    # the same story later reported in Russian reaches the chat that filtered out the English
    await h.report("tass-en", "Iturup bridge", lang="en", url="https://n.example/b")
    await h.report("tass-ru", "Мост на Итурупе", lang="ru", url="https://n.example/b")
    await h.deliver()
    texts = [m["text"] for m in h.alerts(BORIS)]
    assert len(texts) == 2 and "Мост на Итурупе" in texts[1]
    assert len(h.alerts(ALICE)) == 3  # one alert for the bridge story: its first report
    assert "Итурупе" not in " ".join(m["text"] for m in h.alerts(ALICE))
    # /latest and /search honour the news languages too
    latest = await h.say("/latest", BORIS, language_code="ru")
    assert "Аэропорт" in latest and "Kuril airport" not in latest
    assert "Kuril airport" in await h.say("/latest", ALICE)


async def test_muting_a_source_drops_its_reports_for_that_chat_only(h: Harness) -> None:
    await h.say("/subscribe kuril", ALICE)
    await h.say("/subscribe kuril", BORIS)
    listing = await h.say("/sources", ALICE)
    assert "Sources" in listing
    keyboard = h.api.sent_messages(ALICE)[-1]
    data = dict((d, t) for t, d in buttons(keyboard))
    assert "src:tass-en" in data and all(len(d.encode()) <= 64 for d in data)
    listing_id = message_id(h.api, ALICE, "<b>Sources</b>")
    assert await h.press(ALICE, listing_id, "src:tass-en") == "Muted TASS."
    assert await h.store.run(Store.muted_sources, ALICE) == ["tass-en"]
    await h.api.wait_for_async(
        lambda: h.api.calls_of("editMessageReplyMarkup"), 10, "the keyboard redrawn"
    )
    redrawn = h.api.message(ALICE, listing_id)
    assert redrawn is not None and buttons(redrawn)[0][0].startswith("🔇")

    await h.report("tass-en", "Shikotan drills", lang="en", url="https://n.example/d")
    await h.deliver()
    assert h.alerts(ALICE) == [] and len(h.alerts(BORIS)) == 1
    # the next outlet that carries the story brings it to the chat that muted the first
    await h.report("kyodo", "Shikotan drills: Japan protests", lang="en", url="https://n.example/d")
    await h.deliver()
    [alert] = h.alerts(ALICE)
    assert "Japan protests" in alert["text"] and "Kyodo" in alert["text"]
    assert len(h.alerts(BORIS)) == 1  # BORIS had it already: an "Also:" edit, no second alert
    # unmuting brings tass-en back
    assert await h.press(ALICE, listing_id, "src:tass-en") == "Unmuted TASS."
    assert await h.store.run(Store.muted_sources, ALICE) == []


async def test_not_relevant_is_stored_and_a_forged_button_changes_nothing(h: Harness) -> None:
    await h.say("/subscribe kuril", ALICE)
    await h.report("tass-en", "Kuril fish prices", lang="en", url="https://n.example/f")
    await h.deliver()
    [alert] = h.alerts(ALICE)
    labels = dict(buttons(alert))
    assert all(len(d.encode()) <= 64 for d in labels.values())
    alert_id = message_id(h.api, ALICE, "Kuril fish prices")
    assert await h.press(ALICE, alert_id, labels["👎 Not relevant"]) == "Noted, thank you."
    [feedback] = await h.store.run(Store.feedback)
    assert (feedback.chat_id, feedback.topic, feedback.created_at) == (ALICE, "kuril", h.clock.now)
    [(item_id,)] = await h.store.run(lambda s: s.db.execute("SELECT id FROM items").fetchall())
    assert feedback.item_id == item_id
    # a forged signature, and a genuine button of another chat's alert, do nothing
    forged = labels["👎 Not relevant"][:-2] + "AA"
    assert await h.press(ALICE, alert_id, forged) == "This button no longer works."
    assert await h.press(BORIS, alert_id, labels["🔕 Mute this story"]) == (
        "This button no longer works."
    )
    assert await h.press(ALICE, alert_id, sign(b"guessed" * 4, "m", 1)) == (
        "This button no longer works."
    )
    assert len(await h.store.run(Store.feedback)) == 1
    modes = await h.store.run(lambda s: s.db.execute("SELECT * FROM story_controls").fetchall())
    assert modes == []


GARBAGE_BUTTONS = (
    "a:m1:ä",  # a non-ASCII signature could not even be compared
    "a:n1:" + "Ж" * 29,
    "a:",
    "a:::",
    "a:f99999999999999999999999:AAAAAAAAAAAAAAAA",
    "t:" + "ä" * 31,
    "src#" + "0" * 32,
    "nl:^xx",
    "\x00",
)


async def test_garbage_button_data_gets_a_short_answer_and_nothing_else(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await h.say("/subscribe kuril", ALICE)
    for data in GARBAGE_BUTTONS:
        answer = await h.press(ALICE, 1, data)
        assert 0 < len(answer) <= 200, data
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(h.api.sent_messages(ALICE)) == 1  # no "something went wrong" under the message
    assert await h.store.run(Store.subscriptions, ALICE) == ["kuril"]


async def test_mute_this_story_stops_the_later_also_edit_for_that_chat_only(h: Harness) -> None:
    await h.say("/subscribe kuril", ALICE)
    await h.say("/subscribe kuril", BORIS)
    await h.report("tass-en", "Habomai talks", lang="en", url="https://n.example/h")
    await h.deliver()
    [alert] = h.alerts(ALICE)
    alert_id = message_id(h.api, ALICE, "Habomai talks")
    answer = await h.press(ALICE, alert_id, dict(buttons(alert))["🔕 Mute this story"])
    assert answer == "Muted: no more updates on this story here."
    await h.report("kyodo", "Habomai talks resume", lang="en", url="https://n.example/h")
    await h.deliver()
    edits = h.api.calls_of("editMessageText")
    assert [int(c.params["chat_id"]) for c in edits] == [BORIS]
    unchanged = h.api.message(ALICE, alert_id)
    assert unchanged is not None and "Also" not in unchanged["text"]


async def test_follow_this_story_turns_the_next_report_into_a_reply(h: Harness) -> None:
    await h.say("/subscribe kuril", ALICE)
    await h.say("/subscribe kuril", BORIS)
    await h.report("tass-en", "Iturup airport", lang="en", url="https://n.example/i")
    await h.deliver()
    [alert] = h.alerts(ALICE)
    alert_id = message_id(h.api, ALICE, "Iturup airport")
    answer = await h.press(ALICE, alert_id, dict(buttons(alert))["🔔 Follow this story"])
    assert answer.startswith("Following")
    await h.report("kyodo", "Iturup airport: first flight", lang="en", url="https://n.example/i")
    await h.deliver()
    replies = [m for m in h.alerts(ALICE) if m.get("reply_parameters")]
    [reply] = replies
    assert reply["reply_parameters"]["message_id"] == alert_id
    assert "first flight" in reply["text"] and "Kyodo" in reply["text"]
    edited = h.api.message(ALICE, alert_id)
    assert edited is not None and "Also: Kyodo" in edited["text"]  # and the alert says so
    assert [m for m in h.alerts(BORIS) if m.get("reply_parameters")] == []  # BORIS: no reply
    assert len(h.alerts(BORIS)) == 1


async def test_a_watch_narrowed_to_english_alerts_on_the_english_report_only(
    h: Harness,
) -> None:
    answer = await h.say("/watch Shikotan lang:en", ALICE)
    assert "Watching for <code>Shikotan lang:en</code>" in answer
    [watch] = await h.store.run(Store.watches, ALICE)
    # compiled as the daemon compiles watches, matched as a parse worker matches items
    spec = compile_topics({watch.topic_id: TopicConfig(title="watch", query=watch.query)}).spec
    matcher = matcher_of(spec)
    for feed, title, url in (
        ("tass-ru", "Шикотан (Shikotan): на острове открыт новый порт", "https://n.example/r"),
        ("kyodo", "New port opens on Shikotan", "https://n.example/e"),
    ):
        item = Item(feed, url, url, url, title, "", None)
        facts = item_facts(item, matcher)
        await h.report(feed, title, lang=facts.lang or "", url=url, topics=facts.topics)
    await h.deliver()
    [alert] = h.alerts(ALICE)
    assert "New port opens on Shikotan" in alert["text"]


async def test_a_watch_that_only_a_later_report_of_a_story_matches_gets_that_report(
    h: Harness,
) -> None:
    """The story's first report (English) alerted the topic's chats; its Russian report, the
    first to match Boris's watch, reaches him, and nobody gets the story twice."""
    await h.say("/subscribe kuril", ALICE)
    await h.say("/watch Итуруп", BORIS, language_code="ru")
    [watch] = await h.store.run(Store.watches, BORIS)
    spec = compile_topics({watch.topic_id: TopicConfig(title="watch", query=watch.query)}).spec
    matcher = matcher_of(spec)
    for feed, title in (("tass-en", "Bridge opens on the Kurils"), ("tass-ru", "Мост на Итурупе")):
        url = "https://n.example/bridge"
        item = Item(feed, url, url, url, title, "", None)
        await h.report(
            feed, title, lang="", url=url, topics=("kuril", *item_facts(item, matcher).topics)
        )
    await h.deliver()
    assert ["Bridge opens" in m["text"] for m in h.alerts(ALICE)] == [True]
    assert ["Мост на Итурупе" in m["text"] for m in h.alerts(BORIS)] == [True]


async def test_a_digest_gives_each_story_its_first_sentence_and_outlets_in_russian(
    h: Harness,
) -> None:
    await h.say("/subscribe kuril", BORIS, language_code="ru")
    assert "ежедневно в 04:00" in await h.say("/digest daily 04:00", BORIS, language_code="ru")
    await h.report(
        "tass-ru",
        "Порт на Шикотане",
        lang="ru",
        url="https://n.example/p",
        summary="Новый причал принял первое судно. Работы продолжатся весной.",
    )
    await h.report("kyodo", "Shikotan port", lang="en", url="https://n.example/p")
    await h.report(
        "nhk",
        "色丹島の港",
        lang="ja",
        url="https://n.example/q",
        summary="新しい岸壁が完成した。来春も工事が続く。",
    )
    await h.deliver()
    assert h.api.sent_messages(BORIS)[-1]["text"].startswith("Сводка: ежедневно")  # held
    h.clock.now = T0 + timedelta(hours=1, minutes=1)
    await h.deliver()
    digest = h.api.sent_messages(BORIS)[-1]["text"]
    assert digest.startswith("<b>Сводка</b> · 2 события\n\n<b>Курильские острова</b> #kuril")
    assert "\n  Новый причал принял первое судно.\n  <i>Также: Kyodo (en)</i>" in digest
    assert "Работы продолжатся" not in digest  # the first sentence only
    assert "\n  新しい岸壁が完成した。\n" in digest + "\n" and "来春" not in digest


async def test_start_offers_the_users_own_news_language_and_groups_keep_their_founders(
    h: Harness,
) -> None:
    await h.say("/start", KENJI, language_code="ja")
    welcome = h.api.sent_messages(KENJI)[-1]
    offer = buttons(welcome)[-2:]  # the current choice marked, as /lang's keyboard marks it
    assert offer == [("➕ 日本語のニュースのみ", "nl:=ja"), ("✅ すべての言語", "nl:=")]
    start_id = message_id(h.api, KENJI, "kurilwatch")
    answer = await h.press(KENJI, start_id, "nl:=ja")
    assert "日本語のニュースだけが届きます" in answer
    prefs = await h.store.run(Store.prefs, KENJI)
    assert prefs is not None and prefs.news_langs == ("ja",)
    await h.api.wait_for_async(
        lambda: h.api.calls_of("editMessageReplyMarkup"), 10, "the keyboard redrawn"
    )
    redrawn = h.api.message(KENJI, start_id)
    assert redrawn is not None and buttons(redrawn)[0][1] == "t:kuril"  # the topics kept
    marked = [("✅ 日本語のニュースのみ", "nl:=ja"), ("➕ すべての言語", "nl:=")]
    assert buttons(redrawn)[-2:] == marked
    await h.say("/start", KENJI, language_code="ja")
    assert buttons(h.api.sent_messages(KENJI)[-1])[-2:] == marked
    await h.say("/lang ja en", KENJI, language_code="ja")  # neither offer is the choice now
    await h.say("/start", KENJI, language_code="ja")
    assert [b[0][0] for b in buttons(h.api.sent_messages(KENJI)[-1])[-2:]] == ["➕", "➕"]
    # a group speaks the language of whoever set it up, whoever writes later
    group = -4004
    h.api.set_admins(group, [], creator=BORIS)
    await h.say("/start", group, chat_type="group", user_id=BORIS, language_code="ru")
    assert "Команды" in await h.say("/help", group, chat_type="group", user_id=ALICE)
    refused = await h.say("/language en", group, chat_type="group", user_id=ALICE)
    assert "могут менять только её администраторы" in refused
    assert (
        await h.say("/language en", group, chat_type="group", user_id=BORIS, language_code="ru")
        == "I will speak English here."
    )
    assert "<b>Commands</b>" in await h.say("/help", group, chat_type="group", user_id=BORIS)


async def test_news_languages_are_named_in_the_chats_language(h: Harness) -> None:
    """A Russian chat read "только новости на языках: English, 日本語"."""
    note = await h.say("/lang en ja", ALICE, language_code="ru")
    assert "на языках: английский, японский;" in note
    assert "<b>Языки новостей:</b> английский, японский" in await h.say(
        "/list", ALICE, language_code="ru"
    )
    note = await h.say("/lang ru", ALICE, language_code="ja")
    assert note.startswith("ロシア語のニュースだけが届きます")
    # and listed as Japanese lists, not "ロシア語, 英語" with an ASCII comma
    note = await h.say("/lang ru en", ALICE, language_code="ja")
    assert note.startswith("ロシア語、英語のニュースだけが届きます"), note
    assert "ロシア語、英語（/lang）" in await h.say("/list", ALICE, language_code="ja")


async def test_lang_takes_its_languages_written_with_commas_as_subscribe_does(h: Harness) -> None:
    """'/lang ru,en' was refused as "'ru,en' is not a news language"."""
    note = await h.say("/lang ru,en", ALICE)
    assert note.startswith("Only news in Russian, English will reach this chat")
    assert "'de' is not a news language" in await h.say("/lang ru,de", ALICE)
    prefs = await h.store.run(Store.prefs, ALICE)
    assert prefs is not None and prefs.news_langs == ("ru", "en")


async def test_lang_without_arguments_offers_a_toggle_keyboard(h: Harness) -> None:
    listing = await h.say("/lang", ALICE)
    assert "News languages: all" in listing
    keyboard = h.api.sent_messages(ALICE)[-1]
    assert [d for _, d in buttons(keyboard)] == ["nl:^en", "nl:^ru", "nl:^ja", "nl:*"]
    listing_id = message_id(h.api, ALICE, "News languages")
    assert await h.press(ALICE, listing_id, "nl:^en") == (
        "Only news in English will reach this chat; alerts, digests, /latest and /search follow it."
    )
    await h.api.wait_for_async(
        lambda: h.api.calls_of("editMessageReplyMarkup"), 10, "the keyboard redrawn"
    )
    redrawn = h.api.message(ALICE, listing_id)
    assert redrawn is not None and buttons(redrawn)[0][0] == "✅ English"
    await h.press(ALICE, listing_id, "nl:^ru")
    prefs = await h.store.run(Store.prefs, ALICE)
    assert prefs is not None and prefs.news_langs == ("en", "ru")
    await h.press(ALICE, listing_id, "nl:*")
    prefs = await h.store.run(Store.prefs, ALICE)
    assert prefs is not None and prefs.news_langs == ()
    assert "<b>News languages:</b> all" in await h.say("/list", ALICE)


async def _channel_alert(h: Harness, channel: int) -> tuple[dict[str, Any], str]:
    """A channel subscribed to `kuril` and the alert it got, with its mute button's data."""
    h.api._register_chat(channel, "channel", "Kuril news", "x")
    await h.store.run(Store.upsert_subscriber, channel, now=T0, chat_type="channel", title="K")
    await h.store.run(Store.subscribe, channel, "kuril", now=T0)
    await h.report("tass-en", "Habomai talks", lang="en", url="https://n.example/h")
    await h.deliver()
    [alert] = h.alerts(channel)
    return alert, dict(buttons(alert))["🔕 Mute this story"]


async def test_in_a_channel_only_an_admin_mutes_a_story_for_every_reader(h: Harness) -> None:
    channel, reader, creator = -1001234567, 7777, 4242
    _, mute = await _channel_alert(h, channel)
    h.api.set_admins(channel, [], creator=creator)
    alert_id = message_id(h.api, channel, "Habomai talks")

    async def press(user: int) -> list[tuple[str, str]]:
        answered = len(h.api.calls_of("answerCallbackQuery"))
        h.api.push_callback_query(channel, alert_id, mute, user_id=user)
        await h.api.wait_for_async(
            lambda: len(h.api.calls_of("answerCallbackQuery")) > answered, 10, "an answer"
        )
        rows = await h.store.run(Store.story_modes, 1)
        return sorted((str(c), m) for c, m in rows.items())

    assert await press(reader) == []  # a reader mutes nothing for the channel
    assert await press(creator) == [(str(channel), "mute")]


async def test_a_channel_reader_refused_a_press_is_told_the_channel_s_admins_decide(
    h: Harness,
) -> None:
    # a reader's 🔕 under a channel's alert was answered "Only this group's admins ...": the
    # channel named as a group
    channel, reader = -1001234569, 7779
    _, mute = await _channel_alert(h, channel)
    h.api.set_admins(channel, [], creator=4243)
    alert_id = message_id(h.api, channel, "Habomai talks")
    for lang, said in [
        ("en", "Only this channel's admins"),
        ("ru", "Только администраторы этого канала"),
        ("ja", "このチャンネルの通知と設定を変更できるのは管理者だけ"),
    ]:
        await h.store.run(Store.set_language, channel, lang)
        answered = len(h.api.calls_of("answerCallbackQuery"))
        h.api.push_callback_query(channel, alert_id, mute, user_id=reader)
        await h.api.wait_for_async(
            lambda n=answered: len(h.api.calls_of("answerCallbackQuery")) > n, 10, "an answer"
        )
        text = h.api.calls_of("answerCallbackQuery")[-1].params["text"]
        assert said in text and "group" not in text and "групп" not in text, text
    assert await h.store.run(Store.story_modes, 1) == {}  # muted nothing for the channel


async def test_a_failed_press_is_told_to_the_presser_not_to_the_channel(h: Harness) -> None:
    channel, reader = -1001234568, 7778
    alert, mute = await _channel_alert(h, channel)
    # Telegram fails the check of who pressed: the handler raises into the error handler
    h.api.fail_next("getChatMember", status=500, description="Internal Server Error")
    h.api.push_callback_query(
        channel, message_id(h.api, channel, "Habomai talks"), mute, user_id=reader
    )
    [answer] = await asyncio.to_thread(h.api.wait_for_calls, "answerCallbackQuery")
    assert "went wrong" in answer.params["text"]
    assert [m["text"] for m in h.api.sent_messages(channel)] == [alert["text"]]


async def _one_alert(h: Harness) -> tuple[int, dict[str, str]]:
    """Alice's alert of one story: its message id and its buttons (label: data)."""
    await h.say("/subscribe kuril", ALICE)
    await h.report("tass-en", "Kuril fish prices", lang="en", url="https://n.example/f")
    await h.deliver()
    [old] = h.alerts(ALICE)
    return message_id(h.api, ALICE, "Kuril fish prices"), dict(buttons(old))


async def test_an_old_alerts_button_does_not_act_on_a_later_alert_after_a_prune(
    h: Harness,
) -> None:
    """An alert's buttons name its outbox row, and Telegram keeps them under the message for
    ever: the row's id, pruned with the row, must never name another alert."""
    old_id, old_buttons = await _one_alert(h)
    # a quiet topic: months without a match, then the daily prune forgets the sent alert
    h.clock.now += timedelta(days=100)
    await h.store.run(
        Store.prune, now=h.clock.now, text_for=timedelta(days=90), keys_for=timedelta(days=365)
    )
    await h.report("kyodo", "Iturup airport reopens", lang="en", url="https://n.example/a")
    await h.deliver()
    assert len(h.alerts(ALICE)) == 2
    answer = await h.press(ALICE, old_id, old_buttons["🔕 Mute this story"])
    assert answer == "This button no longer works."
    answer = await h.press(ALICE, old_id, old_buttons["👎 Not relevant"])
    assert answer == "This button no longer works."
    controls = await h.store.run(lambda s: s.db.execute("SELECT * FROM story_controls").fetchall())
    assert controls == []  # the new story is not muted by the old alert's button
    assert await h.store.run(Store.feedback) == []


async def test_an_old_alerts_button_does_not_act_on_an_alert_given_its_id_again(
    h: Harness,
) -> None:
    """A store restored from a backup taken before an alert (or one whose latest rows a prune
    deleted before m024 made ids never reused) gives that alert's outbox id to a new alert,
    while the old message keeps its buttons: the button must act on its own message's alert."""
    old_id, old_buttons = await _one_alert(h)

    def restored(store: Store) -> None:  # the outbox of a backup taken before the alert
        with store.db.atomic():
            store.db.execute("DELETE FROM outbox")
            store.db.execute("UPDATE sqlite_sequence SET seq = 0 WHERE name = 'outbox'")

    await h.store.run(restored)
    await h.report("kyodo", "Iturup airport reopens", lang="en", url="https://n.example/a")
    await h.deliver()
    assert len(h.alerts(ALICE)) == 2
    answer = await h.press(ALICE, old_id, old_buttons["🔕 Mute this story"])
    assert answer == "This button no longer works."
    controls = await h.store.run(lambda s: s.db.execute("SELECT * FROM story_controls").fetchall())
    assert controls == []  # the new story is not muted by the old alert's button
