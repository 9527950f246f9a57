"""A poll's outcome (`PollReport`), and its line for the operator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from store import StoredItem
from watchers.text import counted, printable_line


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: str
    outcome: str  # "new", "unchanged", "primed", "error", "disabled"
    http_status: int | None = None
    items: int = 0  # entries in the document
    new_items: int = 0
    matched: tuple[StoredItem, ...] = ()  # new stories that matched a topic (none when primed)
    queued: int = 0  # deliveries queued
    error: str | None = None
    next_poll_at: datetime | None = None
    # new items that matched a topic and joined a story known before (none when primed)
    joined: tuple[StoredItem, ...] = ()
    recorded: int = 0  # a first poll's new items that matched a topic: recorded, not alerted

    def counts(self, *, console: bool = False) -> str:
        """What the poll stored, said alike in the log and by `poll --once`: `2 new items,
        2 matched a topic (1 new story, 1 joined a known story), 1 alert queued`. `console`:
        the daemon prints each new story as an alert (no token), and queues for chats only
        those a store's chats of a run with a token get: `1 alert printed, 2 queued for
        chats`."""
        text = counted(self.new_items, "new item", "new items")
        on_topic = len(self.matched) + len(self.joined) + self.recorded
        text += f", {on_topic} matched a topic"
        if self.outcome == "primed":
            return text + " (first poll: recorded, not alerted)"
        if on_topic:
            text += f" ({counted(len(self.matched), 'new story', 'new stories')}"
            if self.joined:
                joined = counted(len(self.joined), "joined a known story", "joined known stories")
                text += f", {joined}"
            text += ")"
        if console and (on_topic or self.queued):
            text += f", {counted(len(self.matched), 'alert', 'alerts')} printed"
            return text + (f", {self.queued} queued for chats" if self.queued else "")
        if on_topic or self.queued:
            text += f", {counted(self.queued, 'alert', 'alerts')} queued"
        return text

    def line(self) -> str:
        """One line for the operator."""
        status = f"HTTP {self.http_status}" if self.http_status else "-"
        if self.outcome in ("error", "disabled"):
            error = printable_line(str(self.error))
            # the status where it adds to the error: not `error (HTTP 404): HTTP 404 Not Found`
            if self.http_status and not re.search(rf"\b{status}\b", error):
                return f"{self.feed_id}: {self.outcome} ({status}): {error}"
            return f"{self.feed_id}: {self.outcome}: {error}"
        if self.outcome == "unchanged":
            return f"{self.feed_id}: unchanged ({status})"
        entries = counted(self.items, "entry", "entries")
        return f"{self.feed_id}: {self.outcome} ({status}), {entries}, {self.counts()}"
