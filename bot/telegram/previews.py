"""/watch's preview: how many stories of the last 30 days a new watch would have matched,
and the latest three; at most MAX_PREVIEWS made at once, past it skipped."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.delivery.render import linked
from bot.i18n import Texts
from bot.telegram.context import BotContext, Slots, esc
from store import AsyncStore, PastItem, Store
from watchers.backtest import preview

PREVIEW_WINDOW = timedelta(days=30)
PREVIEW_ITEMS = 20_000  # the newest items of the window that are looked at, at most
PREVIEW_SHOWN = 3
# previews made at once, all chats together: each holds up to PREVIEW_ITEMS items (19 MB on
# the bench's store) and matches them for 0.35 s of Python, which the event loop waits on
# (one GIL): more at once would answer no sooner and hold more; past it a watch has none
MAX_PREVIEWS = 2
PREVIEWS = Slots(MAX_PREVIEWS)


def newest_items(store: Store, since: datetime, limit: int) -> list[PastItem]:
    return list(store.past_items(since, newest_first=True, limit=limit))


async def preview_lines(store: AsyncStore, query: str, now: datetime, tr: Texts) -> str:
    """The preview paragraph of /watch's answer (HTML): how many stories of the last 30 days
    the query would have matched, and the latest three; read on the store thread, matched on a
    worker thread."""
    items = await store.run(newest_items, now - PREVIEW_WINDOW, PREVIEW_ITEMS)
    count, latest = await asyncio.to_thread(preview, items, query)
    days = PREVIEW_WINDOW.days
    if len(items) >= PREVIEW_ITEMS:
        scope = tr._(
            "the last {days} days (the newest {most} items)",
            days=days,
            most=tr.number(PREVIEW_ITEMS),
        )
    else:
        scope = tr._("the last {days} days", days=days)
    if not count:
        return tr._(
            "It would have matched no story of {scope}: check the spelling, maybe a typo."
            " It is saved anyway.",
            scope=scope,
        )
    lines = [
        tr.ngettext(
            "In {scope} it would have matched {n} story:",
            "In {scope} it would have matched {n} stories:",
            count,
            scope=scope,
        )
    ]
    for item in latest[:PREVIEW_SHOWN]:
        title = linked(esc(item.title), item.link)
        day = tr.day_month(item.date)
        lines.append(f"• {day} {title} ({esc(item.outlet)})")
    return "\n".join(lines)


async def preview_of(ctx: BotContext, query: str, tr: Texts) -> str:
    """The preview paragraph, or, while MAX_PREVIEWS are being made, a line saying it is
    skipped: the watch is saved and answered at once rather than kept waiting (its chat's
    next commands wait behind it) for a preview it can do without."""
    if not PREVIEWS.take():
        ctx.previewed("skipped")
        return tr._(
            "The preview of the last {days} days is skipped: the bot is busy just now."
            " Send the same /watch later to see it.",
            days=PREVIEW_WINDOW.days,
        )
    try:
        shown = await preview_lines(ctx.store, query, ctx.clock(), tr)
    finally:
        PREVIEWS.give()
    ctx.previewed("shown")
    return shown
