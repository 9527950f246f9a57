"""Commands and buttons under odd input, through real python-telegram-bot and the fake Bot API:
refusals that name the bad argument, quoted, in each language."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot as TelegramBot

from bot.delivery.limits import DeliverySettings, Limits
from bot.delivery.worker import DeliveryWorker
from store import Store
from tests.conftest import TOKEN, Clock, connections
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_hostile import ADMIN, NOW, USER, Bot, hostile_bot


@pytest.fixture
async def bot(tmp_path: Path, bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async for running_bot in hostile_bot(
        tmp_path, bot_api, (("tass-en", "TASS"), ("kyodo", "Kyodo"))
    ):
        yield running_bot


@pytest.mark.parametrize(
    ("lang", "refusals"),
    [
        ("en", ["annot search for"]),
        ("ru", ["невозможен", "е удалось найти"]),
        ("ja", ["その検索はできません", "を検索できません"]),
    ],
)
async def test_a_bad_search_says_once_that_it_cannot_search_and_names_the_bad_part(
    bot: Bot, lang: str, refusals: list[str]
) -> None:
    """It read "I cannot search for that: cannot search for 'x': ..."."""
    answer = await bot.say('/search "open', language_code=lang)
    assert sum(answer.count(refusal) for refusal in refusals) == 1, answer
    o, c = {"ru": "«»", "ja": "「」"}.get(lang, "''")  # in the reader's marks
    assert f'{o}"open{c}' in answer, answer
    assert answer[0].isupper() or lang == "ja", answer


@pytest.mark.parametrize(
    ("lang", "refusal"),
    [("en", "too short a prefix"), ("ru", "слишком короткое"), ("ja", "短すぎます")],
)
async def test_a_search_of_one_letter_prefixes_is_refused_in_words(
    bot: Bot, lang: str, refusal: str
) -> None:
    """`/search a* OR b* OR ... OR z*` held the store's one thread for seconds: every poll,
    send and other chat's command waited."""
    query = " OR ".join(f"{letter}*" for letter in "abcdefghijklmnopqrstuvwxyz")
    answer = await bot.say(f"/search {query}", language_code=lang)
    o, c = {"ru": "«»", "ja": "「」"}.get(lang, "''")  # in the reader's marks
    assert refusal in answer and f"{o}a*{c}" in answer, answer


@pytest.mark.parametrize("lang", ["en", "ru", "ja"])
async def test_a_bad_mute_duration_is_quoted_back_with_the_right_form(bot: Bot, lang: str) -> None:
    for command, value in [
        ("/mute 2x", "2x"),
        ("/mute 2h 3h", "2h 3h"),
        ("/mute 90d", "90d"),
    ]:
        answer = await bot.say(command, language_code=lang)
        value = QUOTES[lang].format(value)
        assert value in answer and "<code>/mute " in answer, (command, answer)


MONDAY = {"en": "mon", "ru": "пн", "ja": "月"}
QUOTES = {"en": "'{}'", "ru": "«{}»", "ja": "「{}」"}  # a user's words, as each language quotes
REFUSALS = [  # a command with a bad argument; the argument quoted back; the right form shown
    ("/unwatch abc", "abc", "/unwatch 2"),
    ("/latest 50", "50", "/latest 10"),
    ("/latest nosuchtopic", "nosuchtopic", "<code>/latest ["),
    ("/digest hourly", "hourly", "/digest daily 08:00"),
    ("/digest daily 25:00", "25:00", "08:30"),
    ("/quiet 23", "23", "/quiet 23:00-07:00"),
    ("/report monthly", "monthly", "/report weekly {mon} 08:00"),
    ("/spikes maybe", "maybe", "/spikes on"),
    ("/timezone Europe Moscow", "Europe Moscow", "Europe/Moscow"),
    ("/lang de", "de", "/lang ru en"),
    ("/language de", "de", "/language ru"),
    ("/subscribe nosuch", "nosuch", "/subscribe kuril"),
    ("/trend 5d", "5d", "7d"),
    ("/export 2x", "2x", "/export ["),
    ("/feedback soon", "soon", "/feedback [30d]"),
]


@pytest.mark.parametrize("lang", ["en", "ru", "ja"])
async def test_every_refusal_quotes_the_bad_argument_and_shows_the_right_form(
    bot: Bot, lang: str
) -> None:
    wrong = []
    for command, value, form in REFUSALS:
        answer = await bot.say(command, chat_id=ADMIN, language_code=lang)
        form = form.format(mon=MONDAY[lang])  # a day as the reader writes it: all are read
        if QUOTES[lang].format(value) not in answer or form not in answer:
            wrong.append((command, answer))
    assert wrong == []


