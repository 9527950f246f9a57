"""The trend core, the spike detector and the store's stories over time, without Telegram."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.plan import digest_times
from bot.delivery.render import units
from bot.i18n import texts
from bot.insights.jobs import ReportTimes, _zone
from bot.insights.spikes import SpikeRule, detect, last_announced, window_counts
from bot.insights.trends import (
    MAX_CAPTION,
    TrendArgError,
    build_trend,
    caption,
    fit,
    parse_trend_args,
    plain_caption,
    query_range,
    script_lang,
    spike_text,
    to_csv,
    visible_length,
    weekly_report,
)
from store import FeedState, ItemRecord, ReportChat, Store, StoryPoint

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday; 12:00 in Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)
D = timedelta(days=1)


def point(n: int, at: datetime, title: str = "Kuril drills", **kw: object) -> StoryPoint:
    fields: dict[str, object] = {
        "story_id": n,
        "at": at,
        "topics": ("kuril",),
        "feed_id": "tass",
        "outlet": "TASS",
        "title": title,
        "link": f"https://x.example/{n}",
        "outlets": 1,
    }
    fields.update(kw)
    return StoryPoint(**fields)  # type: ignore[arg-type]


# -- the spike detector ------------------------------------------------------------------------


def daily(per_window: list[int], *, extra: int = 0, current: int = 0) -> list[datetime]:
    """Story times: per_window[d - 1] stories in the same 6 hours d days back, `current` in the
    last 6 hours, and `extra` outside every window (midday-to-evening, to show they are ignored)."""
    times = []
    for d, n in enumerate(per_window, start=1):
        times += [NOW - d * D - timedelta(minutes=20 + 30 * k) for k in range(n)]
        times += [NOW - d * D - 12 * H - timedelta(minutes=k) for k in range(extra)]
    times += [NOW - timedelta(minutes=5 + 20 * k) for k in range(current)]
    return sorted(times)


LONG_AGO = NOW - 60 * D


@pytest.mark.parametrize(
    ("case", "times", "first", "spike"),
    [
        ("flat series", daily([3] * 14, extra=5, current=3), LONG_AGO, False),
        ("flat, one more than usual", daily([3] * 14, current=4), LONG_AGO, False),
        (
            "one burst",
            daily([1, 2, 1, 0, 2, 1, 1, 2, 0, 1, 1, 2, 1, 1], current=12),
            LONG_AGO,
            True,
        ),
        ("slow growth", daily(list(range(14, 0, -1)), current=15), LONG_AGO, False),
        ("quiet topic's two stories", daily([0] * 14, current=2), LONG_AGO, False),
        (
            "gaps, then a burst",
            daily([0, 0, 4, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0], current=14),
            LONG_AGO,
            True,
        ),
        (
            "gaps, a usual-sized day",
            daily([0, 0, 4, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0], current=5),
            LONG_AGO,
            False,
        ),
        ("burst of a new topic", daily([0] * 14, current=30), NOW - 3 * D, False),
        ("a topic with no stories at all", [], None, False),
        # its first live story 14 days ago: the hours of the window 14 days back were not watched
        ("burst of a topic watched 14 days", daily([0] * 14, current=8), NOW - 14 * D, False),
        ("burst just old enough a topic", daily([0] * 14, current=8), NOW - 14 * D - 6 * H, True),
    ],
)
def test_the_detector(
    case: str, times: list[datetime], first: datetime | None, spike: bool
) -> None:
    found = detect(times, NOW, live_since=first)
    assert (found is not None) == spike, case
    if found is not None:
        assert found.count > found.threshold and found.count >= SpikeRule().min_stories


def test_window_counts_compare_the_same_hours_of_each_day() -> None:
    times = daily([1, 2, 3] + [0] * 11, extra=7, current=4)
    current, history = window_counts(times, NOW)
    assert current == 4 and history[:3] == [1, 2, 3] and sum(history) == 6
    # edges: exactly 6 h ago is in the window, exactly now is not, exactly 1 day ago is not
    current, history = window_counts([NOW - 6 * H, NOW, NOW - D, NOW - D - 6 * H], NOW)
    assert current == 1 and history[0] == 1


def test_a_topic_is_announced_at_most_once_per_12_hours() -> None:
    times = daily([1] * 14, current=10)
    assert detect(times, NOW, live_since=LONG_AGO, last_spike_at=NOW - 11 * H) is None
    assert detect(times, NOW, live_since=LONG_AGO, last_spike_at=NOW - 13 * H) is not None
    # stamped while the wall clock ran two days ahead: announced now, not in two days
    assert last_announced(NOW + 2 * D, NOW) == NOW and last_announced(None, NOW) is None
    assert detect(times, NOW, live_since=LONG_AGO, last_spike_at=NOW + 2 * D) is None


# -- trends ------------------------------------------------------------------------------------


def test_stories_per_local_day_with_the_period_before() -> None:
    points = [
        point(1, datetime(2026, 11, 26, 14, 59, tzinfo=UTC)),  # 23:59 on the 26th in Tokyo
        point(2, datetime(2026, 11, 26, 15, 0, tzinfo=UTC), "Курилы"),  # 00:00 on the 27th
        point(3, datetime(2026, 11, 27, 1, 0, tzinfo=UTC), "北方領土"),
        point(4, datetime(2026, 11, 20, 16, 0, tzinfo=UTC)),  # the 21st: first day of 7
        point(5, datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),  # the 20th: the week before
        point(6, datetime(2026, 11, 14, 0, 0, tzinfo=UTC)),  # the 14th: the week before
        point(7, datetime(2026, 11, 13, 0, 0, tzinfo=UTC)),  # too old for either
        # 23:00 on the 20th: later in its day than now (12:00) is in today, so not compared
        point(8, datetime(2026, 11, 20, 14, 0, tzinfo=UTC)),
    ]
    trend = build_trend(points, now=NOW, tz=TOKYO, days=7)
    assert trend.days[0] == date(2026, 11, 21) and trend.days[-1] == date(2026, 11, 27)
    assert trend.per_day == (1, 0, 0, 0, 0, 1, 2)
    assert dict(trend.series) == {
        "ru": (0, 0, 0, 0, 0, 0, 1),
        "ja": (0, 0, 0, 0, 0, 0, 1),
        "en": (1, 0, 0, 0, 0, 1, 0),
    }
    assert (trend.total, trend.previous_total, trend.busiest) == (4, 2, (date(2026, 11, 27), 2))
    assert trend.change == 1.0
    text = caption(trend, title="Kuril Islands", lang="en")
    assert "Stories: <b>4</b> (up 100% on the 7 days before, to the same time of day (2))" in text
    assert "Busiest day: Fri 27 Nov, 2 stories" in text
    assert "By language: Russian 1, Japanese 1, English 2" in text
    assert "Asia/Tokyo" in text
    since, until = query_range(NOW, TOKYO, 7)
    assert since == datetime(2026, 11, 14, tzinfo=TOKYO) and until == NOW


@pytest.mark.parametrize(
    ("lang", "days", "said"),
    [
        ("en", 1, "(up 100% on the 1 day before, to the same time of day (1))"),
        ("en", 7, "(up 100% on the 7 days before, to the same time of day (1))"),
        ("ru", 1, "(на 100\u00a0% больше, чем за предыдущий 1 день к тому же времени суток (1))"),
        ("ru", 3, "(на 100\u00a0% больше, чем за предыдущие 3 дня к тому же времени суток (1))"),
        ("ru", 7, "(на 100\u00a0% больше, чем за предыдущие 7 дней к тому же времени суток (1))"),
        ("ja", 1, "(前の1日間の同時刻まで（1）より100%増)"),
    ],
)
def test_a_change_counts_the_days_before_in_the_reader_s_plural(
    lang: str, days: int, said: str
) -> None:
    """It said "on the 1 days before": the days were no plural count."""
    points = [point(1, NOW - H), point(2, NOW - 2 * H), point(3, NOW - days * D - H)]
    trend = build_trend(points, now=NOW, tz=TOKYO, days=days)
    assert (trend.total, trend.previous_total) == (2, 1)
    assert said in caption(trend, title="Kuril Islands", lang=lang)


def test_a_morning_is_compared_with_the_same_hours_of_the_period_before() -> None:
    # 12:00 in Tokyo: today so far had 3 stories, as had the same day a week ago by 12:00;
    # that day's afternoon (5 more) is not yet comparable, so it is no drop
    week_ago = NOW - 7 * D
    points = [point(n, NOW - n * H) for n in range(1, 4)]
    points += [point(10 + n, week_ago - n * H) for n in range(1, 4)]
    points += [point(20 + n, week_ago + n * H) for n in range(1, 6)]
    trend = build_trend(points, now=NOW, tz=TOKYO, days=7)
    assert (trend.total, trend.previous_total, trend.change) == (3, 3, 0.0)
    text = caption(trend, title="Kuril Islands", lang="en")
    assert "(as many as the 7 days before, to the same time of day)" in text
    # a story exactly at the same time a week ago is after the span, as one now is after it
    edge = build_trend([point(1, week_ago)], now=NOW, tz=TOKYO, days=7)
    assert edge.previous_total == 0


def test_captions_in_russian_and_japanese_and_without_stories() -> None:
    trend = build_trend([point(1, NOW - H)], now=NOW, tz=TOKYO, days=30)
    ru = caption(trend, title="Курилы", lang="ru")
    assert (
        "Событий: <b>1</b> (за предыдущие 30 дней к тому же времени суток не было)" in ru
        and "пт 27.11" in ru
    )
    ja = caption(trend, title="北方領土", lang="ja")
    assert "ニュース数: <b>1</b>" in ja and "11月27日（金）" in ja and "英語 1" in ja
    assert ja.startswith("<b>北方領土</b>、過去30日間 (Asia/Tokyo)"), ja  # not "…, 過去30日間"
    two = build_trend([point(1, NOW - H), point(2, NOW - H, "Учения")], now=NOW, tz=TOKYO, days=7)
    assert "言語別: ロシア語 1、英語 1" in caption(two, title="北方領土", lang="ja")
    empty = build_trend([], now=NOW, tz=TOKYO, days=7)
    assert "No stories in this period." in caption(empty, title="t", lang="en")
    assert empty.busiest is None and empty.change is None


def test_a_zone_set_as_an_offset_is_named_as_the_chat_wrote_it() -> None:
    # /timezone UTC+3 keeps POSIX's Etc/GMT-3, which reads as three hours behind UTC
    zone = ZoneInfo("Etc/GMT-3")
    trend = build_trend([point(1, NOW - H)], now=NOW, tz=zone, days=7)
    assert trend.tz_name == "UTC+3"
    for lang in ("en", "ru", "ja"):
        assert "Etc/GMT" not in caption(trend, title="Курилы", lang=lang)
        _, report = weekly_report(
            [], now=NOW, tz=zone, topics=["kuril"], titles={"kuril": "Курилы"}, lang=lang
        )
        assert "UTC+3" in report and "Etc/GMT" not in report


def test_by_outlet_keeps_the_busiest_and_calls_the_rest_other() -> None:
    outlets = ["TASS"] * 5 + ["NHK"] * 4 + ["Kyodo"] * 3 + ["RIA", "RBC", "Sakh.com"]
    points = [point(n, NOW - H, outlet=o) for n, o in enumerate(outlets)]
    trend = build_trend(points, now=NOW, tz=UTC, days=7, by="outlet", top=3)
    assert trend.totals() == [("TASS", 5), ("NHK", 4), ("Kyodo", 3), ("other", 3)]
    one_more = build_trend(points[:-1], now=NOW, tz=UTC, days=7, by="outlet", top=3)
    assert ("other", 2) in one_more.totals()
    two = build_trend(points[:-2], now=NOW, tz=UTC, days=7, by="outlet", top=3)
    assert ("RIA", 1) in two.totals()  # one outlet is never "other" on its own
    assert to_csv(trend).splitlines()[:2] == [
        "date,total,TASS,NHK,Kyodo,other",
        "2026-11-21,0,0,0,0,0",
    ]
    assert to_csv(trend).splitlines()[-1] == "2026-11-27,15,5,4,3,3"
    by_lang = build_trend(points, now=NOW, tz=UTC, days=7)
    assert to_csv(by_lang).splitlines()[0] == "date,total,ru,ja,en,other"  # always these
    assert to_csv(by_lang).splitlines()[-1] == "2026-11-27,15,0,0,15,0"


def test_script_lang_and_trend_arguments() -> None:
    assert [script_lang(t) for t in ("Kuril", "Итуруп", "北方領土", "エトロフ", "", "2026")] == [
        "en",
        "ru",
        "ja",
        "ja",
        "other",
        "other",
    ]
    ids = ["kuril", "peace-treaty"]
    assert parse_trend_args([], ids, "kuril") == ("kuril", 30, "lang")
    assert parse_trend_args(["90d", "peace-treaty"], ids, "kuril") == ("peace-treaty", 90, "lang")
    assert parse_trend_args(["#Kuril", "7D", "outlets"], ids, "x") == ("kuril", 7, "outlet")
    with pytest.raises(TrendArgError, match="7d, 30d or 90d"):
        parse_trend_args(["14d"], ids, "kuril")
    with pytest.raises(TrendArgError, match="not a topic; write one of kuril, peace-treaty"):
        parse_trend_args(["kurils"], ids, "kuril")
    # a repeat is no error (it was: "'kuril' is not a topic; write one of kuril, ...")
    repeated = ["kuril", "7d", "outlets", "#Kuril", "7D", "sources"]
    assert parse_trend_args(repeated, ids, "x") == ("kuril", 7, "outlet")
    for two, says in (
        (["kuril", "peace-treaty"], "one topic at a time"),
        (["7d", "30d"], "one period at a time"),
        (["outlets", "languages"], "not both"),
    ):
        with pytest.raises(TrendArgError, match=says):
            parse_trend_args(two, ids, "kuril")
    many = [f"topic-{n:04}" for n in range(2000)]
    with pytest.raises(TrendArgError) as error:
        parse_trend_args(["kurils"], many, "topic-0000")
    text = error.value.text(texts("en"))
    assert "write one of topic-0000, topic-0001," in text and "topic-0019, … (+1980)" in text
    assert len(text) < 1000  # the ids of every topic were one reply of dozens of messages
    # listed in the reader's way: Japanese lists with 、, not an ASCII comma
    assert "topic-0000、topic-0001、" in error.value.text(texts("ja"))
    with pytest.raises(TrendArgError) as error:
        parse_trend_args(["kurils"], ids, "kuril")
    assert "kuril、peace-treaty" in error.value.text(texts("ja"))


def test_no_change_is_given_against_a_period_the_store_was_not_all_recording() -> None:
    """A new install's feeds bring their backlogs at their first polls: the last days hold
    stories and the period before hardly any, so "up 300%" would be the install, not news."""
    points = [point(n, NOW - n * D, f"Kuril drills {n}") for n in range(1, 12)]
    week_ago = NOW - 7 * D
    trend = build_trend(points, now=NOW, tz=TOKYO, days=7, recorded_since=NOW - 3 * D)
    assert (trend.total, trend.previous_total, trend.change) == (6, 4, None)
    text = caption(trend, title="Kuril Islands", lang="en")
    assert "Stories: <b>6</b>\n" in text and "days before" not in text
    full = build_trend(points, now=NOW, tz=TOKYO, days=7, recorded_since=week_ago - 7 * D)
    assert full.change == 0.5  # recording from the start of the period before: compared
    assert "up 50% on the 7 days before" in caption(full, title="Kuril Islands", lang="en")
    _, report = weekly_report(
        points, now=NOW, tz=TOKYO, topics=["kuril"], titles={}, lang="ru",
        recorded_since=NOW - 3 * D,
    )  # fmt: skip
    assert report.splitlines()[1] == "kuril: <b>6</b>"
    with Store(":memory:") as store:
        assert store.recording_since() is None
        record = ItemRecord("a", None, "https://x/a", "a", "", NOW - 9 * D, ("kuril",))
        store.ingest(FeedState(id="f", url="u"), [record], now=NOW - 2 * D, alert=False)
        assert store.recording_since() == NOW - 2 * D  # fetched, not published


def test_the_weekly_report_and_a_spike_notice() -> None:
    points = [
        point(1, NOW - 2 * D, "Drills on Iturup", outlets=4, outlet="TASS"),
        point(2, NOW - 3 * D, "Motegi: talks <go> on", outlets=6, topics=("peace-treaty",)),
        point(3, NOW - H, "Kyodo: visit", outlets=1, link=None),
        point(4, NOW - 9 * D, "old", outlets=9),  # the week before: counted, not a top story
    ]
    titles = {"kuril": "Kuril Islands", "peace-treaty": "Peace treaty"}
    chart, text = weekly_report(
        points, now=NOW, tz=TOKYO, topics=["kuril", "peace-treaty"], titles=titles, lang="en"
    )
    assert dict(chart.totals()) == {"kuril": 2, "peace-treaty": 1}
    lines = text.splitlines()
    assert lines[0] == "<b>Weekly report</b> 21 Nov–27 Nov (Asia/Tokyo)"
    assert lines[1] == (
        "Kuril Islands: <b>2</b> (up 100% on the 7 days before, to the same time of day (1))"
    )
    assert lines[2] == "Peace treaty: <b>1</b> (none in the 7 days before, to the same time of day)"
    assert lines[5].startswith('1. <a href="https://x.example/2">Motegi: talks &lt;go&gt; on</a>')
    assert lines[5].endswith("— TASS, 6 outlets") and lines[6].startswith("2. <a")
    assert lines[7] == "3. Kyodo: visit — TASS, 1 outlet"
    notice = spike_text(
        9, 1.25, 0.5, points[:3], title="Kuril Islands", lang="ru", tz=TOKYO
    ).splitlines()
    assert notice[0] == "📈 Всплеск: Kuril Islands"
    assert notice[1] == "9 событий за последние 6 часов (обычно 1,2 ± 0,5)."
    assert notice[4].startswith("1. Motegi: talks <go> on (TASS, ") and "6 источников" in notice[4]
    _, ja = weekly_report(points, now=NOW, tz=TOKYO, topics=["kuril"], titles=titles, lang="ja")
    assert "— TASS、4媒体" in ja, ja
    notice = spike_text(9, 1.25, 0.5, points[:1], title="北方領土", lang="ja", tz=TOKYO)
    assert "(TASS、" in notice and "、4媒体)" in notice, notice


def test_a_spike_notice_of_long_links_drops_whole_stories_to_fit_a_message() -> None:
    # Google News links of 900 characters: five made the notice longer than a message, and
    # the cut at 4,096 characters (4,097 units with its 📈) left Telegram refusing it
    link = "https://news.google.com/rss/articles/CBMi" + "A" * 900 + "?oc=5"
    points = [point(n, NOW - n * H, f"Учения {n}", link=f"{link}{n}") for n in range(1, 6)]
    text = spike_text(9, 1.0, 0.5, points, title="Курилы", lang="ru", tz=TOKYO)
    assert units(text) <= 4096 and text.startswith("📈")
    shown = [line.strip() for line in text.splitlines() if line.startswith("   ")]
    assert 1 <= len(shown) < 5 and all(line[len(link) :].isdigit() for line in shown)


def test_a_weekly_report_of_many_topics_draws_the_busiest_and_the_rest_as_other() -> None:
    # a chat of 40 topics (/subscribe all): a series each made a legend of 10 rows over bars
    # squashed to a sliver; now the 5 busiest are series and the rest one "other"
    topics = [f"t{n:02}" for n in range(40)]
    points = [
        point(100 * n + k, NOW - (k + 1) * H, topics=(topic,))
        for n, topic in enumerate(topics)
        for k in range(1 + n % 7)
    ]
    titles = {t: t.upper() for t in topics}
    chart, text = weekly_report(points, now=NOW, tz=TOKYO, topics=topics, titles=titles, lang="en")
    assert len(chart.series) == 6 and chart.series[-1][0] == "other"
    assert all(n == 7 for _, n in chart.totals()[:5]) and chart.total == len(points)
    assert visible_length(text) <= MAX_CAPTION
    # the caption: the busiest topics that fit, in their order, how many more, and the top
    # stories (all 40 topics' lines used to push the top stories off the caption's end)
    lines = text.splitlines()
    listed = [line for line in lines if re.match(r"T\d\d: <b>", line)]
    counts = [int(re.findall(r"<b>(\d+)</b>", line)[0]) for line in listed]
    busiest = sorted((1 + n % 7 for n in range(40)), reverse=True)
    assert 5 <= len(listed) < 40 and sorted(counts, reverse=True) == busiest[: len(listed)]
    assert listed == sorted(listed)  # in the chat's order of topics
    more = next(line for line in lines if line.startswith("… and"))
    assert more == f"… and {40 - len(listed)} more topics"
    assert "<b>Top stories (by outlets)</b>" in lines and lines[-1].startswith("5. <a")
    few = weekly_report(points, now=NOW, tz=TOKYO, topics=topics[:3], titles=titles, lang="ru")
    assert "T02: <b>3</b>" in few[1] and "… " not in few[1]  # no cut when all fit


@given(st.lists(st.text(min_size=0, max_size=1500), min_size=1, max_size=8))
def test_fit_keeps_captions_under_telegrams_limit(lines: list[str]) -> None:
    import html

    markup = "\n".join(f"<b>{html.escape(line)}</b>" for line in lines)
    fitted = fit(markup)
    assert visible_length(fitted) <= MAX_CAPTION
    if visible_length(markup) <= MAX_CAPTION:
        assert fitted == markup


def test_a_long_report_still_fits_a_caption() -> None:
    points = [point(n, NOW - H, "Х" * 500 + "🏝" * 50, outlets=n) for n in range(1, 20)]
    _, text = weekly_report(
        points, now=NOW, tz=UTC, topics=["kuril"], titles={"kuril": "K" * 300}, lang="ru", top=10
    )
    assert visible_length(text) <= MAX_CAPTION and "Главные события" in text


def test_a_reports_caption_as_plain_text_shows_its_links_and_still_fits() -> None:
    """The plain caption sent when Telegram refuses its HTML shows each link's address, which
    the HTML hid: lines are dropped from the end to keep it within the caption's limit."""
    points = [point(n, NOW - H, f"Story {n} & co " + "х" * 90, outlets=n) for n in range(1, 6)]
    links = [dataclasses.replace(p, link=f"https://tass.example/{'a' * 150}{p.story_id}")
             for p in points]  # fmt: skip
    _, text = weekly_report(links, now=NOW, tz=UTC, topics=["kuril"], titles={}, lang="en")
    assert visible_length(text) <= MAX_CAPTION < len(text)
    plain = plain_caption(text)
    assert "<" not in plain and len(plain.encode("utf-16-le")) // 2 <= MAX_CAPTION
    shown = plain.splitlines()
    assert shown[:4] == [
        "Weekly report 21 Nov–27 Nov (UTC)",
        "kuril: 5 (none in the 7 days before, to the same time of day)",
        "",
        "Top stories (by outlets)",
    ]
    assert shown[4].startswith("1. Story 5 & co х") and shown[4].endswith("a5 — TASS, 5 outlets")
    assert 5 < len(shown) < len(text.splitlines())  # the last stories' lines went


