"""Parse JSON Feed 1.0/1.1 documents (https://jsonfeed.org/) into the same `Item`s as RSS/Atom."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from watchers import poll_errors as errors
from watchers.items import MAX_TITLE, Item, ParsedFeed, make_item, newest
from watchers.poll_errors import PollError
from watchers.text import html_to_text, one_line, tidy
from watchers.urls import web_link

JSON_CONTENT_TYPES = frozenset({"application/feed+json", "application/json"})
# the spec says https://jsonfeed.org/version/…; generators in the wild (Hakyll) add www. or use http
_VERSION = re.compile(r"https?://(?:www\.)?jsonfeed\.org/version/", re.IGNORECASE)
_OPENS_OBJECT = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*\{")
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)"
    r"(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?"
    r"\s*([Zz]|[+-]\d\d:?\d\d)?",
    re.ASCII,
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def looks_like_json_feed(content: bytes, content_type: str | None) -> bool:
    """Whether a fetched body should go to `parse_json_feed` rather than to feedparser."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in JSON_CONTENT_TYPES or _OPENS_OBJECT.match(content) is not None


def parse_json_feed(content: bytes, *, feed_id: str, url: str) -> ParsedFeed:
    """Items of a JSON Feed; a document that is not one is an error value, never an exception."""
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return ParsedFeed(None, (), PollError(errors.JSON_NOT_UTF8, {"reason": exc.reason}))
    except RecursionError:
        return ParsedFeed(None, (), PollError(errors.JSON_TOO_DEEP))
    except ValueError as exc:  # JSONDecodeError, and ints longer than Python converts
        reason = one_line(str(exc))[:200]
        return ParsedFeed(None, (), PollError(errors.JSON_INVALID, {"reason": reason}))
    if not isinstance(document, dict) or not _VERSION.match(_text(document.get("version"))):
        return ParsedFeed(None, (), PollError(errors.JSON_NO_VERSION))
    entries = document.get("items")
    if not isinstance(entries, list):
        return ParsedFeed(None, (), PollError(errors.JSON_NO_ITEMS))
    base = _url(document.get("home_page_url"), url) or url
    language = _text(document.get("language")).strip() or None
    items = newest(
        item
        for entry in entries
        if isinstance(entry, dict)
        and (item := entry_to_item(entry, feed_id=feed_id, base=base, lang=language)) is not None
    )
    title = one_line(_text(document.get("title")))[:MAX_TITLE] or None
    return ParsedFeed(title, items)


def entry_to_item(
    entry: Mapping[str, Any], *, feed_id: str, base: str, lang: str | None = None
) -> Item | None:
    """One JSON Feed item as an `Item`; None when it has neither title nor text nor link."""
    return make_item(
        feed_id=feed_id,
        guid=_id(entry.get("id")),
        link=_url(entry.get("url"), base) or _url(entry.get("external_url"), base),
        title=one_line(_text(entry.get("title"))),
        summary=_body(entry),
        published=_date(entry.get("date_published")) or _date(entry.get("date_modified")),
        lang=_text(entry.get("language")).strip() or lang,
    )


def _text(value: object) -> str:
    """A string field as text; anything else is absent. JSON escapes can make lone surrogates."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else ""


def _id(value: object) -> str:
    # the spec says string, but numbers turn up; a bool is no id
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _text(value).strip()


def _url(value: object, base: str) -> str | None:
    """An absolute http(s) URL from a possibly relative one, or None."""
    relative = _text(value).strip()
    if not relative:
        return None
    try:
        absolute = urljoin(base, relative)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    return web_link(absolute)


def _body(entry: Mapping[str, Any]) -> str:
    """The longest plain text of the item's summary, content_text and content_html."""
    texts = [
        tidy(_text(entry.get("summary"))),
        tidy(_text(entry.get("content_text"))),
        _html_text(_text(entry.get("content_html"))),
    ]
    return max(texts, key=len)


def _html_text(markup: str) -> str:
    try:
        return html_to_text(markup)
    except AssertionError:
        # html.parser asserts on a malformed `<![` marked section; show it as text instead
        return html_to_text(markup.replace("<![", "&lt;!["))


def _date(value: object) -> datetime | None:
    """An RFC 3339 date as an aware UTC datetime; no offset is read as UTC, like feedparser."""
    match = _RFC3339.fullmatch(_text(value).strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            microsecond=int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=_zone(offset),
        )
        # a leap second (:60) rolls over into the next minute
        return (moment + timedelta(seconds=int(second or 0))).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _zone(offset: str | None) -> timezone:
    if not offset or offset in ("Z", "z"):
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
