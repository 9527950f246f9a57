"""`Item`: one feed entry, normalised to what the rest of the pipeline needs; `ParsedFeed`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from watchers.aggregator import attribute, echoes_only, links_only, outlet_key, real_url
from watchers.boilerplate import strip_boilerplate
from watchers.poll_errors import PollError
from watchers.text import one_line
from watchers.urls import canonical_url

MAX_TITLE = 1000
MAX_SUMMARY = 20_000
MAX_ENTRIES = 1000  # a feed's newest this many are read (the whole body is capped by size)


@dataclass(frozen=True, slots=True)
class Item:
    feed_id: str
    guid: str
    link: str | None
    canonical_url: str | None
    title: str
    summary: str  # plain text, whole; cut to length only when rendered
    published: datetime | None
    lang: str | None = None
    outlet: str | None = None  # the outlet an aggregator item names (None: the feed's own)
    outlet_key: str | None = None  # stable key of the outlet: its host (`tass.com`), see aggregator


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What the parse stage made of a document."""

    title: str | None
    items: tuple[Item, ...]
    problem: PollError | None = None  # set when nothing usable came out
    warning: str | None = None  # the parser's complaint when entries still came out
    ttl: int | None = None  # minutes, from RSS <ttl>

    @property
    def error(self) -> str | None:
        """Why nothing usable came out, in English."""
        return None if self.problem is None else str(self.problem)


def make_item(
    *,
    feed_id: str,
    guid: str,
    link: str | None,
    title: str,
    summary: str,
    published: datetime | None,
    lang: str | None,
    source_name: str | None = None,
    source_url: str | None = None,
    description: str = "",
) -> Item | None:
    """An `Item` from a parser's plain-text fields; None when it has neither title, text nor
    link. A missing title falls back to the text, a missing guid to the link, then the text.

    An aggregator item (with `<source>`, or a " - Outlet" title suffix that the raw HTML
    `description` names too) gets its outlet and loses the suffix; a summary that only repeats
    the title and the outlet, or only lists links (other outlets' headlines), is dropped; a
    Google News link that carries the article's URL is replaced by it."""
    said = attribute(title, source_name=source_name, source_url=source_url, description=description)
    full_title, title = title, (said.title if said else title)[:MAX_TITLE]
    summary = strip_boilerplate(summary[:MAX_SUMMARY], title)
    if said and (
        echoes_only(summary, (full_title, title), (said.outlet, *said.named))
        or links_only(description)
    ):
        summary = ""
    if not title and not summary and not link:
        return None
    if not title:
        title = one_line(summary)[:120] or link or ""
    if link and (decoded := real_url(link)):
        link = decoded
    canonical = canonical_url(link) if link else None
    guid = guid.strip() or canonical or content_key(title, summary)
    return Item(
        feed_id=feed_id,
        guid=guid[:2000],
        link=link,
        canonical_url=canonical,
        title=title,
        summary=summary,
        published=published,
        lang=lang or None,
        outlet=said.outlet if said else None,
        outlet_key=outlet_key(
            outlet=said.outlet if said else None,
            outlet_url=said.outlet_url if said else None,
            canonical=canonical,
        ),
    )


def content_key(title: str, summary: str) -> str:
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def distinct_guids(items: Iterable[Item]) -> tuple[Item, ...]:
    """The items, each guid that several different items share (a generator that gives every
    item the site's URL, or "0") made distinct by the item's URL or text: else every item but
    the first would be taken as known, for ever. Repeats of one item keep their guid.

    A link that items of other titles share (every item linked to the site's front page) is
    no item's address (`unlinked`): as a key it would make each new item the first one again."""
    every = unlinked(items)
    kinds: dict[str, set[str]] = {}
    for item in every:
        kinds.setdefault(item.guid, set()).add(item.canonical_url or item.title)
    if all(len(kind) == 1 for kind in kinds.values()):
        return every
    return tuple(
        replace(item, guid=f"{item.guid} {item.canonical_url or content_key(item.title, '')}")
        if len(kinds[item.guid]) > 1
        else item
        for item in every
    )


def unlinked(items: Iterable[Item]) -> tuple[Item, ...]:
    """The items, each whose canonical URL is no item's own address, without it: a link that
    an item of another title in the same answer has too, or a site's front page (a one-item
    "latest" feed links each new item there, answer after answer); each keyed by its text
    where that URL was its only key."""
    every = tuple(items)
    titles: dict[str, set[str]] = {}
    for item in every:
        if item.canonical_url:
            titles.setdefault(item.canonical_url, set()).add(item.title)
    shared = {url for url, told in titles.items() if len(told) > 1 or front_page(url)}
    if not shared:
        return every
    return tuple(
        replace(
            item,
            canonical_url=None,
            guid=content_key(item.title, item.summary)
            if item.guid in (item.canonical_url, item.link)
            else item.guid,
        )
        if item.canonical_url in shared
        else item
        for item in every
    )


FRONT_PAGE = re.compile(r"/?(index\.(html?|php|aspx?))?", re.IGNORECASE)


def front_page(url: str) -> bool:
    """A canonical URL of a site's root (`/`, `/index.html`): no news item's address."""
    parts = urlsplit(url)
    return not parts.query and FRONT_PAGE.fullmatch(parts.path) is not None


def reissued(
    items: tuple[Item, ...], stored: Mapping[str, tuple[str | None, str]]
) -> tuple[Item, ...]:
    """The items, each whose guid the feed gave before to another item (`stored`: that item's
    canonical URL and title, or the `title_key` kept of it once its text was pruned, by guid;
    both differ) keyed apart as `distinct_guids` keys them: else a guid that a feed gives every
    new item ("latest") is known for ever. A guid whose item kept its URL or its title (a
    corrected title, a moved page) stays that item's; an item of no URL of its own (none, or
    a front page: `unlinked`) is another item when its title changed."""
    from store import title_key  # here: the parse workers import this module, not the store

    changed = {
        n
        for n, item in enumerate(items)
        if (was := stored.get(item.guid)) is not None
        and (was[0] != item.canonical_url or item.canonical_url is None)
        and was[1] not in (item.title, title_key(item.title))
    }
    if not changed:
        return items
    return tuple(
        replace(item, guid=f"{item.guid} {item.canonical_url or content_key(item.title, '')}")
        if n in changed
        else item
        for n, item in enumerate(items)
    )


def newest(items: Iterable[Item], limit: int = MAX_ENTRIES) -> tuple[Item, ...]:
    """The `limit` newest items by date, in the feed's order: an oldest-first feed longer than
    `limit` still shows its new items. Undated items rank oldest; among equals the first win.
    Guids that different items share are told apart (`distinct_guids`)."""
    every = distinct_guids(items)
    if len(every) <= limit:
        return every
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(range(len(every)), key=lambda i: every[i].published or oldest, reverse=True)
    kept = sorted(ranked[:limit])
    return tuple(every[i] for i in kept)