# -- the store ---------------------------------------------------------------------------------


def test_story_points_read_stories_with_their_time_outlets_and_topics(tmp_path: object) -> None:
    with Store(":memory:") as store:
        tass = FeedState(id="tass", url="u", title="TASS")
        nhk = FeedState(id="nhk", url="u2")

        def add(
            feed: FeedState, guid: str, at: datetime, topics: tuple[str, ...], **kw: object
        ) -> int:
            record = ItemRecord(
                guid, None, f"https://x/{guid}", guid, "", kw.pop("published", at), topics, **kw
            )  # type: ignore[arg-type]
            return store.ingest(feed, [record], now=at, alert=False).stored[0].story_id

        first = add(tass, "a", NOW - 3 * D, ("kuril",))
        add(nhk, "a-nhk", NOW - 2 * D, ("kuril",), story_hint=first)  # joins: a second outlet
        add(tass, "b", NOW - D, ("peace-treaty",))
        add(tass, "c", NOW - H, ())  # matched nothing
        # first seen now, published five days ago: it counts on its own day
        add(nhk, "d", NOW, ("kuril", "peace-treaty"), published=NOW - 5 * D)
        add(nhk, "e", NOW - 2 * H, ("kuril",), published=NOW + D)  # a future date: first seen
        points = store.story_points(["kuril"], since=NOW - 10 * D, until=NOW + H)
        assert [(p.title, p.outlets, p.outlet) for p in points] == [
            ("d", 1, "nhk"),
            ("a", 2, "TASS"),
            ("e", 1, "nhk"),
        ]
        assert points[0].at == NOW - 5 * D and points[2].at == NOW - 2 * H
        both = store.story_points(["kuril", "peace-treaty"], since=NOW - 4 * D, until=NOW)
        assert [p.title for p in both] == ["a", "b", "e"]


