"""Tests of the fake Bot API server, driven by the real python-telegram-bot over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import (
    Bot,
    BotCommand,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.conftest import connections
from tests.fakes.telegram_api import (
    ALLOWED_HTML_TAGS,
    MAX_BODY_BYTES,
    FakeBotAPI,
    HTMLParseError,
    parse_html,
    utf16_len,
)

# PTB 22 warns whenever RetryAfter.retry_after is read as an int, even while building the error.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*`retry_after` will be of type `datetime.timedelta`:telegram.warnings.PTBDeprecationWarning"
)

PRIVATE_CHAT = 4242
GROUP_CHAT = -1001234567890


class FrozenClock:
    """A settable clock for the flood-limit tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI().start()
    yield server
    server.stop()


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, **connections()) as client:
        yield client


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeBotAPI]]:
    """Start fakes with custom options; every one of them is stopped afterwards."""
    started: list[FakeBotAPI] = []

    def factory(**options: Any) -> FakeBotAPI:
        server = FakeBotAPI(**options).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


def api_url(fake: FakeBotAPI, method: str, token: str | None = None) -> str:
    return f"{fake.base_url}{token or fake.token}/{method}"


async def ignore_update(update: Update, context: Any) -> None:
    """A CommandHandler callback for tests that only check whether the handler matches."""


