"""`Item`: one feed entry, normalised to what the rest of the pipeline needs; `ParsedFeed`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """What the parse stage made of a document."""

    title: str | None
    items: tuple[Item, ...]
    error: str | None = None  # set when nothing usable came out
    warning: str | None = None  # the parser's complaint when entries still came out
    ttl: int | None = None  # minutes, from RSS <ttl>