def test_a_story_counts_for_the_topics_its_later_reports_matched(tmp_path: object) -> None:
    """A report that joins a story and matches another topic alerts that topic's subscribers
    (and the export lists the story under it): the topic's chart counts the story too, once."""
    with Store(":memory:") as store:
        tass, nhk = FeedState(id="tass", url="u", title="TASS"), FeedState(id="nhk", url="u2")

        def add(feed: FeedState, guid: str, url: str, at: datetime, topics: tuple[str, ...]) -> int:
            record = ItemRecord(guid, url, url, guid, "", at, topics)
            return store.ingest(feed, [record], now=at, alert=False).stored[0].story_id

        # its first report matched kuril only; a second outlet's report also peace-treaty
        a = add(tass, "a", "https://x/a", NOW - 3 * D, ("kuril",))
        assert add(nhk, "a2", "https://x/a", NOW - 2 * D, ("kuril", "peace-treaty")) == a
        # its first report matched nothing (a short summary); the second, with the same URL, did
        b = add(tass, "b", "https://x/b", NOW - D, ())
        assert add(nhk, "b2", "https://x/b", NOW - D + H, ("peace-treaty",)) == b
        points = store.story_points(["peace-treaty"], since=NOW - 10 * D, until=NOW)
        assert [(p.story_id, p.at, p.title, p.outlets) for p in points] == [
            (a, NOW - 3 * D, "a", 2),
            (b, NOW - D, "b", 2),
        ]
        assert set(points[0].topics) == {"kuril", "peace-treaty"}
        both = store.story_points(["kuril", "peace-treaty"], since=NOW - 10 * D, until=NOW)
        assert [p.story_id for p in both] == [a, b]  # each story once
        exported = {s.id for s in store.stories(["peace-treaty"])}
        assert exported == {p.story_id for p in points}


