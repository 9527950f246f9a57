"""What crosses the store's boundary: the record types, the outbox states, and the one place
rows are turned into records (times kept as UTC epoch seconds, lists as JSON)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from store.outlets import Source

WATCH_PREFIX = "@w"  # a watch matches as the topic "@w<id>"; config ids cannot start with "@"


class OutboxState(StrEnum):
    """Where an alert (a row of `outbox`) or a notice stands."""

    PENDING = "pending"  # waiting for its time
    SENDING = "sending"  # claimed; a crash sends it again (at-least-once)
    SENT = "sent"
    FAILED = "failed"  # given up (kept, and reported to the admins)
    DROPPED = "dropped"  # its chat is gone or moved (kept, with the reason)
    FANNED = "fanned"  # a notice for every admin, turned into one row per admin


def title_key(title: str) -> str:
    """What an item whose text is pruned (store.retention) keeps of its title, as long as its
    other keys: enough to tell the item, given again under its guid at another URL, from
    another item given that guid."""
    return hashlib.blake2b(title.encode(), digest_size=8).hexdigest()


def ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def json_list(values: Sequence[str]) -> str:
    # most items match nothing: their topics and marks are both empty
    return json.dumps(list(values)) if values else "[]"


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about one feed between polls."""

    id: str
    url: str
    title: str | None = None
    primed: bool = False
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    next_poll_at: datetime | None = None
    config_url: str | None = None
    errors_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    # not polled before this, a 429 or 503's Retry-After asked (kept for a restart)
    retry_not_before: datetime | None = None
    # `last_error` as a message to say in each admin's language: JSON {"message": msgid,
    # "values": {...}} (watchers/poll_errors.py; None: the English alone, as kept before)
    last_error_message: str | None = None
    # `disabled_reason` as such a message (None: the English alone, as kept before)
    disabled_reason_message: str | None = None
    # the failing run the admins were told of (its `errors_since`); None once its recovery is
    # told: what `bot.daemon.failing` decides on, whichever process made the polls
    told_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item as handed to the store for ingestion."""

    guid: str
    link: str | None
    canonical_url: str | None
    title: str
    summary: str
    published_at: datetime | None
    topics: tuple[str, ...] = ()
    fingerprint: str | None = None
    story_hint: int | None = None  # a story the clustering says this item belongs to
    joins: str | None = None  # or the guid of an earlier record of the batch whose story it joins
    brief: str = ""  # the summary alerts show (empty: the summary's start)
    marks: tuple[str, ...] = ()  # words of `brief` to set in bold
    outlet: str | None = None  # the outlet an aggregator item names
    outlet_key: str | None = None  # the outlet's stable key (its host)
    lang: str | None = None  # en, ru, ja


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    story_id: int
    feed_id: str
    guid: str
    link: str | None
    title: str
    summary: str
    published_at: datetime | None
    fetched_at: datetime
    topics: tuple[str, ...]
    brief: str = ""
    marks: tuple[str, ...] = ()
    outlet: str | None = None  # the outlet an aggregator item names (None: its feed's own)
    outlet_key: str | None = None

    @property
    def source(self) -> Source:
        return Source(self.feed_id, self.outlet, self.outlet_key)

    lang: str | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingestion did: stored items, the ones that started a new story, alerts queued."""

    stored: tuple[StoredItem, ...]
    new_stories: tuple[StoredItem, ...]
    queued: int


@dataclass(frozen=True, slots=True)
class Subscriber:
    chat_id: int
    chat_type: str | None
    title: str | None
    language_code: str | None
    active: bool
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    chat_id: int
    chat_type: str | None
    language_code: str | None
    timezone: str | None  # None: the config's telegram.timezone
    digest: str  # "", "daily HH:MM" or "weekly <day> HH:MM"
    quiet: str  # "", "HH:MM-HH:MM silent" or "HH:MM-HH:MM hold"
    muted_until: datetime | None
    hold_until: datetime | None
    active: bool
    language: str | None = None  # the bot's language, when set (/language, or a group's setup)
    news_langs: tuple[str, ...] = ()  # the news languages wanted; empty: every one
    thread_id: int | None = None  # a forum's topic its messages go to (None: General)


@dataclass(frozen=True, slots=True)
class Watch:
    id: int
    chat_id: int
    query: str

    @property
    def topic_id(self) -> str:
        return f"{WATCH_PREFIX}{self.id}"


