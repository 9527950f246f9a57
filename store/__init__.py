"""SQLite store of kurilwatch: schema migrations and the domain verbs the daemon needs."""

from store.db import (
    Delivery,
    FeedState,
    IngestResult,
    ItemRecord,
    Notice,
    SearchError,
    Store,
    StoredItem,
    Subscriber,
)
from store.runner import AsyncStore

__all__ = [
    "AsyncStore",
    "Delivery",
    "FeedState",
    "IngestResult",
    "ItemRecord",
    "Notice",
    "SearchError",
    "Store",
    "StoredItem",
    "Subscriber",
]