def test_a_topic_is_watched_live_since_its_first_story_that_came_in_as_news() -> None:
    """The spike detector's history begins with the first story recorded as it came in: not
    with the backlog a feed's first poll records (weeks of a search feed's stories), and not
    at an old date a later poll's story carries (a search feed brings up old articles too)."""
    with Store(":memory:") as store:
        search = FeedState(id="gnews", url="u", title="Google News")
        install = NOW - 3 * D

        def add(guid: str, at: datetime, published: datetime, *, alert: bool = True) -> None:
            record = ItemRecord(guid, None, f"https://x/{guid}", guid, "", published, ("kuril",))
            store.ingest(search, [record], now=at, alert=alert)

        backlog = [
            ItemRecord(f"old{n}", None, f"https://x/old{n}", f"old{n}", "", NOW - n * D, ("kuril",))
            for n in range(4, 30)
        ]
        store.ingest(search, backlog, now=install, alert=False)
        assert store.live_since("kuril") is None  # a backlog alone: nothing came in yet
        add("late", install + 2 * H, published=NOW - 40 * D)  # an old article, found later
        add("news", install + H, published=install + H - timedelta(minutes=5))
        add("next", install + 3 * H, published=install + 3 * H)
        assert store.live_since("kuril") == install + H
        assert store.live_since("nothing") is None


