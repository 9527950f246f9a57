"""`kurilwatch resend`: the alerts given up (a chat unreachable past `delivery.deadline`, or
refused) queued again, for a running daemon to send within seconds, or the next at its start."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.config import Config
from bot.interrupt import open_store
from bot.operator.export import stored_since
from watchers.text import counted

SHOWN_CHATS = 20


def run_resend(settings: Config, since: str, out: TextIO = sys.stdout) -> int:
    """Queue again the alerts given up that were queued in the last `since`; 2 on bad input."""
    now = datetime.now(UTC)
    start = stored_since("resend", settings, since, now)
    if start is None:
        return 2
    with open_store(settings.store.path) as store:
        counts = store.requeue_failed(start, now=now)
    skipped = (
        f"skipped: {counted(counts.skipped, 'alert', 'alerts')} of topics or watches their chats"
        " have left"
        " (kept as failed)"
    )
    if not counts:
        print(skipped if counts.skipped else f"no alert was given up in the last {since}", file=out)
        return 0
    total = sum(counts.values())
    alerts, chats = counted(total, "alert", "alerts"), counted(len(counts), "chat", "chats")
    print(f"queued again: {alerts} given up in the last {since}, to {chats}", file=out)
    busiest = sorted(counts.items(), key=lambda c: (-c[1], c[0]))
    for chat, n in busiest[:SHOWN_CHATS]:
        print(f"  chat {chat}: {n}", file=out)
    if len(busiest) > SHOWN_CHATS:
        more = counted(len(busiest) - SHOWN_CHATS, "more chat", "more chats")
        print(f"  ... and {more}", file=out)
    if counts.skipped:
        print(skipped, file=out)
    print("a running daemon sends them within seconds; otherwise its next start does", file=out)
    return 0
