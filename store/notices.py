"""Notices to the operators (telegram.admins) and broadcasts to every chat, sent as plain text."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from store.base import IN_LIST, StoreBase, list_param
from store.feeds import MARK_TOLD
from store.records import Notice, OutboxState, ts


class NoticeVerbs(StoreBase):
    """Store verbs for notices (mixed into `Store`)."""

    def broadcast(self, text: str, *, now: datetime) -> int:
        """Queue `text` to every active chat, as a notice (sent by the delivery worker)."""
        ts = now.timestamp()
        cursor = self.db.execute(
            "INSERT INTO notices (chat_id, text, state, attempts, next_attempt_at, created_at)"
            " SELECT chat_id, ?, 'pending', 0, ?, ? FROM subscribers WHERE active = 1",
            [text, ts, ts],
        )
        return cursor.rowcount

    def notify_admins(
        self,
        text: str,
        *,
        now: datetime,
        msgid: str | None = None,
        values: Mapping[str, object] | None = None,
        plural: str | None = None,
        counted: str | None = None,
        told: tuple[str, datetime | None] | None = None,
        except_chat: int | None = None,
    ) -> int:
        """Queue a message for every admin (fanned out when sent: the list may change).

        `text` is the English; with `msgid` and `values` each admin gets it in their language,
        and with `plural` (its plural msgid) in the form for the number of the value `counted`.
        A value is a string, or what JSON holds of one said in the admin's language (its
        shapes are `bot.i18n`'s). `told`: a feed's failing run this notice tells of (its id
        and the run's start, None for its recovery), recorded with it. `except_chat`: an admin
        it is not sent to (the one whose /reload it tells of, answered already).
        """
        at = now.timestamp()
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO notices (text, state, attempts, next_attempt_at, created_at, msgid,"
                " vals, plural, counted, except_chat)"
                " VALUES (?, 'pending', 0, ?, ?, ?, ?, ?, ?, ?)",
                [text, at, at, msgid, json.dumps(values or {}), plural, counted, except_chat],
            )
            if told is not None:
                feed_id, since = told
                self.db.execute(MARK_TOLD, [ts(since), feed_id])
        return int(cursor.lastrowid or 0)

    def fan_out_notices(self, admins: Collection[int]) -> int:
        """Turn each notice for every admin into one row per admin (but its `except_chat`); the
        number of notices.

        Without admins the notices are dropped (kept, with the reason). An id SQLite cannot
        hold (past 64 bits: the config bounds them, this is its second line) gets no row: the
        notice fails for it, with the reason, and the worker that fans out goes on.
        """
        unfit = [chat for chat in admins if not -(2**63) <= chat < 2**63]
        admins = [chat for chat in admins if -(2**63) <= chat < 2**63]
        failed = f"admin ids SQLite cannot hold: {', '.join(map(str, unfit))}"[:300]
        with self.db.atomic():
            rows = list(
                self.db.query(
                    "SELECT id, text, next_attempt_at, created_at, msgid, vals, plural, counted,"
                    " except_chat FROM notices"
                    " WHERE chat_id IS NULL AND state = 'pending'"
                )
            )
            for row in rows:
                if not admins and unfit:
                    self.db.execute(
                        "UPDATE notices SET state = 'failed', last_error = ? WHERE id = ?",
                        [failed, row["id"]],
                    )
                    continue
                if not admins:
                    self.db.execute(
                        "UPDATE notices SET state = 'dropped',"
                        " last_error = 'no telegram.admins configured' WHERE id = ?",
                        [row["id"]],
                    )
                    continue
                self.db.conn.executemany(
                    "INSERT INTO notices (chat_id, text, state, attempts, next_attempt_at,"
                    " created_at, msgid, vals, plural, counted)"
                    " VALUES (?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            chat,
                            row["text"],
                            row["next_attempt_at"],
                            row["created_at"],
                            row["msgid"],
                            row["vals"],
                            row["plural"],
                            row["counted"],
                        )
                        for chat in admins
                        if chat != row["except_chat"]
                    ],
                )
                self.db.execute(
                    "UPDATE notices SET state = 'fanned', last_error = ? WHERE id = ?",
                    [failed if unfit else None, row["id"]],
                )
        return len(rows)

    def due_notices(
        self, now: datetime, limit: int = 50, *, exclude: Collection[int] = ()
    ) -> list[Notice]:
        """Pending notices to one admin each, whose time has come, oldest first."""
        rows = self.db.query(
            "SELECT n.id, n.chat_id, n.text, n.attempts, n.created_at, n.msgid, n.vals, n.plural,"
            " n.counted,"
            " coalesce(s.language, s.language_code) AS language, s.thread_id FROM notices n"
            " LEFT JOIN subscribers s ON s.chat_id = n.chat_id"
            " WHERE n.state = 'pending' AND n.chat_id IS NOT NULL AND n.next_attempt_at <= ?"
            " AND coalesce(s.flood_until, 0) <= ?"  # a chat held for flood control
            f" AND n.chat_id NOT {IN_LIST}"
            " ORDER BY n.next_attempt_at, n.id LIMIT ?",
            [now.timestamp(), now.timestamp(), list_param(exclude), limit],
        )
        return [
            Notice(
                id=row["id"],
                chat_id=row["chat_id"],
                text=row["text"],
                attempts=row["attempts"],
                created_at=datetime.fromtimestamp(row["created_at"], UTC),
                msgid=row["msgid"],
                values=tuple(sorted(json.loads(row["vals"] or "{}").items())),
                plural=row["plural"],
                counted=row["counted"],
                language=row["language"],
                thread_id=row["thread_id"],
            )
            for row in rows
        ]

    def claim_notice(self, notice_id: int, *, now: datetime) -> bool:
        cursor = self.db.execute(
            "UPDATE notices SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?"
            " WHERE id = ? AND state = 'pending'",
            [now.timestamp(), notice_id],
        )
        return cursor.rowcount == 1

    def settle_notice(
        self,
        notice_id: int,
        state: OutboxState,
        *,
        now: datetime,
        error: str | None = None,
        counted: bool = True,
    ) -> None:
        """Record how sending a notice went: sent, pending (retry at `now`), failed, dropped;
        a try not `counted` (flood control) is taken back."""
        assert state in (
            OutboxState.SENT,
            OutboxState.PENDING,
            OutboxState.FAILED,
            OutboxState.DROPPED,
        )
        self.db.execute(
            "UPDATE notices SET state = ?, last_error = ?, next_attempt_at = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
            + ("" if counted else ", attempts = max(0, attempts - 1)")
            + " WHERE id = ?",
            [state, error, now.timestamp(), state, now.timestamp(), notice_id],
        )

    def notices(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Every notice (to one admin), oldest first: for the CLI and tests."""
        where, params = ("WHERE chat_id = ?", [chat_id]) if chat_id is not None else ("", [])
        return list(self.db.query(f"SELECT * FROM notices {where} ORDER BY id", params))