def test_stats_count_whole_utc_days_ending_today() -> None:
    """/stats and `kurilwatch stats` list stories per UTC day: the first day listed is a whole
    day, not the hours after this time of day a week ago."""
    with Store(":memory:") as store:
        feed = FeedState(id="tass", url="u", title="TASS")
        start = datetime(2026, 11, 17, tzinfo=UTC)
        now = datetime(2026, 11, 27, 12, tzinfo=UTC)
        for n in range(11):  # two stories a day, at 00:30 and 23:30, up to now
            for hour in (0.5, 23.5):
                at = start + n * D + hour * H
                if at > now:
                    continue
                guid = f"{n}-{hour}"
                record = ItemRecord(guid, None, f"https://x/{guid}", guid, "", at, ("kuril",))
                store.ingest(feed, [record], now=at, alert=False)
        per_day = store.stats(now=now).stories_per_day
        days = [(start + n * D).date().isoformat() for n in range(4, 11)]  # the 21st to the 27th
        assert dict(per_day) == {day: 2 for day in days[:-1]} | {days[-1]: 1}


def test_stats_count_a_story_a_later_report_brought_to_a_topic_and_no_watch_alone() -> None:
    """/stats counted a story by its first report's topics: one that a later report brought
    to a topic (as /trend and export count it) was left out, one a /watch alone matched in."""
    with Store(":memory:") as store:
        now = datetime(2026, 11, 27, 12, tzinfo=UTC)
        feed = FeedState(id="tass", url="u", title="TASS")
        store.ingest(feed, [], now=now - 3 * H, alert=False)
        first = ItemRecord("g1", None, "https://a/1", "Quake off Hokkaido", "", None, ())
        store.ingest(feed, [first], now=now - 2 * H, alert=True)
        [story] = [row["story_id"] for row in store.db.query("SELECT story_id FROM items")]
        later = ItemRecord(
            "g2", None, "https://b/1", "Quake off Iturup", "", None, ("kuril",), story_hint=story
        )
        watched = [
            ItemRecord(f"w{n}", None, f"https://c/{n}", title, "", None, ("@w1",))
            for n, title in enumerate(["Crab prices", "Salmon quotas"])
        ]
        store.ingest(feed, [later, *watched], now=now - H, alert=True)
        assert store.stats(now=now).stories_per_day == {"2026-11-27": 1}
        assert store.matched_stories(now - D) == 1


