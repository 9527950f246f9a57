"""/trend, /report and /spikes through python-telegram-bot and the fake Bot API, the weekly
report and spike jobs, and `kurilwatch trend`.

The handlers' clock is a `Clock` the tests move, so a weekly report needs no waiting.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.config import Config
from bot.delivery.worker import DeliveryWorker
from bot.i18n import language
from bot.insights.charts import HEIGHT, WIDTH, render_trend
from bot.insights.holds import Drawn, Holds
from bot.insights.jobs import REPORT_RETRY_MAX, Insights
from bot.insights.trends import build_trend
from bot.telegram.chat import BotContext, install
from bot.telegram.updates import build_application
from store import AsyncStore, FeedState, ItemRecord, Store, StoryPoint
from tests.conftest import (
    TOKEN,
    Clock,
    cli,
    kurilwatch,
    new_store,
    running,
    shipped_topics,
    write_config,
)
from tests.fakes.telegram_api import FakeBotAPI
from watchers.topics.compile import compile_topics

USER = 5005
OTHER = 6006
THIRD = 7007
T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday; 12:00 in Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
FEEDS = [FeedState(id="tass", url="u1", title="TASS"), FeedState(id="nhk", url="u2", title="NHK")]


@dataclass
class Harness:
    store: AsyncStore
    api: FakeBotAPI
    clock: Clock
    ctx: BotContext
    app: Any

    async def say(self, text: str, chat_id: int = USER, **kwargs: Any) -> str:
        count = len(self.api.sent_messages(chat_id))
        self.api.push_message(chat_id, text, **kwargs)
        replies = await self.api.wait_for_messages_async(chat_id, count + 1)
        return str(replies[count]["text"])

    async def photo(
        self, text: str, chat_id: int = USER, **kwargs: Any
    ) -> tuple[dict[str, Any], bytes]:
        count = len(self.api.sent_photos(chat_id))
        self.api.push_message(chat_id, text, **kwargs)
        await self.api.wait_for_async(
            lambda: len(self.api.sent_photos(chat_id)) > count, 30, "a photo"
        )
        return self.api.sent_photos(chat_id)[count]


@pytest.fixture
async def bot(tmp_path: Path, bot_api: FakeBotAPI) -> AsyncIterator[Harness]:
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    app = build_application(settings, TOKEN)
    ctx = BotContext(store=store, topics=compile_topics(settings.topics).topics, clock=clock)
    install(app, ctx)
    async with running(app):
        yield Harness(store, bot_api, clock, ctx, app)
    await store.close()


async def seed(
    store: AsyncStore,
    stories: list[tuple[datetime, str, tuple[str, ...]]],
    *,
    also: int = 0,
    first_poll: bool = True,
) -> None:
    """Store one story per (time, title, topics), from TASS; the first `also` of them are
    carried by NHK too. As a feed's first poll records them (alerting nobody), or as later
    polls bring them (no chat is subscribed yet: none is alerted either)."""
    for n, (at, title, topics) in enumerate(stories):
        record = ItemRecord(
            f"g{n}", f"https://tass.example/{n}", f"https://tass.example/{n}", title, "", at, topics
        )
        stored = await store.run(Store.ingest, FEEDS[0], [record], now=at, alert=not first_poll)
        [item] = stored.stored
        if n < also:
            copy = ItemRecord(
                f"n{n}",
                None,
                f"https://nhk.example/{n}",
                title,
                "",
                at,
                topics,
                story_hint=item.story_id,
            )
            await store.run(Store.ingest, FEEDS[1], [copy], now=at + H, alert=False)


def history(
    days: int, per_day: int, topics: tuple[str, ...] = ("kuril",)
) -> list[tuple[datetime, str, tuple[str, ...]]]:
    """`per_day` stories a day for `days` days before T0, at varied hours, in three scripts."""
    titles = ["Kuril drills", "Учения на Курилах", "北方領土で演習"]
    return [
        (T0 - d * D - timedelta(hours=3 + 5 * k), titles[(d + k) % 3], topics)
        for d in range(1, days + 1)
        for k in range(per_day)
    ]


async def test_trend_answers_with_a_png_and_a_caption_that_matches_the_store(bot: Harness) -> None:
    # recorded since before the 30 days before the 30 shown: so the change is given
    stories = history(61, 2) + [
        (T0 - timedelta(minutes=30 * k), "Burst on Iturup", ("kuril",)) for k in range(1, 6)
    ]
    stories += history(10, 1, ("peace-treaty",))  # another topic: not counted
    await seed(bot.store, stories)
    await bot.say("/timezone Asia/Tokyo")
    params, data = await bot.photo("/trend kuril 30d")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) == (1200, 700)
    # the caption's numbers, counted here from what was stored, by Tokyo days
    today = T0.astimezone(TOKYO).date()
    days = {today - timedelta(days=n) for n in range(30)}
    before = {today - timedelta(days=n) for n in range(30, 60)}
    local = [at.astimezone(TOKYO).date() for at, _, topics in stories if "kuril" in topics]
    total = sum(day in days for day in local)
    # the 30 days before up to the same time of day as now (Tokyo keeps no summer time)
    cut = T0 - timedelta(days=30)
    previous = sum(
        at.astimezone(TOKYO).date() in before and at < cut
        for at, _, topics in stories
        if "kuril" in topics
    )
    counts = {day: local.count(day) for day in days}
    busiest = max(counts.values())
    text = params["caption"]
    assert params["parse_mode"] == "HTML" and len(text) <= 1024
    assert f"Stories: <b>{total}</b>" in text and f"({previous})" in text
    assert re.search(rf"Busiest day: \w+ \d+ \w+, {busiest} stories", text)
    assert "Asia/Tokyo" in text and "last 30 days" in text
    by_lang = re.search(r"By language: Russian (\d+), Japanese (\d+), English (\d+)", text)
    assert by_lang is not None and sum(map(int, by_lang.groups())) == total


async def test_trend_in_the_users_language_and_its_mistakes(bot: Harness) -> None:
    await seed(bot.store, history(3, 1))
    params, data = await bot.photo("/trend 7d", language_code="ja")  # no topic: the first
    assert "過去7日間" in params["caption"] and "ニュース数: <b>3</b>" in params["caption"]
    assert Image.open(io.BytesIO(data)).size == (WIDTH, HEIGHT)
    params, _ = await bot.photo("/trend peace-treaty outlets", language_code="ru")
    assert "За этот период событий нет." in params["caption"]
    assert "7d, 30d or 90d" in await bot.say("/trend kuril 14d")
    assert "not a topic; write one of kuril, peace-treaty" in await bot.say("/trend kurils")


async def test_a_trends_change_is_a_per_cent_as_the_readers_language_writes_it(
    bot: Harness,
) -> None:
    """The change was written "1100%" in every language: Russian writes "1 100 %" (a no-break
    space before the sign, and between the thousands), Japanese "1,100%" (CLDR)."""
    # recorded from before the 7 days before (so compared): one story in them, 12 in these 7
    stories = [(T0 - 20 * D, "Kuril drills", ("kuril",)), (T0 - 10 * D, "Kuril drills", ("kuril",))]
    stories += [(T0 - timedelta(hours=5 + 12 * k), "Kuril drills", ("kuril",)) for k in range(12)]
    await seed(bot.store, stories)
    said = {}
    for lang in ("en", "ru", "ja"):
        params, _ = await bot.photo("/trend kuril 7d", language_code=lang)
        said[lang] = params["caption"]
    assert "(up 1,100% on the 7 days before" in said["en"], said["en"]
    assert "на 1\u00a0100\u00a0% больше" in said["ru"], said["ru"]
    assert "より1,100%増" in said["ja"], said["ja"]


async def test_report_and_spikes_settings_and_their_mistakes(bot: Harness) -> None:
    assert "Weekly report: off" in await bot.say("/report")
    assert "the report is weekly" in await bot.say("/report daily 08:00")
    assert "not a day" in await bot.say("/report weekly someday 08:00")
    assert "not a time of day" in await bot.say("/report weekly mon 25:00")
    # the day forgotten: it answered with /digest's words, offering "/report daily 08:00"
    for lang, words in (("en", "not a report setting"), ("ru", "не настройка отчёта")):
        forgot = await bot.say("/report weekly 08:00", language_code=lang)
        assert words in forgot and "daily" not in forgot and "/digest" not in forgot, forgot
    reply = await bot.say("/report weekly fri 18:00")
    assert "weekly, Friday 18:00" in await bot.say("/report")
    assert (
        "weekly, Friday 18:00 (next: Fri 27 Nov 18:00 UTC)" in reply
        and "Subscribe to a topic" in reply
    )
    assert "Weekly report off" in await bot.say("/report off")
    assert "Spike alerts are off" in await bot.say("/spikes")
    assert "Spike alerts on" in await bot.say("/spikes on")
    listed = await bot.say("/list")
    assert "<b>Weekly report:</b> off" in listed and "<b>Spike alerts:</b> on" in listed
    assert await bot.store.run(Store.report_of, USER) == ("", True)
    assert "Write <code>/spikes on</code>" in await bot.say("/spikes maybe")
    group: dict[str, Any] = {"chat_id": -400, "chat_type": "supergroup", "user_id": 77}
    for command in ("/report weekly mon 08:00", "/spikes on"):
        assert "Only this group's admins" in await bot.say(command, **group)


async def test_a_weekly_report_comes_once_at_its_time(bot: Harness) -> None:
    stories = [
        *history(14, 1),
        (T0 - 30 * H, "Kunashir visit", ("kuril",)),
        (T0 - 2 * H, "Missiles on Iturup", ("kuril",)),
    ]
    await seed(bot.store, stories[::-1], also=1)  # the newest story is carried by NHK too
    await bot.say("/subscribe kuril")
    await bot.say("/timezone Asia/Tokyo")
    await bot.say("/report weekly fri 18:00", language_code="en")
    insights = Insights(bot.ctx, bot.app.bot)
    assert await insights.send_reports() == 0  # 12:00 in Tokyo: not yet
    bot.clock.now = T0 + 6 * H + timedelta(minutes=1)
    assert await insights.send_reports() == 1
    [(params, data)] = bot.api.sent_photos(USER)
    assert Image.open(io.BytesIO(data)).size == (WIDTH, HEIGHT)
    lines = params["caption"].splitlines()
    assert lines[0] == "<b>Weekly report</b> 21 Nov–27 Nov (Asia/Tokyo)"
    assert (
        lines[1]
        == "Kuril Islands: <b>8</b> (up 14% on the 7 days before, to the same time of day (7))"
    )
    assert lines[4].startswith('1. <a href="https://tass.example/0">Missiles on Iturup</a>')
    assert lines[4].endswith("TASS, 2 outlets")
    assert await insights.send_reports() == 0  # once
    bot.clock.now += 7 * D
    assert await insights.send_reports() == 1  # and again a week later


async def test_a_burst_sends_one_spike_notice_to_the_chat_that_asked(bot: Harness) -> None:
    quiet = history(20, 2)
    burst = [
        (T0 - timedelta(minutes=10 + 25 * k), f"Iturup story {k}", ("kuril",)) for k in range(9)
    ]
    await seed(bot.store, quiet + burst, also=len(quiet) + 2, first_poll=False)
    await bot.say("/subscribe kuril")
    await bot.say("/spikes on")
    await bot.say("/subscribe kuril", chat_id=OTHER)  # subscribed, but no spike alerts
    await bot.say("/subscribe peace-treaty", chat_id=THIRD)  # spike alerts, another topic
    await bot.say("/spikes on", chat_id=THIRD)
    insights = Insights(bot.ctx, bot.app.bot)
    bot.clock.now = T0 - 7 * H  # before the burst: nothing
    assert await insights.check_spikes() == []
    bot.clock.now = T0
    assert await insights.check_spikes() == ["kuril"]
    bot.clock.now = T0 + H
    assert await insights.check_spikes() == []  # not again within 12 hours
    counts = {chat: len(bot.api.sent_messages(chat)) for chat in (USER, OTHER, THIRD)}
    worker = DeliveryWorker(bot.store, bot.app.bot, clock=bot.clock)
    assert await worker.send_due() == 1
    await worker.drain()
    [notice] = bot.api.sent_messages(USER)[counts[USER] :]
    lines = notice["text"].splitlines()
    assert lines[0] == "📈 Spike: Kuril Islands"
    assert lines[1] == "9 stories in the last 6 hours (usually 1.0 ± 0.0)."
    # the burst's stories carried by most outlets first, the earlier first among equals
    assert lines[4].startswith("1. Iturup story 1 (TASS, 02:25, 2 outlets)")
    assert lines[6].startswith("2. Iturup story 0 (TASS, 02:50, 2 outlets)")
    assert lines[8].startswith("3. Iturup story 8 (TASS, ")
    assert len(bot.api.sent_messages(OTHER)) == counts[OTHER]
    assert len(bot.api.sent_messages(THIRD)) == counts[THIRD]
    assert len(await bot.store.run(Store.notices)) == 1


async def test_a_spike_notice_writes_its_usual_level_as_the_chat_s_language_does(
    bot: Harness,
) -> None:
    """A Russian chat read "(обычно 1.0 ± 0.0)": Russian writes a decimal comma."""
    quiet = history(20, 2)
    burst = [
        (T0 - timedelta(minutes=10 + 25 * k), f"Iturup story {k}", ("kuril",)) for k in range(9)
    ]
    await seed(bot.store, quiet + burst, also=len(quiet) + 2, first_poll=False)
    await bot.say("/subscribe kuril", language_code="ru")
    await bot.say("/spikes on", language_code="ru")
    insights = Insights(bot.ctx, bot.app.bot)
    assert await insights.check_spikes() == ["kuril"]
    sent = len(bot.api.sent_messages(USER))
    worker = DeliveryWorker(bot.store, bot.app.bot, clock=bot.clock)
    assert await worker.send_due() == 1
    await worker.drain()
    [notice] = bot.api.sent_messages(USER)[sent:]
    assert notice["text"].splitlines()[1] == "9 событий за последние 6 часов (обычно 1,0 ± 0,0)."


def test_kurilwatch_trend_writes_a_png_and_a_csv(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"tass": "http://127.0.0.1:9/rss"})
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=1, microsecond=0)  # telegram.timezone: UTC

    async def fill() -> None:
        store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
        try:
            stories = [(midnight - d * D, f"Kuril story {d}", ("kuril",)) for d in range(12)]
            await seed(store, stories)
        finally:
            await store.close()

    asyncio.run(fill())
    png, table = tmp_path / "out.png", tmp_path / "out.csv"
    result = kurilwatch(
        "trend",
        "--config",
        str(config),
        "--topic",
        "kuril",
        "--days",
        "7",
        "--png",
        str(png),
        "--csv",
        str(table),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kuril: 7 stories in 7 days")
    assert Image.open(png).size == (WIDTH, HEIGHT)
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 7 and sum(int(r["total"]) for r in rows) == 7
    assert rows[0]["date"] < rows[-1]["date"]
    bad = cli("trend", "--config", str(config), "--topic", "kurils", "--csv", str(table))
    assert bad.returncode == 2 and "no topic 'kurils'; topics: kuril, peace-treaty" in bad.stderr
    nothing = cli("trend", "--config", str(config), "--topic", "kuril")
    assert nothing.returncode == 2 and "--png PATH, --csv PATH" in nothing.stderr


async def test_charts_are_drawn_off_the_event_loop() -> None:
    """The loop keeps turning while a chart is drawn: drawn on it, the chart would be done at
    the first turn."""
    points = [
        StoryPoint(n, T0 - n * H, ("kuril",), "tass", "TASS", "Kuril drills", None, 1)
        for n in range(500)
    ]
    chart = build_trend(points, now=T0, tz=TOKYO, days=30)
    drawing = asyncio.create_task(render_trend(chart, title="Kuril Islands", lang="ja"))
    turns = 0
    while not drawing.done():
        await asyncio.sleep(0)
        turns += 1
    assert turns > 1
    assert Image.open(io.BytesIO(drawing.result())).size == (WIDTH, HEIGHT)


async def test_a_weekly_report_follows_a_group_to_its_supergroup(bot: Harness) -> None:
    await seed(bot.store, history(3, 1))
    group: dict[str, Any] = {"chat_id": -400, "chat_type": "group", "user_id": 77}
    bot.api.set_admins(-400, [77])
    await bot.say("/subscribe kuril", **group)
    await bot.say("/report weekly fri 03:30", **group)  # UTC
    bot.api.migrate_chat(-400, -100400)
    insights = Insights(bot.ctx, bot.app.bot)
    bot.clock.now = T0 + H
    assert await insights.send_reports() == 0  # told the group moved
    assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(-100400)
    assert params["caption"].startswith("<b>Weekly report</b>")
    assert await bot.store.run(Store.report_of, -100400) == ("weekly fri 03:30", False)


async def test_a_forums_weekly_report_goes_to_its_topic_and_to_general_once_that_is_deleted(
    bot: Harness,
) -> None:
    """Set up in a forum's topic (its admin sent /report there, and was answered there), the
    weekly report went to General."""
    forum = -100700
    await seed(bot.store, history(3, 1))
    group: dict[str, Any] = {"chat_id": forum, "chat_type": "supergroup", "user_id": 77}
    bot.api.set_admins(forum, [77])
    await bot.say("/subscribe kuril", **group)
    await bot.say("/report weekly fri 03:30", **group)
    await bot.store.run(Store.set_thread, forum, 77)  # as those sent in topic 77 record it
    insights = Insights(bot.ctx, bot.app.bot)
    bot.clock.now = T0 + H
    assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(forum)
    assert params["message_thread_id"] == 77
    gone = "Bad Request: message thread not found"  # the topic deleted since
    bot.api.fail_next("sendPhoto", status=400, description=gone, chat_id=forum)
    bot.clock.now += 7 * D
    assert await insights.send_reports() == 1  # not lost: in General
    [_, (params, _)] = bot.api.sent_photos(forum)
    assert "message_thread_id" not in params
    prefs = await bot.store.run(Store.prefs, forum)
    assert prefs is not None and prefs.thread_id is None


async def forum_report(bot: Harness, forum: int = -100700, topic: int = 77) -> Insights:
    """A forum whose weekly report (Friday 03:30 UTC) was set up in its topic `topic`."""
    await seed(bot.store, history(14, 1))
    group: dict[str, Any] = {"chat_id": forum, "chat_type": "supergroup", "user_id": 77}
    bot.api.set_admins(forum, [77])
    await bot.say("/subscribe kuril", **group)
    await bot.say("/report weekly fri 03:30", **group)
    await bot.store.run(Store.set_thread, forum, topic)  # as those sent in the topic record it
    return Insights(bot.ctx, bot.app.bot)


class WeekReads:
    """Counts the store's reads of a weekly report's week (its first item's fetch, read once
    for each report drawn), on the store's thread (sqlite3's trace callback)."""

    def __init__(self) -> None:
        self.count = 0

    def trace(self, statement: str) -> None:
        if statement.lstrip().startswith("SELECT min(fetched_at) FROM items"):
            self.count += 1

    def install(self, store: Store) -> None:
        store.db.conn.set_trace_callback(self.trace)


async def tries_each_minute(
    bot: Harness, insights: Insights, until: datetime, chat_id: int
) -> tuple[int, list[datetime]]:
    """The weekly report job run every minute until `until`: the reports sent, and the times
    the chat's report was tried."""
    sent, tried = 0, []
    while bot.clock.now < until:
        before = len(bot.api.calls_of("sendPhoto"))
        sent += await insights.send_reports()
        calls = bot.api.calls_of("sendPhoto")[before:]
        tried += [bot.clock.now for c in calls if c.params["chat_id"] == chat_id]
        bot.clock.now += M
    return sent, tried


