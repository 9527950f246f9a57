"""The groups that just became supergroups, so that the bot's membership of the new chat, which
Telegram reports as an addition, is not greeted as one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

KEPT = 256  # upgrades remembered (oldest forgotten first)
UPGRADE_WAIT = 3.0  # seconds a supergroup's greeting waits for word of an upgrade
FRESH = 60.0  # seconds an upgrade explains an addition: later, the bot was added back


class Upgrades:
    """Supergroups that were groups a moment ago: `upgraded` as `migrated` hears of them."""

    def __init__(
        self, kept: int = KEPT, fresh: float = FRESH, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._kept, self._fresh, self._clock = kept, fresh, clock
        self._heard: dict[int, asyncio.Event] = {}
        self._at: dict[int, float] = {}  # when each was heard

    def _event(self, chat_id: int) -> asyncio.Event:
        event = self._heard.pop(chat_id, None)
        if event is None or (event.is_set() and self._clock() - self._at[chat_id] > self._fresh):
            event = asyncio.Event()  # an upgrade long past explains no addition now
        self._heard[chat_id] = event  # the newest last
        while len(self._heard) > self._kept:
            oldest = next(iter(self._heard))
            del self._heard[oldest]
            self._at.pop(oldest, None)
        return event

    def heard(self, supergroup_id: int) -> None:
        """A group became the supergroup `supergroup_id`."""
        self._event(supergroup_id).set()
        self._at[supergroup_id] = self._clock()

    async def upgraded(self, chat_id: int, within: float = UPGRADE_WAIT) -> bool:
        """Whether the chat is a group's upgrade: heard of already, or within `within` seconds
        (Telegram may report the bot's membership of the new chat before the upgrade itself)."""
        event = self._event(chat_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)
        return event.is_set()
