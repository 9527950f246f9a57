"""Issue 23: hostile numbers, configs, lines and commands are refused in words, never raised.

Pure parsers and policies get huge, negative, non-ASCII-digit and non-finite inputs
(hypothesis); the command line and the bot are driven for real. The daemon end to end is in
tests/test_hostile_daemon.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Chat, Message, Update, User

from bot.config import Config, ConfigError, parse_config
from bot.telegram.chat import BotContext, install
from bot.telegram.guards import addressed_to_us, broadcast_text, command_target
from bot.telegram.updates import PerChatUpdates, build_application
from store import AsyncStore, Store, Watch
from store.search import search_error
from tests.conftest import (
    TOKEN,
    Clock,
    cli,
    connections,
    kurilwatch,
    new_store,
    running,
    shipped_topics,
)
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from tests.fakes.telegram_api import FakeBotAPI
from watchers import bounded, poll_timing
from watchers.config import FeedConfig, PollConfig, parse_duration
from watchers.fetch import Fetcher, FetchLimits, FetchResult
from watchers.items import Item, make_item, newest
from watchers.parse import parse_feed
from watchers.poll import Poller
from watchers.topics.compile import compile_topics
from watchers.topics.query import MAX_DEPTH, QueryError, parse

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
THIRTY = "9" * 30
HOSTILE_DIGITS = st.one_of(
    st.text(alphabet="0123456789", min_size=1, max_size=60),
    st.text(alphabet="²³¹①⑳٣۷߁๙0123456789", min_size=1, max_size=10),  # isdigit, not ASCII
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["inf", "nan", "-1", "1e999", " 12 ", "", "0x10", "1_000", "９"]),
    st.text(max_size=30),
)


# -- 1: numbers from headers and feeds --------------------------------------------------------


@given(HOSTILE_DIGITS)
def test_header_seconds_and_ttl_clamp_or_refuse(text: str) -> None:
    seconds = bounded.header_seconds(text)
    assert seconds is None or 0 <= seconds <= bounded.MAX_HINT_SECONDS
    minutes = bounded.ttl_minutes(text)
    assert minutes is None or 0 <= minutes <= bounded.MAX_HINT_SECONDS // 60
    if seconds is not None:
        assert text.strip().isascii()


@given(HOSTILE_DIGITS, HOSTILE_DIGITS, st.integers(min_value=-(10**40), max_value=10**40))
def test_cache_lifetime_and_retry_after_never_raise(max_age: str, retry: str, ttl: int) -> None:
    headers = {"cache-control": f"max-age={max_age}", "retry-after": retry}
    life = poll_timing.cache_lifetime(headers, NOW, ttl)
    assert life is None or timedelta(0) < life <= timedelta(seconds=bounded.MAX_HINT_SECONDS)
    wait = poll_timing.retry_after(headers, NOW)
    assert wait is None or timedelta(0) <= wait <= poll_timing.MAX_RETRY_AFTER


def test_a_thirty_digit_hint_is_clamped_not_raised() -> None:
    assert poll_timing.cache_lifetime({"cache-control": f"max-age={THIRTY}"}, NOW) == timedelta(
        days=365
    )
    assert poll_timing.retry_after({"retry-after": THIRTY}, NOW) == poll_timing.MAX_RETRY_AFTER
    assert poll_timing.retry_after({"retry-after": "²"}, NOW) is None
    assert poll_timing.cache_lifetime({}, NOW, ttl_minutes=10**30) == timedelta(days=365)


@given(
    st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=3650)),
    st.integers(min_value=-5, max_value=10**6),
)
def test_backoff_never_overflows(interval: timedelta, errors: int) -> None:
    wait = poll_timing.after_error(interval=interval, max_backoff=timedelta(hours=6), errors=errors)
    assert wait <= timedelta(hours=6) * 1.2


@pytest.mark.parametrize("ttl", [THIRTY, "²", "-5", "1e9"])
def test_a_feed_ttl_of_any_shape_parses(ttl: str) -> None:
    body = rss([FeedEntry("Kuril news", "https://n.example/1", guid="1")]).replace(
        b"<channel>", f"<channel><ttl>{ttl}</ttl>".encode(), 1
    )
    parsed = parse_feed(body, feed_id="f", url="https://n.example/feed")
    assert parsed.error is None and len(parsed.items) == 1
    assert parsed.ttl in (None, bounded.MAX_HINT_SECONDS // 60)


# -- 2: durations and configs ------------------------------------------------------------------


@given(
    st.one_of(
        HOSTILE_DIGITS,
        HOSTILE_DIGITS.map(lambda t: t + "d"),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**40), max_value=10**40),
    )
)
def test_parse_duration_returns_a_bounded_span_or_a_value_error(value: Any) -> None:
    try:
        span = parse_duration(value)
    except ValueError as exc:
        assert str(exc)
        return
    assert timedelta(0) < span <= timedelta(seconds=bounded.MAX_DURATION_SECONDS)


@given(st.text(max_size=12), st.integers(min_value=0, max_value=100))
def test_count_is_ascii_digits_in_range(text: str, high: int) -> None:
    try:
        value = bounded.count(text, low=1, high=high)
    except bounded.OutOfRange:
        assert text.strip().isascii() and text.strip().isdigit()
        return
    except ValueError:
        assert not (text.strip().isascii() and text.strip().isdigit())
        return
    assert 1 <= value <= high


def _config(**parts: Any) -> str:
    config: dict[str, Any] = {"topics": {"t": {"title": "T", "query": "kuril"}}, **parts}
    return yaml.safe_dump(config)


HOSTILE_CONFIGS = {
    "interval": (
        _config(feeds=[{"id": "a", "url": "http://x.example/", "interval": THIRTY}]),
        "feeds[0].interval",
    ),
    "deep query": (
        _config(topics={"t": {"title": "T", "query": "(" * 5000 + "a" + ")" * 5000}}),
        "topics.t.query",
    ),
    "retention": (_config(store={"retention": "9999999999d"}), "store.retention"),
    "duplicate keys": (
        "store:\n  path: a.db\ntopics:\n  t: {title: T, query: kuril}\nstore:\n  path: b.db\n",
        "key 'store' is written twice",
    ),
    "infinite rate": (_config(delivery={"per_second": float("inf")}), "delivery.per_second"),
    "port": (_config(metrics={"listen": "127.0.0.1:99999"}), "metrics.listen"),
    "deep yaml": ("x: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
}


@pytest.mark.parametrize("name", HOSTILE_CONFIGS)
def test_a_hostile_config_is_one_config_error_naming_its_key(name: str) -> None:
    text, where = HOSTILE_CONFIGS[name]
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert len(raised.value.problems) == 1 and where in raised.value.problems[0]


def test_duplicate_keys_name_the_key_and_its_line() -> None:
    text = "topics:\n  t: {title: T, query: kuril}\n  t: {title: U, query: peace}\n"
    with pytest.raises(ConfigError, match=r"line 3, column 3: .*key 't' is written twice"):
        parse_config(text)


@pytest.mark.parametrize("name", ["interval", "deep query", "retention", "duplicate keys"])
def test_check_on_a_hostile_config_exits_2_with_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(HOSTILE_CONFIGS[name][0])
    # one as a process, the others through the function the command line calls
    done = (kurilwatch if name == "interval" else cli)("check", "--config", str(path))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("kurilwatch: ")


@given(st.text(max_size=60))
@settings(max_examples=300)
def test_the_query_parser_returns_a_tree_or_a_query_error(query: str) -> None:
    with contextlib.suppress(QueryError):
        parse(query)


@pytest.mark.parametrize(
    "query",
    [
        "(" * 5000 + "a" + ")" * 5000,
        "title:" * 5000 + "a",
        "a " + "-(" * 3000 + "b" + ")" * 3000,
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
    ],
)
def test_nesting_is_bounded_with_a_clear_error(query: str) -> None:
    with pytest.raises(QueryError, match="nested more than"):
        parse(query)
    parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH)


@pytest.mark.parametrize("near", ["NEAR/-1", "NEAR/0", "NEAR/²", "NEAR/51", f"NEAR/{THIRTY}"])
def test_a_bad_near_distance_is_an_error_not_a_phrase(near: str) -> None:
    with pytest.raises(QueryError, match="NEAR/n takes n from 1 to 50"):
        parse(f"kuril {near} islands")


# -- 9: kurilwatch match -----------------------------------------------------------------------


@pytest.fixture
def match_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(_config(store={"path": str(tmp_path / "kw.db")}))
    return path


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"id": ' + "[" * 100_000 + "]" * 100_000 + ', "title": "x"}', "nested too deeply"),
        ('{"id": 1e999, "title": "kuril"}', "1e999 is too large a number"),
        ('{"id": NaN, "title": "kuril"}', "NaN is not a JSON number"),
        ('{"id": Infinity, "title": "kuril"}', "Infinity is not a JSON number"),
        ('{"id": ' + "9" * 5000 + ', "title": "kuril"}', "not valid JSON here"),
    ],
)
def test_match_refuses_a_hostile_line_in_one_line(match_config: Path, line: str, why: str) -> None:
    done = cli("match", "--config", str(match_config), stdin=line + "\n")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()] and why in done.stderr


def test_match_echoes_a_lone_surrogate_id_as_valid_json(match_config: Path) -> None:
    done = kurilwatch(
        "match", "--config", str(match_config), stdin='{"id": "a\\ud800", "title": "Kuril"}\n'
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"id": "a\\ud800", "topics": ["t"]}\n'
    assert json.loads(done.stdout)["id"] == "a\ud800"


def test_match_cuts_each_field_before_normalising(match_config: Path) -> None:
    line = json.dumps({"id": 1, "title": "Kuril " + "ﷺ" * 3_000_000}, ensure_ascii=False)
    done = cli("match", "--config", str(match_config), stdin=line + "\n")
    assert done.returncode == 0 and json.loads(done.stdout) == {"id": 1, "topics": ["t"]}


# -- 10: long feeds ----------------------------------------------------------------------------


def _item(n: int, published: datetime | None) -> Item:
    made = make_item(
        feed_id="f",
        guid=str(n),
        link=None,
        title=f"t{n}",
        summary="",
        published=published,
        lang=None,
    )
    assert made is not None
    return made


def test_an_oldest_first_feed_longer_than_the_cap_keeps_its_newest_entries() -> None:
    entries = [
        FeedEntry(f"Story {n}", f"https://n.example/{n}", guid=str(n), published=NOW + n * MINUTE)
        for n in range(1500)
    ]  # oldest first: the newest is last
    parsed = parse_feed(rss(entries), feed_id="f", url="https://n.example/feed")
    guids = [item.guid for item in parsed.items]
    assert len(guids) == 1000 and guids[-1] == "1499" and "499" not in guids


MINUTE = timedelta(minutes=1)


@given(st.lists(st.one_of(st.none(), st.integers(0, 50)), max_size=40), st.integers(1, 30))
def test_newest_keeps_the_latest_dated_in_feed_order(minutes: list[int | None], limit: int) -> None:
    items = [_item(n, None if m is None else NOW + m * MINUTE) for n, m in enumerate(minutes)]
    kept = newest(items, limit)
    assert len(kept) == min(limit, len(items))
    assert [items.index(i) for i in kept] == sorted(items.index(i) for i in kept)
    oldest = datetime.min.replace(tzinfo=UTC)
    dropped = [i for i in items if i not in kept]
    if dropped and kept:
        assert max(i.published or oldest for i in dropped) <= min(
            i.published or oldest for i in kept
        )


# -- 1: one feed's exception is that feed's error -------------------------------------------


class ExplodingFetcher(Fetcher):
    """A real fetcher, except that one URL raises what no fetch is meant to."""

    def __init__(self, bad: str, limits: FetchLimits) -> None:
        super().__init__(limits)
        self.bad = bad

    async def fetch(self, url: str, **kwargs: Any) -> FetchResult:
        if url == self.bad:
            raise RuntimeError("a bug nobody foresaw")
        return await super().fetch(url, **kwargs)


async def test_an_unexpected_exception_is_stored_on_its_feed_and_backs_off(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/good.xml", rss([FeedEntry("Kuril", "https://n.example/1", guid="1")]))
    good = FeedConfig(id="good", url=feed_server.url("/good.xml"))  # type: ignore[arg-type]
    bad = FeedConfig(id="bad", url=feed_server.url("/bad.xml"))  # type: ignore[arg-type]
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    topics = compile_topics(Config.model_validate({"topics": shipped_topics()}).topics)
    poll_settings = PollConfig(interval=timedelta(minutes=5))
    try:
        async with ExplodingFetcher(str(bad.url), FetchLimits(timeout=5.0)) as fetcher:
            poller = Poller(
                store=store,
                fetcher=fetcher,
                topics=topics,
                settings=poll_settings,
                clock=lambda: NOW,
            )
            first, other = await poller.poll(bad), await poller.poll(good)
            second = await poller.poll(bad)
            await poller.aclose()
    finally:
        state = await store.run(Store.feed_state, "bad")
        good_state = await store.run(Store.feed_state, "good")
        await store.close()
    assert first.outcome == "error" and "RuntimeError: a bug nobody foresaw" in (first.error or "")
    assert other.outcome == "primed"
    assert state is not None and state.consecutive_errors == 2
    assert "a bug nobody foresaw" in (state.last_error or "")
    assert first.next_poll_at is not None and second.next_poll_at is not None
    assert second.next_poll_at - NOW > first.next_poll_at - NOW  # backed off like any error
    assert good_state is not None and good_state.consecutive_errors == 0


def test_poll_once_and_check_online_go_on_past_a_thirty_digit_feed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/good.xml", rss([FeedEntry("Kuril", "https://n.example/1", guid="1")]))
    body = rss([FeedEntry("Kuril 2", "https://n.example/2", guid="2")])
    feed_server.set_route(
        "/huge.xml",
        Route(
            body=body.replace(b"<channel>", f"<channel><ttl>{THIRTY}</ttl>".encode(), 1),
            headers={"Cache-Control": f"max-age={THIRTY}"},
        ),
    )
    feed_server.set_route(
        "/busy.xml", Route(status=503, headers={"Retry-After": THIRTY}, body=b"busy")
    )
    path = tmp_path / "config.yaml"
    path.write_text(
        _config(
            store={"path": str(tmp_path / "kw.db")},
            feeds=[
                {"id": "huge", "url": feed_server.url("/huge.xml")},
                {"id": "busy", "url": feed_server.url("/busy.xml")},
                {"id": "good", "url": feed_server.url("/good.xml")},
            ],
        )
    )
    done = cli("poll", "--once", "--config", str(path))
    assert "Traceback" not in done.stderr, done.stderr
    assert "huge: primed (HTTP 200)" in done.stdout and "good: primed (HTTP 200)" in done.stdout
    assert "busy: error: HTTP 503 Service Unavailable" in done.stdout
    with sqlite3.connect(tmp_path / "kw.db") as db:
        assert db.execute("SELECT count(*) FROM items").fetchone() == (2,)
    checked = cli("check", "--online", "--config", str(path))
    assert "Traceback" not in checked.stderr, checked.stderr
    assert "huge: ok, HTTP 200, 1 entry" in checked.stdout
    assert "busy: FAILED" in checked.stdout and checked.returncode == 1
    listed = cli("feeds", "--config", str(path))
    assert "busy" in listed.stdout and "failing" in listed.stdout


# -- 4-8, 10: the bot ------------------------------------------------------------------------

USER, ADMIN, GROUP, MEMBER = 5005, 9009, -100777, 6006


@dataclass
class Bot:
    store: AsyncStore
    api: FakeBotAPI

    async def say(self, text: str, chat_id: int = USER, **kwargs: Any) -> str:
        count = len(self.api.sent_messages(chat_id))
        self.api.push_message(chat_id, text, **kwargs)
        replies = await self.api.wait_for_messages_async(chat_id, count + 1)
        return str(replies[count]["text"])

    def push_edit(self, chat_id: int, text: str) -> None:
        """An edited_message update, as Telegram sends when a sent command is edited."""
        command = text.split(None, 1)[0]
        self.api.push_update(
            {
                "edited_message": {
                    "message_id": 77,
                    "date": int(NOW.timestamp()),
                    "edit_date": int(NOW.timestamp()) + 5,
                    "chat": {"id": chat_id, "type": "private", "first_name": "T"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": "T"},
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
                }
            }
        )


async def hostile_bot(
    tmp_path: Path, bot_api: FakeBotAPI, feeds: Sequence[tuple[str, str]] = ()
) -> AsyncIterator[Bot]:
    """The bot's handlers on a store, talking to the fake Bot API (`feeds` as /sources lists
    them)."""
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()

    async def recompile(added: Watch | None, removed: Watch | None) -> None:
        pass

    app = build_application(settings, TOKEN)
    install(
        app,
        BotContext(
            store=store,
            topics=compile_topics(settings.topics).topics,
            clock=Clock(NOW),
            admins=frozenset({ADMIN}),
            max_watches=3,
            watches_changed=recompile,
            wake=lambda: None,
            feeds=feeds,
        ),
    )
    async with running(app):
        yield Bot(store, bot_api)
    await store.close()


@pytest.fixture
async def bot(tmp_path: Path, bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    async for running_bot in hostile_bot(tmp_path, bot_api):
        yield running_bot


async def test_arguments_with_non_ascii_digits_or_huge_numbers_get_plain_answers(
    bot: Bot,
) -> None:
    # NFKC makes ² and ① the digits they stand for (as it makes a Japanese ２ one)
    assert "No stories yet" in await bot.say("/latest ²")
    assert "Ask for 1 to 20" in await bot.say(f"/latest {THIRTY}")
    assert "no watch number 2" in await bot.say("/unwatch ²")
    assert "no watch number 1" in await bot.say("/unwatch ①")
    assert "no watch number" in await bot.say(f"/unwatch {THIRTY}")
    for span in ("99999999999999999999d", f"{THIRTY}", "9" * 400 + "h"):
        assert "between 1 minute and 30 days" in await bot.say(f"/mute {span}")
    assert not any("Sorry" in m["text"] for m in bot.api.sent_messages(USER))


async def test_an_edited_broadcast_is_not_sent_again_and_keeps_its_lines(bot: Bot) -> None:
    await bot.say("/start")
    text = "Scheduled maintenance tonight\nfrom 22:00 to 23:00"
    assert "Queued for 1 chat;" in await bot.say(f"/broadcast\n{text}", chat_id=ADMIN)
    bot.push_edit(ADMIN, f"/broadcast\n{text} (edited)")
    bot.push_edit(ADMIN, "/start")
    assert "/help" in await bot.say("/help", chat_id=ADMIN)  # after the edits, in order
    replies = [m["text"] for m in bot.api.sent_messages(ADMIN)]
    assert sum("Queued for" in r for r in replies) == 1 and len(replies) == 2
    notices = await bot.store.run(
        lambda s: [r["text"] for r in s.db.query("SELECT text FROM notices")]
    )
    assert notices == [text]


async def test_in_groups_other_bots_and_unknown_commands_are_left_alone(bot: Bot) -> None:
    bot.api.set_admins(GROUP, [ADMIN])
    for text in ("/help@other_bot", "/weather", "/weather@other_bot now"):
        bot.api.push_message(GROUP, text, chat_type="supergroup", user_id=MEMBER)
    assert "/help" in await bot.say("/help", chat_id=GROUP, chat_type="supergroup", user_id=MEMBER)
    assert len(bot.api.sent_messages(GROUP)) == 1
    assert "don't know" in await bot.say("/weather")  # in a private chat it is answered


async def test_a_non_admin_start_does_not_restart_a_stopped_group(bot: Bot) -> None:
    bot.api.set_admins(GROUP, [ADMIN])
    group = {"chat_id": GROUP, "chat_type": "supergroup"}
    await bot.say("/start", user_id=ADMIN, **group)
    await bot.say("/stop", user_id=ADMIN, **group)
    assert "only its admins" in await bot.say("/start", user_id=MEMBER, **group)
    assert await bot.store.run(Store.subscriber, GROUP) is None  # /stop forgot it; still so
    await bot.store.run(Store.upsert_subscriber, GROUP, now=NOW, chat_type="supergroup")
    await bot.store.run(Store.deactivate_chat, GROUP, "the bot was removed", now=NOW)
    assert "only its admins" in await bot.say("/start", user_id=MEMBER, **group)
    subscriber = await bot.store.run(Store.subscriber, GROUP)
    assert subscriber is not None and not subscriber.active
    await bot.say("/start", user_id=ADMIN, **group)
    subscriber = await bot.store.run(Store.subscriber, GROUP)
    assert subscriber is not None and subscriber.active


async def test_unknown_button_data_is_answered(bot: Bot) -> None:
    bot.api.push_callback_query(USER, 1, "forged:data")
    [call] = await asyncio_wait_calls(bot.api, "answerCallbackQuery")
    assert "no longer in use" in call.params["text"]


async def asyncio_wait_calls(api: FakeBotAPI, method: str) -> list[Any]:
    import asyncio

    return await asyncio.to_thread(api.wait_for_calls, method, 1)


async def test_search_errors_are_said_in_words(bot: Bot) -> None:
    for query, words in [
        ("col: x", "'col' reads as a field name"),
        ("a <b", '"&lt;" cannot stand there'),
        ('"open', "double quote is not closed"),
    ]:
        answer = await bot.say(f"/search {query}")
        assert words in answer and "no such column" not in answer and "syntax error" not in answer


# -- pure guards -------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=80))
def test_broadcast_text_is_everything_after_the_command(body: str) -> None:
    for separator in (" ", "\n", "\n\n", "\t"):
        assert broadcast_text(f"/broadcast{separator}{body}") == body.strip()


def test_which_commands_are_ours() -> None:
    assert command_target("/help@other_bot x") == "other_bot"
    assert command_target("/help") is None
    assert addressed_to_us("/weather@KurilBot", "supergroup", "kurilbot")
    assert not addressed_to_us("/weather@other_bot", "private", "kurilbot")
    assert not addressed_to_us("/weather", "group", "kurilbot")
    assert addressed_to_us("/weather", "private", "kurilbot")


@pytest.mark.parametrize(
    "reason",
    ["no such column: col", 'fts5: syntax error near "<"', "unterminated string", "odd"],
)
def test_search_problems_never_show_sqlite_words(reason: str) -> None:
    said = str(search_error("x", reason))
    assert (
        said.startswith("cannot search for 'x': ")
        and "fts5" not in said
        and "no such column" not in said
    )
    assert "syntax error" not in said


# -- 10: a burst of alerts for one chat is one digest -----------------------------------------


async def test_a_burst_of_alerts_for_one_chat_becomes_one_digest(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    from telegram import Bot as TelegramBot

    from bot.delivery.limits import DeliverySettings, Limits
    from bot.delivery.worker import DeliveryWorker
    from store import FeedState, ItemRecord

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    await store.run(Store.upsert_subscriber, USER, now=NOW - MINUTE)
    await store.run(Store.subscribe, USER, "kuril", now=NOW - MINUTE)
    await store.run(Store.upsert_subscriber, ADMIN, now=NOW - MINUTE)
    await store.run(Store.subscribe, ADMIN, "kuril", now=NOW - MINUTE)
    records = [
        ItemRecord(
            guid=str(n),
            link=f"https://n.example/{n}",
            canonical_url=f"https://n.example/{n}",
            title=f"Kuril story number {n}",
            summary="",
            published_at=NOW,
            topics=("kuril",),
        )
        for n in range(30)
    ]
    await store.run(Store.ingest, FeedState(id="f", url="u"), records, now=NOW, alert=True)
    fast = Limits(per_second=1000, private_per_second=1000, private_burst=10, group_per_minute=1e4)
    try:
        async with TelegramBot(TOKEN, base_url=bot_api.base_url, **connections()) as telegram:
            worker = DeliveryWorker(
                store,
                telegram,
                settings=DeliverySettings(limits=fast, burst_digest=10),
                clock=Clock(NOW),
            )
            while await worker.send_due():
                await worker.drain()
    finally:
        states = await store.run(
            lambda s: [r["state"] for r in s.db.query("SELECT state FROM outbox")]
        )
        await store.close()
    assert states == ["sent"] * 60
    for chat in (USER, ADMIN):
        messages = [m["text"] for m in bot_api.sent_messages(chat)]
        assert len(messages) == 1 and "30 stories" in messages[0], messages
        assert "Kuril story number 0" in messages[0] and "Kuril story number 29" in messages[0]


# -- 3: a slow command of one chat holds up no other -------------------------------------------


async def test_a_slow_watch_holds_up_no_other_chat_and_its_own_chat_stays_in_order(
    tmp_path: Path, bot_api: FakeBotAPI
) -> None:
    import asyncio

    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    gate = asyncio.Event()

    async def slow_recompile(added: Watch | None, removed: Watch | None) -> None:
        await gate.wait()  # a change of the watches that takes as long as the test wants

    app = build_application(settings, TOKEN)
    install(
        app,
        BotContext(
            store=store,
            topics=compile_topics(settings.topics).topics,
            clock=Clock(NOW),
            max_watches=3,
            watches_changed=slow_recompile,
            wake=lambda: None,
        ),
    )
    async with running(app):
        bot_api.push_message(USER, "/watch Habomai")
        bot_api.push_message(USER, "/watches")
        bot_api.push_message(ADMIN, "/help")
        [answer] = await bot_api.wait_for_messages_async(ADMIN, 1)
        assert "/help" in answer["text"]
        assert bot_api.sent_messages(USER) == []  # still in /watch; /watches waits behind it
        gate.set()
        watch, watches = await bot_api.wait_for_messages_async(USER, 2)
        assert "Habomai" in watch["text"] and "1." in watches["text"]
    await store.close()


def _command(number: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    text = f"/search kuril {number}"
    return Update(number, message=Message(number, NOW, chat, User(chat_id, "u", False), text=text))


class _SlowFirst:
    """One chat's commands through a processor: the first runs until `gate` is set, the
    others queue behind it; `ran` lists those run."""

    def __init__(self, processor: PerChatUpdates) -> None:
        self.processor, self.ran = processor, list[int]()
        self.gate, self._started = asyncio.Event(), asyncio.Event()
        self.first: asyncio.Task[None] | None = None

    @classmethod
    async def begun(cls, processor: PerChatUpdates) -> _SlowFirst:
        chat = cls(processor)
        first = processor.process_update(_command(0, USER), chat.handle(0))
        chat.first = asyncio.create_task(first)
        await chat._started.wait()
        return chat

    async def handle(self, number: int) -> None:
        self.ran.append(number)
        if number == 0:
            self._started.set()
            await self.gate.wait()

    def send(self, numbers: Iterable[int]) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(self.processor.process_update(_command(n, USER), self.handle(n)))
            for n in numbers
        ]


async def test_the_updates_one_chat_queued_hold_no_place_another_chat_needs() -> None:
    """PTB takes a place of `max_concurrent_updates` before the processor waits for the chat's
    turn: updates queued behind a slow /search held every place, and other chats got no
    answer until that chat's queue had drained."""
    import asyncio

    processor = PerChatUpdates(max_concurrent_updates=3)
    gate, started, other = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await gate.wait()

    async def quick() -> None:
        other.set()

    queued = [processor.process_update(_command(n, USER), slow()) for n in range(4)]
    tasks = [asyncio.create_task(update) for update in queued]
    await started.wait()
    tasks.append(asyncio.create_task(processor.process_update(_command(9, ADMIN), quick())))
    try:
        async with asyncio.timeout(10):
            await other.wait()
    finally:
        gate.set()
        await asyncio.gather(*tasks)


