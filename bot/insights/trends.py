"""Stories per day of a topic, stacked by news language, outlet or topic, and the numbers a
caption or a weekly report states (total, busiest day, change against the period before).

Pure functions of the stories and the clock; days are the chat's local days. The drawing is in
`bot.insights.charts`, the commands in `bot.telegram.insights`, the scheduled jobs in
`bot.insights.jobs`.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from babel.dates import format_date

from bot.delivery.plan import SettingError, zone_label
from bot.delivery.render import MAX_MESSAGE, fit_units, linked, plain_of, units
from bot.i18n import EN, N_, Quoted, Texts, listed, texts
from bot.operator.export import spreadsheet_cell
from store import StoryPoint

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
LANG_ORDER = ("ru", "ja", "en", "other")
TOP_OUTLETS = 5  # outlets (or topics) drawn on their own; the rest are "other"
MAX_CAPTION = 1024  # Telegram's limit, in UTF-16 code units of the visible text

_JA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_RU = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z]")

SERIES = {"ru": N_("Russian"), "ja": N_("Japanese"), "en": N_("English"), "other": N_("other")}


class TrendArgError(SettingError):
    """Bad /trend arguments; the message (a msgid) says what to write, and `{topics}` in it
    names `ids`, listed as the reader's language lists."""

    def __init__(self, message: str, *, ids: Sequence[str] = (), **values: str | Quoted) -> None:
        super().__init__(message, **values, **({"topics": some_of(ids, EN)} if ids else {}))
        self.ids = ids

    def text(self, tr: Texts) -> str:
        values = self.said(tr)
        return tr._(
            self.message, **({**values, "topics": some_of(self.ids, tr)} if self.ids else values)
        )


def day_label(day: date, lang: str, *, weekday: bool = False, short: bool = False) -> str:
    """A day in the reader's language: 27 Nov, with its weekday (Fri 27 Nov) when asked, or as
    short as a chart's axis wants it (27.11, 11/27) when short."""
    tr = texts(lang)
    if weekday:
        # Translators: a CLDR date pattern (https://cldr.unicode.org), not words to translate
        pattern = tr._("EEE d MMM")
    elif short:
        # Translators: a CLDR date pattern, not words: a day on a chart's axis, kept short
        pattern = tr._("dd MMM")
    else:
        # Translators: a CLDR date pattern (https://cldr.unicode.org), not words to translate
        pattern = tr._("d MMM")
    return str(format_date(day, pattern, locale=tr.lang))


def script_lang(title: str) -> str:
    """The news language of a title, by its script: kana or kanji ja, Cyrillic ru, Latin en."""
    if _JA.search(title):
        return "ja"
    if _RU.search(title):
        return "ru"
    return "en" if _LATIN.search(title) else "other"


BY = {"languages": "lang", "lang": "lang", "outlets": "outlet", "sources": "outlet"}


def some_of(ids: Sequence[str], tr: Texts, most: int = 20) -> str:
    """The first `most` ids, then how many more (/topics lists them): a config of thousands
    of topics must not make an error message dozens of messages long."""
    shown = list(ids[:most])
    return listed(tr, [*shown, f"… (+{len(ids) - most})"] if len(ids) > most else shown)


def parse_trend_args(
    args: Sequence[str], topic_ids: Sequence[str], default_topic: str
) -> tuple[str, int, str]:
    """`[topic] [7d|30d|90d] [outlets]` in any order → (topic id, days, stacking); 30 days
    and stacked by language by default."""
    topic, days, by = None, None, None
    for arg in (a.strip().lower().lstrip("#") for a in args):
        if arg in PERIODS:
            if days not in (None, PERIODS[arg]):  # a repeat of the same is no error
                raise TrendArgError(N_("{value}: one period at a time"), value=Quoted(arg))
            days = PERIODS[arg]
        elif arg in topic_ids:
            if topic not in (None, arg):
                raise TrendArgError(N_("{value}: one topic at a time"), value=Quoted(arg))
            topic = arg
        elif arg in BY:
            if by not in (None, BY[arg]):
                raise TrendArgError(
                    N_("{value}: stack by languages or by outlets, not both"), value=Quoted(arg)
                )
            by = BY[arg]
        elif re.fullmatch(r"\d+\w?", arg):
            raise TrendArgError(
                N_("{value} is not a period I draw; write 7d, 30d or 90d"), value=Quoted(arg)
            )
        else:
            raise TrendArgError(
                N_(
                    "{value} is not a topic; write one of {topics}, then 7d, 30d or 90d, and"
                    " outlets to stack by outlet rather than language (/trend kuril 30d)"
                ),
                value=Quoted(arg),
                ids=topic_ids,
            )
    return topic or default_topic, days or 30, by or "lang"


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def query_range(now: datetime, tz: tzinfo, days: int) -> tuple[datetime, datetime]:
    """The stories to read for a chart of `days` ending today (local): this period and the
    one before it, [since, until)."""
    today = now.astimezone(tz).date()
    return local_midnight(today - timedelta(days=2 * days - 1), tz), now