def test_an_outlet_named_like_a_formula_is_text_in_the_trend_csv() -> None:
    """A feed's title comes from the feed itself unless the config names it: a header cell of
    `kurilwatch trend --by outlet --csv` must not run in a spreadsheet."""
    points = [point(1, NOW - H, outlet='=HYPERLINK("http://x","y")'), point(2, NOW, outlet="TASS")]
    trend = build_trend(points, now=NOW, tz=TOKYO, days=7, by="outlet")
    header = next(csv.reader(io.StringIO(to_csv(trend))))
    assert header[:2] == ["date", "total"]
    assert sorted(header[2:]) == ['\'=HYPERLINK("http://x","y")', "TASS"]


# -- which weekly reports are due --------------------------------------------------------------

report_chat = st.tuples(
    st.sampled_from(["weekly mon 08:00", "weekly sun 02:30", "daily 23:59", "weekly fri 03:00"]),
    st.sampled_from([None, "Asia/Tokyo", "Europe/Moscow", "America/New_York", "Nowhere/Land"]),
    st.one_of(st.none(), st.integers(-30 * 24, 0)),  # last sent, hours from the start
)


@settings(max_examples=80, deadline=None)
@given(
    checks=st.lists(
        st.tuples(st.integers(0, 50 * 60), st.lists(report_chat, min_size=1, max_size=4)),
        max_size=6,
    )
)
def test_the_kept_report_times_find_the_chats_the_plain_rule_finds(
    checks: list[tuple[int, list[tuple[str, str | None, int | None]]]],
) -> None:
    """Every minute the due reports are looked for; the next due time kept per chat gives the
    chats (and due times) that working each one out again gives, as chats change their
    report, zone, or have theirs sent between checks."""
    times = ReportTimes()
    now = NOW
    for minutes, listed in checks:
        now += timedelta(minutes=minutes)
        chats = [
            ReportChat(n, report, None if sent is None else NOW + sent * H, zone, "en")
            for n, (report, zone, sent) in enumerate(listed)
        ]
        plain = []
        for chat in chats:
            tz = _zone(chat.timezone, TOKYO)
            due, _ = digest_times(chat.report, now, tz)
            if chat.sent_at is None or due > chat.sent_at:
                plain.append((chat.chat_id, tz, due))
        found = times.due(chats, now, TOKYO)
        assert [(chat.chat_id, tz, due) for chat, tz, due in found] == plain


