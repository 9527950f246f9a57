"""The outbox: alerts queued per chat, claimed, sent, retried, given up; and "Also:" updates.

A row is `sending` from its claim until the worker settles it, so a crash repeats at most the
rows in flight (`requeue_inflight`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from store.also import ALSO_WINDOW, AlsoVerbs
from store.base import IN_LIST, list_param
from store.chats import ChatVerbs
from store.controls import wants
from store.records import Delivery, OutboxState, StoredItem, dt, stored_item_of, watch_id

MAX_DIGEST = 200  # alerts in one digest; more wait for the next
# A story's later report reaches the chats its alerts missed for as long as a story takes other
# outlets' reports (watchers.stories.WINDOW) from its first; a story older than that alerts
# nobody again, whatever joins it (a URL that returns months later).
JOIN_WINDOW = timedelta(hours=72)
# An alert dropped because its chat was gone (blocked the bot, deleted) is no alert the chat
# had: back within the window, it gets the story's next report. One dropped as the chat moved to
# a supergroup stays dropped (what was waiting went with it).
GONE_WHILE_QUEUED = "state = 'dropped' AND coalesce(last_error, '') != 'chat migrated'"
# A row dropped while it was on its way (its topic left, its chat gone) is not put back by the
# send's failure: it was dropped for good
NOT_DROPPED = " AND state != 'dropped'"


class OutboxVerbs(ChatVerbs, AlsoVerbs):
    """Store verbs for the outbox (mixed into `Store`); queuing needs the chats' watches and
    their controls (filters, story modes), and its "Also:" updates."""

    def requeue_inflight(self) -> int:
        """Rows left 'sending' by a crash go back to pending (at-least-once delivery)."""
        with self.db.atomic():
            cursor = self.db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
            self.db.execute("UPDATE notices SET state = 'pending' WHERE state = 'sending'")
        return cursor.rowcount

    def due_deliveries(
        self, now: datetime, limit: int = 50, *, exclude: Collection[int] = ()
    ) -> list[Delivery]:
        """The oldest due delivery of each chat not in `exclude`, oldest first.

        One row per chat keeps the worker fair: a chat with a thousand queued alerts waits
        its turn behind the others' first ones instead of filling every batch.
        """
        return self._deliveries(
            "o.id IN (SELECT min(id) FROM outbox WHERE state = 'pending'"
            " AND coalesce(next_attempt_at, 0) <= ?"
            " AND chat_id NOT IN (SELECT chat_id FROM subscribers"
            " WHERE max(coalesce(hold_until, 0), coalesce(refused_until, 0),"
            " coalesce(flood_until, 0)) > ?)"
            f" AND chat_id NOT {IN_LIST}"
            " GROUP BY chat_id) ORDER BY o.next_attempt_at, o.id LIMIT ?",
            [now.timestamp(), now.timestamp(), list_param(exclude), limit],
        )

    def due_edits(
        self, limit: int = 50, *, exclude: Collection[int] = (), now: datetime | None = None
    ) -> list[Delivery]:
        """Sent alerts whose story has been carried by more outlets since (and whose update,
        if it failed, is due to be tried again at `now`), in chats that are not gone (their
        updates wait for them to come back), while their story's updates last (ALSO_WINDOW
        from the alert, as `_add_outlet` marks them: a chat back days later is not sent
        rewrites of old alerts; `prune` takes those rows in time)."""
        window = [] if now is None else [now.timestamp(), (now - ALSO_WINDOW).timestamp()]
        window += [] if now is None else [now.timestamp()]  # a chat held for flood control
        return self._deliveries(
            "o.state = 'sent' AND o.edit_pending = 1 AND coalesce(s.active, 1) = 1"
            + ("" if now is None else " AND coalesce(o.edit_after, 0) <= ? AND o.created_at >= ?")
            + ("" if now is None else " AND coalesce(s.flood_until, 0) <= ?")
            + f" AND o.chat_id NOT {IN_LIST} ORDER BY o.id LIMIT ?",
            [*window, list_param(exclude), limit],
        )

    def edit_done(
        self, delivery_id: int, also: Sequence[str] | None = None, item_id: int | None = None
    ) -> None:
        """An "Also:" update is done (or given up), unless more outlets came while it was on its
        way (the `also` it showed, or the report `item_id`, is not the row's now): then it is
        due again."""
        with self.db.atomic():
            row = self._one("SELECT also, item_id FROM outbox WHERE id = ?", [delivery_id])
            if also is None or row is None or not _changed(row, also, item_id):
                self.db.execute(
                    "UPDATE outbox SET edit_pending = 0, edit_tries = 0, edit_after = NULL"
                    " WHERE id = ?",
                    [delivery_id],
                )

    def edit_refused(self, delivery_id: int, error: str) -> None:
        """Telegram refused the "Also:" update of a message no edit can reach (deleted by the
        user, a channel post the bot may not edit): the alert takes no more updates, kept
        with the reason (`_add_outlet` leaves a sent row with an error as it is)."""
        self._update_outbox(
            "edit_pending = 0, edit_tries = 0, edit_after = NULL, last_error = ?",
            [error],
            delivery_id,
        )

    def edit_failed(self, delivery_id: int, *, at: datetime) -> None:
        """An "Also:" update failed: tried again at `at`."""
        self._update_outbox(
            "edit_tries = edit_tries + 1, edit_after = ?", [at.timestamp()], delivery_id
        )

    def _deliveries(self, where: str, params: list[Any]) -> list[Delivery]:
        rows = self.db.query(
            "SELECT o.id AS outbox_id, o.chat_id, o.attempts, o.created_at AS queued_at,"
            " o.topics AS outbox_topics, o.also, o.message_id AS sent_message_id, o.reply_to,"
            " o.edit_tries, o.digest_part,"
            " coalesce(s.language, s.language_code) AS chat_language, s.timezone AS chat_zone,"
            " s.thread_id AS chat_thread, i.*, f.title AS feed_title"
            " FROM outbox o JOIN items i ON i.id = o.item_id"
            " LEFT JOIN feeds f ON f.id = i.feed_id"
            f" LEFT JOIN subscribers s ON s.chat_id = o.chat_id WHERE {where}",
            params,
        )
        return [
            Delivery(
                id=row["outbox_id"],
                chat_id=row["chat_id"],
                attempts=row["attempts"],
                created_at=datetime.fromtimestamp(row["queued_at"], UTC),
                topics=tuple(json.loads(row["outbox_topics"])),
                item=stored_item_of(row),
                feed_title=row["feed_title"],
                also=tuple(json.loads(row["also"])),
                message_id=row["sent_message_id"],
                language=row["chat_language"],
                reply_to=row["reply_to"],
                timezone=row["chat_zone"],
                edit_tries=row["edit_tries"],
                digest_part=row["digest_part"],
                thread_id=row["chat_thread"],
            )
            for row in rows
        ]

    def next_due_at(self) -> datetime | None:
        """When the next pending alert or notice is due."""
        row = self._one(
            "SELECT min(t) AS t FROM ("
            "SELECT min(max(coalesce(o.next_attempt_at, 0), coalesce(s.hold_until, 0),"
            " coalesce(s.refused_until, 0), coalesce(s.flood_until, 0))) AS t"
            " FROM outbox o LEFT JOIN subscribers s ON s.chat_id = o.chat_id"
            " WHERE o.state = 'pending'"
            " UNION ALL SELECT min(next_attempt_at) FROM notices WHERE state = 'pending')",
            [],
        )
        return None if row is None else dt(row["t"])

    def claim(self, delivery_id: int, *, now: datetime) -> int | None:
        """Mark a pending row `sending`; its chat id now, or None when it is no longer pending."""
        with self.db.atomic():
            row = self._one(
                "SELECT chat_id FROM outbox WHERE id = ? AND state = 'pending'", [delivery_id]
            )
            if row is None:
                return None
            self._update_outbox(
                "state = 'sending', attempts = attempts + 1, next_attempt_at = ?",
                [now.timestamp()],
                delivery_id,
            )
        return int(row["chat_id"])

    def claim_delivery(self, delivery_id: int, *, now: datetime) -> Delivery | None:
        """`claim` a pending row and read it as it is now: /lang or /sources may have given it
        another report of its story, a poll more outlets, a migration another chat, since the
        worker read it. Its `attempts` are those before this one, as `claim_digest` gives."""
        with self.db.atomic():
            found = self._deliveries("o.id = ? AND o.state = 'pending'", [delivery_id])
            if not found or self.claim(delivery_id, now=now) is None:
                return None
        return found[0]

    def count_pending(self, chat_id: int, before: datetime) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM outbox WHERE chat_id = ? AND state = 'pending'"
            " AND created_at < ?",
            [chat_id, before.timestamp()],
        )
        return 0 if row is None else int(row["n"])

    def claim_digest(self, chat_id: int, before: datetime, *, now: datetime) -> list[Delivery]:
        """Mark a chat's pending alerts queued before `before` `sending`, for one digest."""
        with self.db.atomic():
            rows = self._deliveries(
                "o.chat_id = ? AND o.state = 'pending' AND o.created_at < ? ORDER BY o.id LIMIT ?",
                [chat_id, before.timestamp(), MAX_DIGEST],
            )
            self._settle([d.id for d in rows], "state = 'sending', attempts = attempts + 1", [])
        return rows

    def release_claimed(self, delivery_ids: Sequence[int]) -> None:
        """Rows claimed (`sending`) and not sent after all go back to pending, as they were."""
        self._settle(
            delivery_ids,
            "state = 'pending', attempts = max(0, attempts - 1)",
            [],
            NOT_DROPPED,
        )

    def continue_digest(self, delivery_ids: Sequence[int], parts: int) -> None:
        """Rows of a digest still to be sent after `parts` of its messages were: put back
        (its limit, a failure) or on their way (a stop or crash leaves them for the next start),
        the digest that takes them up numbers on."""
        self._settle(
            delivery_ids, "digest_part = ?", [parts], " AND state IN ('pending', 'sending')"
        )

    def settle_many(
        self,
        delivery_ids: Sequence[int],
        state: OutboxState,
        *,
        now: datetime,
        message_id: int | None = None,
        error: str | None = None,
        counted: bool = True,
    ) -> None:
        """Record how a digest went for all its rows: sent, pending (retry at `now`), failed;
        a try not `counted` (flood control) is taken back."""
        assert state in (OutboxState.SENT, OutboxState.PENDING, OutboxState.FAILED)
        if state == OutboxState.SENT:
            self._settle(  # a digest: no "Also:" update of it, even if one came meanwhile
                delivery_ids,
                "state = 'sent', message_id = ?, sent_at = ?, last_error = NULL, edit_pending = 0",
                [message_id, now.timestamp()],
            )
        else:
            self._settle(
                delivery_ids,
                "state = ?, last_error = ?, next_attempt_at = ?"
                + ("" if counted else ", attempts = max(0, attempts - 1)"),
                [state, error, now.timestamp()],
                NOT_DROPPED,
            )

    def _settle(
        self, delivery_ids: Sequence[int], assignments: str, params: list[Any], where: str = ""
    ) -> None:
        if delivery_ids:
            self.db.execute(
                f"UPDATE outbox SET {assignments} WHERE id {IN_LIST}{where}",
                [*params, list_param(delivery_ids)],
            )

    def mark_sent(
        self,
        delivery_id: int,
        message_id: int | None,
        *,
        now: datetime,
        also: Sequence[str] | None = None,
        item_id: int | None = None,
    ) -> None:
        """A sent alert; one that showed `also` (and the report `item_id`), when outlets came
        since it was read (before its claim), or it was given the report in its chat's language
        meanwhile, is to be edited, and only then: an update marked due while it was on its way
        before (a restart, a digest's rest put back, `resend`) is in its text."""
        with self.db.atomic():
            self._update_outbox(
                "state = 'sent', message_id = ?, sent_at = ?, last_error = NULL",
                [message_id, now.timestamp()],
                delivery_id,
            )
            row = self._one("SELECT also, item_id FROM outbox WHERE id = ?", [delivery_id])
            if also is not None and row is not None:
                stale = _changed(row, also, item_id)
                self._update_outbox("edit_pending = ?", [int(stale)], delivery_id)

    def mark_retry(
        self, delivery_id: int, error: str, *, at: datetime, counted: bool = True
    ) -> None:
        """Pending again, due at `at`; a try not `counted` (flood control) is taken back."""
        self._update_outbox(  # sent again later, with its "Also:" as it is then
            "state = 'pending', edit_pending = 0, last_error = ?, next_attempt_at = ?"
            + ("" if counted else ", attempts = max(0, attempts - 1)"),
            [error, at.timestamp()],
            delivery_id,
            NOT_DROPPED,
        )

    def mark_failed(
        self, delivery_id: int, error: str, *, state: OutboxState = OutboxState.FAILED
    ) -> None:
        self._update_outbox("state = ?, last_error = ?", [state, error], delivery_id, NOT_DROPPED)

    def refused_with_chat(
        self, delivery_id: int, error: str, *, at: datetime, give_up: bool, tries: int
    ) -> list[tuple[int, str]]:
        """An alert refused for want of rights to its chat, pending again at `at` (or failed,
        when `give_up`), and the chat's other queued alerts wait with it: the chat is held until
        `at`, this refusal counts as a try of each, and those tried `tries` times already fail
        with it. The chat's alerts given up besides this one: (id, title), oldest first."""
        with self.db.atomic():
            row = self._one("SELECT chat_id FROM outbox WHERE id = ?", [delivery_id])
            if row is None:
                return []
            if give_up:
                self.mark_failed(delivery_id, error)
            else:
                self.mark_retry(delivery_id, error, at=at)
            others = "chat_id = ? AND state = 'pending' AND id != ?"
            params = [row["chat_id"], delivery_id]
            failed = [
                (r["id"], r["title"])
                for r in self.db.query(
                    "SELECT o.id, i.title FROM outbox o JOIN items i ON i.id = o.item_id"
                    f" WHERE o.id IN (SELECT id FROM outbox WHERE {others} AND attempts >= ?)"
                    " ORDER BY o.id",
                    [*params, tries],
                )
            ]
            self.db.execute(  # the right side reads the row as it was: `attempts` before
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
                " state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END,"
                f" next_attempt_at = max(coalesce(next_attempt_at, 0), ?) WHERE {others}",
                [error, tries, at.timestamp(), *params],
            )
            self.db.execute(  # not `hold_until`: a change of the chat's settings clears that
                "UPDATE subscribers SET refused_until = max(coalesce(refused_until, 0), ?)"
                " WHERE chat_id = ?",
                [at.timestamp(), row["chat_id"]],
            )
        return failed

    def outbox_counts(self) -> dict[str, int]:
        return {
            row["state"]: row["n"]
            for row in self.db.query("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        }

    def _update_outbox(
        self, assignments: str, params: list[Any], delivery_id: int, where: str = ""
    ) -> None:
        self.db.execute(
            f"UPDATE outbox SET {assignments} WHERE id = ?{where}", [*params, delivery_id]
        )

    def _enqueue(self, item: StoredItem, now: float, *, joined: bool = False) -> int:
        """Queue one delivery per active chat subscribed (before the item came) to its topics,
        or watching for it, whose filter lets it through (news languages, muted sources). A
        report that `joined` a story goes only to the chats that have no alert of the story,
        and only while the story's first report is younger than `JOIN_WINDOW` and is not the
        report's own feed's first poll's (its backlog again): those its earlier reports missed
        (filtered out, or of topics and watches of theirs that only this report matches). A chat
        gets a story once."""
        had: set[int] = set()
        if joined:
            first = self._one(
                "SELECT fetched_at, first_poll, feed_id FROM items WHERE id = ?", [item.story_id]
            )
            if (
                not first
                # a feed's own backlog, recorded by its first poll, again (new guids); another
                # feed's new report of the story is news all the same
                or (first["first_poll"] and first["feed_id"] == item.feed_id)
                or first["fetched_at"] < now - JOIN_WINDOW.total_seconds()
            ):
                return 0
            had = {
                row[0]
                for row in self.db.execute(
                    "SELECT chat_id FROM outbox WHERE story_id = ? AND reply_to IS NULL"
                    f" AND NOT ({GONE_WHILE_QUEUED})",
                    [item.story_id],
                )
            }
        # an article another feed carried before (same URL) came then: not news to a chat
        # that subscribed since (design.md: only items that arrived after they subscribed)
        came = self._first_copy(item) if joined else None
        since = now if came is None else min(came, now)
        # the configured topics only: the watches' chats are `watch_chats`'s
        configured = [t for t in item.topics if watch_id(t) is None]
        chats: dict[int, list[str]] = {}
        for row in self.db.query(
            "SELECT s.chat_id, s.topic_id FROM subscriptions s"
            " JOIN subscribers c ON c.chat_id = s.chat_id"
            f" WHERE c.active = 1 AND s.topic_id {IN_LIST} AND s.created_at <= ?"
            " ORDER BY s.chat_id, s.topic_id",
            [list_param(configured), since],
        ):
            chats.setdefault(row["chat_id"], []).append(row["topic_id"])
        for chat_id, watched in self.watch_chats(list(item.topics), made_by=since).items():
            chats.setdefault(chat_id, []).extend(watched)
        for chat_id in had:
            chats.pop(chat_id, None)
        filters = self.chat_filters(list(chats))
        # each chat's topics in the item's order; by position, as an item matching the watches
        # of 30,000 chats carries 30,000 topics (scanning them per chat held the thread 25 s)
        position = {topic: n for n, topic in reversed(list(enumerate(item.topics)))}
        queued = 0
        for chat_id, topics in chats.items():
            chat = filters.get(chat_id)
            if not wants(chat, lang=item.lang, feed_id=item.feed_id, outlet_key=item.outlet_key):
                continue
            ordered = sorted(set(topics) & position.keys(), key=position.__getitem__)
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO outbox (chat_id, story_id, item_id, topics, state,"
                " attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
                [chat_id, item.story_id, item.id, json.dumps(ordered), now, now],
            )
            if not cursor.rowcount and joined:  # its alert dropped while the chat was gone
                cursor = self.db.execute(
                    "UPDATE outbox SET item_id = ?, topics = ?, state = 'pending', attempts = 0,"
                    " next_attempt_at = ?, created_at = ?, last_error = NULL, also = '[]'"
                    f" WHERE chat_id = ? AND story_id = ? AND reply_to IS NULL"
                    f" AND {GONE_WHILE_QUEUED}",
                    [item.id, json.dumps(ordered), now, now, chat_id, item.story_id],
                )
            queued += cursor.rowcount
        return queued

    def _first_copy(self, item: StoredItem) -> float | None:
        """When the story's first item of `item`'s canonical URL came, if another did."""
        row = self._one(
            "SELECT min(o.fetched_at) AS came FROM items i JOIN items o ON o.story_id ="
            " i.story_id AND o.canonical_url = i.canonical_url AND o.id != i.id"
            " WHERE i.id = ? AND i.canonical_url != ''",
            [item.id],
        )
        return None if row is None or row["came"] is None else float(row["came"])


def _changed(row: dict[str, Any], also: Sequence[str], item_id: int | None) -> bool:
    """Whether an outbox row shows other than a message that went with `also` and the report
    `item_id` (None: not known, a send kept from before it was): its "Also:" line grew, or
    its report switched to one in its chat's language (`AlsoVerbs._add_outlet`), which may
    leave its "Also:" line as it was."""
    moved = item_id is not None and row["item_id"] != item_id
    return moved or bool(json.loads(row["also"]) != list(also))