@dataclass(frozen=True, slots=True)
class Trend:
    """Stories per local day over a period, in stacked series, and the period before's total:
    that period's stories up to the same time of day as now, so that a period that ends now
    (today so far) is set against as long a span of the one before, not against whole days."""

    days: tuple[date, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]  # (key, count per day), bottom first
    by: str  # "lang", "outlet" or "topic"
    previous_total: int
    tz_name: str = "UTC"  # as the chat reads it (zone_label)
    compared: bool = True  # the store was recording through the whole period before

    @property
    def per_day(self) -> tuple[int, ...]:
        return tuple(sum(counts[i] for _, counts in self.series) for i in range(len(self.days)))

    @property
    def total(self) -> int:
        return sum(self.per_day)

    @property
    def busiest(self) -> tuple[date, int] | None:
        """The day with the most stories (the latest of equals), or None without stories."""
        best = max(
            zip(self.days, self.per_day, strict=True), key=lambda d: (d[1], d[0]), default=None
        )
        return None if best is None or best[1] == 0 else best

    @property
    def change(self) -> float | None:
        """Relative change against the period before; None when that had no stories, or was
        not all recorded (a new install's first weeks: its feeds' backlogs fill only the
        latest days, so "up 180%" would be an artefact)."""
        if self.previous_total == 0 or not self.compared:
            return None
        return (self.total - self.previous_total) / self.previous_total

    def totals(self) -> list[tuple[str, int]]:
        return [(key, sum(counts)) for key, counts in self.series]


def _key(point: StoryPoint, by: str, topics: dict[str, int]) -> str:
    if by == "lang":
        # an item older than store.retention has lost its title, not its language
        if point.title:
            return script_lang(point.title)
        return point.lang if point.lang in LANG_ORDER else "other"
    if by == "topic":  # the first of `topics`, in their order, that the story is of
        return min(
            (t for t in point.topics if t in topics), key=topics.__getitem__, default="other"
        )
    return point.outlet


def build_trend(
    points: Sequence[StoryPoint],
    *,
    now: datetime,
    tz: tzinfo,
    days: int,
    by: str = "lang",
    topics: Sequence[str] = (),
    top: int = TOP_OUTLETS,
    recorded_since: datetime | None = None,
) -> Trend:
    """Count `points` (read with `query_range`) per local day of the last `days` days.

    By outlet or topic, the `top` busiest are series of their own and the rest one "other"
    (a chart's legend has room for a few). The change against the period before is given
    only if the store was recording (`Store.recording_since`) from that period's start.
    """
    local_now = now.astimezone(tz)
    today = local_now.date()
    first = today - timedelta(days=days - 1)
    before = first - timedelta(days=days)
    # the same local time of day, `days` days back (aware arithmetic keeps the wall clock)
    cut = local_now - timedelta(days=days)
    window = [first + timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(window)}
    previous = 0
    counts: dict[str, list[int]] = {}
    current: list[tuple[int, str]] = []
    rank = {topic: n for n, topic in reversed(list(enumerate(topics)))}
    for point in points:
        local = point.at.astimezone(tz).date()
        if before <= local < first:
            if point.at < cut:  # later on that day is beyond the span compared
                previous += 1
        elif local in index:
            current.append((index[local], _key(point, by, rank)))
    if by in ("outlet", "topic"):
        ranked = Counter(key for _, key in current).most_common()
        kept = {key for key, _ in ranked[:top]} if len(ranked) > top + 1 else {k for k, _ in ranked}
        current = [(n, key if key in kept else "other") for n, key in current]
    for n, key in current:
        counts.setdefault(key, [0] * days)[n] += 1
    if by == "lang":
        order = [k for k in LANG_ORDER if k in counts]
    elif by == "topic":
        order = [t for t in topics if t in counts] + (["other"] if "other" in counts else [])
    else:
        order = sorted((k for k in counts if k != "other"), key=lambda k: -sum(counts[k]))
        order += ["other"] if "other" in counts else []
    return Trend(
        days=tuple(window),
        series=tuple((key, tuple(counts[key])) for key in order),
        by=by,
        previous_total=previous,
        tz_name=zone_label(str(tz)),
        compared=recorded_since is None or recorded_since <= local_midnight(before, tz),
    )


def series_label(key: str, trend: Trend, lang: str, titles: dict[str, str]) -> str:
    """What the legend calls a series."""
    if trend.by == "lang" or key == "other":
        return texts(lang)._(SERIES.get(key, key))
    if trend.by == "topic":
        return titles.get(key, key)
    return key


