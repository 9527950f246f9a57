"""SQLite store of kurilwatch: schema migrations and the domain verbs the daemon needs."""

from store.archive import PastItem, Story
from store.async_store import AsyncStore
from store.db import Store
from store.records import (
    ChatPrefs,
    Delivery,
    FeedState,
    IngestResult,
    ItemRecord,
    Notice,
    OutboxState,
    StoredItem,
    Subscriber,
    Watch,
    watch_id,
)
from store.search import SearchError
from store.stats import Stats

__all__ = [
    "AsyncStore",
    "ChatPrefs",
    "Delivery",
    "FeedState",
    "IngestResult",
    "ItemRecord",
    "Notice",
    "OutboxState",
    "PastItem",
    "SearchError",
    "Stats",
    "Store",
    "StoredItem",
    "Story",
    "Subscriber",
    "Watch",
    "watch_id",
]
