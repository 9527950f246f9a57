"""SQLite store of kurilwatch: schema migrations and the domain verbs the daemon needs."""

from store.async_store import AsyncStore
from store.chats import ChatPrefs, Watch, watch_id
from store.items import (
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