async def test_a_forums_weekly_report_waits_while_its_topic_is_closed_and_comes_once_reopened(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A closed topic answers TOPIC_CLOSED, which was read as a refusal: that week's report
    was skipped. It waits, as the chat's alerts do, and comes once the topic is reopened.
    Tried every 10 minutes and drawn again each time, a topic closed all week cost 1,000 charts
    drawn and sent; now it is drawn once, and tried after 10 minutes, doubling to 2 hours."""
    forum = -100700
    insights = await forum_report(bot, forum)
    bot.api.close_topic(forum, 77)
    reads = WeekReads()
    await bot.store.run(reads.install)
    bot.clock.now = T0 + 30 * M  # due at 03:30
    with caplog.at_level(logging.DEBUG, logger="bot.insights.jobs"):
        sent, tried = await tries_each_minute(bot, insights, T0 + 5 * H + M, forum)
    assert sent == 0 and reads.count == 1  # drawn once, sent again as drawn
    # 03:30, then 10, 20, 40, 80 and 120 minutes later
    assert [(t - T0) // M for t in tried] == [30, 40, 60, 100, 180, 300]
    photos = [c.files for c in bot.api.calls_of("sendPhoto")]
    assert all(f == photos[0] for f in photos)
    assert {c.params["message_thread_id"] for c in bot.api.calls_of("sendPhoto")} == {77}
    assert bot.api.sent_photos(forum) == []
    [warned] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # why and since when, for the operator: once
    assert "(BadRequest: Topic_closed), due 2026-11-27 03:30 UTC" in warned, warned
    caplog.clear()
    bot.api.reopen_topic(forum, 77)
    reopened = bot.clock.now
    with caplog.at_level(logging.INFO, logger="bot.insights.jobs"):
        sent, tried = await tries_each_minute(bot, insights, reopened + REPORT_RETRY_MAX, forum)
    assert sent == 1 and tried == [T0 + 7 * H]  # reopened a minute after a try: 1:59 later
    assert reads.count == 1
    said = [r.getMessage() for r in caplog.records]
    assert any("sent after 7 tries, 6:30:00 after it was due" in line for line in said), said
    [(params, _)] = bot.api.sent_photos(forum)
    assert params["message_thread_id"] == 77  # in its topic, not General
    assert params["caption"].startswith("<b>Weekly report</b> 21 Nov–27 Nov (UTC)")
    [chat] = await bot.store.run(Store.report_chats)
    assert chat.sent_at == T0 + 30 * M
    bot.clock.now += D
    assert await insights.send_reports() == 0  # once
    # sent: the next week's report, refused, waits 10 minutes again, and is drawn anew
    bot.api.close_topic(forum, 77)
    bot.clock.now = T0 + 7 * D + 30 * M
    sent, tried = await tries_each_minute(bot, insights, bot.clock.now + H, forum)
    assert [(t - tried[0]) // M for t in tried] == [0, 10, 30]
    assert reads.count == 2


async def two_closed_forums(bot: Harness, second_at: str) -> tuple[Insights, int, int]:
    """Two forums with a weekly report (the second's at `second_at`), both topics closed, and
    room for one report kept as drawn."""
    first, second = -100700, -100800
    insights = await forum_report(bot, first)
    group: dict[str, Any] = {"chat_id": second, "chat_type": "supergroup", "user_id": 78}
    bot.api.set_admins(second, [78])
    await bot.say("/subscribe kuril", **group)
    await bot.say(f"/report weekly {second_at}", **group)
    insights.holds = Holds(most_kept=1)
    bot.api.close_topic(first, 77)
    bot.api.close_topic(second, None)
    return insights, first, second


async def test_the_reports_kept_as_drawn_are_bounded_past_which_they_are_drawn_again(
    bot: Harness,
) -> None:
    """Two forums whose topics are closed, room for one report kept as drawn: the first is
    drawn once, the other drawn again at each of its tries, and both come once reopened."""
    insights, first, second = await two_closed_forums(bot, "fri 03:30")
    reads = WeekReads()
    await bot.store.run(reads.install)
    bot.clock.now = T0 + 30 * M
    sent, tried = await tries_each_minute(bot, insights, T0 + 3 * H, second)
    assert sent == 0 and len(tried) == 4  # 03:30, 03:40, 04:00, 04:40
    assert reads.count == 1 + len(tried)  # the first forum's once, the second's at each try
    bot.api.reopen_topic(first, 77)
    bot.api.reopen_topic(second, None)
    sent, _ = await tries_each_minute(bot, insights, T0 + 5 * H, second)
    assert sent == 2 and bot.api.sent_photos(first) and bot.api.sent_photos(second)


async def test_a_waiting_report_left_with_nothing_to_report_frees_its_drawing(
    bot: Harness,
) -> None:
    """A forum whose report waits (its topic closed) then leaves its topics: that week's report
    is settled with nothing to report, and its drawing is let go with it. Kept, it held one
    of the bounded places for as long as the chat kept its report on, and another forum's
    report waiting was drawn again at each try."""
    insights, first, second = await two_closed_forums(bot, "fri 05:00")
    bot.clock.now = T0 + 30 * M
    assert await insights.send_reports() == 0  # the first forum's, kept as drawn
    await bot.store.run(Store.unsubscribe, first, "kuril")
    bot.clock.now += 10 * M
    assert await insights.send_reports() == 0  # nothing to report: settled
    sent_at = {c.chat_id: c.sent_at for c in await bot.store.run(Store.report_chats)}
    assert sent_at[first] == T0 + 30 * M
    reads = WeekReads()
    await bot.store.run(reads.install)
    bot.clock.now = T0 + 2 * H
    sent, tried = await tries_each_minute(bot, insights, T0 + 4 * H, second)
    assert sent == 0 and len(tried) == 4  # 05:00, 05:10, 05:30, 06:10
    assert reads.count == 1  # kept in the place the first forum's left


async def test_a_waiting_reports_topic_renamed_by_a_reload_is_drawn_again_with_its_title(
    bot: Harness,
) -> None:
    """A report kept as drawn while its topic is closed, and a reload that renames one of its
    topics: it was sent as drawn, under the title the config no longer has."""
    forum = -100700
    insights = await forum_report(bot, forum)
    bot.api.close_topic(forum, 77)
    bot.clock.now = T0 + 30 * M
    assert await insights.send_reports() == 0
    [old] = [t.title for t in bot.ctx.topics if t.id == "kuril"]
    bot.ctx.topics = tuple(  # as a reload gives it
        dataclasses.replace(t, title="Southern Kurils") if t.id == "kuril" else t
        for t in bot.ctx.topics
    )
    bot.api.reopen_topic(forum, 77)
    bot.clock.now += 10 * M
    assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(forum)
    assert "Southern Kurils" in params["caption"] and old not in params["caption"]


def test_the_reports_kept_as_drawn_are_bounded_in_number_and_bytes_and_dropped_when_done() -> None:
    """A thousand groups that forbid photos would each keep their week's PNG: a bound on the
    number and the bytes kept; past it a report is not kept (it is drawn again)."""

    def drawn(size: int, due: datetime = T0) -> Drawn:
        return Drawn((due, "en", UTC, ("kuril",), ("Kuril",)), b"x" * size, "")

    holds = Holds(most_kept=2, most_bytes=100)
    assert holds.keep_drawn(1, drawn(60)) and not holds.keep_drawn(2, drawn(41))  # bytes
    assert holds.keep_drawn(2, drawn(40)) and not holds.keep_drawn(3, drawn(1))  # number
    assert holds.keep_drawn(1, drawn(50))  # in place of its own: room for 10 more bytes
    assert holds.drawn(1, drawn(0).key) == drawn(50)
    assert holds.drawn(2, drawn(0, T0 + 7 * D).key) is None  # the next week's: dropped
    assert holds.keep_drawn(3, drawn(50)) and holds.drawn(3, drawn(0).key) is not None
    holds.done(1)  # sent
    assert holds.drawn(1, drawn(0).key) is None and holds.keep_drawn(4, drawn(50))
    holds.keep({3})  # the fourth's chat gone from the report chats (inactive, report off)
    assert holds.drawn(4, drawn(0).key) is None and holds.drawn(3, drawn(0).key) is not None
    holds.out(3, T0)  # skipped, or sent and its record pending
    assert holds.drawn(3, drawn(0).key) is None
    assert holds.keep_drawn(5, drawn(100))  # all the bytes free again


def test_a_flood_wait_is_no_refusal_the_reports_wait_doubles_with() -> None:
    holds = Holds()
    holds.unsent(USER, T0, 30 * M, counted=False)  # a 429
    holds.unsent(USER, T0, 10 * M)
    assert holds.unsent_tries(USER) == 2 and holds.refusals(USER) == 1
    holds.done(USER)
    assert holds.refusals(USER) == 0


async def test_a_weekly_reports_caption_telegram_cannot_parse_goes_as_plain_text(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram refusing the caption's HTML skipped the week's report; an alert is sent again
    as plain text, and so is the report now, its links' addresses after their titles."""
    await seed(bot.store, history(14, 1)[::-1])
    await bot.say("/subscribe kuril")
    await bot.say("/report weekly fri 04:00")
    insights = Insights(bot.ctx, bot.app.bot)
    bad = 'Bad Request: can\'t parse entities: Unsupported start tag "bx" at byte offset 1'
    bot.api.fail_next("sendPhoto", status=400, description=bad, chat_id=USER)
    bot.clock.now = T0 + H
    with caplog.at_level(logging.ERROR, logger="bot.insights.jobs"):
        assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(USER)
    assert "parse_mode" not in params
    lines = params["caption"].splitlines()
    assert lines[0] == "Weekly report 21 Nov–27 Nov (UTC)"
    assert re.match(r"1\. Kuril drills https://tass\.example/\d+ — TASS, 1 outlet$", lines[4])
    assert any("BUG: Telegram rejected the HTML" in r.getMessage() for r in caplog.records)
    [chat] = await bot.store.run(Store.report_chats)
    assert chat.sent_at == T0 + H
    bot.clock.now += H
    assert await insights.send_reports() == 0  # once


async def test_a_forums_topic_closed_past_its_next_report_gets_the_latest_week_once_reopened(
    bot: Harness,
) -> None:
    """Closed for over a week, a topic gets one report when it is reopened: the latest week's,
    which replaced the one it missed (that week's is in it), not two."""
    forum = -100700
    insights = await forum_report(bot, forum)
    bot.api.close_topic(forum, 77)
    bot.clock.now = T0 + H
    assert await insights.send_reports() == 0
    bot.clock.now = T0 + 7 * D + H  # the next report, due at 03:30 on 4 Dec, refused too
    assert await insights.send_reports() == 0
    bot.api.reopen_topic(forum, 77)
    bot.clock.now += 20 * M  # its second refusal in a row: 20 minutes
    assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(forum)
    # drawn again: not the week before's, kept as drawn while it waited
    assert params["caption"].startswith("<b>Weekly report</b> 28 Nov–4 Dec (UTC)")
    [chat] = await bot.store.run(Store.report_chats)
    assert chat.sent_at == T0 + 7 * D + 30 * M
    bot.clock.now += H
    assert await insights.send_reports() == 0


async def test_a_forums_weekly_report_in_a_deleted_topic_with_general_closed_waits_for_general(
    bot: Harness,
) -> None:
    """Its topic deleted and its General closed: the report goes to General once that is
    reopened, not skipped for the week."""
    forum = -100700
    insights = await forum_report(bot, forum)
    gone = "Bad Request: message thread not found"
    bot.api.fail_next("sendPhoto", status=400, description=gone, chat_id=forum)
    bot.api.close_topic(forum, None)
    bot.clock.now = T0 + H
    assert await insights.send_reports() == 0
    prefs = await bot.store.run(Store.prefs, forum)
    assert prefs is not None and prefs.thread_id is None  # forgotten: General from now on
    bot.api.reopen_topic(forum, None)
    bot.clock.now += 10 * M
    assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(forum)
    assert "message_thread_id" not in params
    threads = [c.params.get("message_thread_id") for c in bot.api.calls_of("sendPhoto")]
    assert threads == [77, None, None]  # the topic once, then General


async def test_trend_mistakes_and_report_replies_speak_the_users_language(bot: Harness) -> None:
    ru: dict[str, Any] = {"chat_id": OTHER, "language_code": "ru"}
    assert await bot.say("/trend kuril 14d", **ru) == (
        "«14d» — такого периода нет; напишите 7d, 30d или 90d"
    )
    assert (await bot.say("/trend kurils", **ru)).startswith(
        "«kurils» — не тема; напишите одну из: kuril, peace-treaty"
    )
    assert await bot.say("/report weekly fri 18:00", **ru) == (
        "Недельный отчёт: еженедельно, пятница 18:00 (в следующий раз: пт, 27 нояб. 18:00 UTC)."
        " Сначала подпишитесь на тему: отчёт охватывает ваши темы."
    )
    assert (await bot.say("/report daily 08:00", **ru)).startswith(
        "«daily»: отчёт бывает только еженедельным\n<code>/report weekly пн 08:00</code> — график"
    )
    assert "<b>Оповещения о всплесках:</b> выкл." in await bot.say("/list", **ru)
    await bot.say("/report off", **ru)
    assert (await bot.say("/report", **ru)).startswith(
        "Недельный отчёт: выключен.\n"
    )  # not "выкл.."
    ja: dict[str, Any] = {"chat_id": THIRD, "language_code": "ja-JP"}
    assert await bot.say("/trend kuril 14d", **ja) == (
        "「14d」はグラフにできる期間ではありません。7d、30d、90d のいずれかを書いてください"
    )
    await bot.say("/subscribe kuril", **ja)
    assert await bot.say("/report weekly fri 18:00", **ja) == (
        "週間レポート: 毎週金曜日 18:00（次回: 11月27日（金）18:00 UTC）。"
    )
    assert (await bot.say("/spikes on", **ja)).startswith("急増通知をオンにしました: ")
    assert "Weekly report: off." in await bot.say("/report")  # an English user's chat


@pytest.mark.parametrize(
    ("lang", "name"),
    [
        ("en", "Google News - Kuril Islands - latest headlines and analysis"),
        ("ru", "Интерфакс — Курильские острова: последние новости и аналитика"),
        ("ja", "北方領土問題に関する最新ニュースと解説記事の一覧ページです"),
    ],
)
def test_a_legend_of_long_outlet_names_stays_inside_the_picture(lang: str, name: str) -> None:
    """Outlets are named by their feeds' own titles, often long: each series' label must be
    on the picture, not cut off at its right edge."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bot.insights import charts

    points = [
        StoryPoint(n, T0 - (n % 700) * H, ("kuril",), f"f{n % 7}", f"{name} {n % 7}", "x", None, 1)
        for n in range(1400)
    ]
    chart = build_trend(points, now=T0, tz=TOKYO, days=30, by="outlet")
    assert len(chart.series) == 6  # the five busiest and "other"
    charts.fonts()  # loads matplotlib and the fonts
    figure = charts._figure(chart, title="Kuril Islands", lang=lang, titles={})
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.axes[0]
    legend = axes.get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert len(set(labels)) == 6  # told apart, though the names share their start
    box = legend.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= WIDTH, (box, labels)
    # and above the tallest bar, not over it
    tallest = axes.transData.transform((0, max(chart.per_day)))[1]
    assert box.y0 > tallest


@pytest.mark.parametrize("per_day", [90, 12_000, 120_000])
@pytest.mark.parametrize("lang", ["en", "ru", "ja"])
def test_the_vertical_axis_and_its_label_stay_inside_the_picture(per_day: int, lang: str) -> None:
    """The left margin was fixed: at five-digit counts a day the label "stories" was cut at
    the picture's left edge, and at six gone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bot.insights import charts

    point = StoryPoint(0, T0 - H, ("kuril",), "f", "TASS", "Курилы", "", 1, "ru")
    points = [dataclasses.replace(point, story_id=n) for n in range(per_day)]
    chart = build_trend(points, now=T0, tz=UTC, days=7)
    assert max(chart.per_day) == per_day
    charts.fonts()
    figure = charts._figure(chart, title="Kuril", lang=lang, titles={})
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # places the axis label as the PNG has it
    renderer = canvas.get_renderer()
    axes = figure.axes[0]
    assert axes.yaxis.label.get_window_extent(renderer).x0 >= 0
    ticks = [t for t in axes.get_yticklabels() if t.get_text()]
    assert max(len(t.get_text()) for t in ticks) >= len(str(per_day))  # as many digits
    assert min(t.get_window_extent(renderer).x0 for t in ticks) > 0


@pytest.mark.parametrize(("lang", "thousands"), [("en", ","), ("ru", "\u00a0"), ("ja", ",")])
def test_the_vertical_axis_counts_whole_stories_written_as_the_readers_language_does(
    lang: str, thousands: str
) -> None:
    """The counts' ticks were matplotlib's: "1500" whatever the language (English writes
    "1,500", Russian "1 500"). A day of one story has no tick between none and one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bot.i18n import texts
    from bot.insights import charts

    point = StoryPoint(0, T0 - H, ("kuril",), "f", "TASS", "Курилы", "", 1, "ru")
    charts.fonts()
    labels = {}
    for per_day in (1, 12_000):
        points = [dataclasses.replace(point, story_id=n) for n in range(per_day)]
        chart = build_trend(points, now=T0, tz=UTC, days=7)
        figure = charts._figure(chart, title="Kuril", lang=lang, titles={})
        FigureCanvasAgg(figure).draw()
        axes = figure.axes[0]
        low, high = axes.get_ylim()
        ticks = [t for t in axes.get_yticklabels() if low <= t.get_position()[1] <= high]
        assert all(t.get_position()[1] == int(t.get_position()[1]) for t in ticks)
        tr = texts(lang)
        assert [t.get_text() for t in ticks] == [tr.number(t.get_position()[1]) for t in ticks]
        labels[per_day] = [t.get_text() for t in ticks if t.get_position()[1] >= 1000]
    assert labels[1] == [] and labels[12_000]
    assert all(thousands in label for label in labels[12_000]), labels[12_000]


async def test_many_trends_at_once_wait_in_a_bounded_queue_and_the_rest_are_told(
    bot: Harness,
) -> None:
    """Charts are drawn one at a time: while one is drawn, at most MAX_CHARTS requests wait
    (each holding its stories), a further one is told to come back, and the daemon's other
    work on threads goes on."""
    from bot.insights import charts

    await seed(bot.store, history(5, 2))
    chats = [USER + 100 + n for n in range(charts.MAX_CHARTS + 1)]
    charts.fonts()
    charts._lock.acquire()  # a chart being drawn, for as long as the test says
    try:
        for chat_id in chats:
            bot.api.push_message(chat_id, "/trend kuril 7d")
        told = [c for c in chats if bot.api.sent_messages(c)]

        def someone_told() -> bool:
            told[:] = [c for c in chats if bot.api.sent_messages(c)]
            return bool(told)

        await asyncio.wait_for(bot.api.wait_for_async(someone_told, 20, "a busy reply"), 25)
        [busy] = told
        [text] = [m["text"] for m in bot.api.sent_messages(busy)]
        assert text == "Many charts are being drawn just now; try again in a minute."
        # the charts waiting hold none of the threads asyncio.to_thread runs on
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 42), 10) == 42
        assert not bot.api.sent_photos()
    finally:
        charts._lock.release()
    waiting = [c for c in chats if c != busy]
    await bot.api.wait_for_async(
        lambda: all(bot.api.sent_photos(c) for c in waiting), 60, "every waiting chart"
    )
    params, _ = await bot.photo("/trend kuril 7d", chat_id=busy)  # and it comes back
    assert params["caption"].startswith("<b>Kuril Islands</b>")


async def test_dollar_signs_in_an_outlets_or_topics_name_are_drawn_as_written(
    bot: Harness,
) -> None:
    """Outlets are named by their feeds' own titles: '$' in one is a dollar sign, not
    matplotlib's math markup (a '$^$' made every /trend outlets of the topic fail)."""
    from bot.insights import charts

    odd = FeedState(id="odd", url="u3", title="Mkts $^$ ($5 to $10)")
    for n in range(3):
        at = T0 - (n + 1) * H
        record = ItemRecord(f"o{n}", None, f"https://odd.example/{n}", "Kuril", "", at, ("kuril",))
        await bot.store.run(Store.ingest, odd, [record], now=at, alert=False)
    params, data = await bot.photo("/trend kuril 7d outlets")
    assert Image.open(io.BytesIO(data)).size == (WIDTH, HEIGHT)
    assert odd.title in params["caption"]
    points = await bot.store.run(Store.story_points, ["kuril"], since=T0 - 7 * D, until=T0)
    chart = build_trend(points, now=T0, tz=TOKYO, days=7, by="outlet")
    charts.draw_trend(chart, title="Price $5 to $10", titles={})  # a topic's title too
    charts.fonts()
    figure = charts._figure(chart, title="$5 to $10", lang="en", titles={})
    [label] = figure.axes[0].get_legend().get_texts()
    assert label.get_text() == odd.title


def test_hebrew_and_arabic_titles_are_drawn_in_the_order_they_are_read() -> None:
    """matplotlib draws characters as stored, left to right: a Hebrew outlet's title came out
    backwards in the legend, and Arabic unjoined as well."""
    from bot.insights import charts

    assert charts.visual("Курилы 千島") == "Курилы 千島"
    assert charts.visual("שלום") == "םולש"
    assert charts.visual("NHK שלום 2") == "NHK 2 םולש"  # a number after Hebrew is in its run
    shaped = charts.visual("جزر الكوريل")
    assert len(shaped) == len("جزر الكوريل")
    assert all(0xFE70 <= ord(c) <= 0xFEFF or c == " " for c in shaped)  # joined forms
    assert charts.visual("שלום (עולם)") == "(םלוע) םולש"  # brackets mirrored


@given(st.text(alphabet="abc אבגדה 12()-", max_size=30))
def test_reading_order_keeps_every_letter(text: str) -> None:
    from bot.insights import charts

    shown = charts.visual(text)
    letters = sorted(c for c in text if c.isalpha())
    assert sorted(c for c in shown if c.isalpha()) == letters
    if not any("א" <= c <= "ת" for c in text):
        assert shown == text


def test_a_hebrew_outlets_title_in_a_legend_reads_right_to_left() -> None:
    from bot.insights import charts

    point = StoryPoint(1, T0 - H, ("kuril",), "ynet", "ידיעות אחרונות", "Kuril", None, 1)
    chart = build_trend([point], now=T0, tz=TOKYO, days=7, by="outlet")
    charts.fonts()
    figure = charts._figure(chart, title="כורילים", lang="en", titles={})
    [label] = figure.axes[0].get_legend().get_texts()
    assert label.get_text() == "תונורחא תועידי"
    assert figure.axes[0].get_title(loc="left").startswith("םילירוכ")
    # a title too long is cut at its end as it is read: its beginning, drawn on the right, stays
    long = "חדשות " * 12 + "סוף"
    figure = charts._figure(chart, title=long, lang="en", titles={})
    drawn = figure.axes[0].get_title(loc="left").split(":")[0]
    assert drawn.startswith("…") and drawn.endswith("תושדח")


async def test_a_weekly_report_due_in_quiet_hours_or_a_mute_comes_without_a_sound(
    bot: Harness,
) -> None:
    """Like a spike notice, a report is not held, but in the chat's quiet hours (either
    mode) or a mute it does not ring."""
    await seed(bot.store, history(3, 1))
    bot.clock.now = T0 - H  # 11:00 Friday in Tokyo
    setups = {
        USER: ["/quiet 11:00-13:00 hold"],
        OTHER: ["/mute 2h"],
        THIRD: ["/quiet 22:00-07:00 silent"],  # not now
    }
    for chat_id, commands in setups.items():
        for command in ["/subscribe kuril", "/timezone Asia/Tokyo", *commands]:
            await bot.say(command, chat_id=chat_id)
        await bot.say("/report weekly fri 11:30", chat_id=chat_id)
    bot.clock.now = T0 - timedelta(minutes=10)
    await bot.say("/mute 2h", chat_id=OTHER)  # from 11:50 Tokyo: still muted at 12:00
    bot.clock.now = T0  # 12:00 Friday in Tokyo
    assert await Insights(bot.ctx, bot.app.bot).send_reports() == 3
    silent = {c: bool(bot.api.sent_photos(c)[0][0].get("disable_notification")) for c in setups}
    assert silent == {USER: True, OTHER: True, THIRD: False}


def test_a_chart_draws_no_character_its_fonts_lack() -> None:
    """An emoji in a topic's title (or a feed's) has no glyph in the chart's fonts: drawn, it
    is a box. Every text on the chart is in glyphs the fonts have."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from bot.insights import charts

    glyphs: set[int] = set()
    for family in charts.fonts():
        properties = font_manager.FontProperties(family=family)
        glyphs |= set(FT2Font(font_manager.findfont(properties)).get_charmap())
    title = "🇯🇵🇷🇺 Peace treaty 📈"
    points = [
        StoryPoint(n, T0 - n * H, ("kuril",), f"f{n % 2}", ["NHK 📺", "ТАСС"][n % 2], "x", None, 1)
        for n in range(40)
    ]
    chart = build_trend(points, now=T0, tz=TOKYO, days=7, by="outlet")
    figure = charts._figure(chart, title=title, lang="ja", titles={})
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    shown = "".join(texts)
    assert "Peace treaty" in shown and "NHK" in shown and "ТАСС" in shown
    assert {c for c in shown if not c.isspace() and ord(c) not in glyphs} == set()


async def test_a_new_feeds_first_poll_is_no_burst(bot: Harness) -> None:
    """A feed added to the config records its recent items at its first poll without alerting
    anyone: its last hours of news are no burst of coverage, and make no spike notice."""
    await seed(bot.store, history(20, 2), first_poll=False)
    await bot.say("/subscribe kuril")
    await bot.say("/spikes on")
    added = FeedState(id="kyodo", url="u4", title="Kyodo")
    backlog = [
        ItemRecord(
            f"k{k}",
            None,
            f"https://kyodo.example/{k}",
            f"Kyodo story {k}",
            "",
            T0 - timedelta(minutes=20 + 30 * k),
            ("kuril",),
        )
        for k in range(9)
    ]
    await bot.store.run(Store.ingest, added, backlog, now=T0 - timedelta(minutes=5), alert=False)
    insights = Insights(bot.ctx, bot.app.bot)
    assert await insights.check_spikes() == []
    assert await bot.store.run(Store.notices) == []
    # as many stories coming in as news, at its next poll, do make one
    live = [
        ItemRecord(
            f"l{k}", None, f"https://kyodo.example/l{k}", f"Kyodo live {k}", "", at, ("kuril",)
        )
        for k, at in enumerate(T0 - timedelta(minutes=15 + 30 * k) for k in range(9))
    ]
    await bot.store.run(Store.ingest, added, live, now=T0 - timedelta(minutes=4), alert=True)
    assert await insights.check_spikes() == ["kuril"]


async def test_a_new_install_judges_no_spike_before_14_days_of_news_came_in(
    bot: Harness,
) -> None:
    """A search feed's first poll records weeks of old stories: a new install's topic looked
    14 days old at once, though the detector counts only stories that came in as news, so its
    usual level read "0.0 ± 0.0" and five ordinary stories in six hours were a spike, every 12
    hours. The history begins with the first story that came in."""
    install = T0 - 12 * H
    gnews = FeedState(id="gnews", url="u3", title="Google News")
    backlog = [
        ItemRecord(f"b{n}", None, f"https://g.example/b{n}", f"Kuril item {n}", "",
                   install - n * 8 * H, ("kuril",))
        for n in range(60)
    ]  # fmt: skip
    await bot.store.run(Store.ingest, gnews, backlog, now=install, alert=False)

    async def news(at: datetime, title: str) -> None:
        record = ItemRecord(title, None, f"https://g.example/{title}", title, "", at, ("kuril",))
        await bot.store.run(Store.ingest, gnews, [record], now=at, alert=True)

    for n in range(12):  # one story an hour, from half an hour after the install
        await news(install + timedelta(minutes=30) + n * H, f"Iturup item {n}")
    await bot.say("/subscribe kuril")
    await bot.say("/spikes on")
    insights = Insights(bot.ctx, bot.app.bot)
    assert await insights.check_spikes() == []  # six stories in six hours: no spike
    # two weeks on, a burst: not judged until its window 14 days back was watched too
    judged = install + timedelta(minutes=30) + 14 * D + 6 * H
    for k in range(9):
        await news(judged - timedelta(minutes=20 + 30 * k), f"Etorofu burst {k}")
    bot.clock.now = judged - timedelta(minutes=1)
    assert await insights.check_spikes() == []
    bot.clock.now = judged
    assert await insights.check_spikes() == ["kuril"]
    [notice] = await bot.store.run(Store.notices)
    assert "9 stories in the last 6 hours (usually 0.4 ± 1.5)." in notice["text"]


@pytest.mark.parametrize(
    ("lang", "title", "zone"),
    [
        (
            "ja",
            "北方領土問題と日露平和条約交渉に関する最新ニュースと解説",
            "America/Argentina/Buenos_Aires",
        ),
        ("ru", "Мирный договор между Россией и Японией и Курилы", "America/Argentina/Buenos_Aires"),
        ("en", "WORLD WAR MEMORIALS ON THE KURIL ISLANDS", "Europe/Berlin"),
    ],
)
def test_a_long_title_ends_before_the_time_zone(lang: str, title: str, zone: str) -> None:
    """The chart's title is cut so that it never runs into the time zone at its right, nor
    off the picture: 30 Japanese characters are twice as wide as 30 Latin ones."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    from bot.insights import charts

    chart = build_trend([], now=T0, tz=ZoneInfo(zone), days=7)
    charts.fonts()
    figure = charts._figure(chart, title=title, lang=lang, titles={})
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.axes[0]
    [shown] = [t for t in axes.findobj(Text) if t.get_text().startswith(title[:5])]
    [tz] = [t for t in axes.texts if t.get_text() == zone]
    assert shown.get_window_extent(renderer).x1 < tz.get_window_extent(renderer).x0


async def test_a_weekly_report_refused_with_a_long_flood_wait_waits_it_out(bot: Harness) -> None:
    """A 429 whose retry_after is over a minute was tried again at every minutely check,
    into the flood control it named; now the chat's report waits that long, then comes."""
    await seed(bot.store, history(3, 1))
    bot.clock.now = T0 - H
    await bot.say("/subscribe kuril")
    await bot.say("/report weekly fri 03:00")  # UTC
    insights = Insights(bot.ctx, bot.app.bot)
    bot.api.fail_retry_after("sendPhoto", 300, chat_id=USER)
    bot.clock.now = T0 + timedelta(minutes=1)
    assert await insights.send_reports() == 0
    tried = len(bot.api.calls_of("sendPhoto"))
    assert tried == 1
    for minutes in range(2, 6):  # each check within the wait
        bot.clock.now = T0 + timedelta(minutes=minutes)
        assert await insights.send_reports() == 0
    assert len(bot.api.calls_of("sendPhoto")) == tried
    bot.clock.now = T0 + timedelta(minutes=6, seconds=1)  # past the 300 s named
    assert await insights.send_reports() == 1
    [(params, _)] = bot.api.sent_photos(USER)
    assert params["caption"].startswith("<b>Weekly report</b>")


async def test_one_chats_report_failing_unexpectedly_stops_no_other_chats(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A chat whose stored settings break its report (here, a report time and quiet hours no
    version of /report or /quiet writes) ended the job, so no chat after it got its report;
    now the others get theirs, the broken chat is logged once with its id and tried again
    later, less often each time."""
    await seed(bot.store, history(3, 1))
    bot.clock.now = T0 - H
    for chat_id in (USER, OTHER, THIRD):
        await bot.say("/subscribe kuril", chat_id=chat_id)
        await bot.say("/report weekly fri 03:00", chat_id=chat_id)
    now = bot.clock.now
    await bot.store.run(Store.set_report, USER, "weekly fri 27:00", now=now)
    await bot.store.run(Store.set_prefs, OTHER, now=now, quiet="lunch")
    insights = Insights(bot.ctx, bot.app.bot)
    bot.clock.now = T0 + timedelta(minutes=1)
    with caplog.at_level("WARNING", logger="bot.insights.jobs"):
        assert await insights.send_reports() == 1
        assert [c for c in (USER, OTHER, THIRD) if bot.api.sent_photos(c)] == [THIRD]
        said = [r.getMessage() for r in caplog.records]
        assert sum(f"chat {USER}" in line for line in said) == 1, said
        assert sum(f"chat {OTHER}" in line for line in said) == 1, said
        caplog.clear()
        bot.clock.now += timedelta(minutes=1)  # within the backoff: not tried again yet
        assert await insights.send_reports() == 0
        assert caplog.records == []
    await bot.store.run(Store.set_prefs, OTHER, now=now, quiet="")  # mended
    bot.clock.now += timedelta(hours=1)
    assert await insights.send_reports() == 1
    assert len(bot.api.sent_photos(OTHER)) == 1 and not bot.api.sent_photos(USER)


async def test_a_weekly_report_telegram_does_not_take_waits_and_is_told_once(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram refusing the report for a while (a 429 of two minutes, three times; or down)
    must not have it drawn and tried again at every minutely check, with a warning each time."""
    await seed(bot.store, history(14, 1)[::-1])
    await bot.say("/subscribe kuril")
    await bot.say("/report weekly fri 04:00")
    insights = Insights(bot.ctx, bot.app.bot)
    bot.api.fail_retry_after("sendPhoto", 120, times=3)
    bot.clock.now = T0 + H
    sent = 0
    with caplog.at_level(logging.DEBUG, logger="bot.insights.jobs"):
        for _ in range(10):  # ten checks, a minute apart
            sent += await insights.send_reports()
            bot.clock.now += timedelta(minutes=1, seconds=1)
        assert sent == 1
        assert len(bot.api.calls_of("sendPhoto")) == 4  # every 2 minutes, not every minute
        warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warned) == 1 and "weekly report not sent" in warned[0]
    assert any("weekly report sent after 4 tries" in r.getMessage() for r in caplog.records)
    assert len(bot.api.sent_photos(USER)) == 1


async def sent_once(bot: Harness, insights: Insights, checks: int = 1) -> None:
    """The report due at T0 is not sent again at the next `checks` hourly checks: one photo,
    and the chat's record says T0."""
    for _ in range(checks):
        bot.clock.now += H
        assert await insights.send_reports() == 0
    assert len(bot.api.sent_photos(USER)) == 1
    [chat] = await bot.store.run(Store.report_chats)
    assert chat.sent_at == T0


async def test_a_weekly_report_sent_but_not_recorded_is_not_sent_again(
    bot: Harness, tmp_path: Path
) -> None:
    """The report went out, but the store was locked as its sending was recorded (a backup):
    the chat was held as a failure, then its report drawn and sent again; now only the record
    is written again."""
    from tests.conftest import short_busy_timeout
    from tests.test_notices import LockOnWrite

    await seed(bot.store, history(3, 1))
    bot.clock.now = T0 - H
    await bot.say("/subscribe kuril")
    await bot.say("/report weekly fri 03:00")  # UTC
    insights = Insights(bot.ctx, bot.app.bot)
    await bot.store.run(short_busy_timeout)
    lock = LockOnWrite(tmp_path / "kw.db", "UPDATE subscribers SET report_sent_at")
    await bot.store.run(lock.install())
    bot.clock.now = T0 + timedelta(minutes=1)
    try:
        await insights.send_reports()
        assert lock.locked.is_set() and len(bot.api.sent_photos(USER)) == 1
    finally:
        lock.release()
        await bot.store.run(lambda s: s.db.conn.set_trace_callback(None))
    from bot.delivery import unrecorded

    # kept beside the store too: a stop before the hold's end would have lost it
    kept = unrecorded.read(unrecorded.journal(bot.store.path)).kept
    assert kept == [unrecorded.SentReport(USER, T0, T0 + timedelta(minutes=1))]
    await sent_once(bot, insights, checks=3)  # past the hold


async def test_a_weekly_report_a_stop_cut_from_its_record_is_recorded_at_the_next_start(
    bot: Harness, tmp_path: Path
) -> None:
    """The report went out, and the store was locked until the stop cancelled the write of its
    record: the holds that would write it again died with the daemon, and the next start sent
    the report twice. It is kept beside the store and recorded at the next start instead."""
    from bot.delivery import unrecorded
    from tests.test_notices import LockOnWrite

    await seed(bot.store, history(3, 1))
    bot.clock.now = T0 - H
    await bot.say("/subscribe kuril")
    await bot.say("/report weekly fri 03:00")  # UTC
    await bot.store.run(lambda s: s.db.execute("PRAGMA busy_timeout = 3000"))
    lock = LockOnWrite(tmp_path / "kw.db", "UPDATE subscribers SET report_sent_at")
    await bot.store.run(lock.install())
    bot.clock.now = T0 + timedelta(minutes=1)
    running = asyncio.create_task(Insights(bot.ctx, bot.app.bot).send_reports())
    try:
        await asyncio.wait_for(lock.locked.wait(), 20)
        running.cancel()  # the stop's grace is over
        with pytest.raises(asyncio.CancelledError):
            await running
        await bot.store.run(lambda s: None)  # the write, waiting for the lock, has failed
    finally:
        lock.release()
        await bot.store.run(lambda s: s.db.conn.set_trace_callback(None))
    assert len(bot.api.sent_photos(USER)) == 1
    [chat] = await bot.store.run(Store.report_chats)
    assert chat.sent_at == T0 - H  # set with the schedule: the sending was not recorded
    assert unrecorded.read(unrecorded.journal(bot.store.path)).kept == [
        unrecorded.SentReport(USER, T0, T0 + timedelta(minutes=1))
    ]
    assert await unrecorded.record_kept(bot.store) == 1  # the next start
    await sent_once(bot, Insights(bot.ctx, bot.app.bot))


async def test_the_daemons_reports_wait_for_the_sends_the_last_stop_kept_to_be_recorded(
    bot: Harness,
) -> None:
    """A report whose record a stop cut is due again until the kept record is written: the
    report check ran as soon as Telegram was signed in, before the delivery worker wrote it."""
    from bot.daemon import Daemon

    daemon = Daemon(Config.model_validate({"topics": shipped_topics()}), None)
    assert not daemon._insights_ready()  # no Telegram side
    daemon._app = bot.app
    worker = DeliveryWorker(bot.store, bot.app.bot, clock=bot.clock)
    daemon.delivery = worker
    assert not daemon._insights_ready()  # signed in, the kept sends not yet recorded
    running = asyncio.create_task(worker.run())
    try:
        await bot.api.wait_for_async(lambda: worker.kept_recorded, 20, "the kept sends recorded")
        assert daemon._insights_ready()
    finally:
        worker.stop()
        await asyncio.wait_for(running, 20)


def test_a_reports_record_is_kept_beside_the_store_once_however_often_its_write_fails() -> None:
    """Each failed retry of the record added a line: a week's outage of the store's writes
    filled the file past what the next start reads."""
    holds = Holds()
    assert holds.journal(USER, T0) and not holds.journal(USER, T0)
    assert holds.journal(USER, T0 + 7 * D)  # next week's report
    holds.done(USER)
    assert holds.journal(USER, T0 + 7 * D)


def test_a_reports_hold_set_while_the_clock_ran_ahead_waits_from_when_it_was_set_back() -> None:
    """A report that failed while the wall clock ran two days ahead (then NTP set it back)
    waited out the two days too, not only its 5 minutes or Telegram's flood wait."""
    holds = Holds()
    holds.failed(USER, T0 + 2 * D)  # 5 minutes
    assert holds.held(USER, T0) and holds.held(USER, T0 + 4 * M)  # set back: from now
    assert not holds.held(USER, T0 + 5 * M)
    holds.unsent(OTHER, T0 + 2 * D, 30 * M)  # a flood wait of 30 minutes
    assert holds.held(OTHER, T0 + 5 * M) and holds.held(OTHER, T0 + 34 * M)
    assert not holds.held(OTHER, T0 + 35 * M)


async def test_a_weekly_report_recorded_while_the_clock_ran_ahead_comes_at_its_next_time(
    bot: Harness,
) -> None:
    """A report sent while the wall clock ran a month ahead was recorded as sent then: once
    NTP set the clock back, no report came for the month. It comes at its next time, once."""
    await seed(bot.store, history(14, 1))
    await bot.say("/subscribe kuril")
    await bot.say("/timezone Asia/Tokyo")
    await bot.say("/report weekly fri 18:00")  # Friday 09:00 UTC: T0 + 6 h
    insights = Insights(bot.ctx, bot.app.bot)
    bot.clock.now = T0 + 30 * D  # the wall clock a month ahead: "Sunday"'s report goes out
    assert await insights.send_reports() == 1
    bot.clock.now = T0 + 5 * M  # set back
    assert await insights.send_reports() == 0
    bot.clock.now = T0 + 6 * H + M
    assert await insights.send_reports() == 1
    bot.clock.now += M
    assert await insights.send_reports() == 0  # once
    bot.clock.now += 7 * D
    assert await insights.send_reports() == 1  # and a week later


async def test_a_spike_recorded_while_the_clock_ran_ahead_quiets_its_topic_12_hours_from_now(
    bot: Harness,
) -> None:
    """A spike found while the wall clock ran two days ahead (then NTP set it back) kept its
    topic quiet for the two days and then 12 hours. Its quiet counts from the check that
    finds it stamped after now."""
    insights = await spiking_both_topics(bot)
    await bot.store.run(Store.record_spike, "kuril", 9, {}, now=T0 + 2 * D)  # the clock ahead
    assert await insights.check_spikes() == ["peace-treaty"]  # kuril's: just announced
    assert await bot.store.run(Store.last_spike_at, "kuril") == T0
    for k in range(9):  # another burst, 7 to 11 hours later
        at = T0 + 11 * H - timedelta(minutes=10 + 25 * k)
        record = ItemRecord(f"x{k}", None, f"https://x.example/{k}", f"Shikotan {k}", "", at,
                            ("kuril",))  # fmt: skip
        await bot.store.run(Store.ingest, FEEDS[0], [record], now=at, alert=True)
    bot.clock.now = T0 + 11 * H
    assert await insights.check_spikes() == []
    bot.clock.now = T0 + 12 * H
    assert await insights.check_spikes() == ["kuril"]


def test_a_chat_no_longer_listed_is_forgotten_in_every_hold() -> None:
    """`keep` looked at the chats held until a time only: a chat whose report went out but
    whose record the store failed, then turned its report off, was kept; turned on again, its
    stale entry recorded an old report first."""
    holds = Holds()
    holds.out(USER, T0)
    assert holds.journal(USER, T0)
    holds.failed(OTHER, T0)
    holds.keep({OTHER})
    assert holds.unrecorded(USER) is None and holds.journal(USER, T0)
    assert holds.held(OTHER, T0)


async def spiking_both_topics(bot: Harness) -> Insights:
    """A burst of stories of both shipped topics, and a chat that wants spike notices of both."""
    both = ("kuril", "peace-treaty")
    quiet = history(20, 2, both)
    burst = [(T0 - timedelta(minutes=10 + 25 * k), f"Iturup talks {k}", both) for k in range(9)]
    await seed(bot.store, quiet + burst, also=len(quiet) + 2, first_poll=False)
    await bot.say("/subscribe kuril peace-treaty")
    await bot.say("/spikes on")
    return Insights(bot.ctx, bot.app.bot)


class OperatorZone(tzinfo):
    """`telegram.timezone` (UTC+3): the zone of chats that set none. Counts the times it
    places a story, and whether any was on the event loop."""

    def __init__(self) -> None:
        self.placed = 0
        self.on_loop = False

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return 3 * H

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "+03"

    def fromutc(self, dt: datetime) -> datetime:
        self.placed += 1
        try:
            asyncio.get_running_loop()
            self.on_loop = True
        except RuntimeError:  # a thread's
            pass
        return dt + 3 * H


async def test_a_spikes_notices_are_built_off_the_event_loop_once_per_language_and_zone(
    bot: Harness,
) -> None:
    """A spike of a topic 10,000 chats follow held the event loop 0.81 s (15.5 s with 2,001
    topics in the config) building each chat's notice in turn: a text per chat, each
    translating every topic's title. Chats of a language and time zone share one text, built on
    a thread."""
    insights = await spiking_both_topics(bot)  # USER: English, the operator's zone
    zone = bot.ctx.tz = OperatorZone()
    chats = {
        1000 + n: (code, "Asia/Tokyo" if n in (2, 9) else None)  # ja, en-GB
        for n, code in enumerate(["ru", "ru-RU", "ja", "en-GB", "de", None] * 5)
    }
    for chat_id, (code, tz) in chats.items():
        await bot.store.run(Store.upsert_subscriber, chat_id, now=T0, language_code=code)
        await bot.store.run(Store.subscribe, chat_id, "kuril", now=T0)
        await bot.store.run(Store.set_spikes, chat_id, True, now=T0)
        await bot.store.run(Store.set_prefs, chat_id, now=T0, timezone=tz)
    chats[USER] = ("en", None)
    assert await insights.check_spikes() == ["kuril", "peace-treaty"]
    *notices, treaty = await bot.store.run(Store.notices)  # peace-treaty's: USER's alone
    kuril = {n["chat_id"]: n["text"] for n in notices}
    assert set(kuril) == set(chats)
    by_pair: dict[tuple[str, str | None], set[str]] = {}
    for chat_id, (code, tz) in chats.items():
        by_pair.setdefault((language(code), tz), set()).add(kuril[chat_id])
    assert {pair: len(texts) for pair, texts in by_pair.items()} == dict.fromkeys(by_pair, 1)
    [[ru], [ja], [en], [ja_tokyo]] = [
        by_pair[pair] for pair in (("ru", None), ("ja", None), ("en", None), ("ja", "Asia/Tokyo"))
    ]
    assert ru.startswith("📈 Всплеск: Курильские острова") and ja != ja_tokyo
    # the operator's zone placed the stories of the texts without a zone (kuril's three,
    # peace-treaty's one), off the loop
    listed = len(re.findall(r"^\d\. ", en, re.MULTILINE))
    assert treaty["chat_id"] == USER and listed == 5
    assert not zone.on_loop and zone.placed == (3 + 1) * listed


async def test_a_topic_a_reload_removes_during_the_spike_check_stops_no_other(
    bot: Harness,
) -> None:
    """A reload that removed a topic while the spike check read its chats from the store made
    the check fail (its title was gone), so no topic after it was checked until the next run."""
    insights = await spiking_both_topics(bot)
    kept = [t for t in bot.ctx.topics if t.id != "kuril"]

    def reload_meanwhile(statement: str) -> None:  # on the store thread, as the chats are read
        if "c.spikes = 1 AND s.topic_id" in statement:
            bot.ctx.topics = kept

    await bot.store.run(lambda store: store.db.conn.set_trace_callback(reload_meanwhile))
    assert await insights.check_spikes() == ["peace-treaty"]
    [notice] = await bot.store.run(Store.notices)
    assert notice["text"].startswith("📈 Spike: Russia")


async def test_a_spike_check_the_store_fails_is_tried_again_in_a_minute(
    bot: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store locked past its busy timeout (a backup) as a spike was recorded failed the
    whole check, every topic's, until the next one 10 minutes later (the burst news by then)."""
    import sqlite3

    from tests.conftest import short_busy_timeout

    insights = await spiking_both_topics(bot)
    await bot.store.run(short_busy_timeout)
    other = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert await insights.check_spikes() == []
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert caplog.text.count("failed (OperationalError: database is locked); again in 60 s") == 2
    assert await insights.retry_spikes() == []  # not before its minute
    bot.clock.now += timedelta(minutes=1)
    assert await insights.retry_spikes() == ["kuril", "peace-treaty"]
    assert len(await bot.store.run(Store.notices)) == 2
    assert await insights.retry_spikes() == []  # done