async def test_a_huge_bad_setting_is_quoted_back_short_in_one_message(bot: Bot) -> None:
    """/digest and /quiet quoted a 4,096-character argument whole: five messages."""
    huge = "&" * 4096
    commands = [
        f"/digest daily {huge}",
        f"/digest weekly {huge} 08:00",
        f"/quiet 23:00-07:00 {huge}",
        f"/quiet {huge}-07:00",
        f"/report weekly {huge} 08:00",
        f"/mute {huge}",
        f"/spikes {huge}",
        f"/export {huge}",
        f"/feedback {huge}",
    ]
    for command in commands:
        answer = await bot.say(command, chat_id=ADMIN, language_code="ru")
        assert len(answer) < 1000 and "…" in answer, (command[:20], answer[:200])
    await bot.say("/unmute", chat_id=ADMIN)
    assert len(bot.api.sent_messages(ADMIN)) == len(commands) + 1


async def test_a_broadcast_queued_for_a_group_reaches_it_after_it_becomes_a_supergroup(
    bot: Bot, tmp_path: Path
) -> None:
    """The alerts, topics and settings of the group moved; its queued broadcast stayed on the
    old id, which Telegram refuses, and the group never had it."""
    old, new = -4242, -1004242
    group: dict[str, Any] = {"chat_id": old, "chat_type": "group", "user_id": ADMIN}
    bot.api.set_admins(old, [ADMIN])
    await bot.say("/start", **group)
    assert "Queued for 1 chat" in await bot.say("/broadcast Maintenance tonight", chat_id=ADMIN)
    bot.api.upgrade_group(old, new, user_id=ADMIN)
    await bot.api.wait_for_async(lambda: not bot.api.pending_updates, 10, "both service messages")
    await bot.say("/help", chat_id=new, chat_type="supergroup", user_id=ADMIN)  # after them
    async with TelegramBot(TOKEN, base_url=bot.api.base_url, **connections()) as telegram:
        limits = Limits(per_second=1000, private_per_second=1000, group_per_minute=1e4)
        worker = DeliveryWorker(
            bot.store, telegram, settings=DeliverySettings(limits=limits), clock=Clock(NOW)
        )
        await worker.send_due()
        await worker.drain()
    assert [m["text"] for m in bot.api.sent_messages(new)][-1] == "Maintenance tonight"
    assert [n["chat_id"] for n in await bot.store.run(Store.notices)] == [new]


async def test_a_broadcast_refused_as_migrated_moves_the_group_and_reaches_the_supergroup(
    bot: Bot,
) -> None:
    """A broadcast was the first send to find the group migrated (its service message missed,
    no alert due): a notice's "migrated" was retried at the old id, each time refused, until
    the broadcast was given up; nothing moved the group."""
    old, new = -4343, -1004343
    group: dict[str, Any] = {"chat_id": old, "chat_type": "group", "user_id": ADMIN}
    bot.api.set_admins(old, [ADMIN])
    await bot.say("/start", **group)
    assert "Queued for 1 chat" in await bot.say("/broadcast Maintenance tonight", chat_id=ADMIN)
    bot.api.migrate_chat(old, new)  # refused at the old id; no service message came
    clock = Clock(NOW)
    async with TelegramBot(TOKEN, base_url=bot.api.base_url, **connections()) as telegram:
        limits = Limits(per_second=1000, private_per_second=1000, group_per_minute=1e4)
        worker = DeliveryWorker(
            bot.store, telegram, settings=DeliverySettings(limits=limits), clock=clock
        )
        for _ in range(3):
            await worker.send_due()
            await worker.drain()
            clock.now += timedelta(hours=1)
    assert [m["text"] for m in bot.api.sent_messages(new)] == ["Maintenance tonight"]
    assert [(n["chat_id"], n["state"]) for n in await bot.store.run(Store.notices)] == [
        (new, "sent")
    ]
    assert await bot.store.run(Store.prefs, old) is None  # the group moved with it
    assert await bot.store.run(Store.prefs, new) is not None


