"""SQLite store of kurilwatch: schema migrations and the domain verbs the daemon needs."""

from store.chats import ChatPrefs, Watch, watch_id
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
    "ChatPrefs",
    "Delivery",
    "FeedState",
    "IngestResult",
    "ItemRecord",
    "Notice",
    "SearchError",
    "Store",
    "StoredItem",
    "Subscriber",
    "Watch",
    "watch_id",
]
