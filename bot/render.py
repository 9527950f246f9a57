"""Alert messages: pure functions from an `Alert` to Telegram HTML or to plain text."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

from watchers.text import one_line, shorten

MAX_MESSAGE = 4096
SUMMARY_LIMIT = 400
TITLE_LIMIT = 300


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
        also = ", ".join(one_line(o)[:60] for o in alert.also[:10])
        meta += f"\nAlso: {also}" + (" and others" if len(alert.also) > 10 else "")
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
        lines += ["", html.escape(summary, quote=False)]
    if tags:
        lines += ["", html.escape(tags, quote=False)]
    return "\n".join(lines)


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


def topics_line(topics: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"• {tid} — {title}" for tid, title in topics)
