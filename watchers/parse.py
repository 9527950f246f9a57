"""Parse fetched feed bytes with feedparser and normalise each entry to an `Item`.

feedparser is always handed a stream, never a string: given a string it may open a URL or a
local file of that name.
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat
from xml.sax import SAXParseException

import feedparser

from watchers import bounded, feed_dates  # noqa: F401 (the zones feeds use)
from watchers import poll_errors as errors
from watchers.charset import read_charset
from watchers.fastrss import parse_simple_rss
from watchers.items import Item, ParsedFeed, make_item, newest
from watchers.jsonfeed import looks_like_json_feed, parse_json_feed
from watchers.poll_errors import PollError
from watchers.text import html_to_text, one_line, printable_line, tidy
from watchers.urls import document_url, web_link

# An internal DTD subset is where entity bombs live (billion laughs, quadratic blowup, XXE).
# expat refuses them, but feedparser then retries with its loose parser, which expands them:
# feeds have no use for one, so it goes before parsing.
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_INTERNAL_SUBSET_TEXT = re.compile(r"<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
# a web page: its doctype or <html> after an XML declaration, comments and white space
_HTML_PAGE = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s|<\?xml[^>]*>|<!--.*?-->)*<(?:!doctype\s+html|html[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_BOMS = {
    b"\xff\xfe\x00\x00": "utf-32",
    b"\x00\x00\xfe\xff": "utf-32",
    b"\xff\xfe": "utf-16",
    b"\xfe\xff": "utf-16",
}


def defuse(content: bytes) -> bytes:
    """The document without an internal DTD subset (and so without entity declarations)."""
    for bom, encoding in _BOMS.items():
        if content.startswith(bom):
            try:
                text = content.decode(encoding)
            except UnicodeDecodeError:
                return content
            if "<!ENTITY" not in text.upper():
                return content
            return _INTERNAL_SUBSET_TEXT.sub("", text, count=1).encode(encoding)
    if b"<!ENTITY" not in content.upper():
        return content
    return _INTERNAL_SUBSET.sub(b"", content, count=1)


def parse_feed(
    content: bytes,
    *,
    feed_id: str,
    url: str,
    headers: Mapping[str, str] | None = None,
) -> ParsedFeed:
    """Items of a feed document (RSS, Atom, RDF or JSON Feed); not a feed is an error value."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    if looks_like_json_feed(content, response_headers.get("content-type")):
        parsed_json = parse_json_feed(content, feed_id=feed_id, url=url)
        if not parsed_json.error or content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return parsed_json
        # served as JSON but not JSON: let feedparser try it as XML
    content, response_headers, misdeclared = read_charset(content, response_headers)
    content = defuse(content)  # before either path: neither expands what is not there
    parsed = parse_simple_rss(content, feed_id=feed_id, url=url, headers=response_headers)
    if parsed is None:
        parsed = parse_with_feedparser(content, feed_id=feed_id, url=url, headers=response_headers)
    if misdeclared and not parsed.error and not parsed.warning:
        parsed = replace(parsed, warning=misdeclared)
    return parsed


