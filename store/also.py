"""The "Also:" updates: a report that joins a story named on the story's recent alerts (or sent
as a reply where the story is followed), and an alert given the story's report in its chat's
language once one joins (`outlets.shown_report` decides)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from store.controls import ChatFilter, ControlVerbs, unmuted, wants
from store.outlets import Member, Shown, Source, also_name, reading, same_outlet, shown_report
from store.records import StoredItem

ALSO_WINDOW = timedelta(hours=48)  # a sent alert is updated with further outlets this long


def editable(row: str = "") -> str:
    """Whether an outbox row (`row`: the query's name for it and a dot, "o.") is one the worker
    may still change: on its way (its text given when it goes), or sent, without an error
    Telegram gave an edit of it, as a message an edit can reach (not a digest's story)."""
    return (
        f"({row}state = 'sending' OR ({row}state = 'sent' AND {row}last_error IS NULL"
        f" AND {row}message_id IS NOT NULL))"
    )


class AlsoVerbs(ControlVerbs):
    """Store verbs for a story's further reports on its alerts (mixed into `Store`)."""

    def _add_outlet(self, item: StoredItem, name: str, now: float) -> None:
        """Record the outlet of an item that joined a story on the story's recent alerts, to be
        shown as "Also: ...", unless the story already had that outlet (directly, or carried by
        an aggregator) or the name; and queue `item` as a reply to the alert in the chats that
        follow the story. An outlet writing in another language than the alert's report is
        shown with that language: "TASS (ru)". An alert in another language than its chat's
        shows the story's report in the chat's language instead, once there is one."""
        earlier = [
            Source(row["feed_id"], row["outlet"], row["outlet_key"])
            for row in self.db.query(
                "SELECT feed_id, outlet, outlet_key FROM items WHERE story_id = ? AND id < ?",
                [item.story_id, item.id],
            )
        ]
        if any(same_outlet(item.source, other) for other in earlier):
            return
        since = now - ALSO_WINDOW.total_seconds()
        alerts = list(
            self.db.query(
                "SELECT o.id, o.chat_id, o.item_id, o.also, o.state, o.message_id, o.topics,"
                f" {editable('o.')} AS editable, i.feed_id, i.lang,"
                " coalesce(s.active, 1) AS active,"
                " coalesce(s.language, s.language_code) AS chat_language,"
                " coalesce(i.outlet, f.title, i.feed_id) AS source"
                " FROM outbox o JOIN items i ON i.id = o.item_id"
                " LEFT JOIN feeds f ON f.id = i.feed_id"
                " LEFT JOIN subscribers s ON s.chat_id = o.chat_id"
                " WHERE o.story_id = ? AND o.created_at >= ? AND o.reply_to IS NULL"
                " AND o.state IN ('pending', 'sending', 'sent')",
                [item.story_id, since],
            )
        )
        modes = self.story_modes(item.story_id) if alerts else {}
        filters = self.chat_filters([a["chat_id"] for a in alerts])
        members: list[Member] = []  # the story's, read for the first alert that may take one
        for alert in alerts:
            chat_id = alert["chat_id"]
            chat = filters.get(chat_id)
            also = json.loads(alert["also"])
            names = {str(n).casefold() for n in [*also, alert["source"]]}
            shown = also_name(name, item.lang, alert["lang"])
            if (
                shown.casefold() in names
                or modes.get(chat_id) == "mute"
                or not wants(chat, lang=None, feed_id=item.feed_id, outlet_key=item.outlet_key)
            ):
                continue
            # an alert on its way has no message to reply to yet (the report joins its "Also:");
            # a sent one that names none moved with its group to a supergroup: a reply to none
            sent = alert["message_id"] is not None or alert["state"] == "sent"
            follows = modes.get(chat_id) == "follow" and sent
            # a reply is a report of its own: it keeps to the chat's news languages too, and
            # is not queued for a chat that is gone
            follows = follows and bool(alert["active"])
            if follows and wants(chat, lang=item.lang, feed_id=item.feed_id):
                self.db.execute(
                    "INSERT OR IGNORE INTO outbox (chat_id, story_id, item_id, topics, state,"
                    " attempts, next_attempt_at, created_at, reply_to)"
                    " VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                    [
                        chat_id,
                        item.story_id,
                        item.id,
                        alert["topics"],
                        now,
                        now,
                        alert["message_id"] or 0,
                    ],
                )
            changeable = alert["state"] == "pending" or alert["editable"]
            if changeable and reading(alert["chat_language"]) not in (None, alert["lang"]):
                members = members or self.story_members(item.story_id)
                instead = self._shown_instead(alert, unmuted(members, chat), chat)
            else:  # in the chat's language already, or sent and no edit of it can come
                instead = None
            self.db.execute(
                # an alert on its way carries the text it was given: edited once it is sent.
                # A new outlet is news: its update gets every try, whatever the last one used;
                # a sent alert with an error is one Telegram will not let us edit, and one with
                # no message (a digest's story, a group's moved) has nothing to edit
                f"UPDATE outbox SET item_id = ?, also = ?, edit_pending = {editable()},"
                " edit_tries = 0 WHERE id = ?",
                [
                    alert["item_id"] if instead is None else instead.item_id,
                    json.dumps([*also, shown] if instead is None else instead.also),
                    alert["id"],
                ],
            )

    def _shown_instead(
        self, alert: dict[str, Any], members: list[Member], chat: ChatFilter | None
    ) -> Shown | None:
        """The report `alert` (a row of `_add_outlet`'s) shows in its chat's language instead
        of its own, of `members` (those the chat has not muted), and its "Also:" line; None when
        it keeps its report, or when the chat has that report as a reply already (a followed
        story's), which it would then read twice."""
        langs = chat.langs if chat else frozenset()
        instead = shown_report(members, alert["item_id"], alert["chat_language"], langs)
        replied = instead is not None and self._one(
            "SELECT 1 AS x FROM outbox WHERE chat_id = ? AND item_id = ? AND reply_to IS NOT NULL",
            [alert["chat_id"], instead.item_id],
        )
        return None if replied else instead
