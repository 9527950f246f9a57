"""Alert messages: a stored item as an `Alert` (built here only), and pure functions from an
`Alert` to Telegram HTML or to plain text, and from several to a digest."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote

from bot.i18n import EN, N_, Message, Plural, Texts, listed, loaded, texts
from store import Delivery, Notice, StoredItem, watch_id
from watchers.aggregator import source_parts
from watchers.text import one_line, shorten
from watchers.topics.normalise import is_cjk

# explicit bidi embeddings, overrides and isolates: one left open in a feed's text turns the rest
# of its line around (a digest's source and time, the next outlets of "Also:"); plain
# right-to-left text needs none of them
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
MAX_MESSAGE = 4096  # characters in one Telegram message
SUMMARY_LIMIT = 400
TITLE_LIMIT = 300
MAX_MARKS = 20
TAGS_LIMIT = 1000  # characters of an alert's hashtags; the topics past them are counted: "+N"
MAX_ALSO = 10  # outlets an "Also:" line names; the others are counted: "+N more"
# the room of one story of a digest beside the digest's heading and its topic's line, so that a
# digest of one story always fits one message
DIGEST_STORY = MAX_MESSAGE - 700


@dataclass(frozen=True, slots=True)
class Alert:
    """What one alert message says."""

    title: str
    link: str | None
    source: str
    published: datetime | None
    summary: str
    topics: tuple[str, ...]
    also: tuple[str, ...] = ()  # other outlets that carried the story
    via: str | None = None  # the aggregator (Google News) the source's report came through
    marks: tuple[str, ...] = ()  # words of the summary to set in bold (the matched terms)


def alert_of(
    item: StoredItem,
    source: str | None = None,
    topics: Sequence[str] | None = None,
    also: tuple[str, ...] = (),
) -> Alert:
    """The alert for a stored item: `source` is its feed's title (else its id), shown after
    the outlet an aggregator item names ("TASS (via Google News)"), `topics` the ones to show
    (else the item's own); a chat's watches show as one "watch" topic."""
    shown = item.topics if topics is None else topics
    name, via = source_parts(item.outlet, source or item.feed_id)
    return Alert(
        title=item.title,
        link=item.link,
        source=name,
        published=item.published_at or item.fetched_at,
        summary=item.brief or item.summary,
        topics=tuple(dict.fromkeys("watch" if watch_id(t) is not None else t for t in shown)),
        also=also,
        marks=item.marks,
        via=via,
    )


def _flat(text: str) -> str:
    """Feed text on one line, without bidi controls."""
    return one_line(_BIDI_CONTROLS.sub("", text))


def _headline(title: str, limit: int, tr: Texts) -> str:
    """The title within `limit`, or "(untitled)" when nothing of it would show (empty, or only
    zero-width and format characters)."""
    shown = shorten(_flat(title), limit)
    visible = any(unicodedata.category(c)[0] not in "CZ" for c in shown)
    return shown if visible else tr._("(untitled)")


def to_alert(delivery: Delivery) -> Alert:
    return alert_of(delivery.item, delivery.feed_title, delivery.topics, delivery.also)


Part = tuple[int, int]  # a digest's message of how many: (1, 1) is the whole digest


def digest_of(
    rows: Sequence[Delivery], topic_titles: Mapping[str, str], tz: tzinfo, part: Part = (1, 1)
) -> str:
    """The digest of a chat's held alerts in the chat's language, its topics' titles too."""
    tr = texts(rows[0].language)
    titles = {tid: tr._(title) for tid, title in topic_titles.items()}
    titles["watch"] = tr._("Your watches")
    return render_digest([to_alert(d) for d in rows], titles=titles, tz=tz, tr=tr, part=part)


def digest_fitting(
    rows: Sequence[Delivery], topic_titles: Mapping[str, str], tz: tzinfo, part: Part = (1, 1)
) -> int:
    """How many of `rows`, at least one, make a digest within one message."""

    def fits(n: int) -> bool:
        return units(digest_of(rows[:n], topic_titles, tz, part)) <= MAX_MESSAGE

    if fits(len(rows)):
        return len(rows)
    low, high = 1, len(rows) - 1  # a story alone fits: `DIGEST_STORY`
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def digest_sizes(
    rows: Sequence[Delivery], topic_titles: Mapping[str, str], tz: tzinfo
) -> list[int]:
    """How many of `rows` each message of their digest holds (one message if it fits), each
    measured with the longest "part n of n" label it could carry."""
    if digest_fitting(rows, topic_titles, tz) == len(rows):
        return [len(rows)]
    widest = (len(rows), len(rows))
    sizes: list[int] = []
    while sum(sizes) < len(rows):
        sizes.append(digest_fitting(rows[sum(sizes) :], topic_titles, tz, widest))
    return sizes


def notice_text(notice: Notice) -> str:
    """A notice in its admin's language, when it names a msgid (else its text)."""
    if not notice.msgid:
        return notice.text
    message: Message = notice.msgid
    if notice.plural and notice.counted:  # a count's notice (none before plurals were kept)
        message = Plural(notice.msgid, notice.plural, notice.counted)
    return texts(notice.language).said(message, loaded(dict(notice.values)))


def _source(alert: Alert, tr: Texts, limit: int) -> str:
    name = _flat(alert.source)[:limit]
    if not alert.via:
        return name
    return tr._("{outlet} (via {aggregator})", outlet=name, aggregator=_flat(alert.via)[:60])


def _outlets(names: Sequence[str], tr: Texts) -> str:
    return listed(tr, (_flat(o)[:60] for o in names))


def _also(names: Sequence[str], tr: Texts, shown: int = MAX_ALSO) -> str:
    """The outlets of an "Also:" line: the first `shown` (at least one), then how many more."""
    outlets = _outlets(names[: max(1, shown)], tr)
    more = len(names) - max(1, shown)
    return outlets if more <= 0 else tr._("{outlets} +{n} more", outlets=outlets, n=more)


def units(text: str) -> int:
    """The length of `text` as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for c in text if c > "\uffff")


def _when(moment: datetime | None, tz: tzinfo, tr: Texts = EN) -> str:
    return "" if moment is None else tr.when(moment, tz)


def hashtag(topic_id: str) -> str:
    return "#" + "".join(ch if ch.isalnum() else "_" for ch in topic_id)


def _hashtags(topics: Sequence[str]) -> str:
    """The topics as hashtags within TAGS_LIMIT (an item may match a hundred topics of a chat)."""
    tags: list[str] = []
    for n, topic in enumerate(topics):
        tag = hashtag(topic)
        if sum(len(t) + 1 for t in tags) + len(tag) > TAGS_LIMIT:
            return " ".join(tags) + f" +{len(topics) - n}"
        tags.append(tag)
    return " ".join(tags)


# characters a URL cannot hold as they are (spaces, controls, invisible ones): Telegram drops a
# link with a space from its text, and ends a link in plain text at one
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f-\xa0\u2000-\u200f\u2028-\u202f\u205f-\u206f\ufeff]")


def _safe_link(link: str | None) -> str | None:
    """An http(s) link, its unsafe characters percent-encoded; None for any other scheme or a
    link too long."""
    if not link or not link.startswith(("http://", "https://")):
        return None
    link = _UNSAFE_IN_URL.sub(lambda found: quote(found.group(), safe=""), link)
    return link if len(link) <= 2048 else None


def linked(inner: str, link: str | None) -> str:
    """`inner` (HTML) as the text of a link to `link`, when that is a safe http(s) address."""
    safe = _safe_link(link)
    return f'<a href="{html.escape(safe, quote=True)}">{inner}</a>' if safe else inner


def _parts(
    alert: Alert, tz: tzinfo, summary_limit: int, tr: Texts = EN
) -> tuple[str, str, str, str]:
    title = _headline(alert.title, TITLE_LIMIT, tr)
    when = _when(alert.published, tz, tr)
    meta = " · ".join(p for p in (_source(alert, tr, 100), when) if p)
    if alert.also:
        meta += "\n" + tr._("Also: {outlets}", outlets=_also(alert.also, tr))
    summary = shorten(_flat(alert.summary), summary_limit)
    tags = _hashtags(alert.topics)
    return title, meta, summary, tags


def render_html(
    alert: Alert, *, tz: tzinfo = UTC, summary_limit: int = SUMMARY_LIMIT, tr: Texts = EN
) -> str:
    """Telegram HTML: bold linked title, source and time, summary, topics as hashtags.

    Every piece of feed text is escaped; the result stays within Telegram's 4096 characters.
    """
    # escaping can make a text several times longer; the summary, then "Also:" give way before
    # the link (the title's link is how a reader opens the story), which goes last
    link = _safe_link(alert.link)
    for limit, with_link, also in (
        (summary_limit, True, alert.also),
        (100, True, alert.also),
        (0, True, alert.also),
        (0, True, ()),
        (summary_limit, False, alert.also),
        (100, False, alert.also),
        (0, False, alert.also),
        (0, False, ()),
    ):
        text = _html(replace(alert, also=also), tz, limit, link if with_link else None, tr)
        if len(text) <= MAX_MESSAGE:
            break
    return text


def _html(alert: Alert, tz: tzinfo, summary_limit: int, link: str | None, tr: Texts) -> str:
    title, meta, summary, tags = _parts(alert, tz, summary_limit, tr)
    heading = f"<b>{html.escape(title, quote=False)}</b>"
    if link:
        heading = f'<a href="{html.escape(link, quote=True)}">{heading}</a>'
    lines = [heading]
    if meta:
        lines.append(f"<i>{html.escape(meta, quote=False)}</i>")
    if summary:
        lines += ["", _marked(summary, alert.marks)]
    if tags:
        lines += ["", html.escape(tags, quote=False)]
    return "\n".join(lines)


def _marked(text: str, marks: Sequence[str]) -> str:
    """`text` escaped, with whole-word occurrences of `marks` (a word, or a phrase of several)
    in bold; in Japanese, which has no spaces, wherever they are. Marks that overlap (two
    phrases sharing a word) are one bold run."""
    words = {m for m in marks[:MAX_MARKS] if m.strip()}
    runs: list[list[int]] = []
    for start, end in sorted(f.span() for w in words for f in re.finditer(_whole(w), text)):
        if runs and start <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    pieces = []
    last = 0
    for start, end in runs:
        pieces.append(html.escape(text[last:start], quote=False))
        pieces.append(f"<b>{html.escape(text[start:end], quote=False)}</b>")
        last = end
    pieces.append(html.escape(text[last:], quote=False))
    return "".join(pieces).replace("</b> <b>", " ")  # a matched phrase is one bold run


def _whole(mark: str) -> str:
    """A pattern of `mark` as a word of its own at each end, unless it ends in Japanese."""
    before = "" if is_cjk(mark[0]) else r"(?<!\w)"
    after = "" if is_cjk(mark[-1]) else r"(?!\w)"
    return before + re.escape(mark) + after


def render_plain(
    alert: Alert, *, tz: tzinfo = UTC, summary_limit: int = SUMMARY_LIMIT, tr: Texts = EN
) -> str:
    """The same alert as plain text (console mode, and Telegram's fallback for bad HTML),
    within Telegram's 4096 UTF-16 units: the summary, then "Also:" give way, the link stays."""
    for limit, also in (
        (summary_limit, alert.also),
        (100, alert.also),
        (0, alert.also),
        (0, ()),
    ):
        text = _plain(replace(alert, also=also), tz, limit, tr)
        if units(text) <= MAX_MESSAGE:
            return text
    return fit_units(text)


def render_joined(alert: Alert, story: str) -> str:
    """One plain line for a report that joined a story alerted before (console mode; a chat's
    alert is edited to "Also: Kyodo" instead): `  ↳ also: Kyodo — joins "Russia holds…"`."""
    return f'  ↳ also: {_source(alert, EN, 100)} — joins "{_headline(story, 60, EN)}"'


def fit_units(text: str, most: int = MAX_MESSAGE) -> str:
    """`text` cut to `most` UTF-16 units, as Telegram counts a message's length."""
    if units(text) <= most:
        return text
    used = 0
    for end, char in enumerate(text):
        used += 2 if char > "\uffff" else 1
        if used > most:
            return text[:end]
    return text


def _plain(alert: Alert, tz: tzinfo, summary_limit: int, tr: Texts) -> str:
    title, meta, summary, tags = _parts(alert, tz, summary_limit, tr)
    lines = [title]
    if meta:
        lines.append(meta)
    link = _safe_link(alert.link)
    if link:
        lines.append(link)
    if summary:
        lines += ["", summary]
    if tags:
        lines += ["", tags]
    return "\n".join(lines)


_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)
_TAG = re.compile(r"<[^>]*>")  # feed text in our HTML is escaped: every < starts a tag of ours


def plain_of(markup: str) -> str:
    """Our Telegram HTML (a digest) as plain text, Telegram's fallback for HTML it refuses: the
    tags go, a link's address follows its text; never longer than `markup`."""
    return html.unescape(_TAG.sub("", _LINK.sub(r"\2 \1", markup)))


def first_sentence(text: str, limit: int = 240) -> str:
    """The first sentence of a summary (within `limit` characters)."""
    flat = _flat(text)
    found = _SENTENCE_END.search(flat)
    if found is not None and found.end() <= limit:
        return flat[: found.end()].strip()
    return shorten(flat, limit)


def _bare(text: str) -> str:
    return _flat(text).rstrip(".!?…。！？ ").casefold()


_SENTENCE_END = re.compile(r"[.!?…](?=\s+[^\s])|[。！？]")


def render_digest(
    alerts: Sequence[Alert],
    *,
    titles: dict[str, str],
    tz: tzinfo = UTC,
    heading: str | None = None,
    tr: Texts = EN,
    part: Part = (1, 1),
) -> str:
    """A digest in Telegram HTML: stories grouped by their first topic, newest first; one
    message of several (`part`) says which.

    Each story is its linked title with its source and time, the first sentence of its summary
    and the other outlets that carried it. A digest of one story fits one message; a longer one
    may not (`bot.delivery.split.split_html` cuts a reply at paragraphs, and the delivery worker
    sends as many stories as one message holds).
    """
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.topics[0] if alert.topics else "", []).append(alert)
    count = tr.ngettext("{n} story", "{n} stories", len(alerts))
    heading = tr._("Digest") if heading is None else heading
    blocks = [f"<b>{html.escape(heading, quote=False)}</b> · {count}"]
    if part[1] > 1:
        blocks[0] += " · " + tr._("part {part} of {parts}", part=part[0], parts=part[1])
    for topic, members in groups.items():
        name = shorten(_flat(titles.get(topic, topic)), 100) or tr._("Other")
        tag = f" {html.escape(hashtag(topic), quote=False)}" if topic else ""  # "": no topic's
        lines = [f"<b>{html.escape(name, quote=False)}</b>{tag}"]
        newest = sorted(
            members, key=lambda a: a.published or datetime.min.replace(tzinfo=UTC), reverse=True
        )
        for alert in newest:
            lines += _digest_story(alert, tz, tr)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _digest_story(alert: Alert, tz: tzinfo, tr: Texts) -> list[str]:
    """A story's lines in a digest, within DIGEST_STORY: outlets of its "Also:" line, then its
    first sentence, then a link too long to fit give way (escaping `&` makes a text five times
    longer)."""
    for sentence, with_link, shown in (
        (True, True, MAX_ALSO),
        (True, True, 3),
        (False, True, 3),
        (True, False, MAX_ALSO),
        (True, False, 3),
        (False, False, 1),
    ):
        lines = _story_lines(alert, tz, tr, sentence=sentence, with_link=with_link, shown=shown)
        if units("\n".join(lines)) <= DIGEST_STORY:
            break
    return lines


