"""Alerts sent but not yet recorded when a stop cut the tries to record them (the store locked
or full): kept in a file beside the store and recorded at the next start, not sent twice."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from store import AsyncStore, Store

log = logging.getLogger("bot.delivery.worker")

MAX_BYTES = 1 << 20  # far more than the sends a stop can cut (one per slot)
SQLITE_INT = 1 << 63


@dataclass(frozen=True, slots=True)
class Sent:
    delivery_id: int
    message_id: int | None
    at: datetime
    also: tuple[str, ...]


def journal(store_path: str | Path) -> Path:
    return Path(f"{store_path}.unrecorded")


def keep(store_path: str | Path, sent: Sent) -> None:
    """Add a send to the file; said once, and lost (sent again after the start, as before)
    only if the file cannot be written either."""
    line = {
        "delivery_id": sent.delivery_id,
        "message_id": sent.message_id,
        "at": sent.at.timestamp(),
        "also": list(sent.also),
    }
    try:
        with journal(store_path).open("a", encoding="utf-8") as out:
            # a line of its own even after a write the full disk cut short
            out.write("\n" + json.dumps(line) + "\n")
    except OSError as exc:
        log.error("alert %d sent but not recorded, and not kept (%s)", sent.delivery_id, exc)
        return
    log.warning("alert %d sent but not recorded before the stop; recorded at the next start",
                sent.delivery_id)  # fmt: skip


def read(path: Path) -> list[Sent]:
    """The sends a file keeps; a line that is not one (a write cut short) is skipped."""
    try:
        with path.open("rb") as source:
            text = source.read(MAX_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    kept = []
    for line in filter(None, text.splitlines()):
        try:
            row = json.loads(line)
            sent = Sent(
                int(row["delivery_id"]),
                None if row["message_id"] is None else int(row["message_id"]),
                datetime.fromtimestamp(float(row["at"]), UTC),
                tuple(str(outlet) for outlet in row["also"]),
            )
            if not 0 < sent.delivery_id < SQLITE_INT or abs(sent.message_id or 0) >= SQLITE_INT:
                raise ValueError("out of range")
            kept.append(sent)
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            log.warning("%s: a line that is no kept send skipped: %.80r", path, line)
    return kept


async def record_kept(store: AsyncStore) -> int:
    """Record the sends the last stop kept (before rows left `sending` are queued again), then
    remove the file; the count recorded."""
    path = journal(store.path)
    kept = await asyncio.to_thread(read, path)
    for sent in kept:
        await store.run(
            Store.mark_sent, sent.delivery_id, sent.message_id, now=sent.at, also=sent.also
        )
    await asyncio.to_thread(path.unlink, missing_ok=True)
    if kept:
        log.info("delivery: %d alerts sent before the last stop recorded", len(kept))
    return len(kept)
