"""`Item`: one feed entry, normalised to what the rest of the pipeline needs."""

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
