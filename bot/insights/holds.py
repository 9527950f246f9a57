"""The weekly reports that wait (`Holds`): out Telegram's flood wait, while Telegram is down or
refuses the bot for now, or after a failure of ours."""

from __future__ import annotations

from datetime import datetime, timedelta

REPORT_BACKOFF = timedelta(minutes=5)  # a chat's report that failed unexpectedly waits this,
REPORT_BACKOFF_MAX = timedelta(hours=6)  # doubled at each failure in a row, up to this


class Holds:
    """The chats whose weekly report waits: out the flood wait Telegram named for it, a while
    after Telegram did not take it, or after it failed unexpectedly, longer at each failure in a
    row. A chat not listed at a check is forgotten (`keep`), so there is at most one entry per
    chat with a report."""

    def __init__(self) -> None:
        self._until: dict[int, tuple[datetime, datetime]] = {}  # (since, until)
        self._failures: dict[int, int] = {}
        self._unsent: dict[int, int] = {}  # tries Telegram did not take, told once
        self._unrecorded: dict[int, datetime] = {}  # reports out, their sending not yet stored
        self._journaled: dict[int, datetime] = {}  # of those, kept in `<store>.unrecorded`

    def unsent(self, chat_id: int, now: datetime, wait: timedelta) -> int:
        """Telegram did not take the chat's report: not tried again for `wait` (drawn and
        tried at every check, a day's outage was 1,440 charts and warnings per chat); the
        tries so far."""
        self._until[chat_id] = (now, now + wait)
        self._unsent[chat_id] = self._unsent.get(chat_id, 0) + 1
        return self._unsent[chat_id]

    def unsent_tries(self, chat_id: int) -> int:
        return self._unsent.get(chat_id, 0)

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

    def keep(self, chat_ids: set[int]) -> None:
        """Forget the chats not in `chat_ids`, in every map (a report recorded late kept its
        chat in `_unrecorded` after the chat turned its report off)."""
        maps = (self._until, self._failures, self._unsent, self._unrecorded, self._journaled)
        for gone in {c for held in maps for c in held} - chat_ids:
            self.done(gone)
