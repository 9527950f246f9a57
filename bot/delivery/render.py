"""Alert messages: a stored item as an `Alert` (built here only), and pure functions from an
`Alert` to Telegram HTML or to plain text, and from several to a digest."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from store import StoredItem, watch_id
from watchers.aggregator import source_label
from watchers.text import one_line, shorten
from watchers.topics.normalise import is_cjk, is_cyrillic

MAX_MESSAGE = 4096  # characters in one Telegram message
SUMMARY_LIMIT = 400
TITLE_LIMIT = 300
MAX_MARKS = 20
# the "Also:" line in the alert's own language (its title's script)
_ALSO = {
    "en": ("Also: ", ", ", " and others"),
    "ru": ("Также: ", ", ", " и другие"),
    "ja": ("他の報道: ", "、", " ほか"),
}


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
    return Alert(
        title=item.title,
        link=item.link,
        source=source_label(item.outlet, source or item.feed_id),
        published=item.published_at or item.fetched_at,
        summary=item.brief or item.summary,
        topics=tuple(dict.fromkeys("watch" if watch_id(t) is not None else t for t in shown)),
        also=also,
        marks=item.marks,
    )


def _when(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def hashtag(topic_id: str) -> str:
    return "#" + "".join(ch if ch.isalnum() else "_" for ch in topic_id)


def _safe_link(link: str | None) -> str | None:
    if link and link.startswith(("http://", "https://")) and len(link) <= 2048:
        return link
    return None


def _parts(alert: Alert, tz: tzinfo, summary_limit: int) -> tuple[str, str, str, str]:
    title = shorten(one_line(alert.title), TITLE_LIMIT) or "(untitled)"
    meta = " · ".join(p for p in (one_line(alert.source)[:100], _when(alert.published, tz)) if p)
    if alert.also:
        lang = "ja" if is_cjk(alert.title) else "ru" if is_cyrillic(alert.title) else "en"
        label, comma, others = _ALSO[lang]
        also = comma.join(one_line(o)[:60] for o in alert.also[:10])
        meta += f"\n{label}{also}" + (others if len(alert.also) > 10 else "")
    summary = shorten(one_line(alert.summary), summary_limit)
    tags = " ".join(hashtag(t) for t in alert.topics)
    return title, meta, summary, tags


def render_html(alert: Alert, *, tz: tzinfo = UTC, summary_limit: int = SUMMARY_LIMIT) -> str:
    """Telegram HTML: bold linked title, source and time, summary, topics as hashtags.

    Every piece of feed text is escaped; the result stays within Telegram's 4096 characters.
    """
    # escaping can make a text several times longer; shed the link, then summary, if it must
    link = _safe_link(alert.link)
    for limit, with_link, also in (
        (summary_limit, True, alert.also),
        (summary_limit, False, alert.also),
        (100, False, alert.also),
        (0, False, alert.also),
        (0, False, ()),
    ):
        text = _html(replace(alert, also=also), tz, limit, link if with_link else None)
        if len(text) <= MAX_MESSAGE:
            break
    return text


def _html(alert: Alert, tz: tzinfo, summary_limit: int, link: str | None) -> str:
    title, meta, summary, tags = _parts(alert, tz, summary_limit)
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
    """`text` escaped, with whole-word occurrences of `marks` in bold."""
    words = sorted({m for m in marks[:MAX_MARKS] if m.strip()}, key=len, reverse=True)
    if not words:
        return html.escape(text, quote=False)
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)")
    pieces = []
    last = 0
    for found in pattern.finditer(text):
        pieces.append(html.escape(text[last : found.start()], quote=False))
        pieces.append(f"<b>{html.escape(found.group(), quote=False)}</b>")
        last = found.end()
    pieces.append(html.escape(text[last:], quote=False))
    return "".join(pieces).replace("</b> <b>", " ")  # a matched phrase is one bold run


def render_plain(alert: Alert, *, tz: tzinfo = UTC, summary_limit: int = SUMMARY_LIMIT) -> str:
    """The same alert as plain text (console mode, and Telegram's fallback for bad HTML)."""
    title, meta, summary, tags = _parts(alert, tz, summary_limit)
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
    return "\n".join(lines)[:MAX_MESSAGE]


def render_digest(
    alerts: Sequence[Alert], *, titles: dict[str, str], tz: tzinfo = UTC, heading: str = "Digest"
) -> str:
    """A digest in Telegram HTML: stories grouped by their first topic, newest first.

    Each story is one linked title with its source and time. The result may exceed one
    message; `bot.delivery.split.split_html` cuts it at paragraphs.
    """
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.topics[0] if alert.topics else "", []).append(alert)
    count = f"{len(alerts)} {'story' if len(alerts) == 1 else 'stories'}"
    blocks = [f"<b>{html.escape(heading, quote=False)}</b> · {count}"]
    for topic, members in groups.items():
        name = titles.get(topic, topic) or "Other"
        lines = [
            f"<b>{html.escape(name, quote=False)}</b> {html.escape(hashtag(topic), quote=False)}"
        ]
        newest = sorted(
            members, key=lambda a: a.published or datetime.min.replace(tzinfo=UTC), reverse=True
        )
        for alert in newest:
            title = html.escape(shorten(one_line(alert.title), 200) or "(untitled)", quote=False)
            link = _safe_link(alert.link)
            if link:
                title = f'<a href="{html.escape(link, quote=True)}">{title}</a>'
            meta = " · ".join(
                p for p in (one_line(alert.source)[:60], _when(alert.published, tz)) if p
            )
            lines.append(
                f"• {title}" + (f" — <i>{html.escape(meta, quote=False)}</i>" if meta else "")
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def ago(moment: datetime | None, now: datetime) -> str:
    """`moment` relative to `now`: "12 min ago", "in 3 h", "never"."""
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= 2 * size:
            return (
                f"{seconds // size} {unit} ago" if seconds > 0 else f"in {-seconds // size} {unit}"
            )
    return f"{seconds} s ago" if seconds >= 0 else f"in {-seconds} s"


def topics_line(topics: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"• {tid} — {title}" for tid, title in topics)
