"""/watch's preview: how many stories of the last 30 days a new query would have matched, and
the latest three; read on the store thread, matched on a worker thread."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.telegram.context import esc
from store import AsyncStore, PastItem, Store
from watchers.backtest import preview

PREVIEW_WINDOW = timedelta(days=30)
PREVIEW_ITEMS = 20_000  # the newest items of the window that are looked at, at most
SHOWN = 3


def newest_items(store: Store, since: datetime, limit: int) -> list[PastItem]:
    return list(store.past_items(since, newest_first=True, limit=limit))


async def preview_lines(store: AsyncStore, query: str, now: datetime) -> str:
    """The preview paragraph of /watch's answer (HTML)."""
    items = await store.run(newest_items, now - PREVIEW_WINDOW, PREVIEW_ITEMS)
    count, latest = await asyncio.to_thread(preview, items, query)
    days = PREVIEW_WINDOW.days
    scope = f"the last {days} days" + (
        f" (the newest {PREVIEW_ITEMS:,} items)" if len(items) >= PREVIEW_ITEMS else ""
    )
    if not count:
        return (
            f"It would have matched no story of {scope}: check the spelling, maybe a typo."
            " It is saved anyway."
        )
    lines = [f"In {scope} it would have matched {count} {'story' if count == 1 else 'stories'}:"]
    for item in latest[:SHOWN]:
        title = (
            f'<a href="{esc(item.link)}">{esc(item.title)}</a>' if item.link else esc(item.title)
        )
        lines.append(f"• {item.date:%d %b} {title} ({esc(item.outlet)})")
    return "\n".join(lines)