def _story_lines(
    alert: Alert, tz: tzinfo, tr: Texts, *, sentence: bool, with_link: bool, shown: int
) -> list[str]:
    title = _headline(alert.title, 200, tr)
    title = html.escape(title, quote=False)
    link = _safe_link(alert.link) if with_link else None
    if link:
        title = f'<a href="{html.escape(link, quote=True)}">{title}</a>'
    meta = " · ".join(p for p in (_source(alert, tr, 60), _when(alert.published, tz, tr)) if p)
    lines = [f"• {title}" + (f" — <i>{html.escape(meta, quote=False)}</i>" if meta else "")]
    first = first_sentence(alert.summary) if sentence else ""
    if first and _bare(first) != _bare(alert.title):  # not the title again
        lines.append(f"  {html.escape(first, quote=False)}")
    if alert.also:
        also = tr._("Also: {outlets}", outlets=_also(alert.also, tr, shown))
        lines.append("  <i>" + html.escape(also, quote=False) + "</i>")
    return lines


def ago(moment: datetime | None, now: datetime, tr: Texts = EN) -> str:
    """`moment` relative to `now`: "12 min ago", "in 3 h", "never". A moment ahead, by however
    little, is ahead: 0.6 s is "in 1 s" (it read "0 s ago")."""
    if moment is None:
        return tr._("never")
    ahead = moment > now
    seconds = abs(int((now - moment).total_seconds()))
    if ahead:
        seconds = max(seconds, 1)
    for past, future, size in _AGO:
        if seconds >= 2 * size or size == 1:
            return tr._(future if ahead else past, n=seconds // size)
    return ""


_AGO = (
    (N_("{n} d ago"), N_("in {n} d"), 86400),
    (N_("{n} h ago"), N_("in {n} h"), 3600),
    (N_("{n} min ago"), N_("in {n} min"), 60),
    (N_("{n} s ago"), N_("in {n} s"), 1),
)


def topics_line(topics: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"• {tid} — {title}" for tid, title in topics)