def parse_with_feedparser(
    content: bytes, *, feed_id: str, url: str, headers: Mapping[str, str]
) -> ParsedFeed:
    """The feedparser reading of an XML document: every format, encoding and malformation."""
    response_headers = {k.lower(): v for k, v in headers.items()}
    # feedparser takes a relative Content-Location as the base itself (and then drops the
    # links it made relative), so it is given the resolved one
    response_headers["content-location"] = document_url(
        url, response_headers.get("content-location")
    )
    parsed = feedparser.parse(
        io.BytesIO(defuse(content)),
        response_headers=response_headers,
        # we keep only plain text (html_to_text), so feedparser's HTML rewriting is wasted work
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    bozo = parsed.get("bozo_exception")
    entries = parsed.get("entries") or []
    version = parsed.get("version") or ""
    # a feed cut short before its first item has a version but is no empty feed: it is broken
    if not entries and (not version or _cut_short(bozo)):
        return ParsedFeed(None, (), not_a_feed(content, headers.get("content-type"), bozo))
    feed = parsed.get("feed") or {}
    language = feed.get("language") or response_headers.get("content-language")
    items = newest(
        item
        for entry in entries
        if (item := entry_to_item(entry, feed_id=feed_id, lang=language)) is not None
    )
    title = one_line(html_to_text(feed.get("title") or "")) or None
    warning = one_line(str(bozo))[:200] if bozo else None
    ttl = str(feed.get("ttl") or "").strip()
    return ParsedFeed(title, items, warning=warning, ttl=bounded.ttl_minutes(ttl))


# expat's errors for a document that ended before it closed (not a bare & or an HTML entity
# in its middle, which feedparser reads past)
_ENDED_EARLY = frozenset(
    {
        expat.errors.XML_ERROR_NO_ELEMENTS,
        expat.errors.XML_ERROR_UNCLOSED_TOKEN,
        expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION,
        expat.errors.XML_ERROR_PARTIAL_CHAR,
    }
)


def _cut_short(bozo: object) -> bool:
    """Whether feedparser's `bozo` says the XML broke off: a document cut short."""
    return isinstance(bozo, SAXParseException) and bozo.getMessage() in _ENDED_EARLY


def not_a_feed(content: bytes, content_type: str | None, bozo: object) -> PollError:
    """Why a document no parser read as a feed is not one, in words the operator can act on: a
    web page, no XML at all, or XML broken where; the parser's own (`<unknown>:7:2: mismatched
    tag`) said none of it."""
    media = printable_line((content_type or "").split(";")[0].strip().lower())[:100]
    served = {"media": media} if media else {}
    text = _in_utf8(content)
    if media in ("text/html", "application/xhtml+xml") or _HTML_PAGE.match(text, 0, 4096):
        return PollError(errors.HTML_PAGE_TYPED if media else errors.HTML_PAGE, served)
    start = text.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        return PollError(errors.BLANK)
    if not start.startswith(b"<"):
        if media and "xml" not in media:
            return PollError(errors.NOT_XML_TYPE, served)
        return PollError(errors.NOT_XML_TYPED if media else errors.NOT_XML, served)
    if isinstance(bozo, SAXParseException):
        return PollError(errors.BROKEN_XML, _broken_at(content, bozo))
    if bozo:
        return PollError(errors.NOT_A_FEED, {"reason": one_line(str(bozo))[:200]})
    return PollError(errors.NO_FEED_IN_XML)


def _in_utf8(content: bytes) -> bytes:
    """A UTF-16 or UTF-32 document (said by its byte order mark) in UTF-8, to be looked at."""
    for bom, encoding in _BOMS.items():
        if content.startswith(bom):
            return content.decode(encoding, "replace").encode()
    return content


def _broken_at(content: bytes, bozo: SAXParseException) -> dict[str, str]:
    """Where the XML breaks, and how (`BROKEN_XML`'s line, column and reason), in the document
    as it came: expat's reading of it, or,
    in a charset expat does not read (Shift_JIS), feedparser's, whose lines count its own
    rewriting of the document (a declaration put before it, a document type taken out)."""
    try:
        expat.ParserCreate().Parse(content, True)
    except expat.ExpatError as exc:
        if exc.code != expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING]:
            message = expat.errors.messages[exc.code]
            return {"line": str(exc.lineno), "column": str(exc.offset + 1), "reason": message}
    except (ValueError, LookupError):  # a multi-byte charset expat cannot take
        pass
    line, column = bozo.getLineNumber() or 1, bozo.getColumnNumber() or 0
    # feedparser puts a declaration line before a document that has none
    if not content.removeprefix(b"\xef\xbb\xbf").startswith(b"<?xml"):
        line = max(line - 1, 1)
    # expat counts columns from 0
    reason = one_line(bozo.getMessage())[:200]
    return {"line": str(line), "column": str(column + 1), "reason": reason}


def entry_to_item(
    entry: Mapping[str, Any], *, feed_id: str, lang: str | None = None
) -> Item | None:
    """One feedparser entry as an `Item`; None when it has neither title nor text nor link."""
    source = entry.get("source") or {}
    return make_item(
        feed_id=feed_id,
        guid=entry.get("id") or "",
        link=_first_link(entry),
        title=one_line(_plain(entry.get("title"), entry.get("title_detail"))),
        summary=_body(entry),
        published=_published(entry),
        lang=entry.get("language") or lang,
        source_name=source.get("title"),
        source_url=source.get("href"),
        description=entry.get("summary") or "",
    )


def _first_link(entry: Mapping[str, Any]) -> str | None:
    link = web_link((entry.get("link") or "").strip())
    if link is not None:
        return link
    for candidate in entry.get("links") or []:
        href = web_link((candidate.get("href") or "").strip())
        if href is not None and candidate.get("rel", "alternate") == "alternate":
            return href
    return None


def _plain(value: str | None, detail: Mapping[str, Any] | None) -> str:
    """Text of a feed field, which feedparser reports as plain text or as HTML."""
    if not value:
        return ""
    if detail and detail.get("type") == "text/plain":
        return tidy(value)
    return html_to_text(value)


def _body(entry: Mapping[str, Any]) -> str:
    """The longest text of the entry's summary and content."""
    texts = [_plain(entry.get("summary"), entry.get("summary_detail"))]
    texts += [_plain(c.get("value"), c) for c in entry.get("content") or []]
    return max(texts, key=len)


def _published(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get skips feedparser's deprecated updated→published fallback (and its warning)
        value = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None
