"""Telegram's send limits, kept on our side so that a burst of news never meets a 429, and the
rest of what the delivery worker takes from the config (`DeliverySettings`).

`SendLimits` is a pure bookkeeping class: the caller passes the time (the event loop's clock)
and sends when told. Overall sends are spaced evenly; a private chat has a token bucket with a
small burst; a group or channel is spaced to its per-minute limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from pydantic import Field

from watchers.config import Model, Number, Whole

Rate = Field(gt=0, le=10_000, allow_inf_nan=False)
LATE = 0.005  # seconds a send may leave after its slot before the next slot moves back


class Limits(Model):
    """Telegram's send limits as we keep them: `delivery:` in the config (its one spelling)."""

    per_second: Annotated[Number, Rate] = 29.0  # all chats together; Telegram allows ~30
    private_per_second: Annotated[Number, Rate] = 1.0  # to one private chat
    private_burst: Annotated[Whole, Field(ge=1, le=10)] = 3
    group_per_minute: Annotated[Number, Rate] = 20.0  # to one group or channel


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    link_previews: bool = False
    deadline: timedelta = timedelta(hours=24)  # retry transient failures this long
    max_backoff: timedelta = timedelta(minutes=10)
    limits: Limits = field(default_factory=Limits)
    concurrency: int = 4  # sends in flight at once: at most these are repeated after a crash
    burst_digest: int = 10  # more alerts than this waiting for one chat go out as one digest
    admins: tuple[int, ...] = ()  # told of alerts given up, in one notice per REPORT_EVERY
    topic_titles: Mapping[str, str] = field(default_factory=dict)  # for digests
    idle_wait: float = 5.0  # look at the outbox at least this often
    batch: int = 100


class SendLimits:
    """When each chat may be sent to next, and the next free slot of the overall limit."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = Limits() if limits is None else limits
        self._next_any = 0.0
        self._private: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._next_group: dict[int, float] = {}
        self._held: dict[int, float] = {}  # chat -> until (a 429's retry_after)

    def ready_at(self, chat_id: int) -> float:
        """The earliest time a message to `chat_id` is allowed (the overall limit aside)."""
        held = self._held.get(chat_id, 0.0)
        if chat_id < 0:
            return max(held, self._next_group.get(chat_id, 0.0))
        tokens, at = self._private.get(chat_id, (float(self.limits.private_burst), 0.0))
        if tokens >= 1.0:
            return max(held, at)
        return max(held, at + (1.0 - tokens) / self.limits.private_per_second)

    def ready(self, chat_id: int, now: float) -> bool:
        return self.ready_at(chat_id) <= now

    def take(self, chat_id: int, now: float) -> float:
        """Reserve a send to `chat_id` (which must be ready) and return when to send it.

        The returned time is `now` or later, spaced by the overall limit; the chat's own
        limit counts from then.
        """
        at = max(now, self._next_any)
        self._next_any = at + 1.0 / self.limits.per_second
        if chat_id < 0:
            self._next_group[chat_id] = at + 60.0 / self.limits.group_per_minute
        else:
            self._private[chat_id] = (self._tokens(chat_id, at) - 1.0, at)
        return at

    def departed(self, slot: float, now: float) -> None:
        """The send reserved for `slot` is leaving at `now`. If it leaves late (the event loop
        was busy), the next slot moves back too, so two sends never leave much closer than the
        overall gap; a few milliseconds late is normal and costs nothing."""
        if now - slot > LATE:
            self._next_any = max(self._next_any, now + 1.0 / self.limits.per_second)

    def hold(self, chat_id: int, until: float) -> None:
        """Telegram said wait (429): nothing to this chat before `until`."""
        self._held[chat_id] = max(until, self._held.get(chat_id, 0.0))

    def busy(self, now: float) -> set[int]:
        """Chats that may not be sent to at `now`; forgets chats whose limits have passed."""
        self._forget(now)
        chats = set(self._held) | set(self._next_group)
        chats.update(c for c, (tokens, _) in self._private.items() if tokens < 1.0)
        return {c for c in chats if self.ready_at(c) > now}

    def soonest(self, now: float) -> float | None:
        """The earliest time a chat that is busy at `now` becomes ready."""
        return min((self.ready_at(c) for c in self.busy(now)), default=None)

    def _tokens(self, chat_id: int, now: float) -> float:
        burst = float(self.limits.private_burst)
        tokens, at = self._private.get(chat_id, (burst, now))
        return min(burst, tokens + max(0.0, now - at) * self.limits.private_per_second)

    def _forget(self, now: float) -> None:
        # keeps memory bounded by the chats sent to recently, not by every chat ever seen
        self._held = {c: t for c, t in self._held.items() if t > now}
        self._next_group = {c: t for c, t in self._next_group.items() if t > now}
        burst = float(self.limits.private_burst)
        self._private = {
            c: (tokens, at)
            for c, (tokens, at) in self._private.items()
            if self._tokens(c, now) < burst
        }
