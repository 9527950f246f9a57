"""Sends (alerts, digest messages, notices) made but not yet recorded when a stop cut the tries
to record them (the store locked or full): kept in a file beside the store and recorded at the
next start, not sent twice."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from store import AsyncStore, OutboxState, Store

log = logging.getLogger("bot.delivery.worker")

MAX_BYTES = 1 << 20  # far more than the sends a stop can cut (one per slot)
MAX_IDS = 10_000  # a digest message's alerts; far fewer fit in one
SQLITE_INT = 1 << 63


@dataclass(frozen=True, slots=True)
class Sent:
    """An alert sent as message `message_id`, showing the outlets `also`."""

    delivery_id: int
    message_id: int | None
    at: datetime
    also: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SentDigest:
    """A digest message sent for `delivery_ids`; `rest`, the digest's alerts still to be sent,
    are numbered on from part `part`."""

    delivery_ids: tuple[int, ...]
    at: datetime
    rest: tuple[int, ...] = ()
    part: int = 0


@dataclass(frozen=True, slots=True)
class SentNotice:
    notice_id: int
    at: datetime


Kept = Sent | SentDigest | SentNotice


def journal(store_path: str | Path) -> Path:
    return Path(f"{store_path}.unrecorded")


def _line(sent: Kept) -> dict[str, Any]:
    at = sent.at.timestamp()
    match sent:
        case Sent():
            also = list(sent.also)
            return {"delivery_id": sent.delivery_id, "message_id": sent.message_id, "at": at,
                    "also": also}  # fmt: skip
        case SentDigest():
            return {"kind": "digest", "ids": list(sent.delivery_ids), "at": at,
                    "rest": list(sent.rest), "part": sent.part}  # fmt: skip
        case SentNotice():
            return {"kind": "notice", "id": sent.notice_id, "at": at}


def _what(sent: Kept) -> str:
    match sent:
        case Sent():
            return f"alert {sent.delivery_id}"
        case SentDigest():
            return f"a digest of {len(sent.delivery_ids)} alerts"
        case SentNotice():
            return f"notice {sent.notice_id}"


def keep(store_path: str | Path, sent: Kept) -> None:
    """Add a send to the file; said once, and lost (sent again after the start, as before)
    only if the file cannot be written either."""
    try:
        with journal(store_path).open("a", encoding="utf-8") as out:
            # a line of its own even after a write the full disk cut short
            out.write("\n" + json.dumps(_line(sent)) + "\n")
    except OSError as exc:
        log.error("%s sent but not recorded, and not kept (%s)", _what(sent), exc)
        return
    log.warning("%s sent but not recorded before the stop; recorded at the next start",
                _what(sent))  # fmt: skip


def _row_id(value: Any) -> int:
    number = int(value)
    if not 0 < number < SQLITE_INT:
        raise ValueError("out of range")
    return number


def _ids(values: object) -> tuple[int, ...]:
    if not isinstance(values, list) or len(values) > MAX_IDS:
        raise ValueError("not a list of ids")
    return tuple(map(_row_id, values))


def _parse(row: dict[str, Any]) -> Kept:
    at = datetime.fromtimestamp(float(row["at"]), UTC)
    kind = row.get("kind", "alert")
    if kind == "digest":
        part = int(row.get("part", 0))
        if not 0 <= part < SQLITE_INT:
            raise ValueError("out of range")
        return SentDigest(_ids(row["ids"]), at, _ids(row.get("rest", [])), part)
    if kind == "notice":
        return SentNotice(_row_id(row["id"]), at)
    if kind != "alert":
        raise ValueError(f"no such kind {kind!r}")
    message_id = None if row["message_id"] is None else int(row["message_id"])
    if abs(message_id or 0) >= SQLITE_INT:
        raise ValueError("out of range")
    also = tuple(str(outlet) for outlet in row["also"])
    return Sent(_row_id(row["delivery_id"]), message_id, at, also)


def read(path: Path) -> list[Kept]:
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
            if not isinstance(row, dict):
                raise TypeError("not an object")
            kept.append(_parse(row))
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            log.warning("%s: a line that is no kept send skipped: %.80r", path, line)
    return kept


async def _record(store: AsyncStore, sent: Kept) -> None:
    match sent:
        case Sent():
            await store.run(
                Store.mark_sent, sent.delivery_id, sent.message_id, now=sent.at, also=sent.also
            )
        case SentDigest():
            await store.run(Store.settle_many, sent.delivery_ids, OutboxState.SENT, now=sent.at)
            await store.run(Store.continue_digest, sent.rest, sent.part)
        case SentNotice():
            await store.run(Store.settle_notice, sent.notice_id, OutboxState.SENT, now=sent.at)


async def record_kept(store: AsyncStore) -> int:
    """Record the sends the last stop kept (before rows left `sending` are queued again), then
    remove the file; the count recorded."""
    path = journal(store.path)
    kept = await asyncio.to_thread(read, path)
    for sent in kept:
        await _record(store, sent)
    await asyncio.to_thread(path.unlink, missing_ok=True)
    if kept:
        log.info("delivery: %d sends made before the last stop recorded", len(kept))
    return len(kept)
