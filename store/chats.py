"""A chat's own settings (time zone, digest, quiet hours, mute) and its personal watches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database


class _Keep:
    """The value of a setting left as it is."""


KEEP = _Keep()
WATCH_PREFIX = "@w"  # a watch matches as the topic "@w<id>"; config ids cannot start with "@"


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


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class ChatVerbs:
    """Store verbs for a chat's settings and watches (mixed into `Store`)."""

    db: Database

    def prefs(self, chat_id: int) -> ChatPrefs | None:
        for row in self.db.query("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id]):
            return self._prefs(row)
        return None

    def prefs_of(self, chat_ids: list[int]) -> dict[int, ChatPrefs]:
        marks = ",".join("?" * len(chat_ids))
        rows = self.db.query(f"SELECT * FROM subscribers WHERE chat_id IN ({marks})", chat_ids)
        return {row["chat_id"]: self._prefs(row) for row in rows}

    @staticmethod
    def _prefs(row: dict[str, Any]) -> ChatPrefs:
        return ChatPrefs(
            chat_id=row["chat_id"],
            chat_type=row["chat_type"],
            language_code=row["language_code"],
            timezone=row["timezone"],
            digest=row["digest"] or "",
            quiet=row["quiet"] or "",
            muted_until=_dt(row["muted_until"]),
            hold_until=_dt(row["hold_until"]),
            active=bool(row["active"]),
        )

    def set_prefs(
        self,
        chat_id: int,
        *,
        now: datetime,
        timezone: str | _Keep | None = KEEP,
        digest: str | _Keep = KEEP,
        quiet: str | _Keep = KEEP,
        muted_until: datetime | _Keep | None = KEEP,
    ) -> None:
        """Change a chat's settings (those given); the sender decides its holds afresh."""
        changes = {
            name: value.timestamp() if isinstance(value, datetime) else value
            for name, value in (
                ("timezone", timezone),
                ("digest", digest),
                ("quiet", quiet),
                ("muted_until", muted_until),
            )
            if not isinstance(value, _Keep)
        }
        assignments = "".join(f"{name} = ?, " for name in changes)
        self.db.execute(
            f"UPDATE subscribers SET {assignments}hold_until = NULL, updated_at = ?"
            " WHERE chat_id = ?",
            [*changes.values(), now.timestamp(), chat_id],
        )

    def set_hold(self, chat_id: int, until: datetime | None) -> None:
        self.db.execute(
            "UPDATE subscribers SET hold_until = ? WHERE chat_id = ?",
            [None if until is None else until.timestamp(), chat_id],
        )

    # -- watches ------------------------------------------------------------------------------

    def add_watch(self, chat_id: int, query: str, *, now: datetime, limit: int) -> Watch | None:
        """Add a watch (or find the same one); None when the chat has `limit` already."""
        for row in self.db.query(
            "SELECT id FROM watches WHERE chat_id = ? AND query = ?", [chat_id, query]
        ):
            return Watch(row["id"], chat_id, query)
        if len(self.watches(chat_id)) >= limit:
            return None
        cursor = self.db.execute(
            "INSERT INTO watches (chat_id, query, created_at) VALUES (?, ?, ?)",
            [chat_id, query, now.timestamp()],
        )
        return Watch(int(cursor.lastrowid or 0), chat_id, query)

    def watches(self, chat_id: int | None = None) -> list[Watch]:
        """A chat's watches in the order they were added; all active chats' without `chat_id`."""
        if chat_id is None:
            rows = self.db.query(
                "SELECT w.* FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
                " WHERE s.active = 1 ORDER BY w.id"
            )
        else:
            rows = self.db.query("SELECT * FROM watches WHERE chat_id = ? ORDER BY id", [chat_id])
        return [Watch(row["id"], row["chat_id"], row["query"]) for row in rows]

    def remove_watch(self, chat_id: int, number: int) -> Watch | None:
        """Remove a chat's `number`th watch (1-based, as /watches lists them)."""
        mine = self.watches(chat_id)
        if not 1 <= number <= len(mine):
            return None
        watch = mine[number - 1]
        self.db.execute("DELETE FROM watches WHERE id = ?", [watch.id])
        return watch

    def watch_chats(self, topic_ids: list[str]) -> dict[int, list[str]]:
        """The chats whose watches are among the matched `topic_ids`: chat → watch topic ids."""
        ids = [w for w in (watch_id(t) for t in topic_ids) if w is not None]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        chats: dict[int, list[str]] = {}
        for row in self.db.query(
            f"SELECT w.id, w.chat_id FROM watches w JOIN subscribers s ON s.chat_id = w.chat_id"
            f" WHERE s.active = 1 AND w.id IN ({marks}) ORDER BY w.id",
            ids,
        ):
            chats.setdefault(row["chat_id"], []).append(f"{WATCH_PREFIX}{row['id']}")
        return chats
