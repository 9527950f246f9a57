"""The weekly reports that wait (`Holds`): out Telegram's flood wait, while Telegram is down or
refuses the bot for now, or after a failure of ours; and, kept for them, the reports as drawn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

REPORT_BACKOFF = timedelta(minutes=5)  # a chat's report that failed unexpectedly waits this,
REPORT_BACKOFF_MAX = timedelta(hours=6)  # doubled at each failure in a row, up to this
# drawn reports kept for the chats whose report waits, sent again as drawn at their next try;
# past either bound a report is drawn again at each try (a weekly chart's PNG is some 40 KB: a
# thousand groups that forbid photos would otherwise hold 40 MB all week)
MAX_KEPT = 200
MAX_KEPT_BYTES = 8 * 2**20

# what a report is drawn from: its time, the language, time zone and topics of its chat, and
# those topics' titles in the config (a reload may rename them)
DrawnKey = tuple[datetime, str, tzinfo, tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Drawn:
    """A chat's weekly report as drawn: the chart's PNG, and its caption (Telegram HTML)."""

    key: DrawnKey
    png: bytes
    caption: str

    @property
    def size(self) -> int:
        return len(self.png) + len(self.caption.encode())


class Holds:
    """The chats whose weekly report waits: out the flood wait Telegram named for it, a while
    after Telegram did not take it, or after it failed unexpectedly, longer at each failure in a
    row. A chat not listed at a check is forgotten (`keep`), so there is at most one entry per
    chat with a report."""

    def __init__(self, *, most_kept: int = MAX_KEPT, most_bytes: int = MAX_KEPT_BYTES) -> None:
        self._until: dict[int, tuple[datetime, datetime]] = {}  # (since, until)
        self._failures: dict[int, int] = {}
        self._unsent: dict[int, int] = {}  # tries Telegram did not take, told once
        self._refused: dict[int, int] = {}  # of those, the refusals (not a flood wait)
        self._unrecorded: dict[int, datetime] = {}  # reports out, their sending not yet stored
        self._journaled: dict[int, datetime] = {}  # of those, kept in `<store>.unrecorded`
        self._drawn: dict[int, Drawn] = {}  # the reports that wait, as drawn
        self._drawn_bytes = 0
        self.most_kept, self.most_bytes = most_kept, most_bytes

    def unsent(self, chat_id: int, now: datetime, wait: timedelta, *, counted: bool = True) -> int:
        """Telegram did not take the chat's report: not tried again for `wait` (drawn and
        tried at every check, a day's outage was 1,440 charts and warnings per chat); the
        tries so far. Not `counted`: a flood wait, which `refusals` leaves out."""
        self._until[chat_id] = (now, now + wait)
        self._unsent[chat_id] = self._unsent.get(chat_id, 0) + 1
        if counted:
            self._refused[chat_id] = self._refused.get(chat_id, 0) + 1
        return self._unsent[chat_id]

    def unsent_tries(self, chat_id: int) -> int:
        return self._unsent.get(chat_id, 0)

    def refusals(self, chat_id: int) -> int:
        """The tries of the chat's report Telegram refused, since it was last sent: its next
        wait doubles with them (`outcome.report_backoff`)."""
        return self._refused.get(chat_id, 0)

    def drawn(self, chat_id: int, key: DrawnKey) -> Drawn | None:
        """The chat's report kept as drawn from `key`, if any; one drawn from another (the
        week before's, or its language, time zone, topics or their titles changed since) is
        dropped."""
        if (kept := self._drawn.get(chat_id)) is not None and kept.key != key:
            self._drop_drawn(chat_id)
            return None
        return kept

    def keep_drawn(self, chat_id: int, drawn: Drawn) -> bool:
        """Keep the chat's report as drawn while it waits, if the bounds leave room (in place
        of the one kept before, if any); whether it is kept."""
        self._drop_drawn(chat_id)
        if len(self._drawn) >= self.most_kept or self._drawn_bytes + drawn.size > self.most_bytes:
            return False
        self._drawn[chat_id] = drawn
        self._drawn_bytes += drawn.size
        return True

    def _drop_drawn(self, chat_id: int) -> None:
        if (kept := self._drawn.pop(chat_id, None)) is not None:
            self._drawn_bytes -= kept.size

    def held(self, chat_id: int, now: datetime) -> bool:
        if (hold := self._until.get(chat_id)) is None:
            return False
        since, until = hold
        if now < since:  # held while the wall clock ran ahead, then set back: held from now
            since, until = self._until[chat_id] = (now, now + (until - since))
        return now < until

    def failed(self, chat_id: int, now: datetime) -> tuple[int, datetime]:
        """One more failure in a row of the chat's report: their number, and when it is next
        tried."""
        count = self._failures.get(chat_id, 0) + 1
        self._failures[chat_id] = count
        wait = min(REPORT_BACKOFF * 2 ** min(count - 1, 16), REPORT_BACKOFF_MAX)
        self._until[chat_id] = (now, now + wait)
        return count, now + wait

    def out(self, chat_id: int, due: datetime) -> None:
        """The chat's report due at `due` went out (or was skipped): if the store fails to
        record it, only the record is written again, not the report sent twice."""
        self._unrecorded[chat_id] = due
        self._drop_drawn(chat_id)

    def unrecorded(self, chat_id: int) -> datetime | None:
        return self._unrecorded.get(chat_id)

    def journal(self, chat_id: int, due: datetime) -> bool:
        """Whether the record of the chat's report due at `due` is yet to be kept beside the
        store (`bot.delivery.unrecorded`): true once, until it is recorded."""
        if self._journaled.get(chat_id) == due:
            return False
        self._journaled[chat_id] = due
        return True

    def done(self, chat_id: int) -> None:
        self._unrecorded.pop(chat_id, None)
        self._journaled.pop(chat_id, None)
        self._until.pop(chat_id, None)
        self._failures.pop(chat_id, None)
        self._unsent.pop(chat_id, None)
        self._refused.pop(chat_id, None)
        self._drop_drawn(chat_id)

    def keep(self, chat_ids: set[int]) -> None:
        """Forget the chats not in `chat_ids`, in every map (a report recorded late kept its
        chat in `_unrecorded` after the chat turned its report off; a chat gone inactive, its
        report as drawn)."""
        maps = (self._until, self._failures, self._unsent, self._unrecorded, self._journaled)
        for gone in {c for held in (*maps, self._drawn) for c in held} - chat_ids:
            self.done(gone)
