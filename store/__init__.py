"""SQLite store of kurilwatch: schema migrations and the domain verbs the daemon needs."""

import store.lean_import  # noqa: F401  (first: sqlite_utils without numpy)
from store.archive import PastItem, Story
from store.async_store import AsyncStore, StoreClosed
from store.controls import ChatFilter, Feedback, FeedbackRow, SentAlert, wants
from store.db import Store
from store.records import (
    ChatPrefs,
    Delivery,
    FeedState,
    IngestResult,
    ItemRecord,
    Notice,
    OutboxState,
    ReportChat,
    SpikeChat,
    StoredItem,
    StoryPoint,
    Subscriber,
    Watch,
    title_key,
    watch_id,
)
from store.search import SearchError
from store.stats import Stats

__all__ = [
    "AsyncStore",
    "ChatFilter",
    "ChatPrefs",
    "Delivery",
    "FeedState",
    "Feedback",
    "FeedbackRow",
    "IngestResult",
    "ItemRecord",
    "Notice",
    "OutboxState",
    "PastItem",
    "ReportChat",
    "SearchError",
    "SentAlert",
    "SpikeChat",
    "Stats",
    "Store",
    "StoreClosed",
    "StoredItem",
    "Story",
    "StoryPoint",
    "Subscriber",
    "Watch",
    "title_key",
    "wants",
    "watch_id",
]