def change_text(trend: Trend, lang: str, days: int) -> str:
    tr = texts(lang)
    change = trend.change
    if not trend.compared:
        return ""
    if change is None:
        if not trend.total:
            return ""
        return tr.ngettext(
            "none in the {n} day before, to the same time of day",
            "none in the {n} days before, to the same time of day",
            days,
        )
    pct = round(abs(change) * 100)
    if pct == 0:
        return tr.ngettext(
            "as many as the {n} day before, to the same time of day",
            "as many as the {n} days before, to the same time of day",
            days,
        )
    # the per cent sign goes in with the number, as the reader's language writes it ("15 %" in
    # Russian); a "%" in a msgid would read as a printf format
    values = {"pct": tr.percent(pct), "prev": tr.number(trend.previous_total)}
    if change > 0:
        return tr.ngettext(
            "up {pct} on the {n} day before, to the same time of day ({prev})",
            "up {pct} on the {n} days before, to the same time of day ({prev})",
            days,
            **values,
        )
    return tr.ngettext(
        "down {pct} on the {n} day before, to the same time of day ({prev})",
        "down {pct} on the {n} days before, to the same time of day ({prev})",
        days,
        **values,
    )


def caption(trend: Trend, *, title: str, lang: str, titles: dict[str, str] | None = None) -> str:
    """The numbers of a chart in a few HTML lines, under Telegram's caption limit."""
    tr = texts(lang)
    days = len(trend.days)
    period = tr.ngettext("last {n} day", "last {n} days", days)
    lines = [listed(tr, [f"<b>{html.escape(title)}</b>", period]) + f" ({trend.tz_name})"]
    if not trend.total:
        lines.append(tr._("No stories in this period."))
        if trend.previous_total and trend.compared:
            lines.append(change_text(trend, lang, days))
        return fit("\n".join(lines))
    change = change_text(trend, lang, days)
    total = tr._("Stories: <b>{total}</b>", total=tr.number(trend.total))
    lines.append(total + (f" ({change})" if change else ""))
    busiest = trend.busiest
    if busiest is not None:
        day, n = busiest
        stories = tr.ngettext("{n} story", "{n} stories", n)
        lines.append(
            tr._(
                "Busiest day: {day}, {stories}",
                day=day_label(day, lang, weekday=True),
                stories=stories,
            )
        )
    totals = [(series_label(key, trend, lang, titles or {}), n) for key, n in trend.totals()]
    series = listed(tr, (f"{html.escape(label)} {tr.number(n)}" for label, n in totals))
    if trend.by == "lang":
        lines.append(tr._("By language: {series}", series=series))
    elif trend.by == "outlet":
        lines.append(tr._("By outlet: {series}", series=series))
    else:
        lines.append(tr._("By topic: {series}", series=series))
    return fit("\n".join(lines))


def visible_length(markup: str) -> int:
    """Telegram's length of an HTML text: UTF-16 code units of what is shown."""
    text = html.unescape(re.sub(r"<[^>]*>", "", markup))
    return len(text.encode("utf-16-le")) // 2


def fit(markup: str, limit: int = MAX_CAPTION) -> str:
    """Drop whole lines from the end until the caption fits (its lines are balanced HTML)."""
    lines = markup.split("\n")
    while len(lines) > 1 and visible_length("\n".join(lines)) > limit:
        lines.pop()
    text = "\n".join(lines)
    if visible_length(text) > limit:  # one enormous line: keep the start of its text only
        plain = html.unescape(re.sub(r"<[^>]*>", "", text))
        cut = limit - 1
        while visible_length(html.escape(plain[:cut])) > limit - 1:  # astral characters
            cut -= 1
        text = html.escape(plain[:cut] + "…")
    return text


def plain_caption(markup: str, limit: int = MAX_CAPTION) -> str:
    """A caption as plain text, for Telegram refusing its HTML: `plain_of` (a link's address
    after its text), and whole lines dropped from the end to fit, the addresses now shown."""
    return html.unescape(fit(html.escape(plain_of(markup), quote=False), limit))


def to_csv(trend: Trend) -> str:
    """date, total, then one column per series (by language: always ru, ja, en, other)."""
    series = dict(trend.series)
    keys = list(LANG_ORDER) if trend.by == "lang" else list(series)
    zeros = (0,) * len(trend.days)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # outlets' names may come from the feeds themselves
    writer.writerow(["date", "total", *map(spreadsheet_cell, keys)])
    for n, day in enumerate(trend.days):
        writer.writerow(
            [day.isoformat(), trend.per_day[n], *(series.get(k, zeros)[n] for k in keys)]
        )
    return out.getvalue()