async def test_updates_a_chat_queues_past_its_cap_are_dropped_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    processor = PerChatUpdates(max_concurrent_updates=2, max_queued=2)
    chat = await _SlowFirst.begun(processor)
    ran, first = chat.ran, chat.first
    with caplog.at_level(logging.DEBUG, logger="bot.telegram.updates"):
        queued = chat.send(range(1, 6))
        await asyncio.gather(*queued[2:])  # past the cap: dropped at once, never run
        chat.gate.set()
        await asyncio.gather(first, *queued)
    assert ran == [0, 1, 2]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and f"chat {USER}" in warned[0].getMessage()
    # its queue drained: the chat's next command runs
    await processor.process_update(_command(7, USER), chat.handle(7))
    assert ran == [0, 1, 2, 7]


async def test_updates_of_many_chats_past_the_bound_are_dropped_not_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A flood from many chats (a spammer's accounts, each a private chat of its own) while a
    command runs long: each chat queued one update only, under its own cap, and every one of
    them was held waiting for a place for as long as the flood lasted."""
    import asyncio

    processor = PerChatUpdates(max_concurrent_updates=1, max_waiting=5)
    chat = await _SlowFirst.begun(processor)
    ran, first = chat.ran, chat.first
    with caplog.at_level(logging.DEBUG, logger="bot.telegram.updates"):
        flood = [
            asyncio.create_task(processor.process_update(_command(n, 10_000 + n), chat.handle(n)))
            for n in range(1, 200)
        ]
        async with asyncio.timeout(10):  # past the bound: dropped at once, never run
            await asyncio.gather(*flood[4:])
        chat.gate.set()
        await asyncio.gather(first, *flood)
    assert ran == [0, 1, 2, 3, 4]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "dropped" in warned[0].getMessage()
    # the flood over, a chat's command runs again
    await processor.process_update(_command(7, USER), chat.handle(7))
    assert ran == [0, 1, 2, 3, 4, 7]


async def test_at_a_stop_the_updates_a_chat_queued_are_dropped_not_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PTB's stop waits for every update it handed out: a chat's 100 waiting behind its slow
    /search ran one after the other, well past the 10 s a stop may take."""
    import asyncio

    from bot.telegram.updates import stop_updates

    app = build_application(Config.model_validate({"topics": shipped_topics()}), TOKEN)
    processor = app.update_processor
    assert isinstance(processor, PerChatUpdates)
    chat = await _SlowFirst.begun(processor)
    queued = chat.send(range(1, 6))
    with caplog.at_level(logging.WARNING, logger="bot.telegram.updates"):
        await stop_updates(app)
        chat.gate.set()  # the running command ends
        await asyncio.gather(chat.first, *queued)
    assert chat.ran == [0]
    [said] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said.startswith("stopping: ") and f"chat {USER}" in said and "dropped" in said


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_wait_telegram_names_is_bounded(seconds: float) -> None:
    from bot.delivery.retry import MAX_RETRY_AFTER

    wait = bounded.wait_seconds(seconds, MAX_RETRY_AFTER)
    assert 0 <= wait <= MAX_RETRY_AFTER


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["", "/", "/x", "/y"])),
        max_size=12,
    )
)
def test_items_sharing_a_link_are_told_apart_and_one_item_given_twice_is_one(
    entries: list[tuple[str, str]],
) -> None:
    """Whatever titles and links a feed repeats: two items of other titles never share a key
    (guid) or a URL, and one title at one link given twice is one item."""
    made = [
        make_item(
            feed_id="f",
            guid="",
            link=f"https://n.example{path}" if path else None,
            title=title,
            summary="",
            published=None,
            lang=None,
        )
        for title, path in entries
    ]
    items = newest([i for i in made if i is not None])
    by_guid: dict[str, set[str]] = {}
    by_url: dict[str, set[str]] = {}
    guid_of: dict[tuple[str, str], set[str]] = {}
    for item, (title, path) in zip(items, entries, strict=True):
        by_guid.setdefault(item.guid, set()).add(title)
        guid_of.setdefault((title, path), set()).add(item.guid)
        if item.canonical_url:
            by_url.setdefault(item.canonical_url, set()).add(title)
    assert all(len(told) == 1 for told in by_guid.values())
    assert all(len(titles) == 1 for titles in by_url.values())
    assert all(len(guids) == 1 for guids in guid_of.values())