async def test_a_watch_of_a_source_no_feed_is_is_refused_naming_the_feeds(bot: Bot) -> None:
    """`/watch source:tass Shikotan` is a watch of TASS; `source:tas` (a typo) was saved too,
    and never matched anything, told only "it would have matched no story: maybe a typo"."""
    for lang in ("en", "ru", "ja"):
        answer = await bot.say("/watch source:tas Shikotan", language_code=lang)
        assert QUOTES[lang].format("tas") in answer and "<code>tass-en</code>" in answer, answer
    assert await bot.store.run(Store.watches, USER) == []
    assert "Watching for" in await bot.say("/watch source:tass Shikotan")
    assert "Watching for" in await bot.say("/watch Shikotan -source:kyodo")
    # one left out: the watch would match, but leave nothing out (a typo, most likely)
    answer = await bot.say("/watch Shikotan -source:kydo")
    assert "'kydo': leaving it out would change nothing" in answer, answer
    assert "исключение ничего не изменит" in await bot.say(
        "/watch Shikotan -source:kydo", language_code="ru"
    )
    assert len(await bot.store.run(Store.watches, USER)) == 2


async def test_a_saved_watch_of_a_feed_the_config_no_longer_has_is_flagged(bot: Bot) -> None:
    """A watch saved as `source:tass-ru` before the operator removed (or renamed) that feed
    matches nothing: /watches listed it as any other, though a new one is refused."""
    await bot.say("/start")
    for query in ("source:tass-ru Shikotan", "Kunashir source:tass"):
        await bot.store.run(Store.add_watch, USER, query, now=NOW, limit=3)
    gone, kept = (await bot.say("/watches")).split("\n")[1:3]
    assert gone.startswith("1. <code>source:tass-ru Shikotan</code> ⚠️ No feed is 'tass-ru'")
    assert "Feeds: <code>tass-en</code>, <code>kyodo</code>." in gone, gone
    assert kept == "2. <code>Kunashir source:tass</code>"  # `tass` is tass-en's outlet
    assert "Ленты «tass-ru» нет" in await bot.say("/watches", language_code="ru")
    assert "「tass-ru」というフィードはありません" in await bot.say("/list", language_code="ja")


async def test_a_saved_watch_excluding_a_feed_the_config_no_longer_has_is_not_flagged(
    bot: Bot,
) -> None:
    """`Shikotan -source:tass-ru` leaves out a feed the operator removed since: it still
    matches, but /watches said "that watch would never match"."""
    await bot.say("/start")
    for query in ("Shikotan -source:tass-ru", "Kunashir -source:tass-ru source:tass-ru"):
        await bot.store.run(Store.add_watch, USER, query, now=NOW, limit=3)
    excluding, stranded = (await bot.say("/watches")).split("\n")[1:3]
    assert excluding == "1. <code>Shikotan -source:tass-ru</code>", excluding
    assert stranded.startswith(  # a `source:` not under NOT still is
        "2. <code>Kunashir -source:tass-ru source:tass-ru</code> ⚠️ No feed is 'tass-ru'"
    )


async def test_a_watch_whose_one_alternative_names_a_source_no_feed_is_is_flagged_for_it(
    bot: Bot,
) -> None:
    """`Shikotan OR (Kunashir source:tass-ru)` still matches Shikotan once tass-ru is gone, but
    its second alternative never matches: /watches and /watch said the whole watch never
    would. They now say which: the whole watch, or the part that names the feed."""
    await bot.say("/start")
    for query in ("Shikotan OR (Kunashir source:tass-ru)", "(Shikotan OR Kunashir) source:tass-ru"):
        await bot.store.run(Store.add_watch, USER, query, now=NOW, limit=3)
    part, whole = (await bot.say("/watches")).split("\n")[1:3]
    assert part.startswith(
        "1. <code>Shikotan OR (Kunashir source:tass-ru)</code> ⚠️ No feed is 'tass-ru': the part"
        " of that watch that names it would never match. Feeds: <code>tass-en</code>"
    ), part
    assert whole.startswith(
        "2. <code>(Shikotan OR Kunashir) source:tass-ru</code> ⚠️ No feed is 'tass-ru': that"
        " watch would never match."
    ), whole
    assert "часть запроса, где она названа" in await bot.say("/watches", language_code="ru")
    answer = await bot.say("/watch Iturup OR (Kunashir source:tas)")
    assert "'tas': the part of that watch that names it would never match" in answer, answer
    assert "'tas': that watch would never match" in await bot.say("/watch Iturup source:tas")
    assert len(await bot.store.run(Store.watches, USER)) == 2  # neither saved


FORGED = [  # stale or forged callback data of every kind of button
    "t:nosuch",
    "t#" + "0" * 32,
    "tp:abc",
    "tp:99999999",
    "tp:-1",
    "nl:=de",
    "nl:^zz",
    "nl:?",
    "src:nosuch",
    "src#00",
    "srp:abc",
    "srp:5000",
    "a:n1:forged",
    "a:n1",
    "a:\ufffd:x",  # bytes that were not UTF-8, as the Bot API's JSON brings them
    "t:\ufffd",
    "x" * 64,
    "\u202et:kuril",  # right-to-left override
    "a:\u200bn1:x",
]


