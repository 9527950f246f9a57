"""Stored times taken from a wall clock that ran ahead: when it is set back, they move back too.

Every wait the store keeps (a chat held for its digest or quiet hours, refused or under flood
control; an alert's or notice's next try; a feed's next poll) and every "last done" time
that a wait is counted from (a spike's, a weekly report's) is a wall-clock time. Stored while
the clock ran a day ahead, each made its wait a day longer once the clock was put right: a
daily digest skipped, spike notices quiet for the gap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from store.base import StoreBase

# (table, column): times compared with the clock's now; not `muted_until`, the chat's own
# setting, which may have been made before the clock ran ahead
CLOCK_TIMES = (
    ("subscribers", "hold_until"),
    ("subscribers", "refused_until"),
    ("subscribers", "flood_until"),
    ("subscribers", "report_sent_at"),
    ("outbox", "next_attempt_at"),
    ("outbox", "edit_after"),
    ("outbox", "created_at"),  # a digest takes the alerts queued before its time
    ("notices", "next_attempt_at"),
    ("feeds", "next_poll_at"),
    ("spikes", "detected_at"),
)


class WaitVerbs(StoreBase):
    """Store verbs for the wall clock's steps back (mixed into `Store`)."""

    def move_back(self, back: timedelta, now: datetime) -> int:
        """Move back by `back` every stored time later than `now`, the clock's time once set
        back (a time so far ahead was taken from the clock before); the rows changed."""
        changed = 0
        with self.db.atomic():
            for table, column in CLOCK_TIMES:
                cursor = self.db.execute(
                    f"UPDATE {table} SET {column} = {column} - ? WHERE {column} > ?",
                    [back.total_seconds(), now.timestamp()],
                )
                changed += cursor.rowcount
        return changed