def watch_id(topic_id: str) -> int | None:
    """The watch behind a matched topic id, or None for a configured topic."""
    if topic_id.startswith(WATCH_PREFIX) and topic_id[len(WATCH_PREFIX) :].isdigit():
        return int(topic_id[len(WATCH_PREFIX) :])
    return None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row joined with the item it announces."""

    id: int
    chat_id: int
    attempts: int
    created_at: datetime
    topics: tuple[str, ...]
    item: StoredItem
    feed_title: str | None
    also: tuple[str, ...] = ()  # other outlets that carried the story since
    message_id: int | None = None
    language: str | None = None  # the chat's: its /language, else its user's language_code
    reply_to: int | None = None  # a followed story's further report: a reply to this message
    # (0: to none, the alert stayed in the history of a group that became a supergroup)
    timezone: str | None = None  # the chat's /timezone (None: the config's telegram.timezone)
    edit_tries: int = 0  # failed tries of its pending "Also:" update
    digest_part: int = 0  # the messages of its digest sent before it was put back
    thread_id: int | None = None  # the chat's forum topic (None: the chat, a forum's General)


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to one operator (telegram.admins), sent as plain text."""

    id: int
    chat_id: int
    text: str
    attempts: int
    created_at: datetime
    msgid: str | None = None  # the message to translate, with `values`, for `language`
    values: tuple[tuple[str, Any], ...] = ()  # strings, or JSON of what is said later
    plural: str | None = None  # its plural msgid (None: a message of one form)
    counted: str | None = None  # the name of the value whose number chooses the form
    language: str | None = None  # the admin's
    thread_id: int | None = None  # a broadcast's or spike's chat's forum topic (None: General)


# -- rows to records (and back) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoryPoint:
    """One matched story, as trends count it."""

    story_id: int
    at: datetime  # published (or first seen, whichever is earlier)
    topics: tuple[str, ...]
    feed_id: str
    outlet: str  # the first report's feed title (or id)
    title: str
    link: str | None
    outlets: int  # feeds that carried the story
    lang: str | None = None  # the first report's language (kept when its text is compacted)


@dataclass(frozen=True, slots=True)
class ReportChat:
    """A chat that asked for a weekly report."""

    chat_id: int
    report: str  # "weekly mon 08:00"
    sent_at: datetime | None  # reports due after this moment have not been sent
    timezone: str | None
    language_code: str | None  # the chat's /language, else its user's Telegram language


@dataclass(frozen=True, slots=True)
class SpikeChat:
    chat_id: int
    language_code: str | None  # the chat's /language, else its user's Telegram language
    timezone: str | None


def feed_state_of(row: dict[str, Any]) -> FeedState:
    return FeedState(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        primed=bool(row["primed"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        consecutive_errors=row["consecutive_errors"],
        last_attempt_at=dt(row["last_attempt_at"]),
        last_success_at=dt(row["last_success_at"]),
        next_poll_at=dt(row["next_poll_at"]),
        config_url=row["config_url"],
        errors_since=dt(row["errors_since"]),
        disabled_at=dt(row["disabled_at"]),
        disabled_reason=row["disabled_reason"],
        retry_not_before=dt(row["retry_not_before"]),
        last_error_message=row["last_error_message"],
        disabled_reason_message=row["disabled_reason_message"],
        told_since=dt(row["told_since"]),
    )


def feed_state_row(state: FeedState) -> dict[str, Any]:
    return {
        "id": state.id,
        "url": state.url,
        "title": state.title,
        "primed": int(state.primed),
        "etag": state.etag,
        "last_modified": state.last_modified,
        "body_hash": state.body_hash,
        "last_status": state.last_status,
        "last_error": state.last_error,
        "consecutive_errors": state.consecutive_errors,
        "last_attempt_at": ts(state.last_attempt_at),
        "last_success_at": ts(state.last_success_at),
        "next_poll_at": ts(state.next_poll_at),
        "config_url": state.config_url,
        "errors_since": ts(state.errors_since),
        "disabled_at": ts(state.disabled_at),
        "disabled_reason": state.disabled_reason,
        "retry_not_before": ts(state.retry_not_before),
        "last_error_message": state.last_error_message,
        "disabled_reason_message": state.disabled_reason_message,
        "told_since": ts(state.told_since),
    }


def stored_item_of(row: dict[str, Any]) -> StoredItem:
    fetched = dt(row["fetched_at"])
    assert fetched is not None
    return StoredItem(
        id=row["id"],
        story_id=row["story_id"],
        feed_id=row["feed_id"],
        guid=row["guid"],
        link=row["link"],
        title=row["title"],
        summary=row["summary"],
        published_at=dt(row["published_at"]),
        fetched_at=fetched,
        topics=tuple(json.loads(row["topics"])),
        brief=row.get("brief") or "",
        marks=tuple(json.loads(row.get("marks") or "[]")),
        outlet=row.get("outlet"),
        outlet_key=row.get("outlet_key"),
        lang=row.get("lang"),
    )


def prefs_of(row: dict[str, Any]) -> ChatPrefs:
    return ChatPrefs(
        chat_id=row["chat_id"],
        chat_type=row["chat_type"],
        language_code=row["language_code"],
        timezone=row["timezone"],
        digest=row["digest"] or "",
        quiet=row["quiet"] or "",
        muted_until=dt(row["muted_until"]),
        hold_until=dt(row["hold_until"]),
        active=bool(row["active"]),
        language=row.get("language"),
        news_langs=tuple((row.get("news_langs") or "").split()),
        thread_id=row.get("thread_id"),
    )
