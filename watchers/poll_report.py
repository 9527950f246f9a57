"""A poll's outcome (`PollReport`), and its line for the operator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store import StoredItem
from watchers.text import printable_line


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: str
    outcome: str  # "new", "unchanged", "primed", "error", "disabled"
    http_status: int | None = None
    items: int = 0  # entries in the document
    new_items: int = 0
    matched: tuple[StoredItem, ...] = ()  # new stories that matched a topic
    queued: int = 0  # deliveries queued
    error: str | None = None
    next_poll_at: datetime | None = None

    def line(self) -> str:
        """One line for the operator."""
        status = f"HTTP {self.http_status}" if self.http_status else "-"
        if self.outcome in ("error", "disabled"):
            return f"{self.feed_id}: {self.outcome} ({status}): {printable_line(str(self.error))}"
        if self.outcome == "unchanged":
            return f"{self.feed_id}: unchanged ({status})"
        text = (
            f"{self.feed_id}: {self.outcome} ({status}), {self.items} entries,"
            f" {self.new_items} new, {len(self.matched)} matched"
        )
        return text + (f", {self.queued} alerts queued" if self.queued else "")