async def test_every_forged_or_stale_button_is_answered_and_changes_nothing(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.say("/lang ru")
    message_id = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    unanswered = []
    for data in FORGED:
        answered = len(bot.api.calls_of("answerCallbackQuery"))
        bot.api.push_callback_query(USER, message_id, data)
        try:
            await bot.api.wait_for_async(
                lambda n=answered: len(bot.api.calls_of("answerCallbackQuery")) > n, 5, data
            )
        except AssertionError:
            unanswered.append(data)
    assert unanswered == [], repr(unanswered)
    answers = [c.params.get("text", "") for c in bot.api.calls_of("answerCallbackQuery")]
    assert not [a for a in answers if "Sorry" in a], answers
    prefs = await bot.store.run(Store.prefs, USER)
    assert prefs is not None and prefs.news_langs == ("ru",)
    assert await bot.store.run(Store.subscriptions, USER) == []
    assert await bot.store.run(Store.muted_sources, USER) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_channel_post_forwarded_to_its_discussion_group_is_no_command(bot: Bot) -> None:
    """A channel's post that began "/stop" came to its linked discussion group as an automatic
    forward, and the bot answered it there ("Only this group's admins ...") under the post."""
    group = {"id": -100555, "type": "supergroup", "title": "Discussion"}
    channel = {"id": -100999, "type": "channel", "title": "Kuril news"}
    for n, text in enumerate(["/stop now", "/help@kurilwatch_test_bot", "/subscribe kuril"]):
        command = text.split(None, 1)[0]
        message = {
            "message_id": 100 + n,
            "date": int(time.time()),
            "chat": group,
            "from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
            "sender_chat": channel,
            "is_automatic_forward": True,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
        bot.api.push_update({"message": message})
    # a member's own command after them is answered, and is the only message there
    assert "/help" in await bot.say("/help", chat_id=-100555, chat_type="supergroup")
    assert len(bot.api.sent_messages(-100555)) == 1


BIDI = "\u202e"  # right-to-left override: what follows it in the line shows reversed


@pytest.mark.parametrize(
    "command",
    [
        "/language",
        "/lang",
        "/subscribe",
        "/unsubscribe",
        "/latest",
        "/search",
        "/trend",
        "/timezone",
        "/mute",
        "/unwatch",
        "/digest",
        "/quiet",
        "/report",
        "/spikes",
        "/export",
        "/feedback",
        "/watch Shikotan (",
    ],
)
async def test_a_refused_argument_is_quoted_back_without_its_direction_controls(
    bot: Bot, command: str
) -> None:
    """A right-to-left override in an argument, quoted back as it was, turned the rest of the
    reply's line around: '...ךаjsru' is not a language I speak' read backwards."""
    answer = await bot.say(f"{command} {BIDI}ru", chat_id=ADMIN)
    assert BIDI not in answer, answer
    # quoted as Python writes it; /watch shows the query it cannot read, a mark in its place
    assert ("\\u202e" in answer) ^ command.startswith("/watch"), answer
    assert ("\ufffdru" in answer) == command.startswith("/watch"), answer


async def test_a_watch_is_kept_without_its_direction_controls(bot: Bot) -> None:
    """A query pasted with a right-to-left override parsed (the matcher ignores it), and was
    echoed and listed with it: the rest of "Watching for ..." and of its /watches line read
    backwards."""
    answer = await bot.say(f"/watch {BIDI}Shikotan\u200f", chat_id=ADMIN)
    assert "Watching for <code>Shikotan</code>." in answer
    assert [w.query for w in await bot.store.run(Store.watches, ADMIN)] == ["Shikotan"]
    assert BIDI not in await bot.say("/watches", chat_id=ADMIN)


async def test_a_double_tap_on_a_topic_button_subscribes_once(bot: Bot) -> None:
    """Two taps on "➕ Kuril Islands" before the keyboard was redrawn subscribed, then
    unsubscribed: the user ended with nothing, told "Unsubscribed"."""
    await bot.say("/start")
    message_id = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    bot.api.push_callback_query(USER, message_id, "t:kuril")
    bot.api.push_callback_query(USER, message_id, "t:kuril")  # the keyboard as it was
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("answerCallbackQuery")) == 2, 10, "both taps answered"
    )
    assert await bot.store.run(Store.subscriptions, USER) == ["kuril"]
    texts = [c.params["text"] for c in bot.api.calls_of("answerCallbackQuery")]
    assert texts == ["Subscribed to kuril."] * 2
    # a tap on the redrawn keyboard (✅) unsubscribes
    bot.api.push_callback_query(USER, message_id, "t:kuril")
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("answerCallbackQuery")) == 3, 10, "the third tap"
    )
    assert await bot.store.run(Store.subscriptions, USER) == []


