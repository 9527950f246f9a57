"""Matched stories as an Atom 1.0 feed (RFC 4287): a pure builder, bytes out.

Each story is an entry: its first item's title, link and summary (in that item's language,
its `xml:lang`), every outlet that carried it as an author, its topics as categories, first
seen as published and last seen as updated.
ElementTree does the escaping; characters XML cannot carry, and C1 controls (which readers
take for cp1252), are dropped. A link is written as an IRI (RFC 3987): the characters IRIs
disallow (a space, `"`, `<>`, `{}`, `|`, ...) percent-encoded, non-ASCII letters kept.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from store import Story
from watchers.urls import web_link

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # an empty feed's `updated`: stable, so is its ETag
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class FeedInfo:
    id: str  # an IRI that stays the same for this feed
    title: str
    self_url: str  # where the feed is fetched from
    subtitle: str = ""
    lang: str = ""  # the language of the feed's own texts (xml:lang); entries keep their own


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clean(text: str) -> str:
    return _NOT_XML.sub("", text)


# what an IRI holds as it is (RFC 3987): unreserved, reserved less `#[]` (placed below), `%`
_IRI_ASCII = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?@!$&'()*+,;="
)
_HEX = frozenset("0123456789abcdefABCDEF")


def _ucschar(code: int, in_query: bool) -> bool:
    """Whether a non-ASCII character is one an IRI holds as it is: `ucschar`, and `iprivate`
    in the query."""
    if code < 0x10000:
        if 0xE000 <= code <= 0xF8FF:
            return in_query
        return 0xA0 <= code <= 0xD7FF or 0xF900 <= code <= 0xFDCF or 0xFDF0 <= code <= 0xFFEF
    if code >= 0xF0000:
        return in_query and code & 0xFFFF <= 0xFFFD
    return code & 0xFFFF <= 0xFFFD


def iri(link: str) -> str | None:
    """`link` as an IRI an Atom `href` may hold, or None when it is no web address (not http(s),
    or no host): what an IRI cannot hold percent-encoded as UTF-8 bytes (a `%` not followed by
    two hex digits is one; a `#` after the first, a `[` or `]` outside the host too)."""
    web = web_link(clean(link).strip())
    if web is None:
        return None
    link = web
    out: list[str] = []
    start = link.index("://") + 3
    part = "authority"  # then path, query, fragment
    for n, char in enumerate(link):
        if n >= start:
            if part == "authority" and char in "/?#":
                part = "path"
            if part == "path" and char == "?":
                part = "query"
            elif part in ("path", "query") and char == "#":
                part = "fragment"
                out.append(char)
                continue
        if char == "%":  # kept when it starts an escape
            kept = link[n + 1 : n + 2] in _HEX and link[n + 2 : n + 3] in _HEX
        elif char in "[]":  # an IPv6 address's
            kept = part == "authority"
        else:
            kept = char in _IRI_ASCII or (ord(char) > 0x7F and _ucschar(ord(char), part == "query"))
        if kept:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def story_id(story: Story) -> str:
    return f"urn:kurilwatch:story:{story.id}"


def build_feed(info: FeedInfo, stories: Sequence[Story]) -> bytes:
    """The feed document, UTF-8 with an XML declaration."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(
            parent, f"{{{ATOM}}}{tag}", {name: clean(value) for name, value in attrs.items()}
        )
        if text is not None:
            element.text = clean(text)
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    if info.lang:
        feed.set(XML_LANG, info.lang)
    sub(feed, "id", info.id)
    sub(feed, "title", info.title or "kurilwatch", type="text")
    if info.subtitle:
        sub(feed, "subtitle", info.subtitle, type="text")
    updated = max((s.updated for s in stories), default=EPOCH)
    sub(feed, "updated", rfc3339(updated))
    author = sub(feed, "author")  # the entries' outlets are their own authors
    sub(author, "name", "kurilwatch")
    sub(feed, "link", rel="self", type="application/atom+xml", href=info.self_url)
    sub(feed, "generator", "kurilwatch")
    for story in stories:
        entry = sub(feed, "entry")
        # the story's words are its outlet's, not the reader's: a Japanese report in a feed
        # served in Russian is Japanese ("": not known, rather than the feed's)
        entry.set(XML_LANG, clean(story.lang or ""))
        sub(entry, "id", story_id(story))
        sub(entry, "title", " ".join(clean(story.title).split()) or "(untitled)", type="text")
        sub(entry, "updated", rfc3339(story.updated))
        sub(entry, "published", rfc3339(story.published_at or story.first_seen))
        for outlet in story.outlets:
            sub(sub(entry, "author"), "name", clean(outlet) or "unknown")
        for topic in story.topics:
            sub(entry, "category", term=topic)
        link = iri(story.link) if story.link else None
        if link:
            sub(entry, "link", rel="alternate", type="text/html", href=link)
            if story.summary:
                sub(entry, "summary", story.summary, type="text")
        else:  # an entry without an alternate link must carry content
            sub(entry, "content", story.summary or story.title, type="text")
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names `tag` (or `*`); weak tags compare equal."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or tag in tags