def test_stories_whose_text_was_compacted_keep_their_language_on_the_chart() -> None:
    """store.retention (here 30 days) compacts old items' text, not their rows: a 90-day chart
    by language drew every story older than that as "other" (its title gone)."""
    with Store(":memory:") as store:
        tass = FeedState(id="tass", url="u", title="TASS")
        titles = {"ru": "Учения на Курилах", "ja": "北方領土で演習", "en": "Kuril drills"}
        for n in range(60):
            lang = ("ru", "ja", "en")[n % 3]
            at = NOW - (n + 1) * D
            record = ItemRecord(
                f"g{n}", None, f"https://x/{n}", titles[lang], "", at, ("kuril",), lang=lang
            )
            store.ingest(tass, [record], now=at, alert=False)
        before = build_trend(
            store.story_points(["kuril"], since=NOW - 90 * D, until=NOW), now=NOW, tz=UTC, days=90
        )
        store.prune(now=NOW, text_for=30 * D, keys_for=365 * D)
        points = store.story_points(["kuril"], since=NOW - 90 * D, until=NOW)
        assert sum(1 for p in points if not p.title) == 30  # compacted
        after = build_trend(points, now=NOW, tz=UTC, days=90)
        assert after.series == before.series
        assert dict(after.totals()) == {"ru": 20, "ja": 20, "en": 20}