def retry_after_seconds(error: RetryAfter) -> float:
    """PTB 22 gives an int (deprecated, warns) or a timedelta (with PTB_TIMEDELTA=1)."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# --------------------------------------------------------------------------------------------
# Basics


async def test_get_me_round_trip(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456, "kurilwatch_test_bot", True)
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert bot.username == "kurilwatch_test_bot"  # filled in by initialize()'s getMe
    assert [call.status for call in fake.calls_of("getme")] == [200, 200]


async def test_send_message_returns_message_and_is_recorded(fake: FakeBotAPI, bot: Bot) -> None:
    first = await bot.send_message(PRIVATE_CHAT, "<b>Kuril</b> news &amp; views", parse_mode="HTML")
    second = await bot.send_message(PRIVATE_CHAT, "plain")

    assert first.text == "Kuril news & views"
    assert first.entities == (MessageEntity(MessageEntity.BOLD, 0, 5),)
    assert first.chat.id == PRIVATE_CHAT and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.id == fake.bot_id
    assert second.message_id == first.message_id + 1
    sent = fake.sent_messages(PRIVATE_CHAT)
    assert [params["text"] for params in sent] == ["<b>Kuril</b> news &amp; views", "plain"]
    assert sent[0]["chat_id"] == PRIVATE_CHAT
    assert fake.sent_messages(PRIVATE_CHAT + 1) == []


async def test_entities_are_counted_in_utf16_code_units(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE_CHAT, "🏟 <i>Итуруп</i>", parse_mode="HTML")

    assert message.entities == (MessageEntity(MessageEntity.ITALIC, 3, 6),)
    assert message.parse_entity(message.entities[0]) == "Итуруп"


@pytest.mark.parametrize(
    "markup",
    [
        "<foo>bar</foo>",
        "islands < 4",
        "<b>unclosed",
        "<b>crossed</i>",
        "stray</b>",
        "Tom & Jerry",
        "&nbsp;space",
        '<span class="x">no spoiler</span>',
        "<B>fine</B> but <p>not</p>",
    ],
)
async def test_bad_html_raises_bad_request(fake: FakeBotAPI, bot: Bot, markup: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(PRIVATE_CHAT, markup, parse_mode="HTML")

    assert "can't parse entities" in caught.value.message.lower()
    assert fake.sent_messages() == []
    assert fake.calls_of("sendMessage")[-1].status == 400


async def test_same_text_without_parse_mode_is_accepted(bot: Bot) -> None:
    message = await bot.send_message(PRIVATE_CHAT, "islands < 4 & <foo>")

    assert message.text == "islands < 4 & <foo>"


async def test_empty_text_is_rejected(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(PRIVATE_CHAT, "<b></b>", parse_mode="HTML")


async def test_too_long_message_raises_bad_request(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(PRIVATE_CHAT, "x" * 4096)
    await bot.send_message(PRIVATE_CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(PRIVATE_CHAT, "😀" * 2048)

    for text in ("x" * 4097, "😀" * 2049):  # 2049 emoji are 4098 UTF-16 code units
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(PRIVATE_CHAT, text)
    assert len(fake.sent_messages(PRIVATE_CHAT)) == 3


# --------------------------------------------------------------------------------------------
# Injected failures


async def test_fail_retry_after_raises_retry_after(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_retry_after("sendMessage", 7)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(PRIVATE_CHAT, "first")
    await bot.send_message(PRIVATE_CHAT, "second")

    assert retry_after_seconds(caught.value) == 7
    assert [call.status for call in fake.calls_of("sendMessage")] == [429, 200]
    assert fake.calls_of("sendMessage")[0].response["parameters"] == {"retry_after": 7}
    assert [params["text"] for params in fake.sent_messages()] == ["second"]


async def test_fail_next_only_hits_the_given_chat_and_count(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next(
        "SENDMESSAGE", status=500, description="Internal Server Error", chat_id=7, times=2
    )

    await bot.send_message(8, "other chat is fine")
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(7, "fails")
    await bot.send_message(7, "third time works")

    assert [params["chat_id"] for params in fake.sent_messages()] == [8, 7]


async def test_fail_blocked_raises_forbidden_until_unblocked(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_message(PRIVATE_CHAT, "before")
    fake.fail_blocked(PRIVATE_CHAT)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(PRIVATE_CHAT, "hello")
    with pytest.raises(Forbidden):
        await bot.edit_message_text("edited", PRIVATE_CHAT, message.message_id)
    await bot.send_message(PRIVATE_CHAT + 1, "someone else")
    fake.unblock(PRIVATE_CHAT)
    await bot.send_message(PRIVATE_CHAT, "after")

    assert [params["text"] for params in fake.sent_messages(PRIVATE_CHAT)] == ["before", "after"]
    assert fake.calls_of("sendMessage")[1].status == 403


async def test_a_closed_forum_topic_refuses_sends_until_reopened(
    fake: FakeBotAPI, bot: Bot
) -> None:
    fake.close_topic(GROUP_CHAT, 7)
    with pytest.raises(BadRequest, match=r"(?i)topic_closed"):
        await bot.send_message(GROUP_CHAT, "in 7", message_thread_id=7)
    await bot.send_message(GROUP_CHAT, "in General")  # the chat's other topics are open
    fake.close_topic(GROUP_CHAT, None)
    with pytest.raises(BadRequest, match=r"(?i)topic_closed"):
        await bot.send_message(GROUP_CHAT, "in General")
    fake.reopen_topic(GROUP_CHAT, 7)
    await bot.send_message(GROUP_CHAT, "in 7", message_thread_id=7)
    sent = [(p["text"], p.get("message_thread_id")) for p in fake.sent_messages(GROUP_CHAT)]
    assert sent == [("in General", None), ("in 7", 7)]


async def test_migrate_chat_raises_chat_migrated(fake: FakeBotAPI, bot: Bot) -> None:
    fake.migrate_chat(-4001, GROUP_CHAT)

    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-4001, "to the old group")
    message = await bot.send_message(caught.value.new_chat_id, "to the supergroup")

    assert caught.value.new_chat_id == GROUP_CHAT
    assert message.chat.type == "supergroup"
    assert fake.sent_messages(-4001) == []


async def test_a_gateway_page_and_a_reset_connection(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_gateway("sendMessage", status=502)
    with pytest.raises(NetworkError, match=r"Bad Gateway \(502\)"):
        await bot.send_message(PRIVATE_CHAT, "not carried out")
    fake.reset_after_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(PRIVATE_CHAT, "carried out, its answer cut off")
    await bot.send_message(PRIVATE_CHAT, "after")

    texts = [params["text"] for params in fake.sent_messages(PRIVATE_CHAT)]
    assert texts == ["carried out, its answer cut off", "after"]
    assert [call.status for call in fake.calls_of("sendMessage")] == [502, 200, 200]


async def test_wrong_token_raises_invalid_token(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=fake.base_url, **connections()):
            pass

    assert fake.calls[-1].method == "getMe"
    assert fake.calls[-1].status == 401


# --------------------------------------------------------------------------------------------
# Updates


async def test_long_poll_returns_promptly_when_a_message_is_pushed(
    fake: FakeBotAPI, bot: Bot
) -> None:
    def push_once_polling() -> None:
        fake.wait_until_polling(timeout=10)
        fake.push_message(PRIVATE_CHAT, "hello from another thread")

    pusher = threading.Thread(target=push_once_polling)
    pusher.start()
    # the push must end the long poll: a wait bounded well inside its 60 s
    updates = await asyncio.wait_for(bot.get_updates(timeout=60), timeout=30)
    pusher.join(timeout=10)

    assert [update.message.text for update in updates if update.message] == [
        "hello from another thread"
    ]


async def test_long_poll_times_out_with_no_updates(fake: FakeBotAPI, bot: Bot) -> None:
    updates = await asyncio.wait_for(bot.get_updates(timeout=1), timeout=30)

    assert updates == ()
    assert fake.long_polls_timed_out == 1  # it waited out its timeout, not answered at once


async def test_stop_wakes_a_long_poll(fake: FakeBotAPI, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=25))
    await asyncio.to_thread(fake.wait_until_polling)
    await asyncio.to_thread(fake.stop)
    # stopping must answer the long poll: a wait bounded well inside its 25 s
    updates = await asyncio.wait_for(poll, timeout=10)

    assert updates == ()


async def test_offset_confirms_updates(fake: FakeBotAPI, bot: Bot) -> None:
    first = fake.push_message(PRIVATE_CHAT, "one")
    second = fake.push_message(PRIVATE_CHAT, "two")

    both = await bot.get_updates()
    again = await bot.get_updates(limit=1)
    confirmed = await bot.get_updates(offset=second + 1)
    third = fake.push_message(PRIVATE_CHAT, "three")
    latest = await bot.get_updates(offset=second + 1)

    assert [update.update_id for update in both] == [first, second]
    assert [update.update_id for update in again] == [first]
    assert confirmed == ()
    assert [update.update_id for update in latest] == [third]


async def test_pushed_command_has_bot_command_entity(fake: FakeBotAPI, bot: Bot) -> None:
    fake.push_message(PRIVATE_CHAT, "/subscribe kuril", language_code="ru")
    fake.push_message(
        GROUP_CHAT,
        "/subscribe@kurilwatch_test_bot kuril",
        user_id=77,
        chat_type="supergroup",
        chat_title="Kuril watchers",
    )

    private, group = await bot.get_updates()
    handler: CommandHandler[Any, None] = CommandHandler("subscribe", ignore_update)

    assert private.message is not None and group.message is not None
    assert private.message.entities == (MessageEntity(MessageEntity.BOT_COMMAND, 0, 10),)
    assert private.message.parse_entity(private.message.entities[0]) == "/subscribe"
    assert private.effective_user is not None
    assert private.effective_user.id == PRIVATE_CHAT
    assert private.effective_user.language_code == "ru"
    assert group.message.entities[0].length == len("/subscribe@kurilwatch_test_bot")
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert group.effective_chat.title == "Kuril watchers"
    assert group.effective_user is not None and group.effective_user.id == 77
    assert handler.check_update(private)
    assert handler.check_update(group)


async def reply_subscribed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    topic = " ".join(context.args or [])
    await context.bot.send_message(
        update.effective_chat.id, f"Subscribed to <b>{topic}</b>", parse_mode="HTML"
    )


async def test_application_polls_and_command_handler_replies(fake: FakeBotAPI) -> None:
    application = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    application.add_handler(CommandHandler("subscribe", reply_subscribed))
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(timeout=1)
        await application.start()
        fake.push_message(PRIVATE_CHAT, "/subscribe kuril")
        replies = await fake.wait_for_messages_async(PRIVATE_CHAT, 1)
        await application.updater.stop()
        await application.stop()

    assert [reply["text"] for reply in replies] == ["Subscribed to <b>kuril</b>"]
    assert fake.calls_of("deleteWebhook")[0].status == 200
    assert fake.pending_updates == []  # the updater confirmed the update on shutdown


async def test_callback_query_round_trip(fake: FakeBotAPI, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Subscribe", callback_data="sub")]])
    sent = await bot.send_message(PRIVATE_CHAT, "Subscribe?", reply_markup=keyboard)
    fake.push_callback_query(PRIVATE_CHAT, sent.message_id, "sub")

    (update,) = await bot.get_updates()
    query = update.callback_query

    assert sent.reply_markup == keyboard
    assert query is not None and query.data == "sub"
    assert query.from_user.id == PRIVATE_CHAT
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="Done") is True
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await bot.answer_callback_query("no-such-query")


# --------------------------------------------------------------------------------------------
# Editing, photos, chats and commands


async def test_edit_message_text(fake: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(PRIVATE_CHAT, "draft")

    edited = await bot.edit_message_text(
        "<b>final</b>", PRIVATE_CHAT, sent.message_id, parse_mode="HTML"
    )

    assert not isinstance(edited, bool)
    assert edited.message_id == sent.message_id
    assert edited.text == "final" and edited.edit_date is not None
    stored = fake.message(PRIVATE_CHAT, sent.message_id)
    assert stored is not None and stored["text"] == "final"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>final</b>", PRIVATE_CHAT, sent.message_id, parse_mode="HTML"
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", PRIVATE_CHAT, sent.message_id + 100)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.edit_message_text("<b>x", PRIVATE_CHAT, sent.message_id, parse_mode="HTML")


async def test_send_photo_upload_and_url(fake: FakeBotAPI, bot: Bot) -> None:
    image = b"\x89PNG\r\n\x1a\n\x00\xff binary bytes"

    uploaded = await bot.send_photo(
        PRIVATE_CHAT, image, caption="<i>Шикотан</i>", parse_mode="HTML"
    )
    by_url = await bot.send_photo(PRIVATE_CHAT, "https://example.org/kuril.jpg")

    assert uploaded.photo and by_url.photo
    assert uploaded.caption == "Шикотан"
    assert uploaded.caption_entities == (MessageEntity(MessageEntity.ITALIC, 0, 7),)
    assert fake.calls_of("sendPhoto")[0].files["photo"].data == image
    assert fake.calls_of("sendPhoto")[1].params["photo"] == "https://example.org/kuril.jpg"
    [(params, data), (_, url)] = fake.sent_photos(PRIVATE_CHAT)
    assert data == image and params["caption"] == "<i>Шикотан</i>"
    assert url == b"https://example.org/kuril.jpg" and fake.sent_photos(GROUP_CHAT) == []
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(PRIVATE_CHAT, image, caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_photo(PRIVATE_CHAT, image, caption="a <x> b", parse_mode="HTML")


async def test_chat_and_chat_members(fake: FakeBotAPI, bot: Bot) -> None:
    fake.set_admins(GROUP_CHAT, [7], creator=1)

    chat = await bot.get_chat(GROUP_CHAT)
    owner = await bot.get_chat_member(GROUP_CHAT, 1)
    admin = await bot.get_chat_member(GROUP_CHAT, 7)
    member = await bot.get_chat_member(GROUP_CHAT, 8)
    admins = await bot.get_chat_administrators(GROUP_CHAT)

    assert isinstance(chat, ChatFullInfo) and chat.type == "supergroup"
    assert isinstance(owner, ChatMemberOwner) and owner.user.id == 1
    assert isinstance(admin, ChatMemberAdministrator) and admin.user.id == 7
    assert isinstance(member, ChatMemberMember) and member.user.id == 8
    assert [m.user.id for m in admins] == [1, 7]


async def test_bot_commands_round_trip(bot: Bot) -> None:
    commands = [BotCommand("subscribe", "Subscribe to alerts"), BotCommand("stop", "Stop")]

    assert await bot.set_my_commands(commands) is True
    assert await bot.get_my_commands() == tuple(commands)
    assert await bot.get_my_commands(language_code="ru") == ()
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Subscribe", "upper case is invalid")])


# --------------------------------------------------------------------------------------------
# Raw HTTP: body encodings and HTTP-level errors


def test_form_encoded_body_is_decoded(fake: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
    response = httpx.post(
        api_url(fake, "sendMessage"),
        data={"chat_id": "-100500", "text": "form", "reply_markup": json.dumps(markup)},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["result"]["reply_markup"] == markup
    params = fake.calls_of("sendMessage")[0].params
    assert params == {"chat_id": -100500, "text": "form", "reply_markup": markup}


def test_json_body_is_decoded(fake: FakeBotAPI) -> None:
    response = httpx.post(
        api_url(fake, "sendMessage"),
        json={"chat_id": 5, "text": "json", "link_preview_options": {"is_disabled": True}},
    )

    assert response.status_code == 200
    assert response.json()["result"]["text"] == "json"
    assert fake.calls_of("sendMessage")[0].params["link_preview_options"] == {"is_disabled": True}


def test_query_string_and_multipart_bodies(fake: FakeBotAPI) -> None:
    by_query = httpx.get(api_url(fake, "sendMessage"), params={"chat_id": "9", "text": "query"})
    multipart = httpx.post(
        api_url(fake, "sendPhoto"),
        data={"chat_id": "9", "caption": "Кунашир"},
        files={"photo": ("kuril.jpg", b"\xff\xd8\xff jpeg", "image/jpeg")},
    )

    assert by_query.json()["result"]["text"] == "query"
    assert multipart.json()["result"]["caption"] == "Кунашир"
    upload = fake.calls_of("sendPhoto")[0].files["photo"]
    assert (upload.filename, upload.content_type, upload.data) == (
        "kuril.jpg",
        "image/jpeg",
        b"\xff\xd8\xff jpeg",
    )


def test_method_names_are_case_insensitive(fake: FakeBotAPI) -> None:
    response = httpx.post(api_url(fake, "SENDMESSAGE"), json={"chat_id": 1, "text": "hi"})

    assert response.status_code == 200
    assert fake.calls[-1].method == "sendMessage"


@pytest.mark.parametrize(
    ("method", "token", "status", "description"),
    [
        ("getMe", "999:WRONG", 401, "Unauthorized"),
        ("noSuchMethod", None, 404, "Not Found"),
    ],
)
def test_http_errors_use_real_status_codes(
    fake: FakeBotAPI, method: str, token: str | None, status: int, description: str
) -> None:
    response = httpx.post(api_url(fake, method, token))

    assert response.status_code == status
    assert response.json() == {"ok": False, "error_code": status, "description": description}


def test_oversized_body_gets_413(fake: FakeBotAPI) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    response = httpx.post(
        api_url(fake, "sendMessage"),
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )

    assert response.status_code == 413
    assert fake.calls[-1].status == 413


# --------------------------------------------------------------------------------------------
# Flood limits


async def test_limits_are_off_by_default(fake: FakeBotAPI, bot: Bot) -> None:
    for number in range(6):
        await bot.send_message(PRIVATE_CHAT, f"burst {number}")

    assert len(fake.sent_messages(PRIVATE_CHAT)) == 6


async def test_enforce_limits_private_chat_burst(make_fake: Callable[..., FakeBotAPI]) -> None:
    fake = make_fake(enforce_limits=True)
    async with Bot(fake.token, base_url=fake.base_url, **connections()) as bot:
        for number in range(3):
            await bot.send_message(PRIVATE_CHAT, f"burst {number}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(PRIVATE_CHAT, "one too many")
        await bot.send_message(PRIVATE_CHAT + 1, "another chat is not limited")

    assert retry_after_seconds(caught.value) == 1
    assert len(fake.sent_messages(PRIVATE_CHAT)) == 3


async def test_enforce_limits_refills_with_time(make_fake: Callable[..., FakeBotAPI]) -> None:
    clock = FrozenClock()
    fake = make_fake(enforce_limits=True, clock=clock)
    async with Bot(fake.token, base_url=fake.base_url, **connections()) as bot:
        for _ in range(3):
            await bot.send_message(PRIVATE_CHAT, "burst")
        with pytest.raises(RetryAfter):
            await bot.send_message(PRIVATE_CHAT, "too soon")
        clock.now += 1.0
        await bot.send_message(PRIVATE_CHAT, "after a second")

    assert len(fake.sent_messages(PRIVATE_CHAT)) == 4


async def test_enforce_limits_group_per_minute(make_fake: Callable[..., FakeBotAPI]) -> None:
    clock = FrozenClock()
    fake = make_fake(enforce_limits=True, clock=clock)
    async with Bot(fake.token, base_url=fake.base_url, **connections()) as bot:
        for number in range(20):
            await bot.send_message(GROUP_CHAT, f"group {number}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(GROUP_CHAT, "21st")

    assert retry_after_seconds(caught.value) == 60


async def test_enforce_limits_global_per_second(make_fake: Callable[..., FakeBotAPI]) -> None:
    fake = make_fake(enforce_limits=True, clock=FrozenClock())
    async with Bot(fake.token, base_url=fake.base_url, **connections()) as bot:
        for chat_id in range(1, 31):
            await bot.send_message(chat_id, "broadcast")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(31, "31st in one second")

    assert retry_after_seconds(caught.value) == 1
    assert len(fake.sent_messages()) == 30


# --------------------------------------------------------------------------------------------
# Waiting helpers


async def test_wait_for_messages_sees_a_concurrent_send(fake: FakeBotAPI, bot: Bot) -> None:
    sending = asyncio.create_task(bot.send_message(PRIVATE_CHAT, "async alert"))

    messages = await fake.wait_for_messages_async(PRIVATE_CHAT, 1, timeout=10)
    await sending

    assert [params["text"] for params in messages] == ["async alert"]


def test_wait_for_times_out_with_assertion_error(fake: FakeBotAPI) -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0\.2s waiting for nothing"):
        fake.wait_for(lambda: False, timeout=0.2, what="nothing")


def test_stop_is_idempotent(fake: FakeBotAPI) -> None:
    fake.stop()
    fake.stop()

    with pytest.raises(httpx.ConnectError):
        httpx.post(api_url(fake, "getMe"))


# --------------------------------------------------------------------------------------------
# The HTML validator itself


@pytest.mark.parametrize(
    ("markup", "reason"),
    [  # reasons as Telegram (TDLib) words them; 🏟 is 4 UTF-8 bytes
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
        ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba>", 'Can\'t find end tag corresponding to start tag "i"'),
        ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
        ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
        ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        (
            "🏟 🏟&lt;<i>a</em   >",
            'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
        ),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="x">y</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("&#xDFDF;", "Text contains invalid Unicode characters after decoding HTML entities"),
        ("R&D", 'Unescaped "&"'),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
    ],
)
def test_parse_html_reasons_match_telegram(markup: str, reason: str) -> None:
    with pytest.raises(HTMLParseError) as caught:
        parse_html(markup)

    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("<b>a</b><i>b</i>", "ab", [("bold", 0, 1), ("italic", 1, 1)]),
        ('<a href="https://t.me/x?a=1&b=2">l</a>', "l", [("text_link", 0, 1)]),
        ('<pre><code class="language-python">x</code></pre>', "x", [("pre", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st", [
            ("spoiler", 0, 1),
            ("spoiler", 1, 1),
        ]),
        ("&lt;&gt;&amp;&quot;&#39;&#x41;", "<>&\"'A", []),
        ("<b></b>x", "x", []),
    ],
)  # fmt: skip
def test_parse_html_builds_entities(
    markup: str, text: str, entities: list[tuple[str, int, int]]
) -> None:
    parsed = parse_html(markup)

    assert parsed.text == text
    assert [(e["type"], e["offset"], e["length"]) for e in parsed.entities] == entities


def test_lenient_entities_match_real_telegram() -> None:
    assert parse_html("R&D &nbsp;", strict_entities=False).text == "R&D &nbsp;"


@given(st.text())
def test_escaped_text_is_always_accepted(text: str) -> None:
    parsed = parse_html(html.escape(text))

    assert parsed.text == text
    assert parsed.entities == []


_UNKNOWN_TAG_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,9}", fullmatch=True).filter(
    lambda name: name.lower() not in ALLOWED_HTML_TAGS
)


@given(
    before=st.text(),
    name=_UNKNOWN_TAG_NAMES,
    closer=st.sampled_from([">", " ", ' href="x">', "\n>"]),
    after=st.text(),
)
def test_unknown_tags_are_rejected(before: str, name: str, closer: str, after: str) -> None:
    prefix = html.escape(before)
    markup = f"{prefix}<{name}{closer}{html.escape(after)}"
    offset = len(prefix.encode("utf-8"))

    with pytest.raises(HTMLParseError) as caught:
        parse_html(markup)

    assert str(caught.value) == f'Unsupported start tag "{name.lower()}" at byte offset {offset}'


_SIMPLE_TAGS = st.sampled_from(["b", "strong", "i", "em", "u", "ins", "s", "strike", "del"])
_MARKUP_TREES = st.recursive(
    st.text(max_size=5),
    lambda children: st.tuples(_SIMPLE_TAGS, st.lists(children, max_size=3)),
    max_leaves=12,
)


def _render(tree: Any) -> tuple[str, str]:
    """(markup, visible text) for a tree of escaped text leaves and (tag, children) nodes."""
    if isinstance(tree, str):
        return html.escape(tree), tree
    tag, children = tree
    rendered = [_render(child) for child in children]
    inner_markup = "".join(markup for markup, _ in rendered)
    return f"<{tag}>{inner_markup}</{tag}>", "".join(text for _, text in rendered)


@given(_MARKUP_TREES)
def test_nested_markup_keeps_text_and_entity_bounds(tree: Any) -> None:
    markup, text = _render(tree)

    parsed = parse_html(markup)

    assert parsed.text == text
    for entity in parsed.entities:
        assert entity["length"] > 0
        assert entity["offset"] + entity["length"] <= utf16_len(text)


def test_update_objects_parse_in_ptb(fake: FakeBotAPI) -> None:
    update_id = fake.push_message(PRIVATE_CHAT, "plain text")

    (raw,) = fake.pending_updates
    update = Update.de_json(raw, None)

    assert update.update_id == update_id
    assert update.message is not None and update.message.text == "plain text"
    assert update.message.entities == ()
