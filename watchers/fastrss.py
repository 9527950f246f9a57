"""A fast path for the common feed: well-formed UTF-8 RSS 2.0 with plain items, read with expat
(ElementTree) in a fraction of feedparser's time, giving exactly what the feedparser path gives.

Anything outside that shape returns None and goes to feedparser. Where feedparser transforms a
value (URL joining, dates, its cp1252 and double-encoding repairs), its own functions are used,
and `tests/test_fastrss.py` checks the two paths agree on every file of feedparser's test suite.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from feedparser.datetimes import _parse_date
from feedparser.datetimes.rfc822 import _parse_date_rfc822
from feedparser.html import _cp1252
from feedparser.urls import _urljoin

from watchers import bounded, feed_dates  # noqa: F401 (the zones feeds use)
from watchers.items import Item, ParsedFeed, make_item, newest
from watchers.text import html_to_text, one_line
from watchers.urls import document_url, web_link

_DECLARATION = re.compile(rb"\A<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_XML_TYPES = frozenset(
    {"application/xml", "application/rss+xml", "application/rdf+xml", "application/atom+xml"}
)
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC = "{http://purl.org/dc/elements/1.1/}"
_MEDIA = "{http://search.yahoo.com/mrss/}"
# item children that touch no field we read, or that we read (title, link, ...)
_ITEM_TAGS = frozenset(
    {
        "title",
        "link",
        "description",
        "guid",
        "pubDate",
        "category",
        "author",
        "comments",
        "enclosure",
        "source",
        _CONTENT,
        _DC + "creator",
        _DC + "subject",
        _MEDIA + "thumbnail",
        _MEDIA + "content",
    }
)
_ONCE = ("title", "link", "description", "guid", "pubDate", "source", _CONTENT)
# channel children that would change the feed title, language or ttl in feedparser's reading
_CHANNEL_FIELDS = frozenset({"title", "language", "ttl", "subtitle", "tagline", "lang"})
_XML_ATTRS = (
    "{http://www.w3.org/XML/1998/namespace}lang",
    "{http://www.w3.org/XML/1998/namespace}base",
)


# An absolute http(s) URL that feedparser's `_urljoin` returns as it is: lower-case scheme, a
# plain host, no params, fragment, whitespace or empty query (which urljoin would rewrite).
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[A-Za-z0-9._~!$&'()*+,=:@%/-]*)?"
    r"(?:\?[A-Za-z0-9._~!$&'()*+,=:@%/?-]+)?"
)


@functools.lru_cache(maxsize=64)
def _joins_plainly(base: str) -> bool:
    """Whether `_urljoin(base, url)` returns a plain URL unchanged (false for a base that
    urljoin cannot read)."""
    return bool(_urljoin(base, "http://a.example/b") == "http://a.example/b")


def _join(base: str, url: str) -> str:
    """feedparser's `_urljoin`, without its two URL parses for a link that is already plain
    and absolute (most links, and a tenth of this module's time)."""
    if _PLAIN_URL.fullmatch(url) and _joins_plainly(base):
        return url
    return _urljoin(base, url)  # type: ignore[no-any-return]


# as written in UTF-8, and in UTF-16 without a byte order mark (which expat reads too; the
# marks leave out a last NUL so as to match both byte orders)
_SUBSET_MARKS = tuple(
    mark
    for word in ("<!DOCTYPE", "<!ENTITY")
    for mark in (word.encode("ascii"), word.encode("utf-16-le")[:-1])
)


class _Decline(Exception):
    """The document is outside the fast path's shape."""


def parse_simple_rss(
    content: bytes, *, feed_id: str, url: str, headers: Mapping[str, str]
) -> ParsedFeed | None:
    """The parsed feed, or None when feedparser must read this document."""
    if not _utf8_declared(content, headers):
        return None
    try:
        root = ET.fromstring(content)
    except (ET.ParseError, ValueError):
        return None
    try:
        base = document_url(url, headers.get("content-location"))
        return _read(root, feed_id=feed_id, base=base, header_lang=headers.get("content-language"))
    except _Decline:
        return None


def _utf8_declared(content: bytes, headers: Mapping[str, str]) -> bool:
    # expat expands an internal subset's entities (a bomb): a document type or an entity
    # declared anywhere goes to feedparser, which reads it defused
    if any(mark in content for mark in _SUBSET_MARKS):
        return False
    if content.startswith(b"\xef\xbb\xbf"):
        return False
    declared = _DECLARATION.match(content)
    if declared and declared.group(1).lower() != b"utf-8":
        return False
    media, _, params = (headers.get("content-type") or "").partition(";")
    charset = re.search(r"charset\s*=\s*[\"']?([\w.-]+)", params, re.IGNORECASE)
    if charset:
        return charset.group(1).lower() == "utf-8" and media.strip().lower() in (
            _XML_TYPES | {"text/xml"}
        )
    return media.strip().lower() in _XML_TYPES  # without a type, feedparser warns


def _read(root: ET.Element, *, feed_id: str, base: str, header_lang: str | None) -> ParsedFeed:
    if root.tag != "rss" or root.get("version") != "2.0" or len(root) != 1:
        raise _Decline
    channel = root[0]
    if channel.tag != "channel":
        raise _Decline
    _plain_attributes(root)
    _plain_attributes(channel)
    seen: dict[str, str] = {}
    items: list[Item] = []
    for child in channel:
        tag = child.tag
        if tag == "item":
            item = _item(child, feed_id=feed_id, base=base)
            if item is not None:
                items.append(item)
        elif tag in ("title", "language", "ttl"):
            if tag in seen:
                raise _Decline
            seen[tag] = _field(child)
        elif tag.startswith("{") and tag.rpartition("}")[2] in _CHANNEL_FIELDS:
            raise _Decline
    title, language, ttl = seen.get("title"), seen.get("language"), seen.get("ttl", "")
    lang = language or (header_lang.replace("_", "-") if header_lang else None) or header_lang
    if lang:
        items = [item if item.lang else replace(item, lang=lang) for item in items]
    ttl = ttl.strip()
    return ParsedFeed(
        one_line(html_to_text(title or "")) or None,
        newest(items),
        ttl=bounded.ttl_minutes(ttl),
    )


def _item(element: ET.Element, *, feed_id: str, base: str) -> Item | None:
    _plain_attributes(element)
    fields: dict[str, ET.Element] = {}
    for child in element:
        if child.tag not in _ITEM_TAGS:
            raise _Decline
        if child.tag in fields and child.tag in _ONCE:
            raise _Decline
        if len(child):
            raise _Decline  # markup inside, or elements (feedparser reads some of those)
        fields[child.tag] = child
    title = _field(fields["title"]) if "title" in fields else ""
    if "<" in title or "&" in title:
        raise _Decline  # feedparser would guess whether it is HTML
    guid = ""
    link = None
    if "guid" in fields:
        guid_element = fields["guid"]
        # feedparser lowercases attribute names, not values
        flags = [v for k, v in guid_element.attrib.items() if k.lower() == "ispermalink"]
        permalink = (flags[-1] if flags else "true") == "true"
        guid = _field(guid_element)
        if permalink and guid:
            guid = _join(base, guid)
            link = guid
    if "link" in fields:
        text = _field(fields["link"])
        if not text:
            raise _Decline
        link = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", _join(base, text).replace("&amp;", "&"))
    link = web_link(link) if link is not None else None
    raw = {key: _field(fields[key]) for key in ("description", _CONTENT) if key in fields}
    texts = [html_to_text(text) for text in raw.values()]
    source_name = source_url = None
    if "source" in fields:
        source = fields["source"]
        # feedparser keeps the `url` attribute as it is (its name lower-cased) and the name
        # only when it is not empty
        urls = [v for k, v in source.attrib.items() if k.lower() == "url"]
        source_url = urls[-1] if urls else None
        source_name = _field(source) or None
    published = None
    if "pubDate" in fields:
        parsed = _date(_field(fields["pubDate"]))
        if parsed:
            try:
                published = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError):
                raise _Decline from None
    return make_item(
        feed_id=feed_id,
        guid=guid,
        link=link,
        title=one_line(title),
        summary=max(texts, key=len) if texts else "",
        published=published,
        lang=None,
        source_name=source_name,
        source_url=source_url,
        description=raw.get("description", ""),
    )


def _date(text: str) -> time.struct_time | None:
    """feedparser's `_parse_date`, asking its RFC 822 reader first when the text starts with a
    letter ("Thu, 26 Nov 2026 ..."): the W3C reader that feedparser asks first never accepts
    such text, and costs a third of the time."""
    if text[:1].isalpha():
        try:
            parsed = _parse_date_rfc822(text)
        except (KeyError, OverflowError, ValueError, AttributeError):
            parsed = None
        if parsed and len(parsed) == 9:
            return parsed  # type: ignore[no-any-return]
    return _parse_date(text)  # type: ignore[no-any-return]


def _field(element: ET.Element) -> str:
    """An element's text as feedparser's `pop` leaves it."""
    text = (element.text or "").strip()
    if text.isascii():
        return text  # what follows leaves ASCII as it is
    # feedparser's repair of UTF-8 that was read as Latin-1 and encoded again
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def _plain_attributes(element: ET.Element) -> None:
    if any(name in element.attrib for name in _XML_ATTRS):
        raise _Decline