def _story_line(n: int, point: StoryPoint, lang: str, *, limit: int = 110) -> str:
    title = point.title if len(point.title) <= limit else point.title[: limit - 1] + "…"
    title = linked(html.escape(title or "…"), point.link)
    tr = texts(lang)
    outlets = tr.ngettext("{n} outlet", "{n} outlets", point.outlets)
    return f"{n}. {title} — " + listed(tr, [html.escape(point.outlet), outlets])


def top_stories(points: Sequence[StoryPoint], top: int = 5) -> list[StoryPoint]:
    """The stories carried by most outlets (the earlier first among equals)."""
    return sorted(points, key=lambda p: (-p.outlets, p.at, p.story_id))[:top]


def more_topics(tr: Texts, n: int) -> str:
    return tr.ngettext("… and {n} more topic", "… and {n} more topics", n)


def weekly_report(
    points: Sequence[StoryPoint],
    *,
    now: datetime,
    tz: tzinfo,
    topics: Sequence[str],
    titles: dict[str, str],
    lang: str,
    top: int = 5,
    recorded_since: datetime | None = None,
) -> tuple[Trend, str]:
    """A chat's week: the chart (stacked by topic), and a caption with each topic's stories
    and change on the week before, and the week's top stories by number of outlets."""
    tr = texts(lang)
    days = 7
    chart = build_trend(points, now=now, tz=tz, days=days, by="topic", topics=topics)
    first, last = chart.days[0], chart.days[-1]
    lines = [
        tr._(
            "<b>Weekly report</b> {first}–{last} ({zone})",
            first=day_label(first, lang),
            last=day_label(last, lang),
            zone=chart.tz_name,
        )
    ]
    per_topic: list[tuple[int, str]] = []  # (stories this week, its line)
    of_topic: dict[str, list[StoryPoint]] = {}  # one pass: a chat may have hundreds of topics
    for point in points:
        for topic in dict.fromkeys(point.topics):
            of_topic.setdefault(topic, []).append(point)
    for topic in topics:
        mine = build_trend(
            of_topic.get(topic, []), now=now, tz=tz, days=days, recorded_since=recorded_since
        )
        change = change_text(mine, lang, days)
        per_topic.append(
            (
                mine.total,
                f"{html.escape(titles.get(topic, topic))}: <b>{tr.number(mine.total)}</b>"
                + (f" ({change})" if change else ""),
            )
        )
    week = [p for p in points if first <= p.at.astimezone(tz).date() <= last]
    best = top_stories(week, top)
    if best:
        tail = ["", tr._("<b>Top stories (by outlets)</b>")]
        tail.extend(_story_line(n, p, lang) for n, p in enumerate(best, 1))
    else:
        tail = [tr._("No stories in this period.")]
    # too many topics for the caption: the busiest (in their order) and how many more, so
    # that the top stories are not the lines cut
    shown, more = list(range(len(per_topic))), []
    room = MAX_CAPTION - visible_length("\n".join(lines + tail))
    sizes = [visible_length(line) + 1 for _, line in per_topic]
    if sum(sizes) > room:
        used = visible_length(more_topics(tr, len(per_topic))) + 1
        kept: list[int] = []
        for n in sorted(shown, key=lambda n: -per_topic[n][0]):  # stable: earlier of equals
            if kept and used + sizes[n] > room:
                break
            kept.append(n)
            used += sizes[n]
        shown = sorted(kept)
        more = [more_topics(tr, len(per_topic) - len(shown))]
    lines += [per_topic[n][1] for n in shown] + more + tail
    return chart, fit("\n".join(lines))


def spike_text(
    count: int,
    mean: float,
    sd: float,
    burst: Sequence[StoryPoint],
    *,
    title: str,
    lang: str,
    tz: tzinfo,
    top: int = 5,
) -> str:
    """A spike notice, as plain text: the numbers and the burst's top stories."""
    tr = texts(lang)
    usual = {"mean": tr.number(mean, digits=1), "sd": tr.number(sd, digits=1)}
    body = tr.ngettext(
        "{n} story in the last 6 hours (usually {mean} ± {sd}).",
        "{n} stories in the last 6 hours (usually {mean} ± {sd}).",
        count,
        **usual,
    )
    head = [
        "📈 " + tr._("Spike: {topic}", topic=title),
        body,
        "",
        tr._("Top stories of the burst:"),
    ]
    stories = []
    for n, point in enumerate(top_stories(burst, top), 1):
        at = point.at.astimezone(tz)
        outlets = tr.ngettext("{n} outlet", "{n} outlets", point.outlets)
        said = listed(tr, [point.outlet[:100], f"{at:%H:%M}", outlets])
        story = f"{n}. {point.title[:200]} ({said})"
        stories.append(story + (f"\n   {point.link}" if point.link else ""))
    # whole stories give way, last first, so that no link is cut in the middle
    while len(stories) > 1 and units("\n".join(head + stories)) > MAX_MESSAGE:
        stories.pop()
    return fit_units("\n".join(head + stories))
