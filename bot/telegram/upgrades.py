"""The groups that just became supergroups, so that the bot's membership of the new chat, which
Telegram reports as an addition, is not greeted as one."""

from __future__ import annotations

import asyncio
import contextlib

KEPT = 256  # upgrades remembered (oldest forgotten first); each matters for seconds
UPGRADE_WAIT = 3.0  # seconds a supergroup's greeting waits for word of an upgrade


class Upgrades:
    """Supergroups that were groups a moment ago: `upgraded` as `migrated` hears of them."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._heard: dict[int, asyncio.Event] = {}

    def _event(self, chat_id: int) -> asyncio.Event:
        event = self._heard.pop(chat_id, None) or asyncio.Event()
        self._heard[chat_id] = event  # the newest last
        while len(self._heard) > self._kept:
            del self._heard[next(iter(self._heard))]
        return event

    def heard(self, supergroup_id: int) -> None:
        """A group became the supergroup `supergroup_id`."""
        self._event(supergroup_id).set()

    async def upgraded(self, chat_id: int, within: float = UPGRADE_WAIT) -> bool:
        """Whether the chat is a group's upgrade: heard of already, or within `within` seconds
        (Telegram may report the bot's membership of the new chat before the upgrade itself)."""
        event = self._event(chat_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)
        return event.is_set()
