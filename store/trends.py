"""Matched stories over time (for charts, weekly reports and spike alerts) and the chats'
opt-ins to reports and spike notices."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from store.base import IN_LIST, StoreBase, list_param
from store.records import ReportChat, SpikeChat, StoryPoint

# a story's time: when it was published, or first seen if that is earlier (a feed's future
# dates) or unknown. Not only when first fetched: a new feed's first poll records days of old
# items at once, and they belong to their own days, not to a spike on the day the feed came
_STORY_TIME = "min(coalesce(i.published_at, i.fetched_at), i.fetched_at)"


class TrendVerbs(StoreBase):
    """Store verbs for trends, reports and spikes (mixed into `Store`)."""

    def recording_since(self) -> datetime | None:
        """When the store began to record news (its first item's fetch), or None if empty: a
        period before then cannot be set against the one after it."""
        row = self.db.execute("SELECT min(fetched_at) FROM items").fetchone()
        return None if row[0] is None else datetime.fromtimestamp(row[0], UTC)

    def story_points(
        self,
        topic_ids: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        outlets: bool = True,
        first_polls: bool = True,
    ) -> list[StoryPoint]:
        """The stories of any of `topic_ids` whose time is in [since, until), oldest first;
        without `outlets`, their number of outlets is not counted (0); without `first_polls`,
        the stories first recorded by a feed's first poll are left out (news that was there
        when the feed was added, not news coming in)."""
        if not topic_ids:
            return []
        count = (
            "(SELECT count(DISTINCT j.feed_id) FROM items j WHERE j.story_id = i.id)"
            if outlets
            else "0"
        )
        # plain tuples, and each distinct topics list decoded once: the rows' conversion, not
        # the query, was most of the time for a 90-day chart
        start, end = since.timestamp(), until.timestamp()
        # a story is of every topic any of its reports matched (a later report of another
        # outlet may match a topic the first did not, and alerts that topic's chats), counted
        # once, at its first report's time. Its reports were fetched after its start, and
        # published <= fetched, so `since` bounds the scan of matched reports from below
        rows = self.db.execute(
            f"SELECT i.id, {_STORY_TIME} AS t,"
            " (SELECT group_concat(j.topics, char(31)) FROM items j"
            "  WHERE j.story_id = i.id AND j.topics != '[]'),"
            f" i.feed_id, coalesce(f.title, i.feed_id), i.title, i.link, {count}, i.lang"
            " FROM items i LEFT JOIN feeds f ON f.id = i.feed_id"
            " WHERE i.id IN (SELECT m.story_id FROM item_topics m"
            f"  WHERE m.topic_id {IN_LIST} AND m.story_at >= ? AND m.story_at < ?"
            "  AND m.fetched_at >= ?)"
            f" AND i.fetched_at >= ? AND {_STORY_TIME} >= ? AND {_STORY_TIME} < ?"
            f"{'' if first_polls else ' AND i.first_poll = 0'}"
            " ORDER BY t, i.id",
            [list_param(topic_ids), start, end, start, start, start, end],
        )
        decoded: dict[str, tuple[str, ...]] = {}
        points = []
        for story_id, t, topics, feed_id, outlet, title, link, outlet_count, lang in rows:
            listed = decoded.get(topics)
            if listed is None:
                listed = decoded[topics] = _union(topics)
            points.append(
                StoryPoint(
                    story_id,
                    datetime.fromtimestamp(t, UTC),
                    listed,
                    feed_id,
                    outlet,
                    title,
                    link,
                    outlet_count,
                    lang,
                )
            )
        return points

    def live_since(self, topic_id: str) -> datetime | None:
        """When the topic's news began to be recorded as it came in: the first fetch of one of
        its stories that no feed's first poll recorded (a search feed's first poll records
        weeks of old stories at once, in one instant: no history of what came in, day by
        day); None if there is none yet."""
        # a story's time is at or before its fetch, so the earliest fetch is among the stories
        # up to the fetch of the first one in time: read in the index's order, not all of them
        row = self._one(
            "WITH first AS (SELECT h.fetched_at AS f FROM item_topics m"
            "  JOIN items h ON h.id = m.story_id"
            "  WHERE m.topic_id = ?1 AND h.first_poll = 0 ORDER BY m.story_at LIMIT 1)"
            " SELECT min(h.fetched_at) AS t FROM first, item_topics m"
            " JOIN items h ON h.id = m.story_id"
            " WHERE m.topic_id = ?1 AND m.story_at <= first.f AND h.first_poll = 0",
            [topic_id],
        )
        return None if row is None or row["t"] is None else datetime.fromtimestamp(row["t"], UTC)

    # -- weekly reports -----------------------------------------------------------------------

    def set_report(self, chat_id: int, report: str, *, now: datetime) -> None:
        """A chat's weekly report ("" for none); only times after `now` are due."""
        self.db.execute(
            "UPDATE subscribers SET report = ?, report_sent_at = ?, updated_at = ?"
            " WHERE chat_id = ?",
            [report, now.timestamp(), now.timestamp(), chat_id],
        )

    def report_of(self, chat_id: int) -> tuple[str, bool]:
        """(the chat's report setting, whether it wants spike notices)."""
        for row in self.db.query(
            "SELECT report, spikes FROM subscribers WHERE chat_id = ?", [chat_id]
        ):
            return row["report"] or "", bool(row["spikes"])
        return "", False

    def report_chats(self) -> list[ReportChat]:
        """The active chats with a weekly report (their topics are read for the due ones
        only: this runs every minute)."""
        return [
            ReportChat(
                chat_id=row["chat_id"],
                report=row["report"],
                sent_at=None
                if row["report_sent_at"] is None
                else datetime.fromtimestamp(row["report_sent_at"], UTC),
                timezone=row["timezone"],
                language_code=row["language_code"],
            )
            for row in self.db.query(
                "SELECT chat_id, report, report_sent_at, timezone,"
                " coalesce(language, language_code) AS language_code FROM subscribers"
                " WHERE active = 1 AND report != '' ORDER BY chat_id"
            )
        ]

    def report_sent(self, chat_id: int, due: datetime, *, now: datetime | None = None) -> None:
        """The report due at `due` went out (or was skipped): the next one is due after it. An
        earlier one recorded late (kept at a stop, `bot.delivery.unrecorded`) moves nothing;
        a record after `now` does not stand either (made while the wall clock ran ahead, then
        set back: kept, it would make this report due again at every check)."""
        sent = "max(coalesce(report_sent_at, ?1), ?1)"
        params: list[float | int] = [due.timestamp(), chat_id]
        if now is not None:
            sent = f"CASE WHEN report_sent_at > ?3 THEN ?1 ELSE {sent} END"
            params.append(now.timestamp())
        self.db.execute(
            f"UPDATE subscribers SET report_sent_at = {sent} WHERE chat_id = ?2", params
        )

    # -- spike notices ------------------------------------------------------------------------

    def set_spikes(self, chat_id: int, on: bool, *, now: datetime) -> None:
        self.db.execute(
            "UPDATE subscribers SET spikes = ?, updated_at = ? WHERE chat_id = ?",
            [int(on), now.timestamp(), chat_id],
        )

    def spike_topics(self) -> list[str]:
        """The topics that at least one active chat wants spike notices for."""
        return [
            row["topic_id"]
            for row in self.db.query(
                "SELECT DISTINCT s.topic_id FROM subscriptions s"
                " JOIN subscribers c ON c.chat_id = s.chat_id"
                " WHERE c.active = 1 AND c.spikes = 1 ORDER BY s.topic_id"
            )
        ]

    def spike_chats(self, topic_id: str) -> list[SpikeChat]:
        """The active chats subscribed to `topic_id` that want spike notices."""
        return [
            SpikeChat(row["chat_id"], row["language_code"], row["timezone"])
            for row in self.db.query(
                "SELECT c.chat_id, coalesce(c.language, c.language_code) AS language_code,"
                " c.timezone FROM subscriptions s"
                " JOIN subscribers c ON c.chat_id = s.chat_id"
                " WHERE c.active = 1 AND c.spikes = 1 AND s.topic_id = ? ORDER BY c.chat_id",
                [topic_id],
            )
        ]

    def last_spike_at(self, topic_id: str) -> datetime | None:
        rows = list(
            self.db.query("SELECT max(detected_at) AS t FROM spikes WHERE topic_id = ?", [topic_id])
        )
        t = rows[0]["t"] if rows else None
        return None if t is None else datetime.fromtimestamp(t, UTC)

    def restamp_spikes(self, topic_id: str, now: datetime) -> None:
        """The topic's spikes recorded after `now` (while the wall clock ran ahead, then set
        back) are taken as found now: its quiet period runs from now."""
        self.db.execute(
            "UPDATE spikes SET detected_at = ?1 WHERE topic_id = ?2 AND detected_at > ?1",
            [now.timestamp(), topic_id],
        )

    def record_spike(
        self, topic_id: str, stories: int, notices: Mapping[int, str], *, now: datetime
    ) -> int:
        """Record a spike of a topic and queue its notice to each chat (chat id → text),
        atomically; the number of notices queued."""
        ts = now.timestamp()
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO spikes (topic_id, detected_at, stories) VALUES (?, ?, ?)",
                [topic_id, ts, stories],
            )
            self.db.conn.executemany(
                "INSERT INTO notices (chat_id, text, state, attempts, next_attempt_at, created_at)"
                " VALUES (?, ?, 'pending', 0, ?, ?)",
                [(chat_id, text, ts, ts) for chat_id, text in notices.items()],
            )
        return len(notices)


def _union(topics: str) -> tuple[str, ...]:
    """The topics of a story's reports (their JSON lists joined by \\x1f), each once, in order."""
    return tuple(dict.fromkeys(t for chunk in topics.split("\x1f") for t in json.loads(chunk)))