async def test_a_double_tap_on_a_source_or_news_language_button_acts_once(bot: Bot) -> None:
    await bot.say("/sources")
    sources = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    await bot.say("/lang")
    langs = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    for message_id, data in [(sources, "src:kyodo"), (langs, "nl:^ru")]:
        bot.api.push_callback_query(USER, message_id, data)
        bot.api.push_callback_query(USER, message_id, data)  # the keyboard as it was
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("answerCallbackQuery")) == 4, 10, "every tap answered"
    )
    assert await bot.store.run(Store.muted_sources, USER) == ["kyodo"]
    prefs = await bot.store.run(Store.prefs, USER)
    assert prefs is not None and prefs.news_langs == ("ru",)


async def test_a_double_tap_adding_the_last_news_language_keeps_them_all(bot: Bot) -> None:
    """Two taps on "➕ 日本語" of a chat reading en and ru: the first made every language, and
    the second, on "➕" still, read 'add ja' to 'all' as 'ja only': en and ru were lost."""
    await bot.say("/lang en ru")
    await bot.say("/lang")
    langs = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    bot.api.push_callback_query(USER, langs, "nl:^ja")
    bot.api.push_callback_query(USER, langs, "nl:^ja")  # the keyboard as it was
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("answerCallbackQuery")) == 2, 10, "both taps answered"
    )
    prefs = await bot.store.run(Store.prefs, USER)
    assert prefs is not None and prefs.news_langs == ()
    # a tap on "➕ 日本語" of a keyboard drawn with every language (✅ all) narrows to it
    await bot.say("/lang")
    fresh = bot.api.calls_of("sendMessage")[-1].response["result"]["message_id"]
    bot.api.push_callback_query(USER, fresh, "nl:^ja")
    await bot.api.wait_for_async(
        lambda: len(bot.api.calls_of("answerCallbackQuery")) == 3, 10, "the third tap"
    )
    prefs = await bot.store.run(Store.prefs, USER)
    assert prefs is not None and prefs.news_langs == ("ja",)


def _captioned(chat: dict[str, Any], caption: str, message_id: int) -> dict[str, Any]:
    command = caption.split(None, 1)[0]
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": {"id": 6006, "is_bot": False, "first_name": "T", "language_code": "ru"},
        "photo": [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}],
        "caption": caption,
        "caption_entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
    }


async def test_a_command_in_a_caption_is_answered_with_how_to_send_it(bot: Bot) -> None:
    """A photo captioned "/subscribe kuril" got no answer at all: commands are read from
    text messages only, and the sender was not told."""
    private = {"id": 6006, "type": "private", "first_name": "T"}
    bot.api.push_update({"message": _captioned(private, "/subscribe kuril", 1)})
    [answer] = await bot.api.wait_for_messages_async(6006, 1)
    assert "<code>/subscribe kuril</code>" in answer["text"] and "сообщением" in answer["text"]
    assert await bot.store.run(Store.subscriptions, 6006) == []
    # in a group, only a caption naming this bot is ours
    group = {"id": -100777, "type": "supergroup", "title": "G"}
    bot.api.push_update({"message": _captioned(group, "/help", 2)})
    bot.api.push_update({"message": _captioned(group, "/help@other_bot", 3)})
    bot.api.push_update({"message": _captioned(group, "/help@KurilWatch_Test_Bot", 4)})
    await bot.api.wait_for_messages_async(-100777, 1)
    help_text = await bot.say("/help@kurilwatch_test_bot", chat_id=-100777, chat_type="supergroup")
    assert "/help" in help_text
    assert len(bot.api.sent_messages(-100777)) == 2


async def test_a_caption_command_is_quoted_back_without_its_direction_controls(bot: Bot) -> None:
    """The caption came back as written: a right-to-left override in it turned the rest of
    the reply's line around, as a refused argument's did."""
    private = {"id": 6006, "type": "private", "first_name": "T"}
    bot.api.push_update({"message": _captioned(private, f"/subscribe {BIDI}kuril", 1)})
    [answer] = await bot.api.wait_for_messages_async(6006, 1)
    assert BIDI not in answer["text"], answer["text"]
    assert "<code>/subscribe \ufffdkuril</code>" in answer["text"], answer["text"]