def test_kurilwatch_trend_of_a_new_install_gives_no_change(tmp_path: Path) -> None:
    """`kurilwatch trend` set a store recording for two days against a week it never recorded
    ("+400%"), the artefact /trend and the weekly report leave out."""
    import io

    from bot import commands
    from bot.config import Config

    now = datetime.now(UTC)
    path = tmp_path / "kw.db"
    feed = FeedState(id="tass", url="u", title="TASS")
    with Store(path) as store:
        url = "https://n.example/o"
        old = ItemRecord("o", url, url, "Kuril quake", "s", now - timedelta(days=10), ("kuril",))
        store.ingest(feed, [old], now=now - timedelta(days=2), alert=False)  # the first poll
        for n, title in enumerate(["Iturup drills", "Shikotan port", "Kunashir bear"]):
            at = now - timedelta(hours=30 - 5 * n)
            url = f"https://n.example/{n}"
            record = ItemRecord(f"g{n}", url, url, title, "s", at, ("kuril",))
            store.ingest(feed, [record], now=at, alert=True)
    settings = Config.model_validate(
        {"store": {"path": str(path)}, "topics": {"kuril": {"title": "K", "query": "kuril"}}}
    )
    out = io.StringIO()
    assert commands.trend(settings, "kuril", 7, png=None, csv=tmp_path / "t.csv", out=out) == 0
    assert "not compared with the 7 days before" in out.getvalue() and "%" not in out.getvalue()
